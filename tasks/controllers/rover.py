"""Reference controller for RoverTraverse: goal seeking with rangefinder hazard avoidance.

It reads only the observation vector (the rover's own instruments, see
``tasks.rover_traverse.RoverTraverseEnv``): navigation fix of the goal, IMU,
wheel encoders and rangefinders. Layout indices are named below.
"""

from __future__ import annotations

import math

import numpy as np

GOAL = slice(0, 3)
GYRO = slice(3, 6)
ACCEL = slice(6, 9)
QUAT = slice(9, 13)
WHEELS = slice(13, 17)
RANGES = slice(17, 22)

BEAM_DOWN_DEG = 12.0  # rangefinder depression angle (sims.rover)
BEAM_YAW_DEG = np.array([-40.0, -20.0, 0.0, 20.0, 40.0])
RANGE_MAX = 4.0  # [m] rangefinder cutoff (sims.rover.RoverParams.range_max)
SENSOR_HEIGHT = 0.26  # [m] rangefinder origin above ground when resting (chassis centre)

# Milli-g regime (small bodies, g ~ 1e-3 m/s^2): the accelerometer's norm there is its noise
# (~0.017 m/s^2 for 0.01 m/s^2 per axis); Ceres (0.28 m/s^2) and everything heavier read above.
LOW_G = 0.08  # [m/s^2] median accelerometer norm below which the milli-g mode drives
# median over a sliding window: the rover is dropped at reset, so the first readings are a
# landing kick and free fall (ceres-low-gravity seed 1 read below LOW_G for 3 of its first 5);
# a window whose median reads heavy latches the regime off for the episode
LOW_G_SAMPLES = 20
# In milli-g the rover is airborne or pivoting on one wheel for tens of seconds after any
# kick (fall time ~ sqrt(h / g)); driving then pitches it over (traction below the centre of
# mass, wheel spin-up reaction: asteroid-microgravity seed 3 tipped at 20 s that way, while with
# the wheels still it rocks to 26 deg and lands). While the rover is both tilted and rotating
# (filtered roll/pitch rate) it holds the wheels still (spinning them against the pitch rate was tried:
# it pumps the slow gravity rocking and lands the rover already rolling backwards).
SETTLED_RATE = 0.012  # [rad/s] filtered |roll, pitch rate| below which the rover is settled
SETTLED_TILT_DEG = 15.0  # [deg] tilt below which it is settled
# skid-steer turning in place is the fastest way to change heading at milli-g (measured on
# asteroid-microgravity: ~3 deg/s at full command, ~1.5 deg/s on an arc with one side stopped);
# thresholds chosen on asteroid seeds 0-19 (25/10 and 20/8 deg: 18/20, 35/15 and 45/20: 20/20)
TURN_IN_PLACE_DEG = 45.0  # [deg] heading error above which the milli-g mode turns in place
TURN_DONE_DEG = 20.0  # [deg] heading error below which it drives again
# wheel-command slew per control step in milli-g: traction, not the command ramp, limits the
# acceleration there, and a slow ramp only delays turn reversals (asteroid seeds 0-19, sum of
# episode times: 0.01 -> 1358 s, 0.03 -> 1331 s; 0.1 tipped seed 3 over)
LOW_G_SLEW = 0.03
# After backing off a stall and turning away (rock fields), the rover heads for a point this far
# to that side of the goal for the rest of the escape, with the usual hazard avoidance (it used
# to drive straight ahead blind, into the next rock: mars-rock-field seed 17).
DETOUR_DEG = 45.0
# A stall nose-up on open ground (every beam long: they point into the sky) is a slope too steep
# to climb straight (lunar-highland-slopes seed 17: stuck at 38 deg pitch, 1.8 m below the
# goal); the escape then backs down and climbs across the slope, SWITCHBACK_DEG off the goal's
# bearing (along-track grade tan(a) cos(SWITCHBACK_DEG)), instead of turning away from obstacles.
# A goal estimate that jumps away (a camera fix correcting a wrong one: ceres-low-gravity seed
# 15 took an early 2.9 m fix for a 5.3 m beacon) restarts the stall detector; otherwise the
# rover, making steady progress on the corrected goal, counts as stalled until it beats 2.9 m.
GOAL_JUMP_M = 0.3  # [m] rise of the goal distance in one step that no motion explains
SLOPE_STALL_DEG = 20.0  # [deg] nose-up pitch above which a stall with no obstacle is a slope
SWITCHBACK_DEG = 60.0  # [deg] heading offset of the climb across the slope


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
        self._switchback = False
        self._last_dist = math.inf
        self._norms: list[float] = []
        self._low_g = False
        self._heavy = False
        self._rate_xy = np.zeros(2)
        self._turning = False

    @property
    def low_g(self) -> bool:
        """Whether the measured gravity is milli-g (once a window of readings says so)."""
        return self._low_g

    def _update_regime(self, obs: np.ndarray) -> None:
        """Gravity regime from the median accelerometer norm; filtered roll/pitch rate."""
        self._norms = [*self._norms[1 - LOW_G_SAMPLES:], float(np.linalg.norm(obs[ACCEL]))]
        if len(self._norms) >= LOW_G_SAMPLES and not self._heavy:
            self._heavy = float(np.median(self._norms)) >= LOW_G
            self._low_g = not self._heavy
        self._rate_xy = 0.8 * self._rate_xy + 0.2 * obs[GYRO][:2]

    def settle_command(self, obs: np.ndarray) -> np.ndarray | None:
        """Milli-g only: the wheel command while the rover is not settled on the ground, else None.

        The wheels are held still (traction of a wheel still touching the ground and the
        wheels' spin-up reaction would both pitch the chassis further); the stall detector
        is held.
        """
        if not self._low_g:
            return None
        tilt = math.degrees(_tilt(obs[QUAT]))
        if float(np.linalg.norm(self._rate_xy)) < SETTLED_RATE or tilt < SETTLED_TILT_DEG:
            return None
        self._hold_progress()
        self._turning = False
        return self._rate_limited(np.zeros(2))

    def _hold_progress(self) -> None:
        """Restart the stall detector (the next distance becomes the reference)."""
        self._best, self._best_t = math.inf, self._t

    def turn_in_place(self, obs: np.ndarray, direction: float, speed: float,
                      observe: bool = True) -> np.ndarray:
        """Turn in place (``direction`` +1 left, -1 right) at ``speed``, e.g. to search.

        Uses the same gravity estimate, milli-g settling and rate limit as :meth:`act`, and
        holds the stall detector (turning is not a lack of progress). ``observe=False``
        when :meth:`act` has already seen this observation (the clock advances once a step).
        """
        obs = np.asarray(obs, dtype=np.float64)
        if observe:
            self._observe(obs)
        self._hold_progress()
        hold = self.settle_command(obs)
        if hold is not None:
            return hold
        return self._rate_limited(np.array([-speed * direction, speed * direction]))

    def _observe(self, obs: np.ndarray) -> None:
        """Per-step bookkeeping from one observation: gravity, regime, clock."""
        # gravity from the accelerometer, low-pass filtered: the first reading can be ~0
        # (the rover is dropped onto the ground at reset and is briefly in free fall)
        a_norm = float(np.linalg.norm(obs[ACCEL]))
        self._g_est = a_norm if self._g_est is None else 0.9 * self._g_est + 0.1 * a_norm
        self._update_regime(obs)
        self._t += self.dt

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Wheel commands [left, right] in [-1, 1] from one observation."""
        obs = np.asarray(obs, dtype=np.float64)
        self._observe(obs)
        gx, gy = obs[GOAL][0], obs[GOAL][1]
        dist = math.hypot(gx, gy)
        err = math.atan2(gy, gx)
        hold = self.settle_command(obs)
        if hold is not None:
            return hold
        if dist > self._last_dist + GOAL_JUMP_M:
            self._hold_progress()
        self._last_dist = dist
        if dist < self._best - self.progress_step:
            self._best, self._best_t = dist, self._t
        ranges = obs[RANGES]
        if self._t < self._escape_until:
            phase = (self._t - self._escape_start) / (self._escape_until - self._escape_start)
            if self._switchback and phase >= 1 / 3:
                # after backing down: climb across the slope, hazards still avoided
                err -= self._escape_dir * math.radians(SWITCHBACK_DEG)
            elif phase < 2 / 3:
                return self._rate_limited(self._escape_command(phase))
            else:
                # last third: seek a point DETOUR_DEG to the side it turned to, hazards avoided
                err -= self._escape_dir * math.radians(DETOUR_DEG)
        # everything happens slower in weak gravity (time scale ~ 1/sqrt(g))
        patience = self.escape_after * float(np.clip(math.sqrt(1.62 / max(self._g_est, 1e-4)), 1, 4))
        # (not in milli-g: a stall there is the slow traction-limited acceleration, and
        # reversing would cost twice the time it took to build the speed)
        if self._t - self._best_t > patience and not self._low_g:
            # stalled: back off straight, turn away from the nearer obstacles (+1: right),
            # head for a point to that side of the goal for a while, then resume
            inv = 1.0 / np.maximum(ranges, 0.1)
            self._escape_dir = 1.0 if float(np.sum(inv[3:])) > float(np.sum(inv[:2])) else -1.0
            nose_up = -math.degrees(_pitch(obs[QUAT]))
            self._switchback = nose_up > SLOPE_STALL_DEG and bool(np.all(ranges > 0.9 * RANGE_MAX))
            if self._switchback:
                # cross the slope on the goal's side (+1 here: to the right)
                self._escape_dir = -1.0 if err > 0 else 1.0
            self._escape_start = self._t
            self._escape_until = self._t + 3 * self.escape_duration * patience / self.escape_after
            self._best, self._best_t = dist, self._escape_until
        pitch = _pitch(obs[QUAT])
        # slant range to flat ground along each beam, given the current pitch
        depress = math.radians(BEAM_DOWN_DEG) + pitch
        ground = SENSOR_HEIGHT / max(math.sin(depress), 0.05)
        # a rock shortens some beams relative to the others; rising ground shortens all of
        # them alike, so compare with the median beam as well as with flat ground
        expect = min(ground, RANGE_MAX, float(np.median(ranges)))
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
        if self._low_g:
            return self._rate_limited(self._low_g_target(err, steer))
        turn = float(np.clip(self.turn_gain * err + steer, -1.0, 1.0))
        if abs(err) > math.radians(70):
            fwd = 0.0
        else:
            fwd = min(1.0, dist / self.slow_radius) * max(0.2, math.cos(err))
            if hazard[1:4].any():
                fwd *= 0.5
        target = np.clip(np.array([fwd - 0.6 * turn, fwd + 0.6 * turn]), -1.0, 1.0)
        return self._rate_limited(target)

    def _low_g_target(self, err: float, steer: float) -> np.ndarray:
        """Milli-g wheel targets: turn in place onto the goal, then full speed ahead.

        Acceleration is traction-limited (~mu g, a few mm/s^2) and success ends the episode
        inside the goal region, so there is nothing to gain from slowing down on approach.
        """
        if abs(err) > math.radians(TURN_IN_PLACE_DEG):
            self._turning = True
        elif abs(err) < math.radians(TURN_DONE_DEG):
            self._turning = False
        if self._turning:
            self._hold_progress()
            s = 1.0 if err > 0 else -1.0
            return np.array([-s, s])
        turn = float(np.clip(self.turn_gain * err + steer, -1.0, 1.0))
        return np.clip(np.array([1.0 - 0.6 * turn, 1.0 + 0.6 * turn]), -1.0, 1.0)

    def _escape_command(self, phase: float) -> np.ndarray:
        """First two thirds of an escape: reverse, then turn in place away from obstacles."""
        if phase < 1 / 3:
            return np.array([-0.6, -0.6])
        return np.array([0.5 * self._escape_dir, -0.5 * self._escape_dir])

    def _rate_limited(self, target: np.ndarray) -> np.ndarray:
        # rate limit: wheel-speed change per step bounded by traction (~mu g dt / (r vmax))
        g = max(self._g_est or 0.0, 1e-4)
        max_delta = float(np.clip(self.mu_guess * g * self.dt / 0.2, 0.01, 0.5))
        if self._low_g:
            max_delta = LOW_G_SLEW
        self._cmd = self._cmd + np.clip(target - self._cmd, -max_delta, max_delta)
        return self._cmd.astype(np.float32)


def _tilt(q: np.ndarray) -> float:
    """Tilt of the body z axis from vertical [rad] from an attitude quaternion (w, x, y, z)."""
    _, x, y, _ = (float(v) for v in q)
    return math.acos(float(np.clip(1.0 - 2.0 * (x * x + y * y), -1.0, 1.0)))


def _pitch(q: np.ndarray) -> float:
    """Nose-down positive pitch [rad] from an attitude quaternion (w, x, y, z)."""
    w, x, y, z = q
    # body x axis in world frame, z component
    xz = 2.0 * (x * z - w * y)
    return float(math.asin(float(np.clip(-xz, -1.0, 1.0))))
