/**
 * The one place the fuzzers learn what to aim at: the client frame schema, and every route the app
 * serves (Hono's `app.routes`) with the body and query schemas each route declares beside its handler
 * (src/worker/route-table.ts records them as the app mounts its routes).
 */
import { z } from "zod";
import { clientFrame } from "../../src/protocol/frames.ts";
import type { JsonSchema } from "./arbitraries.ts";

export interface Target {
  method: string;
  /** Hono pattern, e.g. /api/rooms/:id/messages. */
  path: string;
  params: string[];
  body?: JsonSchema;
  query?: JsonSchema;
}

const toJson = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as JsonSchema;

export const frameSchema: JsonSchema = toJson(clientFrame);
/** Decides, as the room does, whether a frame is valid: the fuzzer then knows which answer to expect. */
export const parseFrame = (json: unknown) => clientFrame.safeParse(json).success;

type Declared = { method: string; path: string; body?: z.ZodType; query?: z.ZodType };

async function documented(): Promise<Map<string, { body?: z.ZodType; query?: z.ZodType }>> {
  // Imported after the app (and by a computed name, like it): the table is filled as the app mounts routes.
  const tableModule = "../../src/worker/route-table.ts";
  const { declaredRoutes } = (await import(tableModule)) as { declaredRoutes: () => readonly Declared[] };
  const docs = new Map<string, { body?: z.ZodType; query?: z.ZodType }>();
  for (const r of declaredRoutes()) docs.set(`${r.method.toUpperCase()} ${r.path}`, { body: r.body, query: r.query });
  return docs;
}

/**
 * Every method and path the app answers (middleware-only entries left out), with their schemas. The app
 * is imported by a computed name so that the Node typecheck does not pull in the Workers-typed code.
 */
export async function routeTargets(): Promise<Target[]> {
  const appModule = "../../src/worker/app.ts";
  const { app } = (await import(appModule)) as { app: { routes: { method: string; path: string }[] } };
  const docs = await documented();
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const r of app.routes) {
    if (r.method === "ALL" || r.path.includes("*")) continue;
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const doc = docs.get(key);
    out.push({
      method: r.method,
      path: r.path,
      params: [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1] as string),
      ...(doc?.body ? { body: toJson(doc.body) } : {}),
      ...(doc?.query ? { query: toJson(doc.query) } : {}),
    });
  }
  return out;
}
