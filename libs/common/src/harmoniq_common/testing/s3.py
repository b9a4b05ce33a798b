"""An S3-protocol server for the tests and ``make dev``: given by ``HARMONIQ_S3_URL``, or embedded.

When ``HARMONIQ_S3_URL`` is set it wins (MinIO, a real S3). Otherwise moto's standalone server
(``moto[server]``, a PyPI wheel) starts as our own child process on a free loopback port, the way
:mod:`harmoniq_common.testing.infra` starts Redis and NATS: it counts as started only when the
listening socket on that port belongs to *our* child (checked through ``/proc``), so a stranger
that grabbed the port first is never mistaken for it; it dies with its parent; it is stopped by
pid, never by name. moto keeps everything in memory: nothing to clean on disk but its log.

What moto does and does not do is recorded in docs/decisions.md ("An S3 server for dev and
tests").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .infra import InfraError, die_with_parent, free_port, stop_process

__all__ = ["S3Server", "S3Stack"]

START_TIMEOUT = 30.0
_LOCALHOST = "127.0.0.1"
# moto accepts any credentials; these are what clients of the embedded server use.
EMBEDDED_ACCESS_KEY = "harmoniq"
EMBEDDED_SECRET_KEY = "harmoniq-secret"


@dataclass(frozen=True)
class S3Server:
    """Where the S3 server is and how to sign for it."""

    url: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str
    region: str = "us-east-1"


class S3Stack:
    """``with S3Stack() as s3:`` — an S3 server inside the block, gone after it.

    ``HARMONIQ_S3_URL`` (with ``HARMONIQ_S3_ACCESS_KEY``/``_SECRET_KEY``/``_REGION``) is used
    as given; otherwise moto starts. ``pid`` is the child's, or None when the server was given.
    """

    def __init__(self, base_dir: Path | None = None, *, env: Mapping[str, str] | None = None):
        self._env = os.environ if env is None else env
        self._given_dir = base_dir
        self._made_dir: Path | None = None
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    def __enter__(self) -> S3Server:
        given = self._env.get("HARMONIQ_S3_URL")
        if given:
            return S3Server(
                url=given,
                access_key=self._env.get("HARMONIQ_S3_ACCESS_KEY", ""),
                secret_key=self._env.get("HARMONIQ_S3_SECRET_KEY", ""),
                region=self._env.get("HARMONIQ_S3_REGION", "us-east-1"),
            )
        try:
            return self._start_moto()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._popen is not None:
            stop_process(self._popen)
            self._popen = None
        if self._made_dir is not None:
            shutil.rmtree(self._made_dir, ignore_errors=True)
            self._made_dir = None

    def _start_moto(self) -> S3Server:
        if self._given_dir is None:
            base = self._made_dir = Path(tempfile.mkdtemp(prefix="harmoniq-s3-"))
        else:
            base = self._given_dir.absolute()
            base.mkdir(parents=True, exist_ok=True)
        log = base / "s3.log"
        port = free_port()
        with log.open("ab") as handle:
            log_start = handle.tell()
            try:
                self._popen = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", _LOCALHOST, "-p", str(port)],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=base,
                    start_new_session=True,  # a Ctrl-C meant for the runner must not reach it
                    preexec_fn=die_with_parent(),
                )
            except OSError as error:
                raise InfraError(f"cannot run moto's server: {error}") from error
        popen = self._popen
        deadline = time.monotonic() + START_TIMEOUT
        while not _moto_ready(port, popen.pid):
            if popen.poll() is not None or time.monotonic() > deadline:
                with log.open("rb") as handle:
                    handle.seek(log_start)
                    tail = handle.read().decode(errors="replace")[-3000:]
                state = f"exited with {popen.returncode}" if popen.poll() is not None else "slow"
                raise InfraError(f"moto server {state} (is moto[server] installed?):\n{tail}")
            time.sleep(0.05)  # polling another process; nothing to await
        return S3Server(
            url=f"http://{_LOCALHOST}:{port}",
            access_key=EMBEDDED_ACCESS_KEY,
            secret_key=EMBEDDED_SECRET_KEY,
        )


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the IPv4 sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    inodes = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def _owns_socket(pid: int, inodes: set[str]) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return True
    return False


def _moto_ready(port: int, pid: int) -> bool:
    """The socket listening on ``port`` is our child's, and it answers S3's ListBuckets.

    Where /proc cannot tell (not Linux), answering is taken as enough.
    """
    if Path("/proc/net/tcp").exists() and not _owns_socket(pid, _listening_inodes(port)):
        return False
    try:
        with urllib.request.urlopen(f"http://{_LOCALHOST}:{port}/", timeout=1) as reply:
            return bool(reply.status == 200 and b"ListAllMyBucketsResult" in reply.read())
    except OSError:
        return False


if __name__ == "__main__":  # python -m harmoniq_common.testing.s3: one for a shell, until Ctrl-C
    with S3Stack() as server:
        print(server, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
