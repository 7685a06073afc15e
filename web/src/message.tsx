import { useEffect, useRef, useState } from "preact/hooks";
import { reactionCount, type StateMessage } from "../../src/client";
import type { AttachmentRef } from "../../src/protocol/frames";
import { MAX_BODY_CHARS } from "../../src/protocol/frames";
import { Avatar, bytes, clock, excerpt, fullTime, Linkified, shortTime } from "./format";
import { Menu, type MenuItem } from "./menu";
import { onLinkClick, paths } from "./router";
import { client } from "./session";

/** The reaction picker, and the order reactions are shown in (others after these, by code point). */
export const PICKER = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

export interface MessageActions {
  reply: () => void;
  react: (emoji: string, on: boolean) => void;
  edit: () => void;
  saveEdit: (body: string) => void;
  cancelEdit: () => void;
  remove: () => void;
  report: () => void;
  block: () => void;
  pin: (on: boolean) => void;
  profile: () => void;
  copyLink: () => void;
}

interface Props {
  m: StateMessage;
  roomId: string;
  me: string;
  /** First of a run by the same sender: shows the avatar and name. */
  head: boolean;
  senderName: string;
  /** A bot or a server's identity: marked beside the name, so nobody takes it for a person. */
  senderIsBot: boolean;
  editing: boolean;
  canDeleteAny: boolean;
  highlighted: boolean;
  quote: { target: StateMessage | undefined; name: (id: string) => string | null } | null;
  seen: string[] | null;
  now: number;
  actions: MessageActions;
}

/** One message: sender and time, reply quote, text with links, files, reactions, and its actions. */
export function MessageItem(p: Props) {
  const { m } = p;
  const mine = m.senderId === p.me;
  const deleted = m.deletedAt !== null;
  const [picking, setPicking] = useState(false);
  const items: MenuItem[] = [];
  if (!deleted) {
    items.push({ label: "Copy link", onSelect: p.actions.copyLink });
    items.push({ label: m.pinned ? "Unpin" : "Pin", onSelect: () => p.actions.pin(!m.pinned) });
    if (mine && m.body !== null) items.push({ label: "Edit", onSelect: p.actions.edit });
    if (mine || p.canDeleteAny) items.push({ label: "Delete", onSelect: p.actions.remove, danger: true });
    if (!mine) {
      items.push({ label: "Report message", onSelect: p.actions.report, danger: true });
      items.push({ label: `Block ${p.senderName}`, onSelect: p.actions.block, danger: true });
    }
  }
  const label = `${mine ? "You" : p.senderName}, ${fullTime(m.createdAt)}`;
  return (
    <article
      class={`msg${mine ? " mine" : ""}${p.head ? " head" : ""}${p.highlighted ? " highlighted" : ""}`}
      data-seq={m.seq}
      id={`message-${m.seq}`}
      aria-label={label}
      tabIndex={-1}
    >
      <div class="gutter">
        {p.head && (
          // The name beside it opens the same profile: one tab stop for the two.
          <button type="button" class="avatar-button" tabIndex={-1} aria-hidden="true" onClick={p.actions.profile}>
            <Avatar id={m.senderId} name={p.senderName} />
          </button>
        )}
        {!p.head && <TimeLink roomId={p.roomId} m={m} now={p.now} quiet />}
      </div>
      <div class="msg-main">
        {p.head && (
          <div class="msg-head">
            <button type="button" class="name" onClick={p.actions.profile}>
              {mine ? "You" : p.senderName}
            </button>
            {p.senderIsBot && <span class="tag">bot</span>}
            <TimeLink roomId={p.roomId} m={m} now={p.now} />
          </div>
        )}
        <div class="bubble">
          {p.quote && <Quote roomId={p.roomId} seq={m.replyTo ?? 0} {...p.quote} />}
          {p.editing ? (
            <EditBox body={m.body ?? ""} onSave={p.actions.saveEdit} onCancel={p.actions.cancelEdit} />
          ) : deleted ? (
            <div class="body deleted">
              <em>Message deleted</em>
            </div>
          ) : (
            m.body && (
              <div class="body">
                <Linkified text={m.body} />
              </div>
            )
          )}
          {!deleted && m.attachments && m.attachments.length > 0 && <Attachments files={m.attachments} />}
          <div class="msg-foot">
            {m.editedAt && !deleted && (
              <span class="edited" title={`Edited ${fullTime(m.editedAt)}`}>
                edited
              </span>
            )}
            {m.pinned && !deleted && <span class="pinned">📌 Pinned</span>}
          </div>
        </div>
        <Reactions message={m} me={p.me} onToggle={p.actions.react} />
        {!deleted && !p.editing && (
          <div class="msg-actions">
            <button
              type="button"
              class="icon"
              aria-label="React"
              aria-expanded={picking}
              onClick={() => setPicking(!picking)}
            >
              <span aria-hidden="true">☺</span>
            </button>
            <button type="button" class="icon" aria-label="Reply" onClick={p.actions.reply}>
              <span aria-hidden="true">↩</span>
            </button>
            {items.length > 0 && <Menu label="More actions" items={items} />}
            {picking && (
              <span class="picker">
                {PICKER.map((emoji) => {
                  const on = !m.reactions.find((r) => r.emoji === emoji)?.users.has(p.me);
                  return (
                    <button
                      key={emoji}
                      type="button"
                      class="icon"
                      aria-label={`React ${emoji} to message ${m.seq}`}
                      onClick={() => {
                        p.actions.react(emoji, on);
                        setPicking(false);
                      }}
                    >
                      {emoji}
                    </button>
                  );
                })}
              </span>
            )}
          </div>
        )}
        {p.seen && p.seen.length > 0 && <div class="seen">Seen by {p.seen.join(", ")}</div>}
      </div>
    </article>
  );
}

/** The message's time, also its link (copy it, open it in a tab, or follow it). */
function TimeLink({ roomId, m, now, quiet }: { roomId: string; m: StateMessage; now: number; quiet?: boolean }) {
  const href = paths.message(roomId, m.seq);
  // In a group only the first message names its time; the others show their clock time on hover or focus.
  return (
    <a
      class={`time${quiet ? " quiet" : ""}`}
      href={href}
      onClick={(e) => onLinkClick(e, href)}
      title={fullTime(m.createdAt)}
    >
      <time dateTime={m.createdAt}>{quiet ? clock(new Date(m.createdAt)) : shortTime(m.createdAt, now)}</time>
    </a>
  );
}

/** Edit in place: the whole text in a growing box, Save (or Enter), Cancel (or Escape). */
function EditBox(props: { body: string; onSave: (body: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(props.body);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  useEffect(() => grow(ref.current), [text]);
  const over = text.length - MAX_BODY_CHARS;
  const save = () => {
    if (!text.trim() || over > 0) return;
    if (text === props.body) props.onCancel();
    else props.onSave(text);
  };
  return (
    <form
      class="edit"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <label class="sr-only" for="edit-box">
        Edit message
      </label>
      <textarea
        id="edit-box"
        ref={ref}
        value={text}
        rows={1}
        onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            props.onCancel();
          } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            save();
          }
        }}
      />
      <div class="edit-bar">
        <span class={over > 0 ? "error" : "hint"} aria-live="polite">
          {over > 0 ? `Too long by ${over.toLocaleString()} characters` : "Enter to save · Escape to cancel"}
        </span>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={!text.trim() || over > 0}>
          Save
        </button>
      </div>
    </form>
  );
}

export function grow(el: HTMLTextAreaElement | null): void {
  if (!el) return;
  el.style.height = "auto";
  el.style.height = `${Math.min(el.scrollHeight + 2, 240)}px`;
}

/** Reactions with counts, in the picker's order; mine are pressed, and a click takes mine back or adds it. */
function Reactions(props: { message: StateMessage; me: string; onToggle: (emoji: string, on: boolean) => void }) {
  const shown = [...props.message.reactions]
    .filter((r) => reactionCount(r) > 0)
    .sort((a, b) => rank(a.emoji) - rank(b.emoji) || (a.emoji < b.emoji ? -1 : 1));
  if (shown.length === 0) return null;
  return (
    <div class="reactions">
      {shown.map((r) => {
        const mine = r.users.has(props.me);
        const count = reactionCount(r);
        return (
          <button
            key={r.emoji}
            type="button"
            class="chip"
            aria-pressed={mine}
            title={mine ? "Take back your reaction" : "React with this too"}
            disabled={props.message.deletedAt !== null && !mine}
            onClick={() => props.onToggle(r.emoji, !mine)}
          >
            {r.emoji} {count}
          </button>
        );
      })}
    </div>
  );
}

function rank(emoji: string): number {
  const i = PICKER.indexOf(emoji);
  return i < 0 ? PICKER.length : i;
}

/** A reply's quote: who wrote the message it answers and the start of it; a link that jumps to it. */
export function Quote(props: {
  roomId: string;
  seq: number;
  target: StateMessage | undefined;
  name: (id: string) => string | null;
}) {
  const { target } = props;
  let inner = <span>…</span>;
  if (target?.hidden) inner = <span>A message from someone you blocked</span>;
  else if (target)
    inner = (
      <>
        <strong>{props.name(target.senderId) ?? "Someone"}</strong>{" "}
        {target.deletedAt ? (
          <em>message deleted</em>
        ) : (
          excerpt(target.body ?? (target.attachments?.length ? "📎 file" : ""))
        )}
      </>
    );
  const href = paths.message(props.roomId, props.seq);
  return (
    <a class="quote" href={href} onClick={(e) => onLinkClick(e, href)} aria-label={undefined}>
      <span class="sr-only">In reply to: </span>
      {inner}
    </a>
  );
}

/** Images as previews (read with the token: downloads need it), other files as cards that download. */
function Attachments({ files }: { files: readonly AttachmentRef[] }) {
  return (
    <div class="files">
      {files.map((f) =>
        f.contentType.startsWith("image/") && f.size <= 10 * 1024 * 1024 ? (
          <ImagePreview key={f.id} file={f} />
        ) : (
          <FileCard key={f.id} file={f} />
        ),
      )}
    </div>
  );
}

const images = new Map<string, Promise<string>>();

/** A data: URL (the page's CSP allows those for images, not blob:), read once per attachment. */
function imageData(id: string): Promise<string> {
  let p = images.get(id);
  if (!p) {
    p = download(id).then(
      (blob) =>
        new Promise<string>((resolve, reject) => {
          const reader = new FileReader();
          reader.onload = () => resolve(String(reader.result));
          reader.onerror = () => reject(reader.error);
          reader.readAsDataURL(blob);
        }),
    );
    p.catch(() => images.delete(id));
    images.set(id, p);
  }
  return p;
}

async function download(id: string): Promise<Blob> {
  const res = await fetch(client.attachments.downloadUrl(id), {
    headers: { authorization: `Bearer ${await client.accessToken()}` },
  });
  if (!res.ok) throw new Error(`download failed: ${res.status}`);
  return res.blob();
}

async function save(file: AttachmentRef): Promise<void> {
  const url = URL.createObjectURL(await download(file.id));
  const a = document.createElement("a");
  a.href = url;
  a.download = file.filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function ImagePreview({ file }: { file: AttachmentRef }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    imageData(file.id).then(
      (s) => live && setSrc(s),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [file.id]);
  return (
    <button type="button" class="image" onClick={() => save(file)} aria-label={`Download image ${file.filename}`}>
      {src ? <img src={src} alt={file.filename} /> : <span class="image-wait">Loading {file.filename}…</span>}
    </button>
  );
}

function FileCard({ file }: { file: AttachmentRef }) {
  return (
    <button type="button" class="file-card" onClick={() => save(file)}>
      <span class="sr-only">Download </span>
      <span class="file-icon" aria-hidden="true">
        📄
      </span>
      <span class="file-text">
        <span class="file-name">{file.filename}</span>
        <span class="file-meta">
          {bytes(file.size)} · {file.contentType.split("/")[1]?.toUpperCase() ?? file.contentType}
        </span>
      </span>
    </button>
  );
}
