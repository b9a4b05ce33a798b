"""Unexpected errors reach Sentry (here a local receiver of its envelopes, as GlitchTip or
Sentry would be) with what identifies them, and without the credentials around them."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sentry_sdk
from litestar import Litestar, get

from harmoniq_common.app import create_service_app
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
                assert encoding in ("", "gzip"), encoding
                received.append(gzip.decompress(body) if encoding == "gzip" else body)
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
