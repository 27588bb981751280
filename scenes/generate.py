"""Draw valid scenes: sample from a condition, build, settle-check, resample if invalid.

Scene ``seed`` of a condition is a deterministic function of (condition, seed):
attempt ``k`` draws from ``numpy.random.default_rng([seed, k])`` and the first
attempt that passes the settle check is kept. Rejected attempts are returned
with their reasons, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scenes.conditions import get_condition
from scenes.settle import SettleReport, settle_check
from scenes.spec import DemRef, ScenarioSpec

MAX_ATTEMPTS = 25


@dataclass(frozen=True)
class Generated:
    """A valid scene and how it was found."""

    spec: ScenarioSpec  # the kept scene
    report: SettleReport  # its (passing) settle report
    attempt: int  # index of the kept attempt
    rejected: tuple[tuple[int, tuple[str, ...]], ...] = field(default=())  # (attempt, reasons)


class GenerationError(RuntimeError):
    """No valid scene within the attempt budget."""


def attempt_spec(
    condition: str, seed: int, attempt: int, dem: DemRef | None = None
) -> ScenarioSpec:
    """Spec of attempt ``attempt`` of scene seed ``seed``: what generation tried, validation re-derives.

    ``condition.sample(default_rng([seed, attempt]))``; with a DEM the same
    generator then places the scene on the DEM (``scenes.dem.place_on_dem``).
    """
    rng = np.random.default_rng([seed, attempt])
    spec = get_condition(condition).sample(rng)
    if dem is not None:
        from scenes.dem import place_on_dem

        spec = place_on_dem(spec, dem, rng)
    return spec


def generate(condition: str, seed: int, max_attempts: int = MAX_ATTEMPTS,
             dem: DemRef | None = None) -> Generated:
    """First valid scene of ``condition`` for ``seed`` (see module docstring).

    Args:
        condition: Working-condition name.
        seed: Scene seed (>= 0).
        max_attempts: Attempt budget.
        dem: Optional real DEM every attempt is placed on (its terrain base).
    """
    get_condition(condition)  # unknown names fail here, naming the known ones
    if seed < 0:
        raise ValueError(f"seed: got {seed}; accepted: an integer >= 0")
    rejected: list[tuple[int, tuple[str, ...]]] = []
    for k in range(max_attempts):
        spec = attempt_spec(condition, seed, k, dem)
        report = settle_check(spec)
        if report.valid:
            return Generated(spec, report, k, tuple(rejected))
        rejected.append((k, report.reasons))
    where = "" if dem is None else f" on DEM {dem.path}"
    raise GenerationError(
        f"condition {condition!r} seed {seed}{where}: no valid scene in {max_attempts} attempts; "
        f"last reasons: {list(rejected[-1][1])}"
    )


def resolve_scenario(condition: str | None, scenario_seed: int,
                     scenario: ScenarioSpec | None) -> ScenarioSpec:
    """The scene an environment runs.

    ``scenario`` if given, else scene ``scenario_seed`` of ``condition`` (see :func:`generate`).
    """
    if scenario is not None:
        return scenario
    if condition is None:
        raise ValueError("condition: give a condition name or an explicit scenario")
    return generate(condition, scenario_seed).spec
