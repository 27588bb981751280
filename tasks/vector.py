"""Vector environments: ``make_vec`` with a batched backend over ``mujoco.batch``.

``make_vec(env_id, num_envs, backend=...)`` returns a
``gymnasium.vector.VectorEnv``:

* ``"batch"`` - all simulations of the task step in one call of
  :class:`sims.batch.BatchSim` (``mujoco.batch``: threads, GIL released), and
  observations, rewards, success and termination are computed as array
  operations over the batch. Only the per-environment random draws (sensor
  noise, start heading) are made one generator per environment, because each
  sub-environment owns its seeded ``numpy.random.Generator``; that is what
  keeps the results **bit-identical to N single environments** with the same
  seeds (``tests/test_vector.py`` checks it). Tasks with a batched
  implementation: :data:`BATCH_TASKS`. Any other id raises a ``ValueError``
  that names them and suggests ``backend="sync"`` (no silent fallback: a
  benchmark or a training run should know what it is running).
* ``"warp"`` - the batched implementation on MuJoCo Warp (GPU, extra ``gpu``;
  :class:`sims.warp_backend.WarpSim`): same API and semantics, single precision,
  one scene for all sub-environments, agreement with the CPU within tolerances
  (``benchmarks/gpu_check.py``), not bit for bit.
* ``"sync"`` / ``"async"`` - Gymnasium's ``SyncVectorEnv`` / ``AsyncVectorEnv``
  over ``gymnasium.make(env_id)`` (works for every registered task).

**Autoreset.** All backends follow Gymnasium 1.x's default
``AutoresetMode.NEXT_STEP``, the behaviour of ``SyncVectorEnv``: the step that
ends an episode returns that episode's last observation with
``terminated``/``truncated`` set; on the next ``step`` the sub-environment
ignores its action, resets, and returns the reset observation with reward 0 and
both flags False. The batch backend also implements ``SAME_STEP`` (reset in the
same call, last observation and info in ``info["final_obs"]`` /
``info["final_info"]``), as ``SyncVectorEnv(autoreset_mode="SameStep")``,
which is what Stable-Baselines3-style trainers expect.

**Truncation** is ``TimeLimit``'s: after the registry's ``max_episode_steps``.

**Per-environment scenarios.** ``per_env_kwargs`` gives sub-environment ``i``
its own keyword arguments (e.g. ``scenario_seed``), so each simulation may run
a different scene (a different ``MjModel``); :class:`sims.batch.BatchSim`
groups scenes of equal MjData layout into one ``mujoco.batch.Batch``.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from sims.batch import BatchSim
from sims.rover import WHEELS
from tasks import rover_traverse as rt
from tasks._vector_common import reset_request
from tasks.registry import TASKS, _load, get_task
from tasks.vector_touch import TOUCH_BATCH_TASKS

_BACKENDS = ("batch", "warp", "sync", "async")


def _kwargs_key(kwargs: Mapping[str, Any]) -> str:
    """Identity of a keyword set (values may be unhashable dataclasses)."""
    return repr(sorted(kwargs.items()))


class RoverTraverseBatchEnv(VectorEnv):
    """``num_envs`` RoverTraverse environments stepped as one ``mujoco.batch``.

    Same observations, rewards, termination, truncation and ``info`` keys as
    ``SyncVectorEnv`` over ``gymnasium.make("embodisim/RoverTraverse-v0")``
    (bit for bit with the same seeds); see the module docstring for the
    autoreset semantics.

    Args:
        env_kwargs: One keyword dict per sub-environment, passed to
            :class:`tasks.rover_traverse.RoverTraverseEnv` (scene, weights, thresholds).
        num_threads: Threads of the batch calls (0: all CPUs).
        max_episode_steps: ``TimeLimit`` of each episode; None: no limit.
        autoreset_mode: ``"NextStep"`` (Gymnasium's default) or ``"SameStep"``.
        sim_backend: ``"cpu"`` (:class:`sims.batch.BatchSim`, the reference) or ``"warp"``
            (:class:`sims.warp_backend.WarpSim`, CUDA).

    Raises:
        ValueError: If the scenes disagree on ``frame_skip``, on the rover's element ids, or
            a kwarg is invalid for RoverTraverseEnv.
    """

    metadata: dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        env_kwargs: Sequence[Mapping[str, Any]],
        num_threads: int = 1,
        max_episode_steps: int | None = 2000,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        sim_backend: str = "cpu",
    ) -> None:
        self.num_envs = len(env_kwargs)
        if sim_backend not in ("cpu", "warp"):
            raise ValueError(f"sim_backend: got {sim_backend!r}; accepted: 'cpu' or 'warp'")
        if self.num_envs < 1:
            raise ValueError("num_envs: got 0; accepted: an integer >= 1")
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode: got {mode.value!r}; accepted: 'NextStep' or 'SameStep'")
        self.autoreset_mode = mode
        self.metadata = {"render_modes": [], "autoreset_mode": mode}
        for kw in env_kwargs:
            if kw.get("render_mode") is not None:
                raise ValueError("render_mode: the batch backend does not render; use backend='sync'")
        # One single-env instance per distinct keyword set: it compiles the scene and
        # holds the scene's constants (goal, wheel radius, ...). Its MjData is unused.
        templates: dict[str, rt.RoverTraverseEnv] = {}
        self.templates: list[rt.RoverTraverseEnv] = []
        for kw in env_kwargs:
            key = _kwargs_key(kw)
            if key not in templates:
                templates[key] = rt.RoverTraverseEnv(**kw)
            self.templates.append(templates[key])
        for i, t in enumerate(self.templates):
            obs_mode, goal_source = getattr(t, "obs_mode", "state"), getattr(t, "goal_source", "nav")
            if (obs_mode, goal_source) != ("state", "nav"):
                raise ValueError(
                    f"env_kwargs[{i}]: obs_mode={obs_mode!r}, goal_source={goal_source!r}; the batch "
                    "backend implements obs_mode='state' with goal_source='nav' (no camera in the "
                    "loop); use backend='sync' or 'async' for camera observations"
                )
        t0 = self.templates[0]
        self._check_same_layout()
        self.frame_skip = t0.frame_skip
        models = [t.model for t in self.templates]
        outputs = ("xpos", "xmat", "sensordata")
        if sim_backend == "warp":
            from sims.warp_backend import WarpSim  # lazy: the extra 'gpu' is optional

            self.sim: BatchSim | WarpSim = WarpSim(models, outputs=outputs)
        else:
            self.sim = BatchSim(models, nthread=num_threads, outputs=outputs)
        self.max_episode_steps = max_episode_steps

        self.single_observation_space = t0.observation_space
        self.single_action_space = t0.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        # Element indices (equal in every scene, checked above).
        self._rover = t0._rover
        self._qadr = int(t0._qadr)
        self._wheel_dofs = t0._wheel_dofs
        cols = []
        for name in ["rover_goal_vec", "rover_gyro", "rover_accel", "rover_quat",
                     *[f"rover_wheel_vel_{w}" for w in WHEELS], *[f"rover_range_{i}" for i in range(5)]]:
            adr, dim = t0._sens[name]
            cols.extend(range(adr, adr + dim))
        self._obs_cols = np.asarray(cols, dtype=np.intp)  # 22 sensordata columns, obs order
        # Noise columns of the 22 and their sigmas, in the order RoverTraverseEnv draws them.
        self._noise_cols = np.r_[0:9, 17:22]
        self._noise_sigma = np.array([rt.NAV_NOISE] * 3 + [rt.GYRO_NOISE] * 3 + [rt.ACCEL_NOISE] * 3
                                     + [rt.RANGE_NOISE] * 5)
        # Per-environment constants.
        def col(f: Any) -> np.ndarray:
            return np.array([f(t) for t in self.templates], dtype=np.float64)
        self._goal_xy = np.stack([t._goal_xy for t in self.templates]).astype(np.float64)
        self._goal_r = col(lambda t: t.scenario.goal.radius)
        self._vmax = col(lambda t: t._vmax)
        self._range_max = col(lambda t: t._range_max)
        self._wheel_r = col(lambda t: t._wheel_r)
        self._dt = col(lambda t: t.dt)
        self._tip = col(lambda t: t.tip_tilt_deg)
        self._stuck_time = col(lambda t: t.stuck_time)
        self._stuck_progress = col(lambda t: t.stuck_progress)
        self._yaw0_deg = col(lambda t: t.scenario.robot.yaw_deg)
        self._w = {k: col(lambda t, k=k: t.weights[k]) for k in ("progress", "tilt", "ctrl", "success")}

        n = self.num_envs
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._prev_action = np.zeros((n, 2), dtype=np.float32)
        self._max_tilt = np.zeros(n)
        self._path = np.zeros(n)
        self._slip_sum = np.zeros(n)
        self._slip_n = np.zeros(n, dtype=np.int64)
        self._best_dist = np.full(n, math.inf)
        self._last_improve_t = np.zeros(n)
        self._stuck = np.zeros(n, dtype=bool)
        self._tipped = np.zeros(n, dtype=bool)
        self._prev_xy = np.zeros((n, 2))
        self._sim_error: np.ndarray = np.full(n, None, dtype=object)
        self._elapsed = np.zeros(n, dtype=np.int64)
        self._autoreset = np.zeros(n, dtype=bool)
        self._obs = np.zeros((n, rt.OBS_SIZE), dtype=np.float32)

    def _check_same_layout(self) -> None:
        t0 = self.templates[0]
        for i, t in enumerate(self.templates):
            same = (t.frame_skip == t0.frame_skip and t._rover == t0._rover and t._qadr == t0._qadr
                    and np.array_equal(t._wheel_dofs, t0._wheel_dofs) and t._sens == t0._sens
                    and np.array_equal(t._act_ids, np.arange(4)))
            if not same:
                raise ValueError(
                    f"env_kwargs[{i}]: its scene differs from env 0 in frame_skip ({t.frame_skip} vs "
                    f"{t0.frame_skip}) or in the rover's element ids; accepted: scenes whose rover is "
                    "built the same way - use backend='sync' to mix them"
                )

    # --- signals, as array operations -------------------------------------------------------------
    def _xy(self) -> np.ndarray:
        return self.sim.read("xpos", self._rover)[:, :2]

    def _distance(self, xy: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return np.linalg.norm(xy - self._goal_xy[ids], axis=1)

    def _tilt_deg(self) -> np.ndarray:
        # per world with the single env's function (bit-identical; see rt.tilt_deg)
        zz = self.sim.read("xmat", self._rover)[:, 8]  # R[2, 2]
        return np.array([rt.tilt_deg(v) for v in zz.tolist()])

    def _observe(self, ids: np.ndarray) -> np.ndarray:
        """Observations of sub-environments ``ids`` (draws each one's sensor noise)."""
        raw = self.sim.read("sensordata")[ids][:, self._obs_cols]  # a float64 copy
        ranges = raw[:, 17:22]
        raw[:, 17:22] = np.where(ranges < 0, self._range_max[ids, None], ranges)
        # Each sub-env draws from its own generator, in RoverTraverseEnv's order
        # (goal 3, gyro 3, accel 3, ranges 5); rng.normal(0, s) == 0 + s * standard_normal.
        z = np.stack([self._rngs[i].standard_normal(14) for i in ids])  # type: ignore[union-attr]
        raw[:, self._noise_cols] += 0.0 + self._noise_sigma * z
        out = np.empty((len(ids), rt.OBS_SIZE), dtype=np.float64)
        out[:, :22] = raw
        out[:, 22:] = self._prev_action[ids]
        return out.astype(np.float32)

    def _evaluate(self, ids: np.ndarray, tilt: np.ndarray, dist: np.ndarray) -> dict[str, np.ndarray]:
        ok = np.array([self._sim_error[i] is None for i in ids], dtype=bool)
        slip_n = self._slip_n[ids]
        with np.errstate(invalid="ignore", divide="ignore"):
            slip = np.where(slip_n > 0, self._slip_sum[ids] / np.maximum(slip_n, 1), 0.0)
        return {
            "success": (dist <= self._goal_r[ids]) & (tilt < self._tip[ids]) & ok,
            "distance_to_goal": dist,
            "tilt_deg": tilt,
            "max_tilt_deg": self._max_tilt[ids].copy(),
            "slip_ratio": slip,
            "path_length": self._path[ids].copy(),
            "time_s": self.sim.read("time")[ids].astype(np.float64),
            "tipped": self._tipped[ids].astype(np.float64),
            "stuck": self._stuck[ids].astype(np.float64),
        }

    # --- reset ------------------------------------------------------------------------------------
    def _reset_ids(self, ids: np.ndarray, seeds: Sequence[int | None]) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset sub-environments ``ids``; returns their observations and evaluation."""
        for i, s in zip(ids, seeds, strict=True):
            if s is not None or self._rngs[i] is None:
                self._rngs[i], _ = seeding.np_random(s)
        self.sim.reset(ids)
        dyaw = np.radians(np.array([self._rngs[i].uniform(-5.0, 5.0) for i in ids]))  # type: ignore[union-attr]
        yaw = np.radians(self._yaw0_deg[ids]) + dyaw
        quat = np.stack([np.cos(yaw / 2), np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2)], axis=1)
        self.sim.write("qpos", quat, ids, index=slice(self._qadr + 3, self._qadr + 7))
        # RoverTraverseEnv runs mj_forward twice (in _initialize_episode and in reset);
        # the second starts from the first one's solver warm start, so do the same.
        self.sim.forward(ids)
        self._prev_action[ids] = 0.0
        self._max_tilt[ids] = 0.0
        self._path[ids] = 0.0
        self._slip_sum[ids] = 0.0
        self._slip_n[ids] = 0
        self._last_improve_t[ids] = 0.0
        self._stuck[ids] = False
        self._tipped[ids] = False
        self._sim_error[ids] = None
        xy = self._xy()[ids]
        self._best_dist[ids] = self._distance(xy, ids)
        self._prev_xy[ids] = xy
        self.sim.forward(ids)
        self._elapsed[ids] = 0
        self._autoreset[ids] = False
        obs = self._observe(ids)
        xy = self._xy()[ids]
        ev = self._evaluate(ids, self._tilt_deg()[ids], np.linalg.norm(xy - self._goal_xy[ids], axis=1))
        return obs, ev

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-environments (or those in ``options["reset_mask"]``).

        Args:
            seed: None, an int ``s`` (sub-env ``i`` gets ``s + i``, as SyncVectorEnv), or one
                seed per sub-environment.
            options: ``{"reset_mask": bool array (num_envs,)}`` to reset only some.

        Returns:
            Observations ``(num_envs, 24)`` float32 and the batched info dict.
        """
        seeds, mask, _ = reset_request(self.num_envs, seed, options)
        ids = np.flatnonzero(mask)
        obs, ev = self._reset_ids(ids, [seeds[i] for i in ids])
        self._obs[ids] = obs
        info: dict[str, Any] = {}
        self._add_batch_info(info, ids, ev, None)
        return self._obs.copy(), info

    # --- step -------------------------------------------------------------------------------------
    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment (NEXT_STEP: those that ended last step reset instead)."""
        n = self.num_envs
        act_all = np.clip(np.asarray(actions, dtype=np.float64).reshape(n, 2), -1.0, 1.0)
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        info: dict[str, Any] = {}
        reset_now = self._autoreset.copy() if self.autoreset_mode == AutoresetMode.NEXT_STEP else \
            np.zeros(n, dtype=bool)
        ids = np.flatnonzero(~reset_now)
        if ids.size:
            act = act_all[ids]
            vmax = self._vmax[ids]
            ctrl = np.empty((ids.size, 4))
            ctrl[:, [0, 2]] = (act[:, 0] * vmax)[:, None]  # left wheels (fl, rl)
            ctrl[:, [1, 3]] = (act[:, 1] * vmax)[:, None]  # right wheels (fr, rr)
            xy_before = self._xy()[ids]
            d_before = self._distance(xy_before, ids)
            self.sim.write("ctrl", ctrl, ids)
            failed = self.sim.step(self.frame_skip, ids)[ids]
            for k in np.flatnonzero(failed):
                self._sim_error[ids[k]] = self.sim.errors[ids[k]]
            self._prev_action[ids] = act.astype(np.float32)
            obs = self._observe(ids)
            ok = ~failed
            xy = self._xy()[ids]
            tilt = self._tilt_deg()[ids]
            d_after = self._distance(xy, ids)
            self._update_stats(ids[ok], xy[ok], tilt[ok], d_after[ok])
            ev = self._evaluate(ids, tilt, d_after)
            tilt_w, ctrl_w = self._w["tilt"][ids], self._w["ctrl"][ids]
            parts = {
                "progress": self._w["progress"][ids] * (d_before - d_after),
                "tilt": -tilt_w * (tilt / 90.0) * self._dt[ids],
                "ctrl": -ctrl_w * np.sum(act**2, axis=1),
                "success": np.where(ev["success"], self._w["success"][ids], 0.0),
            }
            r = parts["progress"] + parts["tilt"] + parts["ctrl"] + parts["success"]
            rewards[ids] = np.where(ok, r, 0.0)
            term = np.where(ok, ev["success"] | self._tipped[ids] | self._stuck[ids], True)
            terminated[ids] = term
            self._elapsed[ids] += 1
            if self.max_episode_steps is not None:
                truncated[ids] = self._elapsed[ids] >= self.max_episode_steps
            self._obs[ids] = obs
            self._add_batch_info(info, ids, ev, parts, ok)
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                done = ids[term | truncated[ids]]
                if done.size:
                    final_obs = np.full(n, None, dtype=object)
                    for i in done:
                        final_obs[i] = self._obs[i].copy()
                    final_info = self._select_info(info, done)
                    info["final_obs"], info["_final_obs"] = final_obs, np.isin(np.arange(n), done)
                    info["final_info"], info["_final_info"] = final_info, info["_final_obs"].copy()
                    reset_now = np.isin(np.arange(n), done)
        rids = np.flatnonzero(reset_now)
        if rids.size:
            obs, ev = self._reset_ids(rids, [None] * rids.size)
            self._obs[rids] = obs
            if "reward_parts" in info:  # the reset info replaces the step's, which had parts
                info["_reward_parts"][rids] = False
                for k, v in info["reward_parts"].items():
                    if k.startswith("_"):
                        v[rids] = False
            self._add_batch_info(info, rids, ev, None)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._autoreset = terminated | truncated
        return self._obs.copy(), rewards, terminated, truncated, info

    def _update_stats(self, ids: np.ndarray, xy: np.ndarray, tilt: np.ndarray, d: np.ndarray) -> None:
        if ids.size == 0:
            return
        step_len = np.linalg.norm(xy - self._prev_xy[ids], axis=1)
        self._path[ids] += step_len
        ground_speed = step_len / self._dt[ids]
        self._prev_xy[ids] = xy
        qvel = self.sim.read("qvel")[ids][:, self._wheel_dofs]
        wheel_speed = np.mean(np.abs(qvel), axis=1) * self._wheel_r[ids]
        moving = wheel_speed > 0.02 * self._vmax[ids] * self._wheel_r[ids]
        with np.errstate(invalid="ignore", divide="ignore"):
            slip = np.maximum(0.0, 1.0 - ground_speed / wheel_speed)
        self._slip_sum[ids] += np.where(moving, slip, 0.0)
        self._slip_n[ids] += moving
        self._max_tilt[ids] = np.maximum(self._max_tilt[ids], tilt)
        self._tipped[ids] = tilt > self._tip[ids]
        improved = d < self._best_dist[ids] - self._stuck_progress[ids]
        t = self.sim.read("time")[ids]
        self._best_dist[ids] = np.where(improved, d, self._best_dist[ids])
        self._last_improve_t[ids] = np.where(improved, t, self._last_improve_t[ids])
        self._stuck[ids] = (t - self._last_improve_t[ids]) > self._stuck_time[ids]

    # --- infos, in SyncVectorEnv's layout (value arrays + "_key" masks) ----------------------------
    def _put(self, info: dict[str, Any], key: str, ids: np.ndarray, values: np.ndarray) -> None:
        n = self.num_envs
        if key not in info:
            info[key] = np.full(n, None, dtype=object) if values.dtype == object else \
                np.zeros(n, dtype=values.dtype)
            info["_" + key] = np.zeros(n, dtype=bool)
        info[key][ids] = values
        info["_" + key][ids] = True

    def _put_dict(self, info: dict[str, Any], key: str, ids: np.ndarray,
                  values: Mapping[str, np.ndarray]) -> None:
        sub = info.setdefault(key, {})
        if "_" + key not in info:
            info["_" + key] = np.zeros(self.num_envs, dtype=bool)
        info["_" + key][ids] = True
        for k, v in values.items():
            self._put(sub, k, ids, np.asarray(v))

    def _add_batch_info(self, info: dict[str, Any], ids: np.ndarray, ev: dict[str, np.ndarray],
                        parts: dict[str, np.ndarray] | None, ok: np.ndarray | None = None) -> None:
        self._put(info, "success", ids, ev["success"].astype(bool))
        self._put_dict(info, "metrics", ids, {k: v for k, v in ev.items() if k != "success"})
        self._put(info, "sim_error", ids, self._sim_error[ids])
        if parts is not None:
            assert ok is not None
            good = ids[ok]  # a failed step reports empty reward parts, as RoverTraverseEnv
            self._put_dict(info, "reward_parts", good, {k: v[ok] for k, v in parts.items()})
            if (~ok).any():
                info.setdefault("reward_parts", {})
                info.setdefault("_reward_parts", np.zeros(self.num_envs, dtype=bool))[ids[~ok]] = True

    def _select_info(self, info: dict[str, Any], ids: np.ndarray) -> dict[str, Any]:
        """The batched info restricted to ``ids`` (masks False elsewhere), for ``final_info``."""
        keep = np.isin(np.arange(self.num_envs), ids)
        out: dict[str, Any] = {}
        for k, v in info.items():
            if isinstance(v, dict):
                out[k] = self._select_info(v, ids)
            elif k.startswith("_"):
                out[k] = v & keep
            else:
                out[k] = v.copy()
        return out

    def get_data(self, i: int) -> Any:
        """MjData of sub-environment ``i`` (forwarded), e.g. to render it."""
        return self.sim.get_data(i)

    def close_extras(self, **kwargs: Any) -> None:
        """Release the template environments."""
        for t in {id(t): t for t in self.templates}.values():
            t.close()


# Task id -> batched implementation. (A `batch_entry_point` field on TaskRecord would be
# the natural home once the registry grows one; until then this is the one place.)
BATCH_TASKS: Mapping[str, type[VectorEnv]] = {
    "embodisim/RoverTraverse-v0": RoverTraverseBatchEnv,
    **TOUCH_BATCH_TASKS,  # DoorOpen, DrawerOpen, LeverTurn, FragileGrasp (tasks.vector_touch)
}


def _shared_scenario(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Generate a task's scenario once for all sub-envs (if it takes ``scenario``)."""
    cls = _load(get_task(env_id).entry_point)
    params = inspect.signature(cls).parameters
    if "scenario" not in params or kwargs.get("scenario") is not None:
        return kwargs
    from scenes.generate import generate

    cond = kwargs.get("condition", params["condition"].default if "condition" in params else None)
    seed = kwargs.get("scenario_seed", params["scenario_seed"].default if "scenario_seed" in params else 0)
    if cond is None:
        return kwargs
    out = {k: v for k, v in kwargs.items() if k not in ("condition", "scenario_seed")}
    out["scenario"] = generate(cond, seed).spec
    return out


def make_vec(
    env_id: str,
    num_envs: int,
    backend: str = "batch",
    *,
    num_threads: int | None = None,
    per_env_kwargs: Sequence[Mapping[str, Any]] | None = None,
    autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
    **env_kwargs: Any,
) -> VectorEnv:
    """A vector environment of ``num_envs`` copies of registered task ``env_id``.

    Args:
        env_id: A registered id, e.g. ``"embodisim/RoverTraverse-v0"``.
        num_envs: Number of sub-environments (>= 1).
        backend: ``"batch"`` (mujoco.batch; tasks in :data:`BATCH_TASKS`), ``"warp"`` (the same
            on MuJoCo Warp, CUDA, extra ``gpu``), ``"sync"``
            (``SyncVectorEnv``) or ``"async"`` (``AsyncVectorEnv``, one process per env).
        num_threads: Batch backend threads; None: ``min(num_envs, os.cpu_count())``.
        per_env_kwargs: Optional per-sub-environment keyword overrides (length ``num_envs``),
            merged over ``env_kwargs``; e.g. ``[{"scenario_seed": i} for i in range(n)]``.
        autoreset_mode: ``"NextStep"`` (default, Gymnasium 1.x) or ``"SameStep"``.
        **env_kwargs: Keyword arguments of the task's constructor, shared by all sub-envs.

    Returns:
        A ``gymnasium.vector.VectorEnv``.

    Raises:
        ValueError: Unknown id or backend, bad ``num_envs``/``per_env_kwargs``, or a task
            without a batched implementation under ``backend="batch"``.
    """
    rec = get_task(env_id)
    if backend not in _BACKENDS:
        raise ValueError(f"backend: got {backend!r}; accepted: {list(_BACKENDS)}")
    if not isinstance(num_envs, int | np.integer) or num_envs < 1:
        raise ValueError(f"num_envs: got {num_envs!r}; accepted: an integer >= 1")
    if per_env_kwargs is not None and len(per_env_kwargs) != num_envs:
        raise ValueError(f"per_env_kwargs: got {len(per_env_kwargs)} dicts; accepted: one per "
                         f"sub-environment ({num_envs}) or None")
    if per_env_kwargs is None:
        shared = _shared_scenario(env_id, dict(env_kwargs))
        kwargs_list = [shared] * num_envs
    else:
        kwargs_list = [{**env_kwargs, **p} for p in per_env_kwargs]
    if backend in ("batch", "warp"):
        if env_id not in BATCH_TASKS:
            raise ValueError(
                f"backend: {backend!r} has no implementation for {env_id!r}; tasks with one: "
                f"{sorted(BATCH_TASKS)}; use backend='sync' or 'async' for any of "
                f"{sorted(t.id for t in TASKS)}"
            )
        threads = min(num_envs, os.cpu_count() or 1) if num_threads is None else int(num_threads)
        return BATCH_TASKS[env_id](kwargs_list, num_threads=threads,  # type: ignore[call-arg]
                                   max_episode_steps=rec.max_episode_steps, autoreset_mode=autoreset_mode,
                                   sim_backend="warp" if backend == "warp" else "cpu")
    fns = [(lambda kw=kw: gym.make(env_id, **kw)) for kw in kwargs_list]
    if backend == "sync":
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=autoreset_mode)
    return gym.vector.AsyncVectorEnv(fns, autoreset_mode=autoreset_mode)
