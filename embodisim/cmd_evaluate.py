"""``embodisim evaluate`` (run a standardized suite) and ``embodisim report``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metrics.indicators import Score


def _finite(value: float | None) -> float | None:
    """``None`` for missing or non-finite values, so the JSON stays standard."""
    return value if value is not None and math.isfinite(value) else None


def _value(s: Score) -> float | int | None:
    """The measured value; counts (scenes, conditions) as integers."""
    if s.measurement is None:
        return None
    v = _finite(s.measurement.value)
    if v is not None and s.indicator.unit != "fraction" and float(v).is_integer():
        return int(v)
    return v


def summary_json(suite: str, db: Path, run: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``--json`` summary of a suite's rows in a store.

    Args:
        suite: Suite name (the store's ``suite`` column).
        db: The results store.
        run: The runner's summary of this invocation, added under ``"run"``.

    Returns:
        ``{"suite", "db", "rows": [...], "indicators": [...]}`` (plus ``"run"``).
    """
    from metrics.report import scores_for_rows, summarize_rows
    from metrics.store import ResultsStore

    with ResultsStore(db) as store:
        rows = store.rows(suite)
    out: dict[str, Any] = {"suite": suite, "db": str(db)}
    if run is not None:
        out["run"] = run
    out["rows"] = [
        {
            "task": g.task,
            "condition": g.condition,
            "policy": g.policy,
            "variant": g.variant,
            "episodes": g.episodes,
            "success_rate": _finite(g.success_rate),
            "ci_low": _finite(g.ci_low),
            "ci_high": _finite(g.ci_high),
            "sim_errors": g.sim_errors,
            "metrics": {k: _finite(v) for k, v in g.metrics.items()},
        }
        for g in summarize_rows(rows)
    ]
    out["indicators"] = [
        {
            "id": s.indicator.id,
            "value": _value(s),
            "low": _finite(s.measurement.low) if s.measurement else None,
            "high": _finite(s.measurement.high) if s.measurement else None,
            "target": s.indicator.target,
            "comparison": s.indicator.comparison,
            "status": s.status,
            "pass": None if s.status == "not measured" else s.status == "pass",
            "interval_clears": s.interval_clears,
        }
        for s in scores_for_rows(rows)
    ]
    return out


def _print_human(summary: dict[str, Any]) -> None:
    from metrics.indicators import INDICATORS_BY_ID
    from metrics.report import format_value

    run = summary.get("run")
    if run:
        print(
            f"suite {summary['suite']}: {run['ran']} episodes run ({run['failed']} failed, "
            f"{run['sim_errors']} with errors), {run['skipped']} already stored -> {summary['db']}"
        )
    print(f"{'task':<34} {'condition':<28} {'policy':<10} {'n':>4}  success  95 % interval")
    for r in summary["rows"]:
        task = r["task"] + (f" [{r['variant']}]" if r["variant"] else "")
        print(
            f"{task:<34} {r['condition']:<28} {r['policy']:<10} {r['episodes']:>4}  "
            f"{format_value(r['success_rate'], 'fraction'):>7}  "
            f"[{format_value(r['ci_low'], 'fraction')}, {format_value(r['ci_high'], 'fraction')}]"
        )
    print("indicators:")
    for ind in summary["indicators"]:
        unit = INDICATORS_BY_ID[ind["id"]].unit
        print(
            f"  {ind['id']:<16} {format_value(ind['value'], unit):>9}  target "
            f"{ind['comparison']} {format_value(ind['target'], unit):<8} {ind['status']}"
        )


def _evaluate(args: argparse.Namespace) -> int:
    from sim2real.suites import policy_factory  # registers the sim2real suite and its env ids
    from tasks.runner import run_suite
    from tasks.suites import SUITES, get_suite

    if args.list:
        for name, suite in SUITES.items():
            print(f"{name:<12} {suite.description}")
        return 0
    if not args.suite:
        raise ValueError("--suite is required; `embodisim evaluate --list` shows the suites")
    suite = get_suite(args.suite)
    db = Path(args.db) if args.db else Path("results") / f"{suite.name}.sqlite"
    try:
        run = run_suite(
            suite,
            db,
            workers=args.workers,
            executor=args.executor,
            episodes_override=args.episodes,
            progress=not args.no_progress,
            policy_factory=policy_factory,
        )
    except RuntimeError as exc:  # Ray requested but not installed
        print(f"embodisim evaluate: error: {exc}", file=sys.stderr)
        return 1
    summary = summary_json(suite.name, db, run)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_human(summary)
    return 0


def _report(args: argparse.Namespace) -> int:
    from metrics.report import write_report
    from metrics.store import ResultsStore

    paths = write_report(args.db, args.out)
    with ResultsStore(args.db) as store:
        csv_path = store.export_csv(Path(args.out) / "episodes.csv")
    print(f"wrote {paths.markdown}")
    print(f"wrote {paths.html}")
    for p in (*paths.plots, csv_path):
        print(f"wrote {p}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``evaluate`` and ``report`` commands."""
    ev = sub.add_parser(
        "evaluate",
        help="run a standardized scenario suite into a results store",
        description=(
            "Run every episode of a named suite not yet in the results store (a rerun "
            "resumes), then summarize the suite's episodes and the indicators."
        ),
    )
    ev.add_argument("--suite", help="suite name (see --list)")
    ev.add_argument("--list", action="store_true", help="list the suites and exit")
    ev.add_argument(
        "--episodes", type=int, default=None, help="episodes per condition (default: the suite's)"
    )
    ev.add_argument("--workers", type=int, default=1, help="parallel episodes (default 1)")
    ev.add_argument(
        "--executor",
        choices=("local", "ray", "inline"),
        default="local",
        help=(
            "local process pool (default), Ray (extra 'cluster'; RAY_ADDRESS or a local "
            "instance) or inline (this process, for debugging)"
        ),
    )
    ev.add_argument("--db", default=None, help="results store (default results/<suite>.sqlite)")
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ev.set_defaults(func=_evaluate)

    rep = sub.add_parser(
        "report",
        help="write report.md, index.html, plots and a CSV export for a results store",
    )
    rep.add_argument("--db", required=True, help="results store (SQLite)")
    rep.add_argument("--out", required=True, help="output folder")
    rep.set_defaults(func=_report)
