// Home: friends (requests by username, accept/decline/cancel, remove, block), the DM list
// newest first with unread markers, and a DM opened in the channel view.
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { ApiError } from "../api/client";
import type { Relationship } from "../api/types";
import { dmName, dmOthers, relationshipGroups } from "../state/direct";
import { Avatar } from "./Avatar";
import { ChannelPane } from "./ChannelPane";
import { unreadLabel, UserPanel } from "./ChannelSidebar";
import { useApp } from "./context";
import { dmAsChannel } from "./labels";
import { VoicePanel } from "./Voice";

const DOT: Record<string, string> = {
  online: "bg-green-500",
  idle: "bg-yellow-400",
  dnd: "bg-red-600",
  offline: "bg-gray-500",
};

function problem(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong; try again.";
}

export function HomeSidebar({ activeDmId, onNavigate }: { activeDmId: string | null; onNavigate: () => void }) {
  const { state } = useApp();
  const me = state.me!;
  const incoming = Object.values(state.relationships).filter((r) => r.kind === "incoming").length;
  return (
    <aside aria-label="Home" className="flex h-full w-60 flex-col bg-panel">
      <h1 className="border-b border-black/20 px-3 py-3 font-semibold">Home</h1>
      <nav aria-label="Direct messages" className="flex-1 overflow-y-auto px-2 py-2">
        <Link
          to="/channels/@me"
          onClick={onNavigate}
          aria-current={activeDmId === null ? "page" : undefined}
          className={`mb-2 flex items-center rounded px-2 py-1 ${activeDmId === null ? "bg-hover text-fg" : "text-muted hover:bg-hover hover:text-fg"}`}
        >
          <span className="flex-1">Friends</span>
          {incoming > 0 && (
            <span aria-label={`${incoming} pending`} className="rounded-full bg-red-700 px-1.5 text-xs text-white">
              {incoming}
            </span>
          )}
        </Link>
        <h2 className="px-1 text-xs font-semibold uppercase tracking-wide text-muted">Direct messages</h2>
        {state.dms.length === 0 && <p className="px-2 py-1 text-sm text-muted">None yet: message a friend.</p>}
        <ul>
          {state.dms.map((dm) => {
            const unread = state.unread[dm.id];
            const name = dmName(dm, me.id);
            const others = dmOthers(dm, me.id);
            const badge = unread ? Math.max(unread.count, unread.mentions) : 0;
            return (
              <li key={dm.id}>
                <Link
                  to={`/channels/@me/${dm.id}`}
                  onClick={onNavigate}
                  aria-current={dm.id === activeDmId ? "page" : undefined}
                  aria-description={unreadLabel(unread)}
                  className={`flex items-center gap-2 rounded px-2 py-1 ${
                    dm.id === activeDmId ? "bg-hover text-fg" : unread ? "font-semibold text-fg hover:bg-hover" : "text-muted hover:bg-hover hover:text-fg"
                  }`}
                >
                  <span className="relative h-8 w-8 shrink-0" aria-hidden="true">
                    <Avatar user={others.length === 1 ? others[0]! : { username: name }} />
                    {dm.kind === "dm" && others[0] && (
                      <span className={`absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-panel ${DOT[state.presence[others[0].id] ?? "offline"]}`} />
                    )}
                  </span>
                  <span className="min-w-0 flex-1 truncate">{name}</span>
                  {badge > 0 && (
                    <span aria-hidden="true" data-testid="unread-badge" className="rounded-full bg-red-700 px-1.5 text-xs text-white">
                      {badge}
                    </span>
                  )}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <VoicePanel />
      <UserPanel />
    </aside>
  );
}

export function DmPane({ dmId }: { dmId: string }) {
  const { state } = useApp();
  const dm = state.dms.find((d) => d.id === dmId);
  if (!dm) {
    return (
      <div className="flex flex-1 items-center justify-center p-6 text-center text-muted">
        <p>That conversation is not one of yours (any more).</p>
      </div>
    );
  }
  return <ChannelPane key={dm.id} dm={dm} channel={dmAsChannel(dm, dmName(dm, state.me?.id))} />;
}

function Person({ r, children }: { r: Relationship; children: React.ReactNode }) {
  const { state } = useApp();
  return (
    <li aria-label={r.user.username} className="flex items-center gap-2 rounded px-2 py-2 hover:bg-hover">
      <span className="relative h-8 w-8 shrink-0" aria-hidden="true">
        <Avatar user={r.user} />
        {r.kind === "friend" && (
          <span className={`absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-bg ${DOT[state.presence[r.user.id] ?? "offline"]}`} />
        )}
      </span>
      <span className="min-w-0 flex-1 truncate font-medium">{r.user.username}</span>
      <span className="flex gap-1 text-sm">{children}</span>
    </li>
  );
}

export function FriendsPage() {
  const { state, api, dispatch } = useApp();
  const navigate = useNavigate();
  const [status, setStatus] = useState<string | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const groups = relationshipGroups(state.relationships);

  async function act(work: () => Promise<void>) {
    try {
      await work();
      setStatus(null);
    } catch (error) {
      setStatus(problem(error));
    }
  }
  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const username = String(new FormData(form).get("username") ?? "").trim();
    if (!username) return;
    void act(async () => {
      const r = await api.addFriend(username);
      dispatch({ type: "relationship", relationship: r });
      form.reset();
    }).then(() => setStatus((s) => s ?? `Friend request sent to ${username}.`));
  };
  const set = (userId: string, kind: "friend" | "blocked") =>
    void act(async () => dispatch({ type: "relationship", relationship: await api.setRelationship(userId, kind) }));
  const remove = (userId: string) =>
    void act(async () => {
      await api.removeRelationship(userId);
      dispatch({ type: "relationship-removed", userId });
    });
  const open = (ids: string[], name?: string) =>
    void act(async () => {
      const dm = await api.openDm(ids, name);
      dispatch({ type: "dm", dm });
      navigate(`/channels/@me/${dm.id}`);
    });
  const createGroup = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get("name") ?? "").trim();
    open([...picked], name || undefined);
    setPicked(new Set());
  };

  const btn = "rounded px-2 py-1 hover:bg-panel";
  return (
    <section aria-label="Friends" className="flex min-h-0 flex-1 flex-col overflow-y-auto p-4">
      <h2 className="mb-3 text-lg font-semibold">Friends</h2>
      <form onSubmit={add} className="mb-2 flex flex-wrap gap-2">
        <input name="username" aria-label="Username to add" placeholder="Add a friend by username" maxLength={64} className="min-w-0 flex-1 rounded bg-panel px-3 py-2" />
        <button className="rounded bg-accent px-3 py-2 text-white">Send friend request</button>
      </form>
      <p role="status" className="mb-3 min-h-5 text-sm text-muted">
        {status}
      </p>
      {groups.incoming.length > 0 && (
        <section aria-label="Incoming requests" className="mb-4">
          <h3 className="mb-1 text-xs font-semibold uppercase text-muted">Incoming requests — {groups.incoming.length}</h3>
          <ul>
            {groups.incoming.map((r) => (
              <Person key={r.user.id} r={r}>
                <button className={`${btn} text-green-500`} onClick={() => set(r.user.id, "friend")}>
                  Accept
                </button>
                <button className={btn} onClick={() => remove(r.user.id)}>
                  Decline
                </button>
                <button className={`${btn} text-danger`} onClick={() => set(r.user.id, "blocked")}>
                  Block
                </button>
              </Person>
            ))}
          </ul>
        </section>
      )}
      {groups.outgoing.length > 0 && (
        <section aria-label="Outgoing requests" className="mb-4">
          <h3 className="mb-1 text-xs font-semibold uppercase text-muted">Sent requests — {groups.outgoing.length}</h3>
          <ul>
            {groups.outgoing.map((r) => (
              <Person key={r.user.id} r={r}>
                <button className={btn} onClick={() => remove(r.user.id)}>
                  Cancel
                </button>
              </Person>
            ))}
          </ul>
        </section>
      )}
      <section aria-label={`Friends, ${groups.friend.length}`} className="mb-4">
        <h3 className="mb-1 text-xs font-semibold uppercase text-muted">All friends — {groups.friend.length}</h3>
        {groups.friend.length === 0 && <p className="text-sm text-muted">No friends yet: send a request by username.</p>}
        <ul>
          {groups.friend.map((r) => (
            <Person key={r.user.id} r={r}>
              <button className={`${btn} text-accent`} onClick={() => open([r.user.id])}>
                Message
              </button>
              <button className={btn} onClick={() => remove(r.user.id)}>
                Remove
              </button>
              <button className={`${btn} text-danger`} onClick={() => set(r.user.id, "blocked")}>
                Block
              </button>
            </Person>
          ))}
        </ul>
      </section>
      {groups.friend.length >= 2 && (
        <section aria-label="New group DM" className="mb-4 rounded bg-panel p-3">
          <h3 className="mb-1 text-xs font-semibold uppercase text-muted">New group DM</h3>
          <form onSubmit={createGroup} className="flex flex-col gap-2">
            <fieldset className="flex flex-wrap gap-3">
              <legend className="sr-only">Friends to add</legend>
              {groups.friend.map((r) => (
                <label key={r.user.id} className="flex items-center gap-1 text-sm">
                  <input
                    type="checkbox"
                    checked={picked.has(r.user.id)}
                    onChange={(e) => {
                      const next = new Set(picked);
                      if (e.target.checked) next.add(r.user.id);
                      else next.delete(r.user.id);
                      setPicked(next);
                    }}
                  />
                  {r.user.username}
                </label>
              ))}
            </fieldset>
            <div className="flex gap-2">
              <input name="name" aria-label="Group name" placeholder="Group name (optional)" maxLength={100} className="min-w-0 flex-1 rounded bg-bg px-3 py-2" />
              <button disabled={picked.size < 2} className="rounded bg-accent px-3 py-2 text-white disabled:opacity-50">
                Create group DM
              </button>
            </div>
          </form>
        </section>
      )}
      {groups.blocked.length > 0 && (
        <section aria-label="Blocked" className="mb-4">
          <h3 className="mb-1 text-xs font-semibold uppercase text-muted">Blocked — {groups.blocked.length}</h3>
          <ul>
            {groups.blocked.map((r) => (
              <Person key={r.user.id} r={r}>
                <button className={btn} onClick={() => remove(r.user.id)}>
                  Unblock
                </button>
              </Person>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
