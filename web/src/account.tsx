import { useEffect, useState } from "preact/hooks";
import type { User } from "../../src/client";
import { errorText } from "./dialog";
import { Avatar } from "./format";
import { blockedPeople } from "./moderation";
import { onLinkClick, paths } from "./router";
import { client } from "./session";

type Blocked = Awaited<ReturnType<typeof client.blocks.list>>[number];

/** My account: display name, the people I block (unblock them here), the API reference, log out. */
export function Settings(props: { me: User; onChanged: (u: User) => void; onSignedOut: () => void }) {
  const [blocked, setBlocked] = useState<Blocked[] | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    client.blocks.list().then(setBlocked, (err) => {
      setBlocked([]);
      setError(errorText(err));
    });
  useEffect(() => {
    load();
  }, []);

  return (
    <main class="page" aria-labelledby="settings-page-title">
      <header class="page-head">
        <a class="back" href={paths.home()} onClick={(e) => onLinkClick(e, paths.home())}>
          <span aria-hidden="true">←</span>
          <span class="sr-only">All rooms</span>
        </a>
        <h1 id="settings-page-title">Settings</h1>
      </header>
      <div class="page-body">
        {status && (
          <p class="toast inline" role="status">
            {status}
          </p>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <section class="card" aria-labelledby="profile-title">
          <h2 id="profile-title">Profile</h2>
          <form
            class="form row"
            onSubmit={async (e) => {
              e.preventDefault();
              const name = String(new FormData(e.currentTarget as HTMLFormElement).get("displayName")).trim();
              try {
                const r = await client.me.update(name);
                props.onChanged(r.user);
                setStatus("Display name saved.");
              } catch (err) {
                setError(errorText(err));
              }
            }}
          >
            <Avatar id={props.me.id} name={props.me.displayName} />
            <div class="grow">
              <label for="display-name">Display name</label>
              <input id="display-name" name="displayName" required maxLength={64} defaultValue={props.me.displayName} />
            </div>
            <button type="submit" class="primary">
              Save
            </button>
          </form>
          <p class="hint">Signed in as {props.me.email}</p>
        </section>
        <section class="card" aria-labelledby="blocked-title">
          <h2 id="blocked-title">Blocked people</h2>
          <p class="hint">You don't see their messages, and they can't message you directly. They are not told.</p>
          <ul class="members">
            {blocked?.map((b) => (
              <li key={b.userId} class="member">
                <span class="member-who">
                  <Avatar id={b.userId} name={b.displayName} size="sm" />
                  <span class="member-name">{b.displayName}</span>
                </span>
                <button
                  type="button"
                  onClick={async () => {
                    try {
                      await client.blocks.unblock(b.userId);
                      blockedPeople(true);
                      setStatus(`You unblocked ${b.displayName}.`);
                      load();
                    } catch (err) {
                      setError(errorText(err));
                    }
                  }}
                >
                  Unblock
                </button>
              </li>
            ))}
            {blocked?.length === 0 && <li class="empty">You block nobody.</li>}
          </ul>
        </section>
        <section class="card" aria-labelledby="more-title">
          <h2 id="more-title">More</h2>
          <p>
            <a href="/docs">API reference</a> — every route of this server, with a way to try them.
          </p>
          <button
            type="button"
            class="danger-outline"
            onClick={async () => {
              await client.logout().catch(() => undefined);
              props.onSignedOut();
            }}
          >
            Log out
          </button>
        </section>
      </div>
    </main>
  );
}
