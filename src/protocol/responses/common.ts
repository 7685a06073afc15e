/** Building blocks of REST answers. Responses are not validated at runtime; handlers are type-checked against them. */
import { z } from "zod";

export const id = z.uuid();
export const timestamp = z.iso.datetime();
export const seq = z.number().int().min(0);
/** Opaque keyset cursor: pass back as `cursor` for the next page; null on the last page. */
export const nextCursor = z.string().nullable();
export const role = z.enum(["owner", "admin", "member"]);
/** A person ("user"), a bot (acts through API keys, posts as itself) or a server's service identity. */
export const userKind = z.enum(["user", "bot", "service"]);
/** Someone as other people see them: never an email. */
export const userRef = z.object({ id, displayName: z.string(), kind: userKind });
