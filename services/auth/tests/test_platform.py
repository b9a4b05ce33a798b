"""What every service gets from the factory, checked on auth: health, metrics, OpenAPI,
error bodies, correlation ids from HTTP into the events a request causes."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.testing.events import collect_events

from auth_testing import PASSWORD, from_ip

Client = AsyncTestClient[Any]


async def test_health_endpoints(client: Client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok", "checks": {}}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "postgres": "ok",
        "redis": "ok",
        "revocation_state": "ok",
        "nats": "ok",
        "ids": "ok",
    }


async def test_metrics_count_requests(client: Client) -> None:
    await client.get("/api/v1/auth/jwks")
    metrics = (await client.get("/metrics")).text
    assert "harmoniq_requests_total" in metrics
    assert 'path="/api/v1/auth/jwks"' in metrics


async def test_openapi_names_every_operation(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert operations >= {
        "register",
        "login",
        "refresh",
        "logout",
        "logoutAll",
        "getMe",
        "getJwks",
        "updateMe",
        "deleteMe",
        "getUser",
    }


async def test_unknown_route_and_method_use_the_error_body(client: Client) -> None:
    missing = await client.get("/api/v1/auth/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = await client.get("/api/v1/auth/register")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


async def test_correlation_id_travels_from_http_into_events(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": "carol", "email": "carol@example.com", "password": PASSWORD},
        headers={**from_ip("10.3.0.1"), "X-Request-Id": "req-from-the-edge-42"},
    )
    assert response.headers["X-Request-Id"] == "req-from-the-edge-42"
    user_id = response.json()["user"]["id"]
    js = nats_client.jetstream()
    [envelope] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.user.{user_id}.user.created", count=1
    )
    message = await js.get_last_msg(
        f"{namespace.upper()}_EVENTS", f"{namespace}.ev.user.{user_id}.user.created"
    )
    assert message.headers is not None
    assert message.headers["X-Request-Id"] == "req-from-the-edge-42"
    assert message.headers["Nats-Msg-Id"] == str(envelope.id)
    # The HTTP request's trace continues in whoever consumes the event.
    assert message.headers["traceparent"].startswith("00-")
