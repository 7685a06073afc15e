import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

/**
 * A modal on the platform's <dialog>: focus moves into it and stays there, Escape closes it, and focus
 * returns to what opened it. `onClose` runs however it closes.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useRef(`dialog-${Math.random().toString(36).slice(2)}`).current;
  // Closed by unmounting (another dialog takes its place): its close event must not close that one too.
  const gone = useRef(false);
  useEffect(() => {
    const el = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    if (el && !el.open) el.showModal();
    // Focus goes to the first field (or action) of the body, not to the close button in the corner.
    el?.querySelector<HTMLElement>(
      ".dialog-body input:not([type=hidden]):not([type=radio]), .dialog-body textarea, .dialog-body select, .dialog-body input[type=radio]:checked, .dialog-body button, .dialog-box > footer button",
    )?.focus();
    return () => {
      gone.current = true;
      if (el?.open) el.close();
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog${props.wide ? " wide" : ""}`}
      aria-labelledby={id}
      onClose={() => {
        if (!gone.current) props.onClose();
      }}
      onKeyDown={(e) => {
        // Escape in a search field clears it instead of cancelling the dialog: close either way.
        if (e.key === "Escape" && !e.defaultPrevented) {
          e.preventDefault();
          props.onClose();
        }
      }}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
      onClick={(e) => {
        // A click on the backdrop (outside the box) closes it.
        if (e.target === ref.current) props.onClose();
      }}
    >
      <div class="dialog-box">
        <header class="dialog-head">
          <h2 id={id}>{props.title}</h2>
          <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        {props.children}
      </div>
    </dialog>
  );
}

/** "Are you sure?" with the action named on its button; the action's failure is shown, not swallowed. */
export function Confirm(props: {
  title: string;
  text: ComponentChildren;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown> | unknown;
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <div class="dialog-body">{props.text}</div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <footer class="dialog-actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger ? "danger" : "primary"}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await props.onConfirm();
              props.onClose();
            } catch (err) {
              setError(errorText(err));
              setBusy(false);
            }
          }}
        >
          {props.action}
        </button>
      </footer>
    </Dialog>
  );
}

/** What went wrong, in words a person can act on. */
export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string; status?: number };
  switch (e?.code) {
    case "network":
      return "You're offline. Try again when you're back.";
    case "forbidden":
      return e.message ?? "You are not allowed to do that.";
    case "muted":
      return "You are muted in this room.";
    case "banned":
      return "That person is banned from this room.";
    case "blocked":
      return "A block between you and this person stands in the way.";
    case "throttled":
      return "Too many requests. Wait a moment and try again.";
    default:
      return e?.message ?? "Something went wrong.";
  }
}
