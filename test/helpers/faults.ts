import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";

/**
 * A Postgres outage seen only by one room object: its DATABASE_URL gets a unique password (trust auth
 * ignores it) and the local Neon proxy fails every request carrying it while cut. Other test files, which
 * share the proxy, are unaffected. The override lasts until the object is evicted.
 */
export async function isolatedPostgresFault(stub: DurableObjectStub) {
  const marker = `fault${crypto.randomUUID().replaceAll("-", "")}`;
  const url = new URL(env.DATABASE_URL);
  url.password = marker;
  const control = (action: "cut" | "restore") =>
    fetch(`http://${env.NEON_LOCAL_PROXY}/__control/${action}?match=${marker}`, { method: "POST" });
  const apply = () =>
    runInDurableObject(stub, (instance: object) => {
      Object.assign(instance, { env: { ...env, DATABASE_URL: url.toString() } });
    });
  await apply();
  return { cut: () => control("cut"), restore: () => control("restore"), reapply: apply };
}

/** Points one room object's Redis at a bridge whose Redis is down. */
export function breakRedis(stub: DurableObjectStub) {
  return runInDurableObject(stub, (instance: object) => {
    Object.assign(instance, {
      env: {
        ...env,
        UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL,
        UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN,
      },
    });
  });
}
