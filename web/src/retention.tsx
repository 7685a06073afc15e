import { useEffect, useState } from "preact/hooks";
import { errorText } from "./dialog";
import { client } from "./session";

type Retention = Awaited<ReturnType<typeof client.rooms.retention>>;

const CHOICES = [1, 7, 30, 90, 365];

const lifetime = (days: number) => (days === 0 ? "forever" : days === 1 ? "for 1 day" : `for ${days} days`);
const capital = (text: string) => text[0]?.toUpperCase() + text.slice(1);

/**
 * How long the room keeps its messages. Every member sees it (people should know their words expire);
 * the owner may choose a shorter lifetime, within an admin's or the deployment's.
 */
export function RetentionSection(p: { roomId: string; owner: boolean }) {
  const [r, setR] = useState<Retention | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setR(null);
    client.rooms.retention(p.roomId).then(setR, () => undefined);
  }, [p.roomId]);
  if (!r) return null;
  const max = r.ownerMaxDays;
  const choices = [...new Set([...CHOICES.filter((d) => max === 0 || d <= max), r.effectiveDays])]
    .filter((d) => d > 0)
    .sort((a, b) => a - b);
  return (
    <section class="panel-section" aria-labelledby="retention-title">
      <h3 id="retention-title">Message history</h3>
      {!p.owner ? (
        <p class="hint">Messages here are kept {lifetime(r.effectiveDays)}.</p>
      ) : (
        <form
          class="form"
          key={r.effectiveDays}
          onSubmit={async (e) => {
            e.preventDefault();
            const value = Number(new FormData(e.currentTarget as HTMLFormElement).get("days"));
            try {
              setError(null);
              // "Longest allowed" clears the room's own choice: back to the admin's or the deployment's.
              setR(await client.rooms.setRetention(p.roomId, value === -1 ? null : value));
              setSaved(true);
            } catch (err) {
              setError(errorText(err));
            }
          }}
        >
          <label for="room-retention">Keep messages</label>
          <select
            id="room-retention"
            name="days"
            defaultValue={String(r.days === null || r.days === r.adminDays ? -1 : r.days)}
            aria-describedby="retention-hint"
          >
            <option value={-1}>{max === 0 ? "Forever" : `${capital(lifetime(max))} (longest allowed)`}</option>
            {choices
              .filter((d) => d !== max)
              .map((d) => (
                <option key={d} value={d}>
                  {capital(lifetime(d))}
                </option>
              ))}
          </select>
          <p id="retention-hint" class="hint">
            Older messages and their files are deleted for everyone{max > 0 ? `; at most ${max} days here` : ""}.
          </p>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          {saved && !error && (
            <p class="hint" role="status">
              Saved: messages are kept {lifetime(r.effectiveDays)}.
            </p>
          )}
          <button type="submit">Save</button>
        </form>
      )}
    </section>
  );
}
