import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { upload } from "../api/endpoints";
import { Op } from "../gateway/protocol";
import { useApp } from "./context";
import { Dialog } from "./Dialog";

const STATUSES = ["online", "idle", "dnd", "invisible"] as const;

/** Your own account: username, status, avatar; and deleting it. */
export function ProfileDialog({ onClose }: { onClose: () => void }) {
  const { api, state, session, gateway } = useApp();
  const me = state.me!;
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const username = String(data.get("username") ?? "").trim();
    const status = String(data.get("status") ?? "online");
    const file = data.get("avatar");
    setError(null);
    setSaved(false);
    try {
      const body: Record<string, unknown> = { status };
      if (username && username !== me.username) body.username = username;
      if (file instanceof File && file.size > 0) {
        setProgress(0);
        const media = await upload(session, file, setProgress, "avatar");
        body.avatar = media.id;
      }
      await api.updateProfile(body);
      gateway?.send(Op.PRESENCE_UPDATE, { status });
      setSaved(true);
    } catch (caught) {
      setError(caught instanceof ApiError || caught instanceof Error ? caught.message : "Could not save");
    } finally {
      setProgress(null);
    }
  }

  async function remove(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const password = String(new FormData(event.currentTarget).get("password") ?? "");
    if (!confirm("Delete your account? This cannot be undone.")) return;
    try {
      await api.deleteAccount(password);
      session.end();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Could not delete the account");
    }
  }

  return (
    <Dialog title="Your profile" onClose={onClose}>
      <form onSubmit={save} className="space-y-3">
        <label className="block text-sm">
          <span className="mb-1 block text-muted">Username</span>
          <input name="username" defaultValue={me.username} minLength={2} maxLength={32} className="w-full rounded bg-bg px-3 py-2" />
        </label>
        <label className="block text-sm">
          <span className="mb-1 block text-muted">Status</span>
          <select name="status" defaultValue="online" className="w-full rounded bg-bg px-3 py-2">
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === "dnd" ? "do not disturb" : s}
              </option>
            ))}
          </select>
        </label>
        <label className="block text-sm">
          <span className="mb-1 block text-muted">Avatar (PNG, JPEG, WebP or GIF)</span>
          <input name="avatar" type="file" accept="image/png,image/jpeg,image/webp,image/gif" className="w-full text-sm" />
        </label>
        {progress !== null && <progress aria-label="Uploading the avatar" max={1} value={progress} className="w-full" />}
        {error && <p role="alert" className="text-sm text-danger">{error}</p>}
        {saved && <p role="status" className="text-sm text-muted">Saved</p>}
        <button className="rounded bg-accent px-3 py-1 text-white">Save</button>
      </form>
      <form onSubmit={remove} className="mt-6 space-y-2 border-t border-black/20 pt-4">
        <h3 className="font-semibold text-danger">Delete the account</h3>
        <label className="block text-sm">
          <span className="mb-1 block text-muted">Password</span>
          <input name="password" type="password" required autoComplete="current-password" className="w-full rounded bg-bg px-3 py-2" />
        </label>
        <button className="rounded bg-red-700 px-3 py-1 text-sm text-white">Delete my account</button>
      </form>
    </Dialog>
  );
}
