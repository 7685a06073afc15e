/** The OpenAPI documents (public and admin) are valid 3.1, as a standard validator sees them. */
import { compileErrors, validate } from "@readme/openapi-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { openApiDocument } from "../../src/worker/openapi";

// The documents are built from the routes as mounted, so the app is loaded first. Not a static import:
// this project type-checks with Node's types, and the app is Workers code.
const APP = "../../src/worker/app";
beforeAll(() => import(APP));

describe("OpenAPI document", () => {
  it.each(["public", "admin"] as const)("%s validates as OpenAPI 3.1", async (audience) => {
    const doc = structuredClone(openApiDocument(audience));
    const result = await validate(doc as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.valid).toBe(true);
    expect((doc as { openapi: string }).openapi).toBe("3.1.0");
    // An app that failed to mount its routes would leave a valid but empty document.
    expect(Object.keys((doc as { paths: object }).paths).length).toBeGreaterThan(5);
  });
});
