// The client's state and the one reducer that changes it. Gateway dispatches and the app's own
// actions (pages loaded, messages sent) both go through `reduce`, a pure function, so the
// same tests cover what a dispatch does whatever brought it.
//
// READY is a snapshot: it replaces the servers (after a fresh IDENTIFY nothing old survives)
// but keeps loaded history, which the live events that follow keep current. `*.created` /
// `*.updated` are upserts, deletions are deletions, and member counts are taken as the events
// state them (docs/api.md, Flow 2).
import type { ChannelView, DmChannel, MemberView, Message, Relationship, RoleView, ServerView, UserSummary } from "../api/types";
import type { Dispatch, PresenceStatus } from "../gateway/protocol";
import {
  addOlderPage,
  jumpPage,
  applyReaction,
  confirm,
  emptyChannel,
  removeMessages,
  type ChannelMessages,
  type Pending,
} from "./messages";
import { compareIds } from "./messages";
import { applyVoiceUpdate, voiceFromReady, type VoiceChannels } from "./voice";
import { applyAck, bumpDm, isBlocked, laterId, markBlocked, remarkAuthor, sortDms, upsertDm } from "./direct";

export interface ServerState {
  server: ServerView;
  channels: ChannelView[];
  roles: RoleView[];
  member: MemberView;
  memberCount: number;
}

export interface State {
  me: UserSummary | null;
  servers: Record<string, ServerState>;
  messages: Record<string, ChannelMessages>;
  /** channel id → user id → epoch ms when the indicator lapses. */
  typing: Record<string, Record<string, number>>;
  presence: Record<string, PresenceStatus>;
  /** server id → user id → member, as far as loaded (member list, joins, messages). */
  members: Record<string, Record<string, MemberView>>;
  /** A server the caller lost (kicked, banned, deleted) since the last look: shown once. */
  lostServer: string | null;
  /** The channel on screen: its new messages are read as they come. */
  viewing: string | null;
  /** channel id → messages arrived since it was last viewed, and how many mention the caller. */
  unread: Record<string, { count: number; mentions: number }>;
  /** DM channels, newest activity first. */
  dms: DmChannel[];
  /** The other person's id → the relationship with them. */
  relationships: Record<string, Relationship>;
  /** channel id → the newest message known there (read states, live messages). */
  lastMessage: Record<string, string>;
  /** channel id → the last message read there (read states, acks from any session). */
  lastRead: Record<string, string>;
  /** The gateway session (READY's): voice states of this session are "us in voice". */
  sessionId: string | null;
  /** voice channel id → who is in it, in join order. */
  voice: VoiceChannels;
  /** The last refusal of a voice request (op 12/13), shown until the next join. */
  voiceError: string | null;
  /** server id → may its members open DMs with the caller (as far as asked or told). */
  dmPrivacy: Record<string, boolean>;
}

export const initialState: State = {
  me: null,
  servers: {},
  messages: {},
  typing: {},
  presence: {},
  members: {},
  lostServer: null,
  viewing: null,
  unread: {},
  dms: [],
  relationships: {},
  lastMessage: {},
  lastRead: {},
  sessionId: null,
  voice: {},
  voiceError: null,
  dmPrivacy: {},
};

export type Action =
  | { type: "dispatch"; dispatch: Dispatch; now: number }
  | { type: "history"; channelId: string; page: Message[]; limit: number }
  | { type: "jumped"; channelId: string; page: Message[] }
  | { type: "present"; channelId: string }
  | { type: "sending"; channelId: string; pending: Pending }
  | { type: "sent"; channelId: string; message: Message }
  | { type: "send-failed"; channelId: string; nonce: string }
  | { type: "message"; message: Message }
  | { type: "channels"; serverId: string; channels: ChannelView[] }
  | { type: "roles"; serverId: string; roles: RoleView[] }
  | { type: "members"; serverId: string; members: MemberView[] }
  | { type: "server"; server: ServerView; memberCount?: number }
  | { type: "left-server"; serverId: string }
  | { type: "joined-server"; server: ServerState }
  | { type: "lost-seen" }
  | { type: "viewing"; channelId: string | null }
  | { type: "voice-error"; message: string | null }
  | { type: "acked"; channelId: string; messageId: string }
  | { type: "dm"; dm: DmChannel }
  | { type: "dms"; dms: DmChannel[] }
  | { type: "relationship"; relationship: Relationship }
  | { type: "relationship-removed"; userId: string }
  | { type: "dm-privacy"; serverId: string; allowDms: boolean }
  | { type: "typing-expired"; now: number };

const TYPING_MS = 8_000;

function byPosition(a: ChannelView | RoleView, b: ChannelView | RoleView): number {
  return a.position - b.position || compareIds(a.id, b.id);
}

function upsert<T extends { id: string }>(list: T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  if (i === -1) return [...list, item];
  const next = [...list];
  next[i] = item;
  return next;
}

function withServer(state: State, serverId: string, change: (s: ServerState) => ServerState): State {
  const current = state.servers[serverId];
  if (!current) return state;
  return { ...state, servers: { ...state.servers, [serverId]: change(current) } };
}

function withChannel(state: State, channelId: string, change: (c: ChannelMessages) => ChannelMessages): State {
  const current = state.messages[channelId];
  if (!current) return state; // not loaded: its history will be fetched when opened
  return { ...state, messages: { ...state.messages, [channelId]: change(current) } };
}

function withMessage(state: State, channelId: string, messageId: string, change: (m: Message) => Message): State {
  return withChannel(state, channelId, (c) => ({
    ...c,
    items: c.items.map((m) => (m.id === messageId ? change(m) : m)),
  }));
}

function dropServer(state: State, serverId: string): State {
  const server = state.servers[serverId];
  if (!server) return state;
  const servers = { ...state.servers };
  delete servers[serverId];
  const messages = { ...state.messages };
  for (const c of server.channels) delete messages[c.id];
  return { ...state, servers, messages, lostServer: serverId };
}

function rememberMember(state: State, member: MemberView): State {
  const known = state.members[member.server_id] ?? {};
  return {
    ...state,
    members: { ...state.members, [member.server_id]: { ...known, [member.user.id]: member } },
  };
}

function applyReady(state: State, d: Extract<Dispatch, { t: "ready" }>["d"]): State {
  const servers: Record<string, ServerState> = {};
  for (const snap of d.servers) {
    servers[snap.server.id] = {
      server: snap.server,
      channels: [...snap.channels].sort(byPosition),
      roles: [...snap.roles].sort((a, b) => b.position - a.position),
      member: snap.member,
      memberCount: snap.member_count,
    };
  }
  const presence: Record<string, PresenceStatus> = {};
  for (const p of d.presences) presence[p.user_id] = p.status;
  const relationships: Record<string, Relationship> = {};
  for (const r of d.relationships ?? []) {
    const { status, ...rest } = r;
    relationships[r.user.id] = rest;
    if (status) presence[r.user.id] = status;
  }
  if (d.user) presence[d.user.id] = "online";
  const dms = sortDms(d.dm_channels ?? []);
  // Read states: what is unread (the channel on screen is being read), and where each stands.
  const unread: State["unread"] = {};
  const lastMessage: Record<string, string> = { ...state.lastMessage };
  const lastRead: Record<string, string> = { ...state.lastRead };
  for (const rs of d.read_states ?? []) {
    if (rs.last_message_id) lastMessage[rs.channel_id] = laterId(lastMessage[rs.channel_id], rs.last_message_id)!;
    if (rs.last_read_id) lastRead[rs.channel_id] = laterId(lastRead[rs.channel_id], rs.last_read_id)!;
    if (rs.unread && rs.channel_id !== state.viewing) unread[rs.channel_id] = { count: 1, mentions: rs.mention_count };
  }
  for (const dm of dms) lastMessage[dm.id] = laterId(lastMessage[dm.id], dm.last_activity_id)!;
  // Keep loaded history only for channels still visible.
  const visible = new Set([...Object.values(servers).flatMap((s) => s.channels.map((c) => c.id)), ...dms.map((dm) => dm.id)]);
  const messages = Object.fromEntries(Object.entries(state.messages).filter(([id]) => visible.has(id)));
  return {
    ...state,
    me: d.user,
    servers,
    presence,
    messages,
    lostServer: null,
    dms,
    relationships,
    unread: d.read_states && d.read_states.length > 0 ? unread : state.unread,
    lastMessage,
    lastRead,
    sessionId: d.session_id,
    voice: voiceFromReady(d.voice_states ?? []),
  };
}

/** A new message in a channel not on screen, from someone else, is unread (and maybe a mention). */
function countUnread(state: State, m: Message): State {
  const me = state.me;
  if (!me || m.author.id === me.id || m.channel_id === state.viewing) return state;
  const myRoles = new Set(state.servers[m.server_id]?.member.roles ?? []);
  const mentioned =
    m.mention_everyone || (m.mention_user_ids ?? []).includes(me.id) || (m.mention_role_ids ?? []).some((id) => myRoles.has(id));
  const was = state.unread[m.channel_id] ?? { count: 0, mentions: 0 };
  return {
    ...state,
    unread: { ...state.unread, [m.channel_id]: { count: was.count + 1, mentions: was.mentions + (mentioned ? 1 : 0) } },
  };
}

function applyMessageDispatch(state: State, dispatch: Dispatch): State {
  switch (dispatch.t) {
    case "message.create":
    case "message.update": {
      // Gateway frames are not marked for blocks: the caller's own block list decides.
      const m = markBlocked(state.relationships, dispatch.d.message);
      let next = withChannel(state, m.channel_id, (c) => confirm(c, m, state.me?.id ?? null));
      if (dispatch.t === "message.create") {
        next = countUnread(next, m);
        next = {
          ...next,
          dms: bumpDm(next.dms, m.channel_id, m.id),
          lastMessage: { ...next.lastMessage, [m.channel_id]: laterId(next.lastMessage[m.channel_id], m.id)! },
        };
        // Our own message reads the channel up to it (the server does the same).
        if (m.author.id === state.me?.id) next = { ...next, lastRead: { ...next.lastRead, [m.channel_id]: laterId(next.lastRead[m.channel_id], m.id)! } };
      }
      const typing = state.typing[m.channel_id];
      if (!typing?.[m.author.id]) return next;
      const rest = { ...typing };
      delete rest[m.author.id];
      return { ...next, typing: { ...next.typing, [m.channel_id]: rest } };
    }
    case "message.delete":
      return withChannel(state, dispatch.d.channel_id, (c) => removeMessages(c, [dispatch.d.message_id]));
    case "message.bulk_delete":
      return withChannel(state, dispatch.d.channel_id, (c) => removeMessages(c, dispatch.d.message_ids));
    case "reaction.add":
    case "reaction.remove": {
      const d = dispatch.d;
      const mine = d.user_id === state.me?.id;
      const delta = dispatch.t === "reaction.add" ? 1 : -1;
      return withMessage(state, d.channel_id, d.message_id, (m) => applyReaction(m, d.emoji, delta, mine));
    }
    case "pin.update":
      return withMessage(state, dispatch.d.channel_id, dispatch.d.message_id, (m) => ({
        ...m,
        pinned: dispatch.d.pinned,
      }));
    default:
      return state;
  }
}

function applyGuildDispatch(state: State, dispatch: Dispatch): State {
  switch (dispatch.t) {
    case "server.created": {
      const { server, roles, channels } = dispatch.d;
      if (state.servers[server.id]) return state;
      const me = state.me;
      if (!me) return state;
      return {
        ...state,
        servers: {
          ...state.servers,
          [server.id]: {
            server,
            roles: [...roles].sort((a, b) => b.position - a.position),
            channels: [...channels].sort(byPosition),
            member: { server_id: server.id, user: me, nickname: null, roles: [], joined_at: server.created_at },
            memberCount: 1,
          },
        },
      };
    }
    case "server.updated":
      return withServer(state, dispatch.d.server.id, (s) => ({ ...s, server: dispatch.d.server }));
    case "server.deleted":
      return dropServer(state, dispatch.d.server_id);
    case "channel.created":
    case "channel.updated": {
      const c = dispatch.d.channel;
      return withServer(state, c.server_id, (s) => ({ ...s, channels: upsert(s.channels, c).sort(byPosition) }));
    }
    case "channel.deleted": {
      const next = withServer(state, dispatch.d.server_id, (s) => ({
        ...s,
        channels: s.channels.filter((c) => c.id !== dispatch.d.channel_id),
      }));
      const messages = { ...next.messages };
      delete messages[dispatch.d.channel_id];
      return { ...next, messages };
    }
    case "role.created":
    case "role.updated": {
      const r = dispatch.d.role;
      return withServer(state, r.server_id, (s) => ({
        ...s,
        roles: upsert(s.roles, r).sort((a, b) => b.position - a.position),
      }));
    }
    case "role.deleted":
      return withServer(state, dispatch.d.server_id, (s) => ({
        ...s,
        roles: s.roles.filter((r) => r.id !== dispatch.d.role_id),
        member: { ...s.member, roles: (s.member.roles ?? []).filter((id) => id !== dispatch.d.role_id) },
      }));
    case "member.joined": {
      const { member, member_count } = dispatch.d;
      const next = rememberMember(state, member);
      return withServer(next, member.server_id, (s) => ({ ...s, memberCount: member_count }));
    }
    case "member.updated": {
      const member = dispatch.d.member;
      const next = rememberMember(state, member);
      if (member.user.id !== state.me?.id) return next;
      return withServer(next, member.server_id, (s) => ({ ...s, member }));
    }
    case "member.left": {
      const d = dispatch.d;
      if (d.user_id === state.me?.id) return dropServer(state, d.server_id);
      const known = { ...(state.members[d.server_id] ?? {}) };
      delete known[d.user_id];
      const next = { ...state, members: { ...state.members, [d.server_id]: known } };
      return withServer(next, d.server_id, (s) => ({ ...s, memberCount: d.member_count }));
    }
    case "user.updated":
      return { ...state, me: dispatch.d.user };
    default:
      return applyMessageDispatch(state, dispatch);
  }
}

function applyDispatch(state: State, dispatch: Dispatch, now: number): State {
  switch (dispatch.t) {
    case "ready":
      return applyReady(state, dispatch.d);
    case "typing.start": {
      const d = dispatch.d;
      if (d.user_id === state.me?.id) return state;
      const channel = { ...(state.typing[d.channel_id] ?? {}), [d.user_id]: now + TYPING_MS };
      return { ...state, typing: { ...state.typing, [d.channel_id]: channel } };
    }
    case "typing.stop": {
      const channel = { ...(state.typing[dispatch.d.channel_id] ?? {}) };
      delete channel[dispatch.d.user_id];
      return { ...state, typing: { ...state.typing, [dispatch.d.channel_id]: channel } };
    }
    case "presence.update":
      return { ...state, presence: { ...state.presence, [dispatch.d.user_id]: dispatch.d.status } };
    case "dm_channel.create":
    case "dm_channel.update":
      return { ...state, dms: upsertDm(state.dms, dispatch.d.channel) };
    case "dm_channel.delete": {
      if (dispatch.d.user_id !== state.me?.id) return state;
      const messages = { ...state.messages };
      delete messages[dispatch.d.channel_id];
      const unread = { ...state.unread };
      delete unread[dispatch.d.channel_id];
      return { ...state, dms: state.dms.filter((dm) => dm.id !== dispatch.d.channel_id), messages, unread };
    }
    case "relationship.update":
      return reduce(state, { type: "relationship", relationship: dispatch.d.relationship });
    case "relationship.remove":
      return reduce(state, { type: "relationship-removed", userId: dispatch.d.other_id });
    case "channel.ack": {
      const d = dispatch.d;
      if (d.user_id !== state.me?.id) return state;
      const lastRead = { ...state.lastRead, [d.channel_id]: laterId(state.lastRead[d.channel_id], d.message_id)! };
      return { ...state, lastRead, unread: applyAck(state.unread, state.lastMessage, d.channel_id, lastRead[d.channel_id]!, d.mention_count) };
    }
    case "dm_privacy.update":
      if (dispatch.d.user_id !== state.me?.id) return state;
      return reduce(state, { type: "dm-privacy", serverId: dispatch.d.server_id, allowDms: dispatch.d.allow_dms });
    case "voice.state_update":
      return { ...state, voice: applyVoiceUpdate(state.voice, dispatch.d) };
    case "voice.error":
      return { ...state, voiceError: dispatch.d.message || dispatch.d.code };
    case "members.subscribed": {
      const presence = { ...state.presence };
      for (const p of dispatch.d.presences) presence[p.user_id] = p.status;
      return { ...state, presence };
    }
    default:
      return applyGuildDispatch(state, dispatch);
  }
}

export function reduce(state: State, action: Action): State {
  switch (action.type) {
    case "dispatch":
      return applyDispatch(state, action.dispatch, action.now);
    case "history": {
      const channel = state.messages[action.channelId] ?? emptyChannel;
      return {
        ...state,
        messages: { ...state.messages, [action.channelId]: addOlderPage(channel, action.page.map((m) => markBlocked(state.relationships, m)), action.limit) },
      };
    }
    case "jumped": {
      const channel = state.messages[action.channelId] ?? emptyChannel;
      const page = action.page.map((m) => markBlocked(state.relationships, m));
      return { ...state, messages: { ...state.messages, [action.channelId]: jumpPage(channel, page) } };
    }
    case "present": {
      const channel = state.messages[action.channelId];
      if (!channel) return state;
      return { ...state, messages: { ...state.messages, [action.channelId]: { ...emptyChannel, pending: channel.pending } } };
    }
    case "sending": {
      const channel = state.messages[action.channelId] ?? emptyChannel;
      return {
        ...state,
        messages: {
          ...state.messages,
          [action.channelId]: { ...channel, pending: [...channel.pending, action.pending] },
        },
      };
    }
    case "sent":
      return withChannel(state, action.channelId, (c) => confirm(c, action.message, state.me?.id ?? null));
    case "message":
      return withChannel(state, action.message.channel_id, (c) => confirm(c, action.message, state.me?.id ?? null));
    case "send-failed":
      return withChannel(state, action.channelId, (c) => ({
        ...c,
        pending: c.pending.map((p) => (p.nonce === action.nonce ? { ...p, failed: true } : p)),
      }));
    case "channels":
      return withServer(state, action.serverId, (s) => ({ ...s, channels: [...action.channels].sort(byPosition) }));
    case "roles":
      return withServer(state, action.serverId, (s) => ({
        ...s,
        roles: [...action.roles].sort((a, b) => b.position - a.position),
      }));
    case "members": {
      let next = state;
      for (const m of action.members) next = rememberMember(next, m);
      return next;
    }
    case "server": {
      const s = action.server;
      return withServer(state, s.id, (cur) => ({
        ...cur,
        server: s,
        memberCount: action.memberCount ?? cur.memberCount,
      }));
    }
    case "joined-server": {
      const s = action.server;
      if (state.servers[s.server.id]) return state;
      return { ...state, servers: { ...state.servers, [s.server.id]: s } };
    }
    case "left-server":
      return { ...dropServer(state, action.serverId), lostServer: null };
    case "lost-seen":
      return { ...state, lostServer: null };
    case "viewing": {
      if (!action.channelId) return { ...state, viewing: null };
      const unread = { ...state.unread };
      delete unread[action.channelId];
      return { ...state, viewing: action.channelId, unread };
    }
    case "voice-error":
      return { ...state, voiceError: action.message };
    case "acked":
      return { ...state, lastRead: { ...state.lastRead, [action.channelId]: laterId(state.lastRead[action.channelId], action.messageId)! } };
    case "dm":
      return { ...state, dms: upsertDm(state.dms, action.dm) };
    case "dms":
      return { ...state, dms: sortDms(action.dms) };
    case "relationship": {
      const userId = action.relationship.user.id;
      const relationships = { ...state.relationships, [userId]: action.relationship };
      const blocked = action.relationship.kind === "blocked";
      if (blocked === isBlocked(state.relationships, userId)) return { ...state, relationships };
      return { ...state, relationships, messages: remarkAuthor(state.messages, userId, blocked) };
    }
    case "relationship-removed": {
      const relationships = { ...state.relationships };
      delete relationships[action.userId];
      if (!isBlocked(state.relationships, action.userId)) return { ...state, relationships };
      return { ...state, relationships, messages: remarkAuthor(state.messages, action.userId, false) };
    }
    case "dm-privacy":
      return { ...state, dmPrivacy: { ...state.dmPrivacy, [action.serverId]: action.allowDms } };
    case "typing-expired": {
      let changed = false;
      const typing: State["typing"] = {};
      for (const [channelId, users] of Object.entries(state.typing)) {
        const alive = Object.fromEntries(Object.entries(users).filter(([, until]) => until > action.now));
        if (Object.keys(alive).length !== Object.keys(users).length) changed = true;
        typing[channelId] = alive;
      }
      return changed ? { ...state, typing } : state;
    }
  }
}
