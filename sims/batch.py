"""Many simulations stepped at once on threads, with the GIL released (``mujoco.batch``).

:class:`BatchSim` is a thin layer over :class:`mujoco.batch.Batch` that adds
what embodisim needs on top of it:

* **per-simulation models of different layouts.** ``mujoco.batch`` runs each
  simulation on a caller model (``set_models``) only if all of them give MjData
  the same sizes; scenes of one condition with different seeds usually differ
  in rock count (``ngeom``). ``BatchSim`` therefore groups the models by their
  size signature, runs one ``Batch`` per group and presents the simulations in
  the caller's order. A homogeneous set of models (the common case, and what
  thread scaling needs) is one group with zero-copy field views.
* **checked stepping,** as :func:`sims.world.step` does for one ``MjData``: a
  simulation whose fatal-warning counters rise, whose state becomes non-finite,
  or in which MuJoCo raised is reported as failed with a message, and never
  aborts the others.

Results are bit-identical to a loop of :func:`sims.world.step` over one MjData
per simulation, at any thread count (``mujoco.batch`` guarantees the stepping;
the tests check the whole environment). Derived fields (``xpos``,
``sensordata``, ...) are one substep behind the state after :meth:`step`,
exactly as with ``mj_step``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import mujoco.batch
import numpy as np

from sims.world import _FATAL_WARNINGS

# mjWarningStat is {lastinfo, number}: the column of the counter in Batch.warning.
_WARNING_NUMBER = 1
_FATAL_IDX = np.array([int(w) for w in _FATAL_WARNINGS], dtype=np.intp)
# MjData fields held in mujoco.batch's state rows (live views, no binding needed).
STATE_FIELDS = frozenset({
    "time", "qpos", "qvel", "act", "history", "qacc_warmstart", "ctrl", "qfrc_applied",
    "xfrc_applied", "eq_active", "mocap_pos", "mocap_quat", "userdata", "plugin_state", "plastic",
})


def _is_all(index: object) -> bool:
    return isinstance(index, slice) and index == slice(None)


def _size_signature(model: mujoco.MjModel) -> tuple[tuple[str, int], ...]:
    """Every integer size of the model; equal signatures give MjData equal layouts.

    Stricter than necessary (e.g. ``nnames``), which only costs an extra group.
    """
    sig = []
    for name in dir(model):
        if name.startswith("n") and not name.startswith("name"):
            value = getattr(model, name)
            if isinstance(value, int) and not isinstance(value, bool):
                sig.append((name, value))
    return tuple(sig)


@dataclass
class _Group:
    """Simulations sharing one MjData layout, on one ``mujoco.batch.Batch``."""

    ids: np.ndarray  # global simulation indices, sorted, int
    batch: mujoco.batch.Batch
    local: np.ndarray  # global index -> local index within this group (-1 if not in it)
    views: dict[str, np.ndarray]  # bound field views, cached (bind() is a Python call each time)

    def bind(self, name: str) -> np.ndarray:
        view = self.views.get(name)
        if view is None:
            view = self.views[name] = self.batch.bind(name)
        return view


class BatchSim:
    """``len(models)`` simulations, simulation ``i`` on ``models[i]``, on ``nthread`` threads.

    Args:
        models: One compiled model per simulation. Models may differ in parameters
            and in layout; simulations of equal layout share one ``mujoco.batch.Batch``.
        nthread: Threads per batch call including the caller's; 0 means all CPUs.
        outputs: Derived MjData fields to copy out after every call (``xpos``,
            ``sensordata``, ...). ``mujoco.batch`` fills an output only from the first
            call after it is bound, so they are bound here, before any call; state
            fields (``qpos``, ``qvel``, ``ctrl``, ``time``, ...) need no binding.

    Raises:
        ValueError: If ``models`` is empty, ``nthread`` is negative or an output is not
            an MjData field that ``mujoco.batch`` can bind.
    """

    def __init__(self, models: Sequence[mujoco.MjModel], nthread: int = 1,
                 outputs: Sequence[str] = ()) -> None:
        if len(models) == 0:
            raise ValueError("models: got an empty sequence; accepted: at least one MjModel")
        if nthread < 0:
            raise ValueError(f"nthread: got {nthread}; accepted: 0 (all CPUs) or a positive integer")
        self.models = tuple(models)
        self.nsim = len(self.models)
        self.nthread = int(nthread) if nthread > 0 else (os.cpu_count() or 1)
        by_sig: dict[tuple[tuple[str, int], ...], list[int]] = {}
        # identical model objects are grouped without computing a signature twice
        sig_of: dict[int, tuple[tuple[str, int], ...]] = {}
        for i, m in enumerate(self.models):
            if id(m) not in sig_of:
                sig_of[id(m)] = _size_signature(m)
            by_sig.setdefault(sig_of[id(m)], []).append(i)
        self.groups: list[_Group] = []
        for members in by_sig.values():
            ids = np.asarray(members, dtype=np.intp)
            group_models = [self.models[i] for i in members]
            batch = mujoco.batch.Batch(group_models[0], len(members), min(self.nthread, len(members)))
            if any(gm is not group_models[0] for gm in group_models):
                batch.set_models(group_models)
            local = np.full(self.nsim, -1, dtype=np.intp)
            local[ids] = np.arange(len(members))
            self.groups.append(_Group(ids=ids, batch=batch, local=local, views={}))
        self._single = len(self.groups) == 1
        self.outputs = frozenset(outputs)
        for name in self.outputs:
            if name in STATE_FIELDS:
                continue
            for g in self.groups:
                try:
                    g.bind(name)
                except ValueError as exc:
                    raise ValueError(f"outputs: {name!r} cannot be bound: {exc}") from None
        self.errors: list[str | None] = [None] * self.nsim  # message of each sim's last failure

    # --- field access ---------------------------------------------------------------------------
    def read(self, name: str, index: object = slice(None)) -> np.ndarray:
        """Per-simulation values of MjData field ``name`` at ``index``: ``(nsim, ...)``.

        With one group this is a read-only view of the live bound array (valid until
        the next call); with several it is a fresh array in simulation order. ``index``
        must select the same elements in every model (e.g. the rover body id, equal in
        all scenes).

        Raises:
            ValueError: If ``name`` is a derived field not named in ``outputs``.
        """
        if name not in self.outputs and name not in STATE_FIELDS:
            raise ValueError(f"name: {name!r} is a derived field not bound at construction; "
                             f"accepted: state fields or one of outputs={sorted(self.outputs)}")
        if self._single:
            arr = self.groups[0].bind(name)
            return arr if _is_all(index) else arr[(slice(None), index)]
        parts = [g.bind(name) if _is_all(index) else g.bind(name)[(slice(None), index)]
                 for g in self.groups]
        out = np.empty((self.nsim, *parts[0].shape[1:]), dtype=parts[0].dtype)
        for g, part in zip(self.groups, parts, strict=True):
            out[g.ids] = part
        return out

    def write(self, name: str, values: np.ndarray, ids: np.ndarray | None = None,
              index: object = slice(None)) -> None:
        """Write state field ``name`` (``qpos``, ``ctrl``, ...) of simulations ``ids`` at ``index``.

        ``values`` is ``(len(ids), ...)`` (or ``(nsim, ...)`` when ``ids`` is None).
        """
        sel = np.arange(self.nsim) if ids is None else np.asarray(ids, dtype=np.intp)
        values = np.asarray(values)
        for g in self.groups:
            loc = g.local[sel]
            mask = loc >= 0
            if not mask.any():
                continue
            arr = g.bind(name)
            if _is_all(index):
                arr[loc[mask]] = values[mask]
            else:
                sub = arr[:, index]  # a view for slices, a copy for fancy indices
                if np.shares_memory(sub, arr):
                    sub[loc[mask]] = values[mask]
                else:
                    rows = loc[mask]
                    full = arr[rows]
                    full[:, index] = values[mask]
                    arr[rows] = full

    # --- calls ---------------------------------------------------------------------------------
    def _split(self, ids: np.ndarray | None) -> list[tuple[_Group, np.ndarray | None, np.ndarray]]:
        """(group, local ids or None for all, global ids) for each group the call touches."""
        out = []
        for g in self.groups:
            if ids is None:
                out.append((g, None, g.ids))
                continue
            loc = g.local[ids]
            loc = loc[loc >= 0]
            if loc.size:
                out.append((g, loc.astype(np.int32), g.ids[loc]))
        return out

    def reset(self, ids: np.ndarray | None = None, forward: bool = False) -> None:
        """Reset simulations ``ids`` (None: all) to their models' defaults (``mj_resetData``).

        Args:
            ids: Sorted unique simulation indices, or None for all.
            forward: Also run ``mj_forward``; leave False when the caller writes the
                state next and then calls :meth:`forward`.
        """
        stage = mujoco.mjtStage.mjSTAGE_ACC if forward else mujoco.mjtStage.mjSTAGE_NONE
        for g, loc, glob in self._split(ids):
            g.batch.reset(loc, stage=int(stage))
            for i in glob:
                self.errors[int(i)] = None

    def forward(self, ids: np.ndarray | None = None) -> np.ndarray:
        """``mj_forward`` of simulations ``ids``; returns the failed mask ``(nsim,)``."""
        failed = np.zeros(self.nsim, dtype=bool)
        for g, loc, _ in self._split(ids):
            try:
                g.batch.forward(loc)
            except mujoco.batch.SimulationError as exc:
                bad = g.ids[exc.ids]
                failed[bad] = True
                for i, j in zip(bad, exc.ids, strict=True):
                    self.errors[int(i)] = f"MuJoCo error: {g.batch.error(int(j))}"
        return failed

    def step(self, nstep: int = 1, ids: np.ndarray | None = None) -> np.ndarray:
        """Advance simulations ``ids`` by ``nstep`` physics steps; return the failed mask.

        A simulation fails, as in :func:`sims.world.step`, when one of MuJoCo's
        instability warnings fires during the call or its ``qpos``/``qvel`` become
        non-finite; also when MuJoCo raises in it (its state is then the one before
        the call). :attr:`errors` holds each failed simulation's message.

        Args:
            nstep: Physics steps (``mj_step`` calls) per simulation.
            ids: Sorted unique simulation indices, or None for all.

        Returns:
            Boolean ``(nsim,)``: True for simulations that failed in this call.
        """
        if nstep < 1:
            raise ValueError(f"nstep: got {nstep}; accepted: an integer >= 1")
        failed = np.zeros(self.nsim, dtype=bool)
        for g, loc, glob in self._split(ids):
            b = g.batch
            rows = slice(None) if loc is None else loc
            before = b.warning[rows][:, _FATAL_IDX, _WARNING_NUMBER].copy()
            try:
                b.step(loc, nstep=int(nstep))
            except mujoco.batch.SimulationError as exc:
                for j in exc.ids:
                    i = int(g.ids[j])
                    failed[i] = True
                    self.errors[i] = f"MuJoCo error: {b.error(int(j))}"
            after = b.warning[rows][:, _FATAL_IDX, _WARNING_NUMBER]
            warned = np.any(after > before, axis=1)
            qpos = g.bind("qpos")[rows]
            qvel = g.bind("qvel")[rows]
            bad = ~(np.all(np.isfinite(qpos), axis=1) & np.all(np.isfinite(qvel), axis=1))
            time = g.bind("time")[rows]
            for k in np.flatnonzero(warned | bad):
                i = int(glob[k])
                if failed[i]:
                    continue
                failed[i] = True
                if warned[k]:
                    names = [w.name for w, b0, a0 in zip(_FATAL_WARNINGS, before[k], after[k], strict=True)
                             if a0 > b0]
                    self.errors[i] = f"MuJoCo instability warning(s) {names} at t={time[k]:.4f} s"
                else:
                    self.errors[i] = f"non-finite state at t={time[k]:.4f} s"
        return failed

    def get_data(self, sim: int) -> mujoco.MjData:
        """A new MjData with simulation ``sim``'s state, forwarded (to render or inspect it)."""
        for g in self.groups:
            j = int(g.local[sim])
            if j >= 0:
                data = g.batch.get_data(j)
                mujoco.mj_forward(self.models[sim], data)
                return data
        raise ValueError(f"sim: got {sim}; accepted: 0 <= sim < {self.nsim}")
