import { useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { useApp } from "./context";
import { Dialog } from "./Dialog";

function initials(name: string): string {
  return (
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => [...w][0])
      .join("")
      .toUpperCase() || "?"
  );
}

export function ServerRail() {
  const { state } = useApp();
  const { serverId } = useParams();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const servers = Object.values(state.servers);
  const home = !serverId || serverId === "@me";
  const dmUnread = state.dms.filter((dm) => state.unread[dm.id]).length;
  return (
    <nav aria-label="Servers" className="flex h-full w-[72px] flex-col items-center gap-2 overflow-y-auto bg-rail py-3">
      <div className="relative">
        <button
          aria-label="Home"
          aria-description={dmUnread > 0 ? `${dmUnread} unread direct ${dmUnread === 1 ? "message" : "messages"}` : undefined}
          aria-current={home ? "page" : undefined}
          title="Home: friends and direct messages"
          onClick={() => navigate("/channels/@me")}
          className={`flex h-12 w-12 items-center justify-center font-semibold transition-all ${
            home ? "rounded-2xl bg-accent text-white" : "rounded-3xl bg-panel hover:rounded-2xl hover:bg-accent hover:text-white"
          }`}
        >
          <span aria-hidden="true">✉</span>
        </button>
        {dmUnread > 0 && (
          <span aria-hidden="true" className="absolute -bottom-1 -right-1 rounded-full border-2 border-rail bg-red-700 px-1 text-xs text-white">
            {dmUnread}
          </span>
        )}
      </div>
      <hr aria-hidden="true" className="w-8 border-black/30" />
      <ul className="flex flex-col items-center gap-2">
        {servers.map((s) => (
          <li key={s.server.id} className="relative">
            {s.server.id !== serverId && s.channels.some((c) => state.unread[c.id]) && (
              <span aria-hidden="true" className="absolute -left-2 top-5 h-2 w-2 rounded-r bg-fg" />
            )}
            <button
              aria-label={s.server.name}
              aria-description={s.server.id !== serverId && s.channels.some((c) => state.unread[c.id]) ? "unread messages" : undefined}
              aria-current={s.server.id === serverId ? "page" : undefined}
              title={s.server.name}
              onClick={() => navigate(`/channels/${s.server.id}`)}
              className={`flex h-12 w-12 items-center justify-center overflow-hidden font-semibold transition-all ${
                s.server.id === serverId ? "rounded-2xl bg-accent text-white" : "rounded-3xl bg-panel hover:rounded-2xl hover:bg-accent hover:text-white"
              }`}
            >
              {s.server.icon_id ? (
                <img alt="" src={`/api/v1/media/public/${s.server.icon_id}/thumbnails/256`} className="h-full w-full object-cover" />
              ) : (
                initials(s.server.name)
              )}
            </button>
          </li>
        ))}
      </ul>
      <button
        aria-label="Create a server"
        title="Create a server"
        onClick={() => setCreating(true)}
        className="flex h-12 w-12 items-center justify-center rounded-3xl bg-panel text-2xl text-green-500 hover:rounded-2xl hover:bg-green-600 hover:text-white"
      >
        +
      </button>
      {creating && <CreateServer onClose={() => setCreating(false)} />}
    </nav>
  );
}

function CreateServer({ onClose }: { onClose: () => void }) {
  const { api, dispatch, state } = useApp();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get("name") ?? "").trim();
    try {
      const server = await api.createServer(name);
      if (!state.servers[server.id] && state.me) {
        const [channels, roles] = await Promise.all([api.channels(server.id), api.roles(server.id)]);
        dispatch({
          type: "joined-server",
          server: {
            server,
            channels,
            roles,
            member: { server_id: server.id, user: state.me, nickname: null, roles: [], joined_at: server.created_at },
            memberCount: 1,
          },
        });
      }
      onClose();
      navigate(`/channels/${server.id}`);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Could not create the server");
    }
  }
  return (
    <Dialog title="Create a server" onClose={onClose}>
      <form onSubmit={submit} className="space-y-3">
        <label className="block text-sm">
          <span className="mb-1 block text-muted">Server name</span>
          <input name="name" required maxLength={100} className="w-full rounded bg-bg px-3 py-2" />
        </label>
        {error && <p role="alert" className="text-sm text-danger">{error}</p>}
        <button className="w-full rounded bg-accent py-2 font-medium text-white">Create</button>
      </form>
    </Dialog>
  );
}
