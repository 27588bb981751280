"""Reference controllers for the extreme-environment tasks, closed loop on perception.

They read observations only: the state vector of the robot's own instruments
(IMU, wheel encoders, rangefinders) and camera frames or the estimates the
robot's perception pipeline derived from them. The only thing taken from the
environment at construction is fixed robot calibration (control period, camera
intrinsics and mount), as a real controller would be configured.

* :class:`RoverCameraSeeker` - RoverTraverse with ``goal_source="camera"``:
  search by turning in place until the beacon is seen, dead-reckon the goal
  vector between fixes (wheel odometry + gyro), drive with
  :class:`tasks.controllers.rover.RoverGoalSeeker`.
* :class:`BeaconLocalizer` - BeaconLocalize: run :mod:`tasks.perception` on the
  image, fuse fixes, approach to a good ranging distance, then report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tasks.controllers.rover import GOAL, RoverGoalSeeker

GYRO = slice(3, 6)
WHEELS = slice(13, 17)
GOAL_AGE = 24  # index of goal_age in the camera-mode state vector
WHEEL_RADIUS = 0.15  # [m] rover calibration (sims.rover.RoverParams.wheel_radius)
FRESH_S = 1e-6  # [s] a goal_age this small marks a fix from the current frame


def _state(obs: Any) -> np.ndarray:
    if isinstance(obs, dict):
        return np.asarray(obs["state"], dtype=np.float64)
    return np.asarray(obs, dtype=np.float64)


class _Odometry:
    """Goal vector in the rover frame, carried between fixes by wheel odometry and the gyro."""

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.goal: np.ndarray | None = None

    def fix(self, goal_xy: np.ndarray) -> None:
        self.goal = np.asarray(goal_xy, dtype=np.float64).copy()

    def propagate(self, state: np.ndarray) -> None:
        if self.goal is None:
            return
        v = float(np.mean(state[WHEELS])) * WHEEL_RADIUS  # forward speed (no-slip estimate)
        dpsi = float(state[GYRO][2]) * self.dt
        g = self.goal - np.array([v * self.dt, 0.0])
        c, s = math.cos(-dpsi), math.sin(-dpsi)
        self.goal = np.array([c * g[0] - s * g[1], s * g[0] + c * g[1]])


class RoverCameraSeeker:
    """Drive to the beacon seen by the camera (RoverTraverse, ``goal_source="camera"``)."""

    def __init__(self, dt: float = 0.05, search_turn: float = 0.6, lost_after_s: float = 6.0):
        self.dt = dt
        self.search_turn = search_turn
        self.lost_after_s = lost_after_s
        self._inner = RoverGoalSeeker(dt=dt)
        self.reset(0)

    @classmethod
    def for_env(cls, env: object) -> RoverCameraSeeker:
        """Controller for the env's control period (its only use of the env)."""
        return cls(dt=float(getattr(env.unwrapped, "dt", 0.05)))  # type: ignore[attr-defined]

    def reset(self, seed: int) -> None:
        """Forget the previous episode (deterministic; seed unused)."""
        self._inner.reset(seed)
        self._odo = _Odometry(self.dt)
        self._last_age = math.inf
        self._fixes: list[np.ndarray] = []
        self._since_fix = math.inf

    def act(self, obs: Any) -> np.ndarray:
        """Wheel commands [left, right] in [-1, 1]."""
        state = _state(obs)
        age = float(state[GOAL_AGE])
        self._odo.propagate(state)
        if age < self._last_age or age <= FRESH_S:  # a new fix arrived
            if age < 90.0:
                self._fixes = [*self._fixes[-2:], state[GOAL][:2].copy()]
                self._odo.fix(np.median(np.stack(self._fixes), axis=0))
                self._since_fix = 0.0
        self._last_age = age
        self._since_fix += self.dt
        if self._odo.goal is None or self._since_fix > self.lost_after_s:
            # search: turn in place (rate limit of the inner controller applies)
            self._fixes = []
            inner = state.copy()
            inner[GOAL] = [0.0, 5.0, 0.0]  # a goal to the left makes the inner loop turn
            cmd = self._inner.act(inner[:24])
            return np.clip(cmd, -self.search_turn, self.search_turn).astype(np.float32)
        inner = state[:24].copy()
        inner[0:2] = self._odo.goal
        return self._inner.act(inner)


class BeaconLocalizer(RoverCameraSeeker):
    """Find, approach and localize the beacon (BeaconLocalize), from the perception state.

    Drives like :class:`RoverCameraSeeker` on the onboard perception's fixes, and
    reports the fused (median of the last three fixes, dead-reckoned) goal position
    once it is closer than ``report_range`` - ranging error grows as distance
    squared - with at least ``min_fixes`` fixes.
    """

    def __init__(self, dt: float = 0.05, report_range: float = 2.5, min_fixes: int = 4):
        self.report_range = report_range
        self.min_fixes = min_fixes
        super().__init__(dt=dt)

    @classmethod
    def for_env(cls, env: object) -> BeaconLocalizer:
        """Controller for the env's control period (its only use of the env)."""
        return cls(dt=float(getattr(env.unwrapped, "dt", 0.05)))  # type: ignore[attr-defined]

    def reset(self, seed: int) -> None:
        """Forget the previous episode (deterministic; seed unused)."""
        super().reset(seed)
        self._n_fixes = 0

    def act(self, obs: Any) -> np.ndarray:
        """``[left, right, x_est / 10, y_est / 10, report]`` in [-1, 1]."""
        state = _state(obs)
        age = float(state[GOAL_AGE])
        fresh = age < 90.0 and (age < self._last_age or age <= FRESH_S)
        wheels = RoverCameraSeeker.act(self, obs)
        self._n_fixes = self._n_fixes + 1 if fresh else self._n_fixes
        est = self._odo.goal if self._since_fix <= self.lost_after_s else None
        if est is None:
            self._n_fixes = 0
            return np.concatenate([wheels, [0.0, 0.0, -1.0]]).astype(np.float32)
        report = float(np.linalg.norm(est)) <= self.report_range and self._n_fixes >= self.min_fixes
        if report:
            wheels = np.zeros(2)
        out = np.concatenate([wheels, np.clip(est / 10.0, -1.0, 1.0), [1.0 if report else -1.0]])
        return out.astype(np.float32)
