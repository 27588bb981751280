"""Success rates with confidence intervals, and bootstrap intervals.

Pure functions on arrays: they score simulated episodes and real-robot trials
alike. Rates are fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _stats

# Default two-sided confidence level of every interval in embodisim (fraction).
DEFAULT_CONFIDENCE: float = 0.95


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r}; expected a fraction in (0, 1), e.g. 0.95")


@dataclass(frozen=True)
class Rate:
    """A success rate with its confidence interval.

    Attributes:
        value: Point estimate ``successes / n`` (fraction); ``nan`` when n = 0.
        low: Lower end of the interval (fraction).
        high: Upper end of the interval (fraction).
        n: Number of trials.
    """

    value: float
    low: float
    high: float
    n: int


def wilson_interval(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with
    ``p = successes / n`` and ``z`` the two-sided normal quantile (Wilson,
    JASA 22(158):209-212, 1927; recommended over the Wald interval by Brown,
    Cai & DasGupta, Statistical Science 16(2):101-133, 2001). Unlike the Wald
    interval it stays inside [0, 1] and is not degenerate at 0/n or n/n.

    Args:
        successes: Number of successes, ``0 <= successes <= n``.
        n: Number of trials, ``n >= 0``. With ``n = 0`` nothing is known and
            the interval is the whole ``(0.0, 1.0)``.
        confidence: Two-sided confidence level (fraction in (0, 1)).

    Returns:
        ``(low, high)`` as fractions.

    Raises:
        ValueError: If the counts or the confidence level are out of range.
    """
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"successes={successes!r}, n={n!r}; expected integers with 0 <= successes <= n")
    if n == 0:
        return 0.0, 1.0
    z = float(_stats.norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    # At 0/n and n/n the bounds are exactly 0 and 1; set them so round-off does not.
    low = 0.0 if successes == 0 else float(max(0.0, centre - half))
    high = 1.0 if successes == n else float(min(1.0, centre + half))
    return low, high


def success_rate(successes: Sequence[bool] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
    """Success rate of a set of trials with its Wilson interval.

    Args:
        successes: One boolean (or 0/1) per trial.
        confidence: Two-sided confidence level (fraction in (0, 1)).

    Returns:
        The :class:`Rate`; ``value`` is ``nan`` and the interval ``(0, 1)``
        for an empty input.

    Raises:
        ValueError: If an entry is not 0/1 or boolean.
    """
    arr = np.asarray(successes).ravel()
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        raise ValueError("successes must hold booleans or 0/1 values, one per trial")
    n = int(arr.size)
    k = int(np.count_nonzero(arr))
    low, high = wilson_interval(k, n, confidence)
    return Rate(value=k / n if n else float("nan"), low=low, high=high, n=n)


def bootstrap_ci(
    values: np.ndarray | Sequence[float] | tuple[np.ndarray, ...],
    statistic: Callable[..., float],
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic (``scipy.stats.bootstrap``).

    Each sample is resampled with replacement independently of the others
    (``paired=False``), so a two-sample statistic such as the Sim2Real loss
    resamples the simulated and the real episodes separately. The percentile
    method is used because it tolerates the discrete, often degenerate
    (all-success) samples of episode outcomes, where BCa is undefined.

    Args:
        values: One 1-D sample, or a *tuple* of 1-D samples for a
            multi-sample statistic (a tuple always means several samples).
        statistic: ``statistic(*samples) -> float``; called on resamples.
            Resamples where it returns a non-finite value are dropped.
        rng: The generator that draws the resamples.
        n_boot: Number of bootstrap resamples (>= 100).
        confidence: Two-sided confidence level (fraction in (0, 1)).

    Returns:
        ``(low, high)`` in the statistic's unit; ``(nan, nan)`` when no
        resample gives a finite value.

    Raises:
        ValueError: On an empty sample, a bad ``n_boot`` or confidence level.
    """
    _check_confidence(confidence)
    if n_boot < 100:
        raise ValueError(f"n_boot={n_boot!r}; expected >= 100 resamples (2000 is typical)")
    samples = values if isinstance(values, tuple) else (values,)
    data = tuple(np.asarray(s, dtype=float).ravel() for s in samples)
    for i, s in enumerate(data):
        if s.size == 0:
            raise ValueError(f"sample {i} is empty; a bootstrap needs at least one value")
    # scipy.stats.bootstrap gives the resampled statistics; taking percentiles of the
    # finite ones ourselves keeps a rare undefined resample (e.g. S_sim = 0) from
    # turning the whole interval into nan.
    res = _stats.bootstrap(
        data,
        lambda *s: statistic(*s),
        n_resamples=n_boot,
        vectorized=False,
        paired=False,
        confidence_level=confidence,
        method="percentile",
        rng=rng,
    )
    boot = np.asarray(res.bootstrap_distribution, dtype=float)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(low), float(high)


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
    """Mean of a sample with its Student-t confidence interval.

    Used for per-episode fractions such as perception accuracy, where the
    quantity is a mean of bounded values rather than a count of successes.

    Args:
        values: The sample; non-finite entries are ignored.
        confidence: Two-sided confidence level (fraction in (0, 1)).

    Returns:
        A :class:`Rate` with the mean and interval in the values' unit;
        ``low == high == value`` when fewer than two finite values exist
        (no spread can be estimated), ``nan`` everywhere for none.
    """
    _check_confidence(confidence)
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    n = int(arr.size)
    if n == 0:
        return Rate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(arr.mean())
    if n < 2 or np.all(arr == arr[0]):
        return Rate(mean, mean, mean, n)
    low, high = _stats.t.interval(confidence, n - 1, loc=mean, scale=_stats.sem(arr))
    return Rate(mean, float(low), float(high), n)
