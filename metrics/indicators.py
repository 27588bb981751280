"""The indicator table of the guide's clauses 1.4 and 1.5, as data, and its scoring.

Each :class:`Indicator` cites the clause it comes from (see
``shared/GUIDE.md``). :func:`score` compares measured values with the targets
and says, besides pass/fail on the point estimate, whether the *whole*
confidence interval clears the target: a 0.91 success rate over 20 episodes
passes on the point estimate but not with confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Comparison = Literal[">", ">=", "<="]
Status = Literal["pass", "fail", "not measured"]


@dataclass(frozen=True)
class Indicator:
    """One indicator of the guide.

    Attributes:
        id: Short stable identifier, e.g. ``"task-success"``.
        description: What is measured, in words.
        target: The threshold, in ``unit``.
        comparison: How a measured value must relate to ``target``.
        unit: Unit of the value and target (``"fraction"`` for rates).
        clause: The guide's clause it comes from.
    """

    id: str
    description: str
    target: float
    comparison: Comparison
    unit: str
    clause: str


# The table (ARCHITECTURE.md "The indicators it is measured against"; GUIDE.md 1.4/1.5).
INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "scene-library",
        "size of a generated, validated physics-grounded scene library",
        10_000,
        ">",
        "scenes",
        "1.4 indicators",
    ),
    Indicator(
        "conditions",
        "typical low-gravity / low-light working conditions simulated",
        10,
        ">=",
        "conditions",
        "1.4 indicators",
    ),
    Indicator(
        "perception",
        "closed-loop perception accuracy (fraction of frames within tolerance)",
        0.85,
        ">=",
        "fraction",
        "1.4 indicators",
    ),
    Indicator(
        "task-success",
        "core task success rate in closed-loop simulation (extreme environments)",
        0.90,
        ">=",
        "fraction",
        "1.4 indicators",
    ),
    Indicator(
        "sim2real-loss",
        "relative loss of a key skill's success from sim to reality, (S_sim - S_real) / S_sim",
        0.15,
        "<=",
        "fraction",
        "1.4 indicators",
    ),
    Indicator(
        "marker-error",
        "max relative error of the marker displacement field vs a reference",
        0.30,
        "<=",
        "fraction",
        "1.5 indicators",
    ),
    Indicator(
        "tactile-success",
        "success operating articulated objects and compliantly grasping fragile objects",
        0.90,
        ">=",
        "fraction",
        "1.5 indicators",
    ),
    Indicator(
        "training-speed",
        "env step slow-down caused by tactile sensing ('basically none')",
        0.10,
        "<=",
        "fraction",
        "1.5 indicators",
    ),
)

INDICATORS_BY_ID: Mapping[str, Indicator] = {ind.id: ind for ind in INDICATORS}


@dataclass(frozen=True)
class Measurement:
    """A measured value for an indicator.

    Attributes:
        value: Point estimate, in the indicator's unit.
        low: Lower end of its confidence interval, if known.
        high: Upper end of its confidence interval, if known.
        n: Number of samples (episodes, frames) behind it, if meaningful.
        source: Where it comes from (suite, database, benchmark), for the report.
    """

    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Score:
    """An indicator scored against a measurement.

    Attributes:
        indicator: The indicator.
        measurement: What was measured, or ``None``.
        status: ``"pass"`` / ``"fail"`` on the point estimate, or
            ``"not measured"``.
        interval_clears: Whether the whole interval is on the right side of
            the target (``low`` for ``>``/``>=``, ``high`` for ``<=``);
            ``None`` when there is no interval.
    """

    indicator: Indicator
    measurement: Measurement | None
    status: Status
    interval_clears: bool | None


def meets(value: float, target: float, comparison: Comparison) -> bool:
    """Whether ``value`` satisfies ``value <comparison> target``.

    Args:
        value: The measured value.
        target: The threshold.
        comparison: One of ``">"``, ``">="``, ``"<="``.

    Returns:
        The truth of the comparison.

    Raises:
        ValueError: On an unknown comparison.
    """
    if comparison == ">":
        return value > target
    if comparison == ">=":
        return value >= target
    if comparison == "<=":
        return value <= target
    raise ValueError(f"comparison={comparison!r}; expected one of '>', '>=', '<='")


def score(
    measured: Mapping[str, Measurement | None],
    indicators: tuple[Indicator, ...] = INDICATORS,
) -> list[Score]:
    """Score every indicator against the measured values.

    Args:
        measured: Indicator id -> measurement; a missing id, ``None`` or a
            non-finite value means "not measured".
        indicators: The table to score (default: the guide's).

    Returns:
        One :class:`Score` per indicator, in table order.

    Raises:
        ValueError: If ``measured`` names an id that is not in the table.
    """
    known = {ind.id for ind in indicators}
    unknown = sorted(set(measured) - known)
    if unknown:
        raise ValueError(f"unknown indicator id(s) {unknown}; known ids: {sorted(known)}")
    out: list[Score] = []
    for ind in indicators:
        m = measured.get(ind.id)
        if m is None or not math.isfinite(m.value):
            out.append(Score(ind, m, "not measured", None))
            continue
        status: Status = "pass" if meets(m.value, ind.target, ind.comparison) else "fail"
        bound = m.high if ind.comparison == "<=" else m.low
        clears = None
        if bound is not None and math.isfinite(bound):
            clears = meets(bound, ind.target, ind.comparison)
        out.append(Score(ind, m, status, clears))
    return out
