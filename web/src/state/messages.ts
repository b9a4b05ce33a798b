// A channel's loaded messages: ascending by id, each once, whatever order pages and
// dispatches arrive in. Snowflakes are decimal strings of up to 19 digits: compared by length
// first, then as text (no BigInt parse per comparison).
import type { Message } from "../api/types";

export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A message being sent: shown at once, replaced by the real one when it comes back. */
export interface Pending {
  nonce: string;
  content: string;
  replyTo: Message | null;
  failed: boolean;
}

export interface ChannelMessages {
  items: Message[];
  pending: Pending[];
  /** An older page may exist (false once a page came back shorter than asked). */
  hasMoreBefore: boolean;
  loaded: boolean;
  /** Showing a page of the past (a jump to a search result), not the newest messages: live
   * messages newer than the page are not added (they would leave a gap) until the reader
   * returns to the present. */
  detached?: boolean;
}

export const emptyChannel: ChannelMessages = {
  items: [],
  pending: [],
  hasMoreBefore: true,
  loaded: false,
};

/** Merge messages in: new ids inserted in order, known ids replaced (the later copy wins). */
export function mergeMessages(existing: Message[], incoming: Message[]): Message[] {
  if (incoming.length === 0) return existing;
  const byId = new Map(existing.map((m) => [m.id, m]));
  for (const m of incoming) {
    const old = byId.get(m.id);
    // Events carry no reactions: keep the ones we know.
    byId.set(m.id, old && m.reactions === undefined ? { ...m, reactions: old.reactions } : m);
  }
  return [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
}

/** A message arrived (HTTP answer or dispatch): add it and drop the pending copy it confirms. */
export function confirm(channel: ChannelMessages, message: Message, selfId: string | null): ChannelMessages {
  const pending =
    message.nonce && message.author.id === selfId
      ? channel.pending.filter((p) => p.nonce !== message.nonce)
      : channel.pending;
  const last = channel.items.at(-1);
  const known = channel.items.some((m) => m.id === message.id);
  if (channel.detached && !known && last && compareIds(message.id, last.id) > 0) return { ...channel, pending };
  return { ...channel, items: mergeMessages(channel.items, [message]), pending };
}

/**
 * The page around a message (a jump): if it meets what is loaded, merge it (the history stays
 * one run, still live); otherwise show it alone, detached from the present.
 */
export function jumpPage(channel: ChannelMessages, page: Message[]): ChannelMessages {
  const sorted = mergeMessages([], page);
  const oldestLoaded = channel.items[0];
  const newestOfPage = sorted.at(-1);
  if (channel.loaded && oldestLoaded && newestOfPage && compareIds(newestOfPage.id, oldestLoaded.id) >= 0) {
    return { ...channel, items: mergeMessages(channel.items, sorted) };
  }
  return { items: sorted, pending: channel.pending, hasMoreBefore: true, loaded: true, detached: true };
}

export function removeMessages(channel: ChannelMessages, ids: string[]): ChannelMessages {
  const gone = new Set(ids);
  const items = channel.items
    .filter((m) => !gone.has(m.id))
    .map((m) =>
      m.reply_to && gone.has(m.reply_to.id)
        ? { ...m, reply_to: { id: m.reply_to.id, author: null, content: null } }
        : m,
    );
  return { ...channel, items };
}

/** An older page (newest first, as the API answers) was loaded. */
export function addOlderPage(channel: ChannelMessages, page: Message[], limit: number): ChannelMessages {
  return {
    ...channel,
    items: mergeMessages(channel.items, page),
    hasMoreBefore: page.length >= limit,
    loaded: true,
  };
}

export function applyReaction(
  message: Message,
  emoji: string,
  delta: 1 | -1,
  mine: boolean,
): Message {
  const reactions = [...(message.reactions ?? [])];
  const index = reactions.findIndex((r) => r.emoji === emoji);
  if (index === -1) {
    if (delta < 0) return message;
    reactions.push({ emoji, count: 1, me: mine });
  } else {
    const r = reactions[index]!;
    const count = r.count + delta;
    if (count <= 0) reactions.splice(index, 1);
    else reactions[index] = { ...r, count, me: mine ? delta > 0 : r.me };
  }
  return { ...message, reactions };
}
