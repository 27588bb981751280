"""Frames per second of the radiometric camera: render vs sensor model, on one core.

Two scenes, each with a shadow-casting directional sun and shadows on:

* ``box``     - a plane (grid spacing 0.1 m, i.e. 100 x 100 rendered quads), a box and
  the sun: the synthetic scene of the earlier benchmark;
* ``terrain`` - a real task scene, ``scenes.build`` of ``lunar-terminator`` seed 0 (low
  sun, long shadows; 96 x 96 heightfield, rover, rocks), seen from ``rover_cam``.

For each scene and image size the stages below are timed, each ``--frames`` frames
per run, ``--repeats`` runs **interleaved** (every repeat visits every stage, in an
order rotated by one each repeat, so slow phases of the shared machine hit all of
them), and the median taken:

* ``render``          - ``sims.render.HeadlessRenderer.render_rgb`` as the camera uses it
  (update_scene + mjr_render + readback; shadow map sized to the image, no MSAA);
* ``sensor``          - the sensor model alone on a fixed render: radiance -> electrons
  -> ``sensor_response`` (PRNU, Poisson shot + dark, DSNU, full well, read noise, ADC);
* ``capture``         - ``RadiometricCamera.capture``: render + luma + radiometry + sensor;
* ``render_noshadow`` - render with shadows off (what the shadow passes cost);
* ``render_msaa4``    - render with 4x MSAA (what ``tasks.perception.ColourCamera`` uses);
* ``render_default``  - a plain ``mujoco.Renderer`` with the model's own shadow-map size
  and multisampling (the baseline before ``HeadlessRenderer``; fewer frames).

Times are CPU seconds of the whole process (``time.process_time``: all threads,
llvmpipe's rasteriser threads included), CPU seconds of the calling thread
(``time.thread_time``) and wall seconds. On a shared, loaded machine the process CPU
time is the figure to trust; wall time includes waiting for a core. ``LP_NUM_THREADS``
defaults to 0 here (llvmpipe rasterises in the calling thread: one core, and process
CPU time = thread CPU time); set it before running to measure llvmpipe's thread pool.

Run:  python benchmarks/bench_camera.py [--json] [--sizes 64 128] [--scenes box terrain]
The issue-#9 target is ``capture`` at 64 x 64 >= 150 frames per CPU-second.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("MUJOCO_GL", "osmesa")  # before mujoco is imported; EGL users set it
os.environ.setdefault("LP_NUM_THREADS", "0")  # llvmpipe: rasterise in the calling thread

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from sims.camera import (  # noqa: E402
    Illumination,
    RadiometricCamera,
    SensorConfig,
    configure_model_lights,
    radiance_to_electrons,
    sensor_response,
)
from sims.render import HeadlessRenderer, gl_backend  # noqa: E402

TERRAIN_CONDITION = "lunar-terminator"  # low sun (castshadow on), long shadows
TARGET_FPS_64 = 150.0  # [frames per CPU-second] issue #9 / #4: camera 64x64 with shadows
STAGES = ("render", "sensor", "capture", "render_noshadow", "render_msaa4", "render_default")


def build_box_scene() -> tuple[mujoco.MjModel, str, Illumination]:
    """Plane, box and a shadow-casting sun; lights set by ``configure_model_lights``."""
    spec = mujoco.MjSpec()
    spec.add_material(name="floor_mat", rgba=[0.6, 0.6, 0.6, 1], specular=0, shininess=0)
    spec.add_material(name="box_mat", rgba=[0.9, 0.9, 0.9, 1], specular=0, shininess=0)
    el = math.radians(30.0)
    spec.worldbody.add_light(
        name="sun",
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        pos=[2.0, 1.0, 2.0],
        dir=[-math.cos(el), -0.3, -math.sin(el)],
        castshadow=True,
    )
    spec.worldbody.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[5, 5, 0.1], material="floor_mat"
    )
    body = spec.worldbody.add_body(name="box", pos=[0.3, 0.2, 0.2])
    body.add_geom(
        name="box_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.2, 0.2, 0.2], material="box_mat"
    )
    spec.worldbody.add_camera(
        name="cam", pos=[0.0, -2.0, 1.2], xyaxes=[1, 0, 0, 0, 0.5, 0.866], fovy=60.0
    )
    model = spec.compile()
    lit = Illumination(solar_irradiance_w_m2=1361.0, ambient_irradiance_w_m2=0.075)
    configure_model_lights(model, lit, sun_light="sun")
    return model, "cam", lit


def build_terrain_scene() -> tuple[mujoco.MjModel, str, Illumination]:
    """``scenes.build`` of ``TERRAIN_CONDITION`` seed 0 (lights as the build sets them)."""
    from scenes.build import build_scene
    from scenes.generate import generate

    scene = build_scene(generate(TERRAIN_CONDITION, 0).spec)
    model = scene.mjspec.compile()
    if not any(model.light_castshadow):
        raise RuntimeError(f"{TERRAIN_CONDITION}: no shadow-casting light; pick a sunlit one")
    # The build sets light colours in units of scene.light_ref; an Illumination whose
    # reference irradiance is light_ref gives the camera the same absolute scale.
    return model, "rover_cam", Illumination(solar_irradiance_w_m2=scene.light_ref)


SCENES: dict[str, Callable[[], tuple[mujoco.MjModel, str, Illumination]]] = {
    "box": build_box_scene,
    "terrain": build_terrain_scene,
}


class _Case:
    """Everything needed to time the stages of one (scene, size)."""

    def __init__(self, scene: str, size: int) -> None:
        model, cam_name, lit = SCENES[scene]()
        self.data = mujoco.MjData(model)
        mujoco.mj_forward(model, self.data)
        self.sensor = SensorConfig(exposure_s=15e-6 if scene == "box" else 0.01)
        self.rng = np.random.default_rng(0)
        self.cam = RadiometricCamera(model, cam_name, size, size, self.sensor, lit)
        self.renderers = {
            "render": HeadlessRenderer(model, size, size),
            "render_noshadow": HeadlessRenderer(model, size, size, shadows=False),
            "render_msaa4": HeadlessRenderer(model, size, size, offsamples=4),
        }
        self.default = mujoco.Renderer(model, size, size)
        self.default_buf = np.empty((size, size, 3), dtype=np.uint8)
        self.radiance = self.cam.radiance(self.data)
        self.cam_name = cam_name
        self.model = model

    def step(self, stage: str) -> Callable[[], object]:
        data, name = self.data, self.cam_name
        if stage in self.renderers:
            r = self.renderers[stage]
            return lambda: r.render_rgb(data, name)
        if stage == "sensor":
            sensor, t, pattern = self.sensor, self.sensor.exposure_s, self.cam.fixed_pattern

            def sensor_only() -> None:
                mu = radiance_to_electrons(self.radiance, sensor, t, relative_illumination=1.0)
                sensor_response(mu, sensor, t, self.rng, fixed_pattern=pattern)

            return sensor_only
        if stage == "capture":
            return lambda: self.cam.capture(data, self.rng)
        if stage == "render_default":

            def plain() -> None:
                self.default.update_scene(data, name)
                self.default.render(out=self.default_buf)

            return plain
        raise ValueError(f"stage = {stage!r} is unknown; accepted {STAGES}")

    def close(self) -> None:
        self.cam.close()
        for r in self.renderers.values():
            r.close()
        self.default.close()


def _time(step: Callable[[], object], frames: int) -> tuple[float, float, float]:
    """(process CPU, thread CPU, wall) seconds per frame over ``frames`` frames."""
    w0, p0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(frames):
        step()
    w1, p1, t1 = time.perf_counter(), time.process_time(), time.thread_time()
    return (p1 - p0) / frames, (t1 - t0) / frames, (w1 - w0) / frames


def _summary(per_frame_s: list[float]) -> dict[str, float]:
    """Median, min and max frames/s of a list of seconds-per-frame, and the median ms."""
    fps = [1.0 / max(s, 1e-9) for s in per_frame_s]
    med = statistics.median(per_frame_s)
    return {
        "fps_median": 1.0 / max(med, 1e-9),
        "fps_min": min(fps),
        "fps_max": max(fps),
        "ms_median": 1000.0 * med,
    }


def run(scenes: list[str], sizes: list[int], frames: int, repeats: int) -> dict[str, Any]:
    """Time every stage of every (scene, size), interleaved; return the nested results."""
    cases = {(sc, s): _Case(sc, s) for sc in scenes for s in sizes}
    jobs = [(key, st) for key in cases for st in STAGES]
    steps = {(key, st): cases[key].step(st) for key, st in jobs}
    times: dict[tuple[tuple[str, int], str], list[tuple[float, float, float]]] = {
        j: [] for j in jobs
    }
    try:
        for j in jobs:
            steps[j]()  # warm-up: first frame allocates GL buffers and compiles shaders
        loads = []
        for r in range(repeats):
            loads.append(os.getloadavg()[0])
            k = r % len(jobs)
            for j in jobs[k:] + jobs[:k]:
                n = max(frames // 4, 3) if j[1] == "render_default" else frames
                times[j].append(_time(steps[j], n))
    finally:
        for case in cases.values():
            case.close()
    out: dict[str, Any] = {}
    for (sc, s), st in jobs:
        ts = times[((sc, s), st)]
        out.setdefault(sc, {}).setdefault(str(s), {})[st] = {
            "cpu": _summary([t[0] for t in ts]),
            "thread_cpu": _summary([t[1] for t in ts]),
            "wall": _summary([t[2] for t in ts]),
        }
    return {"load_avg_1min": {"min": min(loads), "max": max(loads)}, "scenes": out}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES), choices=list(SCENES))
    parser.add_argument("--frames", type=int, default=30, help="frames per run")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per stage")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    res = run(args.scenes, args.sizes, args.frames, args.repeats)
    results = {
        "backend": gl_backend(),
        "lp_num_threads": os.environ.get("LP_NUM_THREADS", "default"),
        "cpu_count": os.cpu_count(),
        "shadows": True,
        "terrain_condition": TERRAIN_CONDITION,
        "frames": args.frames,
        "repeats": args.repeats,
        **res,
    }
    for sc, by_size in res["scenes"].items():
        if "64" in by_size:
            fps = by_size["64"]["capture"]["cpu"]["fps_median"]
            results.setdefault("target_64_capture_cpu_fps", {})[sc] = {
                "value": fps,
                "target": TARGET_FPS_64,
                "met": fps >= TARGET_FPS_64,
            }
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    load = res["load_avg_1min"]
    print(
        f"backend={results['backend']} LP_NUM_THREADS={results['lp_num_threads']} "
        f"cpus={results['cpu_count']} load(1 min)={load['min']:.1f}-{load['max']:.1f}; "
        f"shadows on; median of {args.repeats} interleaved runs x {args.frames} frames"
    )
    print(
        f"{'scene':<8}{'size':>8} {'stage':<16}{'cpu ms':>8}{'cpu fps':>9}{'(min-max)':>12}"
        f"{'thread ms':>10}{'wall ms':>9}{'wall fps':>9}"
    )
    for sc, by_size in res["scenes"].items():
        for s, rows in by_size.items():
            for st, r in rows.items():
                c, w = r["cpu"], r["wall"]
                print(
                    f"{sc:<8}{s + 'x' + s:>8} {st:<16}{c['ms_median']:8.2f}{c['fps_median']:9.1f}"
                    f"{c['fps_min']:6.0f}-{c['fps_max']:<5.0f}{r['thread_cpu']['ms_median']:10.2f}"
                    f"{w['ms_median']:9.2f}{w['fps_median']:9.1f}"
                )
    for sc, t in results.get("target_64_capture_cpu_fps", {}).items():
        verdict = "met" if t["met"] else "NOT met"
        print(f"target {sc} capture 64x64 >= {t['target']:.0f} frames/CPU-s: "
              f"{t['value']:.1f} ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
