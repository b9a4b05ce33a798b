import type { ChannelView } from "../api/types";
import { basePermissions, channelPermissions, type Membership } from "../state/permissions";
import type { ServerState } from "../state/store";

export function membershipOf(server: ServerState, userId: string): Membership {
  return {
    serverId: server.server.id,
    ownerId: server.server.owner_id,
    userId,
    roles: server.roles,
    member: server.member,
  };
}

export function serverPerms(server: ServerState, userId: string): bigint {
  return basePermissions(membershipOf(server, userId));
}

export function channelPerms(server: ServerState, channel: ChannelView, userId: string): bigint {
  return channelPermissions(membershipOf(server, userId), channel);
}
