"""Reference controller for SampleCollect, closed loop on the camera ray estimate.

It reads observations only: the arm's own joint/TCP instruments and the ray
toward the sample that the lander's perception pipeline derives from camera
frames (``tasks.sample_collect``). Camera mount and container position are
lander calibration constants.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sims.arm import ArmParams
from tasks.controllers.common import state_vector as _state

DESCEND_BLIND = 10  # control steps at the start of a descent in which no contact is sensed
# Contact is a tracking error with the TCP stopped: a TCP that still descends this much per
# control step (commanded: 5 mm) is lagging, not touching. With the jaws turned 90 deg after a
# regrasp the servos lag 1.5-2 cm on the way down, which read as contact 27-29 cm above the
# ground and a grasp in the air (lunar-highland-slopes seeds 16, 42, 59, 66 and 74: ~4 s each).
DESCENT_STALL = 0.002  # [m per control step]


class SampleCollector:
    """Pick the sample along the camera ray and stow it (SampleCollect).

    Phases: move above the sample on its viewing ray, descend *along the ray* (so
    the unknown ground height does not matter) until the servo tracking error
    shows contact, raise the pads to the sample's equator, close; if the closed
    jaws' opening (the chord they squeeze) shows the pads' lower edge above the
    equator (on a slope the uphill fingertip touched first), open, go down by what
    the chord gives (never below the first contact) and close again; if it is still
    well off, open, turn the jaws 90 deg, look again (the closing jaws may have
    pushed the rock) and grasp once more;
    lift (retry, jaws turned 90 deg, if the jaws closed on nothing or lost the
    rock), carry over the container, lower, open, retreat. Reads only the state vector (lander
    frame); the camera position and the container position are lander
    calibration constants (``tasks.sample_collect``).
    """

    def __init__(self, max_step: float = 0.01, safe_z: float = 0.30, contact_err: float = 0.012,
                 grasp_raise: float = 0.0055, carry_speed: float = 0.7, max_retries: int = 3,
                 min_grip_opening: float = 0.040, max_yaw_step: float = 0.1,
                 equator_opening: float = 0.0425, pad_squeeze: float = 0.001):
        from tasks import sample_collect as sc

        # The pads span the TCP +/- 7.15 mm (their lower edge is the fingertip) and the
        # sample's centre lies ~16 mm above the ground it rests on. A rock lifted off a slope
        # hangs tilted in the jaws, and squeezed with its centre well below the TCP it slides
        # down the pads and out (lunar-highland-slopes seed 14: centre 9 mm below, it crept
        # 7 mm down during the carry and fell at 15.8 s; tilted 16 deg and carried 6 s it
        # falls out 8-9 mm below and holds 3.7-5 mm below, tests/test_sample_collect.py). On
        # a slope the uphill fingertip touches ground up to ~7 mm above the rock's base, so a
        # raise r from that contact puts the centre 8.85 - r ... 8.85 - 7 - r mm above the
        # TCP: r = 5.5 mm gives +3.4 ... -3.7 mm (8 mm, the flat-ground centre, gave -6.2 mm
        # and lost the rock in the lift or carry on seeds 14, 52 and 59).
        # A squeeze off the equator has a normal-force component along the pads that pushes
        # the rock out; the closed jaws' opening measures the chord there (44 mm at the
        # equator, < 40 mm more than ~6 mm above or below it).
        self.min_grip_opening = min_grip_opening
        # Closed jaws narrower than this squeeze the rock with the pads' lower edge above
        # its equator (a grip across the equator reads 43 mm: the 44 mm chord less
        # ``pad_squeeze``, the pads' compression at the 15 N grip, measured): the jaws open,
        # go down to the equator height that the chord gives, and close again (once).
        self.equator_opening = equator_opening
        self.pad_squeeze = pad_squeeze
        self.sample_radii = tuple(float(r) for r in sc.SAMPLE_RADII)
        self.pad_half_height = float(ArmParams().pad_half[1])  # [m] pad span: TCP +/- this
        self.max_yaw_step = max_yaw_step
        self.max_retries = max_retries
        self.grasp_raise = grasp_raise
        # Lift and carry at 0.7 x max_step per step (14 cm/s): the rock held across its
        # equator takes it (0.4 dated from before the noslip pads and the centred closure;
        # at 0.4 the lift and carry took ~12 s of the 30 s, and lunar-highland-slopes seeds
        # 42, 61 and 66 ran out of time holding the rock).
        self.carry_speed = carry_speed
        self.max_step = max_step
        self.safe_z = safe_z
        self.contact_err = contact_err
        self.cam = np.asarray(sc.CAMERA_POS, dtype=np.float64)
        self.container = np.asarray(sc.CONTAINER_POS, dtype=np.float64)
        self.reset(0)

    @classmethod
    def for_env(cls, env: object) -> SampleCollector:
        """Controller for the env's TCP step size (its only use of the env)."""
        u = env.unwrapped  # type: ignore[attr-defined]
        return cls(max_step=float(getattr(u, "max_step", 0.01)),
                   max_yaw_step=float(getattr(u, "max_yaw_step", 0.1)))

    def reset(self, seed: int) -> None:
        """Start a new episode (deterministic; seed unused)."""
        del seed
        self.phase = "look"
        self._n = 0
        self._retries = 0
        self._regrasped = False
        self._lowered = False  # the grasp was already moved down to the chord's equator
        self._contact_z = -math.inf  # [m] TCP height at the fingertips' first contact
        self._turn = 0  # control steps of hand yaw turn still to do
        self._turn_sign = 1.0  # turns alternate +90 / -90 deg: the wrist stays within its range
        self._ray: np.ndarray | None = None
        self._prev_z = math.inf  # [m] TCP height at the previous control step

    def _toward(self, ee: np.ndarray, p: np.ndarray, speed: float = 1.0) -> np.ndarray:
        return np.clip((p - ee) / self.max_step, -speed, speed)

    def _on_ray(self, z: float) -> np.ndarray:
        assert self._ray is not None
        t = (z - self.cam[2]) / min(self._ray[2], -1e-3)
        return self.cam + t * self._ray

    def act(self, obs: Any) -> np.ndarray:
        """``[dx, dy, dz, dyaw, grip]`` in [-1, 1]."""
        s = _state(obs)
        ee, opening, err = s[0:3], float(s[4]), s[5:8]
        valid, age = s[11] > 0.5, float(s[12])
        move = np.zeros(3)
        grip = 1.0
        dyaw = 0.0
        self._n += 1
        sinking = self._prev_z - float(ee[2]) > DESCENT_STALL
        self._prev_z = float(ee[2])
        if self.phase == "look":
            # park beside the container, out of the camera's view, until a fresh fix; at full
            # speed: the jaws hold nothing here (carry_speed is for a held sample), and each
            # retry's trip out of the view at 0.4 cost ~2.5 s (lunar-highland-slopes seeds 10,
            # 18, 31, 38, 56 and 69, which had run out of the 30 s, now succeed)
            move = self._toward(ee, self.container + np.array([0.0, 0.0, 0.15]))
            if self._turn > 0:
                # the next attempt with the jaws turned 90 deg: the ray's error (largest
                # under a low sun, towards the rock's lit side) that put the rock off the
                # 19 mm wide pads now lies along the 80 mm jaw opening
                self._turn -= 1
                dyaw = self._turn_sign
                if self._turn == 0:
                    self._turn_sign = -self._turn_sign
            # after a failed or turned grasp the sample may have been pushed: wait until
            # the arm is out of the view and take a fix from a frame taken since then
            again = self._retries > 0 or self._regrasped
            fresh = age < 0.25 and self._n > 10 if again else age < 1.0
            if valid and fresh and self._turn == 0:
                self._ray = s[8:11] / max(float(np.linalg.norm(s[8:11])), 1e-9)
                self.phase, self._n = "above", 0
        elif self.phase == "above":
            p = self._on_ray(self.safe_z)
            move = self._toward(ee, p)
            # descend only once the servos have caught up: a TCP still lagging its target
            # reads as contact at once (highland seed 10: 4 cm of tracking error at the top
            # of the ray, "contact" 30 cm above the ground, a grasp in the air, 4 s lost)
            settled = float(np.linalg.norm(err)) < 0.5 * self.contact_err or self._n > 60
            if np.linalg.norm(p - ee) < 0.01 and settled:
                self.phase, self._n = "descend", 0
        elif self.phase == "descend":
            p = self._on_ray(ee[2] - 0.5 * self.max_step)
            move = self._toward(ee, p, 0.5)
            # the first DESCEND_BLIND steps (5 cm down the ray from safe_z, still well above
            # any ground in reach) cannot be contact: the servos lag the target as it starts
            # down a slanted ray (highland seed 10: 2 cm of error, "contact" at z = 0.30 m)
            touching = err[2] < -self.contact_err and not sinking
            if self._n > DESCEND_BLIND and (touching or ee[2] < -0.3):
                # fingertips on the ground: raise the pads across the sample's equator
                self._grasp_at = ee + np.array([0.0, 0.0, self.grasp_raise])
                self._contact_z = float(ee[2])
                self.phase, self._n = "raise", 0
        elif self.phase == "raise":
            move = np.clip((self._grasp_at - ee - err) / self.max_step, -0.5, 0.5)
            if self._n >= 6:
                self.phase, self._n = "grasp", 0
        elif self.phase == "grasp":
            grip = -1.0
            move = np.clip((self._grasp_at - ee - err) / self.max_step, -0.5, 0.5)
            if self._n >= 14:
                self.phase, self._n = "lift", 0
                if 0.01 < opening < self.equator_opening and not self._lowered:
                    # the pads' lower edge squeezes above the equator (on a slope a
                    # fingertip touched higher ground, or the sample's flank): the chord
                    # says how far above; go down there, no lower than the first contact
                    a, c = self.sample_radii[0], self.sample_radii[2]
                    chord = opening + self.pad_squeeze
                    above = c * math.sqrt(max(0.0, 1.0 - (0.5 * chord / a) ** 2))
                    z_eq = float(ee[2]) - self.pad_half_height - above
                    self._grasp_at = self._grasp_at.copy()
                    self._grasp_at[2] = max(z_eq + 0.002, self._contact_z + 0.001)
                    self._lowered = True
                    if self._grasp_at[2] < float(ee[2]) - 0.002:
                        self.phase = "reopen"
                elif 0.01 < opening < self.min_grip_opening and not self._regrasped:
                    # squeezing off the equator: on a slope the uphill fingertip touched
                    # first. Open, back off, turn the jaws 90 deg (across the slope the
                    # fingertips reach the sample's ground level) and look again.
                    self._regrasped = True
                    self.phase = "regrasp"
        elif self.phase == "reopen":
            # open the jaws where they are, then move down to the new grasp height
            grip = 1.0
            if self._n > 8:
                move = np.clip((self._grasp_at - ee - err) / self.max_step, -0.3, 0.3)
            if self._n >= 14:
                self.phase, self._n = "grasp", 0
        elif self.phase == "regrasp":
            grip = 1.0
            move = self._toward(ee, self._on_ray(self._grasp_at[2] + 0.04), 0.5)
            quarter = round(0.5 * math.pi / self.max_yaw_step)  # control steps of a 90 deg turn
            dyaw = self._turn_sign if 4 < self._n <= 4 + quarter else 0.0
            if self._n > quarter + 4:
                self._turn_sign = -self._turn_sign
                self.phase, self._n = "look", 0
        elif self.phase == "lift":
            grip = -1.0
            move = self._toward(ee, np.array([ee[0], ee[1], self.safe_z]), self.carry_speed)
            if ee[2] > self.safe_z - 0.02:
                if opening < 0.01 and self._retries < self.max_retries:  # closed on nothing
                    self._retries += 1
                    self._turn = round(0.5 * math.pi / self.max_yaw_step)
                    self.phase, self._n = "look", 0
                else:
                    self.phase, self._n = "carry", 0
                    self._lift_xy = ee[:2].copy()
                    self._via_done = False
        elif self.phase == "carry":
            # swing around the base on an arc (a waypoint at the mid bearing) rather than
            # cutting across it, where the arm's IK lags and would fling the sample
            grip = -1.0
            if opening < 0.01 and self._retries < self.max_retries:
                # the jaws closed on nothing: the sample slipped out on the way, look again
                self._retries += 1
                self._turn = round(0.5 * math.pi / self.max_yaw_step)
                self.phase, self._n = "look", 0
            p = self.container + np.array([0.0, 0.0, 0.15])
            if not self._via_done:
                a0, a1 = math.atan2(self._lift_xy[1], self._lift_xy[0]), math.atan2(p[1], p[0])
                am = 0.5 * (a0 + a1)
                r = 0.5 * (float(np.linalg.norm(self._lift_xy)) + float(np.linalg.norm(p[:2])))
                via = np.array([r * math.cos(am), r * math.sin(am), p[2]])
                move = self._toward(ee, via, self.carry_speed)
                self._via_done = bool(np.linalg.norm(via - ee) < 0.02)
            else:
                move = self._toward(ee, p, self.carry_speed)
            if np.linalg.norm(p - ee) < 0.01:
                self.phase, self._n = "lower", 0
        elif self.phase == "lower":
            grip = -1.0
            p = self.container + np.array([0.0, 0.0, 0.03])
            move = self._toward(ee, p, 0.5)
            if np.linalg.norm(p - ee) < 0.006 or self._n > 60:
                self.phase, self._n = "release", 0
        elif self.phase == "release":
            grip = 1.0
            if self._n >= 10:
                self.phase, self._n = "retreat", 0
        else:  # retreat and hold
            move = self._toward(ee, self.container + np.array([0.0, 0.0, 0.15]), 0.5)
        return np.concatenate([move, [dyaw, grip]]).astype(np.float32)
