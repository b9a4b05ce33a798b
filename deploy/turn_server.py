"""Debian's coturn on loopback for ``make dev`` and the tests, like the other embedded servers.

``with TurnStack(work_dir) as turn:`` starts ``turnserver`` (installed by
``deploy/install-system-deps.sh``) on a free loopback port with a fresh shared secret
(``use-auth-secret``), a relay port range of its own, loopback peers allowed (every peer of a
test is on 127.0.0.1; the production config in ``deploy/coturn/turnserver.conf`` denies
them), and stops it by its pid afterwards. The config file holds the secret and is private
to the user (mode 0600); the secret is never on a command line.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from harmoniq_common.testing.infra import die_with_parent, stop_process, wait_for_tcp

__all__ = ["TurnServer", "TurnStack", "turnserver_binary"]

_LOOPBACK = "127.0.0.1"
_RELAY_PORTS = 40  # per server: a handful of allocations per test peer is plenty


@dataclass(frozen=True)
class TurnServer:
    host: str
    port: int
    secret: str
    realm: str
    min_port: int
    max_port: int

    @property
    def turn_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def stun_url(self) -> str:
        return f"stun:{self.host}:{self.port}"

    def voice_env(self) -> dict[str, str]:
        """What the voice service needs to hand out credentials for this server."""
        return {
            "HARMONIQ_TURN_SECRET": self.secret,
            "HARMONIQ_TURN_URLS": f"{self.turn_url},turn:{self.host}:{self.port}?transport=tcp",
            "HARMONIQ_STUN_URLS": self.stun_url,
        }


def turnserver_binary() -> str | None:
    return shutil.which("turnserver") or (
        "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None
    )


def _free_udp_and_tcp_port() -> int:
    """A loopback port free for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((_LOOPBACK, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((_LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port for coturn")


def _free_relay_range() -> int:
    """The first port of a run of free UDP ports (a random place in 40000-59000)."""
    for _ in range(50):
        first = 40_000 + secrets.randbelow(19_000)
        held = []
        try:
            for port in range(first, first + _RELAY_PORTS):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(sock)
                sock.bind((_LOOPBACK, port))
            return first
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no free UDP port range for coturn's relays")


class TurnStack:
    def __init__(self, work_dir: Path, *, secret: str | None = None) -> None:
        self.work_dir = work_dir
        self.secret = secret or secrets.token_hex(24)
        self._popen: subprocess.Popen[bytes] | None = None
        self.server: TurnServer | None = None

    def __enter__(self) -> TurnServer:
        binary = turnserver_binary()
        if binary is None:
            raise RuntimeError("coturn is not installed: run `bash deploy/install-system-deps.sh`")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        port, first = _free_udp_and_tcp_port(), _free_relay_range()
        server = TurnServer(
            _LOOPBACK, port, self.secret, "harmoniq.local", first, first + _RELAY_PORTS - 1
        )
        config = self.work_dir / "turnserver.conf"
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(
            "\n".join(
                [
                    f"listening-ip={_LOOPBACK}",
                    f"relay-ip={_LOOPBACK}",
                    f"listening-port={port}",
                    f"min-port={server.min_port}",
                    f"max-port={server.max_port}",
                    "fingerprint",
                    "use-auth-secret",
                    f"static-auth-secret={self.secret}",
                    f"realm={server.realm}",
                    "allow-loopback-peers",  # test peers are all on 127.0.0.1
                    "no-tls",
                    "no-dtls",
                    "no-cli",
                    "no-multicast-peers",
                    f"userdb={self.work_dir / 'turndb'}",
                    f"pidfile={self.work_dir / 'turnserver.pid'}",
                    "log-file=stdout",
                    "simple-log",
                    "",
                ]
            )
        )
        log = (self.work_dir / "turnserver.log").open("ab")
        with log:
            self._popen = subprocess.Popen(
                [binary, "-c", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        try:
            wait_for_tcp(_LOOPBACK, port, 15)
        except TimeoutError:
            self.__exit__(None, None, None)
            raise
        self.server = server
        return server

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._popen is not None:
            with contextlib.suppress(Exception):
                stop_process(self._popen)
            self._popen = None
