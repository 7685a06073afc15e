/**
 * The deployment's content rules as the matcher reads them (src/lib/content-rules.ts). The worker checks
 * display names with them; the room checks message bodies.
 */
import { asc } from "drizzle-orm";
import { type ContentMatcher, type ContentRule, matcherFor } from "../lib/content-rules";
import type { Db } from "./client";
import { contentRules } from "./moderation-schema";

/** Every rule, oldest first (at most MAX_RULES: the admin route refuses more). */
export async function loadRules(db: Db): Promise<ContentRule[]> {
  return db
    .select({ id: contentRules.id, kind: contentRules.kind, value: contentRules.value, action: contentRules.action })
    .from(contentRules)
    .orderBy(asc(contentRules.createdAt), asc(contentRules.id));
}

/** The rules, compiled (recompiled only when they changed since the last call in this isolate). */
export async function loadMatcher(db: Db): Promise<ContentMatcher> {
  return matcherFor(await loadRules(db));
}
