"""Reference controller for RoverTraverse: goal seeking with rangefinder hazard avoidance.

It reads only the observation vector (the rover's own instruments, see
``tasks.rover_traverse.RoverTraverseEnv``): navigation fix of the goal, IMU,
wheel encoders and rangefinders. Layout indices are named below.
"""

from __future__ import annotations

import math

import numpy as np

GOAL = slice(0, 3)
ACCEL = slice(6, 9)
QUAT = slice(9, 13)
WHEELS = slice(13, 17)
RANGES = slice(17, 22)

BEAM_DOWN_DEG = 12.0  # rangefinder depression angle (sims.rover)
BEAM_YAW_DEG = np.array([-40.0, -20.0, 0.0, 20.0, 40.0])
SENSOR_HEIGHT = 0.26  # [m] rangefinder origin above ground when resting (chassis centre)


class RoverGoalSeeker:
    """Steer toward the navigation goal; veer away from beams that hit obstacles early.

    Command changes are rate-limited by the gravity the accelerometer measures
    (low-pass filtered; traction ~ mu g), so the same controller does not spin its
    wheels on the Moon or on a small body.
    """

    def __init__(self, turn_gain: float = 1.6, slow_radius: float = 1.5,
                 hazard_fraction: float = 0.75, mu_guess: float = 0.5, dt: float = 0.05,
                 progress_step: float = 0.1, escape_after: float = 8.0,
                 escape_duration: float = 2.0):
        self.turn_gain = turn_gain
        self.slow_radius = slow_radius
        self.hazard_fraction = hazard_fraction
        self.mu_guess = mu_guess
        self.dt = dt
        # no progress of `progress_step` m for `escape_after` s triggers an escape manoeuvre
        self.progress_step = progress_step
        self.escape_after = escape_after
        self.escape_duration = escape_duration
        self.reset(0)

    @classmethod
    def for_env(cls, env: object) -> RoverGoalSeeker:
        """Controller tuned to the env's control period (its only use of the env)."""
        return cls(dt=float(getattr(env.unwrapped, "dt", 0.05)))  # type: ignore[attr-defined]

    def reset(self, seed: int) -> None:
        """Forget the previous episode (the controller is deterministic; seed unused)."""
        del seed
        self._cmd = np.zeros(2)
        self._g_est: float | None = None
        self._avoid = 0.0
        self._t = 0.0
        self._best = math.inf
        self._best_t = 0.0
        self._escape_until = -1.0
        self._escape_dir = 1.0
        self._escape_start = 0.0

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Wheel commands [left, right] in [-1, 1] from one observation."""
        obs = np.asarray(obs, dtype=np.float64)
        # gravity from the accelerometer, low-pass filtered: the first reading can be ~0
        # (the rover is dropped onto the ground at reset and is briefly in free fall)
        a_norm = float(np.linalg.norm(obs[ACCEL]))
        self._g_est = a_norm if self._g_est is None else 0.9 * self._g_est + 0.1 * a_norm
        gx, gy = obs[GOAL][0], obs[GOAL][1]
        dist = math.hypot(gx, gy)
        err = math.atan2(gy, gx)
        self._t += self.dt
        if dist < self._best - self.progress_step:
            self._best, self._best_t = dist, self._t
        ranges = obs[RANGES]
        if self._t < self._escape_until:
            return self._rate_limited(self._escape_command())
        # everything happens slower in weak gravity (time scale ~ 1/sqrt(g))
        patience = self.escape_after * float(np.clip(math.sqrt(1.62 / max(self._g_est, 1e-4)), 1, 4))
        if self._t - self._best_t > patience:
            # stalled: back off straight, turn away from the nearer obstacles, drive on
            # straight for a while, then resume goal seeking
            inv = 1.0 / np.maximum(ranges, 0.1)
            self._escape_dir = -1.0 if float(np.sum(inv[3:])) > float(np.sum(inv[:2])) else 1.0
            self._escape_start = self._t
            self._escape_until = self._t + 3 * self.escape_duration * patience / self.escape_after
            self._best, self._best_t = dist, self._escape_until
        pitch = _pitch(obs[QUAT])
        # slant range to flat ground along each beam, given the current pitch
        depress = math.radians(BEAM_DOWN_DEG) + pitch
        ground = SENSOR_HEIGHT / max(math.sin(depress), 0.05)
        # a rock shortens some beams relative to the others; rising ground shortens all of
        # them alike, so compare with the median beam as well as with flat ground
        expect = min(ground, 4.0, float(np.median(ranges)))
        hazard = ranges < self.hazard_fraction * expect
        steer = 0.0
        if hazard.any() and dist > 0.8:
            # push away from the side with the nearer hazards (weighted by beam yaw)
            side = np.sign(BEAM_YAW_DEG + 1e-6)
            weights = np.where(hazard, 1.0 / np.maximum(ranges, 0.1), 0.0)
            steer = -float(np.sum(weights * side)) * 0.6
            if hazard[2] and abs(steer) < 0.3:
                steer = 0.6 if self._avoid >= 0 else -0.6
        self._avoid = 0.9 * self._avoid + 0.1 * steer
        turn = float(np.clip(self.turn_gain * err + steer, -1.0, 1.0))
        if abs(err) > math.radians(70):
            fwd = 0.0
        else:
            fwd = min(1.0, dist / self.slow_radius) * max(0.2, math.cos(err))
            if hazard[1:4].any():
                fwd *= 0.5
        target = np.clip(np.array([fwd - 0.6 * turn, fwd + 0.6 * turn]), -1.0, 1.0)
        return self._rate_limited(target)

    def _escape_command(self) -> np.ndarray:
        """Reverse, then turn in place (away from obstacles), then straight ahead."""
        phase = (self._t - self._escape_start) / max(self._escape_until - self._escape_start, 1e-9)
        if phase < 1 / 3:
            return np.array([-0.6, -0.6])
        if phase < 2 / 3:
            return np.array([0.5 * self._escape_dir, -0.5 * self._escape_dir])
        return np.array([0.7, 0.7])

    def _rate_limited(self, target: np.ndarray) -> np.ndarray:
        # rate limit: wheel-speed change per step bounded by traction (~mu g dt / (r vmax))
        g = max(self._g_est or 0.0, 1e-4)
        max_delta = float(np.clip(self.mu_guess * g * self.dt / 0.2, 0.01, 0.5))
        self._cmd = self._cmd + np.clip(target - self._cmd, -max_delta, max_delta)
        return self._cmd.astype(np.float32)


def _pitch(q: np.ndarray) -> float:
    """Nose-down positive pitch [rad] from an attitude quaternion (w, x, y, z)."""
    w, x, y, z = q
    # body x axis in world frame, z component
    xz = 2.0 * (x * z - w * y)
    return float(math.asin(float(np.clip(-xz, -1.0, 1.0))))
