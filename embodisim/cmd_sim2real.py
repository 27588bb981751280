"""``embodisim reality list`` and ``embodisim transfer`` (sim vs reality-proxy transfer loss)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _reality(args: argparse.Namespace) -> int:
    from sim2real.reality import PROFILES

    for p in PROFILES.values():
        print(f"{p.name:<18} [{p.task}] {p.description}")
        for c in p.changes:
            print(f"    - {c}")
    return 0


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100.0 * v:5.1f} %"


def _triple(t: tuple[float, float, float] | None) -> str:
    return "—" if t is None else f"{_pct(t[0])} [{_pct(t[1])}, {_pct(t[2])}]"


def _from_db(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sim2real.transfer import score_store

    rows = score_store(args.db)
    if not rows:
        raise ValueError(f"--db {args.db}: no paired sim2real episodes; run "
                         "`embodisim evaluate --suite sim2real` first")
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    from metrics.report import task_base_name
    from sim2real.suites import VARIANTS

    pipeline = {v: p for p, v in VARIANTS.items()}
    print(f"{'skill':<24} {'pipeline':<9} {'n':>3}  {'S_sim [95 %]':<26} {'S_reality [95 %]':<26} "
          f"{'loss (S_sim-S_real)/S_sim [bootstrap]':<38} paired loss [t]")
    for r in rows:
        print(f"{task_base_name(r.task):<24} {pipeline.get(r.variant, r.variant):<9} {r.n:>3}  "
              f"{_triple(r.s_sim):<26} {_triple(r.s_real):<26} "
              f"{_triple(r.loss):<38} {_triple(r.paired_loss)}")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from sim2real.transfer import evaluate_transfer

    if args.db:
        return _from_db(args)
    missing = [n for n in ("task", "policy", "reality") if not getattr(args, n)]
    if missing:
        raise ValueError(f"--{missing[0]} is required (or score a stored suite with --db)")

    calibration: dict[str, Any] | None = None
    if args.calibration:
        with open(args.calibration, encoding="utf-8") as f:
            calibration = {str(k): float(v) for k, v in json.load(f).items()}
    policies = [p for group in args.policy for p in group.split(",") if p]
    rep = evaluate_transfer(
        args.task, policies, args.reality, args.episodes, condition=args.condition,
        randomization=args.randomization, calibration=calibration, base_seed=args.seed,
    )
    if args.json:
        print(json.dumps(rep.to_json(), indent=2))
        return 0
    print(f"task {rep.task}  condition {rep.condition}  reality proxy {rep.reality}  "
          f"sim side {dict(rep.sim_side)}")
    print(f"{'policy':<20} {'n':>4}  {'S_sim':>7} [95 %]          {'S_reality':>9} [95 %]"
          "          loss [bootstrap 95 %]")
    for p in rep.policies:
        print(f"{p.policy:<20} {p.n:>4}  {_pct(p.s_sim)} [{_pct(p.s_sim_low)}, {_pct(p.s_sim_high)}]  "
              f"{_pct(p.s_real)} [{_pct(p.s_real_low)}, {_pct(p.s_real_high)}]  "
              f"{_pct(p.loss)} [{_pct(p.loss_low)}, {_pct(p.loss_high)}]")
    if rep.rank_violations is not None:
        r = "undefined" if rep.correlation is None else (
            f"{rep.correlation:.3f} [{rep.correlation_low:.3f}, {rep.correlation_high:.3f}]")
        print(f"sim-vs-reality correlation r = {r}; rank violations {rep.rank_violations}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``reality`` and ``transfer`` commands."""
    rp = sub.add_parser("reality", help="reality-proxy profiles (held-out sim2real gaps)")
    rsub = rp.add_subparsers(dest="reality_command", metavar="SUBCOMMAND")
    rsub.required = True
    ls = rsub.add_parser("list", help="print every reality proxy and what it changes")
    ls.set_defaults(func=_reality)

    tr = sub.add_parser(
        "transfer",
        help="run policies in simulation and in a reality proxy; report the transfer loss",
    )
    tr.add_argument("--db", default=None,
                    help="instead of running: score the paired episodes of a sim2real suite store")
    tr.add_argument("--task", help="task id, e.g. embodisim/RoverTraverse-v0")
    tr.add_argument("--policy", action="append",
                    help="reference policy name(s); repeat or comma-separate for several")
    tr.add_argument("--reality", help="reality-proxy profile (`reality list`)")
    tr.add_argument("--randomization", default=None, help="randomize the sim side")
    tr.add_argument("--calibration", default=None,
                    help="JSON file of identified values for the sim side (from sysid)")
    tr.add_argument("--episodes", type=int, default=20, help="episodes per policy and side")
    tr.add_argument("--condition", default="lunar-mare-day", help="working condition")
    tr.add_argument("--seed", type=int, default=0, help="first scenario/reset seed")
    tr.add_argument("--json", action="store_true", help="print JSON")
    tr.set_defaults(func=_transfer)
