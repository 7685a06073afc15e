import { useEffect, useState } from "preact/hooks";
import { errorText } from "./dialog";
import { excerpt, fullTime, shortTime } from "./format";
import { reasonLabel } from "./moderation";
import type { ReportState, ReportView } from "./reports-api";
import { onLinkClick, paths } from "./router";
import { client, knownNames } from "./session";
import { useNow } from "./use-now";

const STATES: { value: ReportState; label: string }[] = [
  { value: "open", label: "Open" },
  { value: "actioned", label: "Actioned" },
  { value: "dismissed", label: "Dismissed" },
];

/** The room's review queue, as a side panel of the room (owners and admins). */
export function RoomReports(props: { roomId: string; names: (id: string) => string | null; moderator: boolean }) {
  return (
    <aside class="panel-side" aria-labelledby="reports-title">
      <header class="panel-head">
        <h2 id="reports-title">Reports</h2>
        <a
          class="button icon"
          href={paths.info(props.roomId)}
          onClick={(e) => onLinkClick(e, paths.info(props.roomId))}
          aria-label="Back to room info"
        >
          ✕
        </a>
      </header>
      {props.moderator ? (
        <Queue
          load={(state) => client.reports.list(props.roomId, { state }).then((r) => r.reports)}
          decide={(r, state) => client.reports.update(r.roomId, r.id, state)}
          names={props.names}
          deleteMessage={(r) => (r.seq ? client.messages.delete(r.roomId, r.seq) : Promise.resolve())}
        />
      ) : (
        <p class="panel-section">Only the room's owners and admins review reports.</p>
      )}
    </aside>
  );
}

/** Every room's reports, for the deployment's admins. */
export function AdminReports() {
  const names = knownNames();
  return (
    <main class="page" aria-labelledby="all-reports-title">
      <header class="page-head">
        <a class="back always" href={paths.home()} onClick={(e) => onLinkClick(e, paths.home())}>
          <span aria-hidden="true">←</span>
          <span class="sr-only">All rooms</span>
        </a>
        <h1 id="all-reports-title">Reports in all rooms</h1>
      </header>
      <div class="page-body">
        <Queue
          load={(state) => client.reports.all({ state }).then((r) => r.reports)}
          decide={(r, state) => client.reports.updateAny(r.id, state)}
          names={(id) => names.get(id) ?? null}
          showRoom
        />
      </div>
    </main>
  );
}

function Queue(props: {
  load: (state: ReportState) => Promise<ReportView[]>;
  decide: (r: ReportView, state: ReportState) => Promise<unknown>;
  names: (id: string) => string | null;
  deleteMessage?: (r: ReportView) => Promise<unknown>;
  showRoom?: boolean;
}) {
  const [state, setState] = useState<ReportState>("open");
  const [list, setList] = useState<ReportView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const now = useNow();
  const load = () =>
    props.load(state).then(
      (r) => {
        setList(r);
        setError(null);
      },
      (err) => setError(errorText(err)),
    );
  useEffect(() => {
    setList(null);
    load();
  }, [state]);

  const decide = async (r: ReportView, next: ReportState, alsoDelete = false) => {
    try {
      if (alsoDelete) await props.deleteMessage?.(r);
      await props.decide(r, next);
      setStatus(next === "dismissed" ? "Report dismissed." : "Report marked as actioned.");
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div class="queue">
      <fieldset class="tabs">
        <legend class="sr-only">Show reports</legend>
        {STATES.map((s) => (
          <button key={s.value} type="button" aria-pressed={state === s.value} onClick={() => setState(s.value)}>
            {s.label}
          </button>
        ))}
      </fieldset>
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
      <ul class="reports">
        {list?.map((r) => {
          const who = r.target.displayName;
          return (
            <li key={r.id} class="report">
              <div class="report-head">
                <span class="tag warn">{reasonLabel(r.reason)}</span>
                <span class="hint" title={fullTime(r.createdAt)}>
                  {shortTime(r.createdAt, now)}
                </span>
                <span class="hint">reported by {r.reporter.displayName}</span>
              </div>
              {r.seq !== null ? (
                <p>
                  Message by <strong>{who}</strong>:{" "}
                  {r.message ? r.message.deletedAt ? <em>deleted</em> : <q>{excerpt(r.message.body, 200)}</q> : null}{" "}
                  <a
                    href={paths.message(r.roomId, r.seq)}
                    onClick={(e) => onLinkClick(e, paths.message(r.roomId, r.seq ?? 0))}
                  >
                    Open message
                  </a>
                </p>
              ) : (
                <p>
                  The person <strong>{who}</strong>
                </p>
              )}
              {r.text && <p class="report-text">"{r.text}"</p>}
              {r.state === "open" ? (
                <div class="report-actions">
                  {r.seq !== null && props.deleteMessage && !r.message?.deletedAt && (
                    <button type="button" class="danger" onClick={() => decide(r, "actioned", true)}>
                      Delete message
                    </button>
                  )}
                  <button type="button" onClick={() => decide(r, "actioned")}>
                    Mark actioned
                  </button>
                  <button type="button" onClick={() => decide(r, "dismissed")}>
                    Dismiss
                  </button>
                </div>
              ) : (
                <p class="hint">
                  {r.state === "actioned" ? "Actioned" : "Dismissed"}
                  {r.handledBy ? ` by ${props.names(r.handledBy) ?? "a moderator"}` : ""}
                  {r.handledAt ? `, ${shortTime(r.handledAt, now)}` : ""}
                </p>
              )}
            </li>
          );
        })}
        {list?.length === 0 && <li class="empty">No {state} reports.</li>}
        {!list && !error && <li class="empty">Loading…</li>}
      </ul>
    </div>
  );
}
