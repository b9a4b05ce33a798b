import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { Session } from "../api/client";
import { AuthPage } from "./AuthPage";
import { InvitePage } from "./InvitePage";

const Shell = lazy(() => import("./Shell"));

export function App() {
  const session = useMemo(() => new Session(), []);
  const [loggedIn, setLoggedIn] = useState(session.loggedIn);
  useEffect(() => session.onEnded(() => setLoggedIn(false)), [session]);
  // Another tab logged in or out: follow it.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === "harmoniq.session" && event.newValue === null) session.end();
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [session]);

  return (
    <Routes>
      <Route
        path="/login"
        element={<AuthPage mode="login" session={session} loggedIn={loggedIn} onIn={() => setLoggedIn(true)} />}
      />
      <Route
        path="/register"
        element={<AuthPage mode="register" session={session} loggedIn={loggedIn} onIn={() => setLoggedIn(true)} />}
      />
      <Route path="/invite/:code" element={<InvitePage session={session} loggedIn={loggedIn} />} />
      <Route
        path="/channels/*"
        element={
          loggedIn ? (
            <Suspense fallback={<Loading />}>
              <Shell session={session} />
            </Suspense>
          ) : (
            <ToLogin />
          )
        }
      />
      <Route path="*" element={<Navigate to="/channels" replace />} />
    </Routes>
  );
}

function ToLogin() {
  const location = useLocation();
  const next = location.pathname + location.search;
  return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
}

export function Loading() {
  return (
    <div className="flex h-full items-center justify-center text-muted" role="status">
      Loading…
    </div>
  );
}
