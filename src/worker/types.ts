import type { DbEnv } from "../db/client";

/** Bindings as the worker sees them: generated Env plus what only dev and tests set. */
export type Bindings = Env & Pick<DbEnv, "NEON_LOCAL_PROXY">;

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    userId?: string;
    tokenExpiresAt?: number;
  };
}
