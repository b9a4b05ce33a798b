import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { Navigate, Route, Routes, useNavigate, useParams } from "react-router-dom";
import type { Session } from "../api/client";
import { api } from "../api/endpoints";
import { GatewayConnection, type GatewayStatus } from "../gateway/connection";
import type { Dispatch } from "../gateway/protocol";
import { initialState, reduce, type Action } from "../state/store";
import { ChannelPane } from "./ChannelPane";
import { AppContext, useApp, type AppContextValue } from "./context";
import { ServerRail } from "./ServerRail";
import { ChannelSidebar } from "./ChannelSidebar";
import { DmPane, FriendsPage, HomeSidebar } from "./Home";
import { Loading } from "./App";

/** Dispatches after which the caller's visible channels may have changed: ask guilds again. */
const ACCESS_CHANGES = new Set(["role.updated", "role.deleted", "channel.updated"]);
/** Dispatches that change a server's channels or roles (a refresh asked before one is stale). */
const SERVER_VERSIONED = new Set([
  "channel.created",
  "channel.updated",
  "channel.deleted",
  "role.created",
  "role.updated",
  "role.deleted",
  "member.updated",
]);

function gatewayUrl(): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/gateway?encoding=json`;
}

declare global {
  interface Window {
    /** For the browser journeys: drop the gateway socket as a network failure would. */
    __harmoniqGateway?: GatewayConnection;
  }
}

export default function Shell({ session }: { session: Session }) {
  const [state, dispatch] = useReducer(reduce, initialState);
  const [status, setStatus] = useState<GatewayStatus>("connecting");
  const [gateway, setGateway] = useState<GatewayConnection | null>(null);
  const client = useMemo(() => api(session), [session]);
  const selfId = useRef<string | null>(session.userId);

  // Each server's count of channel/role events: a refresh whose answer was asked before the
  // latest one is stale (it could bring back a channel deleted meanwhile) and is asked again.
  const versions = useRef(new Map<string, number>());
  const refreshServer = useCallback(
    async (serverId: string) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const asked = versions.current.get(serverId) ?? 0;
        const [channels, roles] = await Promise.all([client.channels(serverId), client.roles(serverId)]);
        if ((versions.current.get(serverId) ?? 0) !== asked) continue;
        dispatch({ type: "channels", serverId, channels });
        dispatch({ type: "roles", serverId, roles });
        return;
      }
    },
    [client],
  );

  const addServer = useCallback(
    async (serverId: string) => {
      const [server, channels, roles, member] = await Promise.all([
        client.server(serverId),
        client.channels(serverId),
        client.roles(serverId),
        client.members(serverId).then((list) => list.find((m) => m.user.id === selfId.current)),
      ]);
      if (!member) return;
      dispatch({
        type: "joined-server",
        server: { server, channels, roles, member, memberCount: server.member_count },
      });
    },
    [client],
  );

  const onDispatch = useCallback(
    (d: Dispatch) => {
      dispatch({ type: "dispatch", dispatch: d, now: Date.now() });
      if (SERVER_VERSIONED.has(d.t)) {
        const sid = "channel" in d.d && "server_id" in d.d.channel ? d.d.channel.server_id : "role" in d.d ? d.d.role.server_id : "member" in d.d ? d.d.member.server_id : (d.d as { server_id: string }).server_id;
        versions.current.set(sid, (versions.current.get(sid) ?? 0) + 1);
      }
      if (d.t === "ready") selfId.current = d.d.user.id;
      if (d.t === "member.joined" && d.d.member.user.id === selfId.current) {
        void addServer(d.d.member.server_id).catch(() => undefined);
      }
      if (d.t === "member.updated" && d.d.member.user.id === selfId.current) {
        void refreshServer(d.d.member.server_id).catch(() => undefined);
      }
      if (ACCESS_CHANGES.has(d.t)) {
        const serverId = "role" in d.d ? d.d.role.server_id : "channel" in d.d && "server_id" in d.d.channel ? d.d.channel.server_id : (d.d as { server_id: string }).server_id;
        void refreshServer(serverId).catch(() => undefined);
      }
    },
    [addServer, refreshServer],
  );

  useEffect(() => {
    const connection = new GatewayConnection({
      url: gatewayUrl(),
      token: (force) => session.accessToken(force),
      onDispatch,
      onStatus: setStatus,
      onSessionEnded: () => session.end(),
    });
    connection.start();
    setGateway(connection);
    window.__harmoniqGateway = connection;
    return () => {
      connection.stop();
      delete window.__harmoniqGateway;
    };
  }, [session, onDispatch]);

  useEffect(() => {
    const timer = setInterval(() => dispatch({ type: "typing-expired", now: Date.now() }), 1000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    if (status === "ready") performance.mark("harmoniq:ready");
  }, [status]);

  const value: AppContextValue = {
    session,
    api: client,
    state,
    dispatch: dispatch as (a: Action) => void,
    gateway,
    status,
  };
  if (!state.me) return <Loading />;
  return (
    <AppContext.Provider value={value}>
      <Routes>
        <Route path=":serverId?/:channelId?" element={<Layout />} />
      </Routes>
    </AppContext.Provider>
  );
}

function Layout() {
  const { serverId, channelId } = useParams();
  const { state, dispatch, status } = useApp();
  const navigate = useNavigate();
  const [navOpen, setNavOpen] = useState(false);
  const home = !serverId || serverId === "@me";
  const server = serverId && !home ? state.servers[serverId] : undefined;
  const lost = state.lostServer;

  useEffect(() => {
    if (lost && lost === serverId) navigate("/channels", { replace: true });
  }, [lost, serverId, navigate]);

  if (!home && serverId && !server && !lost) {
    // Not (yet) one of ours: READY is in, so it is unknown or just joined; the list will show it.
    const first = Object.keys(state.servers)[0];
    if (!first) return <Navigate to="/channels" replace />;
  }
  if (server && !channelId) {
    const text = server.channels.find((c) => c.kind === "text");
    if (text) return <Navigate to={`/channels/${server.server.id}/${text.id}`} replace />;
  }
  const channel = server?.channels.find((c) => c.id === channelId);

  return (
    <div className="flex h-full overflow-hidden">
      <a href="#composer" className="sr-only-focusable absolute left-2 top-2 z-50 rounded bg-accent px-3 py-1 text-white">
        Skip to message box
      </a>
      <div className={`${navOpen ? "flex" : "hidden"} h-full md:flex`}>
        <ServerRail />
        {server ? (
          <ChannelSidebar server={server} activeChannelId={channelId ?? null} onNavigate={() => setNavOpen(false)} />
        ) : (
          <HomeSidebar activeDmId={home ? (channelId ?? null) : null} onNavigate={() => setNavOpen(false)} />
        )}
      </div>
      <main className="flex min-w-0 flex-1 flex-col bg-bg">
        {status !== "ready" && (
          <div role="status" className="bg-red-700 px-3 py-1 text-center text-sm text-white">
            {status === "reconnecting" ? "Reconnecting…" : status === "connecting" ? "Connecting…" : "Disconnected"}
          </div>
        )}
        {lost && (
          <div role="alert" className="flex items-center justify-between bg-danger/20 px-3 py-2 text-sm">
            <span>You are no longer a member of that server.</span>
            <button className="underline" onClick={() => dispatch({ type: "lost-seen" })}>
              Dismiss
            </button>
          </div>
        )}
        <div className="flex items-center gap-2 border-b border-black/20 px-2 py-2 md:hidden">
          <button aria-label="Open navigation" aria-expanded={navOpen} onClick={() => setNavOpen((v) => !v)} className="rounded px-2 py-1 hover:bg-hover">
            ☰
          </button>
          <span className="truncate font-semibold">{channel ? `# ${channel.name}` : "Harmoniq"}</span>
        </div>
        {home && channelId ? (
          <DmPane key={channelId} dmId={channelId} />
        ) : home ? (
          <FriendsPage />
        ) : server && channel && channel.kind === "text" ? (
          <ChannelPane key={channel.id} server={server} channel={channel} />
        ) : (
          <Welcome />
        )}
      </main>
    </div>
  );
}

function Welcome() {
  const { state } = useApp();
  const none = Object.keys(state.servers).length === 0;
  return (
    <div className="flex flex-1 items-center justify-center p-6 text-center text-muted">
      <p>{none ? "You are in no server yet: create one, or open an invite link." : "Pick a channel."}</p>
    </div>
  );
}
