// The gateway protocol (docs/api.md, "Gateway"), written once for the client: opcodes, frames,
// close codes and the dispatches it applies. The REST shapes come from the generated OpenAPI
// types; these are the gateway's own.
import type {
  ChannelView,
  DmChannel,
  MemberView,
  ReadState,
  Relationship,
  Message,
  RoleView,
  ServerView,
  UserSummary,
  VoiceState,
} from "../api/types";

export const Op = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  TYPING: 4,
  RESUME: 6,
  RECONNECT: 7,
  SUBSCRIBE_MEMBERS: 8,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
  VOICE_STATE_UPDATE: 12,
  VOICE_SIGNAL: 13,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

export interface Frame {
  op: OpCode;
  d: unknown;
  s?: number | null;
  t?: string | null;
}

/** Close codes after which the session cannot go on: identify afresh or log in again. */
export const FATAL_CLOSE = new Set([4003, 4004, 4007, 4012, 4013]);
/** The token was refused: refresh it and identify again (once), else the session is over. */
export const AUTH_CLOSE = new Set([4004, 4012]);

export type PresenceStatus = "online" | "idle" | "dnd" | "offline";

export interface RoleGrant {
  id: string;
  permissions: number;
}

export interface ChannelAccess {
  channel_id: string;
  kind: string;
  permissions: number;
}

export interface ServerAccess {
  server_id: string;
  channels: ChannelAccess[];
  user_id: string;
  is_owner: boolean;
  default_role: RoleGrant;
  member_roles: RoleGrant[];
}

export interface ServerSnapshot {
  server: ServerView;
  channels: ChannelView[];
  roles: RoleView[];
  member: MemberView;
  member_count: number;
  access: ServerAccess;
}

export interface Presence {
  server_id: string;
  user_id: string;
  status: PresenceStatus;
  last_seen: string | null;
}

export interface Ready {
  v: number;
  session_id: string;
  user: UserSummary;
  servers: ServerSnapshot[];
  presences: Presence[];
  /** Newest activity first. */
  dm_channels?: DmChannel[];
  /** Friends carry their presence in `status`; others null. */
  relationships?: (Relationship & { status?: PresenceStatus | null })[];
  read_states?: ReadState[];
  voice_states?: VoiceState[];
}

export type VoiceStateEvent = Omit<VoiceState, "channel_id"> & {
  channel_id: string | null;
  previous_channel_id?: string | null;
  reason?: string | null;
};

export interface VoiceSignal {
  channel_id: string;
  from_user_id: string;
  from_session_id: string;
  to_session_id: string;
  kind: "offer" | "answer" | "candidate";
  sdp?: string | null;
  candidate?: string | null;
  sdp_mid?: string | null;
  sdp_mline_index?: number | null;
}

export interface ChannelAck {
  user_id: string;
  channel_id: string;
  message_id: string;
  mention_count: number;
}

export interface MessageRef {
  server_id: string;
  channel_id: string;
  message_id: string;
}

export interface ReactionEvent extends MessageRef {
  user_id: string;
  emoji: string;
}

export interface TypingEvent {
  server_id: string;
  channel_id: string;
  user_id: string;
  timestamp: string;
}

/** Every dispatch the client applies, by its `t`. Others are ignored. */
export interface Dispatches {
  ready: Ready;
  resumed: Record<string, never>;
  "message.create": { message: Message };
  "message.update": { message: Message };
  "message.delete": MessageRef;
  "message.bulk_delete": { server_id: string; channel_id: string; message_ids: string[] };
  "reaction.add": ReactionEvent;
  "reaction.remove": ReactionEvent;
  "pin.update": MessageRef & { pinned: boolean };
  "server.created": { server: ServerView; roles: RoleView[]; channels: ChannelView[] };
  "server.updated": { server: ServerView };
  "server.deleted": { server_id: string };
  "channel.created": { channel: ChannelView };
  "channel.updated": { channel: ChannelView };
  "channel.deleted": { server_id: string; channel_id: string };
  "role.created": { role: RoleView };
  "role.updated": { role: RoleView };
  "role.deleted": { server_id: string; role_id: string };
  "member.joined": { member: MemberView; member_count: number };
  "member.updated": { member: MemberView };
  "member.left": { server_id: string; user_id: string; reason: string; member_count: number };
  "user.updated": { user: UserSummary; status: string };
  "typing.start": TypingEvent;
  "typing.stop": TypingEvent;
  "presence.update": Presence;
  "dm_channel.create": { channel: DmChannel };
  "dm_channel.update": { channel: DmChannel };
  "dm_channel.delete": { channel_id: string; user_id: string };
  "relationship.update": { user_id: string; relationship: Relationship };
  "relationship.remove": { user_id: string; other_id: string };
  "channel.ack": ChannelAck;
  "dm_privacy.update": { user_id: string; server_id: string; allow_dms: boolean };
  "voice.state_update": VoiceStateEvent;
  "voice.signal": VoiceSignal;
  "voice.error": { op: number; code: string; message: string; nonce?: string | null };
  "members.subscribed": { server_id: string; presences: Presence[]; cursor: string | null };
}

export type DispatchName = keyof Dispatches;
export type Dispatch = {
  [K in DispatchName]: { t: K; d: Dispatches[K]; s: number };
}[DispatchName];
