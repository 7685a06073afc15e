import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../types";
import { invalidText, isInvalidText } from "../validation";

/** Decodes one URL component; undefined for invalid UTF-8 (which is invalid text), raw when not encoded. */
function decoded(component: string): string | undefined {
  // A stray % is not an encoding at all; routes see it as is, as before.
  if (/%(?![0-9a-f]{2})/i.test(component)) return component;
  try {
    return decodeURIComponent(component.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

function bad(component: string): boolean {
  const text = decoded(component);
  return text === undefined || isInvalidText(text);
}

/**
 * Every path segment and query parameter of every API route is refused (400 validation_failed) when it
 * decodes to text Postgres cannot store or that is not Unicode. Here, not per route, so a new route is
 * covered by default; JSON bodies get the same check in jsonBody.
 */
export const validText: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = new URL(c.req.url);
  if (url.pathname.split("/").some(bad)) throw invalidText("path", "The path is invalid");
  for (const pair of url.search.slice(1).split("&")) {
    const cut = pair.indexOf("=");
    const name = cut < 0 ? pair : pair.slice(0, cut);
    const value = cut < 0 ? "" : pair.slice(cut + 1);
    if (bad(name)) throw invalidText("query", "Some query parameters are invalid");
    if (bad(value)) throw invalidText(decoded(name) as string, "Some query parameters are invalid");
  }
  await next();
};
