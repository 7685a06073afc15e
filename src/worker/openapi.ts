/**
 * The OpenAPI 3.1 documents, built from the routes as they were mounted (src/worker/route.ts): the same
 * zod schemas validate requests, type the handlers' answers and the SDK, and are rendered here.
 */
import { z } from "zod";
import { ERROR_CODES } from "../protocol/errors";
import { webhookDocs } from "./integrations/event-docs";
import { declaredRoutes, type RouteSpec } from "./route-table";

/** The admin document lists only admin routes; the public one never reveals them. */
export type Audience = "public" | "admin";

function jsonSchema(s: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return json;
}

const errorSchema = jsonSchema(
  z.object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      /** Per-field problems for validation_failed; other codes may carry figures such as retryAfterMs. */
      details: z.unknown().optional(),
      /** Also in the log line of the request. */
      requestId: z.string(),
    }),
  }),
  "output",
);

function parameters(r: RouteSpec): Record<string, unknown>[] {
  const names = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
  const pathSchemas = (r.params ? jsonSchema(r.params, "input").properties : {}) as Record<string, unknown>;
  const query = r.query ? jsonSchema(r.query, "input") : { properties: {}, required: [] };
  const required = (query.required ?? []) as string[];
  return [
    ...names.map((name) => ({ name, in: "path", required: true, schema: pathSchemas[name] ?? { type: "string" } })),
    ...Object.entries(query.properties as Record<string, unknown>).map(([name, schema]) => ({
      name,
      in: "query",
      required: required.includes(name),
      schema,
    })),
  ];
}

function operation(r: RouteSpec): Record<string, unknown> {
  const params = parameters(r);
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(r.responses)) {
    const type = answer.contentType ?? (answer.schema ? "application/json" : undefined);
    responses[status] = {
      description: answer.description,
      ...(type ? { content: { [type]: answer.schema ? { schema: jsonSchema(answer.schema, "output") } : {} } } : {}),
    };
  }
  responses.default = {
    description: "Error",
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
  return {
    summary: r.summary,
    tags: [r.tag],
    ...(r.auth === "none" ? { security: [] } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(r.body
      ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body, "input") } } } }
      : {}),
    responses,
  };
}

const cached = new Map<Audience, Record<string, unknown>>();

export function openApiDocument(audience: Audience): Record<string, unknown> {
  const hit = cached.get(audience);
  if (hit) return hit;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of declaredRoutes()) {
    if ((r.auth === "admin") !== (audience === "admin")) continue;
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[r.method] = operation(r);
  }
  const doc = {
    openapi: "3.1.0",
    info: {
      title: "edgechat",
      version: "0.1.0",
      description: "Real-time chat on Cloudflare Workers and Durable Objects. WebSocket frames: see the README.",
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: errorSchema },
    },
    paths,
    // Integrations (issue 27): what admins' product-event endpoints receive.
    webhooks: webhookDocs(),
  };
  cached.set(audience, doc);
  return doc;
}
