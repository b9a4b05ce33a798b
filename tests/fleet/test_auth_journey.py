"""A user's whole auth journey through nginx, against the real processes."""

from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from pathlib import Path

import httpx

from fleet import Fleet


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_register_login_refresh_reuse_logout_all_delete(http: httpx.Client) -> None:
    name = f"u{secrets.token_hex(4)}"
    password = "correct horse battery"
    registered = http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": password},
    )
    assert registered.status_code == 201, registered.text
    assert registered.headers["X-RateLimit-Limit"] == "50"

    login = http.post("/api/v1/auth/login", json={"login": name, "password": password})
    assert login.status_code == 200
    session = login.json()

    me = http.get("/api/v1/auth/me", headers=_bearer(session["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == name

    rotated = http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()

    reuse = http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    family = http.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert family.status_code == 401, "the whole family is revoked"

    # The registration's own session is still alive; logout-all ends it too.
    first = registered.json()
    assert http.get("/api/v1/auth/me", headers=_bearer(first["access_token"])).status_code == 200
    out = http.post("/api/v1/auth/logout-all", headers=_bearer(first["access_token"]))
    assert out.status_code == 204
    refused = http.get("/api/v1/auth/me", headers=_bearer(first["access_token"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_revoked"

    again = http.post("/api/v1/auth/login", json={"login": name, "password": password}).json()
    deleted = http.request(
        "DELETE",
        "/api/v1/users/me",
        json={"password": password},
        headers=_bearer(again["access_token"]),
    )
    assert deleted.status_code == 204
    assert http.get("/api/v1/auth/me", headers=_bearer(again["access_token"])).status_code == 401
    gone = http.post("/api/v1/auth/login", json={"login": name, "password": password})
    assert gone.status_code == 401


def test_request_id_is_set_by_nginx_and_echoed(http: httpx.Client) -> None:
    chosen = http.get("/api/v1/auth/jwks", headers={"X-Request-Id": "trace-me-123"})
    assert chosen.status_code == 200
    assert chosen.headers["X-Request-Id"] == "trace-me-123"
    generated = http.get("/api/v1/auth/jwks")
    assert len(generated.headers["X-Request-Id"]) >= 16


def test_unrouted_paths_get_the_json_error_body(http: httpx.Client) -> None:
    response = http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_sigterm_drains_an_instance_cleanly_and_nginx_reports_it_gone(
    fleet: Fleet, http: httpx.Client
) -> None:
    """A second auth instance joins behind nginx and serves; SIGTERM while requests keep
    coming: none of them fails, it exits cleanly, nginx's log shows it refusing and the
    instance that stays answering, and once dropped from the upstreams it is not tried."""
    [auth] = [s for s in fleet.services if s.name == "auth"]
    [stays] = fleet.processes["auth"]
    extra = fleet.start_instance(auth, 1)
    fleet.wait_ready(extra)
    direct = httpx.get(f"http://127.0.0.1:{extra.port}/health/ready", timeout=5)
    assert direct.json()["checks"] == {
        "postgres": "ok",
        "redis": "ok",
        "revocation_state": "ok",
        "nats": "ok",
        "ids": "ok",
    }
    fleet.reload_nginx()
    assert fleet.nginx is not None
    access_log = AccessLog(fleet.nginx.log_path.parent / "access.log")
    extra_address, stays_address = f"127.0.0.1:{extra.port}", f"127.0.0.1:{stays.port}"

    # It serves: nginx (round robin, once the reload is in effect) sends it requests.
    deadline = time.monotonic() + 15
    while extra_address not in access_log.upstreams(_jwks(http, "joined")):
        assert time.monotonic() < deadline, "nginx never sent the new instance a request"
        time.sleep(0.05)  # under nginx's per-address limit

    # Requests keep coming while it stops: not one fails.
    traffic = Traffic(fleet.url)
    traffic.start()
    try:
        # uvicorn finishes in-flight requests and the lifespan, then re-raises the signal.
        assert Fleet.stop_process(extra, signal.SIGTERM) in (0, -signal.SIGTERM)
        after = [_jwks(http, f"after-{i}") for i in range(6)]
    finally:
        traffic.stop()
    assert traffic.statuses and set(traffic.statuses) == {200}, traffic.statuses
    log = extra.log_path.read_text()
    assert "service.stopping" in log
    assert "Application shutdown complete" in log

    # nginx reports it gone (max_fails=0 in dev: every other request tries it first, is
    # refused, and goes on to the instance that stays) ...
    tried = [access_log.upstreams(request_id) for request_id in after]
    assert all(upstreams[-1] == stays_address for upstreams in tried), tried
    assert [extra_address, stays_address] in tried, tried
    # ... until it is dropped from the upstreams: then nginx no longer tries it.
    fleet.processes["auth"].remove(extra)
    fleet.reload_nginx()
    deadline = time.monotonic() + 15
    while any(access_log.upstreams(_jwks(http, "dropped")) != [stays_address] for _ in range(2)):
        assert time.monotonic() < deadline, "nginx still tries the instance that left"
        time.sleep(0.05)


def _jwks(http: httpx.Client, tag: str) -> str:
    """One request through nginx, under a request id of its own; returns the id."""
    request_id = f"{tag}-{secrets.token_hex(6)}"
    try:
        response = http.get("/api/v1/auth/jwks", headers={"X-Request-Id": request_id})
    except httpx.RemoteProtocolError:
        # A reload makes nginx's old workers close their idle keep-alive connections; a request
        # sent on one as it closes never reached nginx, and a GET is retried (as browsers do).
        response = http.get("/api/v1/auth/jwks", headers={"X-Request-Id": request_id})
    assert response.status_code == 200, response.text
    return request_id


class AccessLog:
    """nginx's JSON access log (deploy/nginx/proxy.conf): which upstreams a request tried."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def upstreams(self, request_id: str) -> list[str]:
        # nginx writes the line after the response has gone: it may be a moment behind.
        deadline = time.monotonic() + 5
        while True:
            for line in self._path.read_text().splitlines():
                entry = json.loads(line)
                if entry["request_id"] == request_id:
                    return [u.strip() for u in entry["upstream"].split(",")]
            assert time.monotonic() < deadline, f"{request_id} is not in nginx's access log"
            time.sleep(0.02)  # another process's file: nothing to await


class Traffic:
    """Requests through nginx, one after another, about 40 a second (under nginx's per-address
    limit), until stopped; their statuses."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.statuses: list[int] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as http:  # its own, in its thread
            while not self._stopping.wait(0.025):  # pacing, not synchronisation
                self.statuses.append(http.get("/api/v1/auth/jwks").status_code)
