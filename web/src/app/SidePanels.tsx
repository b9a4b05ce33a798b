import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router-dom";
import { ApiError } from "../api/client";
import type { ChannelView, Message } from "../api/types";
import type { ServerState } from "../state/store";
import { Op } from "../gateway/protocol";
import { useApp } from "./context";

function Panel({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  return (
    <aside aria-label={title} className="absolute inset-0 z-30 flex w-full flex-col bg-panel md:static md:w-80 md:border-l md:border-black/20">
      <header className="flex items-center justify-between px-3 py-2">
        <h2 className="font-semibold">{title}</h2>
        <button aria-label={`Close ${title.toLowerCase()}`} onClick={onClose} className="rounded px-2 text-xl text-muted hover:bg-hover">
          ×
        </button>
      </header>
      <div className="flex-1 overflow-y-auto px-3 pb-3">{children}</div>
    </aside>
  );
}

function Result({ message, channelName, onOpen }: { message: Message; channelName?: string; onOpen?: () => void }) {
  const [revealed, setRevealed] = useState(false);
  if (message.author_blocked && !revealed) {
    return (
      <li className="mb-2 rounded bg-bg p-2 text-sm italic text-muted">
        Blocked message —{" "}
        <button onClick={() => setRevealed(true)} className="text-link underline" aria-label="Show blocked message">
          show
        </button>
      </li>
    );
  }
  return (
    <li className="mb-2 rounded bg-bg p-2 text-sm">
      <p className="text-xs text-muted">
        <strong className="text-fg">{message.author.username}</strong>
        {channelName && ` in #${channelName}`} · {new Date(message.created_at).toLocaleString()}
      </p>
      <p className="whitespace-pre-wrap break-words">{message.content}</p>
      {onOpen && (
        <button onClick={onOpen} aria-label={`Jump to ${message.author.username}'s message`} className="text-xs text-link underline">
          Jump
        </button>
      )}
    </li>
  );
}

export function PinsPanel({ channel, onClose }: { channel: ChannelView; onClose: () => void }) {
  const { api, state } = useApp();
  const [pins, setPins] = useState<Message[] | null>(null);
  // Pinned flags change through the gateway: reload when any loaded message's flag does.
  const pinnedKey = (state.messages[channel.id]?.items ?? []).filter((m) => m.pinned).map((m) => m.id).join(",");
  useEffect(() => {
    api.pins(channel.id).then(setPins, () => setPins([]));
  }, [api, channel.id, pinnedKey]);
  return (
    <Panel title="Pinned messages" onClose={onClose}>
      {pins === null ? (
        <p role="status">Loading…</p>
      ) : pins.length === 0 ? (
        <p className="text-muted">No pinned messages yet.</p>
      ) : (
        <ul>{pins.map((m) => <Result key={m.id} message={m} />)}</ul>
      )}
    </Panel>
  );
}

export function SearchPanel({ server, onClose }: { server: ServerState; onClose: () => void }) {
  const { api } = useApp();
  const navigate = useNavigate();
  const [results, setResults] = useState<Message[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const names = new Map(server.channels.map((c) => [c.id, c.name]));
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const q = String(new FormData(event.currentTarget).get("q") ?? "").trim();
    if (!q) return;
    try {
      setResults((await api.search(server.server.id, q)).messages);
      setError(null);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Search failed");
    }
  }
  return (
    <Panel title="Search" onClose={onClose}>
      <form role="search" onSubmit={submit} className="mb-3 flex gap-1">
        <input type="search" name="q" aria-label="Search messages" placeholder="Search this server" maxLength={200} className="min-w-0 flex-1 rounded bg-bg px-2 py-1" />
        <button className="rounded bg-accent px-2 text-sm text-white">Go</button>
      </form>
      {error && <p role="alert" className="text-danger">{error}</p>}
      {results && (
        <>
          <p role="status" className="mb-2 text-xs text-muted">
            {results.length} {results.length === 1 ? "result" : "results"}
          </p>
          <ul aria-label="Search results">
            {results.map((m) => (
              <Result
                key={m.id}
                message={m}
                channelName={names.get(m.channel_id)}
                onOpen={() => navigate(`/channels/${server.server.id}/${m.channel_id}?m=${m.id}`)}
              />
            ))}
          </ul>
        </>
      )}
    </Panel>
  );
}

const DOT: Record<string, string> = {
  online: "bg-green-500",
  idle: "bg-yellow-400",
  dnd: "bg-red-600",
  offline: "bg-gray-500",
};

/** Who is in the server, online first. Presence of servers over 75 members comes only after
 * SUBSCRIBE_MEMBERS (op 8), whose pages are followed by their cursor. */
export function MembersPanel({ server, onClose }: { server: ServerState; onClose: () => void }) {
  const { api, state, dispatch, gateway } = useApp();
  const sid = server.server.id;
  useEffect(() => {
    let after = "0";
    let live = true;
    const load = async () => {
      for (;;) {
        const page = await api.members(sid, after);
        if (!live) return;
        dispatch({ type: "members", serverId: sid, members: page });
        if (page.length < 1000) return;
        after = page.at(-1)!.user.id;
      }
    };
    void load().catch(() => undefined);
    if (server.memberCount > 75) gateway?.send(Op.SUBSCRIBE_MEMBERS, { server_id: sid, subscribe: true });
    return () => {
      live = false;
      if (server.memberCount > 75) gateway?.send(Op.SUBSCRIBE_MEMBERS, { server_id: sid, subscribe: false });
    };
  }, [api, dispatch, gateway, sid, server.memberCount]);
  const members = Object.values(state.members[sid] ?? {});
  // Block or unblock a member from here (their messages collapse: MessageRow).
  const [blockError, setBlockError] = useState<string | null>(null);
  const toggleBlock = (userId: string, block: boolean) =>
    void (async () => {
      if (block) dispatch({ type: "relationship", relationship: await api.setRelationship(userId, "blocked") });
      else {
        await api.removeRelationship(userId);
        dispatch({ type: "relationship-removed", userId });
      }
      setBlockError(null);
    })().catch((caught: unknown) => setBlockError(caught instanceof ApiError ? caught.message : "Could not change the block"));
  const status = (id: string) => (id === state.me?.id ? "online" : (state.presence[id] ?? "offline"));
  const online = members.filter((m) => status(m.user.id) !== "offline");
  const offline = members.filter((m) => status(m.user.id) === "offline");
  const group = (title: string, list: typeof members) => (
    <section aria-label={`${title}, ${list.length}`} className="mb-3">
      <h3 className="mb-1 text-xs font-semibold uppercase text-muted">
        {title} — {list.length}
      </h3>
      <ul>
        {list.map((m) => (
          <li key={m.user.id} aria-label={m.user.username} className="flex items-center gap-2 py-1 text-sm">
            <span className="relative flex h-7 w-7 items-center justify-center rounded-full bg-accent text-xs text-white" aria-hidden="true">
              {[...m.user.username][0]?.toUpperCase()}
              <span className={`absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-panel ${DOT[status(m.user.id)]}`} />
            </span>
            <span className="truncate">{m.nickname ?? m.user.username}</span>
            <span className="sr-only">, {status(m.user.id)}</span>
            {m.user.id !== state.me?.id && (
              <button
                onClick={() => toggleBlock(m.user.id, state.relationships[m.user.id]?.kind !== "blocked")}
                className="ml-auto rounded px-1.5 text-xs text-muted hover:bg-hover hover:text-fg"
              >
                {state.relationships[m.user.id]?.kind === "blocked" ? "Unblock" : "Block"}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
  return (
    <Panel title="Members" onClose={onClose}>
      {blockError && (
        <p role="alert" className="mb-2 text-sm text-danger">
          {blockError}
        </p>
      )}
      {group("Online", online)}
      {group("Offline", offline)}
    </Panel>
  );
}
