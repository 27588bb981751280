"""The one thin environment base shared by embodisim's MuJoCo tasks.

A task subclasses :class:`MujocoTaskEnv` and implements ``_observe``,
``_reward``, ``_initialize_episode`` and ``evaluate``. The base owns the model,
the data, the generator and the unstable-simulation handling: a
:class:`sims.world.SimulationError` ends the episode with ``terminated=True``,
``info["sim_error"]`` set and success False. Truncation is left to
Gymnasium's ``TimeLimit`` (``max_episode_steps`` in the registration).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from sims import world


class MujocoTaskEnv(gym.Env[np.ndarray, np.ndarray]):
    """Base class: compiled model, seeded generator, checked stepping."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, model: mujoco.MjModel, frame_skip: int, render_mode: str | None = None,
                 render_size: tuple[int, int] = (240, 320), render_camera: str | None = None):
        if frame_skip < 1:
            raise ValueError(f"frame_skip: got {frame_skip}; accepted: an integer >= 1")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: got {render_mode!r}; accepted: None or 'rgb_array'")
        self.model = model
        self.data = mujoco.MjData(model)
        self.frame_skip = int(frame_skip)
        self.render_mode = render_mode
        self._render_size = render_size
        self._render_camera = render_camera
        self._renderer: Any = None
        self.sim_error: str | None = None

    @property
    def dt(self) -> float:
        """Control period [s]."""
        return float(self.model.opt.timestep) * self.frame_skip

    def _simulate(self, ctrl: np.ndarray) -> None:
        """Apply ``ctrl`` and advance one control period; records instability."""
        self.data.ctrl[:] = ctrl
        try:
            world.step(self.model, self.data, self.frame_skip)
        except world.SimulationError as exc:
            self.sim_error = str(exc)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset physics and the generator, then initialize the episode."""
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.sim_error = None
        self._initialize_episode(self.np_random, options or {})
        mujoco.mj_forward(self.model, self.data)
        return self._observe(), self._info()

    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def _observe(self) -> np.ndarray:
        raise NotImplementedError

    def _info(self, ev: dict[str, Any] | None = None) -> dict[str, Any]:
        """Standard info dict; pass ``ev`` when ``evaluate()`` was already computed."""
        if ev is None:
            ev = self.evaluate()
        return {
            "success": bool(ev["success"]),
            "metrics": {k: float(v) for k, v in ev.items() if k != "success"},
            "sim_error": self.sim_error,
        }

    def evaluate(self) -> dict[str, Any]:
        """``{"success": bool, ...named float signals}`` for the current state."""
        raise NotImplementedError

    def render(self) -> np.ndarray | None:
        """RGB frame from ``render_camera`` (headless)."""
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            h, w = self._render_size
            self._renderer = mujoco.Renderer(self.model, height=h, width=w)
        cam = self._render_camera if self._render_camera is not None else -1
        self._renderer.update_scene(self.data, camera=cam)
        return self._renderer.render().copy()

    def close(self) -> None:
        """Release the renderer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close()
