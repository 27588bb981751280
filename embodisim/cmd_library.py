"""Commands: ``library generate|validate|stats|query|show`` and ``scene export``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``library`` command group."""
    lib = sub.add_parser("library", help="generate, validate, query and summarize scene libraries")
    lsub = lib.add_subparsers(dest="library_command", metavar="SUBCOMMAND")
    lsub.required = True

    p = lsub.add_parser(
        "generate",
        help="generate (or resume) a library of valid scenes",
        description="Scene i gets condition CONDITIONS[i %% len] and seed SeedSequence([SEED, i]); "
        "the same command twice gives the same library. Rerun after an interruption to resume.",
    )
    p.add_argument("--count", type=int, required=True, help="number of scenes (ids 0..N-1)")
    p.add_argument("--out", type=Path, required=True, help="library folder")
    p.add_argument("--conditions", default=None,
                   help="comma-separated condition names (default: the whole catalog)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel worker processes (default: the CPUs this process may use)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--chunk", type=int, default=None, help="scenes per task and per transaction")
    p.add_argument("--dem", type=Path, default=None,
                   help="real DEM as every scene's terrain base: .npy, .tif/.tiff or PDS3 .lbl/.img "
                        "(each scene at a random spot; craters, roughness, rocks added on top)")
    p.add_argument("--dem-resolution", type=float, default=None,
                   help="DEM pixel size [m] (required for .npy; overrides the file's)")
    p.add_argument("--dem-window", default=None,
                   help="ROW0,COL0,NROWS,NCOLS: use only this part of the DEM")
    p.add_argument("--dem-datum", type=float, default=0.0,
                   help="height [m] subtracted from the DEM (default 0: real heights)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_generate)

    p = lsub.add_parser("validate", help="re-check every scene; exit 0 only when all are valid")
    p.add_argument("library", type=Path)
    p.add_argument("--workers", type=int, default=None,
                   help="parallel worker processes (default: the CPUs this process may use)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--no-settle", action="store_true",
                   help="only hash/provenance/index checks (no rebuild and settle)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_validate)

    p = lsub.add_parser("stats", help="diversity histograms and a summary (JSON + Markdown)")
    p.add_argument("library", type=Path)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--each", action="store_true", help="also one PNG per histogram")
    p.set_defaults(func=_stats)

    p = lsub.add_parser("query", help="list ids of matching scenes")
    p.add_argument("library", type=Path)
    p.add_argument("--condition", default=None, help="condition name")
    p.add_argument("--where", default=None,
                   help='e.g. "sun_elevation<10 and n_rocks>=5" (COLUMN OP NUMBER joined by and)')
    p.add_argument("--json", action="store_true", help="print full index rows as JSON")
    p.set_defaults(func=_query)

    p = lsub.add_parser("show", help="print one scene's spec JSON")
    p.add_argument("library", type=Path)
    p.add_argument("id", type=int)
    p.set_defaults(func=_show)


def add_export(ssub: argparse._SubParsersAction) -> None:
    """Add ``scene export`` to the ``scene`` sub-parsers (called from ``cmd_scene``)."""
    p = ssub.add_parser("export", help="export a scene as MJCF (+assets), USD or GLB")
    p.add_argument("scene", help="spec JSON path, or a scene id with --library")
    p.add_argument("--format", choices=("mjcf", "usd", "glb"), required=True)
    p.add_argument("--out", type=Path, required=True,
                   help="mjcf: folder (or .zip); usd: .usda/.usd/.usdc; glb: .glb")
    p.add_argument("--library", type=Path, default=None, help="library folder for an id")
    p.set_defaults(func=_export)


def _cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _dem_ref(args: argparse.Namespace) -> object:
    if args.dem is None:
        for flag in ("dem_resolution", "dem_window"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')}: given without --dem FILE")
        return None
    from scenes.dem import dem_ref_for

    window = None
    if args.dem_window is not None:
        try:
            window = tuple(int(v) for v in args.dem_window.split(","))
        except ValueError:
            window = ()
        if len(window) != 4:
            raise ValueError(
                f"--dem-window: got {args.dem_window!r}; accepted: ROW0,COL0,NROWS,NCOLS "
                "(four integers, e.g. 0,0,64,64)"
            )
    return dem_ref_for(args.dem, args.dem_resolution, window=window, datum_m=args.dem_datum)


def _generate(args: argparse.Namespace) -> int:
    from scenes.library import generate_library

    res = generate_library(
        args.out,
        args.count,
        conditions=args.conditions,
        seed=args.seed,
        workers=args.workers or _cpus(),
        executor=args.executor,
        chunk_size=args.chunk,
        progress=not args.no_progress,
        dem=_dem_ref(args),  # type: ignore[arg-type]
    )
    d = res.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        print(
            f"{d['stored']} scenes in {d['path']} ({d['new']} new, {d['skipped']} already there, "
            f"{len(d['failures'])} failed) in {d['seconds']:.1f} s = {d['scenes_per_s']:.1f} "
            f"scenes/s; {d['rejected_attempts']} rejected attempts resampled; "
            f"{d['bytes_total'] / 1e6:.2f} MB = {d['bytes_per_scene']:.0f} bytes/scene"
        )
    return 0 if not res.failures and res.stored >= res.requested else 1


def _validate(args: argparse.Namespace) -> int:
    from scenes.library import validate_library

    res = validate_library(
        args.library,
        workers=args.workers or _cpus(),
        executor=args.executor,
        settle=not args.no_settle,
        progress=not args.no_progress and not args.json,
    )
    d = res.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        statuses = sorted({s for c in d["by_condition"].values() for s in c})
        print(f"{'condition':30s} " + " ".join(f"{s:>20s}" for s in statuses))
        for cond, counts in d["by_condition"].items():
            print(f"{cond:30s} " + " ".join(f"{counts.get(s, 0):>20d}" for s in statuses))
        for p in d["problems"][:50]:
            print(f"  id {p['id']} ({p['condition']}): {p['status']}: {p['detail']}")
        print(f"{d['valid']} of {d['scenes']} valid in {d['seconds']:.1f} s "
              f"({d['scenes_per_s']:.1f} scenes/s): {'OK' if d['ok'] else 'PROBLEMS'}")
    return 0 if res.ok else 1


def _stats(args: argparse.Namespace) -> int:
    from scenes.library import library_stats

    s = library_stats(args.library, args.out, each=args.each)
    print(f"wrote {args.out}/summary.json, summary.md and {len(s['plots'])} plots "
          f"({s['scenes']} scenes)")
    return 0


def _query(args: argparse.Namespace) -> int:
    from scenes.library import Library

    with Library(args.library) as lib:
        ids = lib.query(condition=args.condition, where=args.where)
        if args.json:
            rows = [
                {k: v for k, v in lib.row(i).items() if k not in ("spec_json", "rejected_json")}
                for i in ids
            ]
            print(json.dumps(rows, indent=2))
        else:
            for i in ids:
                print(i)
            print(f"{len(ids)} of {len(lib)} scenes match", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from scenes.library import Library

    with Library(args.library) as lib:
        print(lib.spec(args.id).to_json())
    return 0


def _export(args: argparse.Namespace) -> int:
    from scenes.export import export_scene
    from scenes.spec import ScenarioSpec

    if args.library is not None:
        from scenes.library import Library

        try:
            scene_id = int(args.scene)
        except ValueError:
            raise ValueError(
                f"scene: got {args.scene!r}; with --library give an integer scene id"
            ) from None
        with Library(args.library) as lib:
            spec = lib.spec(scene_id)
    else:
        spec = ScenarioSpec.load(args.scene)
    written = export_scene(spec, args.format, args.out)
    print(f"wrote {args.format} export of {spec.condition} (hash {spec.spec_hash()[:12]}) to "
          f"{written}")
    return 0
