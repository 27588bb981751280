"""Temporal fusion of goal fixes: odometry-propagated sliding median.

Single-frame ranging has outliers (a pole hidden by a crater rim, a shadow that
extends the silhouette). The tracker keeps the last ``window`` fixes in the rover
frame, carries each one along with the rover's own dead reckoning (wheel-encoder
speed and the gyro's yaw rate) and reports their per-axis median, which ignores
a minority of bad fixes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray


class GoalTracker:
    """Sliding-median tracker of a ground point in the (moving) rover frame.

    Args:
        window: Fixes kept (odd is best for a median).
        max_age_s: Fixes older than this are forgotten [s].
    """

    def __init__(self, window: int = 5, max_age_s: float = 3.0) -> None:
        if window < 1:
            raise ValueError(f"GoalTracker.window = {window}; accepted: an integer >= 1")
        self.window = int(window)
        self.max_age_s = float(max_age_s)
        self.reset()

    def reset(self) -> None:
        """Forget every fix."""
        self._fixes: list[NDArray[np.float64]] = []
        self._ages: list[float] = []

    def propagate(self, speed: float, yaw_rate: float, dt: float) -> None:
        """Move the stored fixes by the rover's motion over ``dt`` (forward speed, yaw rate)."""
        dpsi = yaw_rate * dt
        c, s = math.cos(-dpsi), math.sin(-dpsi)
        rot = np.array([[c, -s], [s, c]])
        self._fixes = [rot @ (f - np.array([speed * dt, 0.0])) for f in self._fixes]
        self._ages = [a + dt for a in self._ages]
        keep = [i for i, a in enumerate(self._ages) if a <= self.max_age_s]
        self._fixes = [self._fixes[i] for i in keep]
        self._ages = [self._ages[i] for i in keep]

    def update(self, xy: NDArray[np.float64]) -> None:
        """Add a fix (rover frame, [m])."""
        self._fixes = [*self._fixes, np.asarray(xy, dtype=np.float64)[:2].copy()][-self.window:]
        self._ages = [*self._ages, 0.0][-self.window:]

    def estimate(self) -> NDArray[np.float64] | None:
        """Per-axis median of the stored fixes, or ``None`` without any."""
        if not self._fixes:
            return None
        return np.median(np.stack(self._fixes), axis=0)
