import { useEffect, useState } from "preact/hooks";
import type { NotificationView, RoomListItem, User } from "../../src/client";
import { client } from "./session";

interface Props {
  me: User;
  current: string | null;
  onOpen: (roomId: string) => void;
  onSignedOut: () => void;
}

/** Rooms with unread badges and last message, new group or direct chats, and notifications. */
export function Sidebar({ me, current, onOpen, onSignedOut }: Props) {
  const [rooms, setRooms] = useState<RoomListItem[]>([]);
  const [panel, setPanel] = useState<"none" | "group" | "direct" | "notifications">("none");
  const [notes, setNotes] = useState<{ list: NotificationView[]; unread: number }>({ list: [], unread: 0 });

  const reload = () => {
    client.rooms.list({ limit: 50 }).then(
      (r) => setRooms(r.rooms),
      () => undefined,
    );
    client.notifications.list({ limit: 20 }).then(
      (r) => setNotes({ list: r.notifications, unread: r.unread }),
      () => undefined,
    );
  };
  useEffect(() => {
    reload();
    // Unread badges and last messages of rooms not open right now.
    const t = setInterval(reload, 5000);
    return () => clearInterval(t);
  }, [current]);

  const opened = (id: string) => {
    setPanel("none");
    reload();
    onOpen(id);
  };

  return (
    <nav class="sidebar" aria-label="Rooms">
      <header>
        <strong style="flex:1">{me.displayName}</strong>
        <button type="button" onClick={() => setPanel(panel === "notifications" ? "none" : "notifications")}>
          Notifications{notes.unread > 0 ? ` (${notes.unread})` : ""}
        </button>
        <button
          type="button"
          onClick={async () => {
            await client.logout().catch(() => undefined);
            onSignedOut();
          }}
        >
          Log out
        </button>
      </header>
      <header>
        <button type="button" onClick={() => setPanel("group")}>
          New group
        </button>
        <button type="button" onClick={() => setPanel("direct")}>
          New direct chat
        </button>
      </header>
      {panel === "group" && <NewGroup onCreated={opened} />}
      {panel === "direct" && <NewDirect onCreated={opened} />}
      {panel === "notifications" && (
        <section class="panel" aria-label="Notifications">
          <button
            type="button"
            onClick={() => client.notifications.markRead({ all: true }).then(reload, () => undefined)}
          >
            Mark all read
          </button>
          <ul>
            {notes.list.map((n) => (
              <li key={n.id} style={n.read ? "color:#777" : "font-weight:600"}>
                <button type="button" onClick={() => onOpen(n.roomId)}>
                  {n.text}
                </button>
              </li>
            ))}
            {notes.list.length === 0 && <li>Nothing new.</li>}
          </ul>
        </section>
      )}
      <ul class="rooms">
        {rooms.map((r) => (
          <li key={r.id}>
            <button type="button" aria-current={r.id === current} onClick={() => onOpen(r.id)}>
              {r.unread > 0 && r.id !== current && (
                <span class="badge">
                  {r.unread}
                  <span class="sr-only"> unread</span>
                </span>
              )}
              <span>{r.kind === "direct" ? "Direct chat" : `# ${r.name}`}</span>
              <div class="last">{r.lastMessage?.body ?? "No messages yet"}</div>
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function NewGroup({ onCreated }: { onCreated: (id: string) => void }) {
  return (
    <form
      class="panel"
      onSubmit={async (e) => {
        e.preventDefault();
        const name = String(new FormData(e.currentTarget as HTMLFormElement).get("name"));
        const room = await client.rooms.create({ name });
        onCreated(room.id);
      }}
    >
      <label for="group-name">Room name</label>
      <input id="group-name" name="name" required maxLength={100} />
      <button class="primary" type="submit">
        Create
      </button>
    </form>
  );
}

/** Also used to add members to a group (`onPick`). */
export function PeoplePicker({ label, onPick }: { label: string; onPick: (userId: string) => void }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<{ id: string; displayName: string }[]>([]);
  useEffect(() => {
    if (!q.trim()) return setFound([]);
    const t = setTimeout(() => client.users.search(q).then(setFound, () => setFound([])), 200);
    return () => clearTimeout(t);
  }, [q]);
  const id = `people-${label.replace(/\W+/g, "-")}`;
  return (
    <div class="panel">
      <label for={id}>{label}</label>
      <input id={id} value={q} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
      <ul>
        {found.map((u) => (
          <li key={u.id}>
            <button type="button" onClick={() => onPick(u.id)}>
              {u.displayName}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function NewDirect({ onCreated }: { onCreated: (id: string) => void }) {
  return (
    <PeoplePicker
      label="Find a person"
      onPick={async (userId) => {
        const room = await client.rooms.direct(userId);
        onCreated(room.id);
      }}
    />
  );
}
