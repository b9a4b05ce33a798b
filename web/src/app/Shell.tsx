import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { Navigate, Route, Routes, useNavigate, useParams } from "react-router-dom";
import type { Session } from "../api/client";
import { api } from "../api/endpoints";
import { GatewayConnection, type GatewayStatus } from "../gateway/connection";
import type { Dispatch } from "../gateway/protocol";
import { initialState, reduce, type Action } from "../state/store";
import { ChannelPane } from "./ChannelPane";
import { AppContext, useApp, type AppContextValue, type VoiceControls } from "./context";
import { VoiceEngine, type VoiceView } from "../voice/engine";
import { myVoice } from "../state/voice";
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
  const engine = useRef<VoiceEngine | null>(null);
  const [voiceView, setVoiceView] = useState<VoiceView>({ peers: {}, speaking: new Set() });

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
      if (d.t === "voice.signal") void engine.current?.onSignal(d.d).catch(() => undefined);
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

  // Voice: one engine per gateway connection and user; it sends ops 12/13 on that connection.
  const meId = state.me?.id ?? null;
  useEffect(() => {
    if (!gateway || !meId) return;
    const voice = new VoiceEngine({
      me: meId,
      send: (op, d) => gateway.send(op, d),
      iceServers: () => client.iceServers(),
      onChange: setVoiceView,
    });
    engine.current = voice;
    window.__harmoniqVoice = voice;
    return () => {
      voice.stop();
      engine.current = null;
      delete window.__harmoniqVoice;
    };
  }, [gateway, client, meId]);
  const mine = myVoice(state.voice, meId ?? undefined, state.sessionId);
  const voiceChannelId = mine?.channel_id ?? null;
  const inMyChannel = voiceChannelId ? (state.voice[voiceChannelId] ?? []).map((v) => v.user_id).join(",") : "";
  useEffect(() => {
    if (voiceChannelId) engine.current?.sync(inMyChannel.split(",").filter(Boolean));
  }, [voiceChannelId, inMyChannel]);
  // The server dropped our voice state (kicked, moved out, connection lost): release the mic.
  const joinedOnce = useRef(false);
  useEffect(() => {
    if (voiceChannelId) joinedOnce.current = true;
    else if (joinedOnce.current) {
      joinedOnce.current = false;
      engine.current?.stop();
    }
  }, [voiceChannelId]);
  const selfMute = mine?.self_mute ?? false;
  const selfDeaf = mine?.self_deaf ?? false;
  const voice: VoiceControls = useMemo(
    () => ({
      join: (channelId: string) => {
        dispatch({ type: "voice-error", message: null });
        engine.current?.join(channelId, selfMute, selfDeaf).catch((error: unknown) => {
          dispatch({ type: "voice-error", message: error instanceof Error ? `Could not join voice: ${error.message}` : "Could not join voice" });
        });
      },
      leave: () => engine.current?.leave(),
      setMute: (on: boolean) => engine.current?.update(on, on ? selfDeaf : false),
      setDeaf: (on: boolean) => engine.current?.update(on ? true : selfMute, on),
      view: voiceView,
    }),
    [selfMute, selfDeaf, voiceView],
  );

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
    voice,
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
