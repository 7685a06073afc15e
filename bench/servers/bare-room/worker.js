// The runtime's floor for hibernated sockets: every socket accepted with the Hibernation API, nothing else.
export class Room {
  constructor(ctx) {
    this.ctx = ctx;
  }
  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage() {}
}

export default {
  fetch(request, env) {
    if (new URL(request.url).pathname === "/health") return new Response("bare-room");
    return env.ROOM.get(env.ROOM.idFromName("one")).fetch(request);
  },
};
