"""People and bots calling a fleet through nginx, for the bots fleet tests."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["Caller", "audit_actions", "person", "text_channel"]


class Caller:
    def __init__(self, http: httpx.Client, authorization: str) -> None:
        self.http = http
        self.headers = {"Authorization": authorization}

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None

    def code(self, method: str, path: str, **kwargs: Any) -> tuple[int, str | None]:
        response = self.http.request(method, path, headers=self.headers, **kwargs)
        code = response.json().get("code") if response.content else None
        return response.status_code, code


def person(http: httpx.Client, name: str) -> tuple[Caller, dict[str, Any]]:
    body = http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "correct horse"},
    )
    assert body.status_code == 201, body.text
    account: dict[str, Any] = body.json()
    return Caller(http, f"Bearer {account['access_token']}"), account


def text_channel(caller: Caller, server_id: str) -> str:
    channels = caller.call("GET", f"/api/v1/servers/{server_id}/channels", 200)
    return str(next(c["id"] for c in channels if c["kind"] == "text"))


def audit_actions(owner: Caller, server_id: str) -> list[str]:
    return [e["action"] for e in owner.call("GET", f"/api/v1/servers/{server_id}/audit-log", 200)]
