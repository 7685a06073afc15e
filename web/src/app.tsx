import { useEffect, useMemo, useState } from "preact/hooks";
import { EdgechatError, type User } from "../../src/client";
import { Settings } from "./account";
import { Auth } from "./auth";
import { ChatView } from "./chat-view";
import { AdminReports } from "./reports";
import { inboxRoomList, useRoomList } from "./room-list";
import { navigate, paths, useRoute } from "./router";
import { client, savedUser, saveUser } from "./session";
import { Sidebar } from "./sidebar";

export function App() {
  // Who was signed in last: a reload while offline still opens the app (and the room, and its outbox).
  const [me, setMeState] = useState<User | null>(() => (client.session ? savedUser() : null));
  const [checked, setChecked] = useState(me !== null);
  const setMe = (user: User | null) => {
    saveUser(user);
    setMeState(user);
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

  if (!checked)
    return (
      <p class="loading" aria-live="polite">
        Loading…
      </p>
    );
  if (!me) return <Auth onSignedIn={setMe} />;
  return (
    <SignedIn
      me={me}
      onChanged={setMe}
      onSignedOut={() => {
        setMe(null);
        navigate(paths.home(), { replace: true });
      }}
    />
  );
}

function SignedIn(props: { me: User; onChanged: (u: User) => void; onSignedOut: () => void }) {
  const route = useRoute();
  // One inbox socket per device: the room list, badges, previews and the notification count, live.
  const inbox = useMemo(() => client.inbox().connect(), [props.me.id]);
  useEffect(() => () => inbox.close(), [inbox]);
  const source = useMemo(() => inboxRoomList(inbox), [inbox]);
  const { rooms } = useRoomList(source);
  const isAdmin = useIsAdmin();
  const roomId = route.screen === "room" ? route.roomId : null;

  return (
    <div class={`shell ${route.screen === "home" ? "show-list" : "show-main"}`}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Sidebar me={props.me} current={roomId} source={source} inbox={inbox} isAdmin={isAdmin} />
      <div id="main" class="main" tabIndex={-1}>
        {route.screen === "room" ? (
          <ChatView
            key={route.roomId}
            me={props.me}
            roomId={route.roomId}
            focusSeq={route.seq}
            panel={route.panel}
            summary={rooms.find((r) => r.id === route.roomId)}
            onRoomsChanged={source.refresh}
          />
        ) : route.screen === "settings" ? (
          <Settings me={props.me} onChanged={props.onChanged} onSignedOut={props.onSignedOut} />
        ) : route.screen === "reports" ? (
          <AdminReports />
        ) : (
          <main class="welcome" aria-labelledby="welcome-title">
            <h1 id="welcome-title">Welcome, {props.me.displayName}</h1>
            <p>Pick a room on the left, or start a group or a direct chat.</p>
          </main>
        )}
      </div>
    </div>
  );
}

/** Deployment admins see every room's reports; the admin routes answer 404 to everyone else. */
function useIsAdmin(): boolean {
  const [admin, setAdmin] = useState(false);
  useEffect(() => {
    client.reports.all({ limit: 1 }).then(
      () => setAdmin(true),
      () => setAdmin(false),
    );
  }, []);
  return admin;
}
