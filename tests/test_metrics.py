from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from metrics.indicators import INDICATORS, INDICATORS_BY_ID, Measurement, score
from metrics.perception import fraction_within_tolerance, match_detections, precision_recall
from metrics.sim2real import rank_violations, sim_real_correlation, transfer_loss
from metrics.stats import bootstrap_ci, success_rate, t_interval, wilson_interval

# Newcombe, "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872 (1998), Table I, method 3 (Wilson score, no continuity correction).
NEWCOMBE = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE)
def test_wilson_matches_published_table(counts: tuple[int, int], expected: tuple[float, float]):
    low, high = wilson_interval(*counts)
    assert low == pytest.approx(expected[0], abs=5e-5)
    assert high == pytest.approx(expected[1], abs=5e-5)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (5, 10), (81, 100), (3, 7), (99, 100)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, confidence: float):
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert wilson_interval(k, n, confidence) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_edges_and_errors():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=95)


def test_success_rate():
    r = success_rate([True] * 9 + [False])
    assert (r.value, r.n) == (0.9, 10)
    assert (r.low, r.high) == wilson_interval(9, 10)
    assert np.isnan(success_rate([]).value)
    with pytest.raises(ValueError):
        success_rate([0, 2])


def test_bootstrap_coverage_sanity():
    # The percentile-bootstrap 90 % interval of a normal mean (n = 40) must cover the true
    # mean in roughly 90 % of repeated experiments; 200 repetitions -> sd of the observed
    # coverage ~ 2 %, so [0.80, 0.97] only fails if the interval is badly wrong.
    rng = np.random.default_rng(12345)
    covered = 0
    reps = 200
    for _ in range(reps):
        x = rng.normal(3.0, 2.0, size=40)
        low, high = bootstrap_ci(x, np.mean, rng, n_boot=400, confidence=0.9)
        covered += low <= 3.0 <= high
    assert 0.80 <= covered / reps <= 0.97


def test_bootstrap_is_reproducible_and_validates():
    x = np.arange(20.0)
    a = bootstrap_ci(x, np.median, np.random.default_rng(1), n_boot=500)
    b = bootstrap_ci(x, np.median, np.random.default_rng(1), n_boot=500)
    assert a == b
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(x, np.mean, np.random.default_rng(1), n_boot=5)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci(np.array([]), np.mean, np.random.default_rng(1))


def test_t_interval():
    r = t_interval([0.8, 0.9, 1.0, np.nan])
    assert r.n == 3 and r.value == pytest.approx(0.9)
    # t_{0.975, 2} = 4.3027; sem = 0.1 / sqrt(3)
    assert r.high - r.value == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)


def test_fraction_within_tolerance_counts_nan_as_miss():
    truth = np.zeros((5, 2))
    est = np.array([[0.1, 0.0], [0.0, 0.25], [np.nan, np.nan], [0.3, 0.4], [0.0, 0.0]])
    r = fraction_within_tolerance(est, truth, tolerance=0.3)
    # errors 0.1, 0.25, NaN (miss), 0.5 (miss), 0 -> 3 of 5
    assert r.value == pytest.approx(0.6) and r.n == 5
    scalar = fraction_within_tolerance(np.array([1.0, 2.0]), np.array([1.05, 3.0]), 0.1)
    assert scalar.value == 0.5
    with pytest.raises(ValueError, match="shape"):
        fraction_within_tolerance(np.zeros(3), np.zeros(4), 0.1)


def test_detection_matching():
    truth = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    det = np.array([[0.2, 0.0], [5.1, 0.1], [20.0, 0.0], [9.0, 0.0]])
    d = match_detections(det, truth, radius=0.5)
    # matched within 0.5 m: 2; the one at 9.0 is 1 m off -> FP, and object at 10 is FN
    assert (d.true_positives, d.false_positives, d.false_negatives) == (2, 2, 1)
    assert d.precision == 0.5 and d.recall == pytest.approx(2 / 3)
    assert d.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    empty = match_detections(np.zeros((0, 2)), truth, radius=1.0)
    assert empty.recall == 0.0 and np.isnan(empty.precision)
    with pytest.raises(ValueError, match="false_positives"):
        precision_recall(1, -1, 0)


def test_transfer_loss():
    rng = np.random.default_rng(7)
    sim = np.array([1] * 90 + [0] * 10)
    real = np.array([1] * 72 + [0] * 28)
    t = transfer_loss(sim, real, rng, n_boot=1000)
    assert t.loss == pytest.approx((0.9 - 0.72) / 0.9)
    assert t.low < t.loss < t.high
    assert (t.n_sim, t.n_real) == (100, 100)
    # The interval reflects both sides' sampling noise: with 100 episodes each the loss
    # of 0.2 is known only to about +-0.13 (normal approximation of the ratio).
    assert 0.1 < t.high - t.low < 0.4
    with pytest.raises(ValueError, match="undefined"):
        transfer_loss([0, 0], [1, 0], rng)


def test_correlation_and_rank_violations():
    sim = [0.9, 0.7, 0.5, 0.3]
    real = [0.8, 0.6, 0.55, 0.2]
    c = sim_real_correlation(sim, real)
    assert c.r == pytest.approx(np.corrcoef(sim, real)[0, 1])
    assert c.low < c.r < c.high and c.n == 4
    assert rank_violations(sim, real) == 0
    assert rank_violations(sim, [0.2, 0.6, 0.55, 0.8]) == 5  # 6 pairs, only (1,2) agrees
    assert rank_violations([1, 1, 2], [2, 1, 1]) == 1  # ties are not violations
    with pytest.raises(ValueError, match="at least 3"):
        sim_real_correlation([0.1, 0.2], [0.2, 0.3])


def test_indicator_table_matches_architecture():
    ids = [i.id for i in INDICATORS]
    assert ids == [
        "scene-library",
        "conditions",
        "perception",
        "task-success",
        "sim2real-loss",
        "marker-error",
        "tactile-success",
        "training-speed",
    ]
    assert INDICATORS_BY_ID["scene-library"].comparison == ">"
    assert INDICATORS_BY_ID["marker-error"].clause == "1.5 indicators"
    assert INDICATORS_BY_ID["task-success"].target == 0.90


def test_score_statuses_and_intervals():
    scores = {
        s.indicator.id: s
        for s in score(
            {
                "task-success": Measurement(0.92, low=0.85, high=0.96, n=100),
                "perception": Measurement(0.95, low=0.90, high=0.98),
                "sim2real-loss": Measurement(0.10, low=0.02, high=0.20),
                "marker-error": Measurement(0.35),
                "scene-library": Measurement(10_000),
                "conditions": Measurement(12),
                "training-speed": None,
            }
        )
    }
    assert scores["task-success"].status == "pass"
    assert scores["task-success"].interval_clears is False  # low 0.85 < 0.90
    assert scores["perception"].interval_clears is True  # low 0.90 >= 0.85
    assert scores["sim2real-loss"].status == "pass"
    assert scores["sim2real-loss"].interval_clears is False  # high 0.20 > 0.15
    assert scores["marker-error"].status == "fail" and scores["marker-error"].interval_clears is None
    assert scores["scene-library"].status == "fail"  # strictly more than 10,000 required
    assert scores["conditions"].status == "pass"
    assert scores["training-speed"].status == "not measured"
    assert scores["tactile-success"].status == "not measured"
    nan = score({"perception": Measurement(float("nan"))})
    assert nan[2].status == "not measured"
    with pytest.raises(ValueError, match="unknown indicator"):
        score({"speed": Measurement(1.0)})
