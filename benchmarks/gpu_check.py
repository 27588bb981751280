"""GPU check: RoverTraverse and DoorOpen on MuJoCo Warp - steps/s at 1k-8k worlds, agreement with the CPU.

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
   horizon against the stated tolerances :data:`TOLERANCES`;
4. ``door_throughput`` / ``door_cpu_reference`` - the same for the manipulation task
   DoorOpen (7-dof arm, gripper, hinged door with its latch as a device kernel,
   :class:`sims.warp_backend.JointDetent`), and ``door_env_throughput`` for its vector
   env (``make_vec("embodisim/DoorOpen-v0", n, backend="warp")``; tactile fields,
   observations and rewards on the host from each world's MjData, copied from the device
   by ``WarpSim.get_data_many``: one transfer per field for all worlds);
5. ``door_agreement`` - :func:`touch_agreement`: the scripted DoorOpen controller in
   closed loop on both paths, against :data:`TOUCH_TOLERANCES`.

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


# Closed-loop agreement of a touch task on MuJoCo Warp with the CPU batch: each path runs
# the task's scripted controller on its own observations (touch_agreement). Set from three
# data points on warp's CPU device, 2 worlds each (DoorOpen scenario 0 seed 3, DrawerOpen
# scenario 1 seed 5, LeverTurn scenario 2 seed 7): over the first 130 control steps (2.6 s:
# reach, grasp, first pull) TCP <= 0.69 mm and opening fraction <= 0.0045 apart, first pad
# contact on the same step; every world succeeded on both paths, first successes 0-7 steps
# apart. Past the grasp, contact-rich pulling diverges (7.6 mm of TCP by step 200).
TOUCH_HORIZON = 130  # control steps compared
TOUCH_TOLERANCES = {
    "tcp_m": 0.002,  # m, gripper TCP position, over TOUCH_HORIZON
    "fraction": 0.01,  # opening fraction of the fixture joint, over TOUCH_HORIZON
    "first_touch_steps": 1,  # control steps between the paths' first pad contact
    "success_steps": 20,  # control steps between the paths' first success
}


def _log(msg: str) -> None:
    print(f"[gpu_check] {msg}", file=sys.stderr, flush=True)


def _pose(xpos: np.ndarray, xmat: np.ndarray) -> dict[str, np.ndarray]:
    """Base position, tilt and yaw per world from xpos (n, 3) and xmat rows (n, 9)."""
    r = xmat.reshape(-1, 3, 3)
    tilt = np.degrees(np.arccos(np.clip(r[:, 2, 2], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(r[:, 1, 0], r[:, 0, 0]))
    return {"xy": xpos[:, :2], "z": xpos[:, 2], "tilt": tilt, "yaw": yaw}


def throughput(model: mujoco.MjModel, frame_skip: int, nworld: int, ctrl_steps: int,
               rng: np.random.Generator, *, start: mujoco.MjData | None = None,
               ctrl: np.ndarray | None = None, make_hook: Any = None) -> dict[str, Any]:
    """Physics steps/s of ``nworld`` copies of ``model`` on MuJoCo Warp.

    Worlds start at the model's defaults or at ``start``; controls are ``ctrl`` (one row
    per world) or random within the actuators' range; ``make_hook(sim)`` returns a
    :meth:`WarpSim.step` hook run before every physics step (e.g. a latch kernel).
    """
    from sims.warp_backend import WarpSim

    t0 = time.perf_counter()
    sim = WarpSim([model] * nworld)
    if start is None:
        sim.reset(forward=True)
    else:
        sim.set_state(range(nworld), [start] * nworld)
    hook = None if make_hook is None else make_hook(sim)
    if ctrl is None:
        ctrl = rng.uniform(-1.0, 1.0, (nworld, model.nu)) * model.actuator_ctrlrange[:, 1]
    sim.write("ctrl", ctrl)
    t1 = time.perf_counter()
    sim.step(frame_skip, hook=hook)  # graph capture + kernel compilation
    t2 = time.perf_counter()
    failed = np.zeros(nworld, dtype=bool)
    t3 = time.perf_counter()
    for _ in range(ctrl_steps):
        failed |= sim.step(frame_skip, hook=hook)
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


def env_throughput(nworld: int, ctrl_steps: int, rng: np.random.Generator,
                   env_id: str = "embodisim/RoverTraverse-v0") -> dict[str, Any]:
    """Env-steps/s of ``make_vec(env_id, nworld, backend="warp")`` under random actions."""
    from tasks.vector import make_vec

    env = make_vec(env_id, nworld, backend="warp")
    adim = env.single_action_space.shape[0]
    try:
        env.reset(seed=0)
        env.step(rng.uniform(-1, 1, (nworld, adim)).astype(np.float32))
        acts = rng.uniform(-1, 1, (ctrl_steps, nworld, adim)).astype(np.float32)
        t0 = time.perf_counter()
        for a in acts:
            env.step(a)
        dt = time.perf_counter() - t0
    finally:
        env.close()
    return {"env_id": env_id, "nworld": nworld, "env_steps_per_s": nworld * ctrl_steps / dt}


def cpu_reference(model: mujoco.MjModel, frame_skip: int, nworld: int, ctrl_steps: int,
                  rng: np.random.Generator, *, start: mujoco.MjData | None = None,
                  ctrl: np.ndarray | None = None) -> dict[str, Any]:
    """Physics steps/s of the same scene on the CPU batch (mujoco.batch, all cores)."""
    from sims.batch import BatchSim

    sim = BatchSim([model] * nworld, nthread=0)
    sim.reset(forward=True)
    if start is not None:
        sim.write("qpos", np.tile(start.qpos, (nworld, 1)))
    if ctrl is None:
        ctrl = rng.uniform(-1.0, 1.0, (nworld, model.nu)) * model.actuator_ctrlrange[:, 1]
    sim.write("ctrl", ctrl)
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


def _door_scene() -> Any:
    """A DoorOpen env (scenario 0) reset with seed 0: the scene of the door sections."""
    from tasks.touch.articulated import DoorOpenEnv

    env = DoorOpenEnv(scenario_seed=0)
    env.reset(seed=0)
    return env


def door_throughput(nworld: int, ctrl_steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """Physics steps/s of the DoorOpen scene on MuJoCo Warp, the latch kernel before every step."""
    from sims.warp_backend import JointDetent

    env = _door_scene()
    model, art = env.model, env.art

    def latch(sim: Any) -> JointDetent:
        detent = JointDetent(sim, np.full(nworld, art.qadr), np.full(nworld, art.dadr))
        detent.set(np.full(nworld, art.latch_k), np.full(nworld, art.ranges.latch_travel), np.ones(nworld))
        return detent

    lo, hi = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    ctrl = env.data.ctrl + rng.uniform(-0.05, 0.05, (nworld, model.nu)).clip(lo, hi)
    try:
        return throughput(model, env.frame_skip, nworld, ctrl_steps, rng, start=env.data, ctrl=ctrl,
                          make_hook=latch)
    finally:
        env.close()


def door_cpu_reference(nworld: int, ctrl_steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """Physics steps/s of the DoorOpen scene on the CPU batch (mujoco.batch, all cores; no latch)."""
    env = _door_scene()
    try:
        return cpu_reference(env.model, env.frame_skip, nworld, ctrl_steps, rng, start=env.data,
                             ctrl=np.tile(env.data.ctrl, (nworld, 1)))
    finally:
        env.close()


def touch_agreement(env_id: str = "embodisim/DoorOpen-v0", nworld: int = 2, seed: int = 3,
                    scenario_seed: int = 0, max_steps: int = 300,
                    horizon: int = TOUCH_HORIZON) -> dict[str, Any]:
    """A touch task's scripted controller in closed loop on MuJoCo Warp and on the CPU batch.

    Both vector envs hold ``nworld`` worlds of scene ``scenario_seed``, reset with
    ``seed``; each runs the task's scripted controller on its own observations until
    every world has succeeded on both paths or ``max_steps`` control steps. Compared
    against :data:`TOUCH_TOLERANCES`: TCP position and opening fraction over the first
    ``horizon`` steps (and only while no world has ended), the step of the first pad
    contact (a marker displaced by > 1 um) and of the first success, per world.
    """
    from tasks.registry import make_policy
    from tasks.vector import make_vec

    kw = [{"scenario_seed": scenario_seed}] * nworld
    envs = {"warp": make_vec(env_id, nworld, backend="warp", per_env_kwargs=kw),
            "cpu": make_vec(env_id, nworld, backend="batch", per_env_kwargs=kw, num_threads=1)}
    pols = {k: [make_policy(env_id, "scripted", v.envs[i]) for i in range(nworld)]  # type: ignore[attr-defined]
            for k, v in envs.items()}
    obs = {k: v.reset(seed=seed)[0] for k, v in envs.items()}
    for k in envs:
        for i, p in enumerate(pols[k]):
            p.reset(seed + i)
    success: dict[str, list[int | None]] = {k: [None] * nworld for k in envs}
    touch: dict[str, list[int | None]] = {k: [None] * nworld for k in envs}
    worst = {"tcp_m": 0.0, "fraction": 0.0}
    ended = False
    for step in range(max_steps):
        for k, v in envs.items():
            act = np.stack([p.act(obs[k][i]) for i, p in enumerate(pols[k])])
            obs[k], _, term, trunc, info = v.step(act)
            ended |= bool(term.any() or trunc.any())
            for i, e in enumerate(v.envs):  # type: ignore[attr-defined]
                if touch[k][i] is None and np.any(np.abs(e._markers) > 1e-6):
                    touch[k][i] = step
                if success[k][i] is None and term[i] and info["success"][i]:
                    success[k][i] = step
        if step < horizon and not ended:
            for i in range(nworld):
                a, b = envs["warp"].envs[i], envs["cpu"].envs[i]  # type: ignore[attr-defined]
                tcp = float(np.max(np.abs(a.data.site_xpos[a.ctl.site_id] - b.data.site_xpos[b.ctl.site_id])))
                frac = abs(a.art.fraction(a.data) - b.art.fraction(b.data))
                worst = {"tcp_m": max(worst["tcp_m"], tcp), "fraction": max(worst["fraction"], frac)}
        if all(x is not None for k in envs for x in success[k]):
            break
    for v in envs.values():
        v.close()

    def _gap(d: dict[str, list[int | None]]) -> float:
        gaps = [abs(a - b) if a is not None and b is not None else (0 if a == b else math.inf)
                for a, b in zip(d["warp"], d["cpu"], strict=True)]
        return float(max(gaps))

    dev = {**worst, "first_touch_steps": _gap(touch), "success_steps": _gap(success)}
    return {
        "env_id": env_id, "nworld": nworld, "seed": seed, "scenario_seed": scenario_seed,
        "horizon_control_steps": horizon, "first_success_step": success, "first_touch_step": touch,
        "max_deviation": dev, "tolerances": TOUCH_TOLERANCES,
        "within_tolerance": {k: dev[k] <= TOUCH_TOLERANCES[k] for k in TOUCH_TOLERANCES},
        "warp_success": sum(x is not None for x in success["warp"]) / nworld,
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
    p.add_argument("--door-env-worlds", type=int, nargs="*", default=[16, 64],
                   help="world counts for the DoorOpen vector env: control, tactile fields and "
                        "observations run on the host per world (mujoco_warp.get_data_into alone "
                        "takes ~6 ms per world on this project's CPU machine)")
    p.add_argument("--door-agree-worlds", type=int, default=8)
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
        ("door_agreement", lambda: touch_agreement(nworld=args.door_agree_worlds)),
        ("door_throughput", lambda: [door_throughput(n, args.ctrl_steps, rng) for n in args.worlds]),
        ("door_cpu_reference", lambda: door_cpu_reference(args.cpu_worlds, args.ctrl_steps, rng)),
        ("door_env_throughput",
         lambda: [env_throughput(n, args.ctrl_steps, rng, "embodisim/DoorOpen-v0")
                  for n in args.door_env_worlds]),
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
    for name, ref in (("throughput", "cpu_reference"), ("door_throughput", "door_cpu_reference")):
        cpu = result.get(ref, {}).get("physics_steps_per_s")
        if cpu and isinstance(result.get(name), list):
            for row in result[name]:
                row["speedup_vs_cpu"] = row["physics_steps_per_s"] / cpu
    env.close()
    text = json.dumps(result, indent=2, default=str)
    if args.out is not None:
        args.out.write_text(text)
    return 0, text


if __name__ == "__main__":
    raise SystemExit(main())
