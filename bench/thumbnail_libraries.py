"""Pillow or libvips for media's thumbnails: the same work, timed and measured side by side.

Not part of the project's environment (pyvips is not a dependency): run it in a throwaway one,
    .tools/bin/uv run --no-project --with pillow==13.0.0 --with pyvips --with pyvips-binary \\
        python bench/thumbnail_libraries.py
It prints, for a 12-megapixel photo-like JPEG, p50/p99 of the time to produce media's two
WebP thumbnails (256 and 1024 px on the long side) with
* Pillow as media did it (full decode, each thumbnail from the full image, LANCZOS),
* Pillow cascading (each smaller thumbnail from the previous one),
* Pillow cascading with JPEG draft mode (the decoder scales by 1/2..1/8 while decoding),
* libvips' ``thumbnail`` (shrink-on-load), the smaller from the larger,
each in a fresh process so that its peak RSS (VmHWM) is its own. Figures: docs/decisions.md.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (1024, 256)
RUNS = 15


def _photo(path: Path) -> None:
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 40)
    rgb = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=90)
    path.write_bytes(out.getvalue())


def _pillow(source: Path, workdir: Path, *, draft: bool, cascade: bool) -> None:
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        if draft:  # decode at the smallest 1/2^n scale still >= the largest thumbnail
            image.draft("RGB", (max(SIZES), max(SIZES)))
        image.load()
        previous = image
        for size in SIZES:  # largest first
            thumb = ImageOps.exif_transpose((previous if cascade else image).copy())
            thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
            thumb.save(workdir / f"{size}.webp", "WEBP", quality=80, method=4)
            previous = thumb


def _vips(source: Path, workdir: Path) -> None:
    import pyvips

    # Rendered once into memory: the file is read sequentially, so it cannot be read twice.
    big = pyvips.Image.thumbnail(str(source), max(SIZES), height=max(SIZES)).copy_memory()
    big.webpsave(str(workdir / "big.webp"), Q=80, strip=True)
    for size in SIZES[1:]:  # the smaller ones from the larger, not from the file again
        big.thumbnail_image(size, height=size).webpsave(
            str(workdir / f"{size}.webp"), Q=80, strip=True
        )


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _measure(way: str, source: Path) -> dict[str, float]:
    """One library's runs, in this (fresh) process."""
    times = []
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(RUNS):
            started = time.perf_counter()
            if way == "vips":
                _vips(source, Path(workdir))
            else:
                _pillow(source, Path(workdir), draft="draft" in way, cascade="cascade" in way)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        "peak_mib": _peak_kib() / 1024,
    }


def main() -> None:
    if len(sys.argv) == 3:  # a child: one library
        print(json.dumps(_measure(sys.argv[1], Path(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "photo.jpg"
        _photo(source)
        size_mb = source.stat().st_size / 1e6
        print(f"12 MP JPEG ({size_mb:.1f} MB), thumbnails {SIZES} WebP q80, {RUNS} runs each")
        for way in ("pillow", "pillow-cascade", "pillow-draft-cascade", "vips"):
            out = subprocess.run(
                [sys.executable, __file__, way, str(source)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures = json.loads(out)
            print(
                f"  {way:21} p50 {figures['p50']:6.0f} ms  p99 {figures['p99']:6.0f} ms"
                f"  peak RSS {figures['peak_mib']:5.0f} MiB"
            )


if __name__ == "__main__":
    main()
