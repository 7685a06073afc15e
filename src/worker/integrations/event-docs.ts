/**
 * The OpenAPI 3.1 `webhooks` section: one entry per product event type, the POST an admin's endpoint
 * receives (body, signature headers, what to answer), from the same zod schemas as protocol/events.ts.
 */
import { z } from "zod";
import { EVENT_TYPES, eventEnvelope } from "../../protocol/events";

const SIGNATURE =
  "`t=<unix seconds>,v1=<hex>`, hex = HMAC-SHA256(endpoint secret, `<t>.<raw body>`): recompute over the raw body, compare in constant time, refuse stale timestamps (README, Integrations).";

export function webhookDocs(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of EVENT_TYPES) {
    const { $schema: _drop, ...schema } = z.toJSONSchema(eventEnvelope(type), {
      io: "output",
      unrepresentable: "any",
    }) as Record<string, unknown>;
    out[type] = {
      post: {
        summary: `${type}: sent to every enabled endpoint subscribed to it, at least once`,
        tags: ["webhooks"],
        parameters: [
          {
            name: "Edgechat-Signature",
            in: "header",
            required: true,
            schema: { type: "string" },
            description: SIGNATURE,
          },
          {
            name: "Edgechat-Delivery",
            in: "header",
            required: true,
            schema: { type: "string" },
            description: "`<endpoint id>:<event id>`, the same on every retry and replay",
          },
        ],
        requestBody: { required: true, content: { "application/json": { schema } } },
        responses: {
          "2XX": { description: "Received. Anything else (or no answer within the timeout) is retried with backoff." },
        },
      },
    };
  }
  return out;
}
