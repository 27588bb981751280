"""The shared part of the touch tasks: a table, the arm with two gel pads, touch features.

:class:`TouchTaskEnv` (one level below :class:`tasks.base.MujocoTaskEnv`) builds
the scene around a task's fixture, turns actions into arm and jaw targets,
reads the two :class:`sims.tactile.TactilePad` s every control step and forms
the observation:

====== ===== ============================================================
slice  size  content
====== ===== ============================================================
0:7    7     arm joint angles [rad]
7:14   7     arm joint speeds [rad/s]
14:17  3     TCP position [m] (forward kinematics of the joint encoders)
17:20  3     commanded TCP target [m] (the arm controller's set point)
20:22  2     sin, cos of the hand yaw
22:24  2     left, right jaw opening [m] (finger encoders)
24:30  6     vision: target position estimate [m] (3) + 3 task values (task docs)
30:42  12    touch, per pad (left then right), marker-field features:
             mean normal indentation [mm], peak indentation [mm], mean
             in-plane marker displacement along hand x and along hand z
             (towards the fingertips) [mm], indentation centroid along hand x
             and hand z [mm]; all zero when ``use_touch=False``
42:    378   optional (``marker_obs=True``): both pads' full marker fields
             (2 x 63 x 3) in the pad frames [mm]; zero without touch
====== ===== ============================================================

Actions (5, in [-1, 1]): TCP displacement along world x, y, z (times
``max_step`` m per control step), hand yaw increment (times ``max_yaw_step``
rad) and the jaw command (each jaw's target opening = command x 40 mm; a target
below the object's half width squeezes it with ``finger_kp`` x error, capped at
the 70 N jaw force limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numba
import numpy as np

from scenes.conditions import G_EARTH, get_condition
from sims import world
from sims.arm import ArmController, ArmHandles, ArmParams, _clip, add_arm
from sims.tactile import GelPadConfig, TactileArray, TactilePad, touch_features
from tasks.base import MujocoTaskEnv

TIMESTEP = 0.002  # [s] physics step (position servos up to 4500 N m/rad with implicitfast)
TABLE_TOP = 0.15  # [m] height of the work surface above the robot base, assumed
# Contact time constant of the task objects and handles (they carry contact priority over
# the pads, so their values apply): the pads' 5 ms (sims.arm.ArmParams.pad_timeconst)
CONTACT_SOLREF = (0.005, 1.0)
N_PROPRIO = 24
N_VISION = 6
N_TOUCH = 12
VISION_POS_NOISE = 0.002  # [m] 1-sigma object/handle position from an RGB-D camera at
# ~0.5 m (Intel RealSense D405 class, depth RMS error < 0.5 mm at 7 cm growing with range; assumed)


@numba.njit(cache=True, nogil=True)
def _integrate_target(target, a, ee, max_step, out):  # pragma: no cover - compiled
    """New TCP target: ``clip(ee + clip(target + a max_step - ee, +-3 cm), bounds)``, into ``out``.

    Element by element the same IEEE operations in the same order as the NumPy
    expression, and ``np.clip``'s rules (NaN kept, ties keep the value), so the
    same floats.
    """
    for i in range(3):
        d = target[i] + a[i] * max_step - ee[i]
        if d == d:
            d = d if d >= -0.03 else -0.03
            d = d if d <= 0.03 else 0.03
        x = ee[i] + d
        if x == x:
            x = x if x >= _TARGET_LO[i] else _TARGET_LO[i]
            x = x if x <= _TARGET_HI[i] else _TARGET_HI[i]
        out[i] = x


def _clip_scalar(x: float, lo: float, hi: float) -> float:
    """``np.clip`` of one float in plain Python, to the bit (NaN kept; ties keep ``x``, so -0.0 too)."""
    if x != x:
        return x
    x = x if x >= lo else lo
    return x if x <= hi else hi


def gravity_of(condition: str | None, gravity: float | None) -> float:
    """Gravity magnitude [m/s^2] from an explicit value or a working condition.

    Args:
        condition: Condition name of ``scenes.conditions`` (its gravity range midpoint).
        gravity: Explicit magnitude; wins over ``condition``.

    Returns:
        ``|g|`` in m/s^2.
    """
    if gravity is not None:
        if not (math.isfinite(gravity) and 0.0 <= gravity <= 30.0):
            raise ValueError(f"gravity={gravity!r} m/s^2; accepted: 0..30 (e.g. 9.80665, 1.62)")
        return float(gravity)
    if condition is None:
        return G_EARTH
    lo, hi = get_condition(condition).gravity
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class PadCalibration:
    """Sensor calibration of a gel pad: force per mean marker displacement.

    Obtained once per pad configuration by loading the pad model with a 1 N
    contact of a 15 mm-radius indenter at its centre, as a bench calibration with a
    reference indenter would; the controller reads these constants, never the
    simulator.
    """

    normal: float  # [N per mm] of mean normal indentation
    shear: float  # [N per mm] of mean in-plane marker displacement


_PAD_Y_SIGN = np.array([1.0, -1.0])  # pad y axis = +hand z (left pad), -hand z (right pad)
# bounds of the commanded TCP target [m]: the table's reach, 5 mm above its top, 0.8 m high
_TARGET_LO = np.array([0.2, -0.45, TABLE_TOP + 0.005])
_TARGET_HI = np.array([0.85, 0.45, 0.8])


def calibrate(pad: TactilePad, radius: float = 0.015) -> PadCalibration:
    """Bench calibration of ``pad`` through the path the env uses (see :class:`PadCalibration`).

    Args:
        pad: The pad.
        radius: Curvature radius of the calibration indenter [m] (handles, knobs and
            fragile objects of the tasks have 8-23 mm).
    """
    a = float(pad.patch_radius(np.array([1.0]), np.array([radius]))[0])
    press = np.array([[0.0, 0.0, 0.0, 0.0, -1.0, a]])  # x, y, F_x, F_y, F_z (into the gel), a
    u0 = pad.marker_field(pad.patch_tractions(press))  # outward z (pressing: u_z < 0)
    # the same statistic as the touch feature: mean of the indentation clipped at 0 (the gel
    # bulges up around a press, so the plain mean of -u_z is about half of it and a
    # calibration on it read every contact force ~2x high)
    un = np.clip(-u0[:, 2], 0.0, None).mean() * 1e3
    shear = press.copy()
    shear[0, 2] = 1.0  # 1 N of shear on the same patch
    ut = (pad.marker_field(pad.patch_tractions(shear))[:, 0] - u0[:, 0]).mean() * 1e3
    return PadCalibration(normal=float(1.0 / un), shear=float(1.0 / ut))


class TouchTaskEnv(MujocoTaskEnv):
    """Arm + gel pads + a task fixture; subclasses add the fixture and the success rule.

    Args:
        condition: Working condition (sets gravity), e.g. ``"earth-reference"``.
        scenario_seed: Seed of the fixture's structure (sizes, shapes).
        gravity: Gravity magnitude [m/s^2]; overrides ``condition``.
        use_touch: False zeroes the touch features (the no-touch ablation) and skips the pads.
        marker_obs: Append the full marker fields to the observation.
        marker_error_every: Every this many control steps with contact, keep the pad
            tractions for the FEM comparison (0: off); see :mod:`tasks.touch.fidelity`.
        marker_error_frames: Most frames compared per episode.
        frame_skip: Physics steps per control step.
        max_step: TCP displacement per control step at action 1 [m].
        max_yaw_step: Yaw change per control step at action 1 [rad].
        ctrl_weight: Reward weight of the squared action.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(
        self,
        condition: str | None = "earth-reference",
        scenario_seed: int = 0,
        gravity: float | None = None,
        use_touch: bool = True,
        marker_obs: bool = False,
        marker_error_every: int = 0,
        marker_error_frames: int = 6,
        frame_skip: int = 10,
        max_step: float = 0.01,
        max_yaw_step: float = 0.1,
        ctrl_weight: float = 0.001,
        render_mode: str | None = None,
    ):
        if marker_error_every < 0:
            raise ValueError(f"marker_error_every={marker_error_every}; accepted: 0 (off) or >= 1")
        if not 0.0 < max_step <= 0.05:
            raise ValueError(f"max_step={max_step} m; accepted: (0, 0.05]")
        self.condition = condition
        self.gravity = gravity_of(condition, gravity)
        self.use_touch = bool(use_touch)
        self.marker_obs = bool(marker_obs)
        self.marker_error_every = int(marker_error_every)
        self.marker_error_frames = int(marker_error_frames)
        self.max_step = float(max_step)
        self.max_yaw_step = float(max_yaw_step)
        self.ctrl_weight = float(ctrl_weight)
        self.arm_params = ArmParams()
        structure_rng = np.random.default_rng(scenario_seed)
        spec = mujoco.MjSpec()
        spec.modelname = type(self).__name__
        spec.compiler.degree = False
        spec.option.timestep = TIMESTEP
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.option.gravity = [0.0, 0.0, -self.gravity]
        spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
        spec.option.impratio = 10.0  # stiffer friction: less creep of gripped objects
        spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.05],
                                rgba=[0.5, 0.5, 0.5, 1])
        spec.worldbody.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX,
                                size=[0.25, 0.4, TABLE_TOP / 2], pos=[0.6, 0.0, TABLE_TOP / 2],
                                rgba=[0.6, 0.45, 0.3, 1])
        spec.worldbody.add_light(name="light", pos=[0.3, 0, 1.5], dir=[0, 0, -1])
        spec.worldbody.add_camera(name="overview", pos=[1.6, -1.0, 1.0],
                                  xyaxes=[0.53, 0.85, 0, -0.35, 0.22, 0.91])
        self.arm: ArmHandles = add_arm(spec, spec.worldbody, params=self.arm_params)
        self._build_fixture(spec, structure_rng)
        model = world.compile_spec(spec)
        super().__init__(model, frame_skip, render_mode=render_mode, render_camera="overview")
        self.ctl = ArmController(model, self.arm, self.arm_params)
        self.pad_config = GelPadConfig()
        self.pads = (TactilePad(model, self.arm.left_pad, self.pad_config, self.arm.pad_face),
                     TactilePad(model, self.arm.right_pad, self.pad_config, self.arm.pad_face))
        self.tactile_calibration = calibrate(self.pads[0])
        self.n_markers = int(self.pads[0].markers.shape[0])
        size = N_PROPRIO + N_VISION + N_TOUCH + (6 * self.n_markers if self.marker_obs else 0)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        self._pad_ids = np.array([pad.geom_id for pad in self.pads])
        self._tactile = TactileArray(list(self.pads))  # compiled per-step path of both pads
        self._pad_geoms = {self.model.geom(self.arm.left_pad).id,
                           self.model.geom(self.arm.right_pad).id}
        self._finger_geoms = self._pad_geoms | {
            self.model.geom(f"{f}_geom").id for f in self.arm.finger_joints}
        self._rng = np.random.default_rng(0)
        self._markers = np.zeros((2, self.n_markers, 3))
        self._obs64 = np.zeros(size)  # observation work row (zeros stay where touch is off)
        self._fem_frames: list[np.ndarray] = []
        self._fem_sims: list[np.ndarray] = []
        self._marker_error = float("nan")
        self._marker_error_n = 0
        self._steps = 0
        self._target = np.zeros(3)
        self._target_yaw = 0.0
        self._vision = np.zeros(N_VISION)
        self._noise = np.zeros(N_VISION)
        self.sampled: dict[str, float] = {}

    # ------------------------------------------------------------------ hooks
    def _build_fixture(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        """Add the task's bodies to ``spec`` (structure; ``rng`` = scenario generator)."""
        raise NotImplementedError

    def _randomize(self, rng: np.random.Generator) -> None:
        """Per-episode physical parameters into ``self.model`` and ``self.sampled``."""
        raise NotImplementedError

    def _vision_truth(self) -> np.ndarray:
        """The 6 values the camera estimates (before noise)."""
        raise NotImplementedError

    def _vision_noise(self) -> np.ndarray:
        """1-sigma noise of each vision value."""
        return np.array([VISION_POS_NOISE] * 3 + [VISION_POS_NOISE] * 3)

    def _before_period(self) -> None:
        """Hook before each control period (e.g. latch forces)."""

    def _advance(self) -> None:
        """Advance one control period (``frame_skip`` physics steps)."""
        world.step(self.model, self.data, self.frame_skip)

    def _after_period(self) -> None:
        """Hook after each control period (task counters)."""

    def _task_reward(self, ev: dict[str, Any]) -> dict[str, float]:
        """Named reward terms from this step's ``evaluate()`` result."""
        raise NotImplementedError

    def _terminated(self, ev: dict[str, Any]) -> bool:
        """End the episode (success by default)."""
        return bool(ev["success"])

    # ------------------------------------------------------------------ episode
    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._rng = rng
        self.sampled = {}
        self._randomize(rng)
        self.ctl.set_home(self.data)
        mujoco.mj_forward(self.model, self.data)
        self._target = self.ctl.ee_pos(self.data)
        self._target_yaw = self.ctl.ee_yaw(self.data)
        self._markers[:] = 0.0
        self._fem_frames = []
        self._fem_sims = []
        self._marker_error = float("nan")
        self._marker_error_n = 0
        self._steps = 0
        self._reset_task()
        self._noise = self._vision_noise()  # the camera's 1-sigma noise, fixed per episode
        self._read_touch()
        self._read_vision()

    def _reset_task(self) -> None:
        """Task counters at the start of an episode."""

    def _simulate(self, ctrl: np.ndarray) -> None:
        """One control period with the task's hooks; records instability."""
        self.data.ctrl[:] = ctrl
        self._before_period()
        try:
            self._advance()
        except world.SimulationError as exc:
            self.sim_error = str(exc)
            return
        self._after_period()

    def step(self, action: np.ndarray):
        """Apply one action for a control period and return ``obs, reward, term, trunc, info``."""
        a, ctrl = self._control(action)
        self._simulate(ctrl)
        self._steps += 1
        if self.sim_error is None:
            self._read_touch()
            self._read_vision()
        obs, reward, terminated, info = self._result(a)
        return obs, reward, terminated, False, info

    def _control(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The control part of :meth:`step`: the clipped action and the actuator controls.

        Integrates the TCP target (kept within 3 cm of the TCP: no wind-up
        against contacts) and the yaw target, solves the IK and sets the jaw
        opening. Also used by the batch vector env (``tasks.vector_touch``).
        """
        # np.clip's own ufunc (sims.arm._clip): the same values without np.clip's argument handling
        a = _clip(np.asarray(action, dtype=np.float64).reshape(5), -1.0, 1.0)
        ctl, data = self.ctl, self.data
        target = np.empty(3)  # a new array each step (callers may keep the previous one)
        _integrate_target(self._target, a, data.site_xpos[ctl.site_id], self.max_step, target)
        self._target = target
        self._target_yaw = float(_clip_scalar(self._target_yaw + a[3] * self.max_yaw_step, 0.0,
                                              math.pi))
        q_t = ctl.ik_targets(data, self._target, self._target_yaw, self.dt)
        ctrl = data.ctrl.copy()
        ctrl[ctl.act_ids] = q_t
        ctrl[ctl.finger_act_ids] = a[4] * self.arm_params.finger_stroke
        return a, ctrl

    def _result(self, a: np.ndarray) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        """The result part of :meth:`step` (after physics and sensing): obs, reward, term, info."""
        obs = self._observe()
        ev = self.evaluate()
        info = {
            "success": bool(ev["success"]),
            "metrics": {k: float(v) for k, v in ev.items() if k != "success"},
            "sim_error": self.sim_error,
            "sampled": dict(self.sampled),
        }
        if self.sim_error is not None:
            info["success"] = False
            info["reward_parts"] = {}
            return obs, 0.0, True, info
        parts = self._task_reward(ev)
        parts["ctrl"] = -self.ctrl_weight * float(a @ a)
        info["reward_parts"] = parts
        return obs, float(sum(parts.values())), self._terminated(ev), info

    # ------------------------------------------------------------------ sensing
    def _read_touch(self) -> None:
        if not self.use_touch:
            return
        sample = (self.marker_error_every > 0 and len(self._fem_frames) < self.marker_error_frames
                  and self._steps % self.marker_error_every == 0)
        if self._tactile.pads[0] is not self.pads[0] or self._tactile.pads[1] is not self.pads[1]:
            self._tactile = TactileArray(list(self.pads))  # pads replaced (e.g. a gel profile)
        # Both pads in one compiled call: MuJoCo contacts -> Hertz-shaped cell tractions ->
        # marker fields through the layer's influence matrix (the path validated against the
        # FE reference; sims.tactile.TactileArray).
        self._tactile.update(self.data, out=self._markers)
        if not sample:
            return
        slots, patches = self._tactile.last_slots, self._tactile.last_patches
        for k in range(2):
            if (len(self._fem_frames) < self.marker_error_frames
                    and -float(np.sum(patches[slots == k, 4])) > 0.5):  # a measurable press only
                self._fem_frames.append(self._tactile.last_tractions[k].copy())
                self._fem_sims.append(self._markers[k].copy())

    def touch_features(self) -> np.ndarray:
        """The 12 touch features (see the module docstring) from the current marker fields."""
        out = np.zeros(N_TOUCH)
        if not self.use_touch:
            return out
        # compiled (sims._tactile_kernels.touch_features); pad y = +hand z (left), -hand z (right)
        touch_features(self._markers, self.pads[0].markers, _PAD_Y_SIGN, out)
        return out

    def _read_vision(self) -> None:
        self._vision = self._vision_truth() + self._rng.normal(0.0, 1.0, N_VISION) * \
            self._noise

    def _observe(self) -> np.ndarray:
        d = self.data
        c = self.ctl
        o = self._obs64  # float64 work row (the layout of the module docstring), cast once
        q, qd = c._qslice, c._dslice
        o[0:7] = d.qpos[q]
        o[7:14] = d.qvel[qd]
        site = c.site_id
        o[14:17] = d.site_xpos[site]
        o[17:20] = self._target
        xmat = d.site_xmat[site]  # ArmController.ee_yaw: atan2 of the hand x axis
        yaw = math.atan2(xmat[3], xmat[0])
        o[20] = math.sin(yaw)
        o[21] = math.cos(yaw)
        o[22:24] = d.qpos[c.fqadr]
        o[24:30] = self._vision
        if self.use_touch:
            # compiled (sims._tactile_kernels.touch_features), straight into the row
            touch_features(self._markers, self.pads[0].markers, _PAD_Y_SIGN, o[30:42])
            if self.marker_obs:
                np.multiply(self._markers, 1e3, out=o[42:].reshape(self._markers.shape))
        return o.astype(np.float32)

    # ------------------------------------------------------------------ helpers
    def contact_normal_force(self, geom_ids: set[int], other_ids: set[int]) -> float:
        """Largest summed normal force [N] between any one ``other`` geom and ``geom_ids``."""
        d = self.data
        n = d.ncon
        if n == 0:
            return 0.0
        f6 = np.zeros(6)
        per: dict[int, float] = {}
        g = d.contact.geom[:n]
        for i in range(n):
            g1, g2 = int(g[i, 0]), int(g[i, 1])
            if g1 in geom_ids and g2 in other_ids:
                key = g2
            elif g2 in geom_ids and g1 in other_ids:
                key = g1
            else:
                continue
            mujoco.mj_contactForce(self.model, d, i, f6)
            per[key] = per.get(key, 0.0) + f6[0]
        return max(per.values(), default=0.0)

    def marker_fidelity(self) -> tuple[float, int]:
        """Max relative marker-field error vs the FEM reference over the sampled frames."""
        if len(self._fem_frames) != self._marker_error_n:
            from tasks.touch.fidelity import max_error_vs_fem

            self._marker_error = max_error_vs_fem(self.pads[0], self._fem_frames, self._fem_sims)
            self._marker_error_n = len(self._fem_frames)
        return self._marker_error, self._marker_error_n

    def _fidelity_metrics(self) -> dict[str, float]:
        if self.marker_error_every <= 0 or not self.use_touch:
            return {}
        err, n = self.marker_fidelity()
        if n == 0 or not math.isfinite(err):
            return {"marker_error_frames": 0.0}
        return {"marker_max_rel_error": err, "marker_error_frames": float(n)}
