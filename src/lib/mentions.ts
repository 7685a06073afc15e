const WORD_CHAR = /[\p{L}\p{N}_]/u;

/**
 * True when `body` mentions the user as `@displayName` (any case) or `@userId`, as a whole token: `@Ana`
 * does not mention "Anabel", and `ana@example.com` mentions nobody.
 */
export function mentions(body: string, user: { id: string; displayName: string }): boolean {
  const haystack = body.toLowerCase();
  for (const name of [user.displayName, user.id]) {
    const needle = `@${name.toLowerCase()}`;
    if (needle.length < 2) continue;
    for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + 1)) {
      const before = i === 0 ? "" : (haystack[i - 1] ?? "");
      const after = haystack[i + needle.length] ?? "";
      if (!WORD_CHAR.test(before) && !WORD_CHAR.test(after)) return true;
    }
  }
  return false;
}
