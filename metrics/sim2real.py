"""Sim2Real transfer metrics: relative loss, sim-vs-reality correlation, ranks.

Clause 1.4 ("1.4 indicators") bounds the Sim2Real key-skill transfer loss by
15 %. Here "real" / "reality" means the outcomes measured on the real side of
the transfer: a real robot where one exists, and usually a *reality proxy*
(a simulator with a held-out reality-gap profile, see ``sim2real/``). These
functions do not care which; the report names the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as _stats

from metrics.stats import DEFAULT_CONFIDENCE, bootstrap_ci


@dataclass(frozen=True)
class TransferLoss:
    """Relative loss of a skill's success from simulation to reality.

    Attributes:
        loss: ``(S_sim - S_real) / S_sim`` (fraction; negative when reality
            does better).
        low: Lower end of the bootstrap interval (fraction).
        high: Upper end of the bootstrap interval (fraction).
        s_sim: Success rate in simulation (fraction).
        s_real: Success rate in reality or its proxy (fraction).
        n_sim: Simulated episodes.
        n_real: Reality episodes.
    """

    loss: float
    low: float
    high: float
    s_sim: float
    s_real: float
    n_sim: int
    n_real: int


def _loss(sim: np.ndarray, real: np.ndarray) -> float:
    s_sim = float(np.mean(sim))
    return (s_sim - float(np.mean(real))) / s_sim if s_sim > 0.0 else float("nan")


def transfer_loss(
    succ_sim: Sequence[bool] | np.ndarray,
    succ_real: Sequence[bool] | np.ndarray,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = DEFAULT_CONFIDENCE,
) -> TransferLoss:
    """Sim2Real loss ``(S_sim - S_real) / S_sim`` with a bootstrap interval.

    The interval is a percentile bootstrap that resamples the simulated and
    the reality episodes independently (they are independent experiments);
    resamples with ``S_sim = 0``, where the loss is undefined, are dropped.

    Args:
        succ_sim: One success flag per simulated episode.
        succ_real: One success flag per reality (or reality-proxy) episode.
        rng: Generator for the bootstrap resamples.
        n_boot: Number of bootstrap resamples.
        confidence: Two-sided confidence level (fraction in (0, 1)).

    Returns:
        The :class:`TransferLoss`.

    Raises:
        ValueError: If a side is empty or the simulated success rate is 0
            (no skill to lose: the loss is undefined).
    """
    sim = np.asarray(succ_sim, dtype=float).ravel()
    real = np.asarray(succ_real, dtype=float).ravel()
    if sim.size == 0 or real.size == 0:
        raise ValueError(
            f"succ_sim has {sim.size} and succ_real has {real.size} episodes; both sides need "
            "at least one episode"
        )
    s_sim = float(sim.mean())
    if s_sim == 0.0:
        raise ValueError(
            "succ_sim has success rate 0; the transfer loss (S_sim - S_real) / S_sim is "
            "undefined. Evaluate a policy that succeeds in simulation first."
        )
    low, high = bootstrap_ci((sim, real), _loss, rng, n_boot=n_boot, confidence=confidence)
    return TransferLoss(
        loss=_loss(sim, real),
        low=low,
        high=high,
        s_sim=s_sim,
        s_real=float(real.mean()),
        n_sim=int(sim.size),
        n_real=int(real.size),
    )


@dataclass(frozen=True)
class Correlation:
    """Pearson correlation of per-policy scores in simulation and reality.

    Attributes:
        r: Pearson correlation coefficient (dimensionless, [-1, 1]).
        pvalue: Two-sided p-value of ``r = 0``.
        low: Lower end of the confidence interval of ``r`` (Fisher z).
        high: Upper end of the confidence interval of ``r`` (Fisher z).
        n: Number of policies.
    """

    r: float
    pvalue: float
    low: float
    high: float
    n: int


def sim_real_correlation(
    sim_scores: Sequence[float] | np.ndarray,
    real_scores: Sequence[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Correlation:
    """Pearson correlation between policies' sim and reality scores.

    A simulator that predicts reality well ranks and scales policies as
    reality does: ``r`` near 1 (``scipy.stats.pearsonr``).

    Args:
        sim_scores: One score per policy in simulation (e.g. success rate).
        real_scores: The same policies' scores in reality, same order.
        confidence: Confidence level of the Fisher-z interval.

    Returns:
        The :class:`Correlation`.

    Raises:
        ValueError: With fewer than 3 policies (two points always correlate
            perfectly), mismatched lengths, or a constant score list.
    """
    sim = np.asarray(sim_scores, dtype=float).ravel()
    real = np.asarray(real_scores, dtype=float).ravel()
    if sim.shape != real.shape:
        raise ValueError(
            f"sim_scores has {sim.size} and real_scores has {real.size} entries; give one "
            "score per policy on each side, in the same order"
        )
    if sim.size < 3:
        raise ValueError(f"{sim.size} policies given; a correlation needs at least 3")
    if np.all(sim == sim[0]) or np.all(real == real[0]):
        raise ValueError("a score list is constant; the correlation is undefined")
    res = _stats.pearsonr(sim, real)
    ci = res.confidence_interval(confidence_level=confidence)
    return Correlation(
        r=float(res.statistic),
        pvalue=float(res.pvalue),
        low=float(ci.low),
        high=float(ci.high),
        n=int(sim.size),
    )


def rank_violations(
    sim_scores: Sequence[float] | np.ndarray, real_scores: Sequence[float] | np.ndarray
) -> int:
    """Count policy pairs that simulation and reality order oppositely.

    A pair ``(i, j)`` is a violation when ``sim_i > sim_j`` and
    ``real_i < real_j`` or vice versa (a discordant pair in Kendall's sense).
    A pair tied on either side is not a violation.

    Args:
        sim_scores: One score per policy in simulation.
        real_scores: The same policies' scores in reality, same order.

    Returns:
        The number of discordant pairs, between 0 and ``n (n - 1) / 2``.

    Raises:
        ValueError: On mismatched lengths.
    """
    sim = np.asarray(sim_scores, dtype=float).ravel()
    real = np.asarray(real_scores, dtype=float).ravel()
    if sim.shape != real.shape:
        raise ValueError(
            f"sim_scores has {sim.size} and real_scores has {real.size} entries; give one "
            "score per policy on each side, in the same order"
        )
    return sum(
        1
        for i, j in combinations(range(sim.size), 2)
        if np.sign(sim[i] - sim[j]) * np.sign(real[i] - real[j]) < 0
    )
