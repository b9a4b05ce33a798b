// The REST calls the app makes, one function each, typed by the generated OpenAPI shapes.
import type { Session } from "./client";
import type {
  ChannelDetail,
  ChannelView,
  DmChannel,
  IceServers,
  InviteView,
  MediaObject,
  MemberView,
  Message,
  PermissionExplanation,
  ReadState,
  Relationship,
  RoleView,
  SearchResults,
  SelfUser,
  ServerDetail,
  ServerView,
} from "./types";

const e = encodeURIComponent;

export interface Ban {
  user_id: string;
  reason: string | null;
  banned_by: string | null;
  created_at: string;
}

export interface AuditEntry {
  id: string;
  actor_id: string | null;
  action: string;
  target_id: string | null;
  reason: string | null;
  created_at: string;
}

export function api(session: Session) {
  const r = session.request.bind(session);
  return {
    me: () => r<SelfUser>("GET", "/api/v1/auth/me"),
    logout: () => r<void>("POST", "/api/v1/auth/logout"),
    updateProfile: (body: Record<string, unknown>) => r<SelfUser>("PATCH", "/api/v1/users/me", body),
    deleteAccount: (password: string) => r<void>("DELETE", "/api/v1/users/me", { password }),

    createServer: (name: string) => r<ServerView>("POST", "/api/v1/servers", { name }),
    server: (id: string) => r<ServerDetail>("GET", `/api/v1/servers/${id}`),
    updateServer: (id: string, body: Record<string, unknown>) => r<ServerView>("PATCH", `/api/v1/servers/${id}`, body),
    channels: (serverId: string) => r<ChannelView[]>("GET", `/api/v1/servers/${serverId}/channels`),
    channel: (id: string) => r<ChannelDetail>("GET", `/api/v1/channels/${id}`),
    roles: (serverId: string) => r<RoleView[]>("GET", `/api/v1/servers/${serverId}/roles`),
    members: (serverId: string, after = "0") =>
      r<MemberView[]>("GET", `/api/v1/servers/${serverId}/members?limit=1000&after=${after}`),
    leave: (serverId: string) => r<void>("DELETE", `/api/v1/servers/${serverId}/members/@me`),
    kick: (serverId: string, userId: string) => r<void>("DELETE", `/api/v1/servers/${serverId}/members/${userId}`),
    ban: (serverId: string, userId: string, reason: string | null) =>
      r<void>("PUT", `/api/v1/servers/${serverId}/bans/${userId}`, reason ? { reason } : {}),
    unban: (serverId: string, userId: string) => r<void>("DELETE", `/api/v1/servers/${serverId}/bans/${userId}`),
    bans: (serverId: string) => r<Ban[]>("GET", `/api/v1/servers/${serverId}/bans?limit=1000`),
    auditLog: (serverId: string) => r<AuditEntry[]>("GET", `/api/v1/servers/${serverId}/audit-log?limit=50`),
    createRole: (serverId: string, name: string, permissions: number) =>
      r<RoleView>("POST", `/api/v1/servers/${serverId}/roles`, { name, permissions }),
    updateRole: (serverId: string, roleId: string, body: Record<string, unknown>) =>
      r<RoleView>("PATCH", `/api/v1/servers/${serverId}/roles/${roleId}`, body),
    deleteRole: (serverId: string, roleId: string) => r<void>("DELETE", `/api/v1/servers/${serverId}/roles/${roleId}`),
    giveRole: (serverId: string, userId: string, roleId: string, give: boolean) =>
      r<void>(give ? "PUT" : "DELETE", `/api/v1/servers/${serverId}/members/${userId}/roles/${roleId}`),
    createChannel: (serverId: string, body: Record<string, unknown>) =>
      r<ChannelView>("POST", `/api/v1/servers/${serverId}/channels`, body),
    setOverwrite: (channelId: string, targetId: string, kind: "role" | "member", allow: number, deny: number) =>
      r<void>("PUT", `/api/v1/channels/${channelId}/permissions/${targetId}`, { target_kind: kind, allow, deny }),
    explain: (channelId: string, userId: string) =>
      r<PermissionExplanation>("GET", `/api/v1/channels/${channelId}/permissions/explain?user_id=${userId}`),
    createInvite: (channelId: string) => r<InviteView>("POST", `/api/v1/channels/${channelId}/invites`, {}),
    invites: (serverId: string) => r<InviteView[]>("GET", `/api/v1/servers/${serverId}/invites`),
    revokeInvite: (code: string) => r<void>("DELETE", `/api/v1/invites/${e(code)}`),
    join: (code: string) => r<ServerView>("POST", `/api/v1/invites/${e(code)}`),

    history: (channelId: string, before: string | null, limit: number) =>
      r<Message[]>(
        "GET",
        `/api/v1/channels/${channelId}/messages?limit=${limit}${before ? `&before=${before}` : ""}`,
      ),
    send: (channelId: string, body: { content?: string; nonce: string; reply_to_id?: string; attachments?: string[] }) =>
      r<Message>("POST", `/api/v1/channels/${channelId}/messages`, body),
    edit: (channelId: string, messageId: string, content: string) =>
      r<Message>("PATCH", `/api/v1/channels/${channelId}/messages/${messageId}`, { content }),
    remove: (channelId: string, messageId: string) =>
      r<void>("DELETE", `/api/v1/channels/${channelId}/messages/${messageId}`),
    react: (channelId: string, messageId: string, emoji: string, on: boolean) =>
      r<void>(on ? "PUT" : "DELETE", `/api/v1/channels/${channelId}/messages/${messageId}/reactions/${e(emoji)}/@me`),
    reactors: (channelId: string, messageId: string, emoji: string) =>
      r<{ id: string; username: string }[]>(
        "GET",
        `/api/v1/channels/${channelId}/messages/${messageId}/reactions/${e(emoji)}?limit=25`,
      ),
    pin: (channelId: string, messageId: string, on: boolean) =>
      r<void>(on ? "PUT" : "DELETE", `/api/v1/channels/${channelId}/messages/${messageId}/pin`),
    pins: (channelId: string) => r<Message[]>("GET", `/api/v1/channels/${channelId}/messages/pins`),
    ack: (channelId: string, messageId: string) =>
      r<ReadState>("POST", `/api/v1/channels/${channelId}/messages/${messageId}/ack`),
    around: (channelId: string, messageId: string, limit: number) =>
      r<Message[]>("GET", `/api/v1/channels/${channelId}/messages?around=${messageId}&limit=${limit}`),

    iceServers: () => r<IceServers>("GET", "/api/v1/voice/ice-servers"),

    dms: () => r<DmChannel[]>("GET", "/api/v1/users/@me/channels"),
    openDm: (recipientIds: string[], name?: string) =>
      r<DmChannel>("POST", "/api/v1/users/@me/channels", name ? { recipient_ids: recipientIds, name } : { recipient_ids: recipientIds }),
    leaveDm: (channelId: string) => r<void>("DELETE", `/api/v1/users/@me/channels/${channelId}`),
    relationships: () => r<Relationship[]>("GET", "/api/v1/users/@me/relationships"),
    addFriend: (username: string) => r<Relationship>("POST", "/api/v1/users/@me/relationships", { username }),
    setRelationship: (userId: string, kind: "friend" | "blocked") =>
      r<Relationship>("PUT", `/api/v1/users/@me/relationships/${userId}`, { kind }),
    removeRelationship: (userId: string) => r<void>("DELETE", `/api/v1/users/@me/relationships/${userId}`),

    privacy: (serverId: string) => r<{ allow_dms: boolean }>("GET", `/api/v1/servers/${serverId}/privacy`),
    setPrivacy: (serverId: string, allowDms: boolean) =>
      r<{ allow_dms: boolean }>("PUT", `/api/v1/servers/${serverId}/privacy`, { allow_dms: allowDms }),

    search: (serverId: string, q: string) =>
      r<SearchResults>("GET", `/api/v1/servers/${serverId}/messages/search?q=${e(q)}&order=newest`),
  };
}
export type Api = ReturnType<typeof api>;

/** Upload one file (multipart, streamed by media) with progress from 0 to 1. */
export async function upload(
  session: Session,
  file: File,
  onProgress: (fraction: number) => void,
  purpose: "attachment" | "avatar" | "icon" = "attachment",
): Promise<MediaObject> {
  const token = await session.accessToken();
  const form = new FormData();
  form.append("purpose", purpose);
  form.append("file", file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/media/upload");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText) as MediaObject);
      else {
        let message = `upload failed (${xhr.status})`;
        try {
          message = (JSON.parse(xhr.responseText) as { message: string }).message;
        } catch {
          /* keep the status */
        }
        reject(new Error(message));
      }
    };
    xhr.onerror = () => reject(new Error("upload failed: network error"));
    xhr.send(form);
  });
}

/** A file behind an authenticated redirect (attachments), as an object URL for <img>. */
export async function mediaObjectUrl(session: Session, path: string): Promise<string> {
  const token = await session.accessToken();
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`media ${response.status}`);
  return URL.createObjectURL(await response.blob());
}
