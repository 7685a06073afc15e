import { NeonDbError } from "@neondatabase/serverless";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { describeCauses, isPermanent, isUnavailable } from "../../src/db/errors";

/** What drizzle throws: its own error with the driver's as `cause`, as in production. */
function failedQuery(cause: Error): Error {
  return new DrizzleQueryError("select 1", [], cause);
}

function pgError(message: string, code: string): NeonDbError {
  const e = new NeonDbError(message);
  (e as unknown as { code: string }).code = code;
  return e;
}

describe("database error classes", () => {
  it("treats an unreachable endpoint, a 5xx and connection SQLSTATEs as unavailable", () => {
    const unreachable = new NeonDbError("Error connecting to database: TypeError: fetch failed");
    (unreachable as unknown as { sourceError: Error }).sourceError = new TypeError("fetch failed");
    expect(isUnavailable(failedQuery(unreachable))).toBe(true);
    expect(isUnavailable(failedQuery(new NeonDbError("Server error (HTTP status 502): cut")))).toBe(true);
    expect(isUnavailable(failedQuery(pgError("too many connections", "53300")))).toBe(true);
    expect(isUnavailable(failedQuery(pgError("terminating connection", "57P01")))).toBe(true);
    expect(isUnavailable(failedQuery(pgError("connection failure", "08006")))).toBe(true);
    expect(isUnavailable(new DOMException("timed out", "TimeoutError"))).toBe(true);
  });

  it("treats data and constraint errors as permanent, never as unavailable", () => {
    const duplicate = failedQuery(pgError("duplicate key value", "23505"));
    expect(isPermanent(duplicate)).toBe(true);
    expect(isUnavailable(duplicate)).toBe(false);
    const badInput = failedQuery(pgError("invalid input syntax for type uuid", "22P02"));
    expect(isPermanent(badInput)).toBe(true);
    expect(isUnavailable(badInput)).toBe(false);
  });

  it("leaves bugs (syntax errors, plain exceptions) to be 500s", () => {
    expect(isUnavailable(failedQuery(pgError("syntax error", "42601")))).toBe(false);
    expect(isPermanent(failedQuery(pgError("syntax error", "42601")))).toBe(false);
    expect(isUnavailable(new TypeError("cannot read properties of undefined"))).toBe(false);
  });

  it("names every cause in one log line", () => {
    const line = describeCauses(failedQuery(pgError("too many connections", "53300")));
    expect(line).toContain("Failed query: select 1");
    expect(line).toContain("too many connections [53300]");
  });
});
