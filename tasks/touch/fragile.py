"""FragileGrasp: lift an egg-, glass- or fruit-like object without crushing or dropping it.

Break model: an object breaks, permanently, in the first physics step in which
the normal force it receives from any one other geom (summed over that geom's
contact points, ``mujoco.mj_contactForce``) exceeds its breaking force. That is
the quantity a quasi-static compression test between two plates measures (the
load on one plate), which is how the published thresholds below were obtained.

Object families (uniform draws; masses and sizes from common produce/labware,
friction of the object surface against the silicone gel):

* ``egg``: chicken egg lying on its side (ellipsoid, semi-axes a, 1.3 a, a with
  a ~ U(20, 23) mm), mass ~ U(50, 70) g (USDA large egg ~57 g), friction
  ~ U(0.35, 0.6) (assumed, dry shell on silicone), breaking force
  ~ U(25, 50) N (static compression of chicken eggs across the minor axis,
  commonly 25-50 N; e.g. ~25 N typical minimum quoted in egg-strength
  summaries; axial loads are higher, Meyers et al. 2016, J. R. Soc. Interface
  14:20160804).
* ``glass``: thin-walled glass vial standing upright (cylinder, radius
  ~ U(14, 18) mm, half height ~ U(35, 45) mm), mass ~ U(30, 80) g, friction
  ~ U(0.3, 0.5) (glass on silicone, assumed), breaking force ~ U(15, 30) N
  (assumed for thin-walled soda-lime vials under line contact).
* ``fruit``: soft fruit (strawberry/apricot-like sphere, radius ~ U(15, 22) mm),
  mass ~ U(15, 40) g, friction ~ U(0.5, 0.9) (moist skin, assumed), bruise
  threshold ~ U(4, 8) N (assumed; robotic strawberry handling regulates ~2 N,
  Rajendran et al. 2024, arXiv:2407.01739).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sims.fragile import BreakMonitor, contact_with, step_monitored
from tasks.touch.base import CONTACT_SOLREF, TABLE_TOP, VISION_POS_NOISE, TouchTaskEnv

VISION_SIZE_NOISE = 0.0015  # [m] 1-sigma object width/height estimate from RGB-D, assumed
FAMILIES = ("egg", "glass", "fruit")


@dataclass(frozen=True)
class Family:
    """Distributions of one object family (uniform ranges)."""

    mass: tuple[float, float]  # [kg]
    friction: tuple[float, float]  # 1, object surface on silicone gel
    break_force: tuple[float, float]  # [N]


FAMILY_PARAMS: dict[str, Family] = {
    "egg": Family(mass=(0.050, 0.070), friction=(0.35, 0.6), break_force=(25.0, 50.0)),
    "glass": Family(mass=(0.030, 0.080), friction=(0.3, 0.5), break_force=(15.0, 30.0)),
    "fruit": Family(mass=(0.015, 0.040), friction=(0.5, 0.9), break_force=(4.0, 8.0)),
}


class FragileGraspEnv(TouchTaskEnv):
    """Grasp a fragile object, lift it 10 cm and hold it for 2 s without breaking or dropping it.

    **Description.** An egg-, glass- or fruit-like object rests on the table in
    front of the arm. The gripper must close on it gently, lift it by at least
    ``lift_height`` and hold it for ``hold_time`` seconds. Squeezing harder than
    the object's breaking force breaks it permanently (the object turns dark,
    ``info["metrics"]["broken"] = 1`` and the episode ends); squeezing too
    little lets it slip out. Observation and action layout:
    :mod:`tasks.touch.base`. Vision values: object centre (3), its width along
    the jaw axis (world x) and height (2), and 0.

    **Randomizations.** Structure (``scenario_seed``): the family (egg, glass,
    fruit, equally likely) and its size (module docstring). Per episode: mass,
    friction and breaking force from the family's ranges; position
    x ~ U(0.50, 0.60) m, y ~ U(-0.08, 0.08) m; camera noise 2 mm on the position,
    1.5 mm on the sizes.

    **Success conditions.** Not broken, the object's centre at least
    ``lift_height`` (0.10 m) above its start and gripped by both pads for
    ``hold_time`` (2 s) without interruption. Terminates on success, breakage,
    a drop (lifted > 2 cm, then no pad contact for 0.1 s) or a simulation error.
    """

    def __init__(self, *, family: str | None = None, lift_height: float = 0.10,
                 hold_time: float = 2.0, lift_weight: float = 1.0, break_penalty: float = 5.0,
                 success_bonus: float = 10.0, **kwargs):
        if family is not None and family not in FAMILIES:
            raise ValueError(f"family={family!r}; accepted: None (random) or one of {FAMILIES}")
        self._family_arg = family
        self.lift_height = float(lift_height)
        self.hold_time = float(hold_time)
        self.weights = {"lift": lift_weight, "break": break_penalty, "success": success_bonus}
        super().__init__(**kwargs)
        m = self.model
        self._obj_geom = m.geom("object").id
        self._obj_body = m.body("object").id
        self._obj_qadr = int(m.jnt_qposadr[m.joint("object_free").id])
        self._left_pad = m.geom(self.arm.left_pad).id
        self._right_pad = m.geom(self.arm.right_pad).id
        self._rgba = m.geom_rgba[self._obj_geom].copy()
        self.monitor = BreakMonitor(m, self._obj_geom, 1.0)
        self._reset_task()

    def _build_fixture(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        fam = self._family_arg or FAMILIES[int(rng.integers(len(FAMILIES)))]
        self.family = fam
        body = spec.worldbody.add_body(name="object", pos=[0.55, 0.0, TABLE_TOP + 0.05])
        body.add_freejoint(name="object_free")
        common = {"name": "object", "priority": 1, "mass": 0.05, "condim": 4,
                  "solref": list(CONTACT_SOLREF),
                  "friction": [0.5, 0.005, 0.0001]}
        if fam == "egg":
            a = float(rng.uniform(0.020, 0.023))  # egg minor semi-axis [m]
            size = [a, 1.3 * a, a]
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_ELLIPSOID, size=size,
                          rgba=[0.95, 0.9, 0.8, 1], **common)
            width, height = 2 * a, 2 * a
        elif fam == "glass":
            r = float(rng.uniform(0.014, 0.018))  # vial radius [m]
            hh = float(rng.uniform(0.035, 0.045))  # vial half height [m]
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[r, hh, 0],
                          rgba=[0.7, 0.85, 0.95, 0.6], **common)
            width, height = 2 * r, 2 * hh
        else:
            r = float(rng.uniform(0.015, 0.022))  # fruit radius [m]
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[r, 0, 0],
                          rgba=[0.85, 0.1, 0.15, 1], **common)
            width, height = 2 * r, 2 * r
        self.object_width = width
        self.object_height = height
        self.structure = {"object_width": width, "object_height": height,
                          "family_index": float(FAMILIES.index(fam))}

    def _reset_task(self) -> None:
        self._hold = 0.0
        self._lifted_once = False
        self._no_contact = 0.0
        self._dropped = False
        self._max_lift = 0.0
        self._z0 = float(self.data.xpos[self._obj_body][2]) if hasattr(self, "_obj_body") else 0.0

    def _randomize(self, rng: np.random.Generator) -> None:
        p = FAMILY_PARAMS[self.family]
        mass = float(rng.uniform(*p.mass))  # mass ~ U(family range)
        mu = float(rng.uniform(*p.friction))  # object-gel friction ~ U(family range)
        thr = float(rng.uniform(*p.break_force))  # breaking force ~ U(family range)
        m = self.model
        scale = mass / float(m.body_mass[self._obj_body])
        m.body_mass[self._obj_body] = mass
        m.body_inertia[self._obj_body] *= scale
        m.geom_friction[self._obj_geom, 0] = mu
        m.geom_rgba[self._obj_geom] = self._rgba
        self.monitor = BreakMonitor(m, self._obj_geom, thr)
        x = float(rng.uniform(0.50, 0.60))  # object x ~ U(0.50, 0.60) m
        y = float(rng.uniform(-0.08, 0.08))  # object y ~ U(-0.08, 0.08) m
        q = self.data.qpos
        a = self._obj_qadr
        q[a:a + 3] = [x, y, TABLE_TOP + self.object_height / 2 + 1e-4]
        q[a + 3:a + 7] = [1.0, 0.0, 0.0, 0.0]
        self.sampled.update(object_mass=mass, object_friction=mu, break_force=thr,
                            object_x=x, object_y=y)

    def _advance(self) -> None:
        step_monitored(self.model, self.data, self.frame_skip, self.monitor)

    def _after_period(self) -> None:
        if self.monitor.broken:
            self.model.geom_rgba[self._obj_geom] = [0.25, 0.2, 0.1, 1.0]  # visibly broken
        lift = float(self.data.xpos[self._obj_body][2]) - self._z0
        self._max_lift = max(self._max_lift, lift)
        left, right = contact_with(self.data, self._obj_geom, self._left_pad, self._right_pad)
        held = left and right
        dt = self.dt
        if lift > 0.02:
            self._lifted_once = True
        if self._lifted_once and not held:
            self._no_contact += dt
            if self._no_contact >= 0.1:
                self._dropped = True
        else:
            self._no_contact = 0.0
        if held and lift >= self.lift_height and not self.monitor.broken:
            self._hold += dt
        else:
            self._hold = 0.0

    def _vision_truth(self) -> np.ndarray:
        out = np.empty(6)
        out[:3] = self.data.xpos[self._obj_body]
        out[3] = self.object_width
        out[4] = self.object_height
        out[5] = 0.0
        return out

    def _vision_noise(self) -> np.ndarray:
        p, s = VISION_POS_NOISE, VISION_SIZE_NOISE
        return np.array([p, p, p, s, s, 0.0])

    def evaluate(self) -> dict[str, float | bool]:
        """Lift, hold time, breakage, drop, peak contact force / threshold (and marker error)."""
        lift = float(self.data.xpos[self._obj_body][2]) - self._z0
        success = (not self.monitor.broken and not self._dropped
                   and self._hold >= self.hold_time - 1e-9)
        out: dict[str, float | bool] = {
            "success": bool(success),
            "lift": lift,
            "max_lift": self._max_lift,
            "hold_time": self._hold,
            "broken": float(self.monitor.broken),
            "dropped": float(self._dropped),
            "peak_force": self.monitor.peak,
            "peak_force_ratio": self.monitor.peak / self.monitor.threshold,
            "family_index": float(FAMILIES.index(self.family)),
        }
        out.update(self._fidelity_metrics())
        return out

    def _task_reward(self, ev: dict[str, float | bool]) -> dict[str, float]:
        return {
            "lift": self.weights["lift"] * min(max(float(ev["lift"]), 0.0), self.lift_height),
            "break": -self.weights["break"] * float(ev["broken"]),
            "success": self.weights["success"] * float(bool(ev["success"])),
        }

    def _terminated(self, ev: dict[str, float | bool]) -> bool:
        return bool(ev["success"]) or self.monitor.broken or self._dropped
