import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ConnectionState, Member, MessageView, RoomConnection, User } from "../../src/client";
import { client } from "./session";
import { PeoplePicker } from "./sidebar";

interface Pending {
  clientMsgId: string;
  body: string;
  replyTo?: number;
  status: "sending" | "failed";
}

const PAGE = 30;
const TYPING_SHOWN_MS = 4000;

/** One room: history with infinite scroll back, the live stream, and everything one can do in it. */
export function ChatView({ me, roomId }: { me: User; roomId: string }) {
  const [messages, setMessages] = useState<MessageView[]>([]);
  const [pending, setPending] = useState<Pending[]>([]);
  const [members, setMembers] = useState<Member[]>([]);
  const [online, setOnline] = useState<Set<string>>(new Set());
  const [typing, setTyping] = useState<Map<string, number>>(new Map());
  const [reads, setReads] = useState<Map<string, number>>(new Map());
  const [reactions, setReactions] = useState<Map<number, Map<string, Set<string>>>>(new Map());
  const [state, setState] = useState<ConnectionState>("connecting");
  const [hasOlder, setHasOlder] = useState(true);
  const [replyTo, setReplyTo] = useState<number | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [title, setTitle] = useState("");
  const [adding, setAdding] = useState(false);
  const conn = useRef<RoomConnection | null>(null);
  const log = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const keepOffset = useRef<number | null>(null);
  const lastTyping = useRef(0);

  const names = useMemo(() => new Map(members.map((m) => [m.userId, m.displayName])), [members]);
  const upsert = (list: MessageView[]) =>
    setMessages((prev) => {
      const bySeq = new Map(prev.map((m) => [m.seq, m]));
      for (const m of list) bySeq.set(m.seq, m);
      return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    });

  useEffect(() => {
    let closed = false;
    (async () => {
      const [room, page, people] = await Promise.all([
        client.rooms.get(roomId),
        client.messages.history(roomId, { limit: PAGE }),
        client.rooms.members(roomId),
      ]);
      if (closed) return;
      setTitle(room.kind === "direct" ? "Direct chat" : `# ${room.name}`);
      setMembers(people);
      setReads(new Map(people.map((m) => [m.userId, m.lastReadSeq])));
      upsert(page.messages);
      setHasOlder(page.messages.length === PAGE);
      const c = client.room(roomId, { afterSeq: page.messages[0]?.seq ?? room.lastSeq });
      conn.current = c;
      c.on("state", setState);
      c.on("welcome", (w) => setOnline(new Set(w.online)));
      c.on("message", (m) => {
        upsert([m]);
        if (m.senderId === me.id) setPending((p) => p.filter((x) => x.clientMsgId !== m.clientMsgId));
        setTyping((t) => {
          const next = new Map(t);
          next.delete(m.senderId);
          return next;
        });
      });
      c.on("edited", (e) =>
        setMessages((prev) => prev.map((m) => (m.seq === e.seq ? { ...m, body: e.body, editedAt: e.editedAt } : m))),
      );
      c.on("deleted", (d) =>
        setMessages((prev) => prev.map((m) => (m.seq === d.seq ? { ...m, body: null, deletedAt: d.deletedAt } : m))),
      );
      c.on("presence", (p) =>
        setOnline((prev) => {
          const next = new Set(prev);
          if (p.state === "joined") next.add(p.userId);
          else next.delete(p.userId);
          return next;
        }),
      );
      c.on("typing", (t) =>
        setTyping((prev) => {
          const next = new Map(prev);
          if (t.on) next.set(t.userId, Date.now() + TYPING_SHOWN_MS);
          else next.delete(t.userId);
          return next;
        }),
      );
      c.on("receipt", (r) => setReads((prev) => new Map(prev).set(r.userId, Math.max(prev.get(r.userId) ?? 0, r.seq))));
      c.on("reaction", (r) =>
        setReactions((prev) => {
          const next = new Map(prev);
          const forMsg = new Map(next.get(r.seq) ?? []);
          const who = new Set(forMsg.get(r.emoji) ?? []);
          if (r.on) who.add(r.userId);
          else who.delete(r.userId);
          forMsg.set(r.emoji, who);
          next.set(r.seq, forMsg);
          return next;
        }),
      );
      // The ring starts where the page ended: deliver what came after it.
      c.connect();
    })().catch(() => setState("closed"));
    const sweep = setInterval(() => {
      setTyping((t) => new Map([...t].filter(([, until]) => until > Date.now())));
    }, 1000);
    return () => {
      closed = true;
      clearInterval(sweep);
      conn.current?.close();
    };
  }, [roomId]);

  // Tell the room how far I have read once new messages are on screen.
  const lastSeq = messages[messages.length - 1]?.seq ?? 0;
  useEffect(() => {
    if (lastSeq > 0 && state === "open") conn.current?.read(lastSeq);
  }, [lastSeq, state]);

  useLayoutEffect(() => {
    const el = log.current;
    if (!el) return;
    if (keepOffset.current !== null) {
      el.scrollTop = el.scrollHeight - keepOffset.current;
      keepOffset.current = null;
    } else if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [messages, pending]);

  async function loadOlder() {
    const first = messages[0]?.seq;
    if (!hasOlder || first === undefined || first <= 1) return setHasOlder(false);
    const page = await client.messages.history(roomId, { before: first, limit: PAGE });
    if (log.current) keepOffset.current = log.current.scrollHeight - log.current.scrollTop;
    upsert(page.messages);
    setHasOlder(page.messages.length === PAGE);
  }

  function send(body: string, again?: Pending) {
    const c = conn.current;
    if (!c) return;
    const clientMsgId = again?.clientMsgId ?? crypto.randomUUID();
    const item: Pending = { clientMsgId, body, status: "sending", ...(replyTo !== null ? { replyTo } : {}) };
    setPending((p) => [
      ...p.filter((x) => x.clientMsgId !== clientMsgId),
      again ? { ...again, status: "sending" } : item,
    ]);
    stickToBottom.current = true;
    c.send(body, { clientMsgId, ...(item.replyTo !== undefined ? { replyTo: item.replyTo } : {}) }).then(
      () => undefined,
      () => setPending((p) => p.map((x) => (x.clientMsgId === clientMsgId ? { ...x, status: "failed" } : x))),
    );
    setReplyTo(null);
  }

  const typers = [...typing.keys()].filter((u) => u !== me.id).map((u) => names.get(u) ?? "Someone");
  const lastMine = [...messages].reverse().find((m) => m.senderId === me.id && !m.deletedAt);
  const seenBy = lastMine
    ? members.filter((m) => m.userId !== me.id && (reads.get(m.userId) ?? 0) >= lastMine.seq).map((m) => m.displayName)
    : [];

  return (
    <main class="chat" aria-label={title}>
      <header>
        <h2 style="margin:0">{title}</h2>
        <span class={`state ${state}`} role="status" aria-label="Connection">
          {state}
        </span>
        <span>
          Online: {[...online].map((u) => (u === me.id ? "you" : (names.get(u) ?? "…"))).join(", ") || "nobody"}
        </span>
        <button type="button" onClick={() => setAdding(!adding)}>
          Add member
        </button>
      </header>
      {adding && (
        <PeoplePicker
          label="Add someone to this room"
          onPick={async (userId) => {
            await client.rooms.invite(roomId, userId).catch(() => undefined);
            setMembers(await client.rooms.members(roomId));
            setAdding(false);
          }}
        />
      )}
      <div
        class="log"
        ref={log}
        role="log"
        aria-live="polite"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll by keyboard
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          if (el.scrollTop < 40) loadOlder();
        }}
      >
        {hasOlder && (
          <button type="button" onClick={loadOlder}>
            Load older messages
          </button>
        )}
        {messages.map((m) => (
          <article key={m.seq} class={`msg${m.senderId === me.id ? " mine" : ""}`} data-seq={m.seq}>
            <div class="meta">
              <strong>{names.get(m.senderId) ?? "Someone"}</strong>
              <span>#{m.seq}</span>
              {m.replyTo !== null && <span>↪ reply to #{m.replyTo}</span>}
              {m.editedAt && !m.deletedAt && <span>(edited)</span>}
            </div>
            {editing === m.seq ? (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  const body = String(new FormData(e.currentTarget as HTMLFormElement).get("body"));
                  conn.current?.edit(m.seq, body);
                  setEditing(null);
                }}
              >
                <label for={`edit-${m.seq}`}>Edit message</label>
                <input id={`edit-${m.seq}`} name="body" defaultValue={m.body ?? ""} required />
              </form>
            ) : (
              <div class="body">{m.deletedAt ? <em>message deleted</em> : m.body}</div>
            )}
            {!m.deletedAt && (
              <div class="meta actions">
                {[...(reactions.get(m.seq) ?? [])]
                  .filter(([, who]) => who.size > 0)
                  .map(([emoji, who]) => (
                    <span key={emoji}>
                      {emoji} {who.size}
                    </span>
                  ))}
                <button
                  type="button"
                  aria-label={`React 👍 to message ${m.seq}`}
                  onClick={() => conn.current?.react(m.seq, "👍", !reactions.get(m.seq)?.get("👍")?.has(me.id))}
                >
                  👍
                </button>
                <button type="button" onClick={() => setReplyTo(m.seq)}>
                  Reply
                </button>
                {m.senderId === me.id && (
                  <>
                    <button type="button" onClick={() => setEditing(m.seq)}>
                      Edit
                    </button>
                    <button type="button" onClick={() => conn.current?.delete(m.seq)}>
                      Delete
                    </button>
                  </>
                )}
              </div>
            )}
            {lastMine?.seq === m.seq && seenBy.length > 0 && <div class="meta">Seen by {seenBy.join(", ")}</div>}
          </article>
        ))}
        {pending.map((p) => (
          <article key={p.clientMsgId} class={`msg mine ${p.status}`} aria-label={`Your message, ${p.status}`}>
            <div class="body">{p.body}</div>
            <div class="meta">
              {p.status === "sending" ? "sending…" : "failed"}
              {p.status === "failed" && (
                <button type="button" onClick={() => send(p.body, p)}>
                  Retry
                </button>
              )}
            </div>
          </article>
        ))}
      </div>
      <div class="typing" aria-live="polite">
        {typers.length > 0 && `${typers.join(", ")} ${typers.length === 1 ? "is" : "are"} typing…`}
      </div>
      {replyTo !== null && (
        <div class="reply">
          Replying to #{replyTo}{" "}
          <button type="button" onClick={() => setReplyTo(null)}>
            Cancel
          </button>
        </div>
      )}
      <form
        class="compose"
        onSubmit={(e) => {
          e.preventDefault();
          const input = (e.currentTarget as HTMLFormElement).elements.namedItem("body") as HTMLInputElement;
          if (!input.value.trim()) return;
          send(input.value);
          input.value = "";
          conn.current?.typing(false);
        }}
      >
        <label for="compose" class="sr-only">
          Message
        </label>
        <input
          id="compose"
          name="body"
          placeholder="Write a message"
          autoComplete="off"
          maxLength={4000}
          onInput={() => {
            // At most one typing frame every 2 s; the room expires it by itself.
            if (Date.now() - lastTyping.current > 2000) {
              lastTyping.current = Date.now();
              conn.current?.typing(true);
            }
          }}
        />
        <button class="primary" type="submit">
          Send
        </button>
      </form>
    </main>
  );
}
