"""Unexpected errors reach Sentry (here a local receiver of its envelopes, as GlitchTip or
Sentry would be) with what identifies them, and without the credentials around them: a
request's 500, and an event a consumer failed on for the last time."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import pytest
import sentry_sdk
from litestar import Litestar, get
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from harmoniq_common.app import create_service_app
from harmoniq_common.bus import Subjects, ensure_streams, outgoing_headers
from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.error_tracking import setup_error_tracking
from harmoniq_common.events import Envelope, UserDeleted, encode_envelope
from harmoniq_common.ids import Snowflake
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.settings import CommonSettings
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.waiting import eventually

PROBE = ServiceSchema("probe", "probe", Path(__file__).parent / "empty_migrations")
TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@get("/boom", exclude_from_auth=True, sync_to_thread=False)
def boom() -> None:
    raise RuntimeError(f"the store said password=hunter2 while holding Bearer {TOKEN}")


def _app(settings: CommonSettings) -> Litestar:
    return create_service_app(settings, route_handlers=[boom], title="probe")


class EnvelopeReceiver:
    """Sentry's envelope endpoint on a free loopback port: the raw envelopes that arrived."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        received = self.envelopes

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                encoding = self.headers.get("Content-Encoding", "")
                # sentry-sdk compresses with brotli when that module is installed, else gzip.
                decompress = {"": bytes, "gzip": gzip.decompress, "br": brotli.decompress}
                received.append(decompress[encoding](body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_address[1]}/42"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[EnvelopeReceiver]:
    running = EnvelopeReceiver()
    try:
        yield running
    finally:
        # No DSN, and none of the integrations a bare init() would patch into every library.
        sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)
        running.server.shutdown()
        running.server.server_close()


async def test_an_unexpected_error_is_reported_scrubbed(
    service_app: ServiceApp, receiver: EnvelopeReceiver
) -> None:
    client = await service_app(_app, CommonSettings, PROBE, service="probe",
                               sentry_dsn=receiver.dsn)  # fmt: skip
    answer = await client.get(
        "/boom",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Cookie": "session=s3cr3t-cookie",
            "X-Request-Id": "req-tracked-1",
        },
    )
    assert answer.status_code == 500
    assert TOKEN not in answer.text and "hunter2" not in answer.text  # nor to the client

    async def reported() -> bool:
        sentry_sdk.flush(timeout=2)
        return any(b'"RuntimeError"' in envelope for envelope in receiver.envelopes)

    await eventually(reported, what="the error's envelope at the receiver")
    envelope = next(e for e in receiver.envelopes if b'"RuntimeError"' in e)
    text = envelope.decode()
    assert '"service":"probe"' in text.replace(" ", "")
    assert "/boom" in text and "req-tracked-1" in text  # the route and the correlation id
    for secret in (TOKEN, "hunter2", "s3cr3t-cookie"):
        assert secret not in text, secret
    assert "[Filtered]" in text


async def test_an_event_a_consumer_gives_up_on_is_reported_once_scrubbed(
    nats_client: NatsClient, namespace: str, receiver: EnvelopeReceiver
) -> None:
    """Retries are not news (they are logged); the last failed delivery is what a person must
    look at: one report, tagged with the consumer and subject, secrets cut out."""
    assert setup_error_tracking(CommonSettings(service="probe", sentry_dsn=receiver.dsn))
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    attempts: list[int] = []
    gave_up = asyncio.Event()

    async def handler(envelope: Envelope, message: Msg) -> None:
        attempts.append(envelope.id)
        if len(attempts) == 3:
            gave_up.set()
        raise RuntimeError(f"poisoned event; the store said token={TOKEN}")

    event_id = Snowflake(4242)
    body = encode_envelope(
        event_id, UserDeleted(user_id=event_id, deleted_at=datetime.now(UTC)), datetime.now(UTC)
    )
    subject = subjects.user_event(event_id, "user.deleted")
    await js.publish(subject, body, headers=outgoing_headers(msg_id=f"poison-{namespace}"))
    consumer = DurableConsumer(
        js, stream=subjects.events_stream, durable="poisoned",
        filter_subjects=[subjects.user_events_of_type("user.deleted")], handler=handler,
        max_deliver=3, retry_delay=0.05,
    )  # fmt: skip
    await consumer.start()
    try:
        await asyncio.wait_for(gave_up.wait(), 15)
    finally:
        await consumer.stop()

    def reports() -> list[bytes]:
        return [e for e in receiver.envelopes if b"poisoned event" in e]

    async def reported() -> bool:
        sentry_sdk.flush(timeout=2)
        return bool(reports())

    await eventually(reported, what="the consumer's error at the receiver")
    assert attempts == [event_id] * 3
    [report] = reports()  # the third and last attempt only
    text = report.decode().replace(" ", "")
    assert '"consumer":"poisoned"' in text and subject in text
    assert TOKEN not in text and "[Filtered]" in text
