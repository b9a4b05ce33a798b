import { useState, type FormEvent } from "react";
import { Link, Navigate, useSearchParams } from "react-router-dom";
import { ApiError, authenticate, type Session } from "../api/client";

interface Props {
  mode: "login" | "register";
  session: Session;
  loggedIn: boolean;
  onIn: () => void;
}

/** Only same-site paths are followed after login (no open redirect). */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/channels";
}

export function AuthPage({ mode, session, loggedIn, onIn }: Props) {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (loggedIn) return <Navigate to={next} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const field = (name: string) => String(form.get(name) ?? "");
    setBusy(true);
    setError(null);
    try {
      const result =
        mode === "login"
          ? await authenticate("/api/v1/auth/login", { login: field("login"), password: field("password") })
          : await authenticate("/api/v1/auth/register", {
              username: field("username"),
              email: field("email"),
              password: field("password"),
            });
      session.adopt(result);
      onIn();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "Could not reach the server");
    } finally {
      setBusy(false);
    }
  }

  const title = mode === "login" ? "Welcome back" : "Create an account";
  const other = mode === "login" ? "/register" : "/login";
  return (
    <main className="flex min-h-full items-center justify-center bg-rail p-4">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-lg bg-panel p-6 shadow-lg" aria-labelledby="auth-title">
        <h1 id="auth-title" className="text-xl font-semibold">
          {title}
        </h1>
        {mode === "register" ? (
          <>
            <Field label="Username" name="username" autoComplete="username" minLength={2} maxLength={32} />
            <Field label="Email" name="email" type="email" autoComplete="email" />
          </>
        ) : (
          <Field label="Email or username" name="login" autoComplete="username" />
        )}
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete={mode === "login" ? "current-password" : "new-password"}
          minLength={8}
        />
        {error && (
          <p role="alert" className="text-sm text-danger">
            {error}
          </p>
        )}
        <button disabled={busy} className="w-full rounded bg-accent py-2 font-medium text-white disabled:opacity-60">
          {mode === "login" ? "Log in" : "Register"}
        </button>
        <p className="text-sm text-muted">
          {mode === "login" ? "Need an account? " : "Already have one? "}
          <Link className="text-link underline" to={`${other}?next=${encodeURIComponent(next)}`}>
            {mode === "login" ? "Register" : "Log in"}
          </Link>
        </p>
      </form>
    </main>
  );
}

function Field(props: { label: string; name: string; type?: string; autoComplete?: string; minLength?: number; maxLength?: number }) {
  const { label, ...input } = props;
  return (
    <label className="block text-sm">
      <span className="mb-1 block font-medium text-muted">{label}</span>
      <input required {...input} className="w-full rounded bg-bg px-3 py-2 text-fg" />
    </label>
  );
}
