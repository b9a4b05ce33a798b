"""The nginx configs: they pass ``nginx -t``, and the real nginx, run from the dev config in front
of stub upstreams, routes every registered prefix to its service with the right headers and
answers its own errors in the API's JSON shape.

nginx is a system package (``deploy/install-system-deps.sh``); without it these tests fail with
the install command, they are not skipped.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import nginx_config

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "deploy" / "nginx"
REGISTRY: dict[str, dict[str, Any]] = tomllib.loads((ROOT / "deploy/services.toml").read_text())
SAMPLE_ID = "175928847299117063"  # a snowflake, for route templates like /channels/{id}/…


def _binary() -> str:
    try:
        return nginx_config.nginx_binary()
    except nginx_config.NginxMissing as exc:
        pytest.fail(str(exc))


def _nginx_version() -> tuple[int, ...]:
    out = subprocess.run([_binary(), "-v"], capture_output=True, text=True, check=True).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    assert match, out
    return tuple(int(part) for part in match.groups())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _uncommented(path: Path) -> str:
    return re.sub(r"#[^\n]*", "", path.read_text())


def _locations(conf: str) -> list[tuple[str, str]]:
    """``(modifier, pattern)`` of each top-level location, e.g. ``("", "/api/v1/auth/")``."""
    return re.findall(r"^\s*location\s+(=|~\*?|\^~)?\s*(\S+)\s*\{", conf, flags=re.MULTILINE)


# --- static checks -------------------------------------------------------------------------------
def test_dev_config_passes_nginx_t(tmp_path: Path) -> None:
    _binary()
    upstreams = {
        f"harmoniq_{name}": [("127.0.0.1", int(entry["dev_port"]))]
        for name, entry in REGISTRY.items()
    }
    conf = nginx_config.render(tmp_path / "nginx", 18080, upstreams)
    nginx_config.check(conf)
    text = conf.read_text()
    assert "${" not in text, "unfilled placeholder"
    # Everything nginx writes stays in the prefix.
    for directive in (
        "pid",
        "error_log",
        "access_log",
        "client_body_temp_path",
        "proxy_temp_path",
        "fastcgi_temp_path",
        "uwsgi_temp_path",
        "scgi_temp_path",
    ):
        match = re.search(rf'^\s*{directive}\s+"([^"]+)"', text, flags=re.MULTILINE)
        assert match, directive
        assert Path(match.group(1)).is_relative_to(tmp_path / "nginx"), directive


def test_compose_config_passes_nginx_t(tmp_path: Path) -> None:
    """nginx.compose.conf with the shared includes, made loadable on this machine: the includes
    point at deploy/nginx, service names become 127.0.0.1 (no Docker DNS here) and temp paths go
    to tmp. ``resolve`` stays when the local nginx knows it (>= 1.27.3; the image has it)."""
    text = (NGINX_DIR / "nginx.compose.conf").read_text()
    assert "include /etc/nginx/harmoniq/routes.conf;" in text
    text = text.replace("/etc/nginx/harmoniq/", f"{NGINX_DIR}/")
    text = re.sub(r"server\s+[a-z][a-z0-9_-]*:(\d+)", r"server 127.0.0.1:\1", text)
    if _nginx_version() < (1, 27, 3):
        text = re.sub(r"\s+resolve(?=[\s;])", "", text)
    temp = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    result = subprocess.run(
        [_binary(), "-t", "-q", "-p", str(tmp_path), "-c", str(conf), "-g", f"pid {tmp_path}/pid;"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_every_upstream_in_the_routes_is_a_registered_service() -> None:
    """nginx refuses to start on an unknown upstream: routes.conf may only name services that
    exist, and the compose config must declare each of them (resolving the compose service)."""
    routes = _uncommented(NGINX_DIR / "routes.conf")
    compose_conf = _uncommented(NGINX_DIR / "nginx.compose.conf")
    used = set(re.findall(r"proxy_pass\s+http://harmoniq_([a-z0-9_]+)", routes))
    assert used == set(REGISTRY), "routes.conf must route to exactly the registered services"
    for name in REGISTRY:
        block = re.search(rf"upstream harmoniq_{name} \{{(.*?)\}}", compose_conf, flags=re.DOTALL)
        assert block, f"nginx.compose.conf: no upstream harmoniq_{name}"
        assert re.search(rf"server {name}:8000\b[^;]*\bresolve", block.group(1)), block.group(1)
        assert "keepalive" in block.group(1)


def test_compose_upstreams_resolve_at_run_time() -> None:
    """A statically resolved name that Docker's DNS does not know (a service not in the compose
    file, or scaled to 0) stops nginx from starting; with `zone` + `resolve` it just has no peers."""
    compose_conf = _uncommented(NGINX_DIR / "nginx.compose.conf")
    blocks = re.findall(r"upstream (\S+) \{(.*?)\}", compose_conf, flags=re.DOTALL)
    assert blocks
    for name, body in blocks:
        assert re.search(rf"zone {name} ", body), f"{name}: needs a shared-memory zone for resolve"
        for server in re.findall(r"server\s+([^;]+);", body):
            assert "resolve" in server.split(), (name, server)


def test_every_registered_route_has_a_location() -> None:
    locations = _locations(_uncommented(NGINX_DIR / "routes.conf"))
    for name, entry in REGISTRY.items():
        for prefix in entry["routes"]:
            sample = prefix.replace("{id}", SAMPLE_ID) + "/x"
            matched = [
                pattern
                for modifier, pattern in locations
                if (not modifier.startswith("~") and sample.startswith(pattern))
                or (modifier.startswith("~") and re.search(pattern.strip('"'), sample))
            ]
            assert matched, f"{name}: no location in routes.conf serves {prefix}"


def test_missing_nginx_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # as nginx_config calls them
    monkeypatch.setattr(os, "access", lambda _path, _mode: False)
    with pytest.raises(nginx_config.NginxMissing, match=r"apt-get install -y nginx"):
        nginx_config.nginx_binary()


def test_render_rejects_what_would_corrupt_the_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad upstream name"):
        nginx_config.render(tmp_path, 18080, {"harmoniq auth; evil": [("127.0.0.1", 1)]})
    with pytest.raises(ValueError, match="no servers"):
        nginx_config.render(tmp_path, 18080, {"harmoniq_auth": []})
    with pytest.raises(ValueError, match="bad upstream server"):
        nginx_config.render(tmp_path, 18080, {"harmoniq_auth": [("127.0.0.1;", 80)]})


# --- the real nginx in front of stub services ----------------------------------------------------
class _Stub(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON, naming its service."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in separate writes must not wait 40 ms
    service = "?"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps(
            {
                "service": self.service,
                "path": self.path,
                "version": self.request_version,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": len(body),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Edge:
    port: int
    stubs: dict[str, ThreadingHTTPServer]
    prefix: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    """nginx from the dev config (rendered under pytest's private tmp dir, as the fleet tests do),
    with one stub server per registered service."""
    binary = _binary()
    stubs: dict[str, ThreadingHTTPServer] = {}
    for name in REGISTRY:
        handler = type(f"Stub_{name}", (_Stub,), {"service": name})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stubs[name] = server
    port = _free_port()
    conf = nginx_config.render(
        tmp_path / "nginx",
        port,
        {f"harmoniq_{n}": [("127.0.0.1", s.server_address[1])] for n, s in stubs.items()},
    )
    assert nginx_config.command(conf)[0] == binary
    process = subprocess.Popen(
        nginx_config.command(conf), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    running = Edge(port, stubs, conf.parent)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}"
                    f"{running.error_log()}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"nginx did not listen on {port}: {running.error_log()}")
                time.sleep(0.05)  # waiting for another process to bind; nothing to await
        yield running
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for server in stubs.values():
            server.shutdown()
            server.server_close()


def _json(body: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(body)
    return loaded


def test_every_registered_route_reaches_its_service(edge: Edge) -> None:
    for name, entry in REGISTRY.items():
        for prefix in entry["routes"]:
            path = prefix.replace("{id}", SAMPLE_ID) + "/probe?x=1"
            status, _, body = edge.request("GET", path)
            assert status == 200, (name, path, body)
            seen = _json(body)
            assert seen["service"] == name, f"{path} went to {seen['service']}, not {name}"
            assert seen["path"] == path  # the URI is passed on unchanged


def test_proxy_headers(edge: Edge) -> None:
    name = next(iter(REGISTRY))
    path = REGISTRY[name]["routes"][0] + "/probe"
    status, headers, body = edge.request(
        "GET",
        path,
        headers={
            "X-Request-Id": "trace-me-123",
            "X-Forwarded-For": "6.6.6.6",
            "X-Real-IP": "6.6.6.6",
            "Host": "chat.example",
        },
    )
    assert status == 200
    seen = _json(body)["headers"]
    assert seen["x-real-ip"] == "127.0.0.1", "a client must not choose its own address"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-request-id"] == "trace-me-123"
    assert seen["host"] == "chat.example"
    # HTTP/1.1 with no "Connection: close": the upstream connection is kept alive.
    assert _json(body)["version"] == "HTTP/1.1"
    assert seen.get("connection", "") != "close"
    assert "Server" not in headers or headers["Server"] == "nginx"  # no version

    for bad in ("", "has spaces in it", "x" * 200):
        _, _, body = edge.request("GET", path, headers={"X-Request-Id": bad} if bad else {})
        generated = _json(body)["headers"]["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated), generated


def test_websocket_upgrade_headers_pass_through(edge: Edge) -> None:
    name = next(iter(REGISTRY))
    path = REGISTRY[name]["routes"][0] + "/probe"
    _, _, body = edge.request(
        "GET", path, headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    seen = _json(body)["headers"]
    assert seen["upgrade"] == "websocket"
    assert seen["connection"].lower() == "upgrade"


def test_large_bodies_are_buffered_and_oversized_ones_refused(edge: Edge) -> None:
    """A body above nginx's memory buffer goes through its temp dir (writable by the workers even
    as root under a 0700 tmp dir); one above client_max_body_size gets the JSON 413."""
    name = next(iter(REGISTRY))
    path = REGISTRY[name]["routes"][0] + "/upload"
    status, _, body = edge.request("POST", path, body=b"x" * 300_000)
    assert status == 200, edge.error_log()
    assert _json(body)["body_length"] == 300_000

    connection = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Length", str(27 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/json"
        assert _json(response.read())["code"] == "payload_too_large"
    finally:
        connection.close()


def test_nginx_errors_are_json(edge: Edge) -> None:
    status, headers, body = edge.request("GET", "/api/v1/no-such-thing")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert _json(body) == {"code": "not_found", "message": "no such route", "errors": []}
    assert edge.request("GET", "/")[0] == 404
    status, _, body = edge.request("GET", "/health")
    assert (status, _json(body)) == (200, {"status": "ok"})

    # A service that is down: 502 in the error shape, not nginx's HTML page.
    name = next(iter(REGISTRY))
    edge.stubs[name].shutdown()
    edge.stubs[name].server_close()
    status, headers, body = edge.request("GET", REGISTRY[name]["routes"][0] + "/probe")
    assert status == 502
    assert headers["Content-Type"] == "application/json"
    assert _json(body)["code"] == "upstream_unavailable"
    assert _json(body)["errors"] == []


def test_coarse_rate_limit_answers_json_429(edge: Edge) -> None:
    """50 r/s with a burst of 100 per address: a tight loop of 250 proxied requests must hit
    it (nginx's own `return` locations answer before the limit applies)."""
    name = next(iter(REGISTRY))
    path = REGISTRY[name]["routes"][0] + "/probe"
    connection = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    limited = None
    try:
        for _ in range(250):
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status == 429:
                limited = response, body
                break
    finally:
        connection.close()
    assert limited is not None, "no 429 after 250 requests"
    response, body = limited
    assert response.getheader("Retry-After") == "1"
    assert _json(body)["code"] == "rate_limited"


def test_access_log_is_json_lines(edge: Edge) -> None:
    edge.request("GET", "/api/v1/nowhere", headers={"X-Request-Id": "log-me-1"})
    log = edge.prefix / "access.log"
    deadline = time.monotonic() + 5
    while "log-me-1" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.05)  # nginx writes the line after the response; poll its file
    line = next(json.loads(x) for x in log.read_text().splitlines() if "log-me-1" in x)
    assert line["request_id"] == "log-me-1"
    assert line["status"] == 404
    assert line["uri"] == "/api/v1/nowhere"
