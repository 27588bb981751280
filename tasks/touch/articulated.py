"""Articulated-object tasks: open a door, pull a drawer, turn a lever, with a touch-sensing gripper.

Each fixture has one joint with randomized viscous damping and dry friction
(MuJoCo ``damping`` and ``frictionloss``) and a latch: a magnetic-catch detent
that pulls the joint closed with ``k q`` over its first ``latch_travel`` and
lets go beyond (so the peak holding force ``k latch_travel`` must be overcome
before the joint moves freely). Success follows the usual articulated-object
benchmark rule: the joint opened to at least ``success_fraction`` (75 %) of its
range and nearly at rest (``|qdot|`` below ``rest_speed``).

The vision values of the observation (slice 24:30) are camera estimates:
the grasp point on the handle (3) and three task values documented per task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from sims import world
from tasks.touch.base import CONTACT_SOLREF, TABLE_TOP, VISION_POS_NOISE, TouchTaskEnv

FRACTION_NOISE = 0.01  # 1-sigma of the camera's opening-fraction estimate (1 % of range), assumed
# Dry friction of the fixture joints as a near-hard constraint: MuJoCo's default
# impedance (0.9) lets a sub-breakaway load creep the joint ~0.01 rad/s; 0.995 cuts it 20x.
FRICTION_SOLIMP = (0.995, 0.999, 0.001, 0.5, 2.0)
HANDLE_FRICTION = (0.6, 1.0)  # handle (painted metal / plastic) on silicone gel, assumed range
_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION


@dataclass(frozen=True)
class JointRanges:
    """Per-episode ranges of the fixture joint's resistance (uniform draws)."""

    damping: tuple[float, float]  # [N m s/rad] or [N s/m]
    frictionloss: tuple[float, float]  # [N m] or [N]
    latch_peak: tuple[float, float]  # [N m] or [N], detent force at the end of its travel
    latch_travel: float  # [rad] or [m]


class Articulation:
    """The fixture joint: resistance randomization, latch force, opening state.

    Args:
        model: Compiled model.
        joint: Name of the fixture joint (its range starts at 0 = closed).
        ranges: Distributions of damping, dry friction and latch.
    """

    def __init__(self, model: mujoco.MjModel, joint: str, ranges: JointRanges):
        self.model = model
        jid = model.joint(joint).id
        self.qadr = int(model.jnt_qposadr[jid])
        self.dadr = int(model.jnt_dofadr[jid])
        self.range = float(model.jnt_range[jid][1])
        self.ranges = ranges
        self.latch_k = 0.0
        self._state = np.empty(mujoco.mj_stateSize(model, _INTEGRATION))  # period start state

    def randomize(self, rng: np.random.Generator, sampled: dict[str, float]) -> None:
        """Draw damping, frictionloss and the latch; write them to the model and ``sampled``."""
        r = self.ranges
        damping = float(rng.uniform(*r.damping))  # damping ~ U(range)
        friction = float(rng.uniform(*r.frictionloss))  # dry friction ~ U(range)
        peak = float(rng.uniform(*r.latch_peak))  # latch holding force ~ U(range)
        self.model.dof_damping[self.dadr] = damping
        self.model.dof_frictionloss[self.dadr] = friction
        self.latch_k = peak / r.latch_travel
        sampled.update(joint_damping=damping, joint_frictionloss=friction, latch_peak=peak)

    def apply_latch(self, data: mujoco.MjData) -> None:
        """Detent force at the current position (``qfrc_applied``)."""
        q = data.qpos[self.qadr]
        data.qfrc_applied[self.dadr] = -self.latch_k * q if q < self.ranges.latch_travel else 0.0

    def step(self, model: mujoco.MjModel, data: mujoco.MjData, nstep: int) -> None:
        """Advance ``nstep`` physics steps; the detent force is updated every step while engaged.

        While engaged, every physics step is checked for instability as
        :func:`sims.world.step` checks it, stopping at the first bad one. The
        checks are done once at the end of the period instead of after each
        step (an instability always shows there: MuJoCo flags a bad state at
        the start of the next step, the last step's state is checked
        directly); only when one shows, the period is rerun from its saved
        start state step by step with the per-step checks, which reproduces
        the per-step semantics (error message and final state) exactly.

        Raises:
            sims.world.SimulationError: On instability.
        """
        travel = self.ranges.latch_travel
        qpos, qfrc = data.qpos, data.qfrc_applied
        qadr, dadr = self.qadr, self.dadr
        if qpos[qadr] >= travel:
            qfrc[dadr] = 0.0
            world.step(model, data, nstep)
            return
        state = self._state  # sized for this model (mj_getState checks the size)
        mujoco.mj_getState(model, data, state, _INTEGRATION)
        warn = data.warning
        warnings = warn.number.tolist()
        lastinfo = warn.lastinfo.copy()
        k = self.latch_k
        step = mujoco.mj_step
        for _ in range(nstep):  # apply_latch + mj_step, views hoisted, Python floats (same values)
            q = qpos.item(qadr)
            qfrc[dadr] = -k * q if q < travel else 0.0
            step(model, data)
        try:
            world.check_step(data, warnings)  # world.step's check, once for the period
        except world.SimulationError:
            mujoco.mj_setState(model, data, state, _INTEGRATION)  # rerun with per-step checks
            data.warning.number[:] = warnings
            data.warning.lastinfo[:] = lastinfo
            for _ in range(nstep):
                self.apply_latch(data)
                world.step(model, data, 1)

    def fraction(self, data: mujoco.MjData) -> float:
        """Opening as a fraction of the range."""
        return float(data.qpos[self.qadr]) / self.range

    def speed(self, data: mujoco.MjData) -> float:
        """Joint speed [rad/s or m/s]."""
        return float(data.qvel[self.dadr])


def _handle_geom(body: mujoco.MjsBody, name: str, shape: str, half: float, length: float,
                 pos: list[float], axis: str, friction: float) -> None:
    """A bar handle: round (cylinder) or square (box) section, along ``axis`` ("y" or "z")."""
    quat = [1.0, 0.0, 0.0, 0.0] if axis == "z" else [math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0]
    if shape == "round":
        body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[half, length / 2, 0],
                      pos=pos, quat=quat, priority=1, friction=[friction, 0.005, 0.0001],
                      solref=list(CONTACT_SOLREF),
                      mass=0.05, rgba=[0.75, 0.75, 0.8, 1])
    else:
        body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX, size=[half, half, length / 2],
                      pos=pos, quat=quat, priority=1, friction=[friction, 0.005, 0.0001],
                      solref=list(CONTACT_SOLREF),
                      mass=0.05, rgba=[0.75, 0.75, 0.8, 1])


def _evaluate(env: TouchTaskEnv, art: Articulation, success_fraction: float,
              rest_speed: float, handle_site: int) -> dict[str, float | bool]:
    frac = art.fraction(env.data)
    speed = abs(art.speed(env.data))
    diff = env.data.site_xpos[env.ctl.site_id] - env.data.site_xpos[handle_site]
    dist = math.sqrt(diff.dot(diff))  # np.linalg.norm's own formula for a vector (same float)
    out: dict[str, float | bool] = {
        "success": bool(frac >= success_fraction and speed <= rest_speed),
        "open_fraction": frac,
        "joint_speed": speed,
        "tcp_handle_distance": dist,
    }
    out.update(env._fidelity_metrics())
    return out


def _reward(ev: dict[str, float | bool], weights: dict[str, float]) -> dict[str, float]:
    return {
        "reach": -weights["reach"] * float(ev["tcp_handle_distance"]),
        "open": weights["open"] * float(ev["open_fraction"]),
        "success": weights["success"] * float(bool(ev["success"])),
    }


class DoorOpenEnv(TouchTaskEnv):
    """Open a hinged cabinet door by its vertical bar handle.

    **Description.** A door panel hinged about a vertical axis stands on the
    table in front of a 7-DoF arm (Franka Panda class) whose parallel-jaw
    gripper carries two GelSight-class gel pads. The gripper must grasp the
    vertical bar handle from above and pull the door open along its arc
    (towards the robot). Observation and action layout: :mod:`tasks.touch.base`.
    Vision values: the grasp point on the handle (3), the hinge axis ``x, y``
    (2) and the opening fraction (1).

    **Randomizations.** Structure (``scenario_seed``): door width ~ U(0.26, 0.36) m,
    height ~ U(0.24, 0.32) m, hinge ``y`` offset ~ U(-0.05, 0.05) m, handle
    section round or square with half size ~ U(8, 12) mm and length
    ~ U(0.08, 0.12) m. Per episode: hinge damping ~ U(0.05, 0.4) N m s/rad, dry
    friction ~ U(0.1, 0.8) N m, latch peak torque ~ U(0.3, 1.5) N m released after
    3 deg, handle-gel friction ~ U(0.6, 1.0); camera noise 2 mm on positions,
    1 % on the opening fraction.

    **Success conditions.** Door opened to >= ``success_fraction`` (75 %) of its
    90 deg range and ``|qdot| <= rest_speed`` (0.05 rad/s). The episode
    terminates on success or a simulation error; truncation by ``TimeLimit``.
    """

    def __init__(self, *, success_fraction: float = 0.75, rest_speed: float = 0.05,
                 reach_weight: float = 0.5, open_weight: float = 1.0,
                 success_bonus: float = 10.0, **kwargs):
        self.success_fraction = float(success_fraction)
        self.rest_speed = float(rest_speed)
        self.weights = {"reach": reach_weight, "open": open_weight, "success": success_bonus}
        super().__init__(**kwargs)
        self.art = Articulation(self.model, "door_hinge", JointRanges(
            damping=(0.05, 0.4), frictionloss=(0.1, 0.8), latch_peak=(0.3, 1.5),
            latch_travel=math.radians(3.0)))
        self._handle_site = self.model.site("door_handle_grasp").id
        self._handle_geom = self.model.geom("door_handle").id
        self._hinge_body = self.model.body("door").id

    def _build_fixture(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        w = float(rng.uniform(0.26, 0.36))  # door width [m]
        h = float(rng.uniform(0.24, 0.32))  # door height [m]
        y_h = -w / 2 + float(rng.uniform(-0.05, 0.05))  # hinge y [m]
        shape = "round" if rng.uniform() < 0.5 else "square"
        half = float(rng.uniform(0.008, 0.012))  # handle half section [m]
        length = float(rng.uniform(0.08, 0.12))  # handle length [m]
        self.structure = {"door_width": w, "door_height": h, "handle_half": half,
                          "handle_length": length, "handle_round": float(shape == "round")}
        x_h = 0.66
        standoff = 0.055
        door = spec.worldbody.add_body(name="door", pos=[x_h, y_h, TABLE_TOP + 0.005])
        j = door.add_joint(name="door_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1],
                           range=[0.0, math.pi / 2])
        j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        j.solimp_friction = list(FRICTION_SOLIMP)
        door.add_geom(name="door_panel", type=mujoco.mjtGeom.mjGEOM_BOX,
                      size=[0.01, w / 2, h / 2], pos=[0, w / 2, h / 2], mass=2.0,
                      rgba=[0.55, 0.35, 0.2, 1])
        yb = w - 0.05
        top = h
        door.add_geom(name="door_handle_standoff", type=mujoco.mjtGeom.mjGEOM_BOX,
                      size=[standoff / 2, 0.006, 0.008],
                      pos=[-0.01 - standoff / 2, yb, top - length + 0.008], mass=0.02,
                      rgba=[0.6, 0.6, 0.65, 1])
        _handle_geom(door, "door_handle", shape, half, length,
                     [-0.01 - standoff, yb, top - length / 2], "z", 1.0)
        door.add_site(name="door_handle_grasp", pos=[-0.01 - standoff, yb, top - 0.02],
                      size=[0.004, 0, 0])
        # a fixed cabinet frame behind the door
        spec.worldbody.add_geom(name="door_cabinet", type=mujoco.mjtGeom.mjGEOM_BOX,
                                size=[0.1, w / 2, h / 2],
                                pos=[x_h + 0.125, y_h + w / 2, TABLE_TOP + h / 2 + 0.005],
                                rgba=[0.45, 0.3, 0.2, 1])

    def _randomize(self, rng: np.random.Generator) -> None:
        self.art.randomize(rng, self.sampled)
        mu = float(rng.uniform(*HANDLE_FRICTION))  # handle-gel friction ~ U(0.6, 1.0)
        self.model.geom_friction[self._handle_geom, 0] = mu
        self.sampled["handle_friction"] = mu

    def _advance(self) -> None:
        self.art.step(self.model, self.data, self.frame_skip)

    def _vision_truth(self) -> np.ndarray:
        d = self.data
        out = np.empty(6)
        out[:3] = d.site_xpos[self._handle_site]
        out[3:5] = d.xpos[self._hinge_body, :2]
        out[5] = self.art.fraction(d)
        return out

    def _vision_noise(self) -> np.ndarray:
        p = VISION_POS_NOISE
        return np.array([p, p, p, p, p, FRACTION_NOISE])

    def evaluate(self) -> dict[str, float | bool]:
        """Opening fraction, joint speed, TCP-handle distance (and marker error when on)."""
        return _evaluate(self, self.art, self.success_fraction, self.rest_speed,
                         self._handle_site)

    def _task_reward(self, ev: dict[str, float | bool]) -> dict[str, float]:
        return _reward(ev, self.weights)


class DrawerOpenEnv(TouchTaskEnv):
    """Pull a drawer open by its horizontal bar handle.

    **Description.** A drawer on a horizontal slide faces the arm; the gripper
    grasps its bar handle from above (jaws closing across the bar) and pulls it
    out. Observation and action layout: :mod:`tasks.touch.base`. Vision values:
    the grasp point on the handle (3), the slide's travel [m] (1), 0 (1) and
    the opening fraction (1).

    **Randomizations.** Structure: front width ~ U(0.24, 0.40) m, height
    ~ U(0.10, 0.14) m, travel ~ U(0.16, 0.22) m, drawer mass ~ U(1, 3) kg, handle
    round or square, half section ~ U(8, 12) mm, length ~ U(0.10, 0.14) m. Per
    episode: slide damping ~ U(5, 20) N s/m, dry friction ~ U(2, 8) N, latch
    peak ~ U(3, 12) N released after 8 mm, handle-gel friction ~ U(0.6, 1.0);
    camera noise 2 mm, 1 % on the fraction.

    **Success conditions.** Drawer opened to >= ``success_fraction`` (75 %) of
    its travel and ``|qdot| <= rest_speed`` (0.01 m/s).
    """

    def __init__(self, *, success_fraction: float = 0.75, rest_speed: float = 0.01,
                 reach_weight: float = 0.5, open_weight: float = 1.0,
                 success_bonus: float = 10.0, **kwargs):
        self.success_fraction = float(success_fraction)
        self.rest_speed = float(rest_speed)
        self.weights = {"reach": reach_weight, "open": open_weight, "success": success_bonus}
        super().__init__(**kwargs)
        self.art = Articulation(self.model, "drawer_slide", JointRanges(
            damping=(5.0, 20.0), frictionloss=(2.0, 8.0), latch_peak=(3.0, 12.0),
            latch_travel=0.008))
        self._handle_site = self.model.site("drawer_handle_grasp").id
        self._handle_geom = self.model.geom("drawer_handle").id

    def _build_fixture(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        w = float(rng.uniform(0.24, 0.40))  # front width [m]
        h = float(rng.uniform(0.10, 0.14))  # front height [m]
        travel = float(rng.uniform(0.16, 0.22))  # slide travel [m]
        mass = float(rng.uniform(1.0, 3.0))  # drawer mass [kg]
        shape = "round" if rng.uniform() < 0.5 else "square"
        half = float(rng.uniform(0.008, 0.012))
        length = float(rng.uniform(0.10, 0.14))
        y0 = float(rng.uniform(-0.05, 0.05))
        self.structure = {"drawer_width": w, "drawer_height": h, "drawer_travel": travel,
                          "drawer_mass": mass, "handle_half": half, "handle_length": length,
                          "handle_round": float(shape == "round")}
        x_f = 0.64
        standoff = 0.055
        drawer = spec.worldbody.add_body(name="drawer", pos=[x_f, y0, TABLE_TOP + 0.005])
        j = drawer.add_joint(name="drawer_slide", type=mujoco.mjtJoint.mjJNT_SLIDE,
                             axis=[-1, 0, 0], range=[0.0, travel])
        j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        j.solimp_friction = list(FRICTION_SOLIMP)
        drawer.add_geom(name="drawer_front", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[0.01, w / 2, h / 2], pos=[0, 0, h / 2], mass=0.3 * mass,
                        rgba=[0.55, 0.35, 0.2, 1])
        drawer.add_geom(name="drawer_tray", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[0.12, w / 2 - 0.01, 0.01], pos=[0.13, 0, 0.01], mass=0.7 * mass,
                        contype=0, conaffinity=0, rgba=[0.5, 0.32, 0.18, 1])
        zb = h - 0.03
        for side, sy in (("l", 1.0), ("r", -1.0)):
            drawer.add_geom(name=f"drawer_handle_standoff_{side}", type=mujoco.mjtGeom.mjGEOM_BOX,
                            size=[standoff / 2, 0.006, 0.006],
                            pos=[-0.01 - standoff / 2, sy * (length / 2 - 0.006), zb], mass=0.01,
                            rgba=[0.6, 0.6, 0.65, 1])
        _handle_geom(drawer, "drawer_handle", shape, half, length,
                     [-0.01 - standoff, 0.0, zb], "y", 1.0)
        drawer.add_site(name="drawer_handle_grasp", pos=[-0.01 - standoff, 0.0, zb],
                        size=[0.004, 0, 0])

    def _randomize(self, rng: np.random.Generator) -> None:
        self.art.randomize(rng, self.sampled)
        mu = float(rng.uniform(*HANDLE_FRICTION))  # handle-gel friction ~ U(0.6, 1.0)
        self.model.geom_friction[self._handle_geom, 0] = mu
        self.sampled["handle_friction"] = mu

    def _advance(self) -> None:
        self.art.step(self.model, self.data, self.frame_skip)

    def _vision_truth(self) -> np.ndarray:
        out = np.empty(6)
        out[:3] = self.data.site_xpos[self._handle_site]
        out[3] = self.art.range
        out[4] = 0.0
        out[5] = self.art.fraction(self.data)
        return out

    def _vision_noise(self) -> np.ndarray:
        p = VISION_POS_NOISE
        return np.array([p, p, p, p, 0.0, FRACTION_NOISE])

    def evaluate(self) -> dict[str, float | bool]:
        """Opening fraction, slide speed, TCP-handle distance (and marker error when on)."""
        return _evaluate(self, self.art, self.success_fraction, self.rest_speed,
                         self._handle_site)

    def _task_reward(self, ev: dict[str, float | bool]) -> dict[str, float]:
        return _reward(ev, self.weights)


class LeverTurnEnv(TouchTaskEnv):
    """Turn an upright lever about its horizontal pivot towards the robot.

    **Description.** A lever stands upright on a pivot block; the gripper grasps
    its knob from above and turns it by pulling the knob along its arc (in the
    vertical x-z plane). The lever has a return spring and its own weight, so
    the torque needed differs under lunar gravity. Observation and action
    layout: :mod:`tasks.touch.base`. Vision values: the grasp point (knob
    centre, 3), the pivot ``x, z`` (2) and the opening fraction (1).

    **Randomizations.** Structure: lever length ~ U(0.12, 0.18) m, mass
    ~ U(0.1, 0.3) kg, knob sphere or cross-bar, knob radius ~ U(12, 16) mm,
    pivot ``y`` ~ U(-0.1, 0.1) m. Per episode: pivot damping ~ U(0.02, 0.2) N m s/rad,
    dry friction ~ U(0.05, 0.4) N m, return-spring stiffness ~ U(0.2, 1.0) N m/rad,
    latch peak ~ U(0.2, 0.8) N m released after 3 deg, knob-gel friction
    ~ U(0.6, 1.0); camera noise 2 mm, 1 % on the fraction.

    **Success conditions.** Lever turned to >= ``success_fraction`` (75 %) of its
    60 deg range and ``|qdot| <= rest_speed`` (0.05 rad/s).
    """

    def __init__(self, *, success_fraction: float = 0.75, rest_speed: float = 0.05,
                 reach_weight: float = 0.5, open_weight: float = 1.0,
                 success_bonus: float = 10.0, **kwargs):
        self.success_fraction = float(success_fraction)
        self.rest_speed = float(rest_speed)
        self.weights = {"reach": reach_weight, "open": open_weight, "success": success_bonus}
        super().__init__(**kwargs)
        self.art = Articulation(self.model, "lever_pivot", JointRanges(
            damping=(0.02, 0.2), frictionloss=(0.05, 0.4), latch_peak=(0.2, 0.8),
            latch_travel=math.radians(3.0)))
        self._handle_site = self.model.site("lever_knob_grasp").id
        self._handle_geom = self.model.geom("lever_knob").id
        self._pivot_body = self.model.body("lever").id
        self._jid = self.model.joint("lever_pivot").id

    def _build_fixture(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        length = float(rng.uniform(0.12, 0.18))  # lever length [m]
        mass = float(rng.uniform(0.1, 0.3))  # lever mass [kg]
        sphere = bool(rng.uniform() < 0.5)
        rk = float(rng.uniform(0.012, 0.016))  # knob radius [m]
        y0 = float(rng.uniform(-0.1, 0.1))
        self.structure = {"lever_length": length, "lever_mass": mass, "knob_radius": rk,
                          "knob_sphere": float(sphere)}
        x_p, z_p = 0.6, TABLE_TOP + 0.06
        spec.worldbody.add_geom(name="lever_base", type=mujoco.mjtGeom.mjGEOM_BOX,
                                size=[0.03, 0.04, 0.03], pos=[x_p, y0, TABLE_TOP + 0.03],
                                rgba=[0.3, 0.3, 0.35, 1])
        lever = spec.worldbody.add_body(name="lever", pos=[x_p, y0, z_p])
        j = lever.add_joint(name="lever_pivot", type=mujoco.mjtJoint.mjJNT_HINGE,
                            axis=[0, -1, 0], range=[0.0, math.radians(60.0)])
        j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        j.solimp_friction = list(FRICTION_SOLIMP)
        lever.add_geom(name="lever_rod", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                       fromto=[0, 0, 0.0, 0, 0, length - rk], size=[0.006, 0, 0], mass=mass,
                       contype=0, conaffinity=0, rgba=[0.2, 0.2, 0.2, 1])
        if sphere:
            lever.add_geom(name="lever_knob", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[rk, 0, 0],
                           pos=[0, 0, length], mass=0.02, priority=1,
                           friction=[1.0, 0.005, 0.0001], solref=list(CONTACT_SOLREF),
                           rgba=[0.8, 0.1, 0.1, 1])
        else:
            lever.add_geom(name="lever_knob", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                           size=[rk, 0.025, 0], pos=[0, 0, length],
                           quat=[math.sqrt(0.5), math.sqrt(0.5), 0, 0], mass=0.02, priority=1,
                           friction=[1.0, 0.005, 0.0001], solref=list(CONTACT_SOLREF),
                           rgba=[0.8, 0.1, 0.1, 1])
        lever.add_site(name="lever_knob_grasp", pos=[0, 0, length], size=[0.004, 0, 0])

    def _randomize(self, rng: np.random.Generator) -> None:
        self.art.randomize(rng, self.sampled)
        k = float(rng.uniform(0.2, 1.0))  # return spring ~ U(0.2, 1.0) N m/rad
        self.model.jnt_stiffness[self._jid] = k
        mu = float(rng.uniform(*HANDLE_FRICTION))  # knob-gel friction ~ U(0.6, 1.0)
        self.model.geom_friction[self._handle_geom, 0] = mu
        self.sampled.update(return_stiffness=k, handle_friction=mu)

    def _advance(self) -> None:
        self.art.step(self.model, self.data, self.frame_skip)

    def _vision_truth(self) -> np.ndarray:
        d = self.data
        out = np.empty(6)
        out[:3] = d.site_xpos[self._handle_site]
        out[3:5] = d.xpos[self._pivot_body, ::2]
        out[5] = self.art.fraction(d)
        return out

    def _vision_noise(self) -> np.ndarray:
        p = VISION_POS_NOISE
        return np.array([p, p, p, p, p, FRACTION_NOISE])

    def evaluate(self) -> dict[str, float | bool]:
        """Turn fraction, pivot speed, TCP-knob distance (and marker error when on)."""
        return _evaluate(self, self.art, self.success_fraction, self.rest_speed,
                         self._handle_site)

    def _task_reward(self, ev: dict[str, float | bool]) -> dict[str, float]:
        return _reward(ev, self.weights)
