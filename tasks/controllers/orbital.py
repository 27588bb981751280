"""Reference controller of OrbitalCapture: track, match velocity, grasp, brake to rest.

The arm's base is fixed to the servicer (the station frame is inertial here), so
bringing the object to rest means bringing it to rest relative to the servicer:
once the jaws hold it, the arm decelerates its hand, and with it the object,
along an exponential velocity profile.

Inputs are the observation only (``OrbitalCaptureEnv`` state): the TCP pose and
jaw opening from the arm's own encoders, the servo tracking error, and the
stereo tracker's object position and velocity (cameras, ``tasks.perception``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

# State layout of OrbitalCaptureEnv (see its docstring).
_EE, _YAW, _OPEN, _ERR, _EST, _VEL, _VALID = (
    slice(0, 3), 3, 4, slice(5, 8), slice(8, 11), slice(11, 14), 14
)


def _state(obs: Any) -> NDArray[np.float64]:
    """The 16-float state from a ``"state"`` or ``"both"`` observation."""
    if isinstance(obs, dict):
        obs = obs["state"]
    s = np.asarray(obs, dtype=np.float64)
    if s.shape != (16,):
        raise ValueError(
            f"obs: shape {s.shape}; OrbitalCaptureController needs the 16-float state "
            "(make the env with obs_mode='state' or 'both')"
        )
    return s


class OrbitalCaptureController:
    """Phases: wait for a track, approach above the object, descend onto it, close, brake, hold.

    Every target is the tracker's position extrapolated by ``lead_s`` with its
    velocity, so the hand moves with the object (velocity matching) before and
    while the jaws close. A closure that ends below ``miss_opening`` (the jaws met
    nothing) reopens and starts over.

    Args:
        max_step: TCP displacement of a unit action [m] (the env's ``max_step``).
        dt: Control period [s] (the env's ``dt``).
        hover: Height above the object of the approach point [m].
        descend_speed: Descent speed relative to the object [m/s].
        lead_s: Extrapolation of the object's motion to cover the servo lag [s].
        align_tol: Lateral distance TCP-object below which the descent continues [m].
        grip_opening: Jaw opening of a closed grasp on the 5 cm fixture [m].
        squeeze_target: Each jaw's opening target while closing and holding [m]: a few mm
            inside the fixture's 25 mm radius, so the jaws meet it slowly (the servo's
            exponential approach) and hold it with ~10 N, below their force limit, where
            the two jaw servos act as a centring spring and damper on the object.
        miss_opening: Opening below which the closure missed the object [m].
        brake_tau: Time constant of the exponential braking of the held object [s].
    """

    def __init__(self, max_step: float = 0.01, dt: float = 0.05, hover: float = 0.08,
                 descend_speed: float = 0.1, lead_s: float = 0.1, align_tol: float = 0.006,
                 grip_opening: float = 0.05, squeeze_target: float = 0.0225,
                 miss_opening: float = 0.035, brake_tau: float = 0.3,
                 stroke: float = 0.04) -> None:
        for name, value in (("max_step", max_step), ("dt", dt), ("descend_speed", descend_speed),
                            ("brake_tau", brake_tau)):
            if not value > 0:
                raise ValueError(f"OrbitalCaptureController.{name} = {value!r}; expected > 0")
        self.max_step = float(max_step)
        self.dt = float(dt)
        self.hover = float(hover)
        self.descend_speed = float(descend_speed)
        self.lead_s = float(lead_s)
        self.align_tol = float(align_tol)
        self.grip_opening = float(grip_opening)
        self.squeeze = float(squeeze_target) / float(stroke)  # action units
        self.miss_opening = float(miss_opening)
        self.brake_tau = float(brake_tau)
        self.reset(0)

    @classmethod
    def for_env(cls, env: object) -> OrbitalCaptureController:
        """Controller for the env's TCP step size and control period (its only use of the env)."""
        u = env.unwrapped  # type: ignore[attr-defined]
        return cls(max_step=float(u.max_step), dt=float(u.dt),
                   stroke=float(u.arm_params.finger_stroke))

    def reset(self, seed: int) -> None:
        """Start a new episode (deterministic; the seed is unused)."""
        del seed
        self.phase = "wait"
        self._n = 0
        self._h = self.hover
        self._v_hold = np.zeros(3)
        self._last_open = math.inf

    def _move(self, s: NDArray[np.float64], target: NDArray[np.float64],
              limit: float = 1.0) -> NDArray[np.float64]:
        """Action moving the commanded TCP (measured TCP + tracking error) to ``target``."""
        goal = s[_EE] + s[_ERR]
        return np.clip((target - goal) / self.max_step, -limit, limit)

    def act(self, obs: Any) -> NDArray[np.float32]:
        """``[dx, dy, dz, dyaw, grip]`` in [-1, 1] from one observation."""
        s = _state(obs)
        ee, opening = s[_EE], float(s[_OPEN])
        p = s[_EST] + s[_VEL] * self.lead_s
        self._n += 1
        move, grip = np.zeros(3), 1.0
        if self.phase == "wait":
            if s[_VALID] > 0.5:
                self.phase, self._n = "approach", 0
        if self.phase == "approach":
            target = p + np.array([0.0, 0.0, self.hover])
            move = self._move(s, target)
            if np.linalg.norm(target - ee) < 0.01:
                self.phase, self._n, self._h = "descend", 0, self.hover
        elif self.phase == "descend":
            lateral = float(np.linalg.norm((p - ee)[:2]))
            if lateral < self.align_tol:  # descend only while centred over the object
                self._h = max(0.0, self._h - self.descend_speed * self.dt)
            move = self._move(s, p + np.array([0.0, 0.0, self._h]))
            if self._h == 0.0 and np.linalg.norm(p - ee) < self.align_tol:
                self.phase, self._n, self._last_open = "close", 0, opening
                self._v_hold = s[_VEL].copy()  # object velocity before the jaws occlude it
        elif self.phase == "close":
            grip = self.squeeze
            move = self._move(s, p)  # keep matching the object's velocity while closing
            settled = abs(self._last_open - opening) < 2e-4 and self._n > 3
            self._last_open = opening
            if opening < self.miss_opening or self._n > 40:
                self.phase, self._n = "reopen", 0
            elif settled and opening < self.grip_opening + 0.005:
                self.phase, self._n = "brake", 0
        elif self.phase == "reopen":
            move = self._move(s, ee + np.array([0.0, 0.0, 0.5 * self.max_step]), 0.5)
            if self._n > 10 and opening > 0.07:
                self.phase, self._n = "approach", 0
        else:  # brake, then hold: hand (and object) velocity decays to zero, jaws closed
            grip = self.squeeze
            # the hand moves with the object's pre-grasp velocity, decaying to zero; the
            # commanded TCP then stays put and the servo settles the hand on it
            self._v_hold = self._v_hold * math.exp(-self.dt / self.brake_tau)
            move = np.clip(self._v_hold * self.dt / self.max_step, -1.0, 1.0)
        return np.concatenate([move, [0.0, grip]]).astype(np.float32)
