import { useEffect, useState } from "preact/hooks";
import type { REPORT_REASONS as REASONS } from "../../src/protocol/safety";
import { Confirm, Dialog, errorText } from "./dialog";
import { Avatar, excerpt } from "./format";
import { navigate, paths } from "./router";
import { client } from "./session";

/** The reasons a report can give (the server's fixed list), in words. */
export const REPORT_REASONS: { value: (typeof REASONS)[number]; label: string }[] = [
  { value: "spam", label: "Spam or scam" },
  { value: "harassment", label: "Harassment or bullying" },
  { value: "hate", label: "Hate speech" },
  { value: "violence", label: "Violence or threats" },
  { value: "sexual", label: "Sexual content" },
  { value: "self_harm", label: "Self-harm" },
  { value: "illegal", label: "Illegal content" },
  { value: "other", label: "Something else" },
];

export const reasonLabel = (value: string) => REPORT_REASONS.find((r) => r.value === value)?.label ?? value;

/** Report a message (seq) or a person (userId) to the room's moderators. */
export function ReportDialog(props: {
  roomId: string;
  target: { seq: number; excerpt: string; author: string } | { userId: string; name: string };
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const aboutMessage = "seq" in props.target;
  return (
    <Dialog title={aboutMessage ? "Report message" : "Report person"} onClose={props.onClose}>
      {done ? (
        <div class="dialog-body">
          <p role="status">
            Thanks. The room's moderators will review your report. The person is not told who reported them.
          </p>
          <footer class="dialog-actions">
            <button type="button" class="primary" onClick={props.onClose}>
              Done
            </button>
          </footer>
        </div>
      ) : (
        <form
          class="dialog-body form"
          onSubmit={async (e) => {
            e.preventDefault();
            const form = new FormData(e.currentTarget as HTMLFormElement);
            const text = String(form.get("text") ?? "").trim();
            try {
              await client.reports.create(props.roomId, {
                ...("seq" in props.target ? { seq: props.target.seq } : { userId: props.target.userId }),
                reason: String(form.get("reason")) as (typeof REPORT_REASONS)[number]["value"],
                ...(text ? { text } : {}),
              });
              setDone(true);
            } catch (err) {
              setError(errorText(err));
            }
          }}
        >
          {"seq" in props.target ? (
            <blockquote class="report-target">
              <strong>{props.target.author}</strong> {props.target.excerpt}
            </blockquote>
          ) : (
            <p>
              Report <strong>{props.target.name}</strong> to this room's moderators.
            </p>
          )}
          <fieldset>
            <legend>What is wrong with it?</legend>
            {REPORT_REASONS.map((r, i) => (
              <label key={r.value} class="check">
                <input type="radio" name="reason" value={r.value} required defaultChecked={i === 0} /> {r.label}
              </label>
            ))}
          </fieldset>
          <label for="report-text">Anything to add (optional)</label>
          <textarea id="report-text" name="text" maxLength={1000} rows={3} />
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <footer class="dialog-actions">
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
            <button type="submit" class="danger">
              Send report
            </button>
          </footer>
        </form>
      )}
    </Dialog>
  );
}

export const DURATIONS: { seconds: number | null; label: string }[] = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 86_400, label: "1 day" },
  { seconds: 7 * 86_400, label: "1 week" },
  { seconds: 30 * 86_400, label: "30 days" },
  { seconds: null, label: "Until lifted" },
];

/** Mute (read-only) or ban (removed, cannot come back) a member, for a while or until lifted. */
export function SanctionDialog(props: {
  roomId: string;
  kind: "mute" | "ban";
  userId: string;
  name: string;
  onDone: () => void;
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const verb = props.kind === "mute" ? "Mute" : "Ban";
  return (
    <Dialog title={`${verb} ${props.name}`} onClose={props.onClose}>
      <form
        class="dialog-body form"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget as HTMLFormElement);
          const duration = String(form.get("duration"));
          const reason = String(form.get("reason") ?? "").trim();
          const input = {
            ...(duration !== "forever" ? { durationSeconds: Number(duration) } : {}),
            ...(reason ? { reason } : {}),
          };
          try {
            if (props.kind === "mute") await client.moderation.mute(props.roomId, props.userId, input);
            else await client.moderation.ban(props.roomId, props.userId, input);
            props.onDone();
            props.onClose();
          } catch (err) {
            setError(errorText(err));
          }
        }}
      >
        <p>
          {props.kind === "mute"
            ? `${props.name} can still read the room but cannot send, edit or react.`
            : `${props.name} is removed from the room at once and cannot join again or be invited back.`}
        </p>
        <label for="sanction-duration">For how long</label>
        <select id="sanction-duration" name="duration" defaultValue="86400">
          {DURATIONS.map((d) => (
            <option key={d.label} value={d.seconds ?? "forever"}>
              {d.label}
            </option>
          ))}
        </select>
        <label for="sanction-reason">Reason (optional, kept in the moderation log)</label>
        <textarea id="sanction-reason" name="reason" maxLength={500} rows={2} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <footer class="dialog-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="danger">
            {verb}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

/** Block or unblock someone, after saying what that does. */
export function BlockDialog(props: {
  userId: string;
  name: string;
  blocked: boolean;
  onDone: (blocked: boolean) => void;
  onClose: () => void;
}) {
  return (
    <Confirm
      title={props.blocked ? `Unblock ${props.name}?` : `Block ${props.name}?`}
      text={
        props.blocked ? (
          <p>Their messages show for you again, and they can message you directly.</p>
        ) : (
          <p>
            You won't see their messages, reactions or typing in any room, and they can't message you directly. They are
            not told.
          </p>
        )
      }
      action={props.blocked ? "Unblock" : "Block"}
      danger={!props.blocked}
      onConfirm={async () => {
        if (props.blocked) await client.blocks.unblock(props.userId);
        else await client.blocks.block(props.userId);
        props.onDone(!props.blocked);
      }}
      onClose={props.onClose}
    />
  );
}

let blockedCache: Promise<Set<string>> | null = null;
/** Who I block, read once per page and kept current by the block dialogs. */
export function blockedPeople(refresh = false): Promise<Set<string>> {
  if (!blockedCache || refresh)
    blockedCache = client.blocks.list().then(
      (list) => new Set(list.map((b) => b.userId)),
      () => {
        blockedCache = null;
        return new Set<string>();
      },
    );
  return blockedCache;
}

/** A person: name, role here, and what I can do (message, block, report). */
export function ProfileDialog(props: {
  me: string;
  roomId: string;
  userId: string;
  name: string;
  role: string | null;
  onClose: () => void;
  onReport: () => void;
  onBlockChanged?: () => void;
}) {
  const [blocked, setBlocked] = useState<boolean | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    blockedPeople().then((s) => setBlocked(s.has(props.userId)));
  }, [props.userId]);
  const self = props.userId === props.me;
  if (confirm && blocked !== null)
    return (
      <BlockDialog
        userId={props.userId}
        name={props.name}
        blocked={blocked}
        onDone={(b) => {
          setBlocked(b);
          blockedPeople(true).then(() => props.onBlockChanged?.());
        }}
        onClose={() => setConfirm(false)}
      />
    );
  return (
    <Dialog title={props.name} onClose={props.onClose}>
      <div class="dialog-body profile">
        <div class="profile-head">
          <Avatar id={props.userId} name={props.name} />
          <div>
            <strong>{props.name}</strong>
            {props.role && <div class="hint">Room {props.role}</div>}
            {blocked && <div class="hint">You block this person</div>}
          </div>
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {!self && (
          <footer class="dialog-actions start">
            <button
              type="button"
              class="primary"
              disabled={blocked === true}
              onClick={async () => {
                try {
                  const room = await client.rooms.direct(props.userId);
                  props.onClose();
                  navigate(paths.room(room.id));
                } catch (err) {
                  setError(errorText(err));
                }
              }}
            >
              Message
            </button>
            <button type="button" class={blocked ? "" : "danger-outline"} onClick={() => setConfirm(true)}>
              {blocked ? "Unblock" : "Block"}
            </button>
            <button type="button" class="danger-outline" onClick={props.onReport}>
              Report
            </button>
          </footer>
        )}
      </div>
    </Dialog>
  );
}

export function messageExcerpt(body: string | null): string {
  return body === null ? "(deleted)" : excerpt(body, 140);
}
