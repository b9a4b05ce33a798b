// Direct messages, friends and read states: the pure helpers the reducer uses (store.ts).
//
// DMs are kept newest activity first (as READY and GET /users/@me/channels give them): a new
// message in one moves it to the top. Relationships are by the other person's id. Read
// states become the `unread` map the sidebar shows (a channel is unread when a message came
// after the last one read; mentions are counted by messages), and `lastRead`/`lastMessage`
// say whether an ack (ours, or `channel.ack` from another session) reached the newest message.
import type { DmChannel, Message, Relationship, UserSummary } from "../api/types";
import { compareIds, type ChannelMessages } from "./messages";

export type Unread = Record<string, { count: number; mentions: number }>;

export function sortDms(dms: DmChannel[]): DmChannel[] {
  return [...dms].sort((a, b) => compareIds(b.last_activity_id, a.last_activity_id));
}

export function upsertDm(dms: DmChannel[], dm: DmChannel): DmChannel[] {
  return sortDms([...dms.filter((d) => d.id !== dm.id), dm]);
}

/** A message in a DM: that DM's activity moves to it (and the DM to the top). */
export function bumpDm(dms: DmChannel[], channelId: string, messageId: string): DmChannel[] {
  const dm = dms.find((d) => d.id === channelId);
  if (!dm || compareIds(messageId, dm.last_activity_id) <= 0) return dms;
  return upsertDm(dms, { ...dm, last_activity_id: messageId });
}

/** What a DM is called: its name, else the others in it. */
export function dmName(dm: DmChannel, meId: string | undefined): string {
  if (dm.name) return dm.name;
  const others = dm.recipients.filter((u) => u.id !== meId).map((u) => u.username);
  return others.length ? others.join(", ") : "Just you";
}

export function dmOthers(dm: DmChannel, meId: string | undefined): UserSummary[] {
  return dm.recipients.filter((u) => u.id !== meId);
}

export type RelationshipKind = "friend" | "incoming" | "outgoing" | "blocked";

/** The friends page's sections, each by name. */
export function relationshipGroups(relationships: Record<string, Relationship>): Record<RelationshipKind, Relationship[]> {
  const groups: Record<RelationshipKind, Relationship[]> = { friend: [], incoming: [], outgoing: [], blocked: [] };
  for (const r of Object.values(relationships)) {
    const kind = r.kind as RelationshipKind;
    if (kind in groups) groups[kind].push(r);
  }
  for (const list of Object.values(groups)) list.sort((a, b) => a.user.username.localeCompare(b.user.username));
  return groups;
}

/** Read `upTo` in a channel: unread goes when it reaches the newest message, else mentions are as told. */
export function applyAck(
  unread: Unread,
  lastMessage: Record<string, string>,
  channelId: string,
  upTo: string,
  mentions: number,
): Unread {
  const newest = lastMessage[channelId];
  const next = { ...unread };
  if (!newest || compareIds(upTo, newest) >= 0) delete next[channelId];
  else next[channelId] = { count: Math.max(1, next[channelId]?.count ?? 1), mentions };
  return next;
}

/** The later of two ids (null: none). */
export function laterId(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return compareIds(a, b) >= 0 ? a : b;
}

/** Is this person one the caller blocked (by READY's relationships and their updates)? */
export function isBlocked(relationships: Record<string, Relationship>, userId: string): boolean {
  return relationships[userId]?.kind === "blocked";
}

/**
 * A message marked as the caller's own block list says. REST answers come marked
 * (`author_blocked`) but gateway frames are the same for every viewer and are not: a live
 * message by someone the caller blocked is marked here. A mark already on a message (REST's)
 * is kept; an unblock clears it through `remarkAuthor`.
 */
export function markBlocked<M extends Message>(relationships: Record<string, Relationship>, message: M): M {
  if (message.author_blocked || !isBlocked(relationships, message.author.id)) return message;
  return { ...message, author_blocked: true };
}

/** After a block or unblock of `userId`: their loaded messages are marked, or unmarked. */
export function remarkAuthor(messages: Record<string, ChannelMessages>, userId: string, blocked: boolean): Record<string, ChannelMessages> {
  const next: Record<string, ChannelMessages> = {};
  for (const [channelId, channel] of Object.entries(messages)) {
    if (!channel.items.some((m) => m.author.id === userId && Boolean(m.author_blocked) !== blocked)) {
      next[channelId] = channel;
      continue;
    }
    next[channelId] = {
      ...channel,
      items: channel.items.map((m) => {
        if (m.author.id !== userId) return m;
        if (blocked) return { ...m, author_blocked: true };
        const rest = { ...m };
        delete rest.author_blocked;
        return rest;
      }),
    };
  }
  return next;
}
