"""Commands: ``conditions``, ``scene sample|check|render``, ``run``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the scene-related commands."""
    p = sub.add_parser("conditions", help="list the working-conditions catalog")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_conditions)

    scene = sub.add_parser("scene", help="sample, check and render single scenes")
    ssub = scene.add_subparsers(dest="scene_command", metavar="SUBCOMMAND")
    ssub.required = True
    p = ssub.add_parser("sample", help="draw a valid ScenarioSpec from a condition")
    p.add_argument("--condition", required=True, help="condition name (see `embodisim conditions`)")
    p.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    p.add_argument("--out", required=True, type=Path, help="output spec.json")
    p.set_defaults(func=_sample)
    p = ssub.add_parser("check", help="build, compile and settle a spec; exit 0 only if valid")
    p.add_argument("spec", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_check)
    p = ssub.add_parser("render", help="render a spec headless to PNG")
    p.add_argument("spec", type=Path)
    p.add_argument("--out", required=True, type=Path, help="output PNG")
    p.add_argument("--camera", default="overview", help="camera name (overview, rover_cam)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--exposure", choices=("auto", "raw"), default="auto",
                   help="auto: scale all lights so a level surface of the regolith's albedo "
                        "renders mid-grey (for viewing dark scenes); raw: radiometric levels "
                        "relative to the brightest source")
    p.set_defaults(func=_render)
    from embodisim.cmd_library import add_export

    add_export(ssub)

    p = sub.add_parser("run", help="run a reference policy for N episodes and print outcomes")
    p.add_argument("--env", default="embodisim/RoverTraverse-v0", help="registered env id")
    p.add_argument("--condition", default="lunar-terminator", help="working condition")
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="first scenario/episode seed")
    p.add_argument("--policy", default="scripted", help="reference policy name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _conditions(args: argparse.Namespace) -> int:
    from scenes.conditions import CONDITIONS

    rows = [c.summary() for c in CONDITIONS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'condition':30s} {'body':6s} {'g [m/s2]':>12s} {'sun elev [deg]':>15s} "
          f"{'light [W/m2]':>18s} {'tau':>9s} {'headlight':>9s}")
    for r in rows:
        g = r["gravity_m_s2"]
        sun = r["sun_elevation_deg"]
        lv = r["light_level_w_m2"]
        tau = r["dust_optical_depth"]
        gs = f"{g[0]:.4g}" if g[0] == g[1] else f"{g[0]:.2g}-{g[1]:.2g}"
        print(f"{r['name']:30s} {r['body']:6s} {gs:>12s} {sun[0]:>6.1f} .. {sun[1]:<5.1f} "
              f"{lv[0]:>8.3g} .. {lv[1]:<7.3g} {tau[0]:>3.1f}-{tau[1]:<3.1f} "
              f"{'on' if r['headlight'] else 'off':>9s}")
    print(f"{len(rows)} conditions")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from scenes.generate import generate

    g = generate(args.condition, args.seed)
    g.spec.save(args.out)
    print(f"wrote {args.out} (condition {args.condition}, seed {args.seed}, attempt {g.attempt}, "
          f"{len(g.rejected)} rejected, hash {g.spec.spec_hash()[:12]})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from scenes.settle import settle_check
    from scenes.spec import ScenarioSpec

    report = settle_check(ScenarioSpec.load(args.spec))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("valid" if report.valid else "INVALID: " + "; ".join(report.reasons))
        print(f"  settle {report.settle_time_s:.2f} s, deepest contact "
              f"{report.max_penetration_m * 1000:.1f} mm, rover drift {report.rover_drift_m:.3f} m, "
              f"tilt {report.rover_tilt_deg:.1f} deg")
        for k, v in report.summary.items():
            print(f"  {k}: {v}")
    return 0 if report.valid else 1


def _render(args: argparse.Namespace) -> int:
    import mujoco
    from PIL import Image

    from scenes.build import build_scene
    from scenes.spec import ScenarioSpec
    from sims.render import HeadlessRenderer

    scene = build_scene(ScenarioSpec.load(args.spec))
    scene.mjspec.visual.global_.offwidth = max(args.width, 640)
    scene.mjspec.visual.global_.offheight = max(args.height, 480)
    model = scene.mjspec.compile()
    try:
        model.camera(args.camera)
    except KeyError:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(f"--camera: no camera {args.camera!r}; accepted: {names}") from None
    gain = 1.0
    if args.exposure == "auto":
        gain = _auto_gain(scene)
        model.light_diffuse[:] *= gain
        model.light_ambient[:] *= gain
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with HeadlessRenderer(model, args.width, args.height, shadow_size=2048) as r:
        img = r.render_rgb(data, args.camera).copy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp.png")
    Image.fromarray(img).save(tmp)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.width}x{args.height}, camera {args.camera}, "
          f"exposure gain {gain:.3g}, mean level {img.mean() / 255:.3f})")
    return 0


def _auto_gain(scene: object) -> float:
    """Light gain that renders a level surface of the regolith albedo at ~0.45."""
    from scenes.build import ALBEDO_RGB, Scene
    from scenes.spec import light_level

    assert isinstance(scene, Scene)
    spec = scene.spec
    level = light_level(spec) + spec.lighting.headlight_intensity / 4.0  # headlight at 2 m
    albedo = max(ALBEDO_RGB[spec.body.name])
    rendered = albedo * level / scene.light_ref
    return float(min(max(0.45 / max(rendered, 1e-9), 1.0), 1e4))


def _run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np

    import tasks
    from metrics.stats import wilson_interval
    from tasks.registry import make_policy

    del tasks
    if args.episodes < 1:
        raise ValueError(f"--episodes: got {args.episodes}; accepted: an integer >= 1")
    results = []
    for i in range(args.episodes):
        seed = args.seed + i
        t0 = time.perf_counter()
        env = gym.make(args.env, condition=args.condition, scenario_seed=seed)
        policy = make_policy(args.env, args.policy, env)
        obs, info = env.reset(seed=seed)
        policy.reset(seed)
        steps = 0
        while True:
            obs, _, term, trunc, info = env.step(policy.act(obs))
            steps += 1
            if term or trunc:
                break
        ev = env.unwrapped.evaluate()
        env.close()
        row = {"episode": i, "seed": seed, "success": bool(ev["success"]), "steps": steps,
               "sim_error": info.get("sim_error"), "wall_s": time.perf_counter() - t0,
               **{k: float(v) for k, v in ev.items() if k != "success"}}
        results.append(row)
        if not args.json:
            sig = ", ".join(f"{k}={row[k]:.3g}" for k in ("distance_to_goal", "max_tilt_deg",
                                                           "slip_ratio", "time_s") if k in row)
            print(f"episode {i:3d} seed {seed:5d}: {'SUCCESS' if row['success'] else 'failure'} "
                  f"steps={steps} {sig}" + (f" sim_error={row['sim_error']}" if row["sim_error"]
                                             else ""), flush=True)
    k = int(np.sum([r["success"] for r in results]))
    lo, hi = wilson_interval(k, len(results))
    summary = {"env": args.env, "condition": args.condition, "policy": args.policy,
               "episodes": len(results), "successes": k, "success_rate": k / len(results),
               "ci95": [lo, hi]}
    if args.json:
        print(json.dumps({"summary": summary, "episodes": results}, indent=2))
    else:
        print(f"success rate {k}/{len(results)} = {k / len(results):.1%} "
              f"(Wilson 95% CI {lo:.1%} - {hi:.1%})")
    sys.stdout.flush()
    return 0
