"""The voice doctor and coturn's own refusals, against Debian's real coturn on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.infra import free_port
from harmoniq_common.testing.users import TestUser
from harmoniq_voice.app import create_app
from harmoniq_voice.domain.doctor import Doctor
from harmoniq_voice.domain.stun import StunError, TurnClient
from harmoniq_voice.domain.turn import mint
from harmoniq_voice.settings import VoiceSettings

from turn_server import TurnServer, TurnStack, turnserver_binary
from voice_testing import VOICE_SCHEMA

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    assert turnserver_binary(), "coturn is missing: bash deploy/install-system-deps.sh"
    with TurnStack(tmp_path_factory.mktemp("turn")) as server:
        yield server


def _settings(turn: TurnServer, **overrides: object) -> VoiceSettings:
    values: dict[str, object] = {
        "turn_secret": turn.secret,
        "turn_urls": [turn.turn_url],
        "doctor_timeout_seconds": 1.0,
    }
    return VoiceSettings(**(values | overrides))  # type: ignore[arg-type]


async def test_doctor_allocates_a_relay_with_the_right_secret(turn: TurnServer) -> None:
    report = await Doctor(_settings(turn)).run(42)
    assert report.ok, report
    assert [c.name for c in report.checks] == ["configured", "reachable", "credentials", "relay"]
    assert report.relay_address is not None
    port = int(report.relay_address.rsplit(":", 1)[1])
    assert turn.min_port <= port <= turn.max_port
    assert report.diagnosis.startswith("TURN works")


async def test_doctor_names_a_wrong_secret_and_an_unreachable_server(turn: TurnServer) -> None:
    wrong = await Doctor(_settings(turn, turn_secret="not-the-secret-at-all")).run(42)
    assert not wrong.ok
    assert "refuses our credentials" in wrong.diagnosis
    assert "HARMONIQ_TURN_SECRET" in wrong.diagnosis
    nobody = await Doctor(
        _settings(turn, turn_urls=[f"turn:127.0.0.1:{free_port()}?transport=udp"])
    ).run(42)
    assert not nobody.ok and "does not answer" in nobody.diagnosis
    unset = await Doctor(_settings(turn, turn_secret="")).run(42)
    assert not unset.ok and "not configured" in unset.diagnosis


async def test_coturn_refuses_expired_and_forged_credentials(turn: TurnServer) -> None:
    fine = mint(turn.secret, 7, 60)
    expired = mint(turn.secret, 7, -60)
    forged = mint("someone-elses-secret", 7, 60)
    # One allocation per 5-tuple: a client (its own UDP port) per attempt.
    async with TurnClient(turn.host, turn.port, "udp", 2.0) as client:
        assert await client.allocate(fine.username, fine.credential)
    # Expired, forged, and a valid password under another user's name.
    for username, password in (
        (expired.username, expired.credential),
        (forged.username, forged.credential),
        (fine.username.replace(":7", ":8"), fine.credential),
    ):
        async with TurnClient(turn.host, turn.port, "udp", 2.0) as client:
            with pytest.raises(StunError) as refused:
                await client.allocate(username, password)
            assert refused.value.code == 401, username
    assert expired.expires_at < time.time()


async def test_doctor_route_and_cli(
    turn: TurnServer, service_app: ServiceApp, make_user: MakeUser
) -> None:
    client = await service_app(
        create_app,
        VoiceSettings,
        VOICE_SCHEMA,
        turn_secret=turn.secret,
        turn_urls=[turn.turn_url],
        doctor_rate_limit=2,
    )
    user = await make_user()
    response = await client.get("/api/v1/voice/doctor", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert (await client.get("/api/v1/voice/doctor")).status_code == 401
    await client.get("/api/v1/voice/doctor", headers=user.headers)
    limited = await client.get("/api/v1/voice/doctor", headers=user.headers)
    assert limited.status_code == 429 and "Retry-After" in limited.headers

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIQ_")}
    env |= {"HARMONIQ_TURN_URLS": turn.turn_url, "HARMONIQ_TURN_SECRET": turn.secret}
    ran = subprocess.run(
        [sys.executable, "-m", "harmoniq_voice.doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "TURN works" in ran.stdout
    env["HARMONIQ_TURN_SECRET"] = "a-wrong-secret-for-the-cli"
    wrong = subprocess.run(
        [sys.executable, "-m", "harmoniq_voice.doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert wrong.returncode == 1 and "refuses our credentials" in wrong.stdout
