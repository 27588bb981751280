"""Reference controllers of the touch tasks; they read observations only.

One controller family drives all four tasks through phases (approach, descend,
close, pull/lift, hold). It uses touch for

* **contact detection and grip-force regulation**: normal force per pad
  = calibration x mean marker indentation; the jaw set point is driven so the
  measured force tracks a demand (feed-forward through the jaw servo law plus
  an integral on the touch error);
* **slip detection from shear and contact creep**: the tangential load per pad
  (calibration x mean in-plane marker displacement) sets the demand
  ``N >= s T / mu_low``; a tangential/normal ratio approaching ``mu_low`` or a
  sudden drop of the shear while loaded counts as incipient slip and raises the
  demand; the indentation centroid creeping along the pads towards the
  fingertips (the lifted object sliding down between the jaws) counts as gross
  slip: the demand rises and the lift pauses until the contact stands still;
* **a light hold**: once a fixture is open the grip drops to ``hold_grip``
  (touch-regulated), so a free-running drawer is not squeezed against the jaw
  force limit, where it chatters between the jaws and never comes to rest;
* **contact-guided alignment**: the indentation centroid on the pads
  re-centres the grasp, and the handle's reaction (pad shear and the
  left/right normal imbalance) shifts the pulling path radially (compliance),
  so the arc of a door or lever is followed even where the camera's hinge
  estimate is off; a lost contact triggers a re-grasp.

Real sensors and actuators are met with two estimates made from the
controller's own observations before contact (never from the simulator or a
reality profile):

* **a noise floor** (:class:`TouchFloor`): a marker tracker's noise reads, through
  the clipped indentation, as a contact force on untouched pads and blurs the
  centroid; the no-contact statistics gathered during the approach are removed
  from every reading (zero, and the readings unchanged, for a noise-free sensor);
* **the actuation latency**: the commanded TCP target's response to the sent
  increments during the approach gives the delay in control steps; the motion
  commands then aim from where the target will be once the increments still in
  flight arrive (a Smith predictor), so the position loop does not ring (zero
  delay, and the commands unchanged, without latency).

The no-touch ablation (:class:`NoTouchController`) is the same controller with
the tactile input replaced by a fixed grip command: the jaws close to the
camera-estimated width minus a fixed squeeze (the width at which the jaw
servo produces ``fixed_grip_force``), with no contact detection, slip
reaction, alignment or compliance.

The controllers learn the robot's constants (action scales, jaw servo
stiffness, pad calibration) from the environment once at construction, as a
robot's datasheet; after that they see only observations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from scipy.special import ndtr

# Observation layout (tasks.touch.base)
EE, TGT, YAW, JAW, VIS, TOUCH = slice(14, 17), slice(17, 20), slice(20, 22), slice(22, 24), \
    slice(24, 30), slice(30, 42)


@dataclass(frozen=True)
class RobotConstants:
    """Datasheet values the controller needs (read once from the env)."""

    max_step: float  # [m] TCP step at action 1
    max_yaw_step: float  # [rad] yaw step at action 1
    stroke: float  # [m] jaw stroke (action 1 = fully open)
    finger_kp: float  # [N/m] jaw servo stiffness
    cal_normal: float  # [N/mm] pad calibration, normal
    cal_shear: float  # [N/mm] pad calibration, shear
    task: str  # "door" | "drawer" | "lever" | "fragile"


MAX_DELAY = 3  # [control steps] largest actuation latency the controller estimates
DOOR_RANGE = math.pi / 2  # [rad] door hinge travel (fixture datasheet, tasks.touch.articulated)
LEVER_RANGE = math.pi / 3  # [rad] lever travel (fixture datasheet)

_TASKS = {"DoorOpenEnv": "door", "DrawerOpenEnv": "drawer", "LeverTurnEnv": "lever",
          "FragileGraspEnv": "fragile"}


def _constants(env: gym.Env) -> RobotConstants:
    u = env.unwrapped
    name = type(u).__name__
    if name not in _TASKS:
        raise ValueError(f"env {name!r} is not a touch task; accepted: {sorted(_TASKS)}")
    return RobotConstants(
        max_step=float(u.max_step), max_yaw_step=float(u.max_yaw_step),
        stroke=float(u.arm_params.finger_stroke), finger_kp=float(u.arm_params.finger_kp),
        cal_normal=float(u.tactile_calibration.normal),
        cal_shear=float(u.tactile_calibration.shear), task=_TASKS[name])


class TouchFloor:
    """No-contact floor of the touch features, estimated from the controller's own readings.

    A real marker tracker reports every marker with noise (and holds lost markers at
    their last value). The indentation features clip ``-u_z`` at zero, so zero-mean
    noise reads as a positive mean indentation (about ``0.4 sigma`` per marker), i.e.
    as a contact force on both pads, and it spreads weight over the whole pad, which
    pulls the indentation centroid towards the pad centre and makes it jitter. While the
    hand approaches in free space (no contact) the per-pad features are accumulated
    (Welford); from the first non-approach step on the floor is frozen and

    * the indentation is recovered from the clipped mean (:meth:`indentation`) and the
      floor's mean shear is subtracted;
    * the centroid is recovered from ``sum(ind x) = c m`` by removing the noise's share
      ``b = m_obs - m``: ``c = (c_obs m_obs - c_0 b) / m`` (0 while ``m`` is within
      ``k_sigma`` floor standard deviations, i.e. nothing presses);
    * ``normal_sd`` / ``shear_sd`` (frame-to-frame standard deviations [mm]) set the
      controller's dead bands and filters.

    With a noise-free sensor every statistic is zero and :meth:`correct` returns the
    raw features unchanged.

    Args:
        k_sigma: Dead band of the centroid recovery in floor standard deviations (1).
    """

    def __init__(self, k_sigma: float = 3.0):
        self.k_sigma = k_sigma
        self.n = 0
        self._mean = np.zeros((2, 6))
        self._m2 = np.zeros((2, 6))
        self.frozen = False

    def add(self, f: np.ndarray) -> None:
        """Accumulate one no-contact reading ``f`` (2 pads x 6 features)."""
        self.n += 1
        d = f - self._mean
        self._mean += d / self.n
        self._m2 += d * (f - self._mean)

    def freeze(self) -> None:
        """Stop estimating (contact may begin from now on)."""
        self.frozen = True

    @property
    def mean(self) -> np.ndarray:
        """Mean no-contact features (2 x 6) [mm]."""
        return self._mean

    @property
    def sd(self) -> np.ndarray:
        """Standard deviation of the no-contact features (2 x 6) [mm] (0 before 2 samples)."""
        if self.n < 2:
            return np.zeros((2, 6))
        return np.sqrt(np.maximum(self._m2 / (self.n - 1), 0.0))

    @property
    def noisy(self) -> bool:
        """True when the no-contact readings were not exactly zero (a noisy tracker)."""
        return bool(np.any(self._mean[:, 0] > 0.0))

    def indentation(self, m: np.ndarray) -> np.ndarray:
        """Mean indentation [mm] under the clipped reading ``m`` [mm] (per pad).

        Each marker reads ``max(x + n, 0)`` with ``n ~ N(0, s^2)``, whose mean is
        ``g(x) = x Phi(x/s) + s phi(x/s)`` (``g(0) = m_0``, so ``s = m_0 sqrt(2 pi)``).
        Taking the field as uniform, ``x`` solves ``g(x) = m`` (Newton from ``x = m``:
        ``g`` is convex with ``g' = Phi``, so the iterates fall monotonically onto the
        root); ``x = 0`` at or below the floor. A pressed marker (``x >> s``) keeps no
        bias, an untouched one the full ``m_0``: a real press, deeper in the middle,
        lies between, so the estimate errs low by a fraction of ``m_0``.
        """
        m0 = self._mean[:, 0]
        x = np.asarray(m, dtype=float).copy()
        above = (m0 > 0.0) & (x > m0)
        out = np.where(m0 > 0.0, 0.0, np.maximum(x, 0.0))
        if not np.any(above):
            return out
        s = m0[above] * math.sqrt(2.0 * math.pi)
        target = x[above]
        xi = target.copy()
        for _ in range(30):
            z = xi / s
            cdf = ndtr(z)
            step = (xi * cdf + s * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) - target) / cdf
            xi = xi - step
            if float(np.max(np.abs(step))) < 1e-9:
                break
        out[above] = np.maximum(xi, 0.0)
        return out

    def correct(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Floor-corrected indentation (2,), shear (2, 2) and centroid (2, 2) [mm]."""
        shear = f[:, 2:4] - self._mean[:, 2:4]
        if not self.noisy:
            return np.maximum(f[:, 0], 0.0), shear, f[:, 4:6].copy()
        ind = self.indentation(f[:, 0])
        bias = f[:, 0] - ind  # the share of the reading the noise put on the markers
        sd = self.sd[:, 0]
        centroid = np.zeros((2, 2))
        for p in range(2):
            if ind[p] > self.k_sigma * sd[p] and ind[p] > 0.0:
                centroid[p] = (f[p, 4:6] * f[p, 0] - self._mean[p, 4:6] * bias[p]) / ind[p]
        return ind, shear, centroid


class TouchController:
    """Phase controller for the touch tasks (see the module docstring).

    Args:
        constants: Robot constants.
        use_touch: False gives the no-touch ablation (fixed grip command).
        handle_grip: Grip force demand on rigid handles [N].
        handle_mu: Friction coefficient the handle grip law assumes (1); the handle is
            held mostly by the jaw normals (the pull runs along the jaw axis), friction
            carries only the off-axis load.
        hold_grip: Grip force demand once the fixture is open [N]: the pull is over, so
            the jaws only keep contact (a pull-strength squeeze of a free-sliding
            drawer makes it chatter between the jaws, and the rest rule fails).
        fragile_grip: Initial grip force demand on fragile objects [N].
        mu_low: Conservative friction coefficient assumed by the grip law (1).
        safety: Safety factor of the grip law (1).
        fixed_grip_force: Squeeze of the no-touch ablation [N] (designed to hold the
            heaviest, most slippery object family on Earth: 80 g, mu 0.3, lift accel.,
            x 2 margin -> ~3 N per jaw).
        speed: Free-motion TCP speed [m per control step].
        pull_speed: TCP speed along the opening path [m per control step].
        lift_height: Lift target above the grasp height [m].
        open_target: Opening fraction at which the pull stops (vision estimate).
        slip_drift: Creep of the contact centroid along the pads towards the fingertips
            [mm] that counts as gross slip of a lifted object.
        max_boost: Largest factor the slip reactions put on the grip demand (1).
    """

    def __init__(self, constants: RobotConstants, use_touch: bool = True,
                 handle_grip: float = 6.0, handle_mu: float = 1.0, hold_grip: float = 1.5,
                 fragile_grip: float = 1.0, mu_low: float = 0.3,
                 safety: float = 1.6, fixed_grip_force: float = 3.0, speed: float = 0.008,
                 pull_speed: float = 0.003, lift_height: float = 0.13,
                 open_target: float = 0.83, slip_drift: float = 0.3, max_boost: float = 4.0):
        self.c = constants
        self.use_touch = bool(use_touch)
        self.handle_grip = handle_grip
        self.handle_mu = handle_mu
        self.hold_grip = hold_grip
        self.fragile_grip = fragile_grip
        self.mu_low = mu_low
        self.safety = safety
        self.fixed_grip_force = fixed_grip_force
        self.speed = speed
        self.pull_speed = pull_speed
        self.lift_height = lift_height
        self.open_target = open_target
        self.slip_drift = slip_drift
        self.max_boost = max_boost
        self.reset(0)

    @classmethod
    def for_env(cls, env: gym.Env) -> TouchController:
        """Controller for ``env`` (reads its robot constants once)."""
        return cls(_constants(env), use_touch=True)

    # ------------------------------------------------------------------ state
    def reset(self, seed: int) -> None:
        """Start a new episode (the controller is deterministic; ``seed`` is unused)."""
        del seed
        self.phase = "approach"
        self.t = 0
        self.grasp: np.ndarray | None = None
        self.width = 0.0
        self.jaw_target = self.c.stroke
        self.integral = 0.0
        self.demand = 0.0
        self.boost = 1.0
        self.prev_shear = 0.0
        self.stable = 0
        self.p0 = np.zeros(3)
        self.yaw0 = 0.0
        self.path_s = 0.0
        self.pivot = np.zeros(2)
        self.radius = 1.0
        self.open0 = 0.0
        self.retreat_p = np.zeros(3)
        self.last_frac = 0.0
        self.still = 0
        self.hold_p = np.zeros(3)
        self.in_contact = False
        self.low = 0
        self.waited = 0
        self.n_filt = 0.0
        self.offset = np.zeros(3)
        self.centroid0 = np.zeros(2)
        self.lost = 0
        self.regrasps = 0
        self.hold_z = 0.0
        self.cz_hist: list[float] = []
        self.pause = 0
        self.t_load = 0.0
        self.floor = TouchFloor()
        self.sent: list[np.ndarray] = []  # TCP and yaw increments sent, oldest first
        self.delay_err = np.zeros(MAX_DELAY + 1)  # evidence per candidate delay
        self.delay = 0  # [control steps] actuation latency, estimated in free motion
        self.prev_tgt: np.ndarray | None = None

    # ------------------------------------------------------------------ sensing
    def _touch(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-pad normal force [N], shear (hand x, hand z) [N], centroid [mm], world force.

        The readings are taken relative to the no-contact floor (:class:`TouchFloor`)
        estimated during the approach: the floor's mean indentation and shear are
        subtracted, and the centroid is freed from the weight the noise puts on every
        marker. Without sensor noise the floor is zero and the readings are the raw ones.
        """
        f = obs[TOUCH].astype(float).reshape(2, 6)
        if self.phase == "approach" and not self.floor.frozen:
            self.floor.add(f)
        elif not self.floor.frozen:
            self.floor.freeze()
        ind, shear_mm, centroid = self.floor.correct(f)
        normal = self.c.cal_normal * ind
        shear = self.c.cal_shear * shear_mm
        s, c = obs[YAW]
        hx = np.array([c, s, 0.0])
        hy = np.array([s, -c, 0.0])
        hz = np.array([0.0, 0.0, -1.0])
        # force the held object exerts on the gripper, world frame
        world = hx * shear[:, 0].sum() + hz * shear[:, 1].sum() + hy * (normal[0] - normal[1])
        return normal, shear, centroid, world

    # ------------------------------------------------------------------ motion
    def _move(self, obs: np.ndarray, p_des: np.ndarray, yaw_des: float | None,
              speed: float) -> np.ndarray:
        a = np.zeros(5)
        pending = self._pending()  # Smith predictor: where the target will be
        delta = p_des - obs[TGT].astype(float) - pending[:3]
        n = float(np.linalg.norm(delta))
        if n > speed:
            delta *= speed / n
        a[:3] = delta / self.c.max_step
        if yaw_des is not None:
            s, c = obs[YAW]
            yaw = math.atan2(s, c) + float(pending[3])
            err = math.atan2(math.sin(yaw_des - yaw), math.cos(yaw_des - yaw))
            a[3] = err / self.c.max_yaw_step
        return a

    def _jaw(self, a: np.ndarray) -> np.ndarray:
        a[4] = self.jaw_target / self.c.stroke
        return np.clip(a, -1.0, 1.0).astype(np.float32)

    def _regulate(self, obs: np.ndarray, n_meas: float, felt: float | None = None) -> None:
        """Jaw set point from the force demand: servo-law feed-forward + touch integral.

        ``felt`` (default ``n_meas``) is the largest pad force; below 0.03 N the object
        is no longer felt and the jaws close again at ~6 mm/s (1.5 mm servo lead).
        """
        q = float(np.mean(obs[JAW]))
        if (n_meas if felt is None else felt) < 0.03:
            self.jaw_target = q - 0.0015
            return
        self.integral += 0.16 * (self.demand - n_meas) / self.c.finger_kp
        self.integral = float(np.clip(self.integral, -0.01, 0.01))
        self.jaw_target = q - self.demand / self.c.finger_kp - self.integral

    # ------------------------------------------------------------------ policy
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Action for one observation."""
        obs = np.asarray(obs, dtype=float)
        self.t += 1
        self._estimate_delay(obs)
        a = self._fragile(obs) if self.c.task == "fragile" else self._articulated(obs)
        self.sent = [*self.sent[-MAX_DELAY:],
                     np.append(a[:3] * self.c.max_step, a[3] * self.c.max_yaw_step)]
        return a

    def _estimate_delay(self, obs: np.ndarray) -> None:
        """Actuation latency from the commanded-target response during the approach.

        The observed TCP target moves by the increment applied in the last control
        period; with ``d`` steps of latency that is the increment sent ``d + 1`` steps
        ago. While the hand moves freely (approach) the mismatch of each candidate ``d``
        is accumulated; the latency is the best candidate when it explains the motion
        clearly better than ``d = 0`` (without latency ``d = 0`` matches exactly).
        """
        tgt = obs[TGT].astype(float)
        if self.phase == "approach" and self.prev_tgt is not None and self.sent:
            moved = tgt - self.prev_tgt
            for d in range(MAX_DELAY + 1):
                sent = self.sent[-1 - d][:3] if len(self.sent) > d else np.zeros(3)
                self.delay_err[d] += float(np.linalg.norm(moved - sent))
            best = int(np.argmin(self.delay_err))
            self.delay = best if self.delay_err[best] < 0.5 * self.delay_err[0] else 0
        self.prev_tgt = tgt

    def _pending(self) -> np.ndarray:
        """Sum of the TCP and yaw increments sent but not yet applied (latency)."""
        if self.delay == 0 or not self.sent:
            return np.zeros(4)
        return np.sum(self.sent[-self.delay:], axis=0)

    def _grasp_point(self, obs: np.ndarray) -> np.ndarray:
        return obs[VIS][:3].copy()

    def _angle(self, obs: np.ndarray) -> float:
        """Opening of the fixture in path units (rad for door/lever, m for the drawer)."""
        frac = float(obs[VIS][5])
        if self.c.task == "drawer":
            return frac * float(obs[VIS][3])
        return frac * (DOOR_RANGE if self.c.task == "door" else LEVER_RANGE)

    def _articulated(self, obs: np.ndarray) -> np.ndarray:
        ee = obs[EE]
        normal, shear, centroid, force = self._touch(obs)
        if self.phase == "retreat":
            # lost the handle: open fully, back off straight up from where the hand is now
            # (a fixture that ran away may have dragged it: pushing back towards the old
            # position wedges the handle between the fingers), wait until the handle is
            # still, grasp again
            self.jaw_target = self.c.stroke
            up = np.array([ee[0], ee[1], self.retreat_p[2]])
            a = self._move(obs, up, None, self.speed)
            frac = float(obs[VIS][5])
            self.still = self.still + 1 if abs(frac - self.last_frac) < 0.004 else 0
            self.last_frac = frac
            self.waited += 1
            if (self.still >= 5 and abs(ee[2] - self.retreat_p[2]) < 0.015) or \
                    self.waited > 50:
                self.phase = "approach"
                self.grasp = None
            return self._jaw(a)
        if self.phase == "approach":
            if self.grasp is None:
                self.grasp = self._grasp_point(obs)
                self.yaw0 = math.pi / 2
                if self.c.task == "door":
                    self.yaw0 += self._angle(obs)
            self.jaw_target = 0.03
            above = self.grasp + np.array([0.0, 0.0, 0.07])
            a = self._move(obs, above, self.yaw0, self.speed)
            if np.linalg.norm(ee - above) < 0.006:
                self.phase = "descend"
            return self._jaw(a)
        if self.phase == "descend":
            a = self._move(obs, self.grasp, self.yaw0, self.speed * 0.6)
            if np.linalg.norm(ee - self.grasp) < 0.004:
                self.phase = "close"
                self.stable = 0
                self.jaw_target = float(np.mean(obs[JAW]))
            return self._jaw(a)
        if self.phase == "close":
            a = self._move(obs, self.grasp + self.offset, self.yaw0, self.speed)
            if not self.use_touch:
                self.jaw_target = max(self.jaw_target - 0.001, 0.0)  # fixed command: close
                self.stable += 1
                if self.stable > 40:
                    self._start_pull(obs)
                return self._jaw(a)
            if self._close_on(obs, normal, self.handle_grip, 0.0, 0.15):
                # contact-guided alignment: centre the handle between the jaws (equal normal
                # forces) and on the pads along hand z (indentation centroid)
                s_, c_ = obs[YAW]
                hy = np.array([s_, -c_, 0.0])
                self.offset += 0.15 * (normal[0] - normal[1]) / self.c.finger_kp * hy
                cz = float(np.mean(centroid[:, 1]))
                self.offset[2] -= 0.3 * cz * 1e-3
                self.offset = np.clip(self.offset, -0.01, 0.01)
                # the pad forces chatter step to step on bar contacts: judge a low-passed mean
                self.n_filt = 0.7 * self.n_filt + 0.3 * float(np.mean(normal))
                self.stable = self.stable + 1 if self.n_filt > 0.5 * self.demand else 0
                if self.stable >= 8:
                    self._start_pull(obs)
            else:
                self.stable = 0
                if float(np.min(obs[JAW])) < 0.001 and self.regrasps < 3:
                    self.regrasps += 1  # closed on nothing
                    self._regrasp(obs)
            return self._jaw(a)
        if self.phase == "pull":
            opening = self._angle(obs)
            if self.use_touch:
                if max(normal) < 0.15:
                    self.lost += 1
                    if self.lost >= 3 and self.regrasps < 3:
                        self.regrasps += 1
                        self._regrasp(obs)
                        return self._jaw(self._move(obs, self.retreat_p, None, self.speed))
                else:
                    self.lost = 0
                t_mag = float(np.linalg.norm(shear, axis=1).max())
                self.demand = min(max(self.handle_grip, self.safety * t_mag / self.handle_mu), 30.0)
                self._regulate(obs, min(normal), max(normal))
            if float(obs[VIS][5]) >= self.open_target:
                self.phase = "hold"
                self.hold_p = obs[TGT].astype(float).copy()
                self.integral = 0.0  # the pull's wound-up squeeze is not carried into the hold
                return self._jaw(np.zeros(5))
            # the set point runs ahead of the measured opening by at most `lead`
            lead = 0.015 / self.radius if self.c.task != "drawer" else 0.015
            step = self.pull_speed / self.radius if self.c.task != "drawer" else self.pull_speed
            # ... never lags behind it (a fixture that runs ahead is followed, not braked) and
            # never backs off (a fixture that falls behind is waited for)
            meas = opening - self.open0
            self.path_s = max(meas, min(self.path_s + step, max(self.path_s, meas + lead)))
            p_des, yaw_des, radial = self._path(obs)
            if self.use_touch:
                # compliance: yield to the handle's reaction across the path
                # (leaky, so it corrects a path error without cancelling the pull)
                f_rad = float(force @ radial)
                self.offset = 0.95 * self.offset + 0.00005 * f_rad * radial
                # keep the contact centred on the pads along the fingers (hand z = world -z)
                self.offset[2] -= 0.1 * float(np.mean(centroid[:, 1])) * 1e-3
                n = float(np.linalg.norm(self.offset))
                if n > 0.01:
                    self.offset *= 0.01 / n
            a = self._move(obs, p_des + self.offset, yaw_des, 3 * self.pull_speed)
            return self._jaw(a)
        # hold: a light, touch-regulated grip (mean pad force) keeps the contact without
        # squeezing the handle against the jaws' force limit
        if self.use_touch:
            self.demand = self.hold_grip
            self._regulate(obs, float(np.mean(normal)), max(normal))
        return self._jaw(self._move(obs, self.hold_p, None, self.speed))

    def _start_pull(self, obs: np.ndarray) -> None:
        self.phase = "pull"
        self.p0 = obs[EE].astype(float).copy()
        self.path_s = 0.0
        self.lost = 0
        self.open0 = self._angle(obs)
        self.offset = np.zeros(3)  # p0 already includes the grasp alignment
        self.pivot = obs[VIS][3:5].astype(float).copy()
        if self.c.task == "door":
            self.radius = float(np.linalg.norm(self.p0[:2] - self.pivot))
        elif self.c.task == "lever":
            self.radius = float(np.hypot(self.p0[0] - self.pivot[0], self.p0[2] - self.pivot[1]))
        else:
            self.radius = 1.0

    def _regrasp(self, obs: np.ndarray) -> None:
        self.phase = "retreat"
        self.retreat_p = obs[EE].astype(float) + np.array([0.0, 0.0, 0.04])
        self.still = 0
        self.last_frac = float(obs[VIS][5])
        self.waited = 0
        self.offset = np.zeros(3)
        self.integral = 0.0

    def _path(self, obs: np.ndarray) -> tuple[np.ndarray, float | None, np.ndarray]:
        """Desired TCP, yaw and the radial (constraint) direction along the opening path."""
        s = self.path_s
        if self.c.task == "drawer":
            p = self.p0 + np.array([-s, 0.0, 0.0])
            return p, self.yaw0, np.array([0.0, 0.0, 1.0])
        if self.c.task == "door":
            r0 = self.p0[:2] - self.pivot
            phi = math.atan2(r0[1], r0[0]) + s
            e_r = np.array([math.cos(phi), math.sin(phi), 0.0])
            p = np.array([self.pivot[0], self.pivot[1], self.p0[2]]) + self.radius * e_r
            return p, self.yaw0 + s, e_r
        # lever: rotation in the x-z plane towards -x about the pivot (x, z)
        r0 = np.array([self.p0[0] - self.pivot[0], self.p0[2] - self.pivot[1]])
        c, sn = math.cos(s), math.sin(s)
        rx, rz = r0[0] * c - r0[1] * sn, r0[0] * sn + r0[1] * c
        e_r = np.array([rx, 0.0, rz]) / self.radius
        p = np.array([self.pivot[0] + rx, self.p0[1], self.pivot[1] + rz])
        return p, self.yaw0, e_r

    def _fragile(self, obs: np.ndarray) -> np.ndarray:
        ee = obs[EE]
        normal, shear, centroid, _ = self._touch(obs)
        if self.phase == "approach":
            if self.grasp is None:
                self.grasp = self._grasp_point(obs)
                self.width = float(obs[VIS][3])
                self.yaw0 = math.pi / 2
            self.jaw_target = self.width / 2 + 0.015
            above = self.grasp + np.array([0.0, 0.0, 0.08])
            a = self._move(obs, above, self.yaw0, self.speed)
            if np.linalg.norm(ee - above) < 0.006:
                self.phase = "descend"
            return self._jaw(a)
        if self.phase == "descend":
            a = self._move(obs, self.grasp, self.yaw0, self.speed * 0.6)
            if np.linalg.norm(ee - self.grasp) < 0.003:
                self.phase = "close"
                self.stable = 0
            return self._jaw(a)
        if self.phase == "close":
            a = self._move(obs, self.grasp, self.yaw0, self.speed)
            if not self.use_touch:
                final = self.width / 2 - self.fixed_grip_force / self.c.finger_kp
                self.jaw_target = max(self.jaw_target - 0.0004, final)
                if self.jaw_target <= final:
                    self.stable += 1
                    if self.stable > 15:
                        self._start_lift(obs)
                return self._jaw(a)
            if self._close_on(obs, normal, self.fragile_grip, self.width / 2, 0.15) and \
                    min(normal) >= 0.5 * self.fragile_grip:
                self.stable += 1
                if self.stable >= 8:
                    self._start_lift(obs)
            else:
                self.stable = 0
            return self._jaw(a)
        # lift / hold
        pause = False
        if self.use_touch:
            t_mag = float(np.linalg.norm(shear, axis=1).mean())
            n_mean = float(np.mean(normal))
            # incipient slip: the load ratio nears the assumed friction, or the shear
            # collapses while loaded (the object starts sliding)
            if n_mean > 0.1 and t_mag / n_mean > 0.8 * self.mu_low:
                self.boost = min(self.boost * 1.15, self.max_boost)
            if self.prev_shear > 0.1 and t_mag < 0.6 * self.prev_shear:
                self.boost = min(self.boost * 1.3, self.max_boost)
            self.prev_shear = t_mag
            # gross slip: the contact creeps along the pads towards the fingertips (the
            # object slides down between the jaws: ~0.4 mm per step); squeeze harder and
            # stop lifting until the contact stands still on the gel again. Judged over the
            # last three steps, so the slow centroid shift of a growing squeeze is no slip.
            if min(normal) > 0.05:
                self.cz_hist = [*self.cz_hist[-2:], float(np.mean(centroid[:, 1]))]
                if len(self.cz_hist) == 3 and \
                        self.cz_hist[-1] - min(self.cz_hist) > self.slip_drift:
                    self.boost = min(self.boost * 1.5, self.max_boost)
                    self.cz_hist = []
                    self.pause = 5
            else:
                self.cz_hist = []
            if self.pause > 0:
                self.pause -= 1
                pause = True
            # the shear term of the grip law: the running shear while the table unloads,
            # then at most 1.5x the load it reached (a squeeze on an off-centre contact
            # shifts the markers sideways too; followed freely, that reading and the
            # squeeze would drive each other up to the break force)
            loading = float(obs[TGT][2]) < self.p0[2] + 0.015
            if loading:
                self.t_load = max(self.t_load, t_mag)
            t_law = t_mag if loading else min(t_mag, 1.5 * self.t_load)
            self.demand = max(self.fragile_grip, self.safety * t_law / self.mu_low) * self.boost
            self._regulate(obs, n_mean)
        z_goal = self.p0[2] + self.lift_height
        p_des = np.array([self.p0[0], self.p0[1], z_goal])
        # load phase: the first 1.5 cm slowly, so the grip can follow the unloading table
        speed = 0.0005 if float(obs[TGT][2]) < self.p0[2] + 0.015 else 0.002
        if pause:
            p_des = obs[TGT].astype(float).copy()
        return self._jaw(self._move(obs, p_des, self.yaw0, speed))

    def _close_on(self, obs: np.ndarray, normal: np.ndarray, demand: float, half_est: float,
                  touch_level: float) -> bool:
        """Close the jaws until both pads feel the object, then regulate; True once in contact.

        Fast (3 mm servo lead) down to 4 mm outside the estimated half width, then a
        0.7 mm lead (about 2 N of jaw force at impact); contact is declared when both
        pads exceed ``touch_level`` and dropped only after three steps below a quarter of it.
        """
        q = float(np.min(obs[JAW]))
        if not self.in_contact:
            if min(normal) >= touch_level:
                self.in_contact = True
                self.integral = 0.0
                self.low = 0
            else:
                lead = 0.003 if q > half_est + 0.004 else 0.0007
                self.jaw_target = q - lead
                return False
        if min(normal) < 0.25 * touch_level:
            self.low += 1
            if self.low >= 3:
                self.in_contact = False
                return False
        else:
            self.low = 0
        self.demand = demand
        self._regulate(obs, float(np.mean(normal)))
        return True

    def _start_lift(self, obs: np.ndarray) -> None:
        self.phase = "lift"
        self.p0 = obs[TGT].astype(float).copy()


class NoTouchController(TouchController):
    """The same controller with the tactile input replaced by a fixed grip command."""

    @classmethod
    def for_env(cls, env: gym.Env) -> NoTouchController:
        """No-touch controller for ``env``."""
        return cls(_constants(env), use_touch=False)
