"""GPU check: RoverTraverse on MuJoCo Warp - steps/s at 1k-8k worlds, and agreement with the CPU.

Prepared for a short run on a CUDA machine where ``pip install mujoco-warp`` (extra
``gpu``) and ``pip install -e .`` are done. It installs nothing, starts no network
access, and prints one JSON document on stdout (progress on stderr).

What it measures, in one run:

1. ``throughput`` - for each world count (default 1024, 2048, 4096, 8192): physics
   steps/s of the rover scene on the GPU (``WarpSim.step``: ``frame_skip`` substeps
   captured as a CUDA graph, fixed random wheel commands per world), and env-steps/s
   of the full vector env ``make_vec(..., backend="warp")`` (observations, rewards and
   resets on the host, so it includes the device-host copies);
2. ``cpu_reference`` - the same physics on the CPU batch (``mujoco.batch``, all cores)
   at ``--cpu-worlds`` worlds, for the speed-up;
3. ``agreement`` - ``--agree-worlds`` worlds with identical start states and wheel
   commands stepped on the GPU and on the CPU reference (double precision) for
   ``--horizon`` control steps; the largest deviation of the rover base over the
   horizon against the stated tolerances :data:`TOLERANCES`.

Usage: python benchmarks/gpu_check.py [--worlds 1024 2048 4096 8192] [--out result.json]
Exit status: 0 ran (see ``within_tolerance``), 2 no CUDA / mujoco-warp (JSON says why).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

# Short-horizon agreement of float32 MuJoCo Warp with the float64 CPU reference, over
# 1 s of contact-rich driving on a height field (different collision pipelines: a chaotic
# contact problem diverges slowly, so the bounds are for a short horizon only).
TOLERANCES = {
    "xy_m": 0.05,  # m, horizontal position of the rover base
    "z_m": 0.02,  # m, height of the rover base
    "tilt_deg": 2.0,  # deg, tilt of the rover base
    "yaw_deg": 5.0,  # deg, heading: skid-steer turning integrates the lateral slip of 4 wheels
}
# Set after one data point (the warp *CPU* device, same float32 kernels, 2 worlds, seed 0):
# max deviations over 1 s were xy 0.024 m, z 0.004 m, tilt 0.38 deg, yaw 2.6 deg.


def _log(msg: str) -> None:
    print(f"[gpu_check] {msg}", file=sys.stderr, flush=True)


def _pose(xpos: np.ndarray, xmat: np.ndarray) -> dict[str, np.ndarray]:
    """Base position, tilt and yaw per world from xpos (n, 3) and xmat rows (n, 9)."""
    r = xmat.reshape(-1, 3, 3)
    tilt = np.degrees(np.arccos(np.clip(r[:, 2, 2], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(r[:, 1, 0], r[:, 0, 0]))
    return {"xy": xpos[:, :2], "z": xpos[:, 2], "tilt": tilt, "yaw": yaw}


def throughput(model: mujoco.MjModel, frame_skip: int, nworld: int, ctrl_steps: int,
               rng: np.random.Generator) -> dict[str, Any]:
    from sims.warp_backend import WarpSim

    t0 = time.perf_counter()
    sim = WarpSim([model] * nworld)
    sim.reset(forward=True)
    sim.write("ctrl", rng.uniform(-1.0, 1.0, (nworld, model.nu)) * model.actuator_ctrlrange[:, 1])
    t1 = time.perf_counter()
    sim.step(frame_skip)  # graph capture + kernel compilation
    t2 = time.perf_counter()
    failed = np.zeros(nworld, dtype=bool)
    t3 = time.perf_counter()
    for _ in range(ctrl_steps):
        failed |= sim.step(frame_skip)
    dt = time.perf_counter() - t3
    return {
        "nworld": nworld,
        "physics_steps_per_s": nworld * ctrl_steps * frame_skip / dt,
        "control_steps_per_s": nworld * ctrl_steps / dt,
        "setup_s": t1 - t0,
        "first_step_s": t2 - t1,
        "failed_worlds": int(failed.sum()),
        "note": "each control step includes a device sync and the host NaN/overflow check",
    }


def env_throughput(nworld: int, ctrl_steps: int, rng: np.random.Generator) -> dict[str, Any]:
    from tasks.vector import make_vec

    env = make_vec("embodisim/RoverTraverse-v0", nworld, backend="warp")
    try:
        env.reset(seed=0)
        env.step(rng.uniform(-1, 1, (nworld, 2)).astype(np.float32))
        acts = rng.uniform(-1, 1, (ctrl_steps, nworld, 2)).astype(np.float32)
        t0 = time.perf_counter()
        for a in acts:
            env.step(a)
        dt = time.perf_counter() - t0
    finally:
        env.close()
    return {"nworld": nworld, "env_steps_per_s": nworld * ctrl_steps / dt}


def cpu_reference(model: mujoco.MjModel, frame_skip: int, nworld: int, ctrl_steps: int,
                  rng: np.random.Generator) -> dict[str, Any]:
    from sims.batch import BatchSim

    sim = BatchSim([model] * nworld, nthread=0)
    sim.reset(forward=True)
    sim.write("ctrl", rng.uniform(-1.0, 1.0, (nworld, model.nu)) * model.actuator_ctrlrange[:, 1])
    sim.step(frame_skip)
    t0 = time.perf_counter()
    for _ in range(ctrl_steps):
        sim.step(frame_skip)
    dt = time.perf_counter() - t0
    return {"nworld": nworld, "threads": sim.nthread,
            "physics_steps_per_s": nworld * ctrl_steps * frame_skip / dt}


def agreement(model: mujoco.MjModel, frame_skip: int, rover: int, qadr: int, nworld: int, horizon: int,
              rng: np.random.Generator) -> dict[str, Any]:
    from sims.batch import BatchSim
    from sims.warp_backend import WarpSim

    cpu = BatchSim([model] * nworld, nthread=1, outputs=("xpos", "xmat"))
    gpu = WarpSim([model] * nworld)
    yaw = rng.uniform(-math.pi, math.pi, nworld)
    quat = np.stack([np.cos(yaw / 2), np.zeros(nworld), np.zeros(nworld), np.sin(yaw / 2)], axis=1)
    for sim in (cpu, gpu):
        sim.reset()
        sim.write("qpos", quat, index=slice(qadr + 3, qadr + 7))
        sim.forward()
    # smooth random wheel commands: a new target every 5 control steps
    cmds = np.repeat(rng.uniform(-1.0, 1.0, (horizon // 5 + 1, nworld, 2)), 5, axis=0)[:horizon]
    vmax = model.actuator_ctrlrange[:, 1]
    worst = {"xy_m": 0.0, "z_m": 0.0, "tilt_deg": 0.0, "yaw_deg": 0.0}
    per_step = []
    for k in range(horizon):
        ctrl = np.empty((nworld, 4))
        ctrl[:, [0, 2]] = cmds[k, :, :1] * vmax[[0, 2]]
        ctrl[:, [1, 3]] = cmds[k, :, 1:] * vmax[[1, 3]]
        for sim in (cpu, gpu):
            sim.write("ctrl", ctrl)
            sim.step(frame_skip)
        a = _pose(cpu.read("xpos", rover), cpu.read("xmat", rover))
        b = _pose(gpu.read("xpos", rover), gpu.read("xmat", rover))
        dev = {
            "xy_m": float(np.max(np.linalg.norm(a["xy"] - b["xy"], axis=1))),
            "z_m": float(np.max(np.abs(a["z"] - b["z"]))),
            "tilt_deg": float(np.max(np.abs(a["tilt"] - b["tilt"]))),
            "yaw_deg": float(np.max(np.abs((a["yaw"] - b["yaw"] + 180.0) % 360.0 - 180.0))),
        }
        per_step.append(dev)
        worst = {key: max(worst[key], dev[key]) for key in worst}
    return {
        "nworld": nworld,
        "horizon_control_steps": horizon,
        "horizon_s": horizon * frame_skip * float(model.opt.timestep),
        "max_deviation": worst,
        "tolerances": TOLERANCES,
        "within_tolerance": {k: worst[k] <= TOLERANCES[k] for k in TOLERANCES},
        "deviation_per_step": per_step,
    }


def main(argv: list[str] | None = None) -> int:
    # warp prints banners and kernel-compile lines on stdout: keep stdout for the JSON
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        code, text = _run(argv)
    print(text, file=out)
    return code


def _run(argv: list[str] | None) -> tuple[int, str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worlds", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    p.add_argument("--ctrl-steps", type=int, default=20, help="timed control steps per world count")
    p.add_argument("--env-worlds", type=int, nargs="*", default=[1024, 8192],
                   help="world counts for the full vector env (host-side obs/reward)")
    p.add_argument("--cpu-worlds", type=int, default=64)
    p.add_argument("--agree-worlds", type=int, default=16)
    p.add_argument("--horizon", type=int, default=20, help="control steps (x frame_skip substeps)")
    p.add_argument("--condition", default="lunar-mare-day")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)

    from sims.warp_backend import cuda_available

    ok, why = cuda_available()
    machine = {"platform": platform.platform(), "python": platform.python_version(),
               "mujoco": mujoco.__version__, "cpu_count": os.cpu_count()}
    result: dict[str, Any] = {"machine": machine, "cuda": why}
    if not ok:
        result["skipped"] = why
        return 2, json.dumps(result, indent=2)
    import mujoco_warp
    import warp as wp

    dev = wp.get_device()
    machine.update({"gpu": dev.name, "warp": wp.__version__, "mujoco_warp": mujoco_warp.__version__})

    from tasks.rover_traverse import RoverTraverseEnv

    env = RoverTraverseEnv(condition=args.condition)
    model, frame_skip = env.model, env.frame_skip
    rover, qadr = env._rover, int(env._qadr)
    result["scene"] = {"condition": args.condition, "nq": model.nq, "nv": model.nv, "ngeom": model.ngeom,
                       "timestep_s": float(model.opt.timestep), "frame_skip": frame_skip}
    rng = np.random.default_rng(0)
    sections = [
        ("agreement",
         lambda: agreement(model, frame_skip, rover, qadr, args.agree_worlds, args.horizon, rng)),
        ("throughput", lambda: [throughput(model, frame_skip, n, args.ctrl_steps, rng) for n in args.worlds]),
        ("cpu_reference", lambda: cpu_reference(model, frame_skip, args.cpu_worlds, args.ctrl_steps, rng)),
        ("env_throughput", lambda: [env_throughput(n, args.ctrl_steps, rng) for n in args.env_worlds]),
    ]
    for name, fn in sections:
        _log(name)
        t0 = time.perf_counter()
        try:
            result[name] = fn()
        except Exception as exc:  # noqa: BLE001  (report and go on: one section must not hide the rest)
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
        _log(f"{name}: {time.perf_counter() - t0:.1f} s")
        if args.out is not None:  # partial results survive a time limit
            args.out.write_text(json.dumps(result, indent=2, default=str))
    cpu = result.get("cpu_reference", {}).get("physics_steps_per_s")
    if cpu and isinstance(result.get("throughput"), list):
        for row in result["throughput"]:
            row["speedup_vs_cpu"] = row["physics_steps_per_s"] / cpu
    env.close()
    text = json.dumps(result, indent=2, default=str)
    if args.out is not None:
        args.out.write_text(text)
    return 0, text


if __name__ == "__main__":
    raise SystemExit(main())
