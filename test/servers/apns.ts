/**
 * A local Apple Push Notification service for tests (Node side), HTTP/2 only as APNs is:
 * - `h2`: TLS with ALPN h2 (a self-signed certificate made with openssl at start), the real protocol;
 * - `h2c`: the same handler over cleartext HTTP/2 with prior knowledge, to show what workerd's fetch does
 *   with an HTTP/2-only server (it speaks HTTP/1.1 only, locally: workerd#5266);
 * - `relay`: an HTTP/1.1 server that forwards each request over one HTTP/2 session to `h2` and answers
 *   with what APNs answered. The worker reaches "APNs" through it under workerd; in production the
 *   worker's fetch negotiates HTTP/2 with api.push.apple.com itself (see README, Integrations).
 * Each request is checked as APNs checks it: POST /3/device/<hex token>, `authorization: bearer <JWT>` (ES256,
 * kid = key id, iss = team id, iat within the hour) verified with the .p8 key's public half, apns-topic,
 * apns-push-type, apns-collapse-id (at most 64 bytes), a JSON body with `aps` of at most 4 KB. Tokens
 * starting `deadbeef` answer 410 Unregistered; `badbad` 400 BadDeviceToken. `GET /__calls` on the relay
 * lists what reached the HTTP/2 server, with its pseudo-headers.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeProtectedHeader, importSPKI, jwtVerify } from "jose";

export const APNS_KEY_ID = "TESTKEY123";
export const APNS_TEAM_ID = "TESTTEAM01";
export const APNS_TOPIC = "com.example.edgechat";

export interface ApnsCall {
  at: number;
  /** How the request reached the server: "h2" (TLS) or "h2c". */
  via: string;
  httpVersion: string;
  headers: Record<string, string>;
  body: unknown;
  status: number;
  reason?: string;
}

function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "apns-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    return {
      key: readFileSync(path.join(dir, "key.pem"), "utf8"),
      cert: readFileSync(path.join(dir, "cert.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startApns(): Promise<{
  relayUrl: string;
  h2cUrl: string;
  /** The .p8 signing key (PKCS#8 PEM), as Apple hands it out. */
  key: string;
  stop: () => Promise<void>;
}> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const verifyKey = await importSPKI(publicKey.export({ type: "spki", format: "pem" }) as string, "ES256");
  const calls: ApnsCall[] = [];

  async function judge(headers: http2.IncomingHttpHeaders, raw: string): Promise<[number, string?]> {
    const token = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(String(headers[":path"] ?? ""))?.[1];
    if (headers[":method"] !== "POST") return [405, "MethodNotAllowed"];
    if (!token) return [400, "BadPath"];
    const bearer = /^bearer (.+)$/i.exec(String(headers.authorization ?? ""))?.[1];
    if (!bearer) return [403, "MissingProviderToken"];
    try {
      if (decodeProtectedHeader(bearer).kid !== APNS_KEY_ID) return [403, "InvalidProviderToken"];
      const { payload } = await jwtVerify(bearer, verifyKey, { algorithms: ["ES256"], issuer: APNS_TEAM_ID });
      if (typeof payload.iat !== "number" || Date.now() / 1000 - payload.iat > 3600)
        return [403, "ExpiredProviderToken"];
    } catch {
      return [403, "InvalidProviderToken"];
    }
    if (headers["apns-topic"] !== APNS_TOPIC) return [400, "DeviceTokenNotForTopic"];
    if (!["alert", "background"].includes(String(headers["apns-push-type"]))) return [400, "InvalidPushType"];
    const collapse = headers["apns-collapse-id"];
    if (collapse !== undefined && Buffer.byteLength(String(collapse)) > 64) return [400, "BadCollapseId"];
    if (Buffer.byteLength(raw) > 4096) return [413, "PayloadTooLarge"];
    try {
      if (typeof (JSON.parse(raw) as { aps?: unknown }).aps !== "object") return [400, "PayloadEmpty"];
    } catch {
      return [400, "PayloadEmpty"];
    }
    if (token.startsWith("deadbeef")) return [410, "Unregistered"];
    if (token.startsWith("badbad")) return [400, "BadDeviceToken"];
    return [200];
  }

  const handler = (via: string) => (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const [status, reason] = await judge(req.headers, raw);
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      calls.push({ at: Date.now(), via, httpVersion: req.httpVersion, headers, body, status, reason });
      const apnsId = String(req.headers["apns-id"] ?? randomUUID());
      res.writeHead(status, { "apns-id": apnsId, ...(reason ? { "content-type": "application/json" } : {}) });
      res.end(reason ? JSON.stringify(status === 410 ? { reason, timestamp: Date.now() } : { reason }) : "");
    });
  };

  const { key, cert } = selfSigned();
  const h2 = http2.createSecureServer({ key, cert, allowHTTP1: false }, handler("h2"));
  const h2c = http2.createServer(handler("h2c"));
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => h2c.listen(0, "127.0.0.1", resolve));
  const h2Url = `https://127.0.0.1:${(h2.address() as AddressInfo).port}`;
  let session: http2.ClientHttp2Session | null = null;
  const upstream = () => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(h2Url, { ca: cert });
      session.on("error", () => {
        session = null;
      });
    }
    return session;
  };

  const HOP = new Set(["connection", "host", "keep-alive", "transfer-encoding", "upgrade", "content-length"]);
  const relay = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/__calls") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(calls));
      }
      const headers: http2.OutgoingHttpHeaders = { ":method": req.method ?? "POST", ":path": req.url ?? "/" };
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
      const stream = upstream().request(headers);
      const out: Buffer[] = [];
      let status = 502;
      let answerHeaders: Record<string, string> = {};
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        answerHeaders = Object.fromEntries(
          Object.entries(h)
            .filter(([k]) => !k.startsWith(":"))
            .map(([k, v]) => [k, String(v)]),
        );
      });
      stream.on("data", (c: Buffer) => out.push(c));
      stream.on("end", () => {
        res.writeHead(status, answerHeaders);
        res.end(Buffer.concat(out));
      });
      stream.on("error", (err) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`relay: ${err.message}`);
      });
      stream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));

  const close = (s: { close: (cb: () => void) => void }) => new Promise<void>((resolve) => s.close(() => resolve()));
  return {
    relayUrl: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    h2cUrl: `http://127.0.0.1:${(h2c.address() as AddressInfo).port}`,
    key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    stop: async () => {
      (session as http2.ClientHttp2Session | null)?.destroy();
      relay.closeAllConnections();
      await Promise.all([close(relay), close(h2), close(h2c)]);
    },
  };
}
