"""One trace follows a message through the fleet: the HTTP request that sent it (messages),
the outbox relay's publish to JetStream (messages), and the gateway's dispatch of it to the
sockets (gateway), each process exporting over OTLP/HTTP to a local receiver."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from harmoniq_common.testing.waiting import eventually

from fleet import Fleet
from gateway_client import GatewayClient
from otlp_receiver import OtlpReceiver, ReceivedSpan

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP SpanKind values


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def fleet_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "HARMONIQ_TRACE_EXPORTER": "otlp",
        "HARMONIQ_TRACE_OTLP_ENDPOINT": receiver.endpoint,
        "HARMONIQ_TRACE_SAMPLE_RATIO": "1.0",
        # The batch processor's default is 5 s: export soon enough for a test to wait on.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }


async def test_a_message_is_one_trace_from_request_to_gateway(
    fleet: Fleet, http: httpx.Client, receiver: OtlpReceiver
) -> None:
    name = f"tracer{secrets.token_hex(3)}"
    registered = http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "x" * 12},
    ).json()
    auth = {"Authorization": f"Bearer {registered['access_token']}"}
    server = http.post("/api/v1/servers", json={"name": "Traced"}, headers=auth).json()
    channel = next(
        c
        for c in http.get(f"/api/v1/servers/{server['id']}/channels", headers=auth).json()
        if c["kind"] == "text"
    )
    listener = await GatewayClient.connect(fleet.url.replace("http://", "ws://") + "/gateway")
    await listener.identify(registered["access_token"])
    sent = http.post(
        f"/api/v1/channels/{channel['id']}/messages", json={"content": "trace me"}, headers=auth
    )
    assert sent.status_code == 201, sent.text
    frame = await listener.dispatch("message.create")
    assert frame["d"]["message"]["id"] == sent.json()["id"]
    await listener.close()

    def dispatch_of_the_message() -> ReceivedSpan | None:
        spans = receiver.received()
        sends = [s for s in spans if s.kind == SERVER and s.service == "harmoniq-messages"
                 and s.name.startswith("POST")]  # fmt: skip
        for send in sends:
            trace = [s for s in spans if s.trace_id == send.trace_id]
            dispatches = [s for s in trace if s.name == "gateway dispatch"]
            if dispatches:
                return dispatches[0]
        return None

    async def traced() -> bool:
        return dispatch_of_the_message() is not None

    await eventually(traced, what="the gateway's dispatch in the send's trace", timeout=20)
    dispatch = dispatch_of_the_message()
    assert dispatch is not None and dispatch.service == "harmoniq-gateway"
    assert dispatch.kind == CONSUMER
    spans = {s.span_id: s for s in receiver.received() if s.trace_id == dispatch.trace_id}
    publish = spans[dispatch.parent_span_id]  # the gateway's span follows the publish
    assert (publish.name, publish.service, publish.kind) == (
        "outbox publish",
        "harmoniq-messages",
        PRODUCER,
    )
    # ...which follows the request, up to the HTTP server span at the trace's root.
    chain = [publish]
    while chain[-1].parent_span_id in spans:
        chain.append(spans[chain[-1].parent_span_id])
    assert chain[-1].kind == SERVER and chain[-1].service == "harmoniq-messages"
    assert chain[-1].parent_span_id == ""  # no span above the request: nginx sends none
