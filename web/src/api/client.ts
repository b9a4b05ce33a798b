// The HTTP side of the client: one Session holds the token pair, attaches the access token,
// refreshes it before it expires and after a 401, and tells the app when the session is gone.
//
// Refresh tokens rotate on every use and presenting a used one revokes the whole login
// (docs/api.md): two tabs refreshing at once would log each other out. So a refresh runs
// under a Web Lock shared by every tab of this origin, and re-reads the stored pair first: if
// another tab already rotated it, that pair is used and no second refresh is sent.
import type { AuthResult, ErrorBody, SessionTokens } from "./types";

const STORAGE_KEY = "harmoniq.session";
const REFRESH_MARGIN_MS = 60_000;

export interface StoredSession {
  access: string;
  refresh: string;
  /** Epoch milliseconds at which the access token expires. */
  expiresAt: number;
  userId: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: ErrorBody | null;
  constructor(status: number, body: ErrorBody | null) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? "http_error";
    this.body = body;
  }
}

/** 401 codes after which the stored session is dead (log in again), not just the access token. */
const DEAD_SESSION = new Set([
  "invalid_refresh_token",
  "refresh_token_reused",
  "refresh_token_expired",
  "token_revoked",
]);

export type Json = Record<string, unknown> | unknown[];

async function errorOf(response: Response): Promise<ApiError> {
  let body: ErrorBody | null = null;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = null;
  }
  return new ApiError(response.status, body);
}

export class Session {
  private current: StoredSession | null;
  private refreshing: Promise<StoredSession | null> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly storage: Storage = localStorage) {
    this.current = Session.read(storage);
  }

  private static read(storage: Storage): StoredSession | null {
    try {
      const raw = storage.getItem(STORAGE_KEY);
      return raw ? (JSON.parse(raw) as StoredSession) : null;
    } catch {
      return null;
    }
  }

  get userId(): string | null {
    return this.current?.userId ?? null;
  }

  get loggedIn(): boolean {
    return this.current !== null;
  }

  /** Called when the session ends (logout, or a refresh the server refused). */
  onEnded(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  adopt(result: AuthResult): void {
    this.store({
      access: result.access_token,
      refresh: result.refresh_token,
      expiresAt: Date.now() + result.expires_in * 1000,
      userId: result.user.id,
    });
  }

  private store(session: StoredSession | null): void {
    this.current = session;
    if (session) this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    else this.storage.removeItem(STORAGE_KEY);
  }

  end(): void {
    if (this.current === null) return;
    this.store(null);
    for (const listener of this.listeners) listener();
  }

  /** A valid access token, refreshed first when it is about to expire; null when logged out. */
  async accessToken(force = false): Promise<string | null> {
    const session = this.current;
    if (!session) return null;
    if (!force && session.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.access;
    const refreshed = await this.refresh(session.refresh);
    return refreshed?.access ?? null;
  }

  private refresh(presented: string): Promise<StoredSession | null> {
    this.refreshing ??= this.withLock(() => this.rotate(presented)).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async withLock<T>(work: () => Promise<T>): Promise<T> {
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    if (!locks) return work();
    return locks.request("harmoniq.refresh", work) as Promise<T>;
  }

  private async rotate(presented: string): Promise<StoredSession | null> {
    // Another tab may have rotated it while we waited for the lock: take theirs.
    const stored = Session.read(this.storage);
    if (stored && stored.refresh !== presented) {
      this.current = stored;
      return stored;
    }
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: presented }),
    });
    if (!response.ok) {
      const error = await errorOf(response);
      if (response.status === 401 || DEAD_SESSION.has(error.code)) {
        this.end();
        return null;
      }
      throw error;
    }
    const tokens = (await response.json()) as SessionTokens;
    const next: StoredSession = {
      access: tokens.access_token,
      refresh: tokens.refresh_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
      userId: this.current?.userId ?? stored?.userId ?? "",
    };
    this.store(next);
    return next;
  }

  /** A JSON request to the API; retried once with a fresh token after a 401. */
  async request<T>(
    method: string,
    path: string,
    body?: Json,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let response = await this.send(method, path, body, headers, false);
    if (response.status === 401 && this.current) {
      const error = await errorOf(response);
      if (DEAD_SESSION.has(error.code)) {
        this.end();
        throw error;
      }
      response = await this.send(method, path, body, headers, true);
      if (response.status === 401) {
        this.end();
      }
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  private async send(
    method: string,
    path: string,
    body: Json | undefined,
    headers: Record<string, string>,
    forceRefresh: boolean,
  ): Promise<Response> {
    const token = await this.accessToken(forceRefresh);
    const all: Record<string, string> = { ...headers };
    if (token) all.Authorization = `Bearer ${token}`;
    if (body !== undefined) all["Content-Type"] = "application/json";
    return fetch(path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
}

/** Log in or register without a session yet. */
export async function authenticate(
  path: "/api/v1/auth/login" | "/api/v1/auth/register",
  body: Record<string, string>,
): Promise<AuthResult> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as AuthResult;
}

/** A public request (the invite preview): no token needed. */
export async function publicGet<T>(path: string): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}
