import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import {
  type ConnectionState,
  hasOlder,
  messageList,
  type RoomConnection,
  type StateMessage,
  seenBy,
  type User,
} from "../../src/client";
import type { AttachmentRef } from "../../src/protocol/frames";
import { Composer } from "./composer";
import { Confirm, errorText } from "./dialog";
import { Avatar, dayLabel, durationText, sameDay } from "./format";
import { MessageItem, Quote } from "./message";
import { BlockDialog, blockedPeople, messageExcerpt, ProfileDialog, ReportDialog } from "./moderation";
import { RoomReports } from "./reports";
import { RoomInfo } from "./room-info";
import { type RoomSummary, roomTitle } from "./room-list";
import { navigate, onLinkClick, paths } from "./router";
import { client, knownNames, rememberNames } from "./session";
import { useNow, useOnline } from "./use-now";

const PAGE = 30;
const TYPING_SHOWN_MS = 4000;
/** Messages by one sender closer than this (and on one day) are one group: one avatar, one name. */
const GROUP_MS = 5 * 60_000;

interface Failed {
  clientMsgId: string;
  body: string;
  replyTo?: number;
  code: string;
  message: string;
}

export type RoomDetail = Awaited<ReturnType<typeof client.rooms.get>> & {
  peer?: { id: string; displayName: string } | null;
};
export type Person = Awaited<ReturnType<typeof client.rooms.members>>[number];

type Modal =
  | { kind: "delete"; seq: number }
  | { kind: "report"; seq: number }
  | { kind: "reportUser"; userId: string }
  | { kind: "profile"; userId: string }
  | { kind: "block"; userId: string }
  | null;

interface Props {
  me: User;
  roomId: string;
  focusSeq: number | null;
  panel: "info" | "reports" | null;
  /** What the room list knows of this room, shown until the room's own answer arrives. */
  summary: RoomSummary | undefined;
  onRoomsChanged: () => void;
}

/**
 * One room, rendered from the SDK's kept state (`conn.roomState`): grouped messages with day separators,
 * an unread divider, reply quotes that jump, reactions, receipts, files; the composer; the room's info and
 * moderation panels. Sends wait in the SDK's outbox (IndexedDB) until the room has them.
 */
export function ChatView({ me, roomId, focusSeq, panel, summary, onRoomsChanged }: Props) {
  const [conn, setConn] = useState<RoomConnection | null>(null);
  const [, setTick] = useState(0);
  const [names, setNames] = useState<Map<string, string>>(() => knownNames());
  const [people, setPeople] = useState<Person[] | null>(null);
  const [detail, setDetail] = useState<RoomDetail | null>(null);
  const [online, setOnlineUsers] = useState<Set<string>>(new Set());
  const [typing, setTyping] = useState<Map<string, number>>(new Map());
  const [connState, setConnState] = useState<ConnectionState>("connecting");
  const [failed, setFailed] = useState<Failed[]>([]);
  const [replyTo, setReplyTo] = useState<number | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [modal, setModal] = useState<Modal>(null);
  const [muted, setMuted] = useState(false);
  const [gone, setGone] = useState<string | null>(null);
  const [slowUntil, setSlowUntil] = useState(0);
  const [atBottom, setAtBottom] = useState(true);
  const [highlight, setHighlight] = useState<number | null>(null);
  const [dropped, setDropped] = useState<File[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // People I block: the room hides what they send from now on; what is already on screen is hidden here.
  const [blocked, setBlocked] = useState<ReadonlySet<string>>(new Set());
  const refreshBlocked = (fresh = false) => blockedPeople(fresh).then(setBlocked);
  const browserOnline = useOnline();
  const now = useNow(slowUntil > Date.now() ? 1000 : 30_000);
  const quoted = useQuoted(roomId);
  const log = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const keepOffset = useRef<number | null>(null);
  const loadingOlder = useRef(false);
  const lastTyping = useRef(0);
  const divider = useRef<number | null>(null);
  const firstScroll = useRef(false);
  const focused = useRef<number | null>(null);
  const seenWhileAway = useRef(0);

  const refreshPeople = () =>
    client.rooms.members(roomId).then(
      (list) => {
        setPeople(list);
        setNames(rememberNames(list));
      },
      () => undefined,
    );
  const refreshDetail = () =>
    client.rooms.get(roomId).then(
      (r) => setDetail(r as RoomDetail),
      () => undefined,
    );

  useEffect(() => {
    let closed = false;
    const c = client.room(roomId, { pageSize: PAGE });
    setConn(c);
    const off = [
      c.subscribe(() => setTick((t) => t + 1)),
      c.on("state", setConnState),
      c.on("welcome", (w) => setOnlineUsers(new Set(w.online))),
      c.on("member", (m) => {
        refreshPeople();
        if (m.userId === me.id) {
          if (m.change === "muted") setMuted(true);
          if (m.change === "unmuted") setMuted(false);
          if (m.change === "banned") setGone("You were banned from this room.");
          if (m.change === "removed") setGone("You were removed from this room.");
          if (m.change === "role") refreshDetail();
        }
      }),
      c.on("room", refreshDetail),
      c.on("message", (m) =>
        setTyping((t) => {
          const next = new Map(t);
          next.delete(m.senderId);
          return next;
        }),
      ),
      c.on("presence", (p) =>
        setOnlineUsers((prev) => {
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
      c.on("throttled", (t) => {
        if ((t as { reason?: string }).reason === "slow_mode") setSlowUntil(Date.now() + t.retryAfterMs);
      }),
      // A send the room refused (restored ones from before a reload included): offer to retry it.
      c.on("failed", (f) => {
        if (closed) return;
        if (f.code === "muted") setMuted(true);
        setFailed((list) => [...list, { ...f.send, code: f.code, message: f.message }]);
      }),
      c.on("error", (e) => {
        if (e.code === "closed" && /4003|removed|banned|not a member/i.test(e.message))
          setGone((g) => g ?? "You are no longer a member of this room.");
      }),
    ];
    c.connect();
    refreshBlocked();
    refreshPeople();
    refreshDetail();
    const sweep = setInterval(() => {
      setTyping((t) => (t.size ? new Map([...t].filter(([, until]) => until > Date.now())) : t));
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
  const name = (id: string) => (id === me.id ? me.displayName : (names.get(id) ?? null));
  const lastSeq = list.at(-1)?.seq ?? 0;
  const live = connState === "open" && browserOnline;
  const role = state?.members?.get(me.id) ?? detail?.role ?? summary?.role ?? "member";
  const moderator = role === "owner" || role === "admin";
  const kind = detail?.kind ?? summary?.kind ?? null;
  const peer =
    detail?.peer ?? summary?.peer ?? (kind === "direct" ? (people?.find((x) => x.userId !== me.id) ?? null) : null);
  const peerId = peer ? ("id" in peer ? peer.id : peer.userId) : null;
  const settingsName = state?.settings?.name ?? detail?.name ?? summary?.name ?? null;
  const title =
    kind === "direct" ? (peer ? peer.displayName : "Direct chat") : roomTitle({ kind: "group", name: settingsName });
  const slowMode = Number(state?.settings?.slowModeSeconds ?? detail?.slowModeSeconds ?? 0);

  useEffect(() => {
    document.title = `${kind === "group" ? "# " : ""}${title} · edgechat`;
  }, [title, kind]);

  // Where I had read to when I opened the room, if others had written since: the "New messages" divider
  // stays there while I read on (and messages that arrive while I watch need none).
  const myMark = state?.readMarks?.get(me.id) ?? null;
  if (divider.current === null && myMark !== null)
    divider.current = list.some((m) => m.seq > myMark && m.senderId !== me.id && m.kind === "regular")
      ? myMark
      : Number.POSITIVE_INFINITY;

  // Tell the room how far I have read, once the newest messages are on screen.
  useEffect(() => {
    if (conn && live && atBottom && lastSeq > (myMark ?? 0)) conn.read(lastSeq);
  }, [lastSeq, myMark, live, atBottom]);

  // Reply quotes of messages older than what is loaded are read once, on their own.
  useEffect(() => {
    if (state)
      quoted.want(list.flatMap((m) => (m.replyTo !== null && !state.messages.has(m.replyTo) ? [m.replyTo] : [])));
  }, [state?.messages]);

  const mine = new Set(list.filter((m) => m.senderId === me.id).map((m) => m.clientMsgId));
  const pending = (conn?.pendingSends ?? []).filter((p) => !mine.has(p.clientMsgId));

  useLayoutEffect(() => {
    const el = log.current;
    if (!el || !state) return;
    if (keepOffset.current !== null) {
      el.scrollTop = el.scrollHeight - keepOffset.current;
      keepOffset.current = null;
    } else if (!firstScroll.current && list.length > 0 && focusSeq === null) {
      // First paint: at the unread divider if there is one, else at the newest message.
      firstScroll.current = true;
      const mark = el.querySelector<HTMLElement>(".unread-divider");
      if (mark) {
        mark.scrollIntoView({ block: "center" });
        stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        setAtBottom(stickToBottom.current);
      } else el.scrollTop = el.scrollHeight;
    } else if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [list.length, pending.length, failed.length, state !== null]);

  // A link to a message: load back to it, show it in the middle, and mark it for a moment.
  useEffect(() => {
    if (!state || focusSeq === null || focused.current === focusSeq) return;
    const el = log.current?.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
    if (el) {
      focused.current = focusSeq;
      firstScroll.current = true;
      stickToBottom.current = false;
      setAtBottom(false);
      el.scrollIntoView({ block: "center" });
      el.focus({ preventScroll: true });
      setHighlight(focusSeq);
      setTimeout(() => setHighlight((h) => (h === focusSeq ? null : h)), 2500);
    } else if (hasOlder(state) && (state.oldestSeq ?? 0) > focusSeq) {
      loadOlder();
    } else if (list.length > 0) {
      focused.current = focusSeq;
      setNotice("That message is not in this room any more.");
    }
  }, [focusSeq, state]);
  if (focusSeq === null && focused.current !== null) focused.current = null;

  async function loadOlder() {
    if (!conn || !state || !hasOlder(state) || loadingOlder.current) return;
    loadingOlder.current = true;
    if (log.current) keepOffset.current = log.current.scrollHeight - log.current.scrollTop;
    await conn.loadOlder().catch(() => undefined);
    loadingOlder.current = false;
  }

  function send(body: string, attachments: AttachmentRef[], again?: Failed) {
    if (!conn) return;
    const to = again ? again.replyTo : (replyTo ?? undefined);
    stickToBottom.current = true;
    setAtBottom(true);
    setFailed((list) => list.filter((f) => f.clientMsgId !== again?.clientMsgId));
    // A refusal comes as a `failed` event; a closed connection keeps the send stored for next time.
    conn
      .send(body, {
        ...(again ? { clientMsgId: again.clientMsgId } : {}),
        ...(to !== undefined ? { replyTo: to } : {}),
        ...(attachments.length ? { attachments: attachments.map((a) => a.id) } : {}),
      })
      .catch(() => undefined);
    conn.typing(false);
    lastTyping.current = 0;
    setReplyTo(null);
    if (focusSeq !== null) navigate(paths.room(roomId), { replace: true });
  }

  const lookup = (seq: number): StateMessage | undefined => {
    const m = state?.messages.get(seq) ?? quoted.get(seq);
    return m && m.kind === "regular" && blocked.has(m.senderId) ? { ...m, hidden: true } : m;
  };
  const typers = live ? [...typing.keys()].filter((u) => u !== me.id).map((u) => name(u) ?? "Someone") : [];
  const lastMine = [...list].reverse().find((m) => m.senderId === me.id && !m.deletedAt && m.kind === "regular");
  const seen = lastMine && state ? seenBy(state, lastMine.seq).filter((u) => u !== me.id) : [];
  const othersOnline = [...online].filter((u) => u !== me.id);
  const memberCount = state?.members?.size ?? detail?.memberCount ?? null;

  const subtitle = !live
    ? null
    : kind === "direct"
      ? peerId && online.has(peerId)
        ? "Online"
        : "Offline"
      : `${memberCount ?? "…"} members${othersOnline.length ? `, ${othersOnline.length} online` : ""}`;
  const blockedReason = gone ?? (muted ? "You are muted in this room: you can read but not send." : null);
  const slowLeft = Math.ceil((slowUntil - now) / 1000);
  const hint =
    slowLeft > 0
      ? `Slow mode: your next message can go in ${slowLeft} s.`
      : slowMode > 0 && !moderator
        ? `Slow mode is on: one message every ${durationText(slowMode)}.`
        : slowMode > 0
          ? `Slow mode is on (${durationText(slowMode)}); moderators are exempt.`
          : null;

  const startEdit = (seq: number) => {
    setEditing(seq);
    setReplyTo(null);
  };
  const personName = (id: string) => name(id) ?? "Someone";
  const automated = new Set(people?.filter((x) => x.kind !== "user").map((x) => x.userId));
  const rows = renderRows();

  function renderRows() {
    const out = [];
    let prev: StateMessage | undefined;
    let lastAt: string | undefined;
    let dividerShown = false;
    for (const m of list) {
      const day = !lastAt || !sameDay(new Date(lastAt), new Date(m.createdAt));
      lastAt = m.createdAt;
      if (day)
        out.push(
          <h2 key={`day-${m.seq}`} class="day">
            <span>{dayLabel(m.createdAt, now)}</span>
          </h2>,
        );
      if (
        !dividerShown &&
        divider.current !== null &&
        m.seq > divider.current &&
        m.senderId !== me.id &&
        m.kind === "regular" &&
        !m.hidden
      ) {
        dividerShown = true;
        out.push(
          <div key="unread" class="unread-divider">
            <span>New messages</span>
          </div>,
        );
      }
      if (m.hidden || (blocked.has(m.senderId) && m.kind === "regular")) {
        out.push(
          <p key={m.seq} class="notice hidden" data-seq={m.seq}>
            A message from someone you blocked
          </p>,
        );
        prev = undefined;
      } else if (m.kind === "system") {
        out.push(
          <p key={m.seq} class="notice" data-seq={m.seq}>
            {systemText(m, name)}
          </p>,
        );
        prev = undefined;
      } else {
        const head =
          day ||
          !prev ||
          prev.senderId !== m.senderId ||
          new Date(m.createdAt).getTime() - new Date(prev.createdAt).getTime() > GROUP_MS ||
          (dividerShown && out.at(-1)?.key === "unread");
        out.push(
          <MessageItem
            key={m.seq}
            m={m}
            roomId={roomId}
            me={me.id}
            head={head}
            senderName={personName(m.senderId)}
            senderIsBot={automated.has(m.senderId)}
            editing={editing === m.seq}
            canDeleteAny={moderator}
            highlighted={highlight === m.seq}
            quote={m.replyTo !== null ? { target: lookup(m.replyTo), name } : null}
            seen={lastMine?.seq === m.seq ? seen.map(personName) : null}
            now={now}
            actions={{
              reply: () => {
                setEditing(null);
                setReplyTo(m.seq);
              },
              react: (emoji, on) => conn?.react(m.seq, emoji, on),
              edit: () => startEdit(m.seq),
              saveEdit: (body) => {
                conn?.edit(m.seq, body);
                setEditing(null);
              },
              cancelEdit: () => setEditing(null),
              remove: () => setModal({ kind: "delete", seq: m.seq }),
              report: () => setModal({ kind: "report", seq: m.seq }),
              block: () => setModal({ kind: "block", userId: m.senderId }),
              pin: (on) =>
                (on ? client.messages.pin(roomId, m.seq) : client.messages.unpin(roomId, m.seq)).catch((err) =>
                  setNotice(errorText(err)),
                ),
              profile: () => setModal({ kind: "profile", userId: m.senderId }),
              copyLink: () => {
                const url = `${location.origin}${paths.message(roomId, m.seq)}`;
                navigator.clipboard?.writeText(url).then(
                  () => setNotice("Link copied."),
                  () => setNotice(url),
                );
              },
            }}
          />,
        );
        prev = m;
      }
    }
    return out;
  }

  const newBelow = atBottom ? 0 : list.filter((m) => m.seq > seenWhileAway.current && m.senderId !== me.id).length;
  if (atBottom) seenWhileAway.current = lastSeq;

  return (
    <main
      class={`chat${panel ? " with-panel" : ""}`}
      aria-label={title}
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes("Files")) e.preventDefault();
      }}
      onDrop={(e) => {
        if (!e.dataTransfer?.files.length) return;
        e.preventDefault();
        setDropped([...e.dataTransfer.files]);
      }}
    >
      <header class="chat-head">
        <a class="back" href={paths.home()} onClick={(e) => onLinkClick(e, paths.home())}>
          <span aria-hidden="true">←</span>
          <span class="sr-only">All rooms</span>
        </a>
        <Avatar id={peerId ?? roomId} name={kind === "direct" ? title : `# ${title}`} />
        <div class="chat-title">
          <h1>{kind === "direct" ? title : kind ? `# ${title}` : ""}</h1>
          <div class="chat-sub">
            {subtitle && <span>{subtitle}</span>}
            {state?.settings?.topic && <span class="topic">{state.settings.topic}</span>}
            {slowMode > 0 && <span class="slow">Slow mode {durationText(slowMode)}</span>}
          </div>
        </div>
        <ConnectionPill state={connState} online={browserOnline} gone={gone !== null} />
        <a
          class="button icon"
          href={panel === "info" ? paths.room(roomId) : paths.info(roomId)}
          onClick={(e) => onLinkClick(e, panel === "info" ? paths.room(roomId) : paths.info(roomId))}
          aria-current={panel === "info" ? "page" : undefined}
        >
          <InfoIcon />
          <span class="sr-only">Room info</span>
        </a>
      </header>
      <div class="chat-body">
        <div class="chat-main">
          <div
            class="log"
            ref={log}
            role="log"
            aria-live="polite"
            aria-label={`Messages in ${title}`}
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll by keyboard
            tabIndex={0}
            onScroll={(e) => {
              const el = e.currentTarget as HTMLDivElement;
              const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
              stickToBottom.current = bottom;
              if (bottom !== atBottom) setAtBottom(bottom);
              if (el.scrollTop < 80) loadOlder();
            }}
          >
            {state && hasOlder(state) ? (
              <button type="button" class="older" onClick={loadOlder}>
                Load older messages
              </button>
            ) : state && list.length > 0 ? (
              <p class="room-start">
                This is the start of {kind === "direct" ? `your chat with ${title}` : `# ${title}`}.
              </p>
            ) : null}
            {!state && <p class="room-start">Loading messages…</p>}
            {state && list.length === 0 && pending.length === 0 && (
              <p class="room-start">No messages yet. Say hello!</p>
            )}
            {rows}
            {pending.map((p) => (
              <article key={p.clientMsgId} class="msg mine head sending" aria-label="Your message, sending">
                <div class="gutter" />
                <div class="msg-main">
                  <div class="bubble">
                    {p.replyTo !== undefined && (
                      <Quote roomId={roomId} seq={p.replyTo} target={lookup(p.replyTo)} name={name} />
                    )}
                    <div class="body">{p.body}</div>
                    <div class="msg-foot">
                      {live
                        ? slowLeft > 0
                          ? "Waiting for slow mode…"
                          : "Sending…"
                        : "Not sent yet: it will go when you're back online"}
                    </div>
                  </div>
                </div>
              </article>
            ))}
            {failed.map((f) => (
              <article key={f.clientMsgId} class="msg mine head failed" aria-label="Your message, failed">
                <div class="gutter" />
                <div class="msg-main">
                  <div class="bubble">
                    <div class="body">{f.body}</div>
                    <div class="msg-foot">
                      <span class="error">Not sent: {errorText({ code: f.code, message: f.message })}</span>
                      <button type="button" onClick={() => send(f.body, [], f)}>
                        Retry
                      </button>
                      <button
                        type="button"
                        onClick={() => setFailed((l) => l.filter((x) => x.clientMsgId !== f.clientMsgId))}
                      >
                        Discard
                      </button>
                    </div>
                  </div>
                </div>
              </article>
            ))}
          </div>
          {!atBottom && (
            <button
              type="button"
              class="jump"
              onClick={() => {
                stickToBottom.current = true;
                setAtBottom(true);
                const el = log.current;
                if (el) el.scrollTop = el.scrollHeight;
                if (focusSeq !== null) navigate(paths.room(roomId), { replace: true });
              }}
            >
              {newBelow > 0 ? `${newBelow} new · Jump to latest ↓` : "Jump to latest ↓"}
            </button>
          )}
          <div class="typing" aria-live="polite">
            {typers.length > 0 && `${typers.join(", ")} ${typers.length === 1 ? "is" : "are"} typing…`}
          </div>
          {notice && (
            <p class="toast" role="status">
              {notice}{" "}
              <button type="button" class="link" onClick={() => setNotice(null)}>
                Dismiss
              </button>
            </p>
          )}
          <Composer
            key={roomId}
            roomId={roomId}
            blocked={blockedReason}
            hint={hint}
            dropped={dropped}
            replying={
              replyTo !== null ? (
                <>
                  <span class="replying-label">Replying to</span>
                  <Quote roomId={roomId} seq={replyTo} target={lookup(replyTo)} name={name} />
                  <button type="button" class="icon" aria-label="Cancel reply" onClick={() => setReplyTo(null)}>
                    ✕
                  </button>
                </>
              ) : null
            }
            onSend={(body, files) => send(body, files)}
            onTyping={() => {
              // At most one typing frame every 2 s; the room expires it by itself.
              if (Date.now() - lastTyping.current > 2000) {
                lastTyping.current = Date.now();
                conn?.typing(true);
              }
            }}
            onEditLast={() => lastMine && startEdit(lastMine.seq)}
          />
        </div>
        {panel === "info" && (
          <RoomInfo
            me={me}
            roomId={roomId}
            kind={kind}
            role={role}
            detail={detail}
            settings={state?.settings ?? null}
            people={people}
            online={live ? online : null}
            onPeopleChanged={refreshPeople}
            onOpenProfile={(userId) => setModal({ kind: "profile", userId })}
            onLeft={() => {
              onRoomsChanged();
              navigate(paths.home());
            }}
          />
        )}
        {panel === "reports" && <RoomReports roomId={roomId} names={name} moderator={moderator} />}
      </div>
      {modal?.kind === "delete" && (
        <Confirm
          title="Delete message?"
          text={
            <p>
              "{messageExcerpt(lookup(modal.seq)?.body ?? null)}" will be deleted for everyone. This can't be undone.
            </p>
          }
          action="Delete"
          danger
          onConfirm={() => conn?.delete(modal.seq)}
          onClose={() => setModal(null)}
        />
      )}
      {modal?.kind === "report" && (
        <ReportDialog
          roomId={roomId}
          target={{
            seq: modal.seq,
            author: personName(lookup(modal.seq)?.senderId ?? ""),
            excerpt: messageExcerpt(lookup(modal.seq)?.body ?? null),
          }}
          onClose={() => setModal(null)}
        />
      )}
      {modal?.kind === "reportUser" && (
        <ReportDialog
          roomId={roomId}
          target={{ userId: modal.userId, name: personName(modal.userId) }}
          onClose={() => setModal(null)}
        />
      )}
      {modal?.kind === "block" && (
        <BlockDialog
          userId={modal.userId}
          name={personName(modal.userId)}
          blocked={false}
          onDone={() => {
            refreshBlocked(true);
            setNotice(`You blocked ${personName(modal.userId)}.`);
          }}
          onClose={() => setModal(null)}
        />
      )}
      {modal?.kind === "profile" && (
        <ProfileDialog
          me={me.id}
          roomId={roomId}
          userId={modal.userId}
          name={personName(modal.userId)}
          role={state?.members?.get(modal.userId) ?? null}
          onClose={() => setModal(null)}
          onReport={() => setModal({ kind: "reportUser", userId: modal.userId })}
          onBlockChanged={() => refreshBlocked(true)}
        />
      )}
    </main>
  );
}

function InfoIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 20 20" aria-hidden="true" focusable="false">
      <circle cx="10" cy="10" r="8.2" fill="none" stroke="currentColor" stroke-width="1.6" />
      <circle cx="10" cy="6.2" r="1.1" fill="currentColor" />
      <rect x="9.1" y="8.5" width="1.8" height="6" rx="0.9" fill="currentColor" />
    </svg>
  );
}

/** The connection as it is: never "connected" while the browser is offline, never a bare protocol word. */
function ConnectionPill({ state, online, gone }: { state: ConnectionState; online: boolean; gone: boolean }) {
  let text: string;
  let tone: string;
  if (gone) [text, tone] = ["Not a member", "closed"];
  else if (!online) [text, tone] = ["Offline — messages will send when you're back", "offline"];
  else if (state === "open") [text, tone] = ["Connected", "open"];
  else if (state === "connecting") [text, tone] = ["Connecting…", "connecting"];
  else if (state === "reconnecting") [text, tone] = ["Reconnecting…", "connecting"];
  else [text, tone] = ["Disconnected", "closed"];
  return (
    <span class={`state ${tone}`} role="status" aria-label="Connection">
      <span class="state-dot" aria-hidden="true" />
      <span class="state-text">{text}</span>
    </span>
  );
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
