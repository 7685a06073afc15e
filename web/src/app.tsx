import { useEffect, useState } from "preact/hooks";
import type { User } from "../../src/client";
import { Auth } from "./auth";
import { ChatView } from "./chat-view";
import { client } from "./session";
import { Sidebar } from "./sidebar";

export function App() {
  const [me, setMe] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);
  const [roomId, setRoomId] = useState<string | null>(null);

  useEffect(() => {
    if (!client.session) return setChecked(true);
    client.me
      .get()
      .then((r) => setMe(r.user))
      .catch(() => undefined)
      .finally(() => setChecked(true));
  }, []);

  if (!checked) return <p aria-live="polite">Loading…</p>;
  if (!me) return <Auth onSignedIn={setMe} />;
  return (
    <div class="shell">
      <Sidebar
        me={me}
        current={roomId}
        onOpen={setRoomId}
        onSignedOut={() => {
          setRoomId(null);
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
