import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { addOlderPage, compareIds, confirm, emptyChannel, jumpPage, mergeMessages } from "./messages";

function msg(id: string, content = `m${id}`): Message {
  return {
    id,
    server_id: "1",
    channel_id: "2",
    author: { id: "3", username: "ada", avatar_url: null },
    content,
    created_at: "2026-12-01T00:00:00Z",
    mention_everyone: false,
    pinned: false,
  };
}

describe("message lists", () => {
  it("orders snowflakes numerically, not as text", () => {
    expect(["10", "9", "100", "11"].sort(compareIds)).toEqual(["9", "10", "11", "100"]);
    expect(compareIds("1234567890123456789", "999999999999999999")).toBeGreaterThan(0);
  });

  it("merges pages and events in any order, each id once, the later copy winning", () => {
    const merged = mergeMessages([msg("5"), msg("7")], [msg("6"), msg("7", "edited"), msg("3")]);
    expect(merged.map((m) => [m.id, m.content])).toEqual([
      ["3", "m3"],
      ["5", "m5"],
      ["6", "m6"],
      ["7", "edited"],
    ]);
  });

  it("knows when the start of the channel is reached", () => {
    let channel = addOlderPage(emptyChannel, [msg("9"), msg("8")], 2);
    expect(channel.hasMoreBefore).toBe(true);
    channel = addOlderPage(channel, [msg("7")], 2);
    expect(channel.hasMoreBefore).toBe(false);
    expect(channel.items.map((m) => m.id)).toEqual(["7", "8", "9"]);
  });

  it("holds 10,000 messages merged page by page in order", () => {
    let channel = emptyChannel;
    for (let page = 199; page >= 0; page--) {
      const ids = Array.from({ length: 50 }, (_, i) => String(1_000_000 + page * 50 + (49 - i)));
      channel = addOlderPage(channel, ids.map((id) => msg(id)), 50);
    }
    expect(channel.items).toHaveLength(10_000);
    expect(channel.items[0]!.id).toBe("1000000");
    expect(channel.items.at(-1)!.id).toBe("1009999");
  });
});

describe("jumping to a message", () => {
  const m = (id: string): Message => ({
    id,
    server_id: "1",
    channel_id: "2",
    author: { id: "9", username: "bo", avatar_url: null },
    content: id,
    created_at: "2026-12-01T00:00:00Z",
    mention_everyone: false,
    pinned: false,
  });
  const loaded = addOlderPage(emptyChannel, [m("103"), m("102"), m("101")], 3);

  it("merges a page that meets the loaded history: one run, still live", () => {
    const c = jumpPage(loaded, [m("101"), m("100"), m("99")]);
    expect(c.items.map((x) => x.id)).toEqual(["99", "100", "101", "102", "103"]);
    expect(c.detached).toBeUndefined();
    expect(confirm(c, m("104"), null).items.at(-1)!.id).toBe("104");
  });

  it("shows a page of the far past alone, and live messages wait for the present (no gap)", () => {
    const c = jumpPage(loaded, [m("12"), m("11"), m("10")]);
    expect(c.items.map((x) => x.id)).toEqual(["10", "11", "12"]);
    expect(c.detached).toBe(true);
    expect(c.hasMoreBefore).toBe(true);
    expect(confirm(c, m("104"), null).items.map((x) => x.id)).toEqual(["10", "11", "12"]);
    // An edit of a shown message still applies.
    expect(confirm(c, { ...m("11"), content: "edited" }, null).items[1]!.content).toBe("edited");
  });
});
