import { useEffect, useRef, useState } from "preact/hooks";
import type { RoomSettings, User } from "../../src/client";
import type { Person, RoomDetail } from "./chat-view";
import { Confirm, Dialog, errorText } from "./dialog";
import { Avatar, durationText, shortTime } from "./format";
import { Menu, type MenuItem } from "./menu";
import { SanctionDialog } from "./moderation";
import { RetentionSection } from "./retention";
import { onLinkClick, paths } from "./router";
import { client, knownNames } from "./session";
import { PeoplePicker } from "./sidebar";

const RANK = { owner: 3, admin: 2, member: 1 } as const;
const SLOW_MODES = [0, 5, 10, 30, 60, 300, 900, 3600];

type Sanction = Awaited<ReturnType<typeof client.moderation.sanctions>>[number];

type Action =
  | { kind: "mute" | "ban"; userId: string; name: string }
  | { kind: "purge" | "remove" | "unban"; userId: string; name: string }
  | { kind: "add" }
  | { kind: "leave" }
  | null;

interface Props {
  me: User;
  roomId: string;
  kind: "group" | "direct" | null;
  role: "owner" | "admin" | "member";
  detail: RoomDetail | null;
  settings: RoomSettings | null;
  people: Person[] | null;
  /** Who is online, or null when that is not known now (offline). */
  online: ReadonlySet<string> | null;
  onPeopleChanged: () => void;
  onOpenProfile: (userId: string) => void;
  onLeft: () => void;
}

/**
 * The room's side panel: its settings (name, topic, visibility, slow mode) for owners and admins, the
 * members with their moderation actions (mute, ban, delete all their messages, remove), bans in force,
 * adding people (group rooms only), the review queue's link, and leaving.
 */
export function RoomInfo(p: Props) {
  const moderator = p.role === "owner" || p.role === "admin";
  const [sanctions, setSanctions] = useState<Sanction[]>([]);
  const [action, setAction] = useState<Action>(null);
  const [status, setStatus] = useState<string | null>(null);
  // Several reloads can be in flight (an action's own, and one per member change the room announces):
  // only the newest request's answer may land, or an older one read before an unban could bring it back.
  const asked = useRef(0);
  const loadSanctions = () => {
    if (!moderator) return;
    const mine = ++asked.current;
    client.moderation.sanctions(p.roomId).then(
      (s) => {
        if (mine === asked.current) setSanctions(s);
      },
      () => undefined,
    );
  };
  useEffect(loadSanctions, [p.roomId, moderator, p.people]);

  const names = knownNames();
  const nameOf = (id: string) => p.people?.find((x) => x.userId === id)?.displayName ?? names.get(id) ?? "Someone";
  const mutes = new Map(sanctions.filter((s) => s.kind === "mute").map((s) => [s.userId, s]));
  const bans = sanctions.filter((s) => s.kind === "ban");
  const group = p.kind === "group";
  const people = [...(p.people ?? [])].sort(
    (a, b) => RANK[b.role] - RANK[a.role] || a.displayName.localeCompare(b.displayName),
  );
  const done = (text: string) => {
    setStatus(text);
    loadSanctions();
    p.onPeopleChanged();
  };

  return (
    <aside class="panel-side" aria-labelledby="room-info-title">
      <header class="panel-head">
        <h2 id="room-info-title">{group ? "Room info" : "Chat info"}</h2>
        <a
          class="button icon"
          href={paths.room(p.roomId)}
          onClick={(e) => onLinkClick(e, paths.room(p.roomId))}
          aria-label="Close room info"
        >
          ✕
        </a>
      </header>
      {status && (
        <p class="toast inline" role="status">
          {status}
        </p>
      )}
      {group && p.settings && (
        <RoomSettingsForm
          roomId={p.roomId}
          editable={moderator}
          settings={p.settings}
          slowMode={Number(p.settings.slowModeSeconds ?? p.detail?.slowModeSeconds ?? 0)}
          onSaved={() => setStatus("Room settings saved.")}
        />
      )}
      {group && <RetentionSection roomId={p.roomId} owner={p.role === "owner"} />}
      <section class="panel-section" aria-labelledby="members-title">
        <div class="section-head">
          <h3 id="members-title">{group ? `Members${p.people ? ` (${p.people.length})` : ""}` : "People"}</h3>
          {group && moderator && (
            <button type="button" onClick={() => setAction({ kind: "add" })}>
              Add member
            </button>
          )}
        </div>
        <ul class="members">
          {people.map((m) => {
            const self = m.userId === p.me.id;
            const mute = mutes.get(m.userId);
            const outranked = RANK[m.role] < RANK[p.role];
            const items: MenuItem[] = [];
            if (moderator && !self && outranked && group) {
              items.push(
                mute
                  ? {
                      label: "Unmute",
                      onSelect: () =>
                        client.moderation.unmute(p.roomId, m.userId).then(
                          () => done(`${m.displayName} can send again.`),
                          (err) => setStatus(errorText(err)),
                        ),
                    }
                  : {
                      label: "Mute…",
                      onSelect: () => setAction({ kind: "mute", userId: m.userId, name: m.displayName }),
                    },
                {
                  label: "Ban…",
                  danger: true,
                  onSelect: () => setAction({ kind: "ban", userId: m.userId, name: m.displayName }),
                },
                {
                  label: "Delete all messages…",
                  danger: true,
                  onSelect: () => setAction({ kind: "purge", userId: m.userId, name: m.displayName }),
                },
                {
                  label: "Remove from room…",
                  danger: true,
                  onSelect: () => setAction({ kind: "remove", userId: m.userId, name: m.displayName }),
                },
              );
            }
            return (
              <li key={m.userId} class="member">
                <button type="button" class="member-who" onClick={() => p.onOpenProfile(m.userId)}>
                  <Avatar id={m.userId} name={m.displayName} size="sm" />
                  <span class="member-name">
                    {self ? `${m.displayName} (you)` : m.displayName}
                    {p.online?.has(m.userId) && <span class="online-dot" aria-label="online" role="img" />}
                  </span>
                </button>
                <span class="member-tags">
                  {m.kind !== "user" && <span class="tag">bot</span>}
                  {m.role !== "member" && <span class="tag">{m.role}</span>}
                  {mute && <span class="tag warn">muted{mute.until ? ` until ${shortTime(mute.until)}` : ""}</span>}
                </span>
                {items.length > 0 && <Menu label={`Moderate ${m.displayName}`} items={items} />}
              </li>
            );
          })}
          {!p.people && <li class="empty">Loading…</li>}
        </ul>
      </section>
      {moderator && bans.length > 0 && (
        <section class="panel-section" aria-labelledby="bans-title">
          <h3 id="bans-title">Banned</h3>
          <ul class="members">
            {bans.map((b) => (
              <li key={b.userId} class="member">
                <span class="member-who">
                  <Avatar id={b.userId} name={nameOf(b.userId)} size="sm" />
                  <span class="member-name">{nameOf(b.userId)}</span>
                </span>
                <span class="member-tags">
                  <span class="tag warn">{b.until ? `until ${shortTime(b.until)}` : "until lifted"}</span>
                </span>
                <button
                  type="button"
                  onClick={() => setAction({ kind: "unban", userId: b.userId, name: nameOf(b.userId) })}
                >
                  Unban
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section class="panel-section links">
        {moderator && group && (
          <a
            class="button"
            href={paths.roomReports(p.roomId)}
            onClick={(e) => onLinkClick(e, paths.roomReports(p.roomId))}
          >
            Review reports
          </a>
        )}
        {group && (
          <button type="button" class="danger-outline" onClick={() => setAction({ kind: "leave" })}>
            Leave room
          </button>
        )}
      </section>

      {(action?.kind === "mute" || action?.kind === "ban") && (
        <SanctionDialog
          roomId={p.roomId}
          kind={action.kind}
          userId={action.userId}
          name={action.name}
          onDone={() => done(action.kind === "mute" ? `${action.name} is muted.` : `${action.name} is banned.`)}
          onClose={() => setAction(null)}
        />
      )}
      {action?.kind === "purge" && (
        <Confirm
          title={`Delete all messages by ${action.name}?`}
          text={<p>Every message {action.name} sent in this room is deleted for everyone. This can't be undone.</p>}
          action="Delete all"
          danger
          onConfirm={async () => {
            const n = await client.moderation.purge(p.roomId, action.userId);
            done(`${n} message${n === 1 ? "" : "s"} by ${action.name} deleted.`);
          }}
          onClose={() => setAction(null)}
        />
      )}
      {action?.kind === "remove" && (
        <Confirm
          title={`Remove ${action.name}?`}
          text={<p>{action.name} leaves the room now; they can be added again (ban them to keep them out).</p>}
          action="Remove"
          danger
          onConfirm={async () => {
            await client.rooms.removeMember(p.roomId, action.userId);
            done(`${action.name} was removed.`);
          }}
          onClose={() => setAction(null)}
        />
      )}
      {action?.kind === "unban" && (
        <Confirm
          title={`Unban ${action.name}?`}
          text={<p>{action.name} can join again or be invited back.</p>}
          action="Unban"
          onConfirm={async () => {
            await client.moderation.unban(p.roomId, action.userId);
            done(`${action.name} is no longer banned.`);
          }}
          onClose={() => setAction(null)}
        />
      )}
      {action?.kind === "add" && (
        <Dialog title="Add member" onClose={() => setAction(null)}>
          <PeoplePicker
            label="Add someone to this room"
            action="Add"
            exclude={new Set(p.people?.map((x) => x.userId) ?? [])}
            onPick={async (userId, name) => {
              await client.rooms.invite(p.roomId, userId);
              setAction(null);
              done(`${name} was added.`);
            }}
          />
        </Dialog>
      )}
      {action?.kind === "leave" && (
        <Confirm
          title="Leave this room?"
          text={
            <p>You stop getting its messages. To come back, someone has to add you (or join it if it is public).</p>
          }
          action="Leave"
          danger
          onConfirm={async () => {
            await client.rooms.leave(p.roomId);
            p.onLeft();
          }}
          onClose={() => setAction(null)}
        />
      )}
    </aside>
  );
}

function RoomSettingsForm(props: {
  roomId: string;
  editable: boolean;
  settings: RoomSettings;
  slowMode: number;
  onSaved: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const s = props.settings;
  if (!props.editable)
    return (
      <section class="panel-section" aria-labelledby="about-title">
        <h3 id="about-title">About</h3>
        <p>{s.topic || "No topic."}</p>
        <p class="hint">
          {s.isPublic ? "Public: anyone can find and join it." : "Private: members add people."}
          {props.slowMode > 0 && ` Slow mode: one message every ${durationText(props.slowMode)}.`}
        </p>
      </section>
    );
  return (
    <section class="panel-section" aria-labelledby="settings-title">
      <h3 id="settings-title">Settings</h3>
      <form
        class="form"
        key={`${s.name}|${s.topic}|${s.isPublic}|${props.slowMode}`}
        onSubmit={async (e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget as HTMLFormElement);
          const name = String(form.get("name")).trim();
          const topic = String(form.get("topic") ?? "").trim();
          const isPublic = form.get("isPublic") === "on";
          const slowModeSeconds = Number(form.get("slowMode"));
          const patch = {
            ...(name !== s.name ? { name } : {}),
            ...(topic !== (s.topic ?? "") ? { topic: topic || null } : {}),
            ...(isPublic !== s.isPublic ? { isPublic } : {}),
            ...(slowModeSeconds !== props.slowMode ? { slowModeSeconds } : {}),
          };
          if (Object.keys(patch).length === 0) return props.onSaved();
          try {
            setError(null);
            await client.rooms.update(props.roomId, patch);
            props.onSaved();
          } catch (err) {
            setError(errorText(err));
          }
        }}
      >
        <label for="room-name">Name</label>
        <input id="room-name" name="name" required maxLength={100} defaultValue={s.name ?? ""} />
        <label for="room-topic">Topic</label>
        <input id="room-topic" name="topic" maxLength={300} defaultValue={s.topic ?? ""} />
        <label for="room-slow">Slow mode</label>
        <select id="room-slow" name="slowMode" defaultValue={String(props.slowMode)} aria-describedby="slow-hint">
          {[...new Set([...SLOW_MODES, props.slowMode])]
            .sort((a, b) => a - b)
            .map((n) => (
              <option key={n} value={n}>
                {n === 0 ? "Off" : `One message every ${durationText(n)}`}
              </option>
            ))}
        </select>
        <p id="slow-hint" class="hint">
          Per member; owners and admins are exempt.
        </p>
        <label class="check">
          <input type="checkbox" name="isPublic" defaultChecked={s.isPublic} /> Anyone can find and join it
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary">
          Save settings
        </button>
      </form>
    </section>
  );
}
