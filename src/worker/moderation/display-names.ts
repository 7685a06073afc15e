/** The deployment's content rules applied to display names (register, profile update). */
import type { Db } from "../../db/client";
import { loadMatcher } from "../../db/content-rules";
import { applyRules } from "../../lib/content-rules";
import { AppError } from "../../protocol/errors";

/** The name to store: as given, or with the matched words masked; a rejecting rule is a 422. */
export async function screenDisplayName(db: Db, name: string): Promise<string> {
  const verdict = applyRules(await loadMatcher(db), name);
  if (verdict.action === "reject") {
    // Which rule matched is not said: the list is the deployment's, not something to probe.
    throw new AppError(422, "content_rejected", "This display name is not allowed", {
      details: [{ field: "displayName", message: "contains blocked words" }],
    });
  }
  return verdict.action === "mask" ? verdict.text : name;
}
