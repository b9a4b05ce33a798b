import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { estimateRow, heightKey, knownHeight, lines, rememberHeight } from "./rowHeights";

const base: Message = {
  id: "1",
  server_id: "1",
  channel_id: "2",
  author: { id: "3", username: "bo", avatar_url: null },
  content: "hello",
  created_at: "2026-12-01T00:00:00Z",
  mention_everyone: false,
  pinned: false,
};

describe("row height estimates", () => {
  it("one line: the exact heights of MessageRow's CSS", () => {
    expect(estimateRow(base, true, 800)).toBe(28);
    expect(estimateRow(base, false, 800)).toBe(58);
    expect(estimateRow({ ...base, reactions: [{ emoji: "👍", count: 1, me: false }] }, true, 800)).toBe(54);
    expect(estimateRow({ ...base, reply_to: { id: "0", author: null, content: null } }, false, 800)).toBe(76);
    // A blocked author's message is one small line however long (MessageRow's collapsed row).
    expect(estimateRow({ ...base, content: "a\nb\nc", author_blocked: true }, true, 800)).toBe(24);
    expect(estimateRow({ ...base, author_blocked: true }, false, 800)).toBe(34);
  });

  it("more lines for newlines and for text wider than the column", () => {
    expect(lines("a\nb\nc", 800)).toBe(3);
    expect(lines("x".repeat(300), 380)).toBe(6);
    expect(estimateRow({ ...base, content: "a\nb" }, true, 800)).toBe(52);
  });

  it("remembers measured heights by what changes them", () => {
    const key = heightKey(base, true);
    expect(key).not.toBe(heightKey({ ...base, edited_at: "2026-12-02T00:00:00Z" }, true));
    expect(key).not.toBe(heightKey(base, false));
    // Collapsed (a blocked author's) and shown are measured apart.
    expect(key).not.toBe(heightKey({ ...base, author_blocked: true }, true));
    rememberHeight(key, 31);
    expect(knownHeight(key)).toBe(31);
  });
});
