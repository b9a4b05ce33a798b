import { describe, expect, it } from "vitest";
import {
  ANALYSER_SAMPLES,
  LEVEL_BLOCK,
  loudestLevel,
  offersTo,
  planPeers,
  rms,
  rtcConfig,
  SAMPLE_INTERVAL_MS,
  speakingAt,
  SPEAKING_RMS,
} from "./engine";
import { applyVoiceUpdate, myVoice, voiceFromReady } from "../state/voice";
import type { VoiceState } from "../api/types";

function vs(user: string, channel: string, extra: Partial<VoiceState> = {}): VoiceState {
  return { server_id: "1", channel_id: channel, user_id: user, session_id: `s${user}`, self_mute: false, self_deaf: false, mute: false, deaf: false, suppress: false, ...extra };
}

describe("voice states", () => {
  it("READY's states by channel, then joins, moves, mute changes in place, and leaves", () => {
    let v = voiceFromReady([vs("1", "A"), vs("2", "A"), vs("3", "B")]);
    expect(v["A"]!.map((s) => s.user_id)).toEqual(["1", "2"]);
    v = applyVoiceUpdate(v, { ...vs("4", "A"), previous_channel_id: null, reason: null });
    expect(v["A"]!.map((s) => s.user_id)).toEqual(["1", "2", "4"]);
    v = applyVoiceUpdate(v, { ...vs("1", "A", { self_mute: true }) });
    expect(v["A"]!.map((s) => s.user_id)).toEqual(["1", "2", "4"]);
    expect(v["A"]![0]!.self_mute).toBe(true);
    // A move: out of A, into B.
    v = applyVoiceUpdate(v, { ...vs("2", "B"), previous_channel_id: "A", reason: "moved" });
    expect(v["A"]!.map((s) => s.user_id)).toEqual(["1", "4"]);
    expect(v["B"]!.map((s) => s.user_id)).toEqual(["3", "2"]);
    // Leaving: channel_id null; an emptied channel goes from the map.
    v = applyVoiceUpdate(v, { ...vs("3", "B"), channel_id: null });
    v = applyVoiceUpdate(v, { ...vs("2", "B"), channel_id: null });
    expect(v["B"]).toBeUndefined();
    expect(myVoice(v, "1", "s1")?.channel_id).toBe("A");
    // The same user from another session is not "us in voice" here.
    expect(myVoice(v, "1", "other")).toBeNull();
  });
});

describe("the mesh", () => {
  it("opens a connection to each newcomer and closes those who left, never to ourselves", () => {
    expect(planPeers(["2", "3"], ["1", "3", "4"], "1")).toEqual({ add: ["4"], drop: ["2"] });
    expect(planPeers([], ["1"], "1")).toEqual({ add: [], drop: [] });
  });

  it("exactly one of each pair offers (ids compared as numbers)", () => {
    expect(offersTo("9", "10")).toBe(true);
    expect(offersTo("10", "9")).toBe(false);
  });

  it("uses the ICE servers the API gives, with credentials only where given", () => {
    const config = rtcConfig(
      {
        ice_servers: [
          { urls: ["stun:127.0.0.1:3478"], username: null, credential: null },
          { urls: ["turn:127.0.0.1:3478?transport=udp"], username: "1:2", credential: "c" },
        ],
        ttl_seconds: 60,
        expires_at: 1,
      },
      true,
    );
    expect(config.iceServers).toEqual([{ urls: ["stun:127.0.0.1:3478"] }, { urls: ["turn:127.0.0.1:3478?transport=udp"], username: "1:2", credential: "c" }]);
    expect(config.iceTransportPolicy).toBe("relay");
    expect(rtcConfig(null, false)).toEqual({ iceServers: [], iceTransportPolicy: "all" });
  });
});

describe("speaking", () => {
  it("silence is 128 everywhere; a loud wave is above the threshold", () => {
    expect(rms(new Uint8Array(512).fill(128))).toBe(0);
    const wave = Uint8Array.from({ length: 512 }, (_, i) => 128 + Math.round(40 * Math.sin(i / 5)));
    expect(rms(wave)).toBeGreaterThan(SPEAKING_RMS);
  });

  it("a 20 ms sound anywhere in a reading's window counts: the window covers the interval, judged per block", () => {
    expect((ANALYSER_SAMPLES / 48_000) * 1000).toBeGreaterThan(SAMPLE_INTERVAL_MS);
    const beepSamples = Math.round(0.02 * 48_000);
    for (const at of [0, 3000, ANALYSER_SAMPLES - beepSamples]) {
      const window = new Uint8Array(ANALYSER_SAMPLES).fill(128);
      for (let i = at; i < at + beepSamples; i++) window[i] = 128 + Math.round(40 * Math.sin(i / 5));
      expect(loudestLevel(window)).toBeGreaterThan(SPEAKING_RMS);
      expect(rms(window)).toBeLessThan(loudestLevel(window)); // averaged over the window, it fades
    }
    expect(loudestLevel(new Uint8Array(ANALYSER_SAMPLES).fill(128))).toBe(0);
    expect(loudestLevel(new Uint8Array(LEVEL_BLOCK + 1).fill(200))).toBeGreaterThan(0.5); // a short last block
  });

  it("lasts a moment after the last loud sample", () => {
    const last = new Map([["a", 1000], ["b", 500]]);
    expect([...speakingAt(last, 1100)]).toEqual(["a"]);
    expect([...speakingAt(last, 2000)]).toEqual([]);
  });
});
