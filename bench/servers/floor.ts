/**
 * The floor: the least a broadcast can cost on this machine. A bare `ws` server with no auth, no
 * validation and no storage that relays every text frame to every socket of the same room (sender
 * included); the room is the `room` query parameter (one room when absent).
 */
import { type WebSocket, WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? 0);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
const rooms = new Map<string, Set<WebSocket>>();
wss.on("connection", (ws, req) => {
  const room = new URL(req.url ?? "/", "http://floor").searchParams.get("room") ?? "";
  const members = rooms.get(room) ?? new Set<WebSocket>();
  rooms.set(room, members);
  members.add(ws);
  ws.on("close", () => members.delete(ws));
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    for (const client of members) if (client.readyState === client.OPEN) client.send(text);
  });
});
wss.on("listening", () => {
  const address = wss.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : port}\n`);
});
