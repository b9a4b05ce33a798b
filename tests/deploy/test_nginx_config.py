"""The nginx configs: they pass ``nginx -t``, and the real nginx, run from the dev config in front
of stub upstreams, routes every registered prefix to its service with the right headers and
answers its own errors in the API's JSON shape.

nginx is a system package (``deploy/install-system-deps.sh``); without it these tests fail with
the install command, they are not skipped.
"""

from __future__ import annotations

import contextlib
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


def _local_compose_conf(
    tmp_path: Path,
    *,
    port: int = 8080,
    tls_port: int | None = None,
    upstreams: dict[str, int] | None = None,
) -> Path:
    """nginx.compose.conf with the shared includes, made runnable on this machine: the includes
    point at deploy/nginx, service names become 127.0.0.1 (no Docker DNS here; ``upstreams``
    gives each service's port), temp paths go to tmp and it listens on loopback ports.
    ``tls_port``: with the HTTPS server of docker-compose.tls.yml and a self-signed certificate.
    ``resolve`` and ``http2 on`` stay when the local nginx knows them (the image has both)."""
    version = _nginx_version()

    def localise(text: str) -> str:
        text = text.replace("/etc/nginx/harmoniq/", f"{NGINX_DIR}/")
        text = text.replace("/etc/nginx/harmoniq-tls/", f"{tmp_path}/harmoniq-tls/")
        text = text.replace("/etc/nginx/tls/", f"{tmp_path}/tls/")
        text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};")
        text = text.replace("listen 8443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
        text = re.sub(
            r"server\s+([a-z][a-z0-9_-]*):(\d+)",
            lambda m: f"server 127.0.0.1:{(upstreams or {}).get(m[1], int(m[2]))}",
            text,
        )
        if version < (1, 27, 3):
            text = re.sub(r"\s+resolve(?=[\s;])", "", text)
        if version < (1, 25, 1):
            text = text.replace("http2 on;", "")
        return text

    original = (NGINX_DIR / "nginx.compose.conf").read_text()
    assert "include /etc/nginx/harmoniq/routes.conf;" in original
    text = localise(original)
    temp = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    # One small worker: this machine's open-file limit is not the container's.
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    text = re.sub(r"worker_rlimit_nofile \d+;", "", text)
    text = re.sub(r"worker_connections \d+;", "worker_connections 512;", text)
    text = text.replace("error_log /dev/stderr warn;", f"error_log {tmp_path}/error.log warn;")
    if tls_port is not None:
        (tmp_path / "harmoniq-tls").mkdir()
        server = localise((NGINX_DIR / "tls-server.compose.conf").read_text())
        (tmp_path / "harmoniq-tls" / "server.conf").write_text(server)
        _self_signed_certificate(tmp_path / "tls")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


def _self_signed_certificate(directory: Path) -> None:
    """fullchain.pem and privkey.pem for 127.0.0.1, as docker-compose.tls.yml expects them."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harmoniq test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir()
    (directory / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _compose_nginx_command(conf: Path) -> list[str]:
    directives = f"pid {conf.parent}/pid; daemon off;"
    return [_binary(), "-p", str(conf.parent), "-c", str(conf), "-g", directives]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "with-https"])
def test_compose_config_passes_nginx_t(tmp_path: Path, tls: bool) -> None:
    """As compose runs it: alone (the HTTPS include matches no file) and with
    docker-compose.tls.yml's HTTPS server."""
    conf = _local_compose_conf(tmp_path, tls_port=8443 if tls else None)
    result = subprocess.run(
        [*_compose_nginx_command(conf), "-t", "-q"],
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


def test_per_address_guard_is_read_from_the_directives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a benchmark checks before it measures: its comments name limit_req_zone, so
    only a directive counts (the messages bench refused every fleet when it searched text)."""
    monkeypatch.delenv("HARMONIQ_NGINX_RATE_PER_SECOND", raising=False)
    shipped = nginx_config.render(
        tmp_path / "shipped", 18080, {"harmoniq_auth": [("127.0.0.1", 1)]}
    )
    assert nginx_config.per_address_guard(shipped) == "50r/s"
    off = nginx_config.render(
        tmp_path / "off", 18080, {"harmoniq_auth": [("127.0.0.1", 1)]}, rate_per_second=0
    )
    assert "limit_req_zone" in off.read_text()  # in a comment
    assert nginx_config.per_address_guard(off) is None
    monkeypatch.setenv("HARMONIQ_NGINX_RATE_PER_SECOND", "5000")
    high = nginx_config.render(tmp_path / "high", 18080, {"harmoniq_auth": [("127.0.0.1", 1)]})
    assert nginx_config.per_address_guard(high) == "5000r/s"


# --- the real nginx in front of stub services ----------------------------------------------------
class _Stub(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON, naming its service."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in separate writes must not wait 40 ms
    service = "?"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/status-429"):  # a service's own refusal, with its own header
            self._refuse()
            return
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

    def _refuse(self) -> None:
        payload = b'{"code":"rate_limited","message":"slow down","errors":[]}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "7")
        self.send_header("X-Frame-Options", "SAMEORIGIN")  # nginx's own value must win
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


def _stub_servers() -> dict[str, ThreadingHTTPServer]:
    stubs: dict[str, ThreadingHTTPServer] = {}
    for name in REGISTRY:
        handler = type(f"Stub_{name}", (_Stub,), {"service": name})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stubs[name] = server
    return stubs


def _stop_stubs(stubs: dict[str, ThreadingHTTPServer]) -> None:
    # shutdown() waits for a serve_forever poll (0.5 s): stop them all at once.
    stopping = [threading.Thread(target=server.shutdown) for server in stubs.values()]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()
    for server in stubs.values():
        server.server_close()


@contextlib.contextmanager
def _running_nginx(command: list[str], ports: list[int], error_log: Path) -> Iterator[None]:
    """nginx in the foreground until the block ends; up once every port accepts."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def log() -> str:
        return error_log.read_text() if error_log.exists() else ""

    try:
        deadline = time.monotonic() + 10
        for port in ports:
            while True:
                if process.poll() is not None:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nginx exited: {stderr}{log()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"nginx did not listen on {port}: {log()}")
                    time.sleep(0.05)  # waiting for another process to bind; nothing to await
        yield
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    """nginx from the dev config (rendered under pytest's private tmp dir, as the fleet tests do),
    with one stub server per registered service."""
    binary = _binary()
    stubs = _stub_servers()
    port = _free_port()
    conf = nginx_config.render(
        tmp_path / "nginx",
        port,
        {f"harmoniq_{n}": [("127.0.0.1", s.server_address[1])] for n, s in stubs.items()},
    )
    assert nginx_config.command(conf)[0] == binary
    try:
        with _running_nginx(nginx_config.command(conf), [port], conf.parent / "error.log"):
            yield Edge(port, stubs, conf.parent)
    finally:
        _stop_stubs(stubs)


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
    assert edge.request("GET", "/")[0] == 404  # no web client built into this prefix
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


# --- errors nginx raises before it has a location, and headers for browsers ----------------------
def _raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client library would send most of these) and read one
    answer: the head, then Content-Length bytes of body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"{name} sent twice"
            headers[name.lower()] = value.strip()
        while len(body) < int(headers.get("content-length", 0)) and (chunk := sock.recv(65536)):
            body += chunk
    return int(status_line.split()[1]), headers, body


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
}


def _assert_json_error(status: int, headers: dict[str, str], body: bytes, code: str) -> None:
    assert headers["content-type"] == "application/json", (status, headers, body)
    assert b"<html" not in body
    assert _json(body) == {"code": code, "message": _json(body)["message"], "errors": []}
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (status, name, headers)


def _request(line: bytes, *headers: bytes, close: bool = True) -> bytes:
    lines = [line, b"Host: chat.example", *headers, *([b"Connection: close"] if close else [])]
    return b"".join(item + b"\r\n" for item in lines) + b"\r\n"


REQUEST_LINE_ERRORS = [
    ("bad percent-escape", _request(b"GET /api/v1/auth/%zz HTTP/1.1"), 400, "invalid_request"),
    ("escaped NUL", _request(b"GET /api/v1/auth/a%00b HTTP/1.1"), 400, "invalid_request"),
    ("raw NUL", _request(b"GET /api/v1/auth/a\x00b HTTP/1.1"), 400, "invalid_request"),
    ("raw control byte", _request(b"GET /api/v1/\x01 HTTP/1.1"), 400, "invalid_request"),
    ("above the root", _request(b"GET /../../etc/passwd HTTP/1.1"), 400, "invalid_request"),
    ("not a request line", _request(b"GARBAGE"), 400, "invalid_request"),
    ("bad method", _request(b"G@T / HTTP/1.1"), 400, "invalid_request"),
    # large_client_header_buffers: 4 x 8k by default; a request line longer than one buffer
    ("URI over the limit", _request(b"GET /" + b"a" * 9000 + b" HTTP/1.1"), 414, "uri_too_long"),
    ("unknown HTTP version", _request(b"GET / HTTP/9.9"), 505, "http_version_not_supported"),
    ("TRACE", _request(b"TRACE /api/v1/auth/me HTTP/1.1"), 405, "method_not_allowed"),
    (
        "unknown transfer coding",
        _request(b"POST /api/v1/auth/login HTTP/1.1", b"Transfer-Encoding: gzip"),
        501,
        "not_implemented",
    ),
    ("no Host", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "invalid_request"),
    (
        "header too large",
        _request(b"GET / HTTP/1.1", b"X-Big: " + b"a" * 9000),
        400,
        "invalid_request",
    ),
]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [case[1:] for case in REQUEST_LINE_ERRORS],
    ids=[case[0] for case in REQUEST_LINE_ERRORS],
)
def test_malformed_requests_get_the_json_error(
    edge: Edge, raw: bytes, status: int, code: str
) -> None:
    """Refused while nginx reads the request line or headers, before any location is chosen:
    the documented status and the JSON body, never nginx's HTML page or a 500."""
    got, headers, body = _raw(edge.port, raw)
    assert got == status, body
    _assert_json_error(got, headers, body, code)
    assert "empty URI in redirect" not in edge.error_log()


def test_connect_is_refused_in_json(edge: Edge) -> None:
    """nginx 1.22 reads CONNECT as a malformed line (400); newer ones answer 405."""
    status, headers, body = _raw(edge.port, _request(b"CONNECT chat.example:443 HTTP/1.1"))
    assert status in (400, 405)
    _assert_json_error(
        status, headers, body, "invalid_request" if status == 400 else "method_not_allowed"
    )


def test_a_malformed_request_after_a_good_one_on_the_same_connection(edge: Edge) -> None:
    name = next(iter(REGISTRY))
    good = _request(f"GET {REGISTRY[name]['routes'][0]}/probe HTTP/1.1".encode(), close=False)
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.sendall(good + _request(b"GET /%zz HTTP/1.1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    second = answer[answer.index(b"HTTP/1.1 ", 10) :]
    assert second.startswith(b"HTTP/1.1 400 ")
    assert second.endswith(b'{"code":"invalid_request","message":"malformed request","errors":[]}')


def test_error_locations_are_internal(edge: Edge) -> None:
    status, headers, body = _raw(edge.port, _request(b"GET /.harmoniq/error/500 HTTP/1.1"))
    assert status == 404
    _assert_json_error(status, headers, body, "not_found")


def test_security_headers_on_every_kind_of_response(edge: Edge) -> None:
    """Proxied answers, nginx's own answers and its errors all carry them, once each (a
    service's own X-Frame-Options is replaced); plain HTTP never claims HSTS."""
    name = next(iter(REGISTRY))
    prefix = REGISTRY[name]["routes"][0]
    cases = {
        "proxied": _request(f"GET {prefix}/probe HTTP/1.1".encode()),
        "service's 429": _request(f"GET {prefix}/status-429 HTTP/1.1".encode()),
        "own answer": _request(b"GET /health HTTP/1.1"),
        "no route": _request(b"GET /nowhere HTTP/1.1"),
        "malformed": _request(b"GET /%zz HTTP/1.1"),
        "too large": _request(f"POST {prefix}/x HTTP/1.1".encode(), b"Content-Length: 99999999"),
    }
    for case, raw in cases.items():
        status, headers, _ = _raw(edge.port, raw)
        for header, value in SECURITY_HEADERS.items():
            assert headers.get(header) == value, (case, status, header)
        assert "strict-transport-security" not in headers, case
    _, headers, _ = _raw(edge.port, cases["service's 429"])
    assert headers["retry-after"] == "7", "a service's Retry-After passes through, alone"


def test_no_location_can_drop_the_inherited_headers() -> None:
    """add_header in a location replaces every inherited one: only server level may use it,
    every server includes the shared headers and errors, and HSTS lives only in tls.conf."""
    for name in ("routes.conf", "errors.conf"):
        text = _uncommented(NGINX_DIR / name)
        for block in re.findall(r"location[^{]*\{([^}]*)\}", text):
            assert "add_header" not in block, (name, block)
    # The web client's `location /` sets its own CSP, so it must repeat every other header.
    web = _uncommented(NGINX_DIR / "web.conf")
    for block in re.findall(r"location[^{]*\{([^}]*)\}", web):
        if "add_header" not in block:
            continue
        named = set(re.findall(r"add_header\s+(\S+)", block))
        assert named == {h.title() for h in SECURITY_HEADERS} | {"Strict-Transport-Security"}, named
        assert "add_header Strict-Transport-Security $harmoniq_web_hsts always" in block
    servers = {
        "nginx.conf.template": _uncommented(NGINX_DIR / "nginx.conf.template"),
        "nginx.compose.conf": _uncommented(NGINX_DIR / "nginx.compose.conf"),
        "tls-server.compose.conf": _uncommented(NGINX_DIR / "tls-server.compose.conf"),
    }
    for name, text in servers.items():
        blocks = re.findall(r"server\s*\{(.*?)\n\s*\}", text, flags=re.DOTALL)
        assert blocks, name
        for block in blocks:
            for include in ("security_headers.conf", "errors.conf", "routes.conf", "web.conf"):
                assert include in block, (name, include)
            assert ("tls.conf" in block) == ("ssl" in block), name
    hsts = [
        p.name
        for p in NGINX_DIR.iterdir()
        if re.search(r"add_header\s+Strict-Transport-Security\s+\"", _uncommented(p))
    ]
    assert hsts == ["tls.conf"]


@pytest.fixture
def compose_edge(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """The compose nginx config with docker-compose.tls.yml's HTTPS server, run locally in front
    of the stub services: (plain port, HTTPS port)."""
    stubs = _stub_servers()
    port, tls_port = _free_port(), _free_port()
    conf = _local_compose_conf(
        tmp_path,
        port=port,
        tls_port=tls_port,
        upstreams={name: server.server_address[1] for name, server in stubs.items()},
    )
    try:
        with _running_nginx(_compose_nginx_command(conf), [port, tls_port], tmp_path / "error.log"):
            yield port, tls_port
    finally:
        _stop_stubs(stubs)


def test_https_server_adds_hsts_and_plain_http_does_not(
    compose_edge: tuple[int, int], tmp_path: Path
) -> None:
    import ssl

    port, tls_port = compose_edge
    context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "fullchain.pem"))
    name = next(iter(REGISTRY))
    for path in ("/health", "/nowhere", f"{REGISTRY[name]['routes'][0]}/probe"):
        connection = http.client.HTTPSConnection("127.0.0.1", tls_port, timeout=10, context=context)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            hsts = response.getheader("Strict-Transport-Security")
            assert hsts == "max-age=63072000; includeSubDomains", (path, response.status)
            for header, value in SECURITY_HEADERS.items():
                assert response.getheader(header) == value, (path, header)
            if path.endswith("/probe"):
                assert _json(body)["headers"]["x-forwarded-proto"] == "https"
        finally:
            connection.close()
    status, headers, body = _raw(port, _request(b"GET /%zz HTTP/1.1"))
    _assert_json_error(status, headers, body, "invalid_request")
    assert "strict-transport-security" not in headers


# --- the web client ------------------------------------------------------------------------------
@pytest.fixture
def web_edge(tmp_path: Path) -> Iterator[Edge]:
    """The dev config serving a (tiny) built web client, in front of the stub services."""
    web = tmp_path / "dist"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>Harmoniq</title>")
    (web / "assets" / "index-abc123.js").write_text("console.log(1)")
    stubs = _stub_servers()
    port = _free_port()
    conf = nginx_config.render(
        tmp_path / "nginx",
        port,
        {f"harmoniq_{n}": [("127.0.0.1", s.server_address[1])] for n, s in stubs.items()},
        web_root=web,
    )
    nginx_config.check(conf)
    try:
        with _running_nginx(nginx_config.command(conf), [port], conf.parent / "error.log"):
            yield Edge(port, stubs, conf.parent)
    finally:
        _stop_stubs(stubs)


def test_web_client_is_served_with_history_fallback(web_edge: Edge) -> None:
    """/ and the client's own routes answer index.html (never cached); hashed assets are cached
    for long; a missing asset and an unknown API path are 404s, not the app; every API route
    and the gateway still reach their services; security headers on all of it."""
    for path in ("/", "/channels/1/2", "/invite/ZCG5VnpgsAB4", "/login?next=%2Fchannels"):
        status, raw_headers, body = web_edge.request("GET", path)
        headers = {k.lower(): v for k, v in raw_headers.items()}
        assert status == 200, path
        assert body.startswith(b"<!doctype html>"), path
        assert headers["content-type"].startswith("text/html")
        assert headers["cache-control"] == "no-cache", path
        for header, value in SECURITY_HEADERS.items():
            if header != "content-security-policy":
                assert headers.get(header) == value, (path, header)
        _assert_app_csp(headers["content-security-policy"], f"127.0.0.1:{web_edge.port}")
        assert "strict-transport-security" not in headers
    status, headers, body = web_edge.request("GET", "/assets/index-abc123.js")
    assert (status, body) == (200, b"console.log(1)")
    assert headers["Cache-Control"] == "max-age=31536000"
    # A module script must be served as JavaScript, or the browser refuses to run it.
    assert headers["Content-Type"] == "application/javascript; charset=utf-8"
    status, headers, body = web_edge.request("GET", "/assets/index-gone.js")
    assert status == 404
    assert _json(body)["code"] == "not_found"
    status, headers, body = web_edge.request("GET", "/api/v1/no-such-thing")
    assert (status, headers["Content-Type"]) == (404, "application/json")
    assert _json(body)["code"] == "not_found"
    for name, entry in REGISTRY.items():
        for prefix in entry["routes"]:
            path = prefix.replace("{id}", SAMPLE_ID) + "/probe"
            status, _, body = web_edge.request("GET", path)
            assert status == 200 and _json(body)["service"] == name, path
    status, _, body = web_edge.request("GET", "/health")
    assert (status, _json(body)) == (200, {"status": "ok"})


def _assert_app_csp(policy: str, host: str) -> None:
    directives = {
        d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d
    }
    # Scripts: the app's own files only; no inline script, no eval.
    assert directives["script-src"] == ["'self'"], policy
    assert directives["default-src"] == ["'self'"], policy
    assert directives["object-src"] == ["'none'"], policy
    assert directives["base-uri"] == ["'none'"], policy
    assert directives["frame-ancestors"] == ["'none'"], policy
    assert not any("unsafe" in s for sources in directives.values() for s in sources), policy
    # The API and the gateway on the same origin (ws and wss), pictures from data:/blob: URLs.
    assert "'self'" in directives["connect-src"]
    assert f"ws://{host}" in directives["connect-src"], policy
    assert f"wss://{host}" in directives["connect-src"], policy
    assert {"'self'", "data:", "blob:"} <= set(directives["img-src"]), policy
    assert directives["style-src"] == ["'self'"], policy


def test_web_client_has_a_content_security_policy(web_edge: Edge) -> None:
    """The app and its assets carry the app's CSP (with every other security header, once);
    API answers and nginx's errors keep the server's own headers (frame-ancestors only)."""
    for path in ("/", "/channels/1/2", "/assets/index-abc123.js"):
        status, headers, _ = _raw(
            web_edge.port,
            _request(f"GET {path} HTTP/1.1".encode()).replace(b"chat.example", b"web.test:8080"),
        )
        assert status == 200, path
        _assert_app_csp(headers["content-security-policy"], "web.test:8080")
        for header, value in SECURITY_HEADERS.items():
            if header != "content-security-policy":
                assert headers.get(header) == value, (path, header)
        assert "strict-transport-security" not in headers, path
    name = next(iter(REGISTRY))
    prefix = REGISTRY[name]["routes"][0]
    for raw in (
        _request(f"GET {prefix}/probe HTTP/1.1".encode()),
        _request(b"GET /assets/index-gone.js HTTP/1.1"),
        _request(b"GET /api/v1/no-such-thing HTTP/1.1"),
    ):
        status, headers, _ = _raw(web_edge.port, raw)
        assert headers["content-security-policy"] == "frame-ancestors 'none'", (raw, status)


def test_render_refuses_a_web_root_that_could_break_the_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad web root"):
        nginx_config.render(tmp_path / "nginx", 18080, {}, web_root=tmp_path / 'a";b')
