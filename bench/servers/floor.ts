/**
 * The floor: the least a broadcast can cost on this machine. A bare `ws` server with no auth, no
 * validation and no storage that relays every text frame to every socket (sender included).
 */
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? 0);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    for (const client of wss.clients) if (client.readyState === client.OPEN) client.send(text);
  });
});
wss.on("listening", () => {
  const address = wss.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : port}\n`);
});
