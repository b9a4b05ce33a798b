"""The production coturn config (deploy/coturn/turnserver.conf) runs on Debian's real coturn:
credentials from the shared secret get a relay in the configured range, others are refused,
and TURN over TLS answers on its port with the certificate compose mounts."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmoniq_common.testing.infra import die_with_parent, stop_process, wait_for_tcp
from harmoniq_voice.domain.stun import StunError, TurnClient
from harmoniq_voice.domain.turn import mint

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "coturn" / "turnserver.conf"
SECRET = "deploy-test-secret-0123456789"


def _free(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _directive(name: str) -> str:
    (value,) = [
        line.split("=", 1)[1]
        for line in CONF.read_text().splitlines()
        if line.startswith(f"{name}=")
    ]
    return value


@pytest.fixture(scope="module")
def production_turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """coturn with the production config as compose runs it (secret appended to a private
    copy), moved to free loopback ports by command-line options, which override the file."""
    binary = shutil.which("turnserver") or "/usr/bin/turnserver"
    assert Path(binary).exists(), "coturn is missing: bash deploy/install-system-deps.sh"
    work = tmp_path_factory.mktemp("coturn")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=turn.test", "-keyout", str(work / "privkey.pem"),
         "-out", str(work / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    conf = work / "turnserver.conf"
    conf.write_text(CONF.read_text() + f"static-auth-secret={SECRET}\n")
    port, tls_port = _free(socket.SOCK_STREAM), _free(socket.SOCK_STREAM)
    log = (work / "turnserver.log").open("ab")
    with log:
        popen = subprocess.Popen(
            [binary, "-c", str(conf), "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
             "--listening-port", str(port), "--tls-listening-port", str(tls_port),
             "--cert", str(work / "fullchain.pem"), "--pkey", str(work / "privkey.pem"),
             "--userdb", str(work / "turndb"), "--pidfile", str(work / "turn.pid")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
    try:
        wait_for_tcp("127.0.0.1", port, 15)
        wait_for_tcp("127.0.0.1", tls_port, 15)
        yield port, tls_port
    finally:
        stop_process(popen)


async def test_the_production_config_relays_only_for_the_secret(
    production_turn: tuple[int, int],
) -> None:
    port, _ = production_turn
    good = mint(SECRET, 1, 60)
    async with TurnClient("127.0.0.1", port, "udp", 2.0) as client:
        _host, relay_port = await client.allocate(good.username, good.credential)
    assert int(_directive("min-port")) <= relay_port <= int(_directive("max-port"))
    forged = mint("not-our-secret-at-all", 1, 60)
    async with TurnClient("127.0.0.1", port, "tcp", 2.0) as client:
        with pytest.raises(StunError) as refused:
            await client.allocate(forged.username, forged.credential)
    assert refused.value.code == 401


async def test_turn_over_tls_answers_on_its_port(production_turn: tuple[int, int]) -> None:
    _, tls_port = production_turn
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a self-signed test certificate
    _reader, writer = await asyncio.open_connection("127.0.0.1", tls_port, ssl=context)
    try:
        tls = writer.get_extra_info("ssl_object")
        assert tls is not None and tls.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        writer.close()
    assert _directive("tls-listening-port") == "5349"
