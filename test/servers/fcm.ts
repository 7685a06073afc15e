/**
 * A local Firebase Cloud Messaging for tests (Node side), speaking the two HTTP APIs the worker uses:
 * - OAuth 2.0 token endpoint (`POST /token`, RFC 7523 JWT bearer grant): the assertion must be an RS256 JWT
 *   signed with the service account's key (kid = private_key_id), iss = client_email, scope
 *   firebase.messaging, aud = token_uri, at most an hour long; answers {access_token, expires_in, token_type}.
 * - FCM HTTP v1 (`POST /v1/projects/<project>/messages:send`) with `Authorization: Bearer <access token>`:
 *   validates the message shape; registration tokens starting `unregistered-` answer 404 UNREGISTERED,
 *   `invalid-` 400 INVALID_ARGUMENT (as FCM does for a malformed token); others 200 {name}.
 * `GET /__calls` lists what arrived (token exchanges and sends, with headers and bodies).
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { importSPKI, jwtVerify } from "jose";

export const FCM_PROJECT = "edgechat-test";
const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

export interface FcmCall {
  kind: "token" | "send";
  at: number;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** What the server found wrong, if anything (the answer was then 400/401). */
  problem?: string;
}

function fcmError(code: number, status: string, message: string, errorCode: string) {
  return {
    error: {
      code,
      message,
      status,
      details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }],
    },
  };
}

export async function startFcm(): Promise<{ url: string; serviceAccount: string; stop: () => Promise<void> }> {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyId = randomUUID().replaceAll("-", "");
  const clientEmail = `edgechat-push@${FCM_PROJECT}.iam.gserviceaccount.com`;
  const verifyKey = await importSPKI(publicKey.export({ type: "spki", format: "pem" }) as string, "RS256");
  const tokens = new Set<string>();
  const calls: FcmCall[] = [];
  let url = "";

  async function token(form: URLSearchParams): Promise<[number, unknown, string?]> {
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return [400, { error: "unsupported_grant_type" }, "grant_type"];
    }
    try {
      const { payload, protectedHeader } = await jwtVerify(form.get("assertion") ?? "", verifyKey, {
        algorithms: ["RS256"],
        issuer: clientEmail,
        audience: `${url}/token`,
        requiredClaims: ["iat", "exp"],
      });
      if (protectedHeader.kid !== privateKeyId) return [400, { error: "invalid_grant" }, "kid"];
      if (payload.scope !== SCOPE) return [400, { error: "invalid_scope" }, "scope"];
      if ((payload.exp as number) - (payload.iat as number) > 3600)
        return [400, { error: "invalid_grant" }, "lifetime"];
    } catch (err) {
      return [400, { error: "invalid_grant", error_description: (err as Error).message }, "assertion"];
    }
    const accessToken = `ya29.${randomUUID()}`;
    tokens.add(accessToken);
    return [200, { access_token: accessToken, expires_in: 3599, token_type: "Bearer" }];
  }

  function send(auth: string | undefined, body: unknown): [number, unknown, string?] {
    const bearer = /^Bearer (.+)$/.exec(auth ?? "")?.[1];
    if (!bearer || !tokens.has(bearer)) {
      return [
        401,
        fcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "THIRD_PARTY_AUTH_ERROR"),
        "auth",
      ];
    }
    const message = (body as { message?: Record<string, unknown> } | null)?.message;
    const target = message?.token;
    if (!message || typeof target !== "string") {
      return [
        400,
        fcmError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT"),
        "shape",
      ];
    }
    const data = message.data as Record<string, unknown> | undefined;
    if (data && Object.values(data).some((v) => typeof v !== "string")) {
      return [400, fcmError(400, "INVALID_ARGUMENT", "data values must be strings", "INVALID_ARGUMENT"), "data"];
    }
    if (target.startsWith("unregistered-")) {
      return [404, fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")];
    }
    if (target.startsWith("invalid-")) {
      return [
        400,
        fcmError(
          400,
          "INVALID_ARGUMENT",
          "The registration token is not a valid FCM registration token",
          "INVALID_ARGUMENT",
        ),
      ];
    }
    return [200, { name: `projects/${FCM_PROJECT}/messages/${randomUUID()}` }];
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      const path = (req.url ?? "").split("?")[0];
      if (req.method === "GET" && path === "/__calls") return reply(200, calls);
      if (req.method === "POST" && path === "/token") {
        const form = new URLSearchParams(raw);
        const [status, json, problem] = await token(form);
        calls.push({ kind: "token", at: Date.now(), status, headers, body: Object.fromEntries(form), problem });
        return reply(status, json);
      }
      if (req.method === "POST" && path === `/v1/projects/${FCM_PROJECT}/messages:send`) {
        let body: unknown = null;
        try {
          body = JSON.parse(raw);
        } catch {
          // answered below as a bad shape
        }
        const [status, json, problem] = send(req.headers.authorization, body);
        calls.push({ kind: "send", at: Date.now(), status, headers, body, problem });
        return reply(status, json);
      }
      reply(404, { error: { code: 404, message: "unknown path", status: "NOT_FOUND" } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const serviceAccount = JSON.stringify({
    type: "service_account",
    project_id: FCM_PROJECT,
    private_key_id: privateKeyId,
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: clientEmail,
    token_uri: `${url}/token`,
  });
  return {
    url,
    serviceAccount,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
