// Who is in which voice channel: READY's `voice_states`, then `voice.state_update` as it
// comes (a user is in at most one voice channel: an update moves them, `channel_id` null
// removes them). Lists keep the order people joined in.
import type { VoiceState } from "../api/types";
import type { VoiceStateEvent } from "../gateway/protocol";

export type VoiceChannels = Record<string, VoiceState[]>;

export function voiceFromReady(states: VoiceState[]): VoiceChannels {
  const out: VoiceChannels = {};
  for (const s of states) (out[s.channel_id] ??= []).push(s);
  return out;
}

export function applyVoiceUpdate(channels: VoiceChannels, event: VoiceStateEvent): VoiceChannels {
  const next: VoiceChannels = {};
  let was: number | null = null;
  for (const [channelId, list] of Object.entries(channels)) {
    const i = list.findIndex((s) => s.user_id === event.user_id);
    if (i !== -1 && channelId === event.channel_id) was = i;
    const kept = i === -1 ? list : list.filter((s) => s.user_id !== event.user_id);
    if (kept.length > 0) next[channelId] = kept;
  }
  if (event.channel_id) {
    const { previous_channel_id: _p, reason: _r, ...rest } = event;
    void _p;
    void _r;
    const state: VoiceState = { ...rest, channel_id: event.channel_id };
    const list = [...(next[event.channel_id] ?? [])];
    // A change of mute/deafen keeps its place; a join goes last.
    if (was !== null) list.splice(was, 0, state);
    else list.push(state);
    next[event.channel_id] = list;
  }
  return next;
}

/** The voice state of this session (it joined), if any. */
export function myVoice(channels: VoiceChannels, userId: string | undefined, sessionId: string | null): VoiceState | null {
  if (!userId || !sessionId) return null;
  for (const list of Object.values(channels)) {
    const s = list.find((v) => v.user_id === userId && v.session_id === sessionId);
    if (s) return s;
  }
  return null;
}
