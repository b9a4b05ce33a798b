import { useEffect, useState } from "react";
import { ApiError } from "../api/client";
import type { ChannelView, InviteView } from "../api/types";
import { useApp } from "./context";
import { Dialog } from "./Dialog";

export function InviteDialog({ channel, onClose }: { channel: ChannelView; onClose: () => void }) {
  const { api } = useApp();
  const [invite, setInvite] = useState<InviteView | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.createInvite(channel.id).then(setInvite, (caught: unknown) =>
      setError(caught instanceof ApiError ? caught.message : "Could not create an invite"),
    );
  }, [api, channel.id]);
  const link = invite ? `${location.origin}/invite/${invite.code}` : "";
  return (
    <Dialog title={`Invite people to #${channel.name}`} onClose={onClose}>
      {error && <p role="alert" className="text-danger">{error}</p>}
      {!invite && !error && <p role="status">Creating an invite…</p>}
      {invite && (
        <div className="space-y-2">
          <label className="block text-sm">
            <span className="mb-1 block text-muted">Share this link (valid for a day)</span>
            <input readOnly value={link} aria-label="Invite link" className="w-full rounded bg-bg px-3 py-2" onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button
            className="rounded bg-accent px-3 py-1 text-white"
            onClick={() => void navigator.clipboard?.writeText(link).catch(() => undefined)}
          >
            Copy
          </button>
        </div>
      )}
    </Dialog>
  );
}
