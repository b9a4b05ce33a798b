"""Media: upload throughput through nginx, the media process's peak memory, thumbnail time,
presigned redirect latency.

Starts the fleet with an embedded S3 server (moto) on its own database and namespace, then:

* uploads 1 MB and 25 MB files through nginx with 1 and 8 in flight (MB/s of file bytes);
* samples the media process's resident memory (``/proc/<pid>/status``) during 8 concurrent
  25 MB uploads and prints the peak (what bounds it: one S3 part of ``s3_part_bytes`` per
  upload in flight, plus the interpreter);
* times ``process_image`` (measure, strip metadata, two WebP thumbnails) on a 12-megapixel
  JPEG in this process, as the service runs it in a worker thread;
* times ``GET /api/v1/media/{id}`` (access check + presigned redirect) straight to the service
  (through nginx, its 50 r/s per-address guard would be what is measured).

Loopback only, bounded counts; figures are printed, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from harmoniq_common.testing.infra import InfraStack, free_port
from harmoniq_common.testing.s3 import S3Stack
from harmoniq_media.domain.images import process_image

from fleet import Fleet

MB = 1_000_000


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Samples a process's resident memory every 20 ms in a thread, keeps the peak."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self.peak_kib = 0
        self.before_kib = _rss_kib(pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, _rss_kib(self._pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def _uploads(url: str, token: str, size: int, count: int, in_flight: int) -> float:
    """Upload ``count`` files of ``size`` bytes, ``in_flight`` at a time; MB/s of file bytes."""
    payload = os.urandom(size)
    gate = asyncio.Semaphore(in_flight)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one(n: int) -> None:
            async with gate:
                response = await client.post(
                    "/api/v1/media/upload",
                    data={"purpose": "attachment"},
                    files={"file": (f"f{n}.bin", payload, "application/octet-stream")},
                    headers=headers,
                )
            if response.status_code != 201:
                raise RuntimeError(f"upload {response.status_code}: {response.text}")

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return size * count / MB / (time.perf_counter() - started)


def _twelve_megapixels() -> bytes:
    """A 4000x3000 JPEG that looks like a photo to the encoder (gradients and noise)."""
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.rotate(180)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _thumbnail_times(runs: int) -> tuple[list[float], int]:
    jpeg = _twelve_megapixels()
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "photo.jpg"
        source.write_bytes(jpeg)
        for n in range(runs):
            work = Path(tmp) / f"w{n}"
            work.mkdir()
            started = time.perf_counter()
            process_image(
                source, "image/jpeg", sizes=[256, 1024], max_pixels=50_000_000, workdir=work
            )
            times.append((time.perf_counter() - started) * 1000)
    return times, len(jpeg)


async def _redirects(service_url: str, token: str, media_id: str, count: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    async with httpx.AsyncClient(base_url=service_url, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(
                f"/api/v1/media/{media_id}", headers=headers, follow_redirects=False
            )
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 302:
                raise RuntimeError(f"redirect {response.status_code}: {response.text}")
    return times


def _register(url: str) -> str:
    name = f"m{secrets.token_hex(4)}"
    response = httpx.post(
        f"{url}/api/v1/auth/register",
        json={"username": name, "email": f"{name}@bench.example", "password": "bench password"},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench media")
    parser.add_argument("--quick", action="store_true", help="fewer uploads and timings")
    args = parser.parse_args(argv)
    small, large, thumbs, redirects = (10, 4, 3, 100) if args.quick else (40, 16, 10, 500)
    print(f"# media ({os.cpu_count()} cores; moto as the S3 server, on loopback)")
    with (
        tempfile.TemporaryDirectory(prefix="harmoniq-bench-") as tmp,
        InfraStack(Path(tmp) / "infra") as infra,
        S3Stack(Path(tmp) / "s3", env={}) as s3,
    ):
        fleet = Fleet(
            infra,
            Path(tmp) / "fleet",
            public_port=free_port(),
            database=f"hq_bench_{secrets.token_hex(3)}",
            namespace="bench",
            fixed_ports=False,
            s3=s3,
            extra_env={
                "HARMONIQ_AUTH_RATE_LIMIT": "1000",
                "HARMONIQ_UPLOAD_RATE_LIMIT": "100000",
                "HARMONIQ_USER_QUOTA_BYTES": str(10**12),
                "HARMONIQ_LOG_LEVEL": "WARNING",
            },
        )
        fleet.start()
        try:
            token = _register(fleet.url)
            media = fleet.processes["media"][0]
            asyncio.run(_uploads(fleet.url, token, MB, 2, 1))  # warm-up
            for size, count in ((MB, small), (25 * MB, large)):
                for in_flight in (1, 8):
                    n = count if in_flight == 8 else max(2, count // 4)
                    with PeakMemory(media.popen.pid) as memory:
                        rate = asyncio.run(_uploads(fleet.url, token, size, n, in_flight))
                    print(
                        f"upload {size // MB:>2d} MB  in flight={in_flight}  n={n:<3d} "
                        f"{rate:7.1f} MB/s   media RSS {memory.before_kib / 1024:6.1f} -> "
                        f"peak {memory.peak_kib / 1024:6.1f} MiB"
                    )
            times, size = _thumbnail_times(thumbs)
            print(
                f"thumbnails of a 12 MP JPEG ({size / MB:.1f} MB): n={len(times)} "
                f"p50={statistics.median(times):7.1f} ms  p99={_percentile(times, 0.99):7.1f} ms"
            )
            uploaded = httpx.post(
                f"{fleet.url}/api/v1/media/upload",
                data={"purpose": "avatar"},
                files={"file": ("p.jpg", _twelve_megapixels(), "image/jpeg")},
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            uploaded.raise_for_status()
            service_url = f"http://127.0.0.1:{media.port}"
            times = asyncio.run(_redirects(service_url, token, uploaded.json()["id"], redirects))
            print(
                f"presigned redirect (GET /media/{{id}}, straight to the service): n={len(times)} "
                f"p50={statistics.median(times):6.2f} ms  p99={_percentile(times, 0.99):6.2f} ms"
            )
        finally:
            fleet.stop()
