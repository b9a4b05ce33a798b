"""SQL for outgoing webhooks: endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from harmoniq_common.db import record_or_none, record_to, records_to
from harmoniq_common.ids import Snowflake

__all__ = [
    "DeliveryRow",
    "EndpointRow",
    "claim_due",
    "delete",
    "deliveries",
    "disable",
    "enabled_in",
    "get",
    "in_server",
    "insert",
    "insert_delivery",
    "mark_delivered",
    "mark_failed",
    "update",
]


class EndpointRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    creator_id: Snowflake
    viewer_id: Snowflake
    url: str
    event_types: list[str]
    secret: str
    enabled: bool
    failures: int
    disabled_at: datetime | None
    created_at: datetime


class DeliveryRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    endpoint_id: Snowflake
    event_id: Snowflake
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


_E = (
    "id, server_id, creator_id, viewer_id, url, event_types, secret, enabled, failures,"
    " disabled_at, created_at"
)
_D = (
    "id, endpoint_id, event_id, event_type, state, attempts, next_attempt_at, last_status,"
    " last_error, created_at, delivered_at"
)


async def insert(conn: asyncpg.Connection, row: EndpointRow) -> EndpointRow:
    record = await conn.fetchrow(
        "INSERT INTO outgoing_endpoints (id, server_id, creator_id, viewer_id, url,"
        f" event_types, secret) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_E}",
        row.id,
        row.server_id,
        row.creator_id,
        row.viewer_id,
        row.url,
        row.event_types,
        row.secret,
    )
    return record_to(EndpointRow, record)


async def get(conn: asyncpg.Connection, server_id: int, endpoint_id: int) -> EndpointRow | None:
    return record_or_none(
        EndpointRow,
        await conn.fetchrow(
            f"SELECT {_E} FROM outgoing_endpoints WHERE server_id = $1 AND id = $2",
            server_id,
            endpoint_id,
        ),
    )


async def in_server(conn: asyncpg.Connection, server_id: int) -> list[EndpointRow]:
    records = await conn.fetch(
        f"SELECT {_E} FROM outgoing_endpoints WHERE server_id = $1 ORDER BY id", server_id
    )
    return records_to(EndpointRow, records)


async def enabled_in(conn: asyncpg.Connection, server_id: int) -> list[EndpointRow]:
    """Every enabled endpoint of the server, whatever events it takes (at most
    ``max_outgoing_endpoints_per_server``): fan-out picks those taking the event, and an empty
    answer is one it may cache."""
    records = await conn.fetch(
        f"SELECT {_E} FROM outgoing_endpoints WHERE server_id = $1 AND enabled ORDER BY id",
        server_id,
    )
    return records_to(EndpointRow, records)


async def update(
    conn: asyncpg.Connection,
    endpoint_id: int,
    *,
    url: str | None,
    event_types: list[str] | None,
    enabled: bool | None,
) -> EndpointRow:
    """Re-enabling starts the failure count afresh."""
    record = await conn.fetchrow(
        "UPDATE outgoing_endpoints SET url = coalesce($2, url),"
        " event_types = coalesce($3, event_types), enabled = coalesce($4, enabled),"
        " failures = CASE WHEN $4 THEN 0 ELSE failures END,"
        " disabled_at = CASE WHEN $4 THEN NULL ELSE disabled_at END"
        f" WHERE id = $1 RETURNING {_E}",
        endpoint_id,
        url,
        event_types,
        enabled,
    )
    return record_to(EndpointRow, record)


async def delete(conn: asyncpg.Connection, endpoint_id: int) -> bool:
    result: str = await conn.execute("DELETE FROM outgoing_endpoints WHERE id = $1", endpoint_id)
    return result != "DELETE 0"


async def insert_delivery(
    conn: asyncpg.Connection,
    delivery_id: int,
    endpoint_id: int,
    event_id: int,
    event_type: str,
    body: bytes,
) -> bool:
    """False when this event was already queued for this endpoint (a redelivered event)."""
    inserted = await conn.fetchval(
        "INSERT INTO outgoing_deliveries (id, endpoint_id, event_id, event_type, body)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        delivery_id,
        endpoint_id,
        event_id,
        event_type,
        body,
    )
    return bool(inserted)


async def claim_due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Due deliveries of enabled endpoints, locked for this transaction (other instances skip
    them), with what sending needs."""
    records: list[asyncpg.Record] = await conn.fetch(
        "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.body, d.attempts,"
        " e.url, e.secret, e.server_id"
        " FROM outgoing_deliveries d JOIN outgoing_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND e.enabled"
        " ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
        limit,
    )
    return records


async def mark_delivered(conn: asyncpg.Connection, delivery_id: int, status: int) -> None:
    await conn.execute(
        "UPDATE outgoing_deliveries SET state = 'delivered', attempts = attempts + 1,"
        " last_status = $2, last_error = NULL, delivered_at = now() WHERE id = $1",
        delivery_id,
        status,
    )
    await conn.execute(
        "UPDATE outgoing_endpoints SET failures = 0 WHERE id ="
        " (SELECT endpoint_id FROM outgoing_deliveries WHERE id = $1)",
        delivery_id,
    )


async def mark_failed(
    conn: asyncpg.Connection,
    delivery_id: int,
    status: int | None,
    error: str,
    *,
    retry_in: float | None,
) -> int | None:
    """Another try in ``retry_in`` seconds, or (None) given up: then the endpoint's failures
    in a row, returned."""
    if retry_in is not None:
        await conn.execute(
            "UPDATE outgoing_deliveries SET attempts = attempts + 1, last_status = $2,"
            " last_error = $3, next_attempt_at = now() + make_interval(secs => $4)"
            " WHERE id = $1",
            delivery_id,
            status,
            error,
            retry_in,
        )
        return None
    await conn.execute(
        "UPDATE outgoing_deliveries SET state = 'failed', attempts = attempts + 1,"
        " last_status = $2, last_error = $3 WHERE id = $1",
        delivery_id,
        status,
        error,
    )
    failures: int = await conn.fetchval(
        "UPDATE outgoing_endpoints SET failures = failures + 1 WHERE id ="
        " (SELECT endpoint_id FROM outgoing_deliveries WHERE id = $1) RETURNING failures",
        delivery_id,
    )
    return failures


async def disable(conn: asyncpg.Connection, endpoint_id: int) -> bool:
    """Disable an endpoint (its pending deliveries wait); False if it already was."""
    done = await conn.fetchval(
        "UPDATE outgoing_endpoints SET enabled = false, disabled_at = now()"
        " WHERE id = $1 AND enabled RETURNING true",
        endpoint_id,
    )
    return bool(done)


async def deliveries(
    conn: asyncpg.Connection, endpoint_id: int, before: int, limit: int
) -> list[DeliveryRow]:
    records = await conn.fetch(
        f"SELECT {_D} FROM outgoing_deliveries WHERE endpoint_id = $1 AND id < $2"
        " ORDER BY id DESC LIMIT $3",
        endpoint_id,
        before,
        limit,
    )
    return records_to(DeliveryRow, records)
