// A server's DM privacy for the caller: may its other members open DMs with them (docs/api.md,
// GET/PUT /servers/{id}/privacy). Kept in the state so another session's change
// (`dm_privacy.update`) shows here at once.
import { useEffect, useState } from "react";
import { ApiError } from "../api/client";
import type { ServerState } from "../state/store";
import { useApp } from "./context";
import { Dialog } from "./Dialog";

export function PrivacyDialog({ server, onClose }: { server: ServerState; onClose: () => void }) {
  const { state, api, dispatch } = useApp();
  const sid = server.server.id;
  const allow = state.dmPrivacy[sid];
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    let live = true;
    api.privacy(sid).then(
      (p) => live && dispatch({ type: "dm-privacy", serverId: sid, allowDms: p.allow_dms }),
      (caught: unknown) => live && setError(caught instanceof ApiError ? caught.message : "Could not load the setting"),
    );
    return () => {
      live = false;
    };
  }, [api, dispatch, sid]);
  // Shown at once, then as the server answers (back as it was if refused).
  async function set(allowDms: boolean) {
    const before = allow;
    dispatch({ type: "dm-privacy", serverId: sid, allowDms });
    setSaving(true);
    try {
      const p = await api.setPrivacy(sid, allowDms);
      dispatch({ type: "dm-privacy", serverId: sid, allowDms: p.allow_dms });
      setError(null);
    } catch (caught) {
      if (before !== undefined) dispatch({ type: "dm-privacy", serverId: sid, allowDms: before });
      setError(caught instanceof ApiError ? caught.message : "Could not save the setting");
    } finally {
      setSaving(false);
    }
  }
  return (
    <Dialog title={`Privacy in ${server.server.name}`} onClose={onClose}>
      {allow === undefined && !error && <p role="status">Loading…</p>}
      {allow !== undefined && (
        <label className="flex items-start gap-2">
          <input type="checkbox" className="mt-1" checked={allow} disabled={saving} onChange={(e) => void set(e.target.checked)} />
          <span>
            Allow direct messages from server members
            <span className="block text-sm text-muted">Off: members who are not your friends cannot open a DM with you. Friends and DMs already open are unaffected.</span>
          </span>
        </label>
      )}
      {error && (
        <p role="alert" className="mt-2 text-danger">
          {error}
        </p>
      )}
    </Dialog>
  );
}
