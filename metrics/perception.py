"""Perception accuracy: estimates within tolerance, detection precision/recall.

Clause 1.4 ("1.4 indicators") asks for closed-loop perception accuracy of at
least 85 %. embodisim measures it as the fraction of evaluated frames whose
estimate (of a goal, a target, a hazard) lies within a stated tolerance of the
truth; for detections, as precision and recall after one-to-one matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from metrics.stats import DEFAULT_CONFIDENCE, Rate, success_rate


def fraction_within_tolerance(
    estimates: np.ndarray,
    truth: np.ndarray,
    tolerance: float,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Rate:
    """Fraction of frames whose estimate lies within ``tolerance`` of the truth.

    The error of a frame is the Euclidean norm of ``estimate - truth`` (or the
    absolute difference for scalar estimates). A frame whose estimate holds a
    NaN (the perception module produced no estimate, e.g. the target was not
    found in a dark image) counts as a **miss**, not as a skipped frame: a
    perception system that gives up must not score higher for it.

    Args:
        estimates: ``(F,)`` scalar or ``(F, D)`` vector estimates, in the unit
            of ``truth`` (e.g. metres for positions).
        truth: Ground truth with the same shape; must be finite.
        tolerance: Largest error that counts as correct, same unit (> 0).
        confidence: Confidence level of the Wilson interval.

    Returns:
        The fraction correct with its Wilson interval, over all ``F`` frames.

    Raises:
        ValueError: On a shape mismatch, non-finite truth or bad tolerance.
    """
    est = np.asarray(estimates, dtype=float)
    tru = np.asarray(truth, dtype=float)
    if est.shape != tru.shape or est.ndim not in (1, 2):
        raise ValueError(
            f"estimates has shape {est.shape} and truth has shape {tru.shape}; expected the "
            "same shape, (F,) or (F, D)"
        )
    if not (np.isfinite(tolerance) and tolerance > 0.0):
        raise ValueError(f"tolerance={tolerance!r}; expected a finite value > 0")
    if not np.all(np.isfinite(tru)):
        raise ValueError("truth holds non-finite values; ground truth must be finite")
    diff = est - tru
    err = np.abs(diff) if est.ndim == 1 else np.linalg.norm(diff, axis=-1)
    # NaN errors compare False, i.e. they are misses (see docstring).
    hits = err <= tolerance
    return success_rate(hits, confidence)


@dataclass(frozen=True)
class Detection:
    """Detection quality after one-to-one matching.

    Attributes:
        true_positives: Detections matched to a true object.
        false_positives: Detections matched to nothing.
        false_negatives: True objects left unmatched.
        precision: ``TP / (TP + FP)`` (fraction); ``nan`` with no detection.
        recall: ``TP / (TP + FN)`` (fraction); ``nan`` with no true object.
        f1: Harmonic mean of precision and recall; ``nan`` if either is.
    """

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float


def precision_recall(true_positives: int, false_positives: int, false_negatives: int) -> Detection:
    """Precision, recall and F1 from detection counts.

    Args:
        true_positives: Correct detections (>= 0).
        false_positives: Spurious detections (>= 0).
        false_negatives: Missed objects (>= 0).

    Returns:
        The :class:`Detection`.

    Raises:
        ValueError: If a count is negative.
    """
    for name, v in (
        ("true_positives", true_positives),
        ("false_positives", false_positives),
        ("false_negatives", false_negatives),
    ):
        if v < 0:
            raise ValueError(f"{name}={v!r}; counts must be >= 0")
    tp, fp, fn = int(true_positives), int(false_positives), int(false_negatives)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    if np.isnan(precision) or np.isnan(recall):
        f1 = float("nan")
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Detection(tp, fp, fn, precision, recall, f1)


def match_detections(detected: np.ndarray, truth: np.ndarray, radius: float) -> Detection:
    """Match detected to true object positions one-to-one and score them.

    The matching minimises the total distance (Hungarian algorithm,
    ``scipy.optimize.linear_sum_assignment``); a matched pair farther apart
    than ``radius`` is not a hit (its detection is a false positive and its
    object a false negative).

    Args:
        detected: ``(P, D)`` detected positions (e.g. metres); ``P`` may be 0.
        truth: ``(T, D)`` true positions, same unit; ``T`` may be 0.
        radius: Largest distance of a correct match, same unit (> 0).

    Returns:
        The counts with precision, recall and F1.

    Raises:
        ValueError: On mismatched dimensions or a bad radius.
    """
    if not (np.isfinite(radius) and radius > 0.0):
        raise ValueError(f"radius={radius!r}; expected a finite value > 0")
    det = np.asarray(detected, dtype=float)
    tru = np.asarray(truth, dtype=float)
    if det.ndim != 2 or tru.ndim != 2 or (det.size and tru.size and det.shape[1] != tru.shape[1]):
        raise ValueError(
            f"detected has shape {det.shape} and truth has shape {tru.shape}; positions must "
            "have the same dimension"
        )
    tp = 0
    if det.shape[0] and tru.shape[0]:
        dist = cdist(det, tru)
        rows, cols = linear_sum_assignment(dist)
        tp = int(np.count_nonzero(dist[rows, cols] <= radius))
    return precision_recall(tp, det.shape[0] - tp, tru.shape[0] - tp)
