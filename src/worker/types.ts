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

/** What a route behind requireAdmin sees: the caller is known. */
export interface AdminEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { userId: string };
}

/** What a route behind requireUser sees: the caller and their access token's expiry are known. */
export interface UserEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { userId: string; tokenExpiresAt: number };
}
