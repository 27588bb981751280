"""Throughput of the touch tasks with and without the tactile pads (ratios in one run).

For every touch task, one episode of the scripted touch controller is recorded
(its actions), then the same action sequence is replayed on the environment
with ``use_touch=True`` and ``use_touch=False``, alternating repeats so both
see the same machine load. Reported: env steps per second with and without
pads and the pad overhead ``t_touch / t_no_touch - 1`` (target <= 5 %, issue
"Tactile sensor"; the clause-1.5 "training-speed" indicator asks <= 10 %).

Usage: ``python benchmarks/bench_touch.py [--repeats 3] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
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


def replay_seconds(task_id: str, seed: int, actions: list[np.ndarray], use_touch: bool) -> float:
    """Wall time of ``env.step`` over the action sequence (episode may end early)."""
    env = gym.make(task_id, scenario_seed=seed, use_touch=use_touch)
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset(seed=seed)
    dt = time.perf_counter() - t0
    env.close()
    return dt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (optionally JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write results to this file")
    args = ap.parse_args(argv)
    rows = []
    for task_id in TASK_IDS:
        actions = record_actions(task_id, args.seed)
        times = {True: [], False: []}
        for _ in range(args.repeats):
            for flag in (True, False):
                times[flag].append(replay_seconds(task_id, args.seed, actions, flag))
        t_on, t_off = min(times[True]), min(times[False])
        rows.append({
            "task": task_id, "steps": len(actions),
            "steps_per_s_touch": len(actions) / t_on, "steps_per_s_no_touch": len(actions) / t_off,
            "pad_overhead": t_on / t_off - 1.0,
        })
    print(f"{'task':32s} {'steps':>6s} {'sps touch':>10s} {'sps no-touch':>13s} {'overhead':>9s}")
    for r in rows:
        print(f"{r['task']:32s} {r['steps']:6d} {r['steps_per_s_touch']:10.1f} "
              f"{r['steps_per_s_no_touch']:13.1f} {100 * r['pad_overhead']:8.1f}%")
    if args.json:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.json)) or ".")
        with os.fdopen(fd, "w") as f:
            json.dump(rows, f, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
