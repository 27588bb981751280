"""Transfer evaluation: the same policies in simulation and in a reality proxy.

Each policy runs ``episodes`` episodes (scenario seed = reset seed =
``base_seed + i``) on the simulation side (nominal, or randomized / calibrated)
and the same seeds on the reality-proxy side. The scores come from
:mod:`metrics` only: success rates with Wilson intervals
(``metrics.stats.success_rate``), the transfer loss ``(S_sim - S_real) / S_sim``
with its bootstrap interval (``metrics.sim2real.transfer_loss``) and, across
three or more policies, the Pearson correlation and rank violations
(``metrics.sim2real.sim_real_correlation`` / ``rank_violations``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from metrics.sim2real import rank_violations, sim_real_correlation, transfer_loss
from metrics.stats import success_rate
from sim2real.wrappers import make_env


@dataclass(frozen=True)
class EpisodeOutcome:
    """One episode of a transfer run.

    Attributes:
        policy: Policy name.
        side: ``"sim"`` or ``"reality"`` (the reality proxy).
        seed: Scenario and reset seed.
        success: ``evaluate()["success"]`` (False on a simulation error).
    """

    policy: str
    side: str
    seed: int
    success: bool


def run_episode(task_id: str, policy: str, seed: int, condition: str,
                env_kwargs: Mapping[str, Any], scenario_seed: int | None = None) -> bool:
    """Run one episode of a named reference policy; ``True`` on success.

    ``seed`` seeds ``reset`` and the policy, and the scene too unless
    ``scenario_seed`` is given.
    """
    from tasks.registry import make_policy

    scene = seed if scenario_seed is None else scenario_seed
    env = make_env(task_id, condition=condition, scenario_seed=scene, **dict(env_kwargs))
    try:
        pol = make_policy(task_id, policy, env)
        obs, info = env.reset(seed=seed)
        pol.reset(seed)
        while info.get("sim_error") is None:
            obs, _, terminated, truncated, info = env.step(pol.act(obs))
            if terminated or truncated:
                break
        return bool(env.unwrapped.evaluate()["success"]) and info.get("sim_error") is None
    finally:
        env.close()


@dataclass(frozen=True)
class PolicyTransfer:
    """Sim and reality-proxy success of one policy and its transfer loss."""

    policy: str
    s_sim: float
    s_sim_low: float
    s_sim_high: float
    s_real: float
    s_real_low: float
    s_real_high: float
    loss: float | None  # (S_sim - S_real) / S_sim; None when S_sim = 0
    loss_low: float | None
    loss_high: float | None
    n: int


@dataclass(frozen=True)
class TransferReport:
    """Result of :func:`evaluate_transfer`."""

    task: str
    condition: str
    reality: str
    sim_side: Mapping[str, Any]
    policies: tuple[PolicyTransfer, ...]
    correlation: float | None
    correlation_low: float | None
    correlation_high: float | None
    rank_violations: int | None
    episodes: tuple[EpisodeOutcome, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        out = asdict(self)
        out["sim_side"] = dict(self.sim_side)
        return out


def score(outcomes: Sequence[EpisodeOutcome], boot_seed: int = 0) -> tuple[
        tuple[PolicyTransfer, ...], tuple[float | None, float | None, float | None, int | None]]:
    """Score episode outcomes with :mod:`metrics` (per policy, then across policies).

    Args:
        outcomes: Episodes of both sides.
        boot_seed: Seed of the bootstrap generator (one per policy, in order).

    Returns:
        Per-policy transfers and ``(r, r_low, r_high, rank_violations)`` (``None``
        with fewer than 3 policies or constant scores).
    """
    names = list(dict.fromkeys(o.policy for o in outcomes))
    per: list[PolicyTransfer] = []
    rng = np.random.default_rng(boot_seed)
    for name in names:
        sim = [o.success for o in outcomes if o.policy == name and o.side == "sim"]
        real = [o.success for o in outcomes if o.policy == name and o.side == "reality"]
        rs, rr = success_rate(sim), success_rate(real)
        loss = transfer_loss(sim, real, rng) if rs.value > 0 else None
        per.append(PolicyTransfer(
            name, rs.value, rs.low, rs.high, rr.value, rr.low, rr.high,
            None if loss is None else loss.loss, None if loss is None else loss.low,
            None if loss is None else loss.high, rs.n,
        ))
    sims = [p.s_sim for p in per]
    reals = [p.s_real for p in per]
    corr: tuple[float | None, float | None, float | None, int | None] = (None, None, None, None)
    if len(per) >= 2:
        viol = rank_violations(sims, reals)
        try:
            c = sim_real_correlation(sims, reals)
            corr = (c.r, c.low, c.high, viol)
        except ValueError:  # < 3 policies or constant scores: correlation undefined
            corr = (None, None, None, viol)
    return tuple(per), corr


def evaluate_transfer(
    task_id: str,
    policies: Sequence[str],
    reality: str,
    episodes: int,
    condition: str = "lunar-mare-day",
    randomization: str | None = None,
    calibration: Mapping[str, float] | None = None,
    base_seed: int = 0,
    boot_seed: int = 0,
) -> TransferReport:
    """Run every policy on both sides and score the transfer.

    Args:
        task_id: Registered task id.
        policies: Reference policy names of the task.
        reality: Reality-proxy profile name.
        episodes: Episodes per policy and side (>= 1).
        condition: Working condition.
        randomization: Randomization of the sim side (``None``: nominal).
        calibration: Identified values of the sim side (``None``: nominal).
        base_seed: First seed.
        boot_seed: Seed of the bootstrap intervals.

    Returns:
        The :class:`TransferReport`.

    Raises:
        ValueError: On ``episodes < 1`` or no policies.
    """
    if episodes < 1:
        raise ValueError(f"--episodes {episodes}; expected >= 1")
    if not policies:
        raise ValueError("--policy: give at least one policy name")
    sim_kwargs: dict[str, Any] = {}
    if randomization is not None:
        sim_kwargs["randomization"] = randomization
    if calibration is not None:
        sim_kwargs["calibration"] = dict(calibration)
    outcomes: list[EpisodeOutcome] = []
    for name in policies:
        for i in range(episodes):
            seed = base_seed + i
            kw = dict(sim_kwargs)
            if randomization is not None:
                kw["randomization_seed"] = seed
            outcomes.append(EpisodeOutcome(name, "sim", seed,
                                           run_episode(task_id, name, seed, condition, kw)))
            outcomes.append(EpisodeOutcome(
                name, "reality", seed,
                run_episode(task_id, name, seed, condition, {"reality": reality})))
    per, (r, lo, hi, viol) = score(outcomes, boot_seed)
    return TransferReport(
        task=task_id,
        condition=condition,
        reality=reality,
        sim_side={"randomization": randomization, "calibration": dict(calibration or {})},
        policies=per,
        correlation=r,
        correlation_low=lo,
        correlation_high=hi,
        rank_violations=viol,
        episodes=tuple(outcomes),
    )


@dataclass(frozen=True)
class VariantTransfer:
    """Transfer scores of one (task, condition, policy, variant) group of paired episodes.

    Attributes:
        task: Task id of the pair env.
        condition: Working condition.
        policy: Policy name.
        variant: Pipeline variant (``""`` = the full pipeline).
        n: Paired episodes.
        s_sim: Success of the simulation twins, with its Wilson interval.
        s_real: Success on the reality proxy, with its Wilson interval.
        loss: Unpaired ``(S_sim - S_real) / S_sim`` with its bootstrap interval
            (``metrics.sim2real.transfer_loss``); ``None`` when ``S_sim = 0``.
        paired_loss: Mean of ``metrics["sim2real_loss"]`` (what the indicator
            averages) with its t interval; ``None`` when no twin succeeded.
    """

    task: str
    condition: str
    policy: str
    variant: str
    n: int
    s_sim: tuple[float, float, float]
    s_real: tuple[float, float, float]
    loss: tuple[float, float, float] | None
    paired_loss: tuple[float, float, float] | None


def score_store(db: str, suite: str = "sim2real", boot_seed: int = 0) -> list[VariantTransfer]:
    """Score the paired episodes of a results store per pipeline variant with :mod:`metrics`.

    Args:
        db: Results store written by ``embodisim evaluate --suite sim2real``.
        suite: Suite name in the store.
        boot_seed: Seed of the bootstrap intervals.

    Returns:
        One :class:`VariantTransfer` per group, in first-seen order.
    """
    from collections import defaultdict

    from metrics.stats import t_interval
    from metrics.store import ResultsStore

    with ResultsStore(db) as store:
        rows = store.rows(suite)
    groups: dict[tuple[str, str, str, str], list[Any]] = defaultdict(list)
    for r in rows:
        if "sim_success" in r.metrics:
            groups[(r.task_id, r.condition, r.policy, r.variant)].append(r)
    rng = np.random.default_rng(boot_seed)
    out = []
    for (task, cond, policy, variant), recs in groups.items():
        sim = [bool(r.metrics["sim_success"]) for r in recs]
        real = [bool(r.success) for r in recs]
        rs, rr = success_rate(sim), success_rate(real)
        loss = None
        if rs.value > 0:
            tl = transfer_loss(sim, real, rng)
            loss = (tl.loss, tl.low, tl.high)
        paired = [r.metrics["sim2real_loss"] for r in recs if "sim2real_loss" in r.metrics]
        pl = None
        if paired:
            ti = t_interval(np.asarray(paired, dtype=float))
            pl = (ti.value, ti.low, ti.high)
        out.append(VariantTransfer(task, cond, policy, variant, len(recs),
                                   (rs.value, rs.low, rs.high), (rr.value, rr.low, rr.high),
                                   loss, pl))
    return out
