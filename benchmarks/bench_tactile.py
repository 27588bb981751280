"""Overhead of the tactile pads' per-step update on an env-like step loop.

Scene: a parallel gripper (two fingers on slide joints with position
actuators, each finger carrying a GelSight-Mini-sized gel pad) squeezing a
30 mm box on a table. One env step = set ``ctrl``, ``frame_skip`` physics
steps, build the observation (``qpos``, ``qvel``); with pads it also updates
both pads and appends their marker fields (2 x 63 x 3) to the observation.
Blocks with and without pads are interleaved (ABAB...) so machine load hits
both alike; each block's per-step time is recorded and the medians compared:
``overhead = median(with) / median(without) - 1`` (target <= 5 %). Both
wall-clock and thread CPU time are reported; the CPU figure is the one to
trust on a shared machine.

Run:  python benchmarks/bench_tactile.py [--json] [--frame-skip 10] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import mujoco
import numpy as np

from sims.tactile import GelPadConfig, TactileArray, TactilePad


def build_gripper() -> mujoco.MjModel:
    """Two-finger gripper with box pads around a box on a table (MjSpec)."""
    spec = mujoco.MjSpec()
    spec.modelname = "tactile_gripper"
    spec.option.timestep = 0.002  # s; MuJoCo's default step
    world = spec.worldbody
    world.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0.3, 0.3, 0.01])
    obj = world.add_body(name="object", pos=[0, 0, 0.015])
    obj.add_freejoint(name="object_free")
    obj.add_geom(name="object_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.015] * 3,
                 mass=0.05, friction=[1.0, 0.005, 0.0001])
    hand = world.add_body(name="hand", pos=[0, 0, 0.02])
    for side, sign in (("left", -1.0), ("right", 1.0)):
        finger = hand.add_body(name=f"{side}_finger", pos=[sign * 0.03, 0, 0])
        finger.add_joint(name=f"{side}_slide", type=mujoco.mjtJoint.mjJNT_SLIDE,
                         axis=[sign, 0, 0], range=[-0.03, 0.01], damping=5.0)
        finger.add_geom(name=f"{side}_finger_geom", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[0.004, 0.009, 0.011], pos=[sign * 0.006, 0, 0], mass=0.05,
                        contype=0, conaffinity=0)
        # pad box: its inner face (towards the object) is the sensing surface
        finger.add_geom(name=f"{side}_pad", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[0.002, 0.008, 0.0095], mass=0.005, friction=[1.0, 0.005, 0.0001])
        act = spec.add_actuator(name=f"{side}_act", target=f"{side}_slide",
                                trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=200.0)
    return spec.compile()


def run_block(model: mujoco.MjModel, datas: list[mujoco.MjData], sense: str,
              pads: list[TactilePad], array: TactileArray, steps: int,
              frame_skip: int) -> tuple[float, float]:
    """Run ``steps`` env steps of every sim in ``datas``; (wall, cpu) s per env step per sim.

    ``sense``: ``"none"`` (no tactile), ``"pads"`` (``TactilePad.update`` per
    pad: fields, forces, torques), ``"array"`` (``TactileArray``: one call for
    all pads, and for all sims when there are several).
    """
    squeeze = np.array([-0.0165, -0.0165])  # m; fingers 1.5 mm past the box faces
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    obs = []
    for _ in range(steps):
        obs = []
        for data in datas:
            data.ctrl[:] = squeeze
            mujoco.mj_step(model, data, nstep=frame_skip)
            obs.append([data.qpos.copy(), data.qvel.copy()])
        if sense == "pads":
            for data, parts in zip(datas, obs, strict=True):
                parts.extend(pad.update(data).markers.ravel() for pad in pads)
        elif sense == "array":
            if len(datas) == 1:
                obs[0].append(array.update(datas[0]).ravel())
            else:
                fields = array.update_many(datas)
                for parts, fld in zip(obs, fields, strict=True):
                    parts.append(fld.ravel())
        obs = [np.concatenate(parts) for parts in obs]
    assert obs and np.all(np.isfinite(obs[0]))
    n = steps * len(datas)
    return (time.perf_counter() - wall0) / n, (time.thread_time() - cpu0) / n


def measure(model: mujoco.MjModel, n_sims: int, modes: tuple[str, ...], pads: list[TactilePad],
            array: TactileArray, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Interleaved blocks of every mode from one settled grasp; medians per mode."""
    datas = [mujoco.MjData(model) for _ in range(n_sims)]
    for data in datas:
        run_block(model, [data], "none", pads, array, 300, args.frame_skip)  # settle the grasp
    states = [(d.qpos.copy(), d.qvel.copy(), d.act.copy(), d.time) for d in datas]
    times: dict[str, dict[str, list[float]]] = {m: {"wall": [], "cpu": []} for m in modes}
    for _ in range(args.repeats):
        for mode in modes:
            for data, (qpos, qvel, act, t) in zip(datas, states, strict=True):
                data.qpos[:], data.qvel[:], data.act[:], data.time = qpos, qvel, act, t
                mujoco.mj_forward(model, data)
            wall, cpu = run_block(model, datas, mode, pads, array, args.steps, args.frame_skip)
            times[mode]["wall"].append(wall)
            times[mode]["cpu"].append(cpu)
    return {m: {k: statistics.median(v[k]) for k in ("wall", "cpu")} for m, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table or one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame-skip", type=int, default=10,
                        help="physics steps per env step (default 10: 50 Hz control)")
    parser.add_argument("--steps", type=int, default=200, help="env steps per block")
    parser.add_argument("--repeats", type=int, default=15, help="blocks per variant")
    parser.add_argument("--sims", type=int, default=16, help="simulations in the batched run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    model = build_gripper()
    data = mujoco.MjData(model)
    cfg = GelPadConfig()
    build0 = time.perf_counter()
    pads = [TactilePad(model, "left_pad", cfg, face="+x"),
            TactilePad(model, "right_pad", cfg, face="-x")]
    build_s = time.perf_counter() - build0
    # settle into a steady grasp first
    run_block(model, [data], "none", pads, TactileArray(pads), 300, args.frame_skip)
    readings = [pad.update(data) for pad in pads]
    contacts = [len(pad.contact_loads(data)) for pad in pads]

    array = TactileArray(pads)
    single = measure(model, 1, ("none", "pads", "array"), pads, array, args)
    batched = measure(model, args.sims, ("none", "array"), pads, array, args)

    def ratio(med: dict[str, dict[str, float]], mode: str, clock: str) -> float:
        return med[mode][clock] / med["none"][clock] - 1.0

    result = {
        "frame_skip": args.frame_skip,
        "timestep_s": model.opt.timestep,
        "steps_per_block": args.steps,
        "repeats": args.repeats,
        "markers_per_pad": int(cfg.marker_rows * cfg.marker_cols),
        "traction_cells_per_pad": int(pads[0].grid[0] * pads[0].grid[1]),
        "pad_build_s": build_s,
        "contacts_per_pad": contacts,
        "grip_force_N": [float(-r.force[2]) for r in readings],
        "peak_marker_displacement_m": [float(np.abs(r.markers).max()) for r in readings],
        "single_env_step_us": {m: {k: 1e6 * v for k, v in single[m].items()} for m in single},
        "batched_sims": args.sims,
        "batched_env_step_us_per_sim": {m: {k: 1e6 * v for k, v in batched[m].items()}
                                        for m in batched},
        "overhead_ratio": {
            "single_pads_cpu": ratio(single, "pads", "cpu"),
            "single_array_cpu": ratio(single, "array", "cpu"),
            "batched_array_cpu": ratio(batched, "array", "cpu"),
            "single_pads_wall": ratio(single, "pads", "wall"),
            "single_array_wall": ratio(single, "array", "wall"),
            "batched_array_wall": ratio(batched, "array", "wall"),
        },
        "target_overhead_ratio": 0.05,
        "load_avg_1min": os.getloadavg()[0],
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    print(f"gripper scene, frame_skip={args.frame_skip} (dt={model.opt.timestep} s), "
          f"{args.repeats} interleaved blocks x {args.steps} env steps, "
          f"load={result['load_avg_1min']:.1f}")
    print(f"pads: 2 x {result['markers_per_pad']} markers, "
          f"{result['traction_cells_per_pad']} traction cells, "
          f"built in {build_s:.2f} s; contacts/pad {contacts}, grip force "
          f"{result['grip_force_N'][0]:.2f} N, peak marker displacement "
          f"{1e6 * result['peak_marker_displacement_m'][0]:.1f} um")
    ov = result["overhead_ratio"]
    for label, med, modes, key in (("1 sim", single, ("pads", "array"), "single"),
                                   (f"{args.sims} sims", batched, ("array",), "batched")):
        for mode in modes:
            print(f"{label:8s} {mode:5s}: env step per sim {1e6 * med['none']['cpu']:8.1f} us "
                  f"-> {1e6 * med[mode]['cpu']:8.1f} us CPU, overhead "
                  f"{100 * ov[f'{key}_{mode}_cpu']:+6.1f} % CPU ({100 * ov[f'{key}_{mode}_wall']:+.1f}"
                  f" % wall; target <= 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
