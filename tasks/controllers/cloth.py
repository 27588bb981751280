"""Reference controllers for the cloth tasks: touch-guided pick-and-place on observations only.

Each controller reads the observation vector of ``tasks.cloth`` (layout
indices imported from there): proprioception, the commanded TCP target,
fingertip touch forces, the perceived cloth corners/centroid and the measured
gravity. From the first observation it plans one pick-and-place (where to
grasp, jaw orientation, where to put the grasped point) and then runs a small
state machine:

``approach`` (hover above the grasp point, set yaw and pre-opening) ->
``descend`` (lower until a fingertip feels the cloth: touch force above
``touch_threshold``, or the table is reached) -> ``close`` (squeeze) ->
``arc`` (carry the grasped point on a semicircle about the crease to its place;
mid-arc a vision check that the grasped keypoint rose, else regrasp) ->
``release`` -> ``retreat`` -> ``done``.

Touch is what makes the grasp work on layered cloth: the descent stops on
contact, wherever the top layer is, so the jaws close on the layer they touch.
Waits after release scale with sqrt(g_earth / g) (slower settling on the Moon).
"""

from __future__ import annotations

import math

import numpy as np

from tasks.cloth import CENTROID, CORNERS, GRAVITY, TARGET, TCP, TOUCH, YAW

G_REF = 9.80665  # [m/s^2] standard gravity (3rd CGPM 1901), reference for settle waits
PRE_OPEN = 0.0  # grip command before descent: jaws half open (20 mm each)


def _yaw_for_jaw_axis(axis: np.ndarray) -> float:
    """Hand yaw that puts the jaw (hand y) axis along ``axis`` (xy), gripper pointing down."""
    # hand y = (sin yaw, -cos yaw)  (sims.arm.ArmController desired frame)
    return math.atan2(float(axis[0]), float(-axis[1]))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class PickPlaceController:
    """Touch-guided pick-and-place; subclasses choose grasp, yaw and place from the observation.

    Args:
        max_ee_step: TCP step per unit action [m] (the env's ``max_ee_step``).
        max_yaw_step: Yaw step per unit action [rad].
        dt: Control period [s].
        hover: Height of the approach above the table [m].
        place_height: TCP height at which the cloth is released [m].
        touch_threshold: Fingertip force that ends the descent (fingertips pressing the
            cloth onto the table, so the jaws close below its mid-plane) [N].
        contact_force: Fingertip force taken as first contact (descent slows down) [N].
        close_time: Squeeze duration before lifting [s].
        settle_time: Wait after release on Earth [s] (scaled by sqrt(g_earth / g)).
    """

    def __init__(self, max_ee_step: float = 0.01, max_yaw_step: float = 0.1, dt: float = 0.05,
                 hover: float = 0.06, place_height: float = 0.02,
                 touch_threshold: float = 2.5, contact_force: float = 0.3, close_time: float = 0.6,
                 settle_time: float = 0.4):
        self.max_ee_step = max_ee_step
        self.max_yaw_step = max_yaw_step
        self.dt = dt
        self.hover = hover
        self.place_height = place_height
        self.touch_threshold = touch_threshold
        self.contact_force = contact_force
        self.close_time = close_time
        self.settle_time = settle_time
        self.reset(0)

    @classmethod
    def for_env(cls, env: object) -> PickPlaceController:
        """Controller matched to the env's action scaling and control period."""
        u = env.unwrapped  # type: ignore[attr-defined]
        return cls(max_ee_step=float(u.rig.max_ee_step), max_yaw_step=float(u.rig.max_yaw_step),
                   dt=float(u.dt))

    def reset(self, seed: int) -> None:
        """Forget the previous episode (deterministic controller; seed unused)."""
        del seed
        self.phase = "plan"
        self._t = 0.0
        self._grasp = np.zeros(3)
        self._place = np.zeros(3)
        self._yaw = 0.0
        self._wait_scale = 1.0
        self._hold_z = 0.0
        self._s = 0.0
        self._checked = False
        self._retries = 0
        self._anchor = np.zeros(2)

    # --- planning (subclasses) ---------------------------------------------------------------
    arc_scale = 1.0  # height of the carry arc / its half chord (1 = semicircle)
    arc_speed = 1.0  # fraction of max_ee_step travelled along the arc per step
    grasp_rise = 0.02  # [m] height the grasped keypoint must reach mid-arc (grasp check), assumed
    max_retries = 2  # regrasp attempts after a failed grasp check
    squeeze = -1.0  # grip command while holding (-1: jaws commanded 10 mm past closed)

    def anchor(self, corners: np.ndarray, centroid: np.ndarray) -> np.ndarray:
        """Perceived keypoint (xy) that must rise with a good grasp: the nearest corner."""
        g = self._grasp[:2]
        return corners[int(np.argmin(np.linalg.norm(corners[:, :2] - g, axis=1))), :2].copy()

    def plan(self, corners: np.ndarray, centroid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Grasp point (xy), place point (xy) and jaw axis yaw from the perceived keypoints."""
        raise NotImplementedError

    def grasp_ok(self, obs: np.ndarray) -> bool:
        """Vision check mid-arc: the perceived keypoint nearest the grasp has risen."""
        pts = np.vstack([obs[CORNERS].reshape(4, 3), obs[CENTROID][None, :]])
        k = int(np.argmin(np.linalg.norm(pts[:, :2] - self._anchor, axis=1)))
        return bool(pts[k, 2] > self.grasp_rise)

    def _dir(self) -> np.ndarray:
        d = self._place[:2] - self._grasp[:2]
        return d / max(float(np.linalg.norm(d)), 1e-9)

    def _retry_offset(self) -> np.ndarray:
        """Shift of the grasp point for a retry: 1 cm towards the place point."""
        d = self._place[:2] - self._grasp[:2]
        return 0.01 * d / max(float(np.linalg.norm(d)), 1e-9)

    # --- execution -----------------------------------------------------------------------------
    def _move(self, obs: np.ndarray, goal: np.ndarray, grip: float) -> np.ndarray:
        """Action moving the commanded target towards ``goal`` and the yaw towards the plan."""
        a = np.zeros(5)
        a[:3] = np.clip((goal - obs[TARGET]) / self.max_ee_step, -1.0, 1.0)
        yaw = math.atan2(float(obs[YAW][1]), float(obs[YAW][0]))
        a[3] = np.clip(_wrap(self._yaw - yaw) / self.max_yaw_step, -1.0, 1.0)
        a[4] = grip
        return a

    def _next(self, phase: str) -> None:
        self.phase = phase
        self._t = 0.0

    def act(self, obs: np.ndarray) -> np.ndarray:
        """One action (TCP delta, yaw delta, grip) from one observation."""
        obs = np.asarray(obs, dtype=np.float64)
        tcp = obs[TCP]
        self._t += self.dt
        if self.phase == "plan":
            g = max(float(obs[GRAVITY]), 1e-3)
            self._wait_scale = math.sqrt(G_REF / g)
            grasp, place, yaw = self.plan(obs[CORNERS].reshape(4, 3), obs[CENTROID])
            self._grasp = np.array([grasp[0], grasp[1], self.hover])
            self._place = np.array([place[0], place[1], self.place_height])
            cur = math.atan2(float(obs[YAW][1]), float(obs[YAW][0]))
            # a parallel jaw is symmetric: yaw and yaw + pi grasp alike; take the nearer
            self._yaw = yaw if abs(_wrap(yaw - cur)) <= math.pi / 2 else _wrap(yaw + math.pi)
            self._anchor = self.anchor(obs[CORNERS].reshape(4, 3), obs[CENTROID])
            self._next("approach")
        if self.phase == "approach":
            a = self._move(obs, self._grasp, PRE_OPEN)
            near = np.linalg.norm(tcp - self._grasp) < 0.01
            yaw = math.atan2(float(obs[YAW][1]), float(obs[YAW][0]))
            if (near and abs(_wrap(self._yaw - yaw)) < 0.05) or self._t > 6.0:
                self._next("descend")
            return a.astype(np.float32)
        if self.phase == "descend":
            goal = np.array([self._grasp[0], self._grasp[1], -0.01])
            a = self._move(obs, goal, PRE_OPEN)
            force = float(np.max(obs[TOUCH]))
            # 3 mm per step in free space, 1 mm per step once a fingertip feels the cloth
            a[2] = -0.1 if force > self.contact_force else -0.3
            if force > self.touch_threshold or self._t > 4.0:
                self._hold_z = float(tcp[2])
                self._next("close")
                a[2] = 0.0
            return a.astype(np.float32)
        if self.phase == "close":
            goal = np.array([self._grasp[0], self._grasp[1], self._hold_z])
            a = self._move(obs, goal, self.squeeze)
            if self._t >= self.close_time:
                self._s = 0.0
                self._checked = False
                self._next("arc")
            return a.astype(np.float32)
        if self.phase == "arc":
            # semicircle about the crease (the perpendicular bisector of grasp and place): the
            # grasped point stays about a radius from the crease, so the cloth is laid over, not
            # dragged (a fold is a reflection of the grasped part across the crease)
            start = np.array([self._grasp[0], self._grasp[1], self._hold_z])
            chord = self._place - start
            radius = 0.5 * float(np.linalg.norm(chord[:2]))
            self._s = min(1.0, self._s + self.max_ee_step / max(math.pi * radius * self.arc_scale,
                                                                  1e-3) * self.arc_speed)
            goal = start + chord * (0.5 - 0.5 * math.cos(math.pi * self._s))
            goal[2] = self._hold_z + (self.place_height - self._hold_z) * self._s + \
                self.arc_scale * radius * math.sin(math.pi * self._s)
            a = self._move(obs, goal, self.squeeze)
            if self._s > 0.35 and not self._checked:
                self._checked = True
                if not self.grasp_ok(obs) and self._retries < self.max_retries:
                    self._retries += 1
                    self._grasp[:2] += self._retry_offset()
                    self._next("approach")
                    a[4] = 1.0
                    return a.astype(np.float32)
            if self._s >= 1.0 and np.linalg.norm(tcp - self._place) < 0.02 or self._t > 8.0:
                self._next("release")
            return a.astype(np.float32)
        if self.phase == "release":
            a = self._move(obs, self._place, 1.0)
            if self._t >= 0.5 * self._wait_scale:
                self._next("retreat")
            return a.astype(np.float32)
        if self.phase == "retreat":
            back = self._place[:2] - 0.04 * self._dir()
            goal = np.array([back[0], back[1], self.hover + 0.06])
            a = self._move(obs, goal, 1.0)
            if self._t >= self.settle_time * self._wait_scale + 1.0:
                self._next("done")
            return a.astype(np.float32)
        return np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)


class ClothFlattenController(PickPlaceController):
    """Unfold the folded corner: grasp the flap near its tip, lay it back across the crease.

    The folded corner is the perceived corner nearest the perceived centroid
    (its tip lies inside the cloth); its flat position follows from the other
    three (a flat square is a parallelogram: ``c_i = c_j + c_k - c_opposite``).
    The flap is grasped ``grasp_in`` from the tip along the tip-to-target
    direction, with the jaws along that direction (both fingers land on the
    flap), and the grasped point is placed where it lies in the flat cloth: the
    mirror image, ``grasp_in`` short of the target.
    """

    grasp_in = 0.03  # [m] grasp distance from the folded tip, assumed (jaw pad half length + margin)
    overshoot = 0.01  # [m] extra pull beyond the flat position (taut, not short), assumed

    def __init__(self, **kwargs: float):
        # light touch: stop on the top layer (pressing through both layers pinches the wrong one)
        kwargs.setdefault("touch_threshold", 0.5)
        kwargs.setdefault("contact_force", 0.2)
        super().__init__(**kwargs)

    def plan(self, corners: np.ndarray, centroid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Grasp near the folded tip; place its mirror image; jaws along the unfolding direction."""
        c = corners[:, :2]
        # the folded tip lies inside the cloth: the corner nearest the centroid
        best = int(np.argmin(np.linalg.norm(c - centroid[:2], axis=1)))
        # corner order (-x-y, -x+y, +x-y, +x+y): opposite pairs (0, 3), (1, 2); a flat square
        # is a parallelogram, so the tip's flat position is c_j + c_k - c_opposite
        opposite = {0: 3, 3: 0, 1: 2, 2: 1}[best]
        j, k = [n for n in range(4) if n not in (best, opposite)]
        target = c[j] + c[k] - c[opposite]
        tip = c[best]
        u = target - tip
        u /= max(float(np.linalg.norm(u)), 1e-9)
        grasp = tip + self.grasp_in * u
        place = target - self.grasp_in * u + self.overshoot * u
        return grasp, place, _yaw_for_jaw_axis(u)


class ClothFoldController(PickPlaceController):
    """Diagonal fold: lay corner 0 onto corner 3.

    Grasp ``grasp_in`` from corner 0 along the diagonal (jaws across it), and put
    that point at its mirror image across the crease: ``grasp_in`` short of corner 3.
    """

    grasp_in = 0.06  # [m] grasp distance from the corner tip (a pinch needs cloth around both jaws), assumed
    overshoot = -0.03  # [m] stop short: the pinch gathers ~3 cm of cloth (slack, not drag), assumed

    def plan(self, corners: np.ndarray, centroid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Grasp near corner 0; place short of corner 3; jaws across the diagonal."""
        c = corners[:, :2]
        u = c[3] - c[0]
        u /= max(float(np.linalg.norm(u)), 1e-9)
        grasp = c[0] + self.grasp_in * u
        place = c[3] - self.grasp_in * u + self.overshoot * u
        # jaws across the diagonal: the corner beyond the pinch hangs free instead of over a finger
        return grasp, place, _yaw_for_jaw_axis(np.array([-u[1], u[0]]))


class ClothLiftController(PickPlaceController):
    """Grasp the cloth at its perceived centroid and lift it high; never release.

    Once the TCP is up, a vision check (perceived centroid above ``grasp_rise``)
    confirms the grasp; otherwise the jaws open and it regrasps 1 cm beside.
    """

    lift_to = 0.30  # [m] TCP height: above lift_height + hanging depth of a 0.24 m cloth, assumed

    def anchor(self, corners: np.ndarray, centroid: np.ndarray) -> np.ndarray:
        """The centroid must rise with a good grasp."""
        return centroid[:2].copy()

    def plan(self, corners: np.ndarray, centroid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Grasp at the centroid; 'place' is straight above it; jaws along an edge."""
        axis = corners[2, :2] - corners[0, :2]
        return centroid[:2].copy(), centroid[:2].copy(), _yaw_for_jaw_axis(axis)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Pick up to ``close``, then lift and hold the cloth at ``lift_to``."""
        if self.phase in ("plan", "approach", "descend", "close"):
            return super().act(obs)
        obs = np.asarray(obs, dtype=np.float64)
        if self.phase != "hold":
            self._next("hold")
        self._t += self.dt
        goal = np.array([self._grasp[0], self._grasp[1], self.lift_to])
        a = self._move(obs, goal, self.squeeze)
        if obs[TCP][2] > 0.15 and not self._checked:
            self._checked = True
            if not self.grasp_ok(obs) and self._retries < self.max_retries:
                self._retries += 1
                self._grasp[:2] += np.array([0.01, 0.0]) * (1 if self._retries == 1 else -2)
                self._next("approach")
                a[4] = 1.0
        return a.astype(np.float32)
