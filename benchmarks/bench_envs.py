"""Env step vs raw ``mj_step`` throughput for every registered env, and camera fps.

For each task of ``tasks.registry.TASKS`` (with the fast keywords below) it records
``--steps`` control actions from a seeded uniform policy, then times

* ``env``  - ``env.step(action)`` on the unwrapped env (no camera: ``goal_source``
  and ``obs_mode`` at their defaults);
* ``raw``  - the same controls replayed on a fresh ``MjData`` of the same model with
  ``mujoco.mj_step(model, data, frame_skip)`` after writing ``data.ctrl``;

and reports ``ratio = raw_time / env_time`` (1.0 = no overhead; higher is better),
median over ``--repeats``. Camera: frames per second of the 64 x 64 colour
radiometric camera (``tasks.perception.ColourCamera``, shadows, 4x MSAA) and of the
beacon detector, on the RoverTraverse scene.

Run:  MUJOCO_GL=osmesa python benchmarks/bench_envs.py [--json] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("MUJOCO_GL", "osmesa")  # before mujoco is imported

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

import tasks  # noqa: E402,F401  (registers the envs)
from tasks.registry import TASKS  # noqa: E402

FAST_KWARGS: dict[str, dict[str, Any]] = {
    "embodisim/RoverTraverse-v0": {"condition": "lunar-mare-day", "scenario_seed": 0},
    "embodisim/BeaconLocalize-v0": {"condition": "lunar-mare-day", "scenario_seed": 0},
    "embodisim/SampleCollect-v0": {"condition": "lunar-mare-day", "scenario_seed": 0},
}


def _time_env(env_id: str, steps: int, repeats: int) -> dict[str, float]:
    env = gym.make(env_id, **FAST_KWARGS.get(env_id, {})).unwrapped
    rng = np.random.default_rng(0)
    actions = rng.uniform(env.action_space.low, env.action_space.high,
                          size=(steps, *env.action_space.shape)).astype(np.float32)
    if env_id.startswith("embodisim/BeaconLocalize"):
        actions[:, 4] = -1.0  # never submit a report (it would end the episode)
    env_times, raw_times, ctrls = [], [], []
    for _ in range(repeats):
        env.reset(seed=0)
        ctrls = []
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, _, _ = env.step(a)
            ctrls.append(env.data.ctrl.copy())
            if term:
                env.reset(seed=0)
        env_times.append(time.perf_counter() - t0)
        model = env.model
        data = mujoco.MjData(model)
        mujoco.mj_resetData(model, data)
        t0 = time.perf_counter()
        for c in ctrls:
            data.ctrl[:] = c
            mujoco.mj_step(model, data, env.frame_skip)
        raw_times.append(time.perf_counter() - t0)
    env.close()
    e, r = statistics.median(env_times), statistics.median(raw_times)
    return {"env_steps_per_s": steps / e, "raw_steps_per_s": steps / r, "ratio": r / e}


def _time_camera(frames: int) -> dict[str, float]:
    from scenes.build import build_scene
    from scenes.generate import generate
    from tasks.perception import BeaconDetector, ColourCamera

    scene = build_scene(generate("lunar-mare-day", 0).spec)
    model = scene.mjspec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(0)
    det = BeaconDetector()
    with ColourCamera(model, "rover_cam", scene.light_ref, 64, 64) as cam:
        cam.settle_exposure(data, rng)
        quat = data.sensor("rover_quat").data.copy()
        t0 = time.perf_counter()
        imgs = [cam.capture(data, rng) for _ in range(frames)]
        t_cam = time.perf_counter() - t0
        t0 = time.perf_counter()
        for img in imgs:
            det.detect(img, cam.calibration, quat)
        t_det = time.perf_counter() - t0
    return {"camera_fps_64": frames / t_cam, "detector_fps_64": frames / t_det}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out: dict[str, Any] = {}
    for t in TASKS:
        try:
            out[t.id] = _time_env(t.id, args.steps, args.repeats)
        except Exception as exc:  # noqa: BLE001 - one env failing must not hide the others
            out[t.id] = {"error": f"{type(exc).__name__}: {exc}"}
    out["camera"] = _time_camera(args.frames)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(k, " ".join(f"{a}={b:.3g}" if isinstance(b, float) else f"{a}={b}"
                              for a, b in v.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
