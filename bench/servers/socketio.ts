/**
 * The peer: a Socket.IO 4 server with rooms, as a team would write one. The room is the handshake's
 * `room` query parameter. With `--pg <url>` it stores each message row by row in Postgres before acking
 * and broadcasting (what the seed Django/FastAPI servers do), so the comparison includes durability, and
 * serves `GET /history?room=&before=&limit=` from the same table, as such a server's REST history would.
 * Usage: node bench/servers/socketio.ts <port> [--pg url]
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const pgAt = process.argv.indexOf("--pg");
const pool = pgAt > 0 ? new pg.Pool({ connectionString: process.argv[pgAt + 1], max: 10 }) : null;

if (pool) {
  await pool.query(`create table if not exists peer_messages (
    id bigserial primary key, room text not null, client_msg_id text not null, body text not null,
    created_at timestamptz not null default now())`);
  await pool.query("create index if not exists peer_messages_room_id on peer_messages (room, id)");
}

async function history(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://peer");
  if (!pool || url.pathname !== "/history") {
    res.writeHead(404).end();
    return;
  }
  const room = url.searchParams.get("room") ?? "room";
  const before = Number(url.searchParams.get("before") ?? Number.MAX_SAFE_INTEGER);
  const limit = Math.min(100, Number(url.searchParams.get("limit") ?? 50));
  const { rows } = await pool.query(
    "select id, client_msg_id, body, created_at from peer_messages where room = $1 and id < $2 order by id desc limit $3",
    [room, before, limit],
  );
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ messages: rows }));
}

const http = createServer((req, res) => {
  history(req, res).catch(() => res.writeHead(500).end());
});
const io = new Server(http, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
io.on("connection", (socket) => {
  const room = String(socket.handshake.query.room ?? "room");
  socket.join(room);
  socket.on("send", async (m: { clientMsgId: string; body: string }) => {
    if (pool) {
      await pool.query("insert into peer_messages (room, client_msg_id, body) values ($1, $2, $3)", [
        room,
        m.clientMsgId,
        m.body,
      ]);
    }
    io.to(room).emit("message", { clientMsgId: m.clientMsgId, body: m.body });
    socket.emit("ack", { clientMsgId: m.clientMsgId });
  });
});
http.listen(port, "127.0.0.1", () => console.log(`listening ${(http.address() as AddressInfo).port}`));
