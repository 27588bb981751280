"""BeaconLocalize: find the goal beacon with the low-light camera and report where it is."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from scenes.spec import ScenarioSpec
from tasks.rover_traverse import RoverTraverseEnv

REPORT_SCALE = 10.0  # [m] reported coordinates are action[2:4] x this


class BeaconLocalizeEnv(RoverTraverseEnv):
    """Localize the goal beacon from the rover's camera in low light.

    **Description.** The rover of RoverTraverse stands on the terrain of a working
    condition; the goal beacon (orange pole and sphere, 0.92 m tall) is 4-8 m away
    in a direction that may be outside the camera's 60 deg field of view. There is
    no navigation fix: the goal slots of the state hold the estimate of the
    rover's own perception pipeline (:mod:`tasks.perception`, radiometric colour
    camera every ``camera_period`` steps) plus its age, as in RoverTraverse with
    ``goal_source="camera"``; ``obs_mode`` adds or substitutes the 8-bit frame.
    Actions (5 floats in [-1, 1]): left/right wheel commands, the reported beacon
    position in the rover frame divided by 10 m (x, y), and a report flag; a flag
    > 0 submits the reported position and ends the episode.

    **Randomizations.** The scene (terrain, rocks, lighting including dust,
    earthshine and headlight power, start pose and goal) comes from ``condition``
    and ``scenario_seed`` or an explicit ``scenario``; per episode the start heading
    is perturbed by U(-5, 5) deg, the sensors and the camera (shot, dark, read
    noise) draw from the episode generator.

    **Success conditions.** The report is submitted and its horizontal distance
    from the true beacon position (the ``goal`` site, rover frame at the time of
    the report) is at most ``tolerance_m`` (default 0.3 m). Tip-over or a
    simulation error ends the episode as a failure; truncation is left to
    ``TimeLimit``.
    """

    def __init__(
        self,
        condition: str | None = "lunar-night-headlight",
        scenario_seed: int = 0,
        scenario: ScenarioSpec | None = None,
        frame_skip: int = 10,
        tolerance_m: float = 0.3,
        obs_mode: str = "state",
        camera_size: int = 64,
        camera_period: int = 2,
        perception_tol_m: float = 0.25,
        perception_tol_frac: float = 0.10,
        success_bonus: float = 10.0,
        error_weight: float = 1.0,
        time_weight: float = 0.01,
        tip_tilt_deg: float = 60.0,
        render_mode: str | None = None,
    ):
        if not (math.isfinite(tolerance_m) and tolerance_m > 0):
            raise ValueError(f"tolerance_m: got {tolerance_m!r}; accepted: a length > 0 m")
        super().__init__(
            condition=condition,
            scenario_seed=scenario_seed,
            scenario=scenario,
            frame_skip=frame_skip,
            tip_tilt_deg=tip_tilt_deg,
            success_bonus=success_bonus,
            render_mode=render_mode,
            obs_mode=obs_mode,
            goal_source="camera",
            camera_size=camera_size,
            camera_period=camera_period,
            perception_tol_m=perception_tol_m,
            perception_tol_frac=perception_tol_frac,
        )
        self.tolerance_m = float(tolerance_m)
        self.weights = {"success": success_bonus, "error": error_weight, "time": time_weight}
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        self._report: np.ndarray | None = None
        self._report_error = math.nan

    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._report = None
        self._report_error = math.nan
        super()._initialize_episode(rng, options)

    def step(self, action: np.ndarray):
        """Drive for one control period; a report flag > 0 submits action[2:4] x 10 m."""
        # np.clip's values (NaN included) through two plain ufuncs, without clip's wrappers
        act = np.minimum(np.maximum(np.asarray(action, dtype=np.float64).reshape(5), -1.0), 1.0)
        left, right = act[:2].tolist()
        vl, vr = left * self._vmax, right * self._vmax
        if act[4] > 0.0:
            self._report = act[2:4] * REPORT_SCALE
            truth = self._sensor("rover_goal_vec")[:2]
            self._report_error = float(np.linalg.norm(self._report - truth))
        else:
            self._simulate((vl, vr, vl, vr))  # type: ignore[arg-type]  # wheels fl, fr, rl, rr
            self._perception_step()
        self._prev_action = (left, right)
        obs = self._observe()
        if self.sim_error is not None:
            info = self._info()
            info["reward_parts"] = {}
            return obs, 0.0, True, False, info
        self._update_stats()
        ev = self.evaluate()
        parts = {
            "time": -self.weights["time"] * self._dt,
            "error": -self.weights["error"] * (self._report_error if self._report is not None
                                               else 0.0),
            "success": self.weights["success"] if ev["success"] else 0.0,
        }
        terminated = bool(self._report is not None or self._tipped)
        info = self._info(ev)
        info["reward_parts"] = parts
        return obs, float(sum(parts.values())), terminated, False, info

    def evaluate(self) -> dict[str, Any]:
        """Success, localization error, perception accuracy and driving signals."""
        base = super().evaluate()
        ok = (self._report is not None and self._report_error <= self.tolerance_m
              and not self._tipped and self.sim_error is None)
        out = {
            "success": bool(ok),
            "reported": float(self._report is not None),
            # -1 until a report is submitted
            "localization_error": self._report_error if self._report is not None else -1.0,
            "distance_to_goal": base["distance_to_goal"],
            "tilt_deg": base["tilt_deg"],
            "time_s": base["time_s"],
            "tipped": base["tipped"],
            "perception_frames": base["perception_frames"],
        }
        if "perception_accuracy" in base:
            out["perception_accuracy"] = base["perception_accuracy"]
        return out
