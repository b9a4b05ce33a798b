import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { upload } from "../api/endpoints";
import type { Ban, AuditEntry } from "../api/endpoints";
import type { InviteView, MemberView, PermissionExplanation, RoleView } from "../api/types";
import { has, mayModerate, P, rank, type PermissionName } from "../state/permissions";
import type { ServerState } from "../state/store";
import { useApp } from "./context";
import { Dialog } from "./Dialog";
import { membershipOf, serverPerms } from "./perms";

type Tab = "overview" | "members" | "roles" | "channels" | "explain" | "invites" | "bans" | "audit";

const LABELS: Record<Tab, string> = {
  overview: "Overview",
  members: "Members",
  roles: "Roles",
  channels: "Channels",
  explain: "Permissions explained",
  invites: "Invites",
  bans: "Bans",
  audit: "Audit log",
};

/** Server settings: each tab shown only to those whose permissions allow it (the server checks again). */
export default function ServerSettings({ server, onClose }: { server: ServerState; onClose: () => void }) {
  const { state } = useApp();
  const perms = serverPerms(server, state.me!.id);
  const tabs: Tab[] = (
    [
      ["overview", P.MANAGE_SERVER],
      ["members", P.KICK_MEMBERS | P.BAN_MEMBERS | P.MANAGE_ROLES],
      ["roles", P.MANAGE_ROLES],
      ["channels", P.MANAGE_CHANNELS],
      ["explain", P.MANAGE_ROLES],
      ["invites", P.MANAGE_SERVER],
      ["bans", P.BAN_MEMBERS],
      ["audit", P.VIEW_AUDIT_LOG],
    ] as [Tab, bigint][]
  )
    .filter(([, need]) => (perms & need) !== 0n)
    .map(([tab]) => tab);
  const [tab, setTab] = useState<Tab>(tabs[0] ?? "members");
  const [error, setError] = useState<string | null>(null);
  const fail = useCallback((caught: unknown) => setError(caught instanceof ApiError ? caught.message : "Something went wrong"), []);

  return (
    <Dialog title={`${server.server.name} settings`} onClose={onClose} wide>
      <div role="tablist" aria-label="Settings sections" className="mb-3 flex flex-wrap gap-1">
        {tabs.map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t)} className={`rounded px-3 py-1 text-sm ${tab === t ? "bg-accent text-white" : "bg-bg"}`}>
            {LABELS[t]}
          </button>
        ))}
      </div>
      {error && (
        <p role="alert" className="mb-2 text-sm text-danger">
          {error}
        </p>
      )}
      <div role="tabpanel" aria-label={LABELS[tab]}>
        {tab === "overview" && <Overview server={server} fail={fail} />}
        {tab === "members" && <Members server={server} fail={fail} />}
        {tab === "roles" && <Roles server={server} fail={fail} />}
        {tab === "channels" && <Channels server={server} fail={fail} />}
        {tab === "explain" && <Explain server={server} fail={fail} />}
        {tab === "invites" && <Invites server={server} fail={fail} />}
        {tab === "bans" && <Bans server={server} fail={fail} />}
        {tab === "audit" && <Audit server={server} fail={fail} />}
      </div>
    </Dialog>
  );
}

type Props = { server: ServerState; fail: (caught: unknown) => void };

function Members({ server, fail }: Props) {
  const { api, state, dispatch } = useApp();
  const me = state.me!;
  const [members, setMembers] = useState<MemberView[]>([]);
  const sid = server.server.id;
  const load = useCallback(() => {
    api.members(sid).then((list) => {
      setMembers(list);
      dispatch({ type: "members", serverId: sid, members: list });
    }, fail);
  }, [api, sid, dispatch, fail]);
  useEffect(load, [load]);
  const mine = membershipOf(server, me.id);
  const myPerms = serverPerms(server, me.id);
  const myRank = rank(mine);
  const assignable = server.roles.filter((r) => !r.default && !r.managed && (r.position < myRank) && has(myPerms, P.MANAGE_ROLES));

  async function act(work: Promise<void>) {
    try {
      await work;
      load();
    } catch (caught) {
      fail(caught);
    }
  }

  return (
    <ul aria-label="Members" className="space-y-1">
      {members.map((m) => {
        const target = { userId: m.user.id, roles: m.roles };
        const roles = new Set(m.roles ?? []);
        return (
          <li key={m.user.id} aria-label={m.user.username} className="flex flex-wrap items-center gap-2 rounded bg-bg px-2 py-1">
            <span className="font-medium">{m.user.username}</span>
            {m.user.id === server.server.owner_id && <span className="text-xs text-muted">owner</span>}
            <span className="ml-auto flex flex-wrap gap-1">
              {assignable.map((r) => (
                <label key={r.id} className="flex items-center gap-1 text-xs">
                  <input
                    type="checkbox"
                    checked={roles.has(r.id)}
                    onChange={(e) => {
                      const give = e.target.checked;
                      // Shown at once; the reload after the call shows what the server kept.
                      setMembers((list) =>
                        list.map((x) =>
                          x.user.id === m.user.id
                            ? { ...x, roles: give ? [...(x.roles ?? []), r.id] : (x.roles ?? []).filter((id) => id !== r.id) }
                            : x,
                        ),
                      );
                      void act(api.giveRole(sid, m.user.id, r.id, give));
                    }}
                  />
                  {r.name}
                </label>
              ))}
              {mayModerate(mine, target, P.KICK_MEMBERS) && (
                <button onClick={() => void act(api.kick(sid, m.user.id))} className="rounded bg-red-700 px-2 text-xs text-white">
                  Kick
                </button>
              )}
              {mayModerate(mine, target, P.BAN_MEMBERS) && (
                <button onClick={() => void act(api.ban(sid, m.user.id, null))} className="rounded bg-red-700 px-2 text-xs text-white">
                  Ban
                </button>
              )}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

const PERMISSION_NAMES = Object.keys(P) as PermissionName[];

function Roles({ server, fail }: Props) {
  const { api, state } = useApp();
  const me = state.me!;
  const sid = server.server.id;
  const myPerms = serverPerms(server, me.id);
  const myRank = rank(membershipOf(server, me.id));
  const isOwner = server.server.owner_id === me.id;
  const [selected, setSelected] = useState<string | null>(null);
  const role = server.roles.find((r) => r.id === selected) ?? null;

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const name = String(new FormData(form).get("name") ?? "").trim();
    try {
      const created = await api.createRole(sid, name, 0);
      setSelected(created.id);
      form.reset();
    } catch (caught) {
      fail(caught);
    }
  }

  return (
    <div className="grid gap-3 md:grid-cols-[12rem_1fr]">
      <div>
        <ul aria-label="Roles" className="space-y-1">
          {server.roles.map((r) => (
            <li key={r.id}>
              <button aria-current={r.id === selected ? "true" : undefined} onClick={() => setSelected(r.id)} className={`w-full rounded px-2 py-1 text-left text-sm ${r.id === selected ? "bg-hover" : ""}`}>
                {r.default ? "@everyone (member)" : r.managed ? `${r.name} (bot)` : r.name}
              </button>
            </li>
          ))}
        </ul>
        <form onSubmit={create} className="mt-2 flex gap-1">
          <input name="name" aria-label="New role name" placeholder="New role" required maxLength={100} className="min-w-0 flex-1 rounded bg-bg px-2 py-1 text-sm" />
          <button className="rounded bg-accent px-2 text-sm text-white">Create role</button>
        </form>
      </div>
      {role && <RoleEditor key={role.id} role={role} editable={!role.managed && (isOwner || role.default || role.position < myRank)} myPerms={myPerms} isOwner={isOwner} fail={fail} />}
    </div>
  );
}

function RoleEditor({ role, editable, myPerms, isOwner, fail }: { role: RoleView; editable: boolean; myPerms: bigint; isOwner: boolean; fail: (c: unknown) => void }) {
  const { api } = useApp();
  const [bits, setBits] = useState(BigInt(role.permissions));
  const [saved, setSaved] = useState(false);
  async function save() {
    try {
      await api.updateRole(role.server_id, role.id, { permissions: Number(bits) });
      setSaved(true);
    } catch (caught) {
      fail(caught);
    }
  }
  return (
    <fieldset disabled={!editable} className="space-y-1">
      <legend className="mb-2 font-semibold">Permissions of {role.name}</legend>
      <div className="grid grid-cols-1 gap-1 sm:grid-cols-2">
        {PERMISSION_NAMES.map((name) => {
          const bit = P[name];
          // Granting a bit one does not hold is refused (no escalation): do not offer it.
          const grantable = isOwner || has(myPerms, bit) || (bits & bit) !== 0n;
          return (
            <label key={name} className={`flex items-center gap-2 text-sm ${grantable ? "" : "opacity-40"}`}>
              <input
                type="checkbox"
                disabled={!grantable}
                checked={(bits & bit) !== 0n}
                onChange={(e) => {
                  setSaved(false);
                  setBits((b) => (e.target.checked ? b | bit : b & ~bit));
                }}
              />
              {name.toLowerCase().replaceAll("_", " ")}
            </label>
          );
        })}
      </div>
      {editable && (
        <div className="flex items-center gap-2 pt-2">
          <button type="button" onClick={() => void save()} className="rounded bg-accent px-3 py-1 text-sm text-white">
            Save role
          </button>
          {!role.default && (
            <>
              <button
                type="button"
                aria-label={`Move ${role.name} up`}
                onClick={() => void api.updateRole(role.server_id, role.id, { position: role.position + 1 }).catch(fail)}
                className="rounded bg-bg px-2 py-1 text-sm"
              >
                ↑
              </button>
              <button
                type="button"
                aria-label={`Move ${role.name} down`}
                disabled={role.position <= 1}
                onClick={() => void api.updateRole(role.server_id, role.id, { position: role.position - 1 }).catch(fail)}
                className="rounded bg-bg px-2 py-1 text-sm disabled:opacity-40"
              >
                ↓
              </button>
              <button type="button" onClick={() => void api.deleteRole(role.server_id, role.id).catch(fail)} className="rounded bg-red-700 px-3 py-1 text-sm text-white">
                Delete role
              </button>
            </>
          )}
          {saved && <span role="status" className="text-sm text-muted">Saved</span>}
        </div>
      )}
    </fieldset>
  );
}

function Channels({ server, fail }: Props) {
  const { api, dispatch } = useApp();
  const sid = server.server.id;
  const [done, setDone] = useState<string | null>(null);
  const roles = server.roles.filter((r) => !r.default);
  const categories = server.channels.filter((c) => c.kind === "category");

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const name = String(data.get("name") ?? "").trim();
    const kind = String(data.get("kind") ?? "text");
    const parent = String(data.get("parent") ?? "");
    const isPrivate = data.get("private") === "on";
    const allowed = data.getAll("allow").map(String);
    try {
      const channel = await api.createChannel(sid, { name, kind, ...(parent ? { parent_id: parent } : {}) });
      if (isPrivate) {
        for (const roleId of allowed) await api.setOverwrite(channel.id, roleId, "role", Number(P.VIEW_CHANNEL), 0);
        await api.setOverwrite(channel.id, sid, "role", 0, Number(P.VIEW_CHANNEL));
      }
      dispatch({ type: "channels", serverId: sid, channels: await api.channels(sid) });
      setDone(`Created #${channel.name}`);
      form.reset();
    } catch (caught) {
      fail(caught);
    }
  }

  return (
    <form onSubmit={create} className="space-y-2">
      <label className="block text-sm">
        <span className="text-muted">Channel name</span>
        <input name="name" required maxLength={100} className="mt-1 w-full rounded bg-bg px-2 py-1" />
      </label>
      <label className="block text-sm">
        <span className="text-muted">Kind</span>
        <select name="kind" className="mt-1 w-full rounded bg-bg px-2 py-1">
          <option value="text">Text</option>
          <option value="category">Category</option>
          <option value="voice">Voice</option>
        </select>
      </label>
      {categories.length > 0 && (
        <label className="block text-sm">
          <span className="text-muted">Category</span>
          <select name="parent" className="mt-1 w-full rounded bg-bg px-2 py-1">
            <option value="">None</option>
            {categories.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="private" /> Private channel (only the roles below can see it)
      </label>
      {roles.length > 0 && (
        <fieldset className="flex flex-wrap gap-3 text-sm">
          <legend className="text-muted">Roles that can see a private channel</legend>
          {roles.map((r) => (
            <label key={r.id} className="flex items-center gap-1">
              <input type="checkbox" name="allow" value={r.id} /> {r.name}
            </label>
          ))}
        </fieldset>
      )}
      <button className="rounded bg-accent px-3 py-1 text-sm text-white">Create channel</button>
      {done && <p role="status" className="text-sm text-muted">{done}</p>}
    </form>
  );
}

function Invites({ server, fail }: Props) {
  const { api } = useApp();
  const [invites, setInvites] = useState<InviteView[]>([]);
  const sid = server.server.id;
  const load = useCallback(() => void api.invites(sid).then(setInvites, fail), [api, sid, fail]);
  useEffect(load, [load]);
  return (
    <ul aria-label="Invites" className="space-y-1">
      {invites.length === 0 && <li className="text-muted">No active invites.</li>}
      {invites.map((i) => (
        <li key={i.code} className="flex items-center gap-2 rounded bg-bg px-2 py-1 text-sm">
          <code>{i.code}</code>
          <span className="text-muted">
            {i.uses} uses{i.max_uses ? ` of ${i.max_uses}` : ""}
          </span>
          <button onClick={() => void api.revokeInvite(i.code).then(load, fail)} className="ml-auto rounded bg-red-700 px-2 text-xs text-white">
            Revoke
          </button>
        </li>
      ))}
    </ul>
  );
}

function Bans({ server, fail }: Props) {
  const { api } = useApp();
  const [bans, setBans] = useState<Ban[]>([]);
  const sid = server.server.id;
  const load = useCallback(() => void api.bans(sid).then(setBans, fail), [api, sid, fail]);
  useEffect(load, [load]);
  return (
    <ul aria-label="Bans" className="space-y-1">
      {bans.length === 0 && <li className="text-muted">Nobody is banned.</li>}
      {bans.map((b) => (
        <li key={b.user_id} className="flex items-center gap-2 rounded bg-bg px-2 py-1 text-sm">
          <span>{b.user_id}</span>
          <span className="text-muted">{b.reason ?? "no reason"}</span>
          <button onClick={() => void api.unban(sid, b.user_id).then(load, fail)} className="ml-auto rounded bg-hover px-2 text-xs">
            Unban
          </button>
        </li>
      ))}
    </ul>
  );
}

function Audit({ server, fail }: Props) {
  const { api } = useApp();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  useEffect(() => void api.auditLog(server.server.id).then(setEntries, fail), [api, server.server.id, fail]);
  return (
    <ol aria-label="Audit log" className="space-y-1 text-sm">
      {entries.map((e) => (
        <li key={e.id} className="rounded bg-bg px-2 py-1">
          <code>{e.action}</code> by {e.actor_id ?? "someone"}
          {e.target_id && ` on ${e.target_id}`}
          {e.reason && ` — ${e.reason}`}
          <span className="ml-2 text-xs text-muted">{new Date(e.created_at).toLocaleString()}</span>
        </li>
      ))}
    </ol>
  );
}

/** "Why can't they post?": every step of a member's permissions in a channel, as guilds computes them. */
function Explain({ server, fail }: Props) {
  const { api, state, dispatch } = useApp();
  const sid = server.server.id;
  const members = Object.values(state.members[sid] ?? {});
  const channels = server.channels.filter((c) => c.kind !== "category");
  const [result, setResult] = useState<PermissionExplanation | null>(null);
  useEffect(() => {
    if (members.length === 0) api.members(sid).then((list) => dispatch({ type: "members", serverId: sid, members: list }), fail);
  }, [api, dispatch, sid, fail, members.length]);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    try {
      setResult(await api.explain(String(data.get("channel")), String(data.get("member"))));
    } catch (caught) {
      fail(caught);
    }
  }
  const names = Object.fromEntries(server.roles.map((r) => [r.id, r.name]));
  return (
    <div className="space-y-3">
      <form onSubmit={submit} className="flex flex-wrap items-end gap-2 text-sm">
        <label>
          <span className="block text-muted">Member</span>
          <select name="member" className="rounded bg-bg px-2 py-1">
            {members.map((m) => (
              <option key={m.user.id} value={m.user.id}>
                {m.user.username}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="block text-muted">Channel</span>
          <select name="channel" className="rounded bg-bg px-2 py-1">
            {channels.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <button className="rounded bg-accent px-3 py-1 text-white">Explain</button>
      </form>
      {result && (
        <div aria-label="Explanation" role="region" className="text-sm">
          <ol className="space-y-1">
            {result.steps.map((step, i) => (
              <li key={i} className="rounded bg-bg px-2 py-1">
                {step.what.replace(/^role (\d+)$/, (_, id: string) => `role ${names[id] ?? id}`)}
                {(step.allow !== 0 || step.deny !== 0) && (
                  <span className="ml-2 text-muted">
                    {step.allow !== 0 && `allows ${namesOf(BigInt(step.allow)).join(", ")}`}
                    {step.allow !== 0 && step.deny !== 0 && "; "}
                    {step.deny !== 0 && `denies ${namesOf(BigInt(step.deny)).join(", ")}`}
                  </span>
                )}
              </li>
            ))}
          </ol>
          <p className="mt-2">
            <strong>Result:</strong> {result.granted.length ? result.granted.join(", ").toLowerCase().replaceAll("_", " ") : "nothing: the channel is hidden"}
          </p>
        </div>
      )}
    </div>
  );
}

function namesOf(bits: bigint): string[] {
  return PERMISSION_NAMES.filter((n) => (bits & P[n]) !== 0n).map((n) => n.toLowerCase().replaceAll("_", " "));
}

/** Name, description and icon (an upload with purpose "icon", linked by guilds). */
function Overview({ server, fail }: Props) {
  const { api, session, dispatch } = useApp();
  const [saved, setSaved] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const body: Record<string, unknown> = {
      name: String(data.get("name") ?? "").trim(),
      description: String(data.get("description") ?? "").trim() || null,
    };
    const icon = data.get("icon");
    setSaved(false);
    try {
      if (icon instanceof File && icon.size > 0) {
        setProgress(0);
        body.icon = (await upload(session, icon, setProgress, "icon")).id;
      }
      dispatch({ type: "server", server: await api.updateServer(server.server.id, body) });
      setSaved(true);
    } catch (caught) {
      fail(caught);
    } finally {
      setProgress(null);
    }
  }
  return (
    <form onSubmit={save} className="space-y-2 text-sm">
      <label className="block">
        <span className="text-muted">Server name</span>
        <input name="name" required maxLength={100} defaultValue={server.server.name} className="mt-1 w-full rounded bg-bg px-2 py-1" />
      </label>
      <label className="block">
        <span className="text-muted">Description</span>
        <textarea name="description" maxLength={1000} defaultValue={server.server.description ?? ""} className="mt-1 w-full rounded bg-bg px-2 py-1" />
      </label>
      <label className="block">
        <span className="text-muted">Icon (PNG, JPEG, WebP or GIF)</span>
        <input name="icon" type="file" accept="image/png,image/jpeg,image/webp,image/gif" className="mt-1 w-full" />
      </label>
      {progress !== null && <progress aria-label="Uploading the icon" max={1} value={progress} className="w-full" />}
      <button className="rounded bg-accent px-3 py-1 text-white">Save</button>
      {saved && <p role="status" className="text-muted">Saved</p>}
    </form>
  );
}
