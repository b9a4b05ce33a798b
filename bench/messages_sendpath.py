"""Where a send's time goes: an instrumented messages instance driven directly (no nginx).

:func:`profile_send_path` starts ``messages_profiled.py`` (the same app, same environment as a
fleet instance) twice: first with wall-clock stage timers, for 1 sender then 32, cut into the
two runs by timestamps; then under cProfile for 32 senders, folded into areas by
:func:`messages_measure.profile_areas`. Each instance is stopped with SIGTERM, by its pid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import messages_load
import messages_measure
import uvloop
from messages_load import Cast, Outcome

from harmoniq_common.testing.infra import die_with_parent, free_port

from fleet import ROOT, Fleet, Process

__all__ = ["print_profile", "profile_send_path"]

BENCH = Path(__file__).resolve().parent


def _start_profiled(fleet: Fleet, mode: str, out: Path) -> Process:
    service = next(s for s in fleet.services if s.name == "messages")
    port = free_port()
    env = fleet.service_env(service, 9, port) | {
        "BENCH_PROFILE_MODE": mode,
        "BENCH_PROFILE_OUT": str(out),
    }
    log_path = fleet.work_dir / "logs" / f"messages-profiled-{mode}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, str(BENCH / "messages_profiled.py")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    process = Process(f"messages-profiled-{mode}", port, popen, log_path)
    try:
        fleet.wait_ready(process)
    except BaseException:
        Fleet.stop_process(process)
        raise
    return process


def profile_send_path(
    fleet: Fleet, cast: Cast, contents: list[str], count: int, out: Path
) -> dict[str, Any]:
    """Stage timers at concurrency 1 and 32, then cProfile at 32, each on a fresh instance
    reached directly (so the stages are the service's own time)."""
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    warm = 3 * len(cast.senders)
    stages_file = out / "stages.json"
    process = _start_profiled(fleet, "stages", stages_file)
    url = f"http://127.0.0.1:{process.port}"
    windows: dict[str, tuple[float, float, Outcome]] = {}
    try:
        runs = {
            "warm-up": (cast.senders, contents[:warm]),
            "c1": (cast.senders[:1], contents[: count // 2]),
            "c32": (cast.senders, contents[:count]),
        }
        for label, (who, texts) in runs.items():
            # perf_counter is CLOCK_MONOTONIC, shared with the instance's own timestamps.
            begun = time.perf_counter()
            outcome = uvloop.run(
                messages_load.send_run(url, who, cast.chat_channel_id, texts, time_limit=60)
            )
            windows[label] = (begun, time.perf_counter(), outcome)
            if outcome.errors:
                raise RuntimeError(f"profiled sends failed: {dict(outcome.errors)}")
    finally:
        Fleet.stop_process(process)
    stages: dict[str, list[tuple[float, float]]] = json.loads(stages_file.read_text())
    for label in ("c1", "c32"):
        begun, ended, outcome = windows[label]
        sends = len(outcome.latencies)
        result[label] = {"client": {"n": sends, "p50_ms": outcome.p50_ms}, "stages": {}}
        for name, entries in stages.items():
            durations = [d for at, d in entries if begun <= at <= ended]
            if durations:
                result[label]["stages"][name] = {
                    "per_send": len(durations) / sends,
                    "mean_ms": 1000 * sum(durations) / len(durations),
                    "p50_ms": 1000 * messages_load.percentile(durations, 0.5),
                    "p99_ms": 1000 * messages_load.percentile(durations, 0.99),
                }

    pstats_file = out / "send-c32.pstats"
    process = _start_profiled(fleet, "cprofile", pstats_file)
    url = f"http://127.0.0.1:{process.port}"
    try:
        uvloop.run(
            messages_load.send_run(
                url, cast.senders, cast.chat_channel_id, contents[:warm], time_limit=60
            )
        )
        meter = messages_measure.CpuMeter({"profiled": [process.popen.pid]})
        before = meter.sample()
        outcome = uvloop.run(
            messages_load.send_run(
                url, cast.senders, cast.chat_channel_id, contents[:count], time_limit=60
            )
        )
        cpu = messages_measure.CpuMeter.delta(before, meter.sample())["profiled"]
    finally:
        Fleet.stop_process(process)
    areas, top = messages_measure.profile_areas(str(pstats_file))
    result["cprofile_c32"] = {
        "n": len(outcome.latencies),
        "rate": outcome.rate,
        "cpu_ms_per_send_under_profiler": 1000 * cpu / max(1, len(outcome.latencies)),
        "areas_s": areas,
        "top": top[:25],
    }
    return result


def print_profile(profile: dict[str, Any]) -> None:
    for label in ("c1", "c32"):
        entry = profile[label]
        client = entry["client"]
        print(
            f"\n# send path, stage timers ({label}: {client['n']} sends straight to an"
            f" instrumented instance, client p50 {client['p50_ms']:.1f} ms)"
        )
        print(f"{'stage':52s} {'per send':>8s} {'mean ms':>8s} {'p50 ms':>8s} {'p99 ms':>8s}")
        for name, s in sorted(entry["stages"].items(), key=lambda kv: -kv[1]["mean_ms"]):
            print(
                f"{name:52s} {s['per_send']:8.2f} {s['mean_ms']:8.2f} {s['p50_ms']:8.2f}"
                f" {s['p99_ms']:8.2f}"
            )
    cp = profile["cprofile_c32"]
    areas = cp["areas_s"]
    busy = sum(v for k, v in areas.items() if k != messages_measure.IDLE)
    print(
        f"\n# cProfile, 32 senders, {cp['n']} sends ({cp['rate']:.0f}/s under the profiler,"
        f" {cp['cpu_ms_per_send_under_profiler']:.2f} ms CPU per send): own time by area,"
        " share of the Python time"
    )
    for name, seconds in sorted(areas.items(), key=lambda kv: -kv[1]):
        if name != messages_measure.IDLE:
            print(f"{name:60s} {100 * seconds / busy:5.1f}%")
    print("top functions by own time:")
    for name, seconds, calls in cp["top"][:15]:
        print(f"  {seconds:7.3f} s {calls:>8d}  {name}")
