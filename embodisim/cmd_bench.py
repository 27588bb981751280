"""Command: ``bench`` - training-throughput benchmarks (``benchmarks/bench_throughput.py``)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_throughput.py"


def _bench_module() -> ModuleType:
    """The benchmark harness: the ``benchmarks`` package, or the file in this source tree.

    ``benchmarks/`` is not an installed package, so outside the repository root it is
    loaded from the checkout that this (editable) installation points at.
    """
    try:
        return importlib.import_module("benchmarks.bench_throughput")
    except ImportError:
        pass
    if not _SCRIPT.is_file():
        raise FileNotFoundError(
            f"benchmarks/bench_throughput.py: not found at {_SCRIPT}; `embodisim bench` needs a "
            "source checkout (pip install -e .) - run it from the repository"
        )
    spec = importlib.util.spec_from_file_location("embodisim_bench_throughput", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``embodisim bench``."""
    p = sub.add_parser(
        "bench",
        help="throughput: every env vs raw mj_step and Ant-v5, tactile on/off, camera, scenes, vector envs",
        description="Throughput benchmarks. Targets are reported, never asserted. Prints the Markdown "
                    "table (or JSON with --json); --out DIR also writes bench.json, bench.md, bench.png.",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON (else the Markdown table)")
    p.add_argument("--out", type=Path, default=None, help="write bench.json, bench.md and bench.png here")
    p.add_argument("--quick", action="store_true", help="CI-size counts (seconds, noisy)")
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 5, quick 3)")
    p.add_argument("--only", nargs="+", default=None, metavar="SECTION",
                   help="run only these sections: envs tactile camera scenes vector")
    p.add_argument("--env", nargs="+", default=None, dest="env_ids", metavar="ID",
                   help="only these registered env ids")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    mod = _bench_module()
    if args.only:
        bad = [s for s in args.only if s not in mod.SECTIONS]
        if bad:
            raise ValueError(f"--only: unknown section(s) {bad}; accepted: {list(mod.SECTIONS)}")
    if args.repeats is not None and args.repeats < 1:
        raise ValueError(f"--repeats: got {args.repeats}; accepted: an integer >= 1")
    return int(mod.main_args(args, "embodisim " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"]
                             else "embodisim bench"))
