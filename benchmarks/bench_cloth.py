"""Env overhead on a 20 x 20 cloth: env.step vs raw mujoco.mj_step of the same model and substeps.

For each cloth task the env is built with a 20 x 20 flex grid and reset; then,
in interleaved repeats, ``block`` env steps (IK, observation with touch and
keypoints, reward, evaluate) are timed against a replay of the same physics:
``mujoco.mj_step(model, data, frame_skip)`` from a copy of the block's start
state with the controls the env wrote (the trajectories are bit-identical, so
only the env's own work differs).
The ratio of the medians is the env's slow-down (target <= 1.10).

Usage: ``python benchmarks/bench_cloth.py [--repeats 5] [--block 10] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import mujoco
import numpy as np

from tasks.cloth import ClothFlattenEnv, ClothFoldEnv, ClothLiftEnv

TASKS = {"ClothFlatten": ClothFlattenEnv, "ClothFold": ClothFoldEnv, "ClothLift": ClothLiftEnv}


def bench(name: str, repeats: int, block: int, count: int) -> dict:
    env = TASKS[name](cloth_count=count)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    model = env.model
    start = mujoco.MjData(model)
    raw = mujoco.MjData(model)
    t_env, t_raw = [], []
    for _ in range(repeats):
        actions = rng.uniform(-0.3, 0.3, (block, 5)).astype(np.float32)
        mujoco.mj_copyData(start, model, env.data)
        ctrls = []
        t0 = time.perf_counter()
        for a in actions:
            env.step(a)
            ctrls.append(env.data.ctrl.copy())
        t_env.append(time.perf_counter() - t0)
        # the same physics from the same state with the same controls: only the env's work differs
        mujoco.mj_copyData(raw, model, start)
        t0 = time.perf_counter()
        for c in ctrls:
            raw.ctrl[:] = c
            mujoco.mj_step(model, raw, env.frame_skip)
        t_raw.append(time.perf_counter() - t0)
        same = np.array_equal(raw.qpos, env.data.qpos)
    env.close()
    med_env, med_raw = statistics.median(t_env), statistics.median(t_raw)
    return {"task": name, "grid": f"{count}x{count}", "frame_skip": env.frame_skip,
            "env_step_ms": 1e3 * med_env / block, "raw_step_ms": 1e3 * med_raw / block,
            "ratio": med_env / med_raw, "repeats": repeats, "block": block,
            "identical_trajectory": bool(same)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--block", type=int, default=10, help="env steps per timed block")
    ap.add_argument("--count", type=int, default=20, help="cloth vertices per side")
    ap.add_argument("--tasks", nargs="*", default=list(TASKS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [bench(t, args.repeats, args.block, args.count) for t in args.tasks]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['task']:13s} {r['grid']}  env {r['env_step_ms']:8.2f} ms/step  raw "
              f"{r['raw_step_ms']:8.2f} ms/step  ratio {r['ratio']:.3f}")


if __name__ == "__main__":
    main()
