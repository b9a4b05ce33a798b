// Voice in the browser: a WebRTC mesh (one RTCPeerConnection per other person in the channel)
// with the ICE servers the voice service gives, signalled over the gateway (op 13 out,
// `voice.signal` in), and a speaking indicator from a WebAudio AnalyserNode on each stream.
//
// Who offers: of each pair, the one with the lower user id (compared as numbers), so two
// people never offer to each other at once. The other side answers when the offer comes.
// Candidates are trickled; those arriving before the remote description wait for it.
import type { IceServers } from "../api/types";
import { Op, type OpCode, type VoiceSignal } from "../gateway/protocol";
import { compareIds } from "../state/messages";

/** The level (RMS of the time-domain samples, 0..1) above which someone is speaking. */
export const SPEAKING_RMS = 0.02;
/** Speaking lasts this long after the last loud sample (no flicker between syllables). */
export const SPEAKING_HOLD_MS = 400;
/** How often the levels are read. */
export const SAMPLE_INTERVAL_MS = 100;
/** Samples the analyser keeps: 8192 at 48 kHz is 170 ms, more than an interval (with room
 *  for a late timer), so no sound falls between two readings. A 512-sample window read every
 *  100 ms heard a tenth of the time: a short sound (a word's first syllable, Chromium's 20 ms
 *  test beep every 500 ms) could go unseen for as long as the timer's phase held. */
export const ANALYSER_SAMPLES = 8192;
/** Loudness is judged per block of this many samples (~10 ms): a short sound in a long window
 *  is not averaged away. */
export const LEVEL_BLOCK = 512;

/** Who is speaking at `now`, from when each was last heard above the threshold. */
export function speakingAt(lastLoud: Map<string, number>, now: number): Set<string> {
  return new Set([...lastLoud].filter(([, at]) => now - at < SPEAKING_HOLD_MS).map(([id]) => id));
}

/** Root mean square of 8-bit time-domain samples centred on 128 (AnalyserNode's bytes). */
export function rms(samples: Uint8Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const v of samples) {
    const x = (v - 128) / 128;
    sum += x * x;
  }
  return Math.sqrt(sum / samples.length);
}

/** The loudest block's RMS in a window of samples (see LEVEL_BLOCK). */
export function loudestLevel(samples: Uint8Array, block = LEVEL_BLOCK): number {
  let loudest = 0;
  for (let start = 0; start < samples.length; start += block) {
    loudest = Math.max(loudest, rms(samples.subarray(start, start + block)));
  }
  return loudest;
}

/** Which peer connections to open and which to close, for who is in the channel now. */
export function planPeers(open: Iterable<string>, inChannel: Iterable<string>, me: string): { add: string[]; drop: string[] } {
  const have = new Set(open);
  const want = new Set([...inChannel].filter((id) => id !== me));
  return { add: [...want].filter((id) => !have.has(id)), drop: [...have].filter((id) => !want.has(id)) };
}

/** Of a pair, the lower id makes the offer. */
export function offersTo(me: string, peer: string): boolean {
  return compareIds(me, peer) < 0;
}

export function rtcConfig(ice: IceServers | null, relayOnly: boolean): RTCConfiguration {
  const iceServers: RTCIceServer[] = (ice?.ice_servers ?? []).map((s) => ({
    urls: s.urls,
    ...(s.username ? { username: s.username } : {}),
    ...(s.credential ? { credential: s.credential } : {}),
  }));
  return { iceServers, iceTransportPolicy: relayOnly ? "relay" : "all" };
}

export interface VoiceView {
  /** user id → the peer connection's state ("new", "connecting", "connected", …). */
  peers: Record<string, RTCPeerConnectionState>;
  /** user ids speaking now (the caller's own id included). */
  speaking: Set<string>;
}

interface Peer {
  pc: RTCPeerConnection;
  pendingCandidates: RTCIceCandidateInit[];
  audio: HTMLAudioElement | null;
  analyser: AnalyserNode | null;
}

interface Options {
  me: string;
  send: (op: OpCode, d: unknown) => void;
  iceServers: () => Promise<IceServers | null>;
  onChange: (view: VoiceView) => void;
}

declare global {
  interface Window {
    /** For the browser journeys: only TURN relay candidates (proves the relay path). */
    __harmoniqVoiceRelayOnly?: boolean;
    __harmoniqVoice?: VoiceEngine;
  }
}

export class VoiceEngine {
  private readonly opts: Options;
  private readonly peers = new Map<string, Peer>();
  private stream: MediaStream | null = null;
  private config: RTCConfiguration | null = null;
  private audioContext: AudioContext | null = null;
  private localAnalyser: AnalyserNode | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Where each reading's samples land (one for all analysers, not 8 KiB every 100 ms). */
  private readonly samples = new Uint8Array(ANALYSER_SAMPLES);
  private speaking = new Set<string>();
  private readonly lastLoud = new Map<string, number>();
  private deafened = false;
  private channelId: string | null = null;

  constructor(opts: Options) {
    this.opts = opts;
  }

  /** Join (or move to) a voice channel: microphone, ICE servers, then op 12. */
  async join(channelId: string, selfMute: boolean, selfDeaf: boolean): Promise<void> {
    if (!this.stream) {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      this.localAnalyser = this.analyse(this.stream);
    }
    if (!this.config) this.config = rtcConfig(await this.opts.iceServers().catch(() => null), window.__harmoniqVoiceRelayOnly === true);
    if (this.channelId && this.channelId !== channelId) this.closePeers();
    this.channelId = channelId;
    this.setMuted(selfMute);
    this.setDeafened(selfDeaf);
    this.opts.send(Op.VOICE_STATE_UPDATE, { channel_id: channelId, self_mute: selfMute, self_deaf: selfDeaf });
    this.timer ??= setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  update(selfMute: boolean, selfDeaf: boolean): void {
    if (!this.channelId) return;
    this.setMuted(selfMute);
    this.setDeafened(selfDeaf);
    this.opts.send(Op.VOICE_STATE_UPDATE, { channel_id: this.channelId, self_mute: selfMute, self_deaf: selfDeaf });
  }

  leave(): void {
    if (this.channelId) this.opts.send(Op.VOICE_STATE_UPDATE, { channel_id: null });
    this.stop();
  }

  /** Release everything (the connection ended: the server has dropped our voice state). */
  stop(): void {
    this.channelId = null;
    this.closePeers();
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.localAnalyser = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.audioContext?.close().catch(() => undefined);
    this.audioContext = null;
    this.config = null;
    this.speaking = new Set();
    this.lastLoud.clear();
    this.emit();
  }

  /** Who is in our channel now (from the voice states): connect to the new, drop the gone. */
  sync(inChannel: string[]): void {
    if (!this.channelId || !this.stream) return;
    const { add, drop } = planPeers(this.peers.keys(), inChannel, this.opts.me);
    for (const id of drop) this.closePeer(id);
    for (const id of add) {
      if (offersTo(this.opts.me, id)) void this.offer(id);
    }
  }

  async onSignal(signal: VoiceSignal): Promise<void> {
    if (!this.channelId || !this.stream || signal.channel_id !== this.channelId) return;
    const from = signal.from_user_id;
    if (signal.kind === "offer" && signal.sdp) {
      const peer = this.peers.get(from) ?? this.open(from);
      await peer.pc.setRemoteDescription({ type: "offer", sdp: signal.sdp });
      await this.flushCandidates(peer);
      const answer = await peer.pc.createAnswer();
      await peer.pc.setLocalDescription(answer);
      this.opts.send(Op.VOICE_SIGNAL, { to_user_id: from, kind: "answer", sdp: answer.sdp });
    } else if (signal.kind === "answer" && signal.sdp) {
      const peer = this.peers.get(from);
      if (!peer) return;
      await peer.pc.setRemoteDescription({ type: "answer", sdp: signal.sdp });
      await this.flushCandidates(peer);
    } else if (signal.kind === "candidate" && signal.candidate) {
      const peer = this.peers.get(from) ?? this.open(from);
      const init: RTCIceCandidateInit = {
        candidate: signal.candidate,
        sdpMid: signal.sdp_mid ?? null,
        sdpMLineIndex: signal.sdp_mline_index ?? null,
      };
      if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(init).catch(() => undefined);
      else peer.pendingCandidates.push(init);
    }
  }

  peerIds(): string[] {
    return [...this.peers.keys()];
  }

  /** The type of the local candidate of the pair in use with a peer ("host", "relay", …). */
  async candidateType(userId: string): Promise<string | null> {
    const pc = this.peers.get(userId)?.pc;
    if (!pc) return null;
    const stats = await pc.getStats();
    // The transport names the pair in use; before it does, a nominated, succeeded pair.
    let selected: string | null = null;
    stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
      if (s.type === "transport" && s.selectedCandidatePairId) selected = s.selectedCandidatePairId;
    });
    let pairLocal: string | null = null;
    stats.forEach((s: { id: string; type: string; nominated?: boolean; state?: string; localCandidateId?: string }) => {
      if (s.type !== "candidate-pair") return;
      if (selected ? s.id === selected : s.nominated && s.state === "succeeded") pairLocal = s.localCandidateId ?? null;
    });
    if (!pairLocal) return null;
    const local = stats.get(pairLocal) as { candidateType?: string } | undefined;
    return local?.candidateType ?? null;
  }

  private async offer(peerId: string): Promise<void> {
    const peer = this.open(peerId);
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    this.opts.send(Op.VOICE_SIGNAL, { to_user_id: peerId, kind: "offer", sdp: offer.sdp });
  }

  private open(peerId: string): Peer {
    const pc = new RTCPeerConnection(this.config ?? {});
    const peer: Peer = { pc, pendingCandidates: [], audio: null, analyser: null };
    this.peers.set(peerId, peer);
    for (const track of this.stream?.getTracks() ?? []) pc.addTrack(track, this.stream!);
    pc.onicecandidate = (event) => {
      if (!event.candidate?.candidate) return;
      this.opts.send(Op.VOICE_SIGNAL, {
        to_user_id: peerId,
        kind: "candidate",
        candidate: event.candidate.candidate,
        sdp_mid: event.candidate.sdpMid,
        sdp_mline_index: event.candidate.sdpMLineIndex,
      });
    };
    pc.ontrack = (event) => {
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      const audio = new Audio();
      audio.autoplay = true;
      audio.srcObject = stream;
      audio.muted = this.deafened;
      void audio.play().catch(() => undefined);
      peer.audio = audio;
      peer.analyser = this.analyse(stream);
    };
    pc.onconnectionstatechange = () => this.emit();
    this.emit();
    return peer;
  }

  private async flushCandidates(peer: Peer): Promise<void> {
    const waiting = peer.pendingCandidates.splice(0);
    for (const c of waiting) await peer.pc.addIceCandidate(c).catch(() => undefined);
  }

  private closePeer(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    peer.pc.close();
    if (peer.audio) peer.audio.srcObject = null;
    this.peers.delete(peerId);
    this.speaking.delete(peerId);
    this.lastLoud.delete(peerId);
    this.emit();
  }

  private closePeers(): void {
    for (const id of [...this.peers.keys()]) this.closePeer(id);
  }

  private setMuted(muted: boolean): void {
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = !muted;
  }

  private setDeafened(deafened: boolean): void {
    this.deafened = deafened;
    for (const peer of this.peers.values()) if (peer.audio) peer.audio.muted = deafened;
  }

  private analyse(stream: MediaStream): AnalyserNode | null {
    try {
      this.audioContext ??= new AudioContext();
      const analyser = this.audioContext.createAnalyser();
      analyser.fftSize = ANALYSER_SAMPLES;
      this.audioContext.createMediaStreamSource(stream).connect(analyser);
      return analyser;
    } catch {
      return null;
    }
  }

  private sample(): void {
    const at = performance.now();
    const level = (analyser: AnalyserNode | null) => {
      if (!analyser) return 0;
      analyser.getByteTimeDomainData(this.samples);
      return loudestLevel(this.samples);
    };
    const localLive = this.stream?.getAudioTracks().some((t) => t.enabled) ?? false;
    if (localLive && level(this.localAnalyser) > SPEAKING_RMS) this.lastLoud.set(this.opts.me, at);
    for (const [id, peer] of this.peers) if (level(peer.analyser) > SPEAKING_RMS) this.lastLoud.set(id, at);
    const now = speakingAt(this.lastLoud, at);
    const changed = now.size !== this.speaking.size || [...now].some((id) => !this.speaking.has(id));
    this.speaking = now;
    if (changed) this.emit();
  }

  private emit(): void {
    const peers: Record<string, RTCPeerConnectionState> = {};
    for (const [id, peer] of this.peers) peers[id] = peer.pc.connectionState;
    this.opts.onChange({ peers, speaking: new Set(this.speaking) });
  }
}
