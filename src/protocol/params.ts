/** Path parameters, shared by the REST routes and the OpenAPI document. */
import { z } from "zod";
import { emoji } from "./frames";

export const uuidParam = z.guid();
/** Message sequence numbers start at 1. */
export const seqParam = z.coerce.number().int().min(1);

export const idPath = z.object({ id: uuidParam });
export const messagePath = z.object({ roomId: uuidParam, seq: seqParam });
export const reactionPath = messagePath.extend({ emoji });
