/**
 * The routes as declared and mounted (see route.ts). Kept apart from the mounting code, and free of
 * Workers types, so the OpenAPI documents can be built and checked in Node too.
 */
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import type { AppError } from "../protocol/errors";

export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface Answer {
  description: string;
  /** The JSON body; omit for answers without one (204, 101) or that are not JSON (then give contentType). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec {
  method: Method;
  /** Hono syntax: /api/rooms/:id */
  path: string;
  summary: string;
  tag: string;
  /**
   * "user" (the default): a bearer access token, checked by requireUser. "admin": requireAdmin, and the
   * route is listed only in the admin document. "none": public. "own": the handler checks credentials
   * itself (documented as bearer).
   */
  auth?: "user" | "admin" | "none" | "own";
  /** The path parameter naming a room the caller must be a member of; checked before any input. */
  member?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, Answer>;
  /** Runs after authentication and before validation. */
  middleware?: MiddlewareHandler[];
  /**
   * What a path parameter failing its schema answers: a 404 with this message (an id that cannot exist
   * names nothing, like one that does not exist), or the error returned.
   */
  paramsError?: string | ((error: z.ZodError) => AppError);
}

const declared: RouteSpec[] = [];

export function declare(spec: RouteSpec): void {
  declared.push(spec);
}

/** Every route mounted so far, in mounting order. */
export function declaredRoutes(): readonly RouteSpec[] {
  return declared;
}
