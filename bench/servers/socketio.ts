/**
 * The peer: a Socket.IO 4 server with rooms, as a team would write one. With `--pg <url>` it stores
 * each message row by row in Postgres before acking and broadcasting (what the seed Django/FastAPI
 * servers do), so the comparison includes durability. Usage: node bench/servers/socketio.ts <port> [--pg url]
 */
import { createServer } from "node:http";
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
}

const http = createServer();
const io = new Server(http, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
io.on("connection", (socket) => {
  socket.join("room");
  socket.on("send", async (m: { clientMsgId: string; body: string }) => {
    if (pool) {
      await pool.query("insert into peer_messages (room, client_msg_id, body) values ($1, $2, $3)", [
        "room",
        m.clientMsgId,
        m.body,
      ]);
    }
    io.to("room").emit("message", { clientMsgId: m.clientMsgId, body: m.body });
    socket.emit("ack", { clientMsgId: m.clientMsgId });
  });
});
http.listen(port, "127.0.0.1", () => console.log(`listening ${(http.address() as AddressInfo).port}`));
