/**
 * Telling Postgres being unreachable (worth a 503 and a retry) from Postgres refusing the data (a bug or a
 * conflict). drizzle wraps driver errors ("Failed query: …") with the driver's error as `cause`.
 */

/** The chain of causes of an error, outermost first (bounded: causes can be cyclic). */
export function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err, depth = 0; e && depth < 5; depth++) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause ?? (e as { sourceError?: unknown }).sourceError;
  }
  return chain;
}

/**
 * SQLSTATE class 22 (data exception) or 23 (integrity violation): Postgres will refuse the same data on
 * every retry.
 */
export function isPermanent(err: unknown): boolean {
  return causes(err).some((e) => {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code);
  });
}

/**
 * Postgres refused text it cannot store: 22021 (a NUL byte, or bytes invalid in the encoding) and 22P05
 * (untranslatable character).
 */
export function isInvalidText(err: unknown): boolean {
  return causes(err).some((e) => {
    const code = (e as { code?: unknown }).code;
    return code === "22021" || code === "22P05";
  });
}

/**
 * Postgres (or the way to it) is down or overloaded: connection exceptions (class 08), too many
 * connections (53300), statement timeout (57014), admin shutdown (57P01..03), timeouts, and failures to
 * reach the SQL-over-HTTP endpoint at all (the Neon driver's "Error connecting to database", HTTP 5xx).
 */
export function isUnavailable(err: unknown): boolean {
  const chain = causes(err);
  if (isPermanent(err)) return false;
  return chain.some((e) => {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^(08...|53300|57014|57P0[123])$/.test(code)) return true;
    const name = (e as { name?: unknown }).name;
    if (name === "AbortError" || name === "TimeoutError") return true;
    const message = String((e as { message?: unknown }).message ?? "");
    return /error connecting to database|fetch failed|network|timed? ?out|ECONNREFUSED|ECONNRESET|couldn't connect|server error \(HTTP status 5\d\d\)/i.test(
      message,
    );
  });
}

/** One line naming each cause, for logs. */
export function describeCauses(err: unknown): string {
  return causes(err)
    .map((e) => {
      const code = (e as { code?: unknown }).code;
      return `${String((e as { message?: unknown }).message ?? e)
        .split("\n")[0]
        ?.slice(0, 300)}${typeof code === "string" ? ` [${code}]` : ""}`;
    })
    .join(" <- ");
}
