import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError, publicGet, type Session } from "../api/client";
import { api } from "../api/endpoints";
import type { InvitePreview } from "../api/types";

/** `/invite/{code}`: what the invite leads to first, then join (or log in to join). */
export function InvitePage({ session, loggedIn }: { session: Session; loggedIn: boolean }) {
  const { code = "" } = useParams();
  const navigate = useNavigate();
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    publicGet<InvitePreview>(`/api/v1/invites/${encodeURIComponent(code)}`).then(setPreview, (caught: unknown) =>
      setError(caught instanceof ApiError && caught.status === 404 ? "This invite is invalid or has expired." : "Could not load the invite."),
    );
  }, [code]);

  async function join() {
    setBusy(true);
    try {
      const server = await api(session).join(code);
      navigate(`/channels/${server.id}/${preview?.channel_id ?? ""}`);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Could not join");
      setBusy(false);
    }
  }

  const next = encodeURIComponent(`/invite/${code}`);
  return (
    <main className="flex min-h-full items-center justify-center bg-rail p-4">
      <section aria-labelledby="invite-title" className="w-full max-w-sm space-y-4 rounded-lg bg-panel p-6 text-center shadow-lg">
        {error && <p role="alert" className="text-danger">{error}</p>}
        {!preview && !error && <p role="status">Loading invite…</p>}
        {preview && (
          <>
            <p className="text-sm text-muted">You have been invited to join</p>
            <h1 id="invite-title" className="text-2xl font-semibold">
              {preview.server.name}
            </h1>
            {preview.server.description && <p className="text-muted">{preview.server.description}</p>}
            <p className="text-sm text-muted">
              {preview.member_count} {preview.member_count === 1 ? "member" : "members"}
              {preview.channel_name ? ` · #${preview.channel_name}` : ""}
            </p>
            {loggedIn ? (
              <button disabled={busy} onClick={join} className="w-full rounded bg-accent py-2 font-medium text-white">
                Accept invite
              </button>
            ) : (
              <div className="space-y-2">
                <Link to={`/register?next=${next}`} className="block w-full rounded bg-accent py-2 font-medium text-white">
                  Register to join
                </Link>
                <Link to={`/login?next=${next}`} className="block text-link underline">
                  I have an account
                </Link>
              </div>
            )}
          </>
        )}
      </section>
    </main>
  );
}
