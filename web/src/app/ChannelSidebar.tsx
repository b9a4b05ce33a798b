import { lazy, Suspense, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import type { ChannelView } from "../api/types";
import { has, P } from "../state/permissions";
import type { ServerState } from "../state/store";
import { applyTheme, storedTheme } from "./theme";
import { useApp } from "./context";
import { channelPerms, serverPerms } from "./perms";
import { InviteDialog } from "./InviteDialog";
import { PrivacyDialog } from "./PrivacyDialog";
import { ProfileDialog } from "./ProfileDialog";
import { Avatar } from "./Avatar";
import { VoiceChannelItem, VoicePanel } from "./Voice";

const ServerSettings = lazy(() => import("./ServerSettings"));

const MANAGES = P.MANAGE_SERVER | P.MANAGE_ROLES | P.KICK_MEMBERS | P.BAN_MEMBERS | P.MANAGE_CHANNELS | P.VIEW_AUDIT_LOG;

function groups(channels: ChannelView[]): { category: ChannelView | null; channels: ChannelView[] }[] {
  const categories = channels.filter((c) => c.kind === "category");
  const known = new Set(categories.map((c) => c.id));
  const loose = channels.filter((c) => c.kind !== "category" && !(c.parent_id && known.has(c.parent_id)));
  return [
    { category: null, channels: loose },
    ...categories.map((category) => ({
      category,
      channels: channels.filter((c) => c.kind !== "category" && c.parent_id === category.id),
    })),
  ];
}

export function unreadLabel(unread: { count: number; mentions: number } | undefined): string | undefined {
  if (!unread) return undefined;
  return unread.mentions > 0 ? `unread, ${unread.mentions} ${unread.mentions === 1 ? "mention" : "mentions"}` : "unread";
}

export function ChannelSidebar({ server, activeChannelId, onNavigate }: { server: ServerState; activeChannelId: string | null; onNavigate: () => void }) {
  const { state, api, dispatch } = useApp();
  const me = state.me!;
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<"invite" | "settings" | "privacy" | null>(null);
  const perms = serverPerms(server, me.id);
  const active = server.channels.find((c) => c.id === activeChannelId) ?? server.channels.find((c) => c.kind === "text");
  const canInvite = active ? has(channelPerms(server, active, me.id), P.CREATE_INVITES) : false;
  const isOwner = server.server.owner_id === me.id;

  async function leave() {
    if (!confirm(`Leave ${server.server.name}?`)) return;
    await api.leave(server.server.id);
    dispatch({ type: "left-server", serverId: server.server.id });
    navigate("/channels");
  }

  return (
    <aside aria-label={`${server.server.name} channels`} className="flex h-full w-60 flex-col bg-panel">
      <header className="border-b border-black/20 px-3 py-3">
        <h1 className="truncate font-semibold" title={server.server.name}>
          {server.server.name}
        </h1>
        <p className="text-xs text-muted">{server.memberCount} members</p>
        <div className="mt-2 flex flex-wrap gap-1 text-xs">
          {canInvite && (
            <button onClick={() => setDialog("invite")} className="rounded bg-accent px-2 py-1 text-white">
              Invite people
            </button>
          )}
          {(perms & MANAGES) !== 0n && (
            <button onClick={() => setDialog("settings")} className="rounded bg-hover px-2 py-1">
              Server settings
            </button>
          )}
          <button onClick={() => setDialog("privacy")} className="rounded bg-hover px-2 py-1">
            Privacy
          </button>
          {!isOwner && (
            <button onClick={leave} className="rounded border border-danger/60 px-2 py-1 text-danger">
              Leave server
            </button>
          )}
        </div>
      </header>
      <nav aria-label="Channels" className="flex-1 overflow-y-auto px-2 py-2">
        {groups(server.channels).map(({ category, channels }) => (
          <section key={category?.id ?? "none"} aria-label={category ? category.name : "Channels"} className="mb-3">
            {category && <h2 className="px-1 text-xs font-semibold uppercase tracking-wide text-muted">{category.name}</h2>}
            <ul>
              {channels.map((c) => (
                <li key={c.id}>
                  {c.kind === "text" ? (
                    <Link
                      to={`/channels/${server.server.id}/${c.id}`}
                      onClick={onNavigate}
                      aria-current={c.id === activeChannelId ? "page" : undefined}
                      aria-description={unreadLabel(state.unread[c.id])}
                      className={`flex items-center rounded px-2 py-1 ${
                        c.id === activeChannelId ? "bg-hover text-fg" : state.unread[c.id] ? "font-semibold text-fg hover:bg-hover" : "text-muted hover:bg-hover hover:text-fg"
                      }`}
                    >
                      <span className="min-w-0 flex-1 truncate">
                        <span aria-hidden="true"># </span>
                        {c.name}
                      </span>
                      {(state.unread[c.id]?.mentions ?? 0) > 0 && (
                        <span aria-hidden="true" className="ml-1 rounded-full bg-red-700 px-1.5 text-xs text-white">
                          {state.unread[c.id]!.mentions}
                        </span>
                      )}
                    </Link>
                  ) : c.kind === "voice" ? (
                    <VoiceChannelItem channel={c} server={server} />
                  ) : (
                    <span className="block truncate px-2 py-1 text-muted">{c.name}</span>
                  )}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </nav>
      <VoicePanel />
      <UserPanel />
      {dialog === "invite" && active && <InviteDialog channel={active} onClose={() => setDialog(null)} />}
      {dialog === "privacy" && <PrivacyDialog server={server} onClose={() => setDialog(null)} />}
      {dialog === "settings" && (
        <Suspense fallback={null}>
          <ServerSettings server={server} onClose={() => setDialog(null)} />
        </Suspense>
      )}
    </aside>
  );
}

export function UserPanel() {
  const { state, api, session } = useApp();
  const [theme, setTheme] = useState(storedTheme());
  const [profile, setProfile] = useState(false);
  const me = state.me!;
  async function logout() {
    try {
      await api.logout();
    } finally {
      session.end();
    }
  }
  return (
    <div className="flex items-center gap-2 bg-rail/60 px-2 py-2 text-sm">
      <span className="relative h-8 w-8" aria-hidden="true">
        <Avatar user={me} />
        <span className="absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-panel bg-green-500" />
      </span>
      <button
        onClick={() => setProfile(true)}
        className="min-w-0 flex-1 truncate rounded text-left font-medium hover:bg-hover"
        aria-label={`Signed in as ${me.username}`}
        title="Your profile"
      >
        {me.username}
      </button>
      {profile && <ProfileDialog onClose={() => setProfile(false)} />}
      <button
        aria-label={theme === "dark" ? "Use the light theme" : "Use the dark theme"}
        onClick={() => {
          const next = theme === "dark" ? "light" : "dark";
          applyTheme(next);
          setTheme(next);
        }}
        className="rounded px-1 hover:bg-hover"
      >
        {theme === "dark" ? "☀" : "☾"}
      </button>
      <button onClick={logout} className="rounded px-2 py-1 hover:bg-hover">
        Log out
      </button>
    </div>
  );
}
