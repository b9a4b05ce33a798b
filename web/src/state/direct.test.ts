// DMs, friends and read states in the reducer: READY's snapshot, live DMs and relationships,
// unread markers and mention badges, and acks (ours, and another session's `channel.ack`).
import { describe, expect, it } from "vitest";
import type { DmChannel, Message, Relationship } from "../api/types";
import type { Dispatch, Ready } from "../gateway/protocol";
import { applyAck, dmName, relationshipGroups, sortDms } from "./direct";
import { initialState, reduce, type Action, type State } from "./store";

const ME = { id: "100", username: "ada", avatar_url: null };
const BO = { id: "200", username: "bo", avatar_url: null };
const CY = { id: "300", username: "cy", avatar_url: null };

function dm(id: string, last: string, recipients = [ME, BO], extra: Partial<DmChannel> = {}): DmChannel {
  return { id, kind: recipients.length > 2 ? "group_dm" : "dm", recipients, last_activity_id: last, ...extra };
}

function rel(user: typeof BO, kind: string): Relationship {
  return { user, kind, since: "2026-12-01T00:00:00Z" };
}

function ready(extra: Partial<Ready> = {}): Ready {
  return { v: 1, session_id: "s", user: ME, servers: [], presences: [], ...extra };
}

function msg(id: string, channelId: string, extra: Partial<Message> = {}): Message {
  return {
    id,
    server_id: channelId,
    channel_id: channelId,
    author: BO,
    content: `message ${id}`,
    created_at: "2026-12-01T00:00:00Z",
    mention_everyone: false,
    pinned: false,
    ...extra,
  };
}

let seq = 0;
function d(dispatch: Omit<Dispatch, "s">): Action {
  seq += 1;
  return { type: "dispatch", dispatch: { ...dispatch, s: seq } as Dispatch, now: 1_000 };
}

function apply(...actions: Action[]): State {
  return actions.reduce(reduce, initialState);
}

describe("READY's DMs, relationships and read states", () => {
  it("keeps DMs newest first, friends with their presence, and unread channels with mentions", () => {
    const s = apply(
      d({
        t: "ready",
        d: ready({
          dm_channels: [dm("10", "11"), dm("20", "25", [ME, BO, CY], { name: null })],
          relationships: [
            { ...rel(BO, "friend"), status: "online" },
            { ...rel(CY, "incoming"), status: null },
          ],
          read_states: [
            { channel_id: "20", last_read_id: "21", last_message_id: "25", unread: true, mention_count: 2, level: "all", muted: false },
            { channel_id: "10", last_read_id: "11", last_message_id: "11", unread: false, mention_count: 0, level: "all", muted: false },
          ],
        }),
      }),
    );
    expect(s.dms.map((x) => x.id)).toEqual(["20", "10"]);
    expect(s.relationships["200"]!.kind).toBe("friend");
    expect(s.relationships["200"]).not.toHaveProperty("status");
    expect(s.presence["200"]).toBe("online");
    expect(s.presence["300"]).toBeUndefined();
    expect(s.unread).toEqual({ "20": { count: 1, mentions: 2 } });
    expect(s.lastRead["20"]).toBe("21");
    expect(s.lastMessage["20"]).toBe("25");
    expect(dmName(s.dms[0]!, ME.id)).toBe("bo, cy");
  });
});

describe("live DMs", () => {
  it("a message in an older DM moves it to the top and marks it unread; viewing clears it", () => {
    let s = apply(d({ t: "ready", d: ready({ dm_channels: [dm("20", "25"), dm("10", "11")] }) }));
    s = reduce(s, d({ t: "message.create", d: { message: msg("30", "10") } }));
    expect(s.dms.map((x) => x.id)).toEqual(["10", "20"]);
    expect(s.dms[0]!.last_activity_id).toBe("30");
    expect(s.unread["10"]).toEqual({ count: 1, mentions: 0 });
    expect(s.lastMessage["10"]).toBe("30");
    s = reduce(s, { type: "viewing", channelId: "10" });
    expect(s.unread["10"]).toBeUndefined();
  });

  it("my own message reads the DM (nothing to ack), a DM opened elsewhere arrives, a left one goes", () => {
    let s = apply(d({ t: "ready", d: ready() }), d({ t: "dm_channel.create", d: { channel: dm("10", "10") } }));
    expect(s.dms.map((x) => x.id)).toEqual(["10"]);
    s = reduce(s, d({ t: "message.create", d: { message: msg("12", "10", { author: ME }) } }));
    expect(s.unread["10"]).toBeUndefined();
    expect(s.lastRead["10"]).toBe("12");
    s = reduce(s, d({ t: "dm_channel.delete", d: { channel_id: "10", user_id: ME.id } }));
    expect(s.dms).toEqual([]);
  });
});

describe("acks", () => {
  it("another session's channel.ack of the newest message clears the badge; an older one leaves it with its mentions", () => {
    let s = apply(d({ t: "ready", d: ready({ dm_channels: [dm("10", "10")] }) }));
    s = reduce(s, d({ t: "message.create", d: { message: msg("11", "10") } }));
    s = reduce(s, d({ t: "message.create", d: { message: msg("12", "10") } }));
    expect(s.unread["10"]).toEqual({ count: 2, mentions: 0 });
    s = reduce(s, d({ t: "channel.ack", d: { user_id: ME.id, channel_id: "10", message_id: "11", mention_count: 0 } }));
    expect(s.unread["10"]).toBeDefined();
    s = reduce(s, d({ t: "channel.ack", d: { user_id: ME.id, channel_id: "10", message_id: "12", mention_count: 0 } }));
    expect(s.unread["10"]).toBeUndefined();
    expect(s.lastRead["10"]).toBe("12");
    // An ack never moves back.
    s = reduce(s, { type: "acked", channelId: "10", messageId: "11" });
    expect(s.lastRead["10"]).toBe("12");
  });

  it("applyAck keeps the mentions the server counts after the acked message", () => {
    expect(applyAck({ c: { count: 3, mentions: 2 } }, { c: "9" }, "c", "5", 1)).toEqual({ c: { count: 3, mentions: 1 } });
    expect(applyAck({ c: { count: 3, mentions: 2 } }, { c: "9" }, "c", "10", 0)).toEqual({});
  });
});

describe("relationships", () => {
  it("are updated and removed live, and grouped for the friends page", () => {
    let s = apply(d({ t: "ready", d: ready() }));
    s = reduce(s, d({ t: "relationship.update", d: { user_id: ME.id, relationship: rel(BO, "outgoing") } }));
    s = reduce(s, d({ t: "relationship.update", d: { user_id: ME.id, relationship: rel(CY, "incoming") } }));
    expect(relationshipGroups(s.relationships).outgoing.map((r) => r.user.username)).toEqual(["bo"]);
    s = reduce(s, d({ t: "relationship.update", d: { user_id: ME.id, relationship: rel(BO, "friend") } }));
    s = reduce(s, d({ t: "relationship.remove", d: { user_id: ME.id, other_id: CY.id } }));
    const groups = relationshipGroups(s.relationships);
    expect(groups.friend.map((r) => r.user.username)).toEqual(["bo"]);
    expect(groups.outgoing).toEqual([]);
    expect(groups.incoming).toEqual([]);
  });

  it("sortDms orders by the newest activity (ids compared as numbers)", () => {
    expect(sortDms([dm("1", "9"), dm("2", "10"), dm("3", "8")]).map((x) => x.id)).toEqual(["2", "1", "3"]);
  });
});

describe("blocked authors' messages", () => {
  const SERVER_CHANNEL = "5001";
  const history = (page: Message[]): Action => ({ type: "history", channelId: SERVER_CHANNEL, page, limit: 50 });
  const items = (s: State) => s.messages[SERVER_CHANNEL]!.items.map((m) => [m.id, Boolean(m.author_blocked)]);

  it("marks a live message by someone the caller blocked (gateway frames are not marked), and no one else's", () => {
    const s = apply(
      d({ t: "ready", d: ready({ relationships: [{ ...rel(BO, "blocked"), status: null }] }) }),
      history([]),
      d({ t: "message.create", d: { message: msg("11", SERVER_CHANNEL) } }),
      d({ t: "message.create", d: { message: msg("12", SERVER_CHANNEL, { author: CY }) } }),
      d({ t: "message.update", d: { message: msg("11", SERVER_CHANNEL, { content: "edited" }) } }),
    );
    expect(items(s)).toEqual([
      ["11", true],
      ["12", false],
    ]);
  });

  it("keeps REST's mark, and marks a page by the block list too", () => {
    const s = apply(
      d({ t: "ready", d: ready() }),
      d({ t: "relationship.update", d: { user_id: ME.id, relationship: rel(CY, "blocked") } }),
      history([msg("11", SERVER_CHANNEL, { author_blocked: true }), msg("12", SERVER_CHANNEL, { author: CY }), msg("13", SERVER_CHANNEL, { author: ME })]),
    );
    expect(items(s)).toEqual([
      ["11", true],
      ["12", true],
      ["13", false],
    ]);
  });

  it("a block marks the loaded messages of that person at once; an unblock (or its removal) unmarks them", () => {
    const loaded = apply(
      d({ t: "ready", d: ready({ relationships: [{ ...rel(BO, "friend"), status: null }] }) }),
      history([msg("11", SERVER_CHANNEL), msg("12", SERVER_CHANNEL, { author: CY })]),
    );
    const blocked = reduce(loaded, d({ t: "relationship.update", d: { user_id: ME.id, relationship: rel(BO, "blocked") } }));
    expect(items(blocked)).toEqual([
      ["11", true],
      ["12", false],
    ]);
    const unblocked = reduce(blocked, d({ t: "relationship.remove", d: { user_id: ME.id, other_id: BO.id } }));
    expect(items(unblocked)).toEqual([
      ["11", false],
      ["12", false],
    ]);
    expect(unblocked.messages[SERVER_CHANNEL]!.items[0]).not.toHaveProperty("author_blocked");
    // A block, then friendship again (accepting a new request) also unmarks.
    const friends = reduce(blocked, { type: "relationship", relationship: rel(BO, "friend") });
    expect(items(friends)).toEqual([
      ["11", false],
      ["12", false],
    ]);
    // Nothing else changed: the same loaded channel object when no one's mark moves.
    const again = reduce(loaded, { type: "relationship", relationship: rel(CY, "outgoing") });
    expect(again.messages).toBe(loaded.messages);
  });
});

describe("typing in DMs and DM privacy", () => {
  it("shows who types in a DM (typing.start with the DM's id as server_id), until their message", () => {
    let s = apply(d({ t: "ready", d: ready({ dm_channels: [dm("10", "11")] }) }));
    s = reduce(s, d({ t: "typing.start", d: { server_id: "10", channel_id: "10", user_id: BO.id, timestamp: "2026-12-01T00:00:00Z" } }));
    expect(Object.keys(s.typing["10"] ?? {})).toEqual([BO.id]);
    // Our own typing (another session of ours) is not shown.
    s = reduce(s, d({ t: "typing.start", d: { server_id: "10", channel_id: "10", user_id: ME.id, timestamp: "2026-12-01T00:00:00Z" } }));
    expect(Object.keys(s.typing["10"] ?? {})).toEqual([BO.id]);
    s = reduce(s, d({ t: "message.create", d: { message: msg("12", "10") } }));
    expect(Object.keys(s.typing["10"] ?? {})).toEqual([]);
  });

  it("keeps each server's DM privacy as set here or told by another session (dm_privacy.update)", () => {
    let s = apply(d({ t: "ready", d: ready() }), { type: "dm-privacy", serverId: "1000", allowDms: true });
    expect(s.dmPrivacy).toEqual({ "1000": true });
    s = reduce(s, d({ t: "dm_privacy.update", d: { user_id: ME.id, server_id: "1000", allow_dms: false } }));
    s = reduce(s, d({ t: "dm_privacy.update", d: { user_id: ME.id, server_id: "2000", allow_dms: false } }));
    expect(s.dmPrivacy).toEqual({ "1000": false, "2000": false });
    // Someone else's setting is none of ours.
    s = reduce(s, d({ t: "dm_privacy.update", d: { user_id: BO.id, server_id: "1000", allow_dms: true } }));
    expect(s.dmPrivacy["1000"]).toBe(false);
  });
});
