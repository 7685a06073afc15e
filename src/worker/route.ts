/**
 * A route declared once, beside its handler: who may call it, its path parameters, query, body and
 * answers as zod schemas. `handle` mounts it with validation from those schemas and records it, and the
 * OpenAPI documents are built from what was recorded, so the documents list exactly what is served.
 */
import type { Context, Hono, MiddlewareHandler, TypedResponse } from "hono";
import type { StatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { AppError } from "../protocol/errors";
import { requireAdmin } from "./admin/access";
import { apiKeyGuard } from "./integrations/key-routes";
import { requireUser } from "./middleware/auth";
import { membership } from "./room-access";
import { declare, type RouteSpec } from "./route-table";
import type { AdminEnv, AppEnv, UserEnv } from "./types";
import { jsonBody, queryParams } from "./validation";

export type { RouteSpec } from "./route-table";

type Membership = Awaited<ReturnType<typeof membership>>;

export type RouteInput<S extends RouteSpec> = {
  params: S["params"] extends z.ZodType ? z.output<S["params"]> : Record<string, string>;
  query: S["query"] extends z.ZodType ? z.output<S["query"]> : undefined;
  body: S["body"] extends z.ZodType ? z.output<S["body"]> : undefined;
  member: S["member"] extends string ? Membership : undefined;
};

type RouteEnv<S extends RouteSpec> = S["auth"] extends "none" | "own"
  ? AppEnv
  : S["auth"] extends "admin"
    ? AdminEnv
    : UserEnv;

// Type-only check of what a handler answers: a declared JSON answer must be returned through c.json with
// a body its schema accepts; plain Responses are allowed only when some answer has no JSON schema.
type Reply<S extends RouteSpec> = {
  [K in keyof S["responses"]]: S["responses"][K] extends { schema: infer Z extends z.ZodType }
    ? TypedResponse<z.input<Z>, StatusCode, "json">
    : Response;
}[keyof S["responses"]];

export type RouteHandler<S extends RouteSpec> = (
  c: Context<RouteEnv<S>>,
  input: RouteInput<S>,
) => Reply<S> | Promise<Reply<S>>;

/** Keeps a declaration's literal types (auth, statuses) so the handler is typed from them. */
export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec;
}

export function handle<const S extends RouteSpec>(app: Hono<AppEnv>, spec: S, handler: RouteHandler<S>): void {
  declare(spec);
  const guard = spec.auth === "admin" ? [requireAdmin] : (spec.auth ?? "user") === "user" ? [requireUser] : [];
  const run: MiddlewareHandler<AppEnv> = async (c) => {
    // Membership first: a non-member is told 404 whatever they send, as for a room that does not exist.
    const member = spec.member === undefined ? undefined : await membership(c, c.req.param(spec.member) ?? "");
    const input = {
      params: spec.params ? pathParams(spec, c.req.param()) : c.req.param(),
      query: spec.query ? queryParams(c, spec.query) : undefined,
      body: spec.body ? await jsonBody(c, spec.body) : undefined,
      member,
    } as RouteInput<S>;
    // The guard has set what RouteEnv promises (the caller's id, and for users the token's expiry).
    return (await handler(c as unknown as Context<RouteEnv<S>>, input)) as Response;
  };
  // Hono's overloads type each handler count separately; a spread of them matches none.
  const on = app.on.bind(app) as (method: string, path: string, ...handlers: MiddlewareHandler<AppEnv>[]) => void;
  // apiKeyGuard (integrations): a request made with an API key needs the route's scope and rooms.
  on(spec.method.toUpperCase(), spec.path, ...guard, apiKeyGuard(spec), ...(spec.middleware ?? []), run);
}

function pathParams(spec: RouteSpec, raw: Record<string, string>): unknown {
  const parsed = (spec.params as z.ZodObject).safeParse(raw);
  if (parsed.success) return parsed.data;
  if (typeof spec.paramsError === "function") throw spec.paramsError(parsed.error);
  throw new AppError(404, "not_found", spec.paramsError ?? "Not found");
}
