import { useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router-dom";
import type { ChannelView, DmChannel, MemberView, Message } from "../api/types";
import { compareIds } from "../state/messages";
import { has, P } from "../state/permissions";
import type { ServerState } from "../state/store";
import { Composer } from "./Composer";
import { channelLabel } from "./labels";
import { useApp } from "./context";
import { MessageList } from "./MessageList";
import type { RowActions } from "./MessageRow";
import { channelPerms } from "./perms";
import { MembersPanel, PinsPanel, SearchPanel } from "./SidePanels";

/** What a participant may do in a DM: everything but delete others' messages (docs/api.md). */
const DM_PERMS = P.VIEW_CHANNEL | P.SEND_MESSAGES | P.ADD_REACTIONS | P.ATTACH_FILES | P.READ_MESSAGE_HISTORY | P.EMBED_LINKS;


/**
 * Reads the channel on screen: as its newest message changes (history loaded, a message came)
 * and is past what was read, ack it. Other sessions of ours hear `channel.ack` and clear it.
 */
function useAck(channelId: string) {
  const { state, api, dispatch } = useApp();
  const data = state.messages[channelId];
  // A page of the past is not the channel read.
  const newest = data?.detached ? null : (data?.items.at(-1)?.id ?? null);
  const lastRead = state.lastRead[channelId] ?? null;
  useEffect(() => {
    if (!newest || (lastRead && compareIds(newest, lastRead) <= 0)) return;
    dispatch({ type: "acked", channelId, messageId: newest });
    api.ack(channelId, newest).catch(() => undefined);
  }, [api, dispatch, channelId, newest, lastRead]);
}

export function ChannelPane({ server, dm, channel }: { server?: ServerState; dm?: DmChannel; channel: ChannelView }) {
  const { state, api, dispatch } = useApp();
  const me = state.me!;
  useEffect(() => {
    dispatch({ type: "viewing", channelId: channel.id });
    return () => dispatch({ type: "viewing", channelId: null });
  }, [dispatch, channel.id]);
  useAck(channel.id);
  // A jump (from search): `?m=<message id>` loads the page around it and highlights it.
  const [params, setParams] = useSearchParams();
  const jumpTo = params.get("m");
  const [jumpError, setJumpError] = useState<string | null>(null);
  useEffect(() => {
    if (!jumpTo || !/^\d{1,20}$/.test(jumpTo)) return;
    let live = true;
    api.around(channel.id, jumpTo, 50).then(
      (page) => {
        if (live) dispatch({ type: "jumped", channelId: channel.id, page });
      },
      () => live && setJumpError("Could not load that message."),
    );
    return () => {
      live = false;
    };
  }, [api, dispatch, channel.id, jumpTo]);
  // Names for mentions and their autocomplete: the first 1,000 members, once per server.
  const sid = server?.server.id ?? null;
  const haveMembers = sid === null || state.members[sid] !== undefined;
  useEffect(() => {
    if (sid && !haveMembers) {
      api.members(sid).then((members) => dispatch({ type: "members", serverId: sid, members }), () => undefined);
    }
  }, [api, dispatch, sid, haveMembers]);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [panel, setPanel] = useState<"pins" | "search" | "members" | null>(null);
  const perms = server ? channelPerms(server, channel, me.id) : DM_PERMS;
  const serverMembers = sid ? state.members[sid] : undefined;
  const members: Record<string, MemberView> | undefined = useMemo(() => {
    if (!dm) return serverMembers;
    const joined = new Date(0).toISOString();
    return Object.fromEntries(dm.recipients.map((user) => [user.id, { server_id: dm.id, user, nickname: null, roles: [], joined_at: joined }]));
  }, [dm, serverMembers]);
  const roles = server?.roles;

  const actions: RowActions = useMemo(() => {
    const names = (id: string) => members?.[id]?.user.username ?? (id === me.id ? me.username : "someone");
    const roleNames = new Map((roles ?? []).map((r) => [r.id, r.name]));
    return {
      canEdit: (m) => m.author.id === me.id,
      canDelete: (m) => m.author.id === me.id || has(perms, P.MANAGE_MESSAGES),
      // In a DM any participant pins.
      canPin: dm !== undefined || has(perms, P.MANAGE_MESSAGES),
      canReact: has(perms, P.ADD_REACTIONS),
      canReply: has(perms, P.SEND_MESSAGES),
      names,
      roles: (id) => roleNames.get(id) ?? "role",
      reply: (m) => {
        setReplyTo(m);
        document.getElementById("composer")?.focus();
      },
      react: (m, emoji, on) => void api.react(channel.id, m.id, emoji, on).catch(() => undefined),
      whoReacted: async (m, emoji) => (await api.reactors(channel.id, m.id, emoji)).map((u) => u.username),
      edit: async (m, content) => {
        await api.edit(channel.id, m.id, content);
      },
      remove: (m) => {
        if (confirm("Delete this message?")) void api.remove(channel.id, m.id).catch(() => undefined);
      },
      pin: (m, on) => void api.pin(channel.id, m.id, on).catch(() => undefined),
    };
  }, [api, channel.id, me.id, me.username, perms, members, roles, dm]);

  const typing = Object.entries(state.typing[channel.id] ?? {}).map(([id]) => actions.names(id));

  return (
    <div className="flex min-h-0 flex-1">
      <section aria-label={channelLabel(channel)} className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center gap-3 border-b border-black/20 px-4 py-2">
          <h2 className="font-semibold">
            <span aria-hidden="true" className="text-muted">
              {dm ? "@" : "#"}{" "}
            </span>
            {channel.name}
          </h2>
          {channel.topic && <p className="hidden truncate text-sm text-muted sm:block">{channel.topic}</p>}
          <div className="ml-auto flex gap-1">
            <button aria-pressed={panel === "pins"} onClick={() => setPanel(panel === "pins" ? null : "pins")} className="rounded px-2 py-1 text-sm hover:bg-hover">
              Pins
            </button>
            {server && (<>
            <button aria-pressed={panel === "members"} onClick={() => setPanel(panel === "members" ? null : "members")} className="rounded px-2 py-1 text-sm hover:bg-hover">
              Members
            </button>
            <button aria-pressed={panel === "search"} onClick={() => setPanel(panel === "search" ? null : "search")} className="rounded px-2 py-1 text-sm hover:bg-hover">
              Search
            </button>
            </>)}
          </div>
        </header>
        {jumpError && <p role="alert" className="px-4 py-1 text-sm text-danger">{jumpError}</p>}
        <MessageList channel={channel} actions={actions} highlight={jumpTo} />
        {state.messages[channel.id]?.detached && (
          <div className="flex items-center justify-between bg-accent/20 px-4 py-1 text-sm">
            <span>You are viewing older messages.</span>
            <button
              className="rounded px-2 py-0.5 underline"
              onClick={() => {
                dispatch({ type: "present", channelId: channel.id });
                setParams({}, { replace: true });
              }}
            >
              Jump to present
            </button>
          </div>
        )}
        <p aria-live="polite" className="h-5 px-4 text-xs text-muted">
          {typing.length > 0 && `${typing.join(", ")} ${typing.length === 1 ? "is" : "are"} typing…`}
        </p>
        {has(perms, P.SEND_MESSAGES) ? (
          <Composer
            channel={channel}
            replyTo={replyTo}
            onReplyDone={() => setReplyTo(null)}
            canAttach={has(perms, P.ATTACH_FILES)}
            members={Object.values(members ?? {})}
          />
        ) : (
          <p className="m-4 rounded bg-panel p-3 text-sm text-muted">You do not have permission to send messages in this channel.</p>
        )}
      </section>
      {panel === "pins" && <PinsPanel channel={channel} onClose={() => setPanel(null)} />}
      {panel === "search" && server && <SearchPanel server={server} onClose={() => setPanel(null)} />}
      {panel === "members" && server && <MembersPanel server={server} onClose={() => setPanel(null)} />}
    </div>
  );
}
