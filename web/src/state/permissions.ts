// The permission bits and the one computation of a member's permissions in a channel, the same
// as harmoniq_common.permissions.explain (docs/api.md, "How channel permissions are computed").
// The client uses it only to hide controls the caller may not use; the server still decides.
// Bits go past 32 (ADMINISTRATOR is 1 << 40), so they are BigInts: JS's `&` on numbers cuts
// at 32 bits.
import type { ChannelView, MemberView, OverwriteView, RoleView } from "../api/types";

export const P = {
  VIEW_CHANNEL: 1n << 0n,
  SEND_MESSAGES: 1n << 1n,
  MANAGE_MESSAGES: 1n << 2n,
  ADD_REACTIONS: 1n << 3n,
  ATTACH_FILES: 1n << 4n,
  EMBED_LINKS: 1n << 5n,
  MENTION_EVERYONE: 1n << 6n,
  READ_MESSAGE_HISTORY: 1n << 7n,
  MANAGE_CHANNELS: 1n << 8n,
  MANAGE_ROLES: 1n << 9n,
  MANAGE_SERVER: 1n << 10n,
  KICK_MEMBERS: 1n << 11n,
  BAN_MEMBERS: 1n << 12n,
  CREATE_INVITES: 1n << 13n,
  MANAGE_WEBHOOKS: 1n << 14n,
  CONNECT: 1n << 15n,
  SPEAK: 1n << 16n,
  MUTE_MEMBERS: 1n << 17n,
  DEAFEN_MEMBERS: 1n << 18n,
  MOVE_MEMBERS: 1n << 19n,
  CHANGE_NICKNAME: 1n << 20n,
  MANAGE_NICKNAMES: 1n << 21n,
  VIEW_AUDIT_LOG: 1n << 22n,
  ADMINISTRATOR: 1n << 40n,
} as const;
export type PermissionName = keyof typeof P;

export const ALL = Object.values(P).reduce((a, b) => a | b, 0n);
const NEEDS_SEND = P.MENTION_EVERYONE | P.ATTACH_FILES | P.EMBED_LINKS;
const NEEDS_CONNECT = P.SPEAK | P.MUTE_MEMBERS | P.DEAFEN_MEMBERS | P.MOVE_MEMBERS;

export interface Membership {
  serverId: string;
  ownerId: string;
  userId: string;
  roles: RoleView[];
  member: Pick<MemberView, "roles">;
}

/** Server-level permissions: owner, default role, the member's roles, administrator. */
export function basePermissions(m: Membership): bigint {
  if (m.userId === m.ownerId) return ALL;
  const byId = new Map(m.roles.map((r) => [r.id, r]));
  let perms = BigInt(byId.get(m.serverId)?.permissions ?? 0);
  for (const id of m.member.roles ?? []) {
    if (id === m.serverId) continue;
    perms |= BigInt(byId.get(id)?.permissions ?? 0);
  }
  return perms & P.ADMINISTRATOR ? ALL : perms;
}

export function channelPermissions(m: Membership, channel: Pick<ChannelView, "kind" | "overwrites">): bigint {
  let perms = basePermissions(m);
  if (perms === ALL) return perms;
  const overwrites = new Map<string, OverwriteView>(
    (channel.overwrites ?? []).map((o) => [`${o.target_kind}:${o.target_id}`, o]),
  );
  const everyone = overwrites.get(`role:${m.serverId}`);
  if (everyone) perms = (perms & ~BigInt(everyone.deny)) | BigInt(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const id of m.member.roles ?? []) {
    if (id === m.serverId) continue;
    const o = overwrites.get(`role:${id}`);
    if (o) {
      allow |= BigInt(o.allow);
      deny |= BigInt(o.deny);
    }
  }
  perms = (perms & ~deny) | allow;
  const mine = overwrites.get(`member:${m.userId}`);
  if (mine) perms = (perms & ~BigInt(mine.deny)) | BigInt(mine.allow);
  if (!(perms & P.VIEW_CHANNEL)) return 0n;
  if (channel.kind === "text" && !(perms & P.SEND_MESSAGES)) perms &= ~NEEDS_SEND;
  if (channel.kind === "voice" && !(perms & P.CONNECT)) perms &= ~NEEDS_CONNECT;
  return perms;
}

export function has(perms: bigint, permission: bigint): boolean {
  return (perms & permission) === permission;
}

/** The caller's rank: their highest role's position (the owner outranks everyone). */
export function rank(m: Membership): number {
  if (m.userId === m.ownerId) return Number.MAX_SAFE_INTEGER;
  const ids = new Set(m.member.roles ?? []);
  return Math.max(0, ...m.roles.filter((r) => ids.has(r.id)).map((r) => r.position));
}

/** Whether the caller may kick/ban this member: the permission, never the owner, and outranking. */
export function mayModerate(
  m: Membership,
  target: Pick<MemberView, "roles"> & { userId: string },
  permission: bigint,
): boolean {
  if (target.userId === m.ownerId || target.userId === m.userId) return false;
  if (!has(basePermissions(m), permission)) return false;
  const targetRank = rank({ ...m, userId: target.userId, member: target });
  return rank(m) > targetRank;
}
