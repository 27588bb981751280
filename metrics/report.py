"""Summaries, indicator values and the human report of a results store.

Everything here reads only :class:`~metrics.store.EpisodeRecord` rows, so a
store filled from real-robot trials is reported the same way.

Variants. A record's ``variant`` tags how the episode was run. Two kinds are
*not* the system under evaluation and never enter an indicator (except
``marker-error``): ablations, named ``"no-<what is removed>"`` (e.g.
``"no-touch"``), and reality-proxy runs, named ``"reality..."``. Every other
variant (``""``, or a configuration such as ``"camera"``) is "counted"
(:func:`is_counted_variant`).

How each indicator is derived from the rows (:func:`measurements_from_rows`):

* ``task-success`` — success pooled over every counted episode of the
  extreme-environment tasks (task names not in :data:`TOUCH_TASKS`) on the
  extreme conditions (not in :data:`REFERENCE_CONDITIONS`), with its Wilson
  95 % interval.
* ``perception`` — mean of ``metrics["perception_accuracy"]`` (each episode's
  fraction of frames within tolerance) over the counted episodes that report
  it, with a Student-t 95 % interval over episodes.
* ``tactile-success`` — success pooled over the counted episodes of the touch
  tasks (:data:`TOUCH_TASKS`), Wilson 95 % interval.
* ``marker-error`` — the largest ``metrics["marker_max_rel_error"]`` over all
  episodes that report it, whatever the variant (the indicator bounds the
  *maximum*, so every measured field counts; no interval).
* ``sim2real-loss`` — per skill (task), the fraction of counted paired
  episodes whose simulation twin succeeded (those report
  ``metrics["sim2real_loss"]``, 0 or 1) and whose reality proxy failed, with
  its Wilson 95 % interval (the per-episode loss is binary); the indicator is
  the **worst** skill, so every key skill has to meet the target.
* ``conditions`` — the number of distinct extreme working conditions (not in
  :data:`REFERENCE_CONDITIONS`) among the counted episodes of the
  extreme-environment tasks.
* ``scene-library`` and ``training-speed`` — not derivable from episodes;
  "not measured" unless given in ``extra_measurements`` (from the scene
  library and the throughput benchmark).
"""

from __future__ import annotations

import html
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metrics._atomic import atomic_path, atomic_text
from metrics.indicators import INDICATORS_BY_ID, Measurement, Score, score
from metrics.stats import success_rate, t_interval, wilson_interval
from metrics.store import EpisodeRecord, ResultsStore

# Base names (without namespace and version) of the tactile-manipulation tasks
# scored by the "tactile-success" indicator (clause 1.5: articulated objects and
# fragile grasping); every other task counts as an extreme-environment task.
TOUCH_TASKS: frozenset[str] = frozenset({"DoorOpen", "DrawerOpen", "LeverTurn", "FragileGrasp"})

# Conditions that are baselines, not extreme environments (the 1 g, daylight Earth
# reference of scenes.conditions); excluded from "task-success" and "conditions".
REFERENCE_CONDITIONS: frozenset[str] = frozenset({"earth-reference"})

# metrics[...] keys read by measurements_from_rows.
PERCEPTION_KEY = "perception_accuracy"
MARKER_ERROR_KEY = "marker_max_rel_error"
SIM2REAL_KEY = "sim2real_loss"

# Variant prefixes of runs that are not the evaluated system (see the module docstring).
ABLATION_PREFIX = "no-"
REALITY_PREFIX = "reality"

_VERSION_RE = re.compile(r"-v\d+$")


def is_counted_variant(variant: str) -> bool:
    """Whether episodes of ``variant`` count towards the indicators (not an ablation or reality proxy)."""
    return not (variant.startswith(ABLATION_PREFIX) or variant.startswith(REALITY_PREFIX))


def task_base_name(task_id: str) -> str:
    """``"embodisim/DoorOpen-v0"`` -> ``"DoorOpen"`` (namespace, module and version removed)."""
    name = task_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return _VERSION_RE.sub("", name)


@dataclass(frozen=True)
class GroupSummary:
    """Outcome of the episodes of one task x condition x policy x variant.

    Attributes:
        task: Task id.
        condition: Working condition.
        policy: Policy name.
        variant: Ablation tag (``""`` for the default).
        episodes: Number of episodes.
        success_rate: Fraction of successful episodes.
        ci_low: Lower end of the Wilson 95 % interval (fraction).
        ci_high: Upper end of the Wilson 95 % interval (fraction).
        sim_errors: Episodes that ended with a simulation/episode error.
        metrics: Mean of each named metric over the episodes where it is finite.
        metric_max: Largest value of each named metric (e.g. the marker error bound).
        loss: ``(reality failures, twin successes)`` of paired transfer episodes, or None.
    """

    task: str
    condition: str
    policy: str
    variant: str
    episodes: int
    success_rate: float
    ci_low: float
    ci_high: float
    sim_errors: int
    metrics: Mapping[str, float]
    metric_max: Mapping[str, float] = field(default_factory=dict)
    loss: tuple[int, int] | None = None


def _loss_counts(recs: Sequence[EpisodeRecord]) -> tuple[int, int] | None:
    """(reality failures, twin successes) of the records that report ``sim2real_loss``."""
    vals = _metric_values(recs, SIM2REAL_KEY)
    if not vals.size:
        return None
    return int(np.count_nonzero(vals > 0.5)), int(vals.size)


def summarize_rows(rows: Iterable[EpisodeRecord]) -> list[GroupSummary]:
    """Group episodes by task, condition, policy and variant, in first-seen order.

    Args:
        rows: Episode records.

    Returns:
        One :class:`GroupSummary` per group.
    """
    groups: dict[tuple[str, str, str, str], list[EpisodeRecord]] = defaultdict(list)
    for r in rows:
        groups[(r.task_id, r.condition, r.policy, r.variant)].append(r)
    out = []
    for (task, cond, policy, variant), recs in groups.items():
        rate = success_rate([r.success for r in recs])
        names = sorted({k for r in recs for k in r.metrics})
        means: dict[str, float] = {}
        maxima: dict[str, float] = {}
        for k in names:
            vals = _metric_values(recs, k)
            means[k] = float(vals.mean()) if vals.size else float("nan")
            maxima[k] = float(vals.max()) if vals.size else float("nan")
        out.append(
            GroupSummary(
                task=task,
                condition=cond,
                policy=policy,
                variant=variant,
                episodes=rate.n,
                success_rate=rate.value,
                ci_low=rate.low,
                ci_high=rate.high,
                sim_errors=sum(r.sim_error is not None for r in recs),
                metrics=means,
                metric_max=maxima,
                loss=_loss_counts(recs),
            )
        )
    return out


def _metric_values(rows: Sequence[EpisodeRecord], key: str) -> np.ndarray:
    vals = np.array([r.metrics[key] for r in rows if key in r.metrics], dtype=float)
    return vals[np.isfinite(vals)]


def measurements_from_rows(rows: Sequence[EpisodeRecord]) -> dict[str, Measurement | None]:
    """Derive indicator measurements from episode records (see the module docstring).

    Args:
        rows: Episode records, usually one store's.

    Returns:
        Indicator id -> measurement, ``None`` where the rows say nothing.
    """
    out: dict[str, Measurement | None] = {ind: None for ind in INDICATORS_BY_ID}
    default = [r for r in rows if is_counted_variant(r.variant)]
    extreme = [
        r
        for r in default
        if task_base_name(r.task_id) not in TOUCH_TASKS and r.condition not in REFERENCE_CONDITIONS
    ]
    touch = [r for r in default if task_base_name(r.task_id) in TOUCH_TASKS]
    for ind_id, subset, what in (
        ("task-success", extreme, "extreme-environment"),
        ("tactile-success", touch, "touch"),
    ):
        if subset:
            rate = success_rate([r.success for r in subset])
            tasks = sorted({task_base_name(r.task_id) for r in subset})
            out[ind_id] = Measurement(
                rate.value,
                rate.low,
                rate.high,
                rate.n,
                f"{rate.n} episodes of {what} tasks ({', '.join(tasks)}); Wilson 95 %",
            )
    vals = _metric_values(default, PERCEPTION_KEY)
    if vals.size:
        m = t_interval(vals)
        out["perception"] = Measurement(
            m.value, m.low, m.high, m.n,
            f"mean of metrics['{PERCEPTION_KEY}'] over {m.n} episodes; t 95 %",
        )
    by_skill: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for r in default:
        by_skill[task_base_name(r.task_id)].append(r)
    losses = {k: c for k, c in ((k, _loss_counts(v)) for k, v in sorted(by_skill.items())) if c}
    if losses:
        def rate(c: tuple[int, int]) -> float:
            return c[0] / c[1]

        worst = max(losses, key=lambda k: (rate(losses[k]), wilson_interval(*losses[k])[1]))
        k, n = losses[worst]
        low, high = wilson_interval(k, n)
        parts = "; ".join(f"{name} {c[0]}/{c[1]}" for name, c in losses.items())
        out["sim2real-loss"] = Measurement(
            rate(losses[worst]), low, high, n,
            f"worst skill {worst}: reality-proxy failures / simulation-twin successes "
            f"({parts}); Wilson 95 %",
        )
    marker = _metric_values(rows, MARKER_ERROR_KEY)
    if marker.size:
        out["marker-error"] = Measurement(
            float(marker.max()),
            n=int(marker.size),
            source=f"max of metrics['{MARKER_ERROR_KEY}'] over {marker.size} episodes",
        )
    conditions = sorted({r.condition for r in extreme})
    if conditions:
        out["conditions"] = Measurement(
            float(len(conditions)),
            n=len(extreme),
            source=f"distinct extreme conditions among {len(extreme)} episodes",
        )
    return out


def scores_for_rows(
    rows: Sequence[EpisodeRecord], extra_measurements: Mapping[str, Measurement] | None = None
) -> list[Score]:
    """Score the indicator table from rows; ``extra_measurements`` override derived values."""
    measured = measurements_from_rows(rows)
    measured.update(extra_measurements or {})
    return score(measured)


def format_value(value: float | None, unit: str) -> str:
    """Format a value for the report: fractions as percent, counts as integers."""
    if value is None or not math.isfinite(value):
        return "—"
    if unit == "fraction":
        return f"{100.0 * value:.1f} %"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


def _target_text(s: Score) -> str:
    return f"{s.indicator.comparison} {format_value(s.indicator.target, s.indicator.unit)}"


def _interval_text(s: Score) -> str:
    m = s.measurement
    if m is None or m.low is None or m.high is None:
        return "—"
    unit = s.indicator.unit
    return f"[{format_value(m.low, unit)}, {format_value(m.high, unit)}]"


def _clears_text(clears: bool | None) -> str:
    return {True: "yes", False: "no", None: "—"}[clears]


def indicator_table_markdown(scores: Sequence[Score]) -> str:
    """The scored indicator table as a Markdown table."""
    lines = [
        "| indicator | clause | value | 95 % interval | target | status | interval clears | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        m = s.measurement
        value = format_value(m.value if m else None, s.indicator.unit)
        status = {"pass": "**PASS**", "fail": "**FAIL**"}.get(s.status, s.status)
        lines.append(
            f"| {s.indicator.id} | {s.indicator.clause} | {value} | {_interval_text(s)} | "
            f"{_target_text(s)} | {status} | {_clears_text(s.interval_clears)} | "
            f"{m.source if m else ''} |"
        )
    return "\n".join(lines)


def _save_figure(fig: object, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]


def _bar_plot(
    labels: Sequence[str], rates: Sequence[tuple[float, float, float]], title: str, dest: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless; never needs a display
    import matplotlib.pyplot as plt

    values = np.array([r[0] for r in rates])
    err = np.array([[r[0] - r[1] for r in rates], [r[2] - r[0] for r in rates]])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(labels) + 2.0), 4.0))
    x = np.arange(len(labels))
    ax.bar(x, values, color="#4c78a8", yerr=err, capsize=4, ecolor="#333333")
    ax.axhline(0.9, color="#e45756", linestyle="--", linewidth=1, label="90 % target")
    ax.set_xticks(x, labels, rotation=35, ha="right")
    ax.set_ylim(0.0, 1.15)  # headroom for the legend above the bars
    ax.set_ylabel("success rate (Wilson 95 % interval)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    _save_figure(fig, dest)
    plt.close(fig)


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report`."""

    markdown: Path
    html: Path
    plots: tuple[Path, ...]


def _signal_cells(g: GroupSummary) -> tuple[str, str, str]:
    """Perception (mean), marker error (max) and transfer loss (k/n, Wilson) of a group."""
    perc = format_value(g.metrics.get(PERCEPTION_KEY), "fraction")
    marker = format_value(g.metric_max.get(MARKER_ERROR_KEY), "fraction")
    if g.loss is None:
        return perc, marker, "—"
    k, n = g.loss
    low, high = wilson_interval(k, n)
    loss = (f"{format_value(k / n, 'fraction')} ({k}/{n}) "
            f"[{format_value(low, 'fraction')}, {format_value(high, 'fraction')}]")
    return perc, marker, loss


def _rate_of(recs: Sequence[EpisodeRecord]) -> tuple[float, float, float]:
    r = success_rate([x.success for x in recs])
    return r.value, r.low, r.high


def write_report(
    db_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    extra_measurements: Mapping[str, Measurement] | None = None,
) -> ReportPaths:
    """Write ``report.md``, ``index.html`` and PNG plots for a results store.

    Args:
        db_path: The SQLite results store (must exist).
        out_dir: Output folder (created); images are referenced by relative path.
        extra_measurements: Measurements not derivable from episodes (scene
            library size, tactile step overhead); they override derived ones.

    Returns:
        The written paths.

    Raises:
        FileNotFoundError: If ``db_path`` does not exist.
    """
    db = Path(db_path)
    if not db.is_file():
        raise FileNotFoundError(f"--db {db} does not exist; run `embodisim evaluate --suite NAME` first")
    with ResultsStore(db) as store:
        rows = store.rows()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = scores_for_rows(rows, extra_measurements)
    groups = summarize_rows(rows)
    default = [r for r in rows if is_counted_variant(r.variant)]

    plots: list[Path] = []
    by_cond: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for r in default:
        by_cond[r.condition].append(r)
    if by_cond:
        names = sorted(by_cond)
        dest = out / "success_per_condition.png"
        _bar_plot(names, [_rate_of(by_cond[c]) for c in names], "Success per condition", dest)
        plots.append(dest)
    by_task: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for r in rows:
        label = task_base_name(r.task_id) + (f" [{r.variant}]" if r.variant else "")
        by_task[label].append(r)
    if by_task:
        names = sorted(by_task)
        dest = out / "success_per_task.png"
        _bar_plot(names, [_rate_of(by_task[t]) for t in names], "Success per task", dest)
        plots.append(dest)

    passed = sum(s.status == "pass" for s in scores)
    measured = sum(s.status != "not measured" for s in scores)
    headline = (
        f"{passed} of {len(scores)} indicators pass ({measured} measured); "
        f"{len(rows)} episodes in `{db.name}`."
    )
    group_lines = [
        "| task | condition | policy | variant | episodes | success | 95 % interval | sim errors "
        "| perception | marker error (max) | sim2real loss [95 %] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        group_lines.append(
            f"| {g.task} | {g.condition} | {g.policy} | {g.variant or '—'} | {g.episodes} | "
            f"{format_value(g.success_rate, 'fraction')} | "
            f"[{format_value(g.ci_low, 'fraction')}, {format_value(g.ci_high, 'fraction')}] | "
            f"{g.sim_errors} | {' | '.join(_signal_cells(g))} |"
        )
    md = "\n".join(
        [
            "# embodisim evaluation report",
            "",
            headline,
            "",
            "## Indicators",
            "",
            indicator_table_markdown(scores),
            "",
            "Status is judged on the point estimate; *interval clears* says whether the whole "
            "95 % interval is on the passing side of the target.",
            "",
            "## Episodes by task and condition",
            "",
            *group_lines,
            "",
            "## Plots",
            "",
            *[f"![{p.stem}]({p.name})" for p in plots],
            "",
        ]
    )
    md_path = out / "report.md"
    with atomic_text(md_path) as fh:
        fh.write(md)
    html_path = out / "index.html"
    with atomic_text(html_path) as fh:
        fh.write(_html(headline, scores, groups, plots))
    return ReportPaths(md_path, html_path, tuple(plots))


def _html(
    headline: str, scores: Sequence[Score], groups: Sequence[GroupSummary], plots: Sequence[Path]
) -> str:
    e = html.escape
    colour = {"pass": "#2e7d32", "fail": "#c62828", "not measured": "#757575"}
    ind_rows = []
    for s in scores:
        m = s.measurement
        ind_rows.append(
            "<tr>"
            f"<td>{e(s.indicator.id)}</td><td>{e(s.indicator.description)}</td>"
            f"<td>{e(s.indicator.clause)}</td>"
            f"<td>{e(format_value(m.value if m else None, s.indicator.unit))}</td>"
            f"<td>{e(_interval_text(s))}</td><td>{e(_target_text(s))}</td>"
            f'<td style="color:#fff;background:{colour[s.status]};font-weight:bold">'
            f"{e(s.status.upper())}</td>"
            f"<td>{e(_clears_text(s.interval_clears))}</td><td>{e(m.source if m else '')}</td>"
            "</tr>"
        )
    grp_rows = [
        "<tr>"
        f"<td>{e(g.task)}</td><td>{e(g.condition)}</td><td>{e(g.policy)}</td>"
        f"<td>{e(g.variant or '—')}</td><td>{g.episodes}</td>"
        f"<td>{e(format_value(g.success_rate, 'fraction'))}</td>"
        f"<td>[{e(format_value(g.ci_low, 'fraction'))}, {e(format_value(g.ci_high, 'fraction'))}]"
        f"</td><td>{g.sim_errors}</td>"
        + "".join(f"<td>{e(c)}</td>" for c in _signal_cells(g)) + "</tr>"
        for g in groups
    ]
    imgs = "".join(f'<p><img src="{e(p.name)}" alt="{e(p.stem)}"></p>' for p in plots)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>embodisim evaluation report</title>
<style>
body{{font-family:sans-serif;margin:2em;max-width:80em}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}
th{{background:#f0f0f0}}
</style></head><body>
<h1>embodisim evaluation report</h1>
<p>{e(headline)}</p>
<h2>Indicators</h2>
<table><tr><th>indicator</th><th>description</th><th>clause</th><th>value</th>
<th>95 % interval</th><th>target</th><th>status</th><th>interval clears</th><th>source</th></tr>
{"".join(ind_rows)}
</table>
<p>Status is judged on the point estimate; <em>interval clears</em> says whether the whole
95 % interval is on the passing side of the target.</p>
<h2>Episodes by task and condition</h2>
<table><tr><th>task</th><th>condition</th><th>policy</th><th>variant</th><th>episodes</th>
<th>success</th><th>95 % interval</th><th>sim errors</th><th>perception</th>
<th>marker error (max)</th><th>sim2real loss [95 %]</th></tr>
{"".join(grp_rows)}
</table>
<h2>Plots</h2>
{imgs}
</body></html>
"""
