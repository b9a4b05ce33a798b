"""The embedded S3 server: started as our own child, recognised as ours, stopped by pid."""

from __future__ import annotations

import os
import socket
import urllib.request

from harmoniq_common.testing.s3 import S3Stack, _moto_ready


def test_embedded_moto_starts_answers_and_stops() -> None:
    stack = S3Stack(env={})
    with stack as server:
        pid = stack.pid
        assert pid is not None
        with urllib.request.urlopen(server.url + "/", timeout=5) as reply:  # noqa: S310
            assert b"ListAllMyBucketsResult" in reply.read()
    assert stack.pid is None
    # Reaped by stop_process: the pid is gone, or already someone else's (not moto).
    cmdline = f"/proc/{pid}/cmdline"
    if os.path.exists(cmdline):
        with open(cmdline, "rb") as found:
            assert b"moto" not in found.read()


def test_a_stranger_on_the_port_is_not_taken_for_ours() -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        # The socket is this test process's, not the (pretend) child's: not ready.
        assert not _moto_ready(port, os.getppid())


def test_a_given_url_is_used_and_nothing_starts() -> None:
    stack = S3Stack(env={"HARMONIQ_S3_URL": "http://minio:9000", "HARMONIQ_S3_ACCESS_KEY": "k"})
    with stack as server:
        assert server.url == "http://minio:9000"
        assert server.access_key == "k"
        assert stack.pid is None
