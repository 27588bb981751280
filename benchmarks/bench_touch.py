"""Throughput of the touch tasks with and without the tactile pads (ratios in one run).

For every touch task, one episode of the scripted touch controller is recorded
(its actions), then the same action sequence is replayed on the environment
with ``use_touch=True`` and ``use_touch=False``, alternating repeats so both
see the same machine load. Reported: env steps per second with and without
pads and the pad overhead ``t_touch / t_no_touch - 1`` (target <= 5 %, issue
"Tactile sensor"; the clause-1.5 "training-speed" indicator asks <= 10 %).

Usage: ``python benchmarks/bench_touch.py [--repeats 5] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import gymnasium as gym
import numpy as np

import tasks  # noqa: F401 - registers the envs
from tasks.registry import make_policy

TASK_IDS = tuple(f"embodisim/{n}-v0" for n in ("DoorOpen", "DrawerOpen", "LeverTurn",
                                                "FragileGrasp"))


def record_actions(task_id: str, seed: int) -> list[np.ndarray]:
    """Actions of one scripted episode (touch controller)."""
    env = gym.make(task_id, scenario_seed=seed)
    pol = make_policy(task_id, "scripted", env)
    obs, _ = env.reset(seed=seed)
    pol.reset(seed)
    actions = []
    while True:
        a = pol.act(obs)
        actions.append(a)
        obs, _, term, trunc, _ = env.step(a)
        if term or trunc:
            break
    env.close()
    return actions


def replay_seconds(task_id: str, seed: int, actions: list[np.ndarray]
                   ) -> dict[bool, tuple[float, float]]:
    """(thread CPU, wall) seconds of ``env.step`` over the actions, with and without touch.

    Two environments (``use_touch`` True / False) replay the same actions
    **step by step in alternation**, so machine load hits both alike; the
    physics is the same in both (the pads are geoms either way,
    ``use_touch=False`` only skips sensing), so the difference is the pads'
    cost. Thread CPU time is the figure to trust on a shared machine.
    """
    envs = {flag: gym.make(task_id, scenario_seed=seed, use_touch=flag) for flag in (True, False)}
    cpu = {True: 0.0, False: 0.0}
    wall = {True: 0.0, False: 0.0}
    for env in envs.values():
        env.reset(seed=seed)
    for i, a in enumerate(actions):
        order = (True, False) if i % 2 == 0 else (False, True)
        for flag in order:
            c0, t0 = time.thread_time(), time.perf_counter()
            _, _, term, trunc, _ = envs[flag].step(a)
            cpu[flag] += time.thread_time() - c0
            wall[flag] += time.perf_counter() - t0
            if term or trunc:
                envs[flag].reset(seed=seed)
    for env in envs.values():
        env.close()
    return {flag: (cpu[flag], wall[flag]) for flag in (True, False)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (optionally JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write results to this file")
    args = ap.parse_args(argv)
    rows = []
    for task_id in TASK_IDS:
        actions = record_actions(task_id, args.seed)
        times = {True: [], False: []}
        for _ in range(args.repeats):
            res = replay_seconds(task_id, args.seed, actions)
            for flag in (True, False):
                times[flag].append(res[flag])
        cpu_on = statistics.median(t[0] for t in times[True])
        cpu_off = statistics.median(t[0] for t in times[False])
        wall_on = statistics.median(t[1] for t in times[True])
        wall_off = statistics.median(t[1] for t in times[False])
        rows.append({
            "task": task_id, "steps": len(actions), "repeats": args.repeats,
            "steps_per_s_touch": len(actions) / cpu_on, "steps_per_s_no_touch": len(actions) / cpu_off,
            "pad_overhead": cpu_on / cpu_off - 1.0,
            "pad_overhead_range": [min(on[0] / off[0] for on, off in zip(times[True], times[False],
                                                                        strict=True)) - 1,
                                   max(on[0] / off[0] for on, off in zip(times[True], times[False],
                                                                        strict=True)) - 1],
            "pad_overhead_wall": wall_on / wall_off - 1.0,
            "load_avg_1min": os.getloadavg()[0],
        })
    print("env steps per CPU second (thread time), medians of interleaved repeats; "
          "overhead = t_touch / t_no_touch - 1 (target <= 5 %)")
    print(f"{'task':32s} {'steps':>6s} {'sps touch':>10s} {'sps no-touch':>13s} {'overhead':>9s} "
          f"{'min..max':>15s} {'wall':>7s}")
    for r in rows:
        lo, hi = r["pad_overhead_range"]
        print(f"{r['task']:32s} {r['steps']:6d} {r['steps_per_s_touch']:10.1f} "
              f"{r['steps_per_s_no_touch']:13.1f} {100 * r['pad_overhead']:8.1f}% "
              f"{100 * lo:+6.1f}..{100 * hi:+5.1f}% {100 * r['pad_overhead_wall']:+6.1f}%")
    if args.json:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.json)) or ".")
        with os.fdopen(fd, "w") as f:
            json.dump(rows, f, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
