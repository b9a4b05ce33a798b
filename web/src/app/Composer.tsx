import { useRef, useState, type DragEvent, type KeyboardEvent } from "react";
import { upload } from "../api/endpoints";
import type { ChannelView, MediaObject, MemberView, Message } from "../api/types";
import { Op } from "../gateway/protocol";
import { channelLabel } from "./labels";
import { useApp } from "./context";

const TYPING_EVERY_MS = 5_000;

function nonce(): string {
  return crypto.randomUUID();
}

interface Upload {
  file: File;
  progress: number;
  media: MediaObject | null;
  error: string | null;
  /** Settles when the upload is stored (null if it failed): a send waits for it. */
  done: Promise<MediaObject | null>;
}

export function Composer({
  channel,
  replyTo,
  onReplyDone,
  canAttach,
  members,
}: {
  channel: ChannelView;
  replyTo: Message | null;
  onReplyDone: () => void;
  canAttach: boolean;
  members: MemberView[];
}) {
  const { api, dispatch, gateway, session } = useApp();
  const [text, setText] = useState("");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const lastTyping = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);
  const [picked, setPicked] = useState(0);
  // "@ad" at the end of the text: suggest members whose name starts with it.
  const query = /(?:^|\s)@([A-Za-z0-9_.-]{0,32})$/.exec(text)?.[1];
  const suggestions =
    query === undefined
      ? []
      : members.filter((m) => m.user.username.toLowerCase().startsWith(query.toLowerCase())).slice(0, 8);

  function mention(member: MemberView) {
    setText((t) => t.replace(/@([A-Za-z0-9_.-]{0,32})$/, `<@${member.user.id}> `));
    setPicked(0);
  }

  function typing() {
    const now = Date.now();
    if (now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      gateway?.send(Op.TYPING, { channel_id: channel.id });
    }
  }

  function addFiles(files: FileList | File[]) {
    for (const file of Array.from(files).slice(0, 10)) {
      const update = (change: Partial<Upload>) =>
        setUploads((list) => list.map((u) => (u.file === file ? { ...u, ...change } : u)));
      const done = upload(session, file, (progress) => update({ progress })).then(
        (media) => {
          update({ media, progress: 1 });
          return media;
        },
        (error: Error) => {
          update({ error: error.message });
          return null;
        },
      );
      setUploads((list) => [...list, { file, progress: 0, media: null, error: null, done }]);
    }
  }

  async function send() {
    const content = text.trim();
    const attached = uploads.filter((u) => !u.error);
    if (!content && attached.length === 0) return;
    const id = nonce();
    const reply = replyTo;
    setText("");
    setUploads([]);
    onReplyDone();
    lastTyping.current = 0;
    const label = content || attached.map((u) => u.file.name).join(", ");
    dispatch({ type: "sending", channelId: channel.id, pending: { nonce: id, content: label, replyTo: reply, failed: false } });
    try {
      // Files still uploading are waited for: the message goes out once they are stored.
      const media = (await Promise.all(attached.map((u) => u.done))).filter((m): m is MediaObject => m !== null);
      if (!content && media.length === 0) throw new Error("nothing to send");
      const message = await api.send(channel.id, {
        ...(content ? { content } : {}),
        nonce: id,
        ...(reply ? { reply_to_id: reply.id } : {}),
        ...(media.length ? { attachments: media.map((m) => m.id) } : {}),
      });
      dispatch({ type: "sent", channelId: channel.id, message });
    } catch {
      dispatch({ type: "send-failed", channelId: channel.id, nonce: id });
    }
  }

  function onKey(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (suggestions.length > 0) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        setPicked((p) => (p + step + suggestions.length) % suggestions.length);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        mention(suggestions[Math.min(picked, suggestions.length - 1)]!);
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      void send();
    } else if (event.key === "Escape" && replyTo) {
      onReplyDone();
    }
  }

  function onDrop(event: DragEvent) {
    if (!canAttach || event.dataTransfer.files.length === 0) return;
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  }

  return (
    <div className="px-4 pb-4" onDragOver={(e) => canAttach && e.preventDefault()} onDrop={onDrop}>
      {replyTo && (
        <div className="flex items-center justify-between rounded-t bg-panel px-3 py-1 text-sm text-muted">
          <span className="truncate">
            Replying to <strong>@{replyTo.author.username}</strong>: {replyTo.content.slice(0, 80)}
          </span>
          <button aria-label="Cancel reply" onClick={onReplyDone} className="px-1">
            ×
          </button>
        </div>
      )}
      {uploads.length > 0 && (
        <ul aria-label="Attachments" className="flex flex-wrap gap-2 bg-panel p-2">
          {uploads.map((u) => (
            <li key={u.file.name + u.file.size} className="w-40 rounded bg-bg p-2 text-xs">
              <p className="truncate">{u.file.name}</p>
              {u.error ? (
                <p role="alert" className="text-danger">{u.error}</p>
              ) : u.media ? (
                <p className="text-muted">Ready</p>
              ) : (
                <progress aria-label={`Uploading ${u.file.name}`} max={1} value={u.progress} className="w-full" />
              )}
              <button className="text-muted underline" onClick={() => setUploads((l) => l.filter((x) => x !== u))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {suggestions.length > 0 && (
        <ul id="mention-suggestions" role="listbox" aria-label="Members to mention" className="rounded-t bg-panel p-1">
          {suggestions.map((m, i) => (
            <li
              key={m.user.id}
              id={`mention-${m.user.id}`}
              role="option"
              aria-selected={i === picked}
              onMouseDown={(e) => {
                e.preventDefault();
                mention(m);
              }}
              className={`cursor-pointer rounded px-2 py-1 text-sm ${i === picked ? "bg-hover" : ""}`}
            >
              @{m.user.username}
              {m.nickname && <span className="ml-2 text-muted">{m.nickname}</span>}
            </li>
          ))}
        </ul>
      )}
      <div className={`flex items-end gap-2 bg-panel px-3 py-2 ${replyTo || uploads.length ? "rounded-b" : "rounded"}`}>
        {canAttach && (
          <>
            <button aria-label="Attach files" onClick={() => fileInput.current?.click()} className="pb-1 text-xl text-muted hover:text-fg">
              +
            </button>
            <input
              ref={fileInput}
              type="file"
              multiple
              hidden
              data-testid="file-input"
              onChange={(e) => {
                if (e.target.files) addFiles(e.target.files);
                e.target.value = "";
              }}
            />
          </>
        )}
        <textarea
          id="composer"
          aria-label={`Message ${channelLabel(channel)}`}
          aria-autocomplete="list"
          aria-controls={suggestions.length > 0 ? "mention-suggestions" : undefined}
          aria-activedescendant={suggestions[picked] ? `mention-${suggestions[picked]!.user.id}` : undefined}
          placeholder={`Message ${channelLabel(channel)}`}
          rows={1}
          maxLength={4000}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value) typing();
          }}
          onKeyDown={onKey}
          className="max-h-40 flex-1 resize-none bg-transparent py-1 outline-none"
        />
        <button onClick={() => void send()} className="rounded bg-accent px-3 py-1 text-sm text-white">
          Send
        </button>
      </div>
    </div>
  );
}
