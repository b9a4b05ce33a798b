import type { ChannelView, DmChannel } from "../api/types";

/** "#general" for a server's channel, "@bo" for a DM. */
export function channelLabel(channel: ChannelView): string {
  return channel.kind === "dm" || channel.kind === "group_dm" ? `@${channel.name}` : `#${channel.name}`;
}

/** A DM shown with the channel views: a channel whose scope is the DM itself. */
export function dmAsChannel(dm: DmChannel, name: string): ChannelView {
  return { id: dm.id, server_id: dm.id, name, kind: dm.kind, position: 0 };
}
