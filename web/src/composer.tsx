import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { AttachmentRef } from "../../src/protocol/frames";
import { MAX_BODY_CHARS } from "../../src/protocol/frames";
import { errorText } from "./dialog";
import { bytes } from "./format";
import { grow } from "./message";
import { client } from "./session";

/** The counter shows from here on, so a long message never meets the limit by surprise. */
const COUNTER_FROM = MAX_BODY_CHARS - 500;
const MAX_FILES = 10;

interface Upload {
  key: string;
  name: string;
  size: number;
  state: "uploading" | "done" | "failed";
  ref?: AttachmentRef;
  error?: string;
}

interface Props {
  roomId: string;
  /** Why sending is not possible now (muted, removed); null when it is. */
  blocked: string | null;
  /** Shown above the box: the message being answered, with a way to stop. */
  replying: ComponentChildren | null;
  hint: string | null;
  onSend: (body: string, attachments: AttachmentRef[]) => void;
  onTyping: () => void;
  /** ArrowUp in an empty box: edit my last message. */
  onEditLast: () => void;
  /** Files dropped on the room arrive here. */
  dropped: File[] | null;
}

const draftKey = (roomId: string) => `edgechat.draft.${roomId}`;

/**
 * Enter sends, Shift+Enter is a new line; the draft is kept per room (a reload or another room and back
 * finds it); a counter near the limit and a clear refusal past it (nothing is cut); files by picker or
 * drop, uploaded at once and sent with the message.
 */
export function Composer(p: Props) {
  const [text, setText] = useState(() => localStorage.getItem(draftKey(p.roomId)) ?? "");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const box = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (text) localStorage.setItem(draftKey(p.roomId), text);
    else localStorage.removeItem(draftKey(p.roomId));
    grow(box.current);
  }, [text]);
  useEffect(() => {
    if (p.dropped?.length) add(p.dropped);
  }, [p.dropped]);
  useEffect(() => {
    if (p.replying) box.current?.focus();
  }, [p.replying !== null]);

  const over = text.length - MAX_BODY_CHARS;
  const busy = uploads.some((u) => u.state === "uploading");
  const files = uploads.flatMap((u) => (u.state === "done" && u.ref ? [u.ref] : []));
  const empty = !text.trim() && files.length === 0;
  const canSend = !p.blocked && !empty && over <= 0 && !busy;

  function add(list: File[]) {
    const room = MAX_FILES - uploads.length;
    for (const file of list.slice(0, Math.max(0, room))) {
      const key = `${file.name}-${file.size}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: file.name, size: file.size, state: "uploading" }]);
      client.attachments
        .upload(p.roomId, {
          filename: file.name,
          contentType: file.type || "application/octet-stream",
          bytes: file,
          size: file.size,
        })
        .then(
          (ref) =>
            setUploads((u) =>
              u.map((x) =>
                x.key === key
                  ? {
                      ...x,
                      state: "done",
                      ref: { id: ref.id, filename: ref.filename, contentType: ref.contentType, size: ref.size },
                    }
                  : x,
              ),
            ),
          (err) =>
            setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: "failed", error: errorText(err) } : x))),
        );
    }
  }

  function submit() {
    if (!canSend) return;
    p.onSend(text, files);
    setText("");
    setUploads([]);
    box.current?.focus();
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {p.replying && <div class="replying">{p.replying}</div>}
      {uploads.length > 0 && (
        <ul class="uploads" aria-label="Files to send">
          {uploads.map((u) => (
            <li key={u.key} class={u.state}>
              <span class="file-name">{u.name}</span>
              <span class="file-meta">
                {u.state === "uploading" ? "uploading…" : u.state === "failed" ? (u.error ?? "failed") : bytes(u.size)}
              </span>
              <button
                type="button"
                class="icon"
                aria-label={`Remove ${u.name}`}
                onClick={() => setUploads((list) => list.filter((x) => x.key !== u.key))}
              >
                ✕
              </button>
            </li>
          ))}
        </ul>
      )}
      {p.blocked ? (
        <p class="composer-blocked" role="status">
          {p.blocked}
        </p>
      ) : (
        <div class="composer-row">
          <input
            ref={picker}
            id="attach"
            type="file"
            multiple
            class="sr-only"
            tabIndex={-1}
            aria-hidden="true"
            onChange={(e) => {
              const input = e.currentTarget as HTMLInputElement;
              add([...(input.files ?? [])]);
              input.value = "";
            }}
          />
          <button type="button" class="icon attach" aria-label="Attach files" onClick={() => picker.current?.click()}>
            <span aria-hidden="true">📎</span>
          </button>
          <label for="compose" class="sr-only">
            Message
          </label>
          <textarea
            id="compose"
            ref={box}
            rows={1}
            value={text}
            placeholder="Write a message"
            aria-describedby="compose-status"
            aria-invalid={over > 0}
            onInput={(e) => {
              setText((e.currentTarget as HTMLTextAreaElement).value);
              p.onTyping();
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                submit();
              } else if (e.key === "ArrowUp" && !text) {
                e.preventDefault();
                p.onEditLast();
              }
            }}
          />
          <button class="primary send" type="submit" disabled={!canSend}>
            Send
          </button>
        </div>
      )}
      <div id="compose-status" class="composer-status">
        {over > 0 ? (
          <span class="error" role="alert">
            Too long: {text.length.toLocaleString()} of {MAX_BODY_CHARS.toLocaleString()} characters. Remove{" "}
            {over.toLocaleString()} to send.
          </span>
        ) : text.length >= COUNTER_FROM ? (
          <span class="hint" aria-live="polite">
            {(MAX_BODY_CHARS - text.length).toLocaleString()} characters left
          </span>
        ) : p.hint ? (
          <span class="hint">{p.hint}</span>
        ) : (
          <span class="hint wide-only">Enter to send · Shift+Enter for a new line</span>
        )}
      </div>
    </form>
  );
}
