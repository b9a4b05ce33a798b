// Voice in the sidebar: each voice channel with who is in it (speaking, muted, deafened), and
// while connected a panel to mute, deafen and disconnect, with each peer connection's state.
import type { ChannelView } from "../api/types";
import { has, P } from "../state/permissions";
import type { ServerState } from "../state/store";
import { myVoice } from "../state/voice";
import { Avatar } from "./Avatar";
import { useApp } from "./context";
import { channelPerms } from "./perms";

export function VoiceChannelItem({ channel, server }: { channel: ChannelView; server: ServerState }) {
  const { state, voice } = useApp();
  const me = state.me!;
  const present = state.voice[channel.id] ?? [];
  const mine = myVoice(state.voice, me.id, state.sessionId);
  const here = mine?.channel_id === channel.id;
  const canConnect = has(channelPerms(server, channel, me.id), P.CONNECT);
  const names = state.members[server.server.id];
  const nameOf = (id: string) => (id === me.id ? me.username : (names?.[id]?.user.username ?? "someone"));
  return (
    <div>
      <button
        onClick={() => !here && voice.join(channel.id)}
        disabled={!canConnect}
        aria-description={here ? "voice channel, connected" : "voice channel: join"}
        className={`flex w-full items-center rounded px-2 py-1 text-left ${here ? "bg-hover text-fg" : "text-muted hover:bg-hover hover:text-fg"} disabled:opacity-50`}
      >
        <span aria-hidden="true" className="mr-1">
          🔊
        </span>
        <span className="min-w-0 flex-1 truncate">{channel.name}</span>
      </button>
      {present.length > 0 && (
        <ul aria-label={`In ${channel.name}`} className="ml-6">
          {present.map((v) => {
            const speaking = voice.view.speaking.has(v.user_id) && !(v.self_mute || v.mute);
            const name = nameOf(v.user_id);
            const muted = v.self_mute || v.mute || v.suppress;
            const deaf = v.self_deaf || v.deaf;
            return (
              <li
                key={v.user_id}
                aria-label={name}
                aria-description={[speaking && "speaking", muted && "muted", deaf && "deafened"].filter(Boolean).join(", ") || undefined}
                data-speaking={speaking ? "true" : "false"}
                className="flex items-center gap-2 py-0.5 text-sm text-muted"
              >
                <span className={`rounded-full ${speaking ? "ring-2 ring-green-500" : ""}`} aria-hidden="true">
                  <Avatar user={{ username: name }} size={20} />
                </span>
                <span className="min-w-0 flex-1 truncate">{name}</span>
                {muted && <span aria-hidden="true" title="Muted">🎙̸</span>}
                {deaf && <span aria-hidden="true" title="Deafened">🔇</span>}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** Shown wherever the sidebar is (a server's, or Home) while this session is in voice. */
export function VoicePanel() {
  const { state, voice } = useApp();
  const me = state.me!;
  const mine = myVoice(state.voice, me.id, state.sessionId);
  const error = state.voiceError;
  if (!mine && !error) return null;
  const server = mine ? state.servers[mine.server_id] : undefined;
  const channel = mine ? server?.channels.find((c) => c.id === mine.channel_id) : undefined;
  const names = mine ? state.members[mine.server_id] : undefined;
  return (
    <section aria-label="Voice" className="border-t border-black/20 bg-rail/40 px-2 py-2 text-sm">
      {error && (
        <p role="alert" className="mb-1 text-danger">
          {error}
        </p>
      )}
      {mine && (
        <>
          <p className="font-semibold text-green-500">Voice connected</p>
          <p className="truncate text-xs text-muted">{channel && server ? `${channel.name} / ${server.server.name}` : "a voice channel"}</p>
          <ul aria-label="Voice connections" className="my-1 text-xs text-muted">
            {Object.entries(voice.view.peers).map(([id, pcState]) => (
              <li key={id} aria-label={`${names?.[id]?.user.username ?? id}: ${pcState}`} data-peer-state={pcState}>
                {names?.[id]?.user.username ?? "someone"}: {pcState}
              </li>
            ))}
          </ul>
          <div className="flex gap-1">
            <button aria-pressed={mine.self_mute} onClick={() => voice.setMute(!mine.self_mute)} className="rounded px-2 py-1 hover:bg-hover">
              Mute
            </button>
            <button aria-pressed={mine.self_deaf} onClick={() => voice.setDeaf(!mine.self_deaf)} className="rounded px-2 py-1 hover:bg-hover">
              Deafen
            </button>
            <button onClick={() => voice.leave()} className="ml-auto rounded px-2 py-1 text-danger hover:bg-hover">
              Disconnect
            </button>
          </div>
        </>
      )}
    </section>
  );
}
