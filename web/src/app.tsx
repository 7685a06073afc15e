import { useEffect, useState } from "preact/hooks";
import { EdgechatError, type User } from "../../src/client";
import { Auth } from "./auth";
import { ChatView } from "./chat-view";
import { client, savedUser, saveUser } from "./session";
import { Sidebar } from "./sidebar";

/** The open room lives in the address (#/room/<id>), so a reload opens it again. */
function roomFromHash(): string | null {
  return /^#\/room\/([0-9a-f-]{36})$/.exec(location.hash)?.[1] ?? null;
}

export function App() {
  // Who was signed in last: a reload while offline still opens the app (and the room, and its outbox).
  const [me, setMeState] = useState<User | null>(() => (client.session ? savedUser() : null));
  const [checked, setChecked] = useState(me !== null);
  const [roomId, setRoomId] = useState<string | null>(roomFromHash);
  const setMe = (user: User | null) => {
    saveUser(user);
    setMeState(user);
  };
  const open = (id: string | null) => {
    history.replaceState(null, "", id ? `#/room/${id}` : location.pathname);
    setRoomId(id);
  };

  useEffect(() => {
    if (!client.session) return setChecked(true);
    client.me
      .get()
      .then((r) => setMe(r.user))
      .catch((err: unknown) => {
        // Signed out (or the account is gone); a network failure keeps whoever was signed in.
        if (err instanceof EdgechatError && err.status === 401) setMe(null);
      })
      .finally(() => setChecked(true));
  }, []);

  if (!checked) return <p aria-live="polite">Loading…</p>;
  if (!me) return <Auth onSignedIn={setMe} />;
  return (
    <div class="shell">
      <Sidebar
        me={me}
        current={roomId}
        onOpen={open}
        onSignedOut={() => {
          open(null);
          setMe(null);
        }}
      />
      {roomId ? (
        <ChatView key={roomId} me={me} roomId={roomId} />
      ) : (
        <main class="chat">
          <p style="padding:2rem">Pick a room, or start one.</p>
        </main>
      )}
    </div>
  );
}
