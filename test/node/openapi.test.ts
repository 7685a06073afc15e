/** The OpenAPI document is valid 3.1, as a standard validator sees it. */
import { compileErrors, validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../src/worker/openapi";

describe("OpenAPI document", () => {
  it("validates as OpenAPI 3.1", async () => {
    const doc = structuredClone(openApiDocument());
    const result = await validate(doc as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.valid).toBe(true);
    expect((doc as { openapi: string }).openapi).toBe("3.1.0");
  });
});
