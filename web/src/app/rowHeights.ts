// Row heights for the virtualised message list. The virtualiser recomputes every offset after
// the first row whose measured height differs from what it assumed (10,000 rows: every
// measurement is a pass over all of them), so the better the guess the less work while
// scrolling: most messages are one line, whose height is known exactly from the CSS
// (MessageRow: `py-0.5`/`pt-3`, 24 px lines, a 20 px header, 26 px of reactions, 18 px of
// reply preview). Heights measured once are remembered by message (and what changes its
// height), so a channel opened again starts with every row where it was.
import type { Message } from "../api/types";

export const LINE = 24;
const COMPACT = 4 + LINE; // py-0.5 around one line
const HEADER = 12 + 20 + LINE + 2; // pt-3, the name line, one line, pb-0.5 (the 32 px avatar fits)
const REPLY = 18;
const REACTIONS = 26;
const ATTACHMENT = 220;
/** An average character of the message font, in px (16 px system UI). */
const CHAR = 7.6;

/** How many lines a text takes at a width (pre-wrap: each newline starts one). */
export function lines(text: string, width: number): number {
  const perLine = Math.max(8, Math.floor(width / CHAR));
  let total = 0;
  for (const paragraph of text.split("\n")) total += Math.max(1, Math.ceil(paragraph.length / perLine));
  return total;
}

export function estimateRow(message: Message, compact: boolean, textWidth: number): number {
  // A blocked author's message is one small line until shown (MessageRow).
  if (message.author_blocked) return compact ? 4 + 20 : 12 + 20 + 2;
  let h = compact ? COMPACT : HEADER;
  if (message.content) h += (lines(message.content, textWidth) - 1) * LINE;
  else h -= LINE;
  if (message.reply_to) h += REPLY;
  if (message.reactions && message.reactions.length > 0) h += REACTIONS;
  if (message.attachments && message.attachments.length > 0) h += message.attachments.length * ATTACHMENT;
  return h;
}

/** What a row's height depends on besides its width: a measurement of another state is stale. */
export function heightKey(message: Message, compact: boolean): string {
  return `${message.id}:${compact ? 1 : 0}:${message.edited_at ?? ""}:${message.reactions?.length ?? 0}:${message.reply_to ? 1 : 0}${message.author_blocked ? ":b" : ""}`;
}

const MAX_REMEMBERED = 20_000;
const measured = new Map<string, number>();

export function rememberHeight(key: string, height: number): void {
  if (measured.size >= MAX_REMEMBERED) measured.delete(measured.keys().next().value!);
  measured.set(key, height);
}

export function knownHeight(key: string): number | undefined {
  return measured.get(key);
}
