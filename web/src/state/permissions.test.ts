import { describe, expect, it } from "vitest";
import type { RoleView } from "../api/types";
import { ALL, basePermissions, channelPermissions, has, mayModerate, P, type Membership } from "./permissions";

const role = (id: string, permissions: bigint, position: number, isDefault = false): RoleView => ({
  id,
  server_id: "1",
  name: id,
  permissions: Number(permissions),
  position,
  color: 0,
  default: isDefault,
  managed: false,
});
const MEMBER = P.VIEW_CHANNEL | P.SEND_MESSAGES | P.ADD_REACTIONS | P.ATTACH_FILES | P.EMBED_LINKS | P.READ_MESSAGE_HISTORY | P.CREATE_INVITES;
const ROLES = [role("1", MEMBER, 0, true), role("mod", P.KICK_MEMBERS | P.MANAGE_MESSAGES, 1), role("admin", P.ADMINISTRATOR, 2)];

function who(userId: string, roles: string[] = []): Membership {
  return { serverId: "1", ownerId: "owner", userId, roles: ROLES, member: { roles } };
}

describe("permissions (the same computation as harmoniq_common.permissions)", () => {
  it("the owner and administrators may do everything; ADMINISTRATOR is past 32 bits", () => {
    expect(basePermissions(who("owner"))).toBe(ALL);
    expect(basePermissions(who("a", ["admin"]))).toBe(ALL);
    expect(has(basePermissions(who("a", ["admin"])), P.ADMINISTRATOR)).toBe(true);
    expect(basePermissions(who("m"))).toBe(MEMBER);
  });

  it("a private channel: hidden from the default role, opened by a role's overwrite", () => {
    const secret = {
      kind: "text",
      overwrites: [
        { target_kind: "role", target_id: "1", allow: 0, deny: Number(P.VIEW_CHANNEL) },
        { target_kind: "role", target_id: "mod", allow: Number(P.VIEW_CHANNEL), deny: 0 },
      ],
    };
    expect(channelPermissions(who("m"), secret)).toBe(0n);
    expect(has(channelPermissions(who("m", ["mod"]), secret), P.VIEW_CHANNEL)).toBe(true);
    expect(channelPermissions(who("owner"), secret)).toBe(ALL);
  });

  it("a member's own overwrite wins over their roles'; without SEND, attach and embed go too", () => {
    const channel = {
      kind: "text",
      overwrites: [
        { target_kind: "role", target_id: "mod", allow: Number(P.SEND_MESSAGES), deny: 0 },
        { target_kind: "member", target_id: "m", allow: 0, deny: Number(P.SEND_MESSAGES) },
      ],
    };
    const perms = channelPermissions(who("m", ["mod"]), channel);
    expect(has(perms, P.SEND_MESSAGES)).toBe(false);
    expect(has(perms, P.ATTACH_FILES)).toBe(false);
    expect(has(perms, P.VIEW_CHANNEL)).toBe(true);
  });

  it("kick controls show only with the permission, above the target, never for the owner", () => {
    expect(mayModerate(who("x", ["mod"]), { userId: "m", roles: [] }, P.KICK_MEMBERS)).toBe(true);
    expect(mayModerate(who("x", ["mod"]), { userId: "y", roles: ["mod"] }, P.KICK_MEMBERS)).toBe(false);
    expect(mayModerate(who("x", ["mod"]), { userId: "owner", roles: [] }, P.KICK_MEMBERS)).toBe(false);
    expect(mayModerate(who("m"), { userId: "n", roles: [] }, P.KICK_MEMBERS)).toBe(false);
    expect(mayModerate(who("owner"), { userId: "a", roles: ["admin"] }, P.BAN_MEMBERS)).toBe(true);
  });
});
