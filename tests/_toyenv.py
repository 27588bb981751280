"""A tiny, fast, real MuJoCo task for testing the batch runner: a box lands softly.

Description: a 1 kg box (0.1 m cube) falls onto a plane under the condition's
gravity; the action is an upward thrust in units of the box's weight. The
episode ends at first contact with the floor (or by TimeLimit).
Randomizations: drop height 0.3 + 0.1 * (scenario_seed % 8) m; initial
vertical speed ~ U(-0.05, 0.05) m/s from the episode seed.
Success conditions: impact speed <= ``max_impact_speed`` (m/s).

Knobs for the runner tests: ``unstable=True`` drives the state to infinity so
MuJoCo raises an instability warning (reported as ``info["sim_error"]``);
``raise_at_step`` raises inside ``step``; ``crash_at_step`` kills the process
(SIGKILL, standing in for a segfault in native code); ``step_delay_s`` slows
each step so a batch can be killed mid-run.

Used as ``"_toyenv:ToyFall-v0"`` so that gymnasium imports this module in every
worker (tests/ is on sys.path under pytest and is put on PYTHONPATH for
subprocesses).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from sims.world import SimulationError
from sims.world import step as sim_step

# Standard gravity of each test condition (m/s^2): Earth standard gravity (CGPM 1901),
# Moon and Mars from NASA planetary fact sheets.
GRAVITY = {"earth": 9.80665, "moon": 1.62, "mars": 3.71}
HALF = 0.05  # box half-size (m)
DT = 0.002  # physics timestep (s)
SUBSTEPS = 10  # physics steps per env step


class ToyFallEnv(gym.Env):
    """Soft-landing box; see the module docstring."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        condition: str = "moon",
        scenario_seed: int = 0,
        max_impact_speed: float = 2.0,
        unstable: bool = False,
        raise_at_step: int | None = None,
        crash_at_step: int | None = None,
        step_delay_s: float = 0.0,
    ) -> None:
        if condition not in GRAVITY:
            raise ValueError(f"condition={condition!r}; accepted: {sorted(GRAVITY)}")
        self.g = GRAVITY[condition]
        self.height = 0.3 + 0.1 * (scenario_seed % 8)
        self.max_impact_speed = max_impact_speed
        self.unstable = unstable
        self.raise_at_step = raise_at_step
        self.crash_at_step = crash_at_step
        self.step_delay_s = step_delay_s
        spec = mujoco.MjSpec()
        spec.option.gravity = [0.0, 0.0, -self.g]
        spec.option.timestep = DT
        spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[1.0, 1.0, 0.1])
        box = spec.worldbody.add_body(name="box", pos=[0.0, 0.0, self.height + HALF])
        box.add_freejoint(name="box_free")
        box.add_geom(name="box_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[HALF] * 3, mass=1.0)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.box_id = self.model.body("box").id
        self.weight = float(self.model.body_subtreemass[self.box_id]) * self.g
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float64)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), dtype=np.float64)
        self._steps = 0
        self._impact_speed = 0.0
        self._landed = False

    def _obs(self) -> np.ndarray:
        return np.array([self.data.qpos[2], self.data.qvel[2]], dtype=np.float64)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.data.qvel[2] = self.np_random.uniform(-0.05, 0.05)
        if self.unstable:
            self.data.qvel[2] = -1e308  # overflows to inf in the first integration
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        self._impact_speed = 0.0
        self._landed = False
        return self._obs(), {"success": False, "metrics": {}, "sim_error": None}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.step_delay_s:
            time.sleep(self.step_delay_s)
        self._steps += 1
        if self.raise_at_step is not None and self._steps >= self.raise_at_step:
            raise RuntimeError(f"toy failure at step {self._steps}")
        if self.crash_at_step is not None and self._steps >= self.crash_at_step:
            os.kill(os.getpid(), signal.SIGKILL)
        thrust = float(np.clip(np.asarray(action).ravel()[0], -1.0, 1.0)) * self.weight
        self.data.xfrc_applied[self.box_id, 2] = thrust
        sim_error = None
        for _ in range(SUBSTEPS):
            speed = -float(self.data.qvel[2])  # speed just before this physics step
            try:
                sim_step(self.model, self.data)
            except SimulationError as exc:
                sim_error = str(exc)
                break
            if self.data.ncon > 0:
                self._landed = True
                self._impact_speed = speed
                break
        ok = self._landed and self._impact_speed <= self.max_impact_speed
        info = {
            "success": bool(ok and sim_error is None),
            "metrics": {"height": float(self.data.qpos[2]) - HALF, "steps": float(self._steps)},
            "sim_error": sim_error,
        }
        terminated = self._landed or sim_error is not None
        return self._obs(), 0.0, terminated, False, info

    def evaluate(self) -> dict[str, Any]:
        """Success and named signals (impact speed in m/s, landed flag)."""
        return {
            "success": bool(self._landed and self._impact_speed <= self.max_impact_speed),
            "impact_speed": self._impact_speed,
            "landed": float(self._landed),
        }


class ConstantThrust:
    """Scripted policy: constant thrust as a fraction of the weight."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def reset(self, seed: int) -> None:
        del seed

    def act(self, obs: np.ndarray) -> np.ndarray:
        del obs
        return np.array([self.fraction])


def make_policy(task_id: str, name: str, env: Any) -> ConstantThrust:
    """Policy factory: 'none' (free fall) or 'brake' (thrust = half the weight)."""
    del task_id, env
    fractions = {"none": 0.0, "brake": 0.5}
    if name not in fractions:
        raise ValueError(f"policy={name!r}; accepted: {sorted(fractions)}")
    return ConstantThrust(fractions[name])


TASK_ID = "_toyenv:ToyFall-v0"
if "ToyFall-v0" not in gym.registry:
    gym.register("ToyFall-v0", entry_point=ToyFallEnv, max_episode_steps=400)
