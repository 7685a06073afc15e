import { useEffect, useState } from "preact/hooks";
import type { InboxConnection, NotificationView, User } from "../../src/client";
import { Dialog, errorText } from "./dialog";
import { Avatar, excerpt, shortTime } from "./format";
import { type RoomListSource, roomTitle, useRoomList } from "./room-list";
import { navigate, onLinkClick, paths } from "./router";
import { client } from "./session";
import { useNow } from "./use-now";

interface Props {
  me: User;
  current: string | null;
  source: RoomListSource;
  /** The device's inbox socket: room list and notification count, live. */
  inbox: InboxConnection;
  isAdmin: boolean;
}

/** My rooms (newest activity first, unread badges, last message), new chats, notifications, my account. */
export function Sidebar({ me, current, source, inbox, isAdmin }: Props) {
  const { rooms, loading, stale } = useRoomList(source);
  const [dialog, setDialog] = useState<"none" | "group" | "direct" | "notifications">("none");
  const [filter, setFilter] = useState("");
  const unreadNotes = useUnreadNotifications(inbox);
  const now = useNow();

  const opened = (id: string) => {
    setDialog("none");
    source.refresh();
    navigate(paths.room(id));
  };
  const shown = rooms.filter((r) => roomTitle(r).toLowerCase().includes(filter.trim().toLowerCase()));

  return (
    <nav class="sidebar" aria-label="Rooms">
      <header class="side-head">
        <a class="me" href={paths.settings()} onClick={(e) => onLinkClick(e, paths.settings())}>
          <Avatar id={me.id} name={me.displayName} />
          <span class="me-name">{me.displayName}</span>
          <span class="sr-only">, settings</span>
        </a>
        <button
          type="button"
          class="icon"
          aria-label={`Notifications${unreadNotes > 0 ? `, ${unreadNotes} unread` : ""}`}
          onClick={() => setDialog("notifications")}
        >
          <span aria-hidden="true">🔔</span>
          {unreadNotes > 0 && (
            <span class="badge dot" aria-hidden="true">
              {unreadNotes}
            </span>
          )}
        </button>
      </header>
      <div class="side-actions">
        <button type="button" class="primary" onClick={() => setDialog("group")}>
          New group
        </button>
        <button type="button" onClick={() => setDialog("direct")}>
          New direct chat
        </button>
      </div>
      <div class="side-search">
        <label for="room-filter" class="sr-only">
          Find a room
        </label>
        <input
          id="room-filter"
          type="search"
          placeholder="Find a room"
          value={filter}
          onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      {stale && (
        <p class="side-note" role="status">
          Can't reach the server; showing the rooms last known.
        </p>
      )}
      <ul class="rooms">
        {shown.map((r) => {
          const title = roomTitle(r);
          const unread = r.unread > 0 && r.id !== current ? r.unread : 0;
          const last = r.lastMessage;
          return (
            <li key={r.id}>
              <a
                href={paths.room(r.id)}
                class={`room-link${unread ? " unread" : ""}`}
                aria-current={r.id === current ? "page" : undefined}
                onClick={(e) => onLinkClick(e, paths.room(r.id))}
              >
                <Avatar id={r.peer?.id ?? r.id} name={r.kind === "direct" ? title : `# ${title}`} />
                <span class="room-text">
                  <span class="room-line">
                    <span class="room-name">{r.kind === "direct" ? title : `# ${title}`}</span>
                    {last?.at && <span class="room-time">{shortTime(last.at, now)}</span>}
                  </span>
                  <span class="room-line">
                    <span class="last">
                      {last
                        ? last.body === null
                          ? "Message deleted"
                          : `${last.senderId === me.id ? "You: " : ""}${excerpt(last.body, 60)}`
                        : "No messages yet"}
                    </span>
                    {unread > 0 && (
                      <span class="badge">
                        {unread}
                        <span class="sr-only"> unread</span>
                      </span>
                    )}
                  </span>
                </span>
              </a>
            </li>
          );
        })}
        {!loading && rooms.length === 0 && <li class="empty">No rooms yet. Start a group or a direct chat.</li>}
        {rooms.length > 0 && shown.length === 0 && <li class="empty">No room matches "{filter}".</li>}
      </ul>
      {isAdmin && (
        <a class="side-foot" href={paths.reports()} onClick={(e) => onLinkClick(e, paths.reports())}>
          Reports (all rooms)
        </a>
      )}
      {dialog === "group" && (
        <Dialog title="New group" onClose={() => setDialog("none")}>
          <NewGroup onCreated={opened} />
        </Dialog>
      )}
      {dialog === "direct" && (
        <Dialog title="New direct chat" onClose={() => setDialog("none")}>
          <NewDirect me={me.id} onCreated={opened} />
        </Dialog>
      )}
      {dialog === "notifications" && (
        <Notifications
          onClose={() => setDialog("none")}
          onOpen={(roomId, seq) => {
            setDialog("none");
            navigate(seq ? paths.message(roomId, seq) : paths.room(roomId));
          }}
        />
      )}
    </nav>
  );
}

/** The unread notification count as the inbox keeps it: created, and cleared on every device, live. */
function useUnreadNotifications(inbox: InboxConnection): number {
  const [unread, setUnread] = useState(0);
  useEffect(() => inbox.subscribe((state) => state && setUnread(state.notifications.unread)), [inbox]);
  return unread;
}

function NewGroup({ onCreated }: { onCreated: (id: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="dialog-body form"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget as HTMLFormElement);
        const topic = String(form.get("topic") ?? "").trim();
        try {
          const room = await client.rooms.create({
            name: String(form.get("name")).trim(),
            ...(topic ? { topic } : {}),
            isPublic: form.get("isPublic") === "on",
          });
          onCreated(room.id);
        } catch (err) {
          setError(errorText(err));
        }
      }}
    >
      <label for="group-name">Room name</label>
      <input id="group-name" name="name" required maxLength={100} autoComplete="off" />
      <label for="group-topic">Topic (optional)</label>
      <input id="group-topic" name="topic" maxLength={300} autoComplete="off" />
      <label class="check">
        <input type="checkbox" name="isPublic" /> Anyone can find and join it
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <footer class="dialog-actions">
        <button class="primary" type="submit">
          Create
        </button>
      </footer>
    </form>
  );
}

/** Find people by name or exact email; also used to add members to a group (`onPick`). */
export function PeoplePicker(props: {
  label: string;
  exclude?: ReadonlySet<string>;
  action?: string;
  onPick: (userId: string, name: string) => Promise<void> | void;
}) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<{ id: string; displayName: string; kind: string }[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!q.trim()) return setFound(null);
    const t = setTimeout(
      () =>
        client.users.search(q.trim()).then(
          (users) => setFound(users.filter((u) => !props.exclude?.has(u.id))),
          () => setFound([]),
        ),
      200,
    );
    return () => clearTimeout(t);
  }, [q]);
  const id = `people-${props.label.replace(/\W+/g, "-")}`;
  return (
    <div class="dialog-body people">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        type="search"
        value={q}
        placeholder="Name or email"
        autoComplete="off"
        onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)}
      />
      <ul class="people-list" aria-label="People found">
        {(found ?? []).map((u) => (
          <li key={u.id}>
            <Avatar id={u.id} name={u.displayName} size="sm" />
            <span class="grow">
              {u.displayName} {u.kind !== "user" && <span class="tag">bot</span>}
            </span>
            <button
              type="button"
              aria-label={`${props.action ?? "Choose"} ${u.displayName}`}
              onClick={async () => {
                try {
                  await props.onPick(u.id, u.displayName);
                } catch (err) {
                  setError(errorText(err));
                }
              }}
            >
              {props.action ?? "Choose"}
            </button>
          </li>
        ))}
        {found?.length === 0 && <li class="empty">Nobody found.</li>}
      </ul>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function NewDirect({ me, onCreated }: { me: string; onCreated: (id: string) => void }) {
  return (
    <PeoplePicker
      label="Find a person"
      action="Message"
      exclude={new Set([me])}
      onPick={async (userId) => {
        const room = await client.rooms.direct(userId);
        onCreated(room.id);
      }}
    />
  );
}

function Notifications(props: { onClose: () => void; onOpen: (roomId: string, seq: number | null) => void }) {
  const [notes, setNotes] = useState<{ list: NotificationView[]; unread: number } | null>(null);
  const now = useNow();
  const load = () =>
    client.notifications.list({ limit: 30 }).then(
      (r) => setNotes({ list: r.notifications, unread: r.unread }),
      () => setNotes({ list: [], unread: 0 }),
    );
  useEffect(() => {
    load();
  }, []);
  return (
    <Dialog title="Notifications" onClose={props.onClose}>
      <div class="dialog-body">
        {notes && notes.unread > 0 && (
          <button
            type="button"
            onClick={() => client.notifications.markRead({ all: true }).then(load, () => undefined)}
          >
            Mark all read
          </button>
        )}
        <ul class="notes">
          {notes?.list.map((n) => (
            <li key={n.id} class={n.read ? "read" : "unread"}>
              <button
                type="button"
                class="note"
                onClick={() => {
                  if (!n.read) client.notifications.markRead({ ids: [n.id] }).catch(() => undefined);
                  props.onOpen(n.roomId, n.firstSeq ?? null);
                }}
              >
                <span>{n.text}</span>
                <span class="note-time">
                  {shortTime(n.createdAt, now)}
                  {!n.read && <span class="sr-only"> (unread)</span>}
                </span>
              </button>
            </li>
          ))}
          {notes?.list.length === 0 && <li class="empty">Nothing new.</li>}
          {!notes && <li class="empty">Loading…</li>}
        </ul>
      </div>
    </Dialog>
  );
}
