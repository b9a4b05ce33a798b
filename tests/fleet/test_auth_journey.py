"""A user's whole auth journey through nginx, against the real processes."""

from __future__ import annotations

import secrets
import signal

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
    """A second auth instance joins, serves, then leaves on SIGTERM with exit code 0."""
    [auth] = [s for s in fleet.services if s.name == "auth"]
    extra = fleet.start_instance(auth, 1)
    fleet.wait_ready(extra)
    direct = httpx.get(f"http://127.0.0.1:{extra.port}/health/ready", timeout=5)
    assert direct.json()["checks"] == {"postgres": "ok", "redis": "ok", "nats": "ok"}
    # uvicorn finishes in-flight requests and the lifespan, then re-raises the signal.
    assert Fleet.stop_process(extra, signal.SIGTERM) in (0, -signal.SIGTERM)
    log = extra.log_path.read_text()
    assert "service.stopping" in log
    assert "Application shutdown complete" in log
    fleet.processes["auth"].remove(extra)
    assert http.get("/api/v1/auth/jwks").status_code == 200
