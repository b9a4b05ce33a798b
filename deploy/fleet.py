"""Run the fleet as plain processes: every service in ``deploy/services.toml`` behind nginx.

Used by ``make dev`` (``deploy/dev.py``) and by the fleet tests, so the tests drive exactly what
a developer runs. Postgres, Redis and NATS are given (an :class:`Infra`); this module migrates
each service's schema, writes the access-token key pair, starts ``instances`` uvicorn processes
per service, renders the nginx config for them and starts nginx on the public port. ``stop()``
sends SIGTERM (graceful: in-flight requests finish, NATS drains) and waits; only processes this
object started are ever signalled.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from harmoniq_common.db import role_dsn
from harmoniq_common.migrate import DEFAULT_ROLE_PASSWORD, ServiceSchema, migrate_service, role_name
from harmoniq_common.testing.databases import with_database
from harmoniq_common.testing.infra import (
    Infra,
    die_with_parent,
    free_port,
    stop_process,
    wait_for_tcp,
)
from harmoniq_common.testing.keys import write_keypair
from harmoniq_common.testing.s3 import S3Server

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nginx_config
from turn_server import TurnServer

__all__ = ["Fleet", "Process", "ServiceEntry", "load_services"]

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "deploy" / "services.toml"
# Every service's HTTP protocol: uvicorn's, with a response's head and body in one write.
HTTP_PROTOCOL = "harmoniq_common.http_protocol:HttpProtocol"


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    app: str
    dev_port: int
    schema: str
    migrations: Path
    extensions: tuple[str, ...] = ()
    # Extra environment of its processes (e.g. uvicorn options as UVICORN_* variables).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def schema_spec(self) -> ServiceSchema:
        return ServiceSchema(self.name, self.schema, self.migrations, self.extensions)


def load_services(registry: Path = REGISTRY) -> list[ServiceEntry]:
    data = tomllib.loads(registry.read_text())
    return [
        ServiceEntry(
            name,
            e["app"],
            int(e["dev_port"]),
            e["schema"],
            ROOT / e["migrations"],
            tuple(e.get("extensions", ())),
            {str(k): str(v) for k, v in e.get("env", {}).items()},
        )
        for name, e in data.items()
    ]


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _http_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class Fleet:
    infra: Infra
    work_dir: Path
    public_port: int = 8080
    database: str = "harmoniq"
    namespace: str = "harmoniq"
    instances: dict[str, int] = field(default_factory=dict)
    fixed_ports: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    # The object store (media): given, or started by the caller (testing.s3.S3Stack).
    s3: S3Server | None = None
    # The built web client nginx serves at / (make dev builds it; absent: only the API).
    web_root: Path | None = None
    # coturn for voice (turn_server.TurnStack): given, or voice answers 503 for ICE servers.
    turn: TurnServer | None = None
    services: list[ServiceEntry] = field(default_factory=load_services)
    processes: dict[str, list[Process]] = field(default_factory=dict)
    nginx: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    # -- set-up -------------------------------------------------------------------------
    def prepare_database(self) -> None:
        """Create the database if needed and apply every service's migrations."""

        async def run() -> None:
            conn = await asyncpg.connect(self.infra.postgres_url)
            try:
                exists = await conn.fetchval(
                    "SELECT 1 FROM pg_database WHERE datname = $1", self.database
                )
                if not exists:
                    await conn.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await conn.close()
            admin = with_database(self.infra.postgres_url, self.database)
            for service in self.services:
                await migrate_service(admin, service.schema_spec)

        asyncio.run(run())

    def service_env(self, service: ServiceEntry, index: int, port: int) -> dict[str, str]:
        keys = write_keypair(self.work_dir / "keys")
        password = os.environ.get(
            f"HARMONIQ_{service.schema.upper()}_DB_PASSWORD", DEFAULT_ROLE_PASSWORD
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIQ_")}
        env.update(
            {
                "HARMONIQ_HOST": "127.0.0.1",
                "HARMONIQ_PORT": str(port),
                "HARMONIQ_INSTANCE_ID": f"{service.name}-{index}",
                "HARMONIQ_DATABASE_URL": role_dsn(
                    self.infra.postgres_url, role_name(service.schema), password, self.database
                ),
                "HARMONIQ_REDIS_URL": self.infra.redis_url,
                "HARMONIQ_NATS_URL": self.infra.nats_url,
                "HARMONIQ_NAMESPACE": self.namespace,
                "HARMONIQ_JWT_PUBLIC_KEY_FILE": str(keys.public_key_file),
                "HARMONIQ_JWT_PRIVATE_KEY_FILE": str(keys.private_key_file),
            }
        )
        env.update(service.env)
        if self.s3 is not None:
            env.update(
                {
                    "HARMONIQ_S3_URL": self.s3.url,
                    "HARMONIQ_S3_PUBLIC_URL": self.s3.url,
                    "HARMONIQ_S3_ACCESS_KEY": self.s3.access_key,
                    "HARMONIQ_S3_SECRET_KEY": self.s3.secret_key,
                    "HARMONIQ_S3_REGION": self.s3.region,
                    # One store may serve several fleets (tests): a bucket per namespace.
                    "HARMONIQ_S3_BUCKET": f"media-{self.namespace}".replace("_", "-"),
                }
            )
        if self.turn is not None and service.name == "voice":
            env.update(self.turn.voice_env())
        env.update(self.extra_env)
        return env

    def start_instance(self, service: ServiceEntry, index: int, port: int | None = None) -> Process:
        if port is None:
            port = service.dev_port + 10 * index if self.fixed_ports else self._unclaimed_port()
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{service.name}-{index}.log"
        command = [
            sys.executable, "-m", "uvicorn", "--factory", service.app,
            "--http", HTTP_PROTOCOL, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--no-proxy-headers", "--timeout-graceful-shutdown", "20",
        ]  # fmt: skip
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                command,
                env=self.service_env(service, index, port),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # Ctrl-C in the terminal reaches only the runner
                preexec_fn=die_with_parent(),
            )
        process = Process(f"{service.name}-{index}", port, popen, log_path)
        self.processes.setdefault(service.name, []).append(process)
        return process

    def _unclaimed_port(self) -> int:
        """A free port that is not nginx's either: nginx binds its public port only after
        the services are up, so the kernel may offer that port to one of them meanwhile."""
        claimed = {self.public_port} | {p.port for group in self.processes.values() for p in group}
        while (port := free_port()) in claimed:
            pass
        return port

    def wait_ready(self, process: Process, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}"
                )
            if _http_status(process.port, "/health/ready") == 200:
                return
            time.sleep(0.1)  # polling another process's readiness; nothing to await
        raise TimeoutError(f"{process.name} not ready after {timeout}s:\n{process.log_tail()}")

    def render_nginx(self) -> Path:
        upstreams = {
            f"harmoniq_{name}": [("127.0.0.1", p.port) for p in processes]
            for name, processes in self.processes.items()
        }
        return nginx_config.render(
            self.work_dir / "nginx", self.public_port, upstreams, web_root=self.web_root
        )

    def start_nginx(self) -> Process:
        conf = self.render_nginx()
        prefix = conf.parent
        log_path = prefix / "nginx.out"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [
                    nginx_config.nginx_binary(),
                    "-p",
                    str(prefix),
                    "-c",
                    str(conf),
                    "-g",
                    "daemon off;",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        self.nginx = Process("nginx", self.public_port, popen, log_path)
        wait_for_tcp("127.0.0.1", self.public_port, 15)
        if popen.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{self.nginx.log_tail()}")
        return self.nginx

    def reload_nginx(self) -> None:
        """Re-render the upstreams (instances came or went) and reload without dropping."""
        assert self.nginx is not None
        self.render_nginx()
        self.nginx.popen.send_signal(signal.SIGHUP)

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.prepare_database()
        started = [
            self.start_instance(service, index)
            for service in self.services
            for index in range(self.instances.get(service.name, 1))
        ]
        try:
            for process in started:
                self.wait_ready(process)
            self.start_nginx()
        except BaseException:
            self.stop()
            raise

    # -- tear-down ----------------------------------------------------------------------
    @staticmethod
    def stop_process(process: Process, sig: int = signal.SIGTERM, timeout: float = 25.0) -> int:
        return stop_process(process.popen, sig, timeout)

    def stop(self) -> None:
        if self.nginx is not None:
            began = time.monotonic()
            self.stop_process(self.nginx, signal.SIGQUIT)  # nginx's graceful stop
            if (waited := time.monotonic() - began) > 5:
                # A graceful stop waits for every proxied WebSocket to close.
                print(f"fleet: nginx took {waited:.0f} s to stop: a client left open", flush=True)
            self.nginx = None
        everything = [p for group in self.processes.values() for p in group]
        for process in everything:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in everything:
            self.stop_process(process)
        self.processes.clear()
