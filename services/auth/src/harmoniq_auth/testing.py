"""Helpers for tests that drive the auth API."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

__all__ = ["PASSWORD", "bearer", "from_ip", "register"]

PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def from_ip(ip: str) -> dict[str, str]:
    """What nginx adds: the tests' client is a trusted proxy, so this is the caller's IP."""
    return {"X-Real-IP": ip}


async def register(
    client: AsyncTestClient[Any],
    username: str = "alice",
    email: str | None = None,
    password: str = PASSWORD,
    ip: str = "10.0.0.1",
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "username": username,
            "email": email or f"{username}@example.com",
            "password": password,
        },
        headers=from_ip(ip),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
