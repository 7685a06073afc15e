import { neonConfig } from "@neondatabase/serverless";

/**
 * Points the Neon driver at the local Neon-compatible proxy (scripts/local-stack/neon-proxy.ts).
 * Only `npm run dev` and the test suite set NEON_LOCAL_PROXY; production config never does, so in
 * production the driver keeps its defaults and talks to Neon over TLS.
 */
export function useLocalNeonProxy(proxy: string | undefined): void {
  if (!proxy || neonConfig.fetchEndpoint === `http://${proxy}/sql`) return;
  neonConfig.fetchEndpoint = `http://${proxy}/sql`;
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}
