import { useEffect, useMemo, useState } from "react";
import type { ChannelView, Message } from "../api/types";
import { has, P } from "../state/permissions";
import type { ServerState } from "../state/store";
import { Composer } from "./Composer";
import { useApp } from "./context";
import { MessageList } from "./MessageList";
import type { RowActions } from "./MessageRow";
import { channelPerms } from "./perms";
import { MembersPanel, PinsPanel, SearchPanel } from "./SidePanels";

export function ChannelPane({ server, channel }: { server: ServerState; channel: ChannelView }) {
  const { state, api, dispatch } = useApp();
  const me = state.me!;
  useEffect(() => {
    dispatch({ type: "viewing", channelId: channel.id });
    return () => dispatch({ type: "viewing", channelId: null });
  }, [dispatch, channel.id]);
  // Names for mentions and their autocomplete: the first 1,000 members, once per server.
  const sid = server.server.id;
  const haveMembers = state.members[sid] !== undefined;
  useEffect(() => {
    if (!haveMembers) {
      api.members(sid).then((members) => dispatch({ type: "members", serverId: sid, members }), () => undefined);
    }
  }, [api, dispatch, sid, haveMembers]);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [panel, setPanel] = useState<"pins" | "search" | "members" | null>(null);
  const perms = channelPerms(server, channel, me.id);
  const members = state.members[server.server.id];

  const actions: RowActions = useMemo(() => {
    const names = (id: string) => members?.[id]?.user.username ?? (id === me.id ? me.username : "someone");
    const roleNames = new Map(server.roles.map((r) => [r.id, r.name]));
    return {
      canEdit: (m) => m.author.id === me.id,
      canDelete: (m) => m.author.id === me.id || has(perms, P.MANAGE_MESSAGES),
      canPin: has(perms, P.MANAGE_MESSAGES),
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
  }, [api, channel.id, me.id, me.username, perms, members, server.roles]);

  const typing = Object.entries(state.typing[channel.id] ?? {}).map(([id]) => actions.names(id));

  return (
    <div className="flex min-h-0 flex-1">
      <section aria-label={`#${channel.name}`} className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center gap-3 border-b border-black/20 px-4 py-2">
          <h2 className="font-semibold">
            <span aria-hidden="true" className="text-muted">
              #{" "}
            </span>
            {channel.name}
          </h2>
          {channel.topic && <p className="hidden truncate text-sm text-muted sm:block">{channel.topic}</p>}
          <div className="ml-auto flex gap-1">
            <button aria-pressed={panel === "pins"} onClick={() => setPanel(panel === "pins" ? null : "pins")} className="rounded px-2 py-1 text-sm hover:bg-hover">
              Pins
            </button>
            <button aria-pressed={panel === "members"} onClick={() => setPanel(panel === "members" ? null : "members")} className="rounded px-2 py-1 text-sm hover:bg-hover">
              Members
            </button>
            <button aria-pressed={panel === "search"} onClick={() => setPanel(panel === "search" ? null : "search")} className="rounded px-2 py-1 text-sm hover:bg-hover">
              Search
            </button>
          </div>
        </header>
        <MessageList channel={channel} actions={actions} />
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
      {panel === "search" && <SearchPanel server={server} onClose={() => setPanel(null)} />}
      {panel === "members" && <MembersPanel server={server} onClose={() => setPanel(null)} />}
    </div>
  );
}
