// The runtime's floor for a chat room: a Durable Object that accepts sockets with the Hibernation API and
// re-sends every frame it receives to every socket it holds (the sender included, as edgechat's room
// does), nothing else. Rooms by name (`?room=`), so the grid gets a fresh room per size.
// `?persist=1` also INSERTs each frame into the object's SQLite before the broadcast, so every send waits
// behind the output gate as a durable room's do.
export class Room {
  constructor(ctx) {
    this.ctx = ctx;
    // The sockets, read from the runtime once per wake-up (as edgechat's room keeps them), not per frame.
    this.sockets = null;
    this.persist = false;
  }
  all() {
    if (!this.sockets) this.sockets = new Set(this.ctx.getWebSockets());
    return this.sockets;
  }
  async fetch(request) {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    this.all().add(pair[1]);
    if (new URL(request.url).searchParams.get("persist") === "1" && !this.persist) {
      this.persist = true;
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY, body TEXT)");
    }
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage(_ws, message) {
    if (this.persist) this.ctx.storage.sql.exec("INSERT INTO frames (body) VALUES (?)", message);
    for (const ws of this.all()) {
      try {
        ws.send(message);
      } catch {
        // closing
      }
    }
  }
  webSocketClose() {
    // The runtime may hand out other objects for the same sockets: read them again on the next frame.
    this.sockets = null;
  }
  webSocketError() {
    this.sockets = null;
  }
}

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("bare-room");
    return env.ROOM.get(env.ROOM.idFromName(url.searchParams.get("room") ?? "one")).fetch(request);
  },
};
