import { exports } from "cloudflare:workers";

export type Json = Record<string, unknown> & { error?: { code: string; message: string; details?: unknown } };

/** One call to the worker as a client would make it. */
export async function api(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await exports.default.fetch(`http://edgechat.test${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading JSON bodies
  return { res, status: res.status, json: (text ? JSON.parse(text) : null) as any };
}
