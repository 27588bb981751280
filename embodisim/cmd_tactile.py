"""Command: ``tactile validate`` — the gel model against contact mechanics and FE."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``tactile`` command group."""
    tactile = sub.add_parser("tactile", help="tactile gel sensor: validation")
    tsub = tactile.add_subparsers(dest="tactile_command", metavar="SUBCOMMAND")
    tsub.required = True
    p = tsub.add_parser(
        "validate",
        help="run the marker-field validation cases; exit 0 only if every case passes",
    )
    p.add_argument("--json", action="store_true", help="print the cases as a JSON list")
    p.add_argument("--out", type=Path, default=None,
                   help="directory to write tactile_validation.json into (atomically)")
    p.set_defaults(func=_validate)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _validate(args: argparse.Namespace) -> int:
    from sims.tactile_validate import run_validation

    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out={args.out} exists and is not a directory; pass a directory")
    start = time.perf_counter()
    cases = run_validation()
    elapsed = time.perf_counter() - start
    rows = [c.to_json() for c in cases]
    text = json.dumps(rows, indent=2)
    if args.out is not None:
        _write_atomic(args.out / "tactile_validation.json", text + "\n")
    if args.json:
        print(text)
    else:
        print(f"{'case':28s} {'max rel. error':>14s} {'target':>7s}  pass  reference")
        for c in cases:
            print(f"{c.case:28s} {c.max_relative_error:>14.4f} {c.target:>7.2f}  "
                  f"{'yes' if c.passed else 'NO':4s}  {c.reference}")
        print(f"{sum(c.passed for c in cases)}/{len(cases)} cases pass ({elapsed:.1f} s)")
    return 0 if all(c.passed for c in cases) else 1
