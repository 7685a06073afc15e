/** The OpenAPI documents (public and admin) are valid 3.1, as a standard validator sees them. */
import { compileErrors, validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { ADMIN_ROUTES, openApiDocument } from "../../src/worker/openapi";

describe("OpenAPI document", () => {
  it.each([
    ["public", undefined],
    ["admin", ADMIN_ROUTES],
  ])("%s validates as OpenAPI 3.1", async (_name, routes) => {
    const doc = structuredClone(openApiDocument(routes));
    const result = await validate(doc as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.valid).toBe(true);
    expect((doc as { openapi: string }).openapi).toBe("3.1.0");
  });
});
