import { memo, useState, type KeyboardEvent } from "react";
import type { Attachment, Message } from "../api/types";
import { AuthImage } from "./AuthImage";
import { Avatar } from "./Avatar";
import { Dialog } from "./Dialog";
import { Markdown } from "./Markdown";

export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

export interface RowActions {
  canEdit: (m: Message) => boolean;
  canDelete: (m: Message) => boolean;
  canPin: boolean;
  canReact: boolean;
  canReply: boolean;
  names: (id: string) => string;
  roles: (id: string) => string;
  reply: (m: Message) => void;
  react: (m: Message, emoji: string, on: boolean) => void;
  whoReacted: (m: Message, emoji: string) => Promise<string[]>;
  edit: (m: Message, content: string) => Promise<void>;
  remove: (m: Message) => void;
  pin: (m: Message, on: boolean) => void;
}

// One formatter for every row: toLocaleTimeString builds a new one per call, which is what
// dominated mounting rows while scrolling fast.
const TIME = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });

function time(iso: string): string {
  return TIME.format(new Date(iso));
}

function Attachments({ attachments }: { attachments: Attachment[] }) {
  const [open, setOpen] = useState<Attachment | null>(null);
  return (
    <div className="mt-1 flex flex-wrap gap-2">
      {attachments.map((a) => {
        const thumb = a.thumbnails?.find((t) => t.size === 256) ?? a.thumbnails?.[0];
        if (thumb) {
          return (
            <button key={a.id} onClick={() => setOpen(a)} aria-label={`Open image ${a.filename}`} className="overflow-hidden rounded">
              <AuthImage path={thumb.url} alt={a.filename} width={thumb.width} height={thumb.height} className="max-h-64 max-w-full rounded" />
            </button>
          );
        }
        return (
          <a key={a.id} href={a.url} className="flex items-center gap-2 rounded border border-hover bg-panel px-3 py-2 text-sm" download={a.filename}>
            <span aria-hidden="true">📄</span>
            <span className="text-link underline">{a.filename}</span>
            <span className="text-muted">{Math.ceil(a.size / 1024)} KB</span>
          </a>
        );
      })}
      {open && (
        <Dialog title={open.filename} onClose={() => setOpen(null)} wide>
          <AuthImage
            path={(open.thumbnails?.find((t) => t.size === 1024) ?? open.thumbnails?.[0])?.url ?? open.url}
            alt={open.filename}
            className="mx-auto max-h-[75vh]"
          />
        </Dialog>
      )}
    </div>
  );
}

function Editor({ message, onSave, onCancel }: { message: Message; onSave: (content: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(message.content);
  function onKey(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Escape") onCancel();
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      if (value.trim()) onSave(value);
    }
  }
  return (
    <div>
      <textarea
        aria-label="Edit message"
        autoFocus
        value={value}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={onKey}
        className="w-full rounded bg-panel p-2"
        rows={2}
      />
      <p className="text-xs text-muted">
        Enter to <button className="text-link underline" onClick={() => value.trim() && onSave(value)}>save</button>, Escape to{" "}
        <button className="text-link underline" onClick={onCancel}>cancel</button>
      </p>
    </div>
  );
}

function MessageRowImpl({ message, actions, compact }: { message: Message; actions: RowActions; compact: boolean }) {
  const [editing, setEditing] = useState(false);
  const [picking, setPicking] = useState(false);
  const [who, setWho] = useState<Record<string, string>>({});
  // The actions toolbar exists only while the row is hovered or focused: most rows never are,
  // and without it a row is about half the DOM nodes (less to build and tear down per frame
  // when scrolling through thousands).
  const [active, setActive] = useState(false);
  const m = message;
  const loadWho = (emoji: string) =>
    void actions.whoReacted(m, emoji).then(
      (names) => setWho((w) => ({ ...w, [emoji]: names.join(", ") })),
      () => undefined,
    );
  const [revealed, setRevealed] = useState(false);
  const reply = m.reply_to;
  if (m.author_blocked && !revealed) {
    // Someone the reader blocked: collapsed (docs/api.md "author_blocked"), shown on request.
    return (
      <article aria-label="Blocked message" data-message-id={m.id} data-blocked="true" className={`px-4 ${compact ? "py-0.5" : "pt-3 pb-0.5"}`}>
        <p className="pl-11 text-sm italic text-muted">
          Blocked message —{" "}
          <button onClick={() => setRevealed(true)} className="text-link underline" aria-label="Show blocked message">
            show
          </button>
        </p>
      </article>
    );
  }
  return (
    <article
      aria-label={`${m.author.username} at ${time(m.created_at)}`}
      data-message-id={m.id}
      tabIndex={0}
      className={`group relative px-4 ${compact ? "py-0.5" : "pt-3 pb-0.5"} hover:bg-hover/40`}
      onMouseEnter={() => setActive(true)}
      onMouseLeave={() => setActive(false)}
      onFocus={() => setActive(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setActive(false);
      }}
    >
      {reply && (
        <p className="mb-0.5 truncate pl-10 text-xs text-muted" aria-label="Replying to">
          <span aria-hidden="true">↱ </span>
          {reply.author ? (
            <>
              <span className="font-semibold">@{reply.author.username}</span> {reply.content}
            </>
          ) : (
            <em>Original message was deleted</em>
          )}
        </p>
      )}
      <div className="flex gap-3">
        <div className="w-8 shrink-0">
          {!compact && <Avatar user={m.author} />}
        </div>
        <div className="min-w-0 flex-1">
          {!compact && (
            <h3 className="text-sm">
              <span className="font-semibold">{m.author.username}</span>{" "}
              <time className="text-xs text-muted" dateTime={m.created_at}>
                {time(m.created_at)}
              </time>
              {m.pinned && <span className="ml-2 text-xs text-muted">📌 pinned</span>}
            </h3>
          )}
          {editing ? (
            <Editor
              message={m}
              onCancel={() => setEditing(false)}
              onSave={(content) => void actions.edit(m, content).then(() => setEditing(false))}
            />
          ) : (
            m.content && (
              <div className="whitespace-pre-wrap break-words" data-testid="message-content">
                <Markdown text={m.content} names={actions.names} roles={actions.roles} />
                {m.edited_at && <span className="ml-1 text-xs text-muted">(edited)</span>}
              </div>
            )
          )}
          {m.attachments && m.attachments.length > 0 && <Attachments attachments={m.attachments} />}
          {m.reactions && m.reactions.length > 0 && (
            <ul className="mt-1 flex flex-wrap gap-1" aria-label="Reactions">
              {m.reactions.map((r) => (
                <li key={r.emoji}>
                  <button
                    aria-pressed={r.me}
                    aria-label={`${r.emoji} ${r.count} ${r.count === 1 ? "reaction" : "reactions"}${r.me ? ", including yours" : ""}`}
                    onClick={() => actions.react(m, r.emoji, !r.me)}
                    onMouseEnter={() => loadWho(r.emoji)}
                    onFocus={() => loadWho(r.emoji)}
                    title={who[r.emoji] ? `Reacted: ${who[r.emoji]}` : undefined}
                    aria-description={who[r.emoji] ? `by ${who[r.emoji]}` : undefined}
                    className={`rounded border px-1.5 text-sm ${r.me ? "border-accent bg-accent/20" : "border-transparent bg-panel"}`}
                  >
                    {r.emoji} <span>{r.count}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
      {!editing && (active || picking) && (
        <div
          role="toolbar"
          aria-label="Message actions"
          className="absolute -top-3 right-4 hidden gap-0.5 rounded border border-hover bg-panel p-0.5 text-sm shadow group-focus-within:flex group-hover:flex"
        >
          {actions.canReply && <ActionButton label="Reply" onClick={() => actions.reply(m)}>↩</ActionButton>}
          {actions.canReact && <ActionButton label="Add reaction" onClick={() => setPicking((v) => !v)}>☺</ActionButton>}
          {actions.canEdit(m) && <ActionButton label="Edit" onClick={() => setEditing(true)}>✎</ActionButton>}
          {actions.canPin && <ActionButton label={m.pinned ? "Unpin" : "Pin"} onClick={() => actions.pin(m, !m.pinned)}>📌</ActionButton>}
          {actions.canDelete(m) && <ActionButton label="Delete" onClick={() => actions.remove(m)}>🗑</ActionButton>}
        </div>
      )}
      {picking && (
        <div role="menu" aria-label="Pick a reaction" className="absolute right-4 top-6 z-10 flex gap-1 rounded bg-panel p-1 shadow-lg">
          {QUICK_EMOJI.map((emoji) => (
            <button
              key={emoji}
              role="menuitem"
              aria-label={`React with ${emoji}`}
              className="rounded px-1 text-lg hover:bg-hover"
              onClick={() => {
                setPicking(false);
                actions.react(m, emoji, true);
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      )}
    </article>
  );
}

function ActionButton({ label, onClick, children }: { label: string; onClick: () => void; children: string }) {
  return (
    <button aria-label={label} title={label} onClick={onClick} className="rounded px-1.5 py-0.5 hover:bg-hover">
      <span aria-hidden="true">{children}</span>
    </button>
  );
}

export const MessageRow = memo(MessageRowImpl);
