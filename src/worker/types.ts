import type { DbEnv } from "../db/client";

/** Bindings as the worker sees them: generated Env plus what only dev and tests set. */
export type Bindings = Env &
  Pick<DbEnv, "NEON_LOCAL_PROXY"> & {
    /** Optional secret: a static bearer token for Prometheus scrapers (admins' access tokens also work). */
    METRICS_TOKEN?: string;
  };

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    userId?: string;
    /** The session of the caller's access token. */
    sessionId?: string;
    tokenExpiresAt?: number;
  };
}
