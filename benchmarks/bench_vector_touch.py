"""Touch-task vector env throughput: batch backend (1, 2 threads) vs SyncVectorEnv, pads on/off.

Measures env-steps/s of ``make_vec(task, n, backend=...)`` for a touch task
(default ``embodisim/DoorOpen-v0``, 8 sub-environments, each its own scenario
``scenario_seed=i``), driven by the same seeded random actions:

* ``batch_1t`` / ``batch_2t``: :class:`tasks.vector_touch.TouchBatchEnv` on 1 / 2 threads;
* ``sync``: Gymnasium's ``SyncVectorEnv`` over ``gymnasium.make``;
* ``batch_1t_notouch`` / ``sync_notouch``: the same with ``use_touch=False`` (pads skipped),
  for the pads' overhead.

Runs are interleaved (the order rotates every repeat) and each reports wall
time and process CPU time (all threads); the summary gives medians with
min-max and the 1/5/15-minute load average before and after, because on a
shared machine wall-clock ratios follow the load. Random actions keep the
fixtures' latches engaged, so DoorOpen steps substep by substep (10 batch calls
per control step), as the single env does.

Usage: ``python benchmarks/bench_vector_touch.py [--task ID] [--envs 8] [--steps 40]
[--repeats 3] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _now() -> np.ndarray:
    """(wall, process CPU over all threads) seconds."""
    return np.array([time.perf_counter(), time.process_time()])


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of repeated measurements."""
    vals = [float(v) for v in values]
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}


def run(task: str, n: int, steps: int, repeats: int, seed: int = 0) -> dict[str, Any]:
    """Interleaved throughput runs; returns rates, ratios and the load average.

    Args:
        task: A task id with a batch backend (``tasks.vector.BATCH_TASKS``).
        n: Sub-environments per vector env.
        steps: Vector steps per run.
        repeats: Runs per variant (interleaved).
        seed: Seed of the actions and resets.
    """
    import tasks  # noqa: F401  (registers the ids)
    from tasks.vector import make_vec

    kw = [{"scenario_seed": i} for i in range(n)]
    kw_off = [{"scenario_seed": i, "use_touch": False} for i in range(n)]
    load_before = list(os.getloadavg())
    envs = {
        "batch_1t": make_vec(task, n, "batch", num_threads=1, per_env_kwargs=kw),
        "batch_2t": make_vec(task, n, "batch", num_threads=2, per_env_kwargs=kw),
        "sync": make_vec(task, n, "sync", per_env_kwargs=kw),
        "batch_1t_notouch": make_vec(task, n, "batch", num_threads=1, per_env_kwargs=kw_off),
        "sync_notouch": make_vec(task, n, "sync", per_env_kwargs=kw_off),
    }
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1.0, 1.0, (steps, n, 5)).astype(np.float32)
    times: dict[str, list[np.ndarray]] = {k: [] for k in envs}
    try:
        for v in envs.values():  # warm-up: compiled kernels, first allocations
            v.reset(seed=seed)
            for a in actions[:3]:
                v.step(a)
        names = list(envs)
        for r in range(repeats):
            for name in names[r % len(names):] + names[: r % len(names)]:
                v = envs[name]
                v.reset(seed=seed + r)
                t0 = _now()
                for a in actions:
                    v.step(a)
                times[name].append(_now() - t0)
                print(f"[bench] repeat {r} {name}: {n * steps / times[name][-1][0]:.1f} env-steps/s "
                      f"(wall)", file=sys.stderr, flush=True)
    finally:
        for v in envs.values():
            v.close()
    total = n * steps

    def ratio(a: str, b: str, clock: int) -> dict[str, float]:
        """Rate of ``a`` over rate of ``b``, per repeat (clock 0: wall, 1: CPU)."""
        return summary([y[clock] / x[clock] for x, y in zip(times[a], times[b], strict=True)])

    return {
        "task": task,
        "num_envs": n,
        "steps_per_run": steps,
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "env_steps_per_wall_s": {k: summary([total / t[0] for t in v]) for k, v in times.items()},
        "env_steps_per_cpu_s": {k: summary([total / t[1] for t in v]) for k, v in times.items()},
        "ratios": {
            "batch_2t_vs_1t_wall": ratio("batch_2t", "batch_1t", 0),
            "batch_2t_vs_sync_wall": ratio("batch_2t", "sync", 0),
            "batch_1t_vs_sync_wall": ratio("batch_1t", "sync", 0),
            "batch_1t_vs_sync_cpu": ratio("batch_1t", "sync", 1),
            # pads' overhead: step time with pads / without, minus 1 (CPU clock, 1 thread)
            "batch_pads_on_vs_off_cpu": ratio("batch_1t_notouch", "batch_1t", 1),
            "sync_pads_on_vs_off_cpu": ratio("sync_notouch", "sync", 1),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run and print (or write) the JSON result."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--task", default="embodisim/DoorOpen-v0")
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=None, help="write the result here (atomically)")
    args = p.parse_args(argv)
    if args.envs < 1 or args.steps < 1 or args.repeats < 1:
        raise ValueError(f"--envs/--steps/--repeats: got {args.envs}/{args.steps}/{args.repeats}; "
                         "accepted: integers >= 1")
    res = run(args.task, args.envs, args.steps, args.repeats)
    text = json.dumps(res, indent=2)
    if args.json is None:
        print(text)
        return 0
    args.json.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.json.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
