// One gateway connection with its session: HELLO → IDENTIFY (or RESUME) → dispatches, with
// heartbeats, and on a drop a reconnect that RESUMEs so nothing is missed.
//
// States: idle → connecting → (HELLO) → identifying | resuming → ready → … → closed.
// A resumable close (docs/api.md, close codes) reconnects with a growing delay (0.5 s up to
// 10 s) and RESUMEs with the last `s`; INVALID_SESSION or a session older than the server keeps
// starts afresh with IDENTIFY (and READY replaces the state). A refused token (4004) is
// refreshed once; refused again, or revoked (4012), ends the session (the app shows login).
// Each dispatch's `s` only grows within a session: one at or below the last seen is a
// duplicate and is dropped here, so a replay overlapping what already arrived shows nothing
// twice.
import { AUTH_CLOSE, FATAL_CLOSE, Op, type Dispatch, type Frame } from "./protocol";

export interface GatewayOptions {
  url: string;
  token: (force: boolean) => Promise<string | null>;
  onDispatch: (dispatch: Dispatch) => void;
  onStatus?: (status: GatewayStatus) => void;
  onSessionEnded: () => void;
  /** For tests: the WebSocket constructor. */
  socket?: (url: string) => WebSocket;
}

export type GatewayStatus = "connecting" | "ready" | "reconnecting" | "closed";

export class GatewayConnection {
  private ws: WebSocket | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private attempts = 0;
  private sessionId: string | null = null;
  private seq: number | null = null;
  private authFailures = 0;
  private stopped = false;
  private acked = true;

  constructor(private readonly options: GatewayOptions) {}

  get lastSequence(): number | null {
    return this.seq;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.ws?.close(1000);
    this.ws = null;
    this.options.onStatus?.("closed");
  }

  /** Drop the socket as a network failure would (tests and the "reconnect" button). */
  drop(): void {
    this.ws?.close(4000);
  }

  send(op: OpCode, d: unknown): void {
    if (this.ws?.readyState === 1 /* OPEN */) this.ws.send(JSON.stringify({ op, d }));
  }

  private open(): void {
    this.options.onStatus?.(this.attempts === 0 ? "connecting" : "reconnecting");
    const ws = this.options.socket ? this.options.socket(this.options.url) : new WebSocket(this.options.url);
    this.ws = ws;
    ws.onmessage = (event) => {
      if (typeof event.data === "string") void this.receive(JSON.parse(event.data) as Frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      this.closed(event.code);
    };
  }

  private closed(code: number): void {
    if (this.stopped) return;
    if (AUTH_CLOSE.has(code)) {
      this.sessionId = null;
      this.authFailures += 1;
      if (code === 4012 || this.authFailures > 1) {
        this.stopped = true;
        this.options.onStatus?.("closed");
        this.options.onSessionEnded();
        return;
      }
    } else if (FATAL_CLOSE.has(code)) {
      this.sessionId = null;
    }
    const delay = Math.min(10_000, 500 * 2 ** this.attempts);
    this.attempts += 1;
    this.options.onStatus?.("reconnecting");
    this.retry = setTimeout(() => this.open(), delay);
  }

  private clearTimers(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.retry) clearTimeout(this.retry);
    this.heartbeat = null;
    this.retry = null;
  }

  private async receive(frame: Frame): Promise<void> {
    switch (frame.op) {
      case Op.HELLO:
        this.startHeartbeat((frame.d as { heartbeat_interval: number }).heartbeat_interval);
        await this.hello();
        return;
      case Op.HEARTBEAT_ACK:
        this.acked = true;
        return;
      case Op.HEARTBEAT:
        this.send(Op.HEARTBEAT, this.seq);
        return;
      case Op.RECONNECT:
        this.ws?.close(4000);
        return;
      case Op.INVALID_SESSION:
        this.sessionId = null;
        this.seq = null;
        await this.identify(false);
        return;
      case Op.DISPATCH:
        this.dispatch(frame);
        return;
      default:
        return;
    }
  }

  private dispatch(frame: Frame): void {
    const s = frame.s ?? null;
    if (s !== null && this.seq !== null && s <= this.seq && frame.t !== "ready") return;
    if (s !== null) this.seq = s;
    if (frame.t === "ready") {
      this.sessionId = (frame.d as { session_id: string }).session_id;
    }
    if (frame.t === "ready" || frame.t === "resumed") {
      this.attempts = 0;
      this.authFailures = 0;
      this.options.onStatus?.("ready");
    }
    this.options.onDispatch({ t: frame.t, d: frame.d, s: s ?? 0 } as Dispatch);
  }

  private async hello(): Promise<void> {
    if (this.sessionId && this.seq !== null) {
      const token = await this.options.token(false);
      if (!token) return this.options.onSessionEnded();
      this.send(Op.RESUME, { token, session_id: this.sessionId, seq: this.seq });
      return;
    }
    await this.identify(this.authFailures > 0);
  }

  private async identify(forceRefresh: boolean): Promise<void> {
    const token = await this.options.token(forceRefresh);
    if (!token) {
      this.stop();
      this.options.onSessionEnded();
      return;
    }
    this.seq = null;
    this.send(Op.IDENTIFY, { token, properties: { client: "harmoniq-web" } });
  }

  private startHeartbeat(interval: number): void {
    this.acked = true;
    this.heartbeat = setInterval(() => {
      if (!this.acked) {
        this.ws?.close(4000); // a zombie connection: no ACK since the last beat
        return;
      }
      this.acked = false;
      this.send(Op.HEARTBEAT, this.seq);
    }, interval);
  }
}

type OpCode = (typeof Op)[keyof typeof Op];
