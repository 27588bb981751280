"""Scene-library throughput: generate N scenes, validate them, report scenes/s and size.

    python benchmarks/bench_library.py --count 2000 --workers 2 [--out DIR] [--json]

Reports wall time and scenes/s of ``generate`` and of ``validate`` (rebuild,
compile, settle of every scene), CPU seconds per scene (parent plus worker
processes, from getrusage), the extrapolated wall time for 10,000 scenes at
the measured rates, and the on-disk size per scene. On a machine shared with
other work the wall-clock rates are lower bounds; the CPU seconds per scene
give the rate an idle machine with ``workers`` cores would reach
(``workers / cpu_s_per_scene``), printed as ``ideal_scenes_per_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from scenes.library import generate_library, validate_library


def _cpu() -> float:
    return sum(_cpu_split())


def _cpu_split() -> tuple[float, float]:
    """CPU seconds of this (parent) process and of its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def run(count: int, workers: int, out: Path, seed: int, conditions: str | None) -> dict:
    load_before = os.getloadavg()[0]
    p0, w0 = _cpu_split()
    c0, t0 = p0 + w0, time.perf_counter()
    gen = generate_library(out, count, conditions=conditions, seed=seed, workers=workers,
                           progress=False)
    c1, t1 = _cpu(), time.perf_counter()
    val = validate_library(out, workers=workers, progress=False)
    c2, t2 = _cpu(), time.perf_counter()
    p2, w2 = _cpu_split()
    g_wall, v_wall = t1 - t0, t2 - t1
    g_cpu, v_cpu = (c1 - c0) / max(gen.new, 1), (c2 - c1) / max(len(val.statuses), 1)
    vd = val.to_dict()
    return {
        "count": count,
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "load_average_1min_before": round(load_before, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "generate": {
            "wall_s": round(g_wall, 2),
            "scenes_per_s": round(gen.new / g_wall, 2),
            "cpu_s_per_scene": round(g_cpu, 4),
            "ideal_scenes_per_s": round(workers / g_cpu, 2),
            "rejected_attempts": gen.rejected_attempts,
            "failures": len(gen.failures),
        },
        "validate": {
            "wall_s": round(v_wall, 2),
            "scenes_per_s": round(len(val.statuses) / v_wall, 2),
            "cpu_s_per_scene": round(v_cpu, 4),
            "ideal_scenes_per_s": round(workers / v_cpu, 2),
            "counts": vd["counts"],
            "ok": vd["ok"],
        },
        "extrapolated_10k_s": {
            "measured_rates": round(10_000 / (gen.new / g_wall) + 10_000 / (len(val.statuses) / v_wall), 1),
            "idle_machine": round(10_000 * (g_cpu + v_cpu) / workers, 1),
        },
        "parent_cpu_s": round(p2 - p0, 2),  # database writes, planning, result handling
        "worker_cpu_s": round(w2 - w0, 2),  # build, compile, settle (incl. worker start-up)
        "bytes_total": gen.bytes_total,
        "bytes_per_scene": round(gen.bytes_total / max(gen.stored, 1), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--conditions", default=None)
    ap.add_argument("--out", type=Path, default=None, help="library folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temp library")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = None
    out = args.out
    if out is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_library_"))
        out = tmp / "lib"
    try:
        res = run(args.count, args.workers, out, args.seed, args.conditions)
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    g, v = res["generate"], res["validate"]
    print(f"{res['count']} scenes, {res['workers']} workers ({res['cpu_count']} CPUs, load "
          f"{res['load_average_1min_before']} -> {res['load_average_1min_after']})")
    print(f"generate: {g['wall_s']} s = {g['scenes_per_s']} scenes/s; {g['cpu_s_per_scene'] * 1e3:.1f} "
          f"ms CPU/scene -> {g['ideal_scenes_per_s']} scenes/s on {res['workers']} idle cores; "
          f"{g['rejected_attempts']} rejected attempts")
    print(f"validate: {v['wall_s']} s = {v['scenes_per_s']} scenes/s; {v['cpu_s_per_scene'] * 1e3:.1f} "
          f"ms CPU/scene -> {v['ideal_scenes_per_s']} scenes/s on idle cores; {v['counts']}")
    e = res["extrapolated_10k_s"]
    print(f"10,000 scenes generate+validate: {e['measured_rates']} s at the measured rates, "
          f"{e['idle_machine']} s on {res['workers']} idle cores; "
          f"{res['bytes_per_scene']:.0f} bytes/scene on disk")


if __name__ == "__main__":
    main()
