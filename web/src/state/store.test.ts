import { describe, expect, it } from "vitest";
import type { ChannelView, Message, RoleView } from "../api/types";
import type { Dispatch, Ready } from "../gateway/protocol";
import { initialState, reduce, type Action, type State } from "./store";

const ME = { id: "100", username: "ada", avatar_url: null };
const BO = { id: "200", username: "bo", avatar_url: null };
const SERVER = { id: "1000", name: "Book club", owner_id: "100", created_at: "2026-12-01T00:00:00Z" };
const GENERAL: ChannelView = { id: "1001", server_id: "1000", kind: "text", name: "general", position: 0, overwrites: [] };
const MEMBER_ROLE: RoleView = { id: "1000", server_id: "1000", name: "member", permissions: 1155259, position: 0, color: 0, default: true, managed: false };

function ready(): Ready {
  return {
    v: 1,
    session_id: "s",
    user: ME,
    presences: [{ server_id: "1000", user_id: "200", status: "online", last_seen: null }],
    servers: [
      {
        server: SERVER,
        channels: [GENERAL],
        roles: [MEMBER_ROLE],
        member: { server_id: "1000", user: ME, nickname: null, roles: [], joined_at: "2026-12-01T00:00:00Z" },
        member_count: 2,
        access: {
          server_id: "1000",
          channels: [],
          user_id: "100",
          is_owner: true,
          default_role: { id: "1000", permissions: 1155259 },
          member_roles: [],
        },
      },
    ],
  };
}

function msg(id: string, extra: Partial<Message> = {}): Message {
  return {
    id,
    server_id: "1000",
    channel_id: "1001",
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

const loaded: Action = { type: "history", channelId: "1001", page: [msg("5"), msg("4")], limit: 50 };

describe("the reducer", () => {
  it("READY replaces the servers and sets presence", () => {
    const state = apply(d({ t: "ready", d: ready() }));
    expect(state.me).toEqual(ME);
    expect(Object.keys(state.servers)).toEqual(["1000"]);
    expect(state.servers["1000"]!.memberCount).toBe(2);
    expect(state.presence["200"]).toBe("online");
  });

  it("message.create appends once, however often it arrives (replay after resume)", () => {
    const create = d({ t: "message.create", d: { message: msg("6") } });
    const state = apply(d({ t: "ready", d: ready() }), loaded, create, create);
    expect(state.messages["1001"]!.items.map((m) => m.id)).toEqual(["4", "5", "6"]);
  });

  it("a sent message replaces its pending copy by nonce, whichever of answer and event comes first", () => {
    const mine = msg("7", { author: ME, nonce: "n-1", content: "hi" });
    const sending: Action = { type: "sending", channelId: "1001", pending: { nonce: "n-1", content: "hi", replyTo: null, failed: false } };
    for (const order of [
      [d({ t: "message.create", d: { message: mine } }), { type: "sent", channelId: "1001", message: mine } as Action],
      [{ type: "sent", channelId: "1001", message: mine } as Action, d({ t: "message.create", d: { message: mine } })],
    ]) {
      const state = apply(d({ t: "ready", d: ready() }), loaded, sending, ...order);
      expect(state.messages["1001"]!.pending).toEqual([]);
      expect(state.messages["1001"]!.items.filter((m) => m.id === "7")).toHaveLength(1);
    }
  });

  it("a failed send stays, marked failed", () => {
    const state = apply(
      d({ t: "ready", d: ready() }),
      loaded,
      { type: "sending", channelId: "1001", pending: { nonce: "n-2", content: "x", replyTo: null, failed: false } },
      { type: "send-failed", channelId: "1001", nonce: "n-2" },
    );
    expect(state.messages["1001"]!.pending).toEqual([{ nonce: "n-2", content: "x", replyTo: null, failed: true }]);
  });

  it("edits keep the known reactions; deletes remove and blank the replies' quotes", () => {
    const ref = { server_id: "1000", channel_id: "1001", message_id: "5" };
    const reply = msg("6", { reply_to: { id: "5", author: BO, content: "message 5" } });
    const state = apply(
      d({ t: "ready", d: ready() }),
      loaded,
      d({ t: "message.create", d: { message: reply } }),
      d({ t: "reaction.add", d: { ...ref, user_id: "100", emoji: "👍" } }),
      d({ t: "message.update", d: { message: msg("5", { content: "edited", edited_at: "2026-12-01T00:01:00Z" }) } }),
    );
    const five = state.messages["1001"]!.items.find((m) => m.id === "5")!;
    expect(five.content).toBe("edited");
    expect(five.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    const after = reduce(state, d({ t: "message.delete", d: ref }));
    expect(after.messages["1001"]!.items.map((m) => m.id)).toEqual(["4", "6"]);
    expect(after.messages["1001"]!.items[1]!.reply_to).toEqual({ id: "5", author: null, content: null });
  });

  it("counts reactions from others and from me", () => {
    const ref = { server_id: "1000", channel_id: "1001", message_id: "4" };
    const state = apply(
      d({ t: "ready", d: ready() }),
      loaded,
      d({ t: "reaction.add", d: { ...ref, user_id: "200", emoji: "🎉" } }),
      d({ t: "reaction.add", d: { ...ref, user_id: "100", emoji: "🎉" } }),
      d({ t: "reaction.remove", d: { ...ref, user_id: "200", emoji: "🎉" } }),
    );
    expect(state.messages["1001"]!.items[0]!.reactions).toEqual([{ emoji: "🎉", count: 1, me: true }]);
  });

  it("being kicked drops the server and its history at once, and says so", () => {
    const state = apply(
      d({ t: "ready", d: ready() }),
      loaded,
      d({ t: "member.left", d: { server_id: "1000", user_id: "100", reason: "kicked", member_count: 1 } }),
    );
    expect(state.servers).toEqual({});
    expect(state.messages["1001"]).toBeUndefined();
    expect(state.lostServer).toBe("1000");
  });

  it("someone else leaving only sets the count the event states", () => {
    const state = apply(
      d({ t: "ready", d: ready() }),
      d({ t: "member.left", d: { server_id: "1000", user_id: "200", reason: "left", member_count: 1 } }),
    );
    expect(state.servers["1000"]!.memberCount).toBe(1);
  });

  it("channels come and go; a hidden channel's history goes with it", () => {
    const secret: ChannelView = { ...GENERAL, id: "1002", name: "secret", position: 1 };
    let state = apply(d({ t: "ready", d: ready() }), d({ t: "channel.created", d: { channel: secret } }));
    expect(state.servers["1000"]!.channels.map((c) => c.name)).toEqual(["general", "secret"]);
    state = reduce(state, d({ t: "channel.deleted", d: { server_id: "1000", channel_id: "1002" } }));
    expect(state.servers["1000"]!.channels.map((c) => c.name)).toEqual(["general"]);
  });

  it("typing shows until the author's message or the timeout", () => {
    const typing = { server_id: "1000", channel_id: "1001", user_id: "200", timestamp: "" };
    let state = apply(d({ t: "ready", d: ready() }), loaded, d({ t: "typing.start", d: typing }));
    expect(Object.keys(state.typing["1001"]!)).toEqual(["200"]);
    state = reduce(state, d({ t: "message.create", d: { message: msg("9") } }));
    expect(Object.keys(state.typing["1001"]!)).toEqual([]);
    state = reduce(state, d({ t: "typing.start", d: typing }));
    state = reduce(state, { type: "typing-expired", now: 1_000 + 8_001 });
    expect(Object.keys(state.typing["1001"]!)).toEqual([]);
  });

  it("a second READY (identify after an invalid session) replaces servers but keeps visible history", () => {
    let state = apply(d({ t: "ready", d: ready() }), loaded);
    state = reduce(state, d({ t: "ready", d: ready() }));
    expect(state.messages["1001"]!.items).toHaveLength(2);
    state = reduce(state, d({ t: "ready", d: { ...ready(), servers: [] } }));
    expect(state.messages["1001"]).toBeUndefined();
  });

  it("counts unread messages and mentions in channels not on screen; viewing clears them", () => {
    const other: ChannelView = { ...GENERAL, id: "1002", name: "other", position: 1 };
    let state = apply(d({ t: "ready", d: ready() }), d({ t: "channel.created", d: { channel: other } }), { type: "viewing", channelId: "1001" });
    state = reduce(state, d({ t: "message.create", d: { message: msg("20") } }));
    state = reduce(state, d({ t: "message.create", d: { message: msg("21", { channel_id: "1002" }) } }));
    state = reduce(state, d({ t: "message.create", d: { message: msg("22", { channel_id: "1002", mention_user_ids: ["100"] }) } }));
    state = reduce(state, d({ t: "message.create", d: { message: msg("23", { channel_id: "1002", author: ME }) } }));
    expect(state.unread).toEqual({ "1002": { count: 2, mentions: 1 } });
    state = reduce(state, { type: "viewing", channelId: "1002" });
    expect(state.unread).toEqual({});
  });
});
