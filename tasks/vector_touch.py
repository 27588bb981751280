"""Batched vector environment of the touch tasks (DoorOpen, DrawerOpen, LeverTurn, FragileGrasp).

:class:`TouchBatchEnv` steps ``num_envs`` touch-task simulations together:

* **physics** of all sub-environments runs in ``mujoco.batch`` (threads, GIL
  released). Sub-environments whose models give MjData the same layout share
  one persistent ``mujoco.batch.Batch`` running each on its own model
  (``set_models``); other layouts get their own batch. The batch is
  *persistent* (one MjData per simulation inside it) so that the contacts and
  constraint forces of the last substep - what the tactile pads, the IK and
  ``evaluate()`` read - come back with :meth:`mujoco.batch.Batch.get_data`
  exactly as after ``mj_step`` on a single MjData.
* **per-substep task physics** keeps the single environment's semantics:

  - *latch* of the articulated fixtures (:class:`tasks.touch.articulated.Articulation`):
    while engaged at the start of a control period the detent force
    ``-k q`` is rewritten before every substep, as ``Articulation.step`` does;
    the sub-environments then advance one substep per batch call, the force
    computed as one array operation over the engaged simulations.
  - *break monitor* of FragileGrasp (:mod:`sims.fragile`): checked after every
    physics substep, as :func:`sims.fragile.step_monitored` does. ``mujoco.batch``
    exposes no contact list, so each substep is one batch call followed by
    ``get_data`` into the sub-environment's MjData and
    :meth:`sims.fragile.BreakMonitor.update` (a Python call per environment
    per substep around one compiled pass over the contact list; the single
    env runs the same pass inlined in :func:`sims.fragile.step_monitored`).
  - instability checks as :func:`sims.world.step`, once at the end of the
    period. A sub-environment whose engaged latch period ends unstable is rerun
    from its start state (still in its own MjData) by its own
    ``Articulation.step``, which finds the first bad substep exactly as the
    single environment does.

* **tactile fields** of all sub-environments whose pads share one static
  geometry (the usual case: the arm is built before the fixture) come from ONE
  batched call per step: ``TactileArray.update_many``'s path (a compiled contact
  gather per simulation, then one compiled patch -> traction -> field call for
  all), with each simulation's own geom radii (``TactileArray.update_many(radii=...)``).
* **control, observation, reward, evaluate** run the sub-environment's own code
  (``ArmController.ik_targets``, ``_observe``, ``evaluate``, ``_task_reward``,
  ``_after_period``, ``_read_vision``): a Python call per environment per step,
  kept so that the results are those of the single environment bit for bit.
  Resets also run the sub-environment's own ``reset`` (its per-episode model
  randomization writes that sub-environment's model).

Results are bit-identical to ``SyncVectorEnv`` over ``gymnasium.make`` with
the same seeds (``tests/test_vector_touch.py``), with Gymnasium 1.x autoreset:
``NextStep`` (default) or ``SameStep`` (``info["final_obs"]`` /
``info["final_info"]``), in ``SyncVectorEnv``'s info layout.

Not batched: ``marker_error_every > 0`` (the FEM fidelity sampling reads
per-pad tractions; those sub-environments read their pads one by one, the same
numbers) and rendering (use ``backend="sync"``).

**GPU path** (``sim_backend="warp"``, ``make_vec(..., backend="warp")``, extra
``gpu``): the articulated tasks (DoorOpen, DrawerOpen, LeverTurn) step on
MuJoCo Warp (:class:`sims.warp_backend.WarpSim`). All worlds step together
on the device; the latch's detent force is a device kernel run before every
physics step (:class:`sims.warp_backend.JointDetent`, engagement decided at
the start of the period as on the CPU), so a period is one captured CUDA graph.
The per-episode randomization (joint damping and dry friction, handle
friction, lever spring) is held per world in MuJoCo Warp's batched model
fields. After the period each world's state, contacts and constraint forces
are copied into its sub-environment's MjData, and the tactile fields,
observation, reward and ``evaluate`` run there as on the CPU. Differences from
the CPU reference: single precision and MuJoCo Warp's own contact pipeline
(agreement within tolerances over a short horizon, ``tests/test_vector_touch.py``,
not bit for bit); instability is detected at the end of the period as a state
non-finite or beyond MuJoCo's ``mjMAXVAL``, or a contact overflow (MuJoCo Warp
keeps no warning counters), and ends that episode alone; all sub-environments must
run one scene (the same ``scenario_seed``; use ``backend="batch"`` to mix).
FragileGrasp has no warp path: its break monitor reads the contact list after
every physics step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mujoco
import mujoco.batch
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from sims import world
from sims.batch import _FATAL_IDX, _WARNING_NUMBER, _size_signature
from sims.tactile import TactileArray
from sims.world import _FATAL_WARNINGS
from tasks._vector_common import reset_request
from tasks.touch.articulated import Articulation, DoorOpenEnv, DrawerOpenEnv, LeverTurnEnv
from tasks.touch.base import TouchTaskEnv
from tasks.touch.fragile import FragileGraspEnv

_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION
_FATAL_NAMES = [w.name for w in _FATAL_WARNINGS]
_ARTICULATED = (DoorOpenEnv, DrawerOpenEnv, LeverTurnEnv)
# Model fields the articulated tasks' per-episode randomization writes (Articulation.randomize:
# joint damping and dry friction; the handle's friction; LeverTurn's return spring): held per
# world on the warp backend.
_EPISODE_MODEL_FIELDS = ("dof_damping", "dof_frictionloss", "geom_friction", "jnt_stiffness")


@dataclass
class _PhysicsGroup:
    """Sub-environments of one MjData layout on one persistent ``mujoco.batch.Batch``."""

    ids: np.ndarray  # global sub-environment indices, sorted
    batch: mujoco.batch.Batch
    local: dict[int, int]  # global index -> row in the batch
    models_dirty: bool = False  # a reset edited a model: set_models again before stepping
    views: dict[str, np.ndarray] = field(default_factory=dict)  # bound state views, cached

    def view(self, name: str) -> np.ndarray:
        """Live ``(nsim, ...)`` view of state field ``name`` (``Batch.bind``, cached)."""
        v = self.views.get(name)
        if v is None:
            v = self.views[name] = self.batch.bind(name)
        return v


@dataclass
class _TouchGroup:
    """Sub-environments whose pads share one static geometry: one compiled field call."""

    ids: list[int]
    array: TactileArray
    radii: list[np.ndarray]  # per member: its model's per-geom curvature radii [m]


def _pad_key(env: TouchTaskEnv) -> bytes:
    """Identity of everything a TactileArray takes from the pads besides the simulation data."""
    parts = [repr(env.pad_config).encode()]
    for p in env.pads:
        parts += [np.int64(p.geom_id).tobytes(), np.ascontiguousarray(p.rot_pad_to_geom).tobytes(),
                  np.ascontiguousarray(p.origin_in_geom).tobytes(), np.ascontiguousarray(p.markers).tobytes()]
    return b"|".join(parts)


class TouchBatchEnv(VectorEnv):
    """``num_envs`` touch-task environments with physics and tactile fields batched.

    See the module docstring for what is batched and what stays a per-environment
    call. Observations, rewards, flags and infos equal ``SyncVectorEnv`` over
    ``gymnasium.make(env_id, **kwargs)`` with the same seeds, bit for bit.

    Args:
        env_kwargs: One keyword dict per sub-environment for the task class (e.g.
            ``{"scenario_seed": i}``); each sub-environment owns its model, because the
            per-episode randomization writes into it.
        num_threads: Threads of each batch call (0: all CPUs).
        max_episode_steps: ``TimeLimit`` of each episode; None: no limit.
        autoreset_mode: ``"NextStep"`` (Gymnasium's default) or ``"SameStep"``.
        sim_backend: ``"cpu"`` (``mujoco.batch``, the reference) or ``"warp"`` (MuJoCo Warp;
            the articulated tasks only, one scene for all sub-environments; see the module
            docstring).
        env_cls: The task class (a :class:`tasks.touch.base.TouchTaskEnv` subclass); None:
            the class attribute of the per-task subclass.

    Attributes:
        envs: The sub-environments (unwrapped task envs; their MjData mirrors the batch
            after every step), e.g. for ``make_policy(task_id, "scripted", envs[i])``.
        groups: Physics groups (one persistent ``mujoco.batch.Batch`` per MjData layout).
        touch_groups: Tactile groups (one compiled field call per step each).

    Raises:
        ValueError: On an empty ``env_kwargs``, a ``render_mode``, a bad ``autoreset_mode``
            or ``sim_backend``, or sub-environments that disagree on the observation space
            or ``frame_skip``.
    """

    metadata: dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    env_cls: type[TouchTaskEnv] | None = None  # the task class; set by the per-task subclasses

    def __init__(
        self,
        env_kwargs: Sequence[Mapping[str, Any]],
        num_threads: int = 1,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        sim_backend: str = "cpu",
        env_cls: type[TouchTaskEnv] | None = None,
    ) -> None:
        env_cls = env_cls or self.env_cls
        if env_cls is None:
            raise ValueError("env_cls: got None; accepted: a TouchTaskEnv subclass (or use a "
                             "per-task subclass such as DoorOpenBatchEnv)")
        if sim_backend not in ("cpu", "warp"):
            raise ValueError(f"sim_backend: got {sim_backend!r}; accepted: 'cpu' or 'warp'")
        if sim_backend == "warp" and not issubclass(env_cls, _ARTICULATED):
            raise ValueError(f"sim_backend: got 'warp' for {env_cls.__name__}; accepted: 'cpu' (the "
                             "warp path covers DoorOpen, DrawerOpen and LeverTurn; FragileGrasp's break "
                             "monitor reads the contact list after every physics step) - use backend='batch'")
        self.num_envs = len(env_kwargs)
        if self.num_envs < 1:
            raise ValueError("num_envs: got 0; accepted: an integer >= 1")
        if num_threads < 0:
            raise ValueError(f"num_threads: got {num_threads}; accepted: 0 (all CPUs) or >= 1")
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode: got {mode.value!r}; accepted: 'NextStep' or 'SameStep'")
        self.autoreset_mode = mode
        self.metadata = {"render_modes": [], "autoreset_mode": mode}
        for kw in env_kwargs:
            if kw.get("render_mode") is not None:
                raise ValueError("render_mode: the batch backend does not render; use backend='sync'")
        self.envs: list[TouchTaskEnv] = [env_cls(**kw) for kw in env_kwargs]
        e0 = self.envs[0]
        for i, e in enumerate(self.envs):
            if e.frame_skip != e0.frame_skip or e.observation_space != e0.observation_space:
                raise ValueError(
                    f"env_kwargs[{i}]: frame_skip={e.frame_skip}, observation shape "
                    f"{e.observation_space.shape} differ from env 0 ({e0.frame_skip}, "
                    f"{e0.observation_space.shape}); accepted: equal ones - use backend='sync' to mix"
                )
        self.frame_skip = e0.frame_skip
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = e0.observation_space
        self.single_action_space = e0.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        nthread = int(num_threads)

        # physics groups by MjData layout (CPU), or one MuJoCo Warp simulation of all worlds
        by_sig: dict[tuple[tuple[str, int], ...], list[int]] = {}
        self.warp: Any = None
        if sim_backend == "warp":
            self._init_warp()
        else:
            for i, e in enumerate(self.envs):
                by_sig.setdefault(_size_signature(e.model), []).append(i)
        self.groups: list[_PhysicsGroup] = []
        self._group_of: list[tuple[_PhysicsGroup, int]] = [None] * self.num_envs  # type: ignore[list-item]
        for members in by_sig.values():
            threads = min(nthread, len(members)) if nthread > 0 else 0
            b = mujoco.batch.Batch(self.envs[members[0]].model, len(members), threads, persistent=True)
            b.set_models([self.envs[i].model for i in members])
            g = _PhysicsGroup(ids=np.asarray(members, dtype=np.intp), batch=b,
                              local={i: k for k, i in enumerate(members)})
            self.groups.append(g)
            for k, i in enumerate(members):
                self._group_of[i] = (g, k)

        # tactile groups by static pad geometry (only sub-environments with touch, no FEM sampling)
        by_pad: dict[bytes, list[int]] = {}
        for i, e in enumerate(self.envs):
            if e.use_touch and e.marker_error_every == 0:
                by_pad.setdefault(_pad_key(e), []).append(i)
        self.touch_groups = [
            _TouchGroup(ids=ids, array=TactileArray(list(self.envs[ids[0]].pads)),
                        radii=[self.envs[i].pads[0].geom_radii() for i in ids])
            for ids in by_pad.values()]

        n = self.num_envs
        self._elapsed = np.zeros(n, dtype=np.int64)
        self._autoreset = np.zeros(n, dtype=bool)
        self._obs = np.zeros((n, *self.single_observation_space.shape), dtype=np.float32)

    # --- physics on MuJoCo Warp -------------------------------------------------------------------
    def _init_warp(self) -> None:
        from sims.warp_backend import JointDetent, WarpSim  # lazy: the extra 'gpu' is optional

        arts = [e.art for e in self.envs]  # type: ignore[attr-defined]
        self.warp = WarpSim([e.model for e in self.envs], batch_fields=_EPISODE_MODEL_FIELDS)
        self._detent = JointDetent(self.warp, np.array([a.qadr for a in arts]),
                                   np.array([a.dadr for a in arts]))
        self._warp_pending: set[int] = set()  # reset on the host, not yet copied to the device

    def _physics_warp(self, ids: list[int]) -> None:
        """One control period of every world on MuJoCo Warp; results into ``ids``' MjData."""
        sim = self.warp
        if self._warp_pending:
            pend = sorted(self._warp_pending)
            sim.update_models(pend)  # the episodes' randomization
            sim.set_state(pend, [self.envs[i].data for i in pend])
            self._warp_pending.clear()
        rows = np.asarray(ids, dtype=np.intp)
        sim.write("ctrl", np.stack([self.envs[i].data.ctrl for i in ids]), rows)
        n = self.num_envs
        k, travel, engaged = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int32)
        for i in ids:  # Articulation.step: the latch is engaged for the period if closed at its start
            e = self.envs[i]
            art = e.art  # type: ignore[attr-defined]
            k[i], travel[i] = art.latch_k, art.ranges.latch_travel
            engaged[i] = e.data.qpos[art.qadr] < art.ranges.latch_travel
        self._detent.set(k, travel, engaged)
        failed = sim.step(self.frame_skip, rows, hook=self._detent)
        sim.get_data_many(ids, [self.envs[i].data for i in ids])  # one transfer per field
        for i in ids:
            if failed[i]:
                self.envs[i].sim_error = sim.errors[i]

    # --- physics ---------------------------------------------------------------------------------
    def _physics(self, ids: list[int]) -> None:
        """One control period of sub-environments ``ids`` (controls already in their MjData)."""
        if self.warp is not None:
            self._physics_warp(ids)
            return
        fs = self.frame_skip
        for g in self.groups:
            members = [i for i in ids if i in g.local]
            if not members:
                continue
            b = g.batch
            if g.models_dirty:
                b.set_models([self.envs[i].model for i in g.ids])
                g.models_dirty = False
            rows = np.array([g.local[i] for i in members], dtype=np.intp)
            for i, r in zip(members, rows, strict=True):
                e = self.envs[i]
                mujoco.mj_getState(e.model, e.data, b.state[r], _INTEGRATION)
            m = len(members)
            latch = np.zeros(m, dtype=bool)  # latch engaged: detent force rewritten every substep
            monitor = np.zeros(m, dtype=bool)  # break monitor after every substep
            k_latch, travel = np.zeros(m), np.zeros(m)
            qadr, dadr = np.zeros(m, dtype=np.intp), np.zeros(m, dtype=np.intp)
            qfrc, qpos = g.view("qfrc_applied"), g.view("qpos")
            for j, i in enumerate(members):
                e = self.envs[i]
                art = getattr(e, "art", None)
                if isinstance(art, Articulation):
                    qadr[j], dadr[j] = art.qadr, art.dadr
                    if e.data.qpos[art.qadr] >= art.ranges.latch_travel:
                        qfrc[rows[j], art.dadr] = 0.0  # Articulation.step: released for the period
                    else:
                        latch[j], k_latch[j], travel[j] = True, art.latch_k, art.ranges.latch_travel
                monitor[j] = isinstance(e, FragileGraspEnv)
            warn0 = b.warning[rows][:, _FATAL_IDX, _WARNING_NUMBER].copy()
            errors: dict[int, str] = {}
            if not latch.any() and not monitor.any():
                self._batch_step(g, rows, members, fs, errors)
            else:  # one substep per batch call
                alive = np.ones(m, dtype=bool)
                lj_all = np.flatnonzero(latch)
                for _ in range(fs):
                    sel = np.flatnonzero(alive)
                    if sel.size == 0:
                        break
                    lj = lj_all if alive.all() else lj_all[alive[lj_all]]
                    if lj.size:  # Articulation.apply_latch, as one array operation
                        q = qpos[rows[lj], qadr[lj]]
                        qfrc[rows[lj], dadr[lj]] = np.where(q < travel[lj], -k_latch[lj] * q, 0.0)
                    self._batch_step(g, rows[sel], [members[j] for j in sel], 1, errors)
                    if errors:
                        alive &= np.array([i not in errors for i in members])
                    for j in sel[monitor[sel]]:
                        e = self.envs[members[j]]
                        b.get_data(int(rows[j]), e.data)
                        e.monitor.update(e.data)  # type: ignore[attr-defined]
            rerun: set[int] = set()
            for j, msg in self._unstable(g, np.arange(m), rows, warn0).items():
                i = members[j]
                if latch[j] and i not in errors:
                    # Articulation.step checks an engaged latch once per period and, when the
                    # period ends unstable, reruns it step by step to stop at the first bad
                    # step: the sub-environment's MjData still holds the period's start state,
                    # so its own Articulation.step reproduces that exactly
                    rerun.add(i)
                    e = self.envs[i]
                    try:
                        e.art.step(e.model, e.data, fs)  # type: ignore[attr-defined]
                    except world.SimulationError as exc:
                        errors[i] = str(exc)
                else:
                    errors.setdefault(i, msg)
            for j, i in enumerate(members):
                e = self.envs[i]
                if i not in rerun:
                    b.get_data(int(rows[j]), e.data)
                if i in errors:
                    e.sim_error = errors[i]

    @staticmethod
    def _batch_step(g: _PhysicsGroup, rows: np.ndarray, members: list[int], nstep: int,
                    errors: dict[int, str]) -> None:
        try:
            g.batch.step(rows.astype(np.int32), nstep=nstep)
        except mujoco.batch.SimulationError as exc:
            for r in exc.ids:  # batch rows (as sims.batch.BatchSim reads them)
                i = members[int(np.flatnonzero(rows == int(r))[0])]
                errors[i] = f"MuJoCo error: {g.batch.error(int(r))}"

    @staticmethod
    def _unstable(g: _PhysicsGroup, keys: np.ndarray, rows: np.ndarray,
                  before: np.ndarray) -> dict[int, str]:
        """:func:`sims.world.step`'s checks of ``rows`` since ``before``: key -> message of the bad ones."""
        after = g.batch.warning[rows][:, _FATAL_IDX, _WARNING_NUMBER]
        rose = after > before
        qpos, qvel = g.view("qpos")[rows], g.view("qvel")[rows]
        if not rose.any() and math.isfinite(float(qpos.sum() + qvel.sum())):
            return {}  # the common case, in three reductions
        finite = np.isfinite(qpos.sum(axis=1) + qvel.sum(axis=1))
        out: dict[int, str] = {}
        for k in np.flatnonzero(rose.any(axis=1) | ~finite):
            t = float(g.view("time")[rows[k]])
            if rose[k].any():
                names = [_FATAL_NAMES[w] for w in np.flatnonzero(rose[k])]
                out[int(keys[k])] = f"MuJoCo instability warning(s) {names} at t={t:.4f} s"
            else:
                out[int(keys[k])] = f"non-finite state at t={t:.4f} s"
        return out

    # --- touch -----------------------------------------------------------------------------------
    def _read_touch(self, ids: list[int]) -> None:
        """Marker fields of sub-environments ``ids``: one ``update_many`` call per pad group."""
        done: set[int] = set()
        for tg in self.touch_groups:
            pos = [k for k, i in enumerate(tg.ids) if i in ids]
            if not pos:
                continue
            members = [tg.ids[k] for k in pos]
            fields = tg.array.update_many([self.envs[i].data for i in members],
                                          radii=[tg.radii[k] for k in pos])
            for k, i in enumerate(members):
                self.envs[i]._markers[:] = fields[k]
            done.update(members)
        for i in ids:
            if i not in done:  # use_touch=False (nothing to do) or FEM sampling on: the env's own path
                self.envs[i]._read_touch()

    # --- reset -----------------------------------------------------------------------------------
    def _reset_one(self, i: int, seed: int | None,
                   options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.envs[i].reset(seed=seed, options=options)
        if self.warp is not None:
            self._warp_pending.add(i)  # model rows and state go to the device before the next step
        else:
            g, _ = self._group_of[i]
            g.models_dirty = True  # the episode's randomization wrote the model
        self._elapsed[i] = 0
        self._autoreset[i] = False
        return obs, info

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-environments (or those in ``options["reset_mask"]``).

        Args:
            seed: None, an int ``s`` (sub-env ``i`` gets ``s + i``, as SyncVectorEnv), or one
                seed per sub-environment.
            options: ``{"reset_mask": bool array (num_envs,)}`` to reset only some; other
                keys go to each sub-environment's ``reset``.

        Returns:
            Observations ``(num_envs, obs_size)`` float32 and the batched info dict.
        """
        seeds, mask, options = reset_request(self.num_envs, seed, options)
        info: dict[str, Any] = {}
        for i in np.flatnonzero(mask):
            self._obs[i], env_info = self._reset_one(int(i), seeds[i], options)
            info = self._add_info(info, env_info, int(i))
        return self._obs.copy(), info

    # --- step ------------------------------------------------------------------------------------
    def _control(self, i: int, action: np.ndarray) -> np.ndarray:
        """Sub-environment ``i``'s own control step (``TouchTaskEnv._control``); the clipped action."""
        e = self.envs[i]
        a, ctrl = e._control(action)
        e.data.ctrl[:] = ctrl
        e._before_period()
        return a

    def _finish(self, i: int, a: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Sub-environment ``i``'s own result step (``TouchTaskEnv._result``) plus TimeLimit."""
        e = self.envs[i]
        if e.sim_error is None:
            e._read_vision()
        obs, reward, terminated, info = e._result(a)
        self._elapsed[i] += 1
        truncated = self.max_episode_steps is not None and self._elapsed[i] >= self.max_episode_steps
        return obs, reward, bool(terminated), bool(truncated), info

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment (NEXT_STEP: those that ended last step reset instead)."""
        n = self.num_envs
        acts = np.asarray(actions).reshape(n, -1)
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        next_step = self.autoreset_mode == AutoresetMode.NEXT_STEP
        stepping = [i for i in range(n) if not (next_step and self._autoreset[i])]
        clipped = {i: self._control(i, acts[i]) for i in stepping}
        self._physics(stepping)
        ok = [i for i in stepping if self.envs[i].sim_error is None]
        for i in ok:
            self.envs[i]._after_period()
            self.envs[i]._steps += 1
        for i in stepping:
            if i not in ok:
                self.envs[i]._steps += 1
        self._read_touch(ok)
        results = {i: self._finish(i, clipped[i]) for i in stepping}
        info: dict[str, Any] = {}
        for i in range(n):
            if i in results:
                self._obs[i], rewards[i], terminated[i], truncated[i], env_info = results[i]
                if not next_step and (terminated[i] or truncated[i]):
                    info = self._add_info(info, {"final_obs": self._obs[i].copy(), "final_info": env_info}, i)
                    self._obs[i], env_info = self._reset_one(i, None)
            else:  # NEXT_STEP: the episode ended last step; reset, reward 0, flags False
                self._obs[i], env_info = self._reset_one(i, None)
            info = self._add_info(info, env_info, i)
        self._autoreset = terminated | truncated
        return self._obs.copy(), rewards, terminated, truncated, info

    def get_data(self, i: int) -> mujoco.MjData:
        """MjData of sub-environment ``i`` (its live state after the last step)."""
        return self.envs[i].data

    def close_extras(self, **kwargs: Any) -> None:
        """Release the sub-environments."""
        for e in self.envs:
            e.close()




class DoorOpenBatchEnv(TouchBatchEnv):
    """:class:`TouchBatchEnv` of ``embodisim/DoorOpen-v0``."""

    env_cls = DoorOpenEnv


class DrawerOpenBatchEnv(TouchBatchEnv):
    """:class:`TouchBatchEnv` of ``embodisim/DrawerOpen-v0``."""

    env_cls = DrawerOpenEnv


class LeverTurnBatchEnv(TouchBatchEnv):
    """:class:`TouchBatchEnv` of ``embodisim/LeverTurn-v0``."""

    env_cls = LeverTurnEnv


class FragileGraspBatchEnv(TouchBatchEnv):
    """:class:`TouchBatchEnv` of ``embodisim/FragileGrasp-v0``."""

    env_cls = FragileGraspEnv


# Task id -> batched implementation; merged into tasks.vector.BATCH_TASKS.
TOUCH_BATCH_TASKS: dict[str, type[VectorEnv]] = {
    "embodisim/DoorOpen-v0": DoorOpenBatchEnv,
    "embodisim/DrawerOpen-v0": DrawerOpenBatchEnv,
    "embodisim/LeverTurn-v0": LeverTurnBatchEnv,
    "embodisim/FragileGrasp-v0": FragileGraspBatchEnv,
}
