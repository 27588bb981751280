"""Pure metrics on arrays and episode records: no MuJoCo, usable on real-robot data.

Modules: ``stats`` (Wilson/bootstrap/t intervals), ``field`` (marker
displacement-field error), ``perception`` (accuracy, detection
precision/recall), ``sim2real`` (transfer loss, correlation, rank
violations), ``indicators`` (the guide's indicator table and scoring),
``store`` (SQLite episode records) and ``report`` (Markdown/HTML report).
"""

from __future__ import annotations

from metrics.field import FieldError, max_relative_error
from metrics.indicators import INDICATORS, Indicator, Measurement, Score, score
from metrics.stats import Rate, bootstrap_ci, success_rate, wilson_interval
from metrics.store import EpisodeRecord, ResultsStore

__all__ = [
    "INDICATORS",
    "EpisodeRecord",
    "FieldError",
    "Indicator",
    "Measurement",
    "Rate",
    "ResultsStore",
    "Score",
    "bootstrap_ci",
    "max_relative_error",
    "score",
    "success_rate",
    "wilson_interval",
]
