import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GatewayConnection } from "./connection";
import { Op, type Dispatch } from "./protocol";

/** A WebSocket stand-in: records what the client sends, lets the test play the server. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 1;
  sent: { op: number; d: unknown }[] = [];
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as { op: number; d: unknown });
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  server(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup(tokens: (string | null)[] = ["t1", "t2", "t3"]) {
  const dispatches: Dispatch[] = [];
  const ended = vi.fn();
  const token = vi.fn(async () => (tokens.length > 1 ? tokens.shift()! : tokens[0]!));
  const connection = new GatewayConnection({
    url: "ws://test/gateway",
    token,
    onDispatch: (d) => dispatches.push(d),
    onSessionEnded: ended,
    socket: (url) => new FakeSocket(url) as unknown as WebSocket,
  });
  return { connection, dispatches, ended, token };
}

const READY = { session_id: "s1", user: { id: "1", username: "ada" }, servers: [], presences: [], v: 1 };

describe("GatewayConnection", () => {
  beforeEach(() => {
    FakeSocket.all = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("identifies after HELLO and heartbeats with the last sequence", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "setTimeout"] });
    const { connection } = setup();
    connection.start();
    const ws = FakeSocket.all[0]!;
    ws.server({ op: Op.HELLO, d: { heartbeat_interval: 1000 } });
    await vi.waitFor(() => expect(ws.sent[0]).toMatchObject({ op: Op.IDENTIFY, d: { token: "t1" } }));
    ws.server({ op: Op.DISPATCH, t: "ready", s: 10, d: READY });
    vi.advanceTimersByTime(1000);
    expect(ws.sent.at(-1)).toEqual({ op: Op.HEARTBEAT, d: 10 });
    connection.stop();
  });

  it("resumes after a drop with the session and last sequence, and drops replayed duplicates", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "setTimeout"] });
    const { connection, dispatches } = setup();
    connection.start();
    const first = FakeSocket.all[0]!;
    first.server({ op: Op.HELLO, d: { heartbeat_interval: 40_000 } });
    await vi.waitFor(() => expect(first.sent.length).toBe(1));
    first.server({ op: Op.DISPATCH, t: "ready", s: 10, d: READY });
    first.server({ op: Op.DISPATCH, t: "message.delete", s: 11, d: { message_id: "5" } });
    first.close(1006); // the network dropped
    vi.advanceTimersByTime(600);
    const second = FakeSocket.all[1]!;
    second.server({ op: Op.HELLO, d: { heartbeat_interval: 40_000 } });
    await vi.waitFor(() => expect(second.sent.length).toBe(1));
    expect(second.sent[0]).toEqual({ op: Op.RESUME, d: { token: "t2", session_id: "s1", seq: 11 } });
    second.server({ op: Op.DISPATCH, t: "resumed", s: 11, d: {} });
    // The replay overlaps what already arrived: 11 is not applied twice, 12 is new.
    second.server({ op: Op.DISPATCH, t: "message.delete", s: 11, d: { message_id: "5" } });
    second.server({ op: Op.DISPATCH, t: "message.delete", s: 12, d: { message_id: "6" } });
    expect(dispatches.map((d) => [d.t, d.s])).toEqual([
      ["ready", 10],
      ["message.delete", 11],
      ["message.delete", 12],
    ]);
    connection.stop();
  });

  it("identifies afresh after INVALID_SESSION", async () => {
    const { connection } = setup();
    connection.start();
    const ws = FakeSocket.all[0]!;
    ws.server({ op: Op.HELLO, d: { heartbeat_interval: 40_000 } });
    await flush();
    ws.server({ op: Op.INVALID_SESSION, d: false });
    await flush();
    expect(ws.sent.map((f) => f.op)).toEqual([Op.IDENTIFY, Op.IDENTIFY]);
    connection.stop();
  });

  it("ends the session when the token is refused twice, or revoked", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "setTimeout"] });
    const { connection, ended, token } = setup();
    connection.start();
    FakeSocket.all[0]!.close(4004);
    expect(ended).not.toHaveBeenCalled();
    vi.advanceTimersByTime(600);
    const second = FakeSocket.all[1]!;
    second.server({ op: Op.HELLO, d: { heartbeat_interval: 40_000 } });
    await vi.waitFor(() => expect(second.sent.length).toBe(1));
    expect(token).toHaveBeenLastCalledWith(true); // a refreshed token, not the refused one
    second.close(4004);
    expect(ended).toHaveBeenCalledTimes(1);

    const revoked = setup();
    revoked.connection.start();
    FakeSocket.all.at(-1)!.close(4012);
    expect(revoked.ended).toHaveBeenCalledTimes(1);
  });
});
