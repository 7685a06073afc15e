import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import {
  type ConnectionState,
  hasOlder,
  messageList,
  type RoomConnection,
  reactionCount,
  type StateMessage,
  seenBy,
  type User,
} from "../../src/client";
import { client, knownNames, rememberNames } from "./session";
import { PeoplePicker } from "./sidebar";

const PAGE = 30;
const TYPING_SHOWN_MS = 4000;
/** The reaction picker, and the order reactions are shown in (others after these, by code point). */
export const PICKER = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

interface Failed {
  clientMsgId: string;
  body: string;
  replyTo?: number;
}

/**
 * One room, rendered from the SDK's kept state (`conn.roomState`): history with scroll back, reactions,
 * receipts, system notices and reply quotes, all updated by the live stream and by catch-up alike, so a
 * reload shows what was shown before. Sends wait in the SDK's outbox (IndexedDB) until the room has them.
 */
export function ChatView({ me, roomId }: { me: User; roomId: string }) {
  const [conn, setConn] = useState<RoomConnection | null>(null);
  const [, setTick] = useState(0);
  const [names, setNames] = useState<Map<string, string>>(() => knownNames());
  const [online, setOnline] = useState<Set<string>>(new Set());
  const [typing, setTyping] = useState<Map<string, number>>(new Map());
  const [connState, setConnState] = useState<ConnectionState>("connecting");
  const [failed, setFailed] = useState<Failed[]>([]);
  const [replyTo, setReplyTo] = useState<number | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [picking, setPicking] = useState<number | null>(null);
  const [kind, setKind] = useState<"group" | "direct" | null>(null);
  const [adding, setAdding] = useState(false);
  const quoted = useQuoted(roomId);
  const log = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const keepOffset = useRef<number | null>(null);
  const loadingOlder = useRef(false);
  const lastTyping = useRef(0);

  const refreshMembers = () =>
    client.rooms.members(roomId).then(
      (people) => setNames(rememberNames(people)),
      () => undefined,
    );

  useEffect(() => {
    let closed = false;
    const c = client.room(roomId, { pageSize: PAGE });
    setConn(c);
    const off = [
      c.subscribe(() => setTick((t) => t + 1)),
      c.on("state", setConnState),
      c.on("welcome", (w) => setOnline(new Set(w.online))),
      c.on("member", refreshMembers),
      c.on("message", (m) =>
        setTyping((t) => {
          const next = new Map(t);
          next.delete(m.senderId);
          return next;
        }),
      ),
      c.on("presence", (p) =>
        setOnline((prev) => {
          const next = new Set(prev);
          if (p.state === "joined") next.add(p.userId);
          else next.delete(p.userId);
          return next;
        }),
      ),
      c.on("typing", (t) =>
        setTyping((prev) => {
          const next = new Map(prev);
          if (t.on) next.set(t.userId, Date.now() + TYPING_SHOWN_MS);
          else next.delete(t.userId);
          return next;
        }),
      ),
      // A send the room refused (restored ones from before a reload included): offer to retry it.
      c.on("failed", (f) => {
        if (!closed) setFailed((list) => [...list, f.send]);
      }),
    ];
    c.connect();
    refreshMembers();
    client.rooms.get(roomId).then(
      (r) => !closed && setKind(r.kind),
      () => undefined,
    );
    const sweep = setInterval(() => {
      setTyping((t) => new Map([...t].filter(([, until]) => until > Date.now())));
    }, 1000);
    return () => {
      closed = true;
      clearInterval(sweep);
      for (const f of off) f();
      c.close();
    };
  }, [roomId]);

  const state = conn?.roomState ?? null;
  const list = state ? messageList(state) : [];
  const name = (id: string) => names.get(id) ?? null;
  const lastSeq = list.at(-1)?.seq ?? 0;

  // Tell the room how far I have read once new messages are on screen.
  const myMark = state?.readMarks?.get(me.id) ?? 0;
  useEffect(() => {
    if (lastSeq > myMark && connState === "open") conn?.read(lastSeq);
  }, [lastSeq, myMark, connState]);

  // Reply quotes of messages older than what is loaded are read once, on their own.
  useEffect(() => {
    if (state)
      quoted.want(list.flatMap((m) => (m.replyTo !== null && !state.messages.has(m.replyTo) ? [m.replyTo] : [])));
  }, [state?.messages]);

  const mine = new Set(list.filter((m) => m.senderId === me.id).map((m) => m.clientMsgId));
  const pending = (conn?.pendingSends ?? []).filter((p) => !mine.has(p.clientMsgId));

  useLayoutEffect(() => {
    const el = log.current;
    if (!el) return;
    if (keepOffset.current !== null) {
      el.scrollTop = el.scrollHeight - keepOffset.current;
      keepOffset.current = null;
    } else if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [list.length, pending.length, failed.length]);

  async function loadOlder() {
    if (!conn || !state || !hasOlder(state) || loadingOlder.current) return;
    loadingOlder.current = true;
    if (log.current) keepOffset.current = log.current.scrollHeight - log.current.scrollTop;
    await conn.loadOlder().catch(() => undefined);
    loadingOlder.current = false;
  }

  function send(body: string, again?: Failed) {
    if (!conn) return;
    const to = again ? again.replyTo : (replyTo ?? undefined);
    stickToBottom.current = true;
    setFailed((list) => list.filter((f) => f.clientMsgId !== again?.clientMsgId));
    // A refusal comes as a `failed` event; a closed connection keeps the send stored for next time.
    conn
      .send(body, {
        ...(again ? { clientMsgId: again.clientMsgId } : {}),
        ...(to !== undefined ? { replyTo: to } : {}),
      })
      .catch(() => undefined);
    setReplyTo(null);
  }

  const lookup = (seq: number): StateMessage | undefined => state?.messages.get(seq) ?? quoted.get(seq);
  const typers = [...typing.keys()].filter((u) => u !== me.id).map((u) => name(u) ?? "Someone");
  const lastMine = [...list].reverse().find((m) => m.senderId === me.id && !m.deletedAt && m.kind === "regular");
  const seen = lastMine && state ? seenBy(state, lastMine.seq).filter((u) => u !== me.id) : [];
  const title =
    kind === "direct" ? "Direct chat" : state?.settings?.name ? `# ${state.settings.name}` : kind ? "# …" : "";

  return (
    <main class="chat" aria-label={title}>
      <header>
        <h2 style="margin:0">{title}</h2>
        <span class={`state ${connState}`} role="status" aria-label="Connection">
          {connState}
        </span>
        <span>Online: {[...online].map((u) => (u === me.id ? "you" : (name(u) ?? "…"))).join(", ") || "nobody"}</span>
        {state?.settings?.topic && <span class="topic">{state.settings.topic}</span>}
        <button type="button" onClick={() => setAdding(!adding)}>
          Add member
        </button>
      </header>
      {adding && (
        <PeoplePicker
          label="Add someone to this room"
          onPick={async (userId) => {
            await client.rooms.invite(roomId, userId).catch(() => undefined);
            await refreshMembers();
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
        {state && hasOlder(state) && (
          <button type="button" onClick={loadOlder}>
            Load older messages
          </button>
        )}
        {list.map((m) =>
          m.hidden ? (
            <p key={m.seq} class="notice hidden" data-seq={m.seq}>
              A message from someone you blocked
            </p>
          ) : m.kind === "system" ? (
            <p key={m.seq} class="notice" data-seq={m.seq}>
              {systemText(m, name)}
            </p>
          ) : (
            <article key={m.seq} class={`msg${m.senderId === me.id ? " mine" : ""}`} data-seq={m.seq}>
              <div class="meta">
                <strong>{name(m.senderId) ?? "Someone"}</strong>
                <span>#{m.seq}</span>
                {m.editedAt && !m.deletedAt && <span>(edited)</span>}
                {m.pinned && <span>📌 pinned</span>}
              </div>
              {m.replyTo !== null && <Quote target={lookup(m.replyTo)} name={name} />}
              {editing === m.seq ? (
                <form
                  onSubmit={(e) => {
                    e.preventDefault();
                    const body = String(new FormData(e.currentTarget as HTMLFormElement).get("body"));
                    conn?.edit(m.seq, body);
                    setEditing(null);
                  }}
                >
                  <label for={`edit-${m.seq}`}>Edit message</label>
                  <input id={`edit-${m.seq}`} name="body" defaultValue={m.body ?? ""} required />
                </form>
              ) : (
                <div class="body">{m.deletedAt ? <em>message deleted</em> : m.body}</div>
              )}
              <Reactions message={m} me={me.id} onToggle={(emoji, on) => conn?.react(m.seq, emoji, on)} />
              {!m.deletedAt && (
                <div class="meta actions">
                  <button
                    type="button"
                    aria-expanded={picking === m.seq}
                    onClick={() => setPicking(picking === m.seq ? null : m.seq)}
                  >
                    React
                  </button>
                  {picking === m.seq && (
                    <span class="picker">
                      {PICKER.map((emoji) => {
                        const on = !m.reactions.find((r) => r.emoji === emoji)?.users.has(me.id);
                        return (
                          <button
                            key={emoji}
                            type="button"
                            aria-label={`React ${emoji} to message ${m.seq}`}
                            onClick={() => {
                              conn?.react(m.seq, emoji, on);
                              setPicking(null);
                            }}
                          >
                            {emoji}
                          </button>
                        );
                      })}
                    </span>
                  )}
                  <button type="button" onClick={() => setReplyTo(m.seq)}>
                    Reply
                  </button>
                  {m.senderId === me.id && (
                    <>
                      <button type="button" onClick={() => setEditing(m.seq)}>
                        Edit
                      </button>
                      <button type="button" onClick={() => conn?.delete(m.seq)}>
                        Delete
                      </button>
                    </>
                  )}
                </div>
              )}
              {lastMine?.seq === m.seq && seen.length > 0 && (
                <div class="meta seen">Seen by {seen.map((u) => name(u) ?? "someone").join(", ")}</div>
              )}
            </article>
          ),
        )}
        {pending.map((p) => (
          <article key={p.clientMsgId} class="msg mine sending" aria-label="Your message, sending">
            {p.replyTo !== undefined && <Quote target={lookup(p.replyTo)} name={name} />}
            <div class="body">{p.body}</div>
            <div class="meta">sending…</div>
          </article>
        ))}
        {failed.map((f) => (
          <article key={f.clientMsgId} class="msg mine failed" aria-label="Your message, failed">
            <div class="body">{f.body}</div>
            <div class="meta">
              failed
              <button type="button" onClick={() => send(f.body, f)}>
                Retry
              </button>
            </div>
          </article>
        ))}
      </div>
      <div class="typing" aria-live="polite">
        {typers.length > 0 && `${typers.join(", ")} ${typers.length === 1 ? "is" : "are"} typing…`}
      </div>
      {replyTo !== null && (
        <div class="reply">
          Replying to <Quote target={lookup(replyTo)} name={name} />
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
          conn?.typing(false);
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
              conn?.typing(true);
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

/** Reactions with counts, in the picker's order; mine are pressed, and a click takes mine back or adds it. */
function Reactions(props: { message: StateMessage; me: string; onToggle: (emoji: string, on: boolean) => void }) {
  const shown = [...props.message.reactions]
    .filter((r) => reactionCount(r) > 0)
    .sort((a, b) => rank(a.emoji) - rank(b.emoji) || (a.emoji < b.emoji ? -1 : 1));
  if (shown.length === 0) return null;
  return (
    <div class="reactions">
      {shown.map((r) => {
        const mine = r.users.has(props.me);
        const count = reactionCount(r);
        return (
          <button
            key={r.emoji}
            type="button"
            class="chip"
            aria-pressed={mine}
            title={mine ? "Take back your reaction" : "React with this too"}
            disabled={props.message.deletedAt !== null && !mine}
            onClick={() => props.onToggle(r.emoji, !mine)}
          >
            {r.emoji} {count}
          </button>
        );
      })}
    </div>
  );
}

function rank(emoji: string): number {
  const i = PICKER.indexOf(emoji);
  return i < 0 ? PICKER.length : i;
}

/** A reply's quote: who wrote the message it answers, and the start of what they wrote. */
function Quote({ target, name }: { target: StateMessage | undefined; name: (id: string) => string | null }) {
  if (!target) return <blockquote class="quote">…</blockquote>;
  if (target.hidden) return <blockquote class="quote">a message from someone you blocked</blockquote>;
  const text = target.deletedAt ? "message deleted" : excerpt(target.body ?? "");
  return (
    <blockquote class="quote">
      <strong>{name(target.senderId) ?? "Someone"}</strong> {target.deletedAt ? <em>{text}</em> : text}
    </blockquote>
  );
}

function excerpt(body: string, max = 80): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * A system message as a sentence with the names as known now; the server's own text (names as they were
 * when it happened) when a name is unknown here or the event is one this app does not know.
 */
function systemText(m: StateMessage, name: (id: string) => string | null): string {
  const s = m.system;
  const fallback = m.body ?? "";
  if (!s) return fallback;
  const n = (id: string) => name(id);
  switch (s.event) {
    case "joined":
    case "left": {
      const who = n(s.userId);
      return who ? `${who} ${s.event}` : fallback;
    }
    case "removed":
    case "banned": {
      const [by, who] = [n(s.by), n(s.userId)];
      return by && who ? `${by} ${s.event} ${who}` : fallback;
    }
    case "role": {
      const [by, who] = [n(s.by), n(s.userId)];
      return by && who ? `${by} made ${who} ${s.role === "admin" ? "an admin" : `a ${s.role}`}` : fallback;
    }
    case "renamed": {
      const by = n(s.by);
      return by ? `${by} renamed the room to "${s.name}"` : fallback;
    }
    case "topic": {
      const by = n(s.by);
      if (!by) return fallback;
      return s.topic ? `${by} set the topic to "${s.topic}"` : `${by} cleared the topic`;
    }
    default:
      return fallback;
  }
}

/** Messages quoted by replies but older than what the state holds: read once each over REST. */
function useQuoted(roomId: string) {
  const [cache, setCache] = useState<Map<number, StateMessage>>(new Map());
  const asked = useRef(new Set<number>());
  return {
    get: (seq: number) => cache.get(seq),
    want: (seqs: number[]) => {
      for (const seq of seqs) {
        if (asked.current.has(seq)) continue;
        asked.current.add(seq);
        client.messages.history(roomId, { after: seq - 1, limit: 1 }).then(
          (page) => {
            const m = page.messages[0];
            if (m?.seq === seq) {
              const { kind, ...rest } = m;
              const quotedMessage = {
                ...rest,
                kind: kind ?? "regular",
                reactions: [],
                pinned: false,
                replyCount: 0,
                lastReplyAt: null,
                asOf: 0,
              } as StateMessage;
              setCache((c) => new Map(c).set(seq, quotedMessage));
            }
          },
          () => asked.current.delete(seq),
        );
      }
    },
  };
}
