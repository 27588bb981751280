"""Frames per second of the radiometric camera: render, sensor model, and both together.

Scene: a plane, a box and a shadow-casting directional sun, shadows on. For each image
size it times, as the median over ``--repeats`` runs of ``--frames`` frames:

* ``render_default``  - a plain ``mujoco.Renderer`` with the model's own settings
  (4096^2 shadow map, 4x multisampling): the baseline;
* ``render``          - ``sims.render.HeadlessRenderer`` (shadow map 512, no MSAA), reused;
* ``sensor``          - render value -> electrons -> noisy DN (``sensor_response``) only;
* ``capture``         - ``RadiometricCamera.capture``: render + radiometry + sensor.

Run:  MUJOCO_GL=osmesa python benchmarks/bench_camera.py [--json] [--sizes 64 128]
For a strictly single-core figure on OSMesa/llvmpipe also set LP_NUM_THREADS=1.
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

os.environ.setdefault("MUJOCO_GL", "osmesa")  # before mujoco is imported; EGL users set it

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


def build_scene() -> mujoco.MjModel:
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
    return spec.compile()


def time_fps(step: Callable[[], object], frames: int, repeats: int) -> dict[str, float]:
    """Wall-clock and CPU-time frame rates (median over repeats).

    ``cpu_fps`` divides by this process's CPU time summed over all its threads
    (llvmpipe rasterises on several), i.e. frames per core-second: the figure that
    matters on a shared machine, and less sensitive to other processes than wall time.
    """
    step()  # warm-up (first frame allocates GL buffers)
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(frames):
            step()
        wall.append(frames / (time.perf_counter() - w0))
        cpu.append(frames / max(time.process_time() - c0, 1e-9))
    return {
        "fps_median": statistics.median(wall),
        "fps_min": min(wall),
        "fps_max": max(wall),
        "ms_per_frame_median": 1000.0 / statistics.median(wall),
        "cpu_fps_median": statistics.median(cpu),
    }


def bench_size(size: int, frames: int, repeats: int) -> dict[str, dict[str, float]]:
    model = build_scene()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    lit = Illumination(solar_irradiance_w_m2=1361.0, ambient_irradiance_w_m2=0.075)
    configure_model_lights(model, lit, sun_light="sun")
    sensor = SensorConfig(exposure_s=15e-6)
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {}

    baseline = mujoco.Renderer(model, size, size)
    try:
        buf = np.empty((size, size, 3), dtype=np.uint8)

        def plain() -> None:
            baseline.update_scene(data, "cam")
            baseline.render(out=buf)

        out["render_default"] = time_fps(plain, max(frames // 4, 5), repeats)
    finally:
        baseline.close()

    with HeadlessRenderer(model, size, size) as renderer:
        out["render"] = time_fps(lambda: renderer.render_rgb(data, "cam"), frames, repeats)

    with RadiometricCamera(model, "cam", size, size, sensor, lit) as cam:
        radiance = cam.radiance(data)
        pattern = cam.fixed_pattern

        def sensor_only() -> None:
            mu = radiance_to_electrons(radiance, sensor, sensor.exposure_s)
            sensor_response(mu, sensor, sensor.exposure_s, rng, fixed_pattern=pattern)

        out["sensor"] = time_fps(sensor_only, frames, repeats)
        out["capture"] = time_fps(lambda: cam.capture(data, rng), frames, repeats)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--frames", type=int, default=60, help="frames per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    results = {
        "backend": gl_backend(),
        "lp_num_threads": os.environ.get("LP_NUM_THREADS", "default"),
        "load_avg_1min": os.getloadavg()[0],
        "shadows": True,
        "frames": args.frames,
        "repeats": args.repeats,
        "sizes": {str(s): bench_size(s, args.frames, args.repeats) for s in args.sizes},
    }
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(
        f"backend={results['backend']} LP_NUM_THREADS={results['lp_num_threads']} "
        f"load={results['load_avg_1min']:.1f} shadows=on, median of {args.repeats} x {args.frames}"
    )
    for size, rows in results["sizes"].items():
        for name, r in rows.items():
            print(
                f"{size:>4}x{size:<4} {name:<15} {r['fps_median']:9.1f} fps "
                f"({r['ms_per_frame_median']:.2f} ms/frame, range {r['fps_min']:.0f}-"
                f"{r['fps_max']:.0f}); {r['cpu_fps_median']:.1f} frames per CPU-second"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
