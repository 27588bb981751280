"""GPU path: many simulations of one scene on MuJoCo Warp (extra ``gpu``: ``pip install mujoco-warp``).

:class:`WarpSim` offers the interface of :class:`sims.batch.BatchSim` (``read``,
``write``, ``reset``, ``forward``, ``step``, ``errors``, ``get_data``) on
``mujoco_warp``, so the batched task environments run on it unchanged
(``make_vec(..., backend="warp")``). ``mujoco_warp`` and ``warp`` are imported
lazily: importing this module never needs them.

Differences from the CPU reference, by design of MuJoCo Warp:

* single precision (``wp.float32``) and its own collision pipeline (height
  fields through its convex-collision path), so trajectories agree with the CPU
  only within tolerances over a short horizon (``benchmarks/gpu_check.py``
  states and measures them), never bit for bit;
* every call runs all worlds: ``step(ids=...)`` steps every world (the batched
  envs reset the ones they skip right after, which discards that step), and
  ``forward`` recomputes the derived fields of all worlds;
* one scene for all worlds: the models may differ only in fields that MuJoCo
  Warp can hold per world (its batched model fields, e.g. ``dof_damping``,
  ``geom_friction``, ``body_mass``, ``geom_size``); those are detected, or named
  in ``batch_fields`` when a later write (a per-episode randomization) will
  change them, and :meth:`WarpSim.update_models` copies them to the device.
  Any other difference is refused with the field's name;
* failure = ``qpos``/``qvel``/``qacc`` non-finite or beyond ``mjMAXVAL`` (MuJoCo's
  bad-state bounds; MuJoCo Warp keeps no warning counters) or a MuJoCo Warp overflow
  flag (contacts/constraints beyond ``nconmax``/``njmax``) in that world.

The CPU path (:mod:`sims.batch`) stays the reference and is what the tests run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np

from sims.batch import _size_signature

# Contacts and constraint rows allocated per world. The rover on a height field has
# 4 wheels + chassis touching the ground: a few contacts; pyramidal friction cones
# with condim 3 give 4 rows each. Generous defaults; overflow is reported per world.
DEFAULT_NCONMAX = 64  # contacts per world
DEFAULT_NJMAX = 256  # constraint rows per world
# Model sizes named first when two models' layouts differ (rather than e.g. nC).
_MAIN_SIZES = frozenset({"nq", "nv", "nu", "na", "nbody", "njnt", "ngeom", "nsite", "nmesh", "nhfield",
                         "nflex", "neq", "ntendon", "nsensor", "nsensordata"})
# MjData state fields copied to the device by WarpSim.set_state (MjData names; those
# MuJoCo Warp's Data lacks, or that are empty in the model, are skipped).
STATE_FIELDS = ("time", "qpos", "qvel", "act", "ctrl", "qfrc_applied", "xfrc_applied",
                "qacc_warmstart", "mocap_pos", "mocap_quat")


def _model_arrays(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    """A copy of every array field of an MjModel, by name."""
    out = {}
    for name in dir(model):
        if name.startswith("_"):
            continue
        value = getattr(model, name)
        if isinstance(value, np.ndarray):
            out[name] = value.copy()
    return out


def _batchable(mjw: Any) -> frozenset[str]:
    """MuJoCo Warp Model fields that may hold one row per world (array spec ``("*", ...)``)."""
    return frozenset(f.name for f in dataclasses.fields(mjw.Model)
                     if getattr(f.type, "shape", (None,))[:1] == ("*",))


def _assign_rows(arr: Any, rows: Sequence[int], values: Sequence[Any]) -> None:
    """Set world ``rows[k]`` of warp array ``arr`` to ``values[k]`` (one host round trip)."""
    host = arr.numpy()
    for i, value in zip(rows, values, strict=True):
        host[i] = np.asarray(value).reshape(host[i].shape)
    arr.assign(host)


def _differing(ref: dict[str, np.ndarray], model: mujoco.MjModel, skip: frozenset[str]) -> list[str]:
    """Array fields of ``model`` that differ from ``ref`` (fields in ``skip`` not compared)."""
    out = []
    for name, a in ref.items():
        if name in skip:
            continue
        b = getattr(model, name)
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            out.append(name)
    return out


def _init_warp() -> tuple[Any, str]:
    """Warp, initialized, or None and why not (mujoco-warp missing, or warp failing to start).

    Cheap where it cannot: looks for the packages without importing them, then
    initializes warp (not mujoco_warp, whose import compiles nothing but is slow).
    """
    missing = [name for name in ("warp", "mujoco_warp") if importlib.util.find_spec(name) is None]
    if missing:
        return None, f"mujoco-warp is not installed ({missing[0]}): pip install mujoco-warp (extra 'gpu')"
    import warp as wp

    try:
        with contextlib.redirect_stdout(sys.stderr):  # warp prints its banner on stdout
            wp.init()
    except Exception as exc:  # noqa: BLE001  (driver/toolkit problems surface as various errors)
        return None, f"warp could not initialize: {type(exc).__name__}: {exc}"
    return wp, ""


def warp_available() -> tuple[bool, str]:
    """Whether MuJoCo Warp can run here at all (a CUDA device or warp's CPU device), and why not.

    Warp compiles the same kernels for its ``"cpu"`` device, so where no CUDA device
    exists the warp backend still runs - single precision, MuJoCo Warp's own collision
    pipeline - only slowly: enough to check the GPU path's code and its agreement with
    the CPU reference (the tests do), not to measure GPU speed.
    """
    wp, why = _init_warp()
    if wp is None:
        return False, why
    return True, f"warp default device {wp.get_device().alias!r}"


def cuda_available() -> tuple[bool, str]:
    """Whether MuJoCo Warp can run on a CUDA device here, and why not if it cannot."""
    wp, why = _init_warp()
    if wp is None:
        return False, why
    try:
        n = wp.get_cuda_device_count()
    except Exception as exc:  # noqa: BLE001  (driver/toolkit problems surface as various errors)
        return False, f"warp could not initialize CUDA: {type(exc).__name__}: {exc}"
    if n < 1:
        return False, "no CUDA device visible to warp"
    return True, f"{n} CUDA device(s)"


class WarpSim:
    """``len(models)`` worlds of one scene on MuJoCo Warp, with BatchSim's interface.

    Args:
        models: One model per world; all must be the same scene (the same object, or
            models with identical sizes - the first one is used for every world).
        nthread: Ignored (kept for BatchSim's signature).
        outputs: Accepted for BatchSim's signature; every field is readable.
        nconmax: Contacts allocated per world.
        njmax: Constraint rows allocated per world.
        device: Warp device, e.g. ``"cuda:0"`` or ``"cpu"``; None: warp's default device
            (the first CUDA device, else the CPU: slow, for checks - see :func:`warp_available`).
        graph: Capture the ``nstep`` physics steps of :meth:`step` as a CUDA graph
            (CUDA devices only).
        batch_fields: Model fields held per world even where the models agree now,
            because later writes will change them per world (e.g. a per-episode
            randomization of ``dof_damping``); pushed by :meth:`update_models`.
            Fields in which the models differ already are held per world anyway.

    Attributes:
        batch_fields: The model fields held per world on the device.

    Raises:
        RuntimeError: If mujoco-warp is missing (names the extra to install).
        ValueError: If the models are not one scene (a difference outside MuJoCo Warp's
            per-world fields, named), or a ``batch_fields`` entry cannot be held per world.
        NotImplementedError: From MuJoCo Warp, if the model uses an unsupported feature.
    """

    def __init__(self, models: Sequence[mujoco.MjModel], nthread: int = 0, outputs: Sequence[str] = (),
                 *, nconmax: int = DEFAULT_NCONMAX, njmax: int = DEFAULT_NJMAX,
                 device: str | None = None, graph: bool = True,
                 batch_fields: Sequence[str] = ()) -> None:
        try:
            import mujoco_warp as mjw
            import warp as wp
        except ImportError as exc:
            raise RuntimeError(
                f"the warp backend needs mujoco-warp ({exc.name} is missing): pip install mujoco-warp, "
                "or the extra: pip install -e '.[gpu]'"
            ) from None
        if len(models) == 0:
            raise ValueError("models: got an empty sequence; accepted: at least one MjModel")
        m0 = models[0]
        batchable = _batchable(mjw)
        bad = [f for f in batch_fields if f not in batchable]
        if bad:
            raise ValueError(f"batch_fields: {bad} cannot be held per world by MuJoCo Warp; accepted: "
                             f"its batched model fields, e.g. {sorted(batchable)[:8]}")
        self._ref = _model_arrays(m0)  # the scene every model must match outside the per-world fields
        sig0 = _size_signature(m0)
        per_world = set(batch_fields)
        for i, m in enumerate(models):
            if m is m0:
                continue
            sizes = [(k, v, v0) for (k, v), (_, v0) in zip(_size_signature(m), sig0, strict=True) if v != v0]
            if sizes:  # name a familiar size first (nq, nbody, ngeom, ...), not e.g. nC
                k, v, v0 = min(sizes, key=lambda t: (t[0] not in _MAIN_SIZES, t[0]))
                raise ValueError(
                    f"models[{i}]: a different layout from models[0] ({k} {v}, not {v0}); accepted: one "
                    "scene for all worlds on the warp backend - use backend='batch' to mix scenes")
            diff = _differing(self._ref, m, frozenset(per_world))
            fixed = [f for f in diff if f not in batchable]
            if fixed:
                raise ValueError(
                    f"models[{i}]: differs from models[0] in {fixed[:6]}, which MuJoCo Warp holds once "
                    "for all worlds; accepted: one scene for all worlds on the warp backend (the same "
                    "scenario, parameters may differ) - use backend='batch' to mix scenes")
            per_world.update(diff)
        self.batch_fields = tuple(sorted(per_world))
        self._mjw, self._wp = mjw, wp
        self.models = tuple(models)
        self.model = m0
        self.nsim = len(models)
        self.errors: list[str | None] = [None] * self.nsim
        with contextlib.redirect_stdout(sys.stderr):
            wp.init()
        self.device = wp.get_device(device)
        with wp.ScopedDevice(self.device):
            self._m = mjw.put_model(m0, batch_sizes={f: self.nsim for f in self.batch_fields})
            data = mujoco.MjData(m0)
            mujoco.mj_forward(m0, data)
            self._d = mjw.put_data(m0, data, nworld=self.nsim, nconmax=nconmax, njmax=njmax)
        if self.batch_fields:
            self.update_models(check=False)
        self._graph = bool(graph) and self.device.is_cuda
        self._graphs: dict[int, Any] = {}
        self._host: dict[str, np.ndarray] = {}  # host copies, valid until the next call

    # --- field access ---------------------------------------------------------------------------
    def _field(self, name: str) -> np.ndarray:
        if name not in self._host:
            arr = getattr(self._d, name)
            host = np.asarray(arr.numpy(), dtype=np.float64)
            if name == "xmat":  # (nworld, nbody, 3, 3) -> MjData's (nbody, 9) rows
                host = host.reshape(self.nsim, -1, 9)
            self._host[name] = host
        return self._host[name]

    def read(self, name: str, index: object = slice(None)) -> np.ndarray:
        """Per-world values of Data field ``name`` at ``index``, float64 ``(nsim, ...)`` (a copy)."""
        host = self._field(name)
        if isinstance(index, slice) and index == slice(None):
            return host
        return host[(slice(None), index)]

    def write(self, name: str, values: np.ndarray, ids: np.ndarray | None = None,
              index: object = slice(None)) -> None:
        """Write state field ``name`` of worlds ``ids`` at ``index`` (host round trip)."""
        host = self._field(name).copy()
        rows = np.arange(self.nsim) if ids is None else np.asarray(ids, dtype=np.intp)
        if isinstance(index, slice) and index == slice(None):
            host[rows] = values
        else:
            sub = host[rows]
            sub[:, index] = values
            host[rows] = sub
        arr = getattr(self._d, name)
        arr.assign(host.astype(arr.numpy().dtype))
        self._host.clear()

    def update_models(self, ids: Sequence[int] | np.ndarray | None = None, check: bool = True) -> None:
        """Copy the per-world fields (:attr:`batch_fields`) of ``models[i]`` to world ``i``'s rows.

        Call after writing into the host models (e.g. a per-episode randomization).

        Args:
            ids: Worlds to update; None: all.
            check: Also verify that the models still match the scene outside the
                per-world fields (a write to another field would be silently ignored
                on the device otherwise).

        Raises:
            ValueError: If ``check`` finds a model changed outside :attr:`batch_fields`.
        """
        rows = range(self.nsim) if ids is None else [int(i) for i in ids]
        if check:  # against the scene as it was at construction (a copy), models[0] included
            skip = frozenset(self.batch_fields)
            seen: set[int] = set()
            for i in rows:
                if id(self.models[i]) in seen:
                    continue
                seen.add(id(self.models[i]))
                diff = _differing(self._ref, self.models[i], skip)
                if diff:
                    raise ValueError(f"models[{i}]: changed in {diff[:6]}, which the warp backend holds "
                                     f"once for all worlds; accepted: changes to {list(self.batch_fields)}")
        for name in self.batch_fields:
            _assign_rows(getattr(self._m, name), rows, [getattr(self.models[i], name) for i in rows])

    def set_state(self, ids: Sequence[int] | np.ndarray, datas: Sequence[mujoco.MjData]) -> None:
        """Copy the state (:data:`STATE_FIELDS`) of host ``datas[k]`` into world ``ids[k]``.

        Derived fields on the device are recomputed by the next :meth:`step` (or
        :meth:`forward`); the worlds' recorded errors are cleared.
        """
        rows = [int(i) for i in ids]
        if len(rows) != len(datas):
            raise ValueError(f"datas: got {len(datas)}; accepted: one MjData per id ({len(rows)})")
        if not rows:
            return
        for name in STATE_FIELDS:
            arr = getattr(self._d, name, None)
            if arr is not None and arr.size > 0:
                _assign_rows(arr, rows, [getattr(data, name) for data in datas])
        for i in rows:
            self.errors[i] = None
        self._host.clear()

    # --- calls ---------------------------------------------------------------------------------
    def _mask(self, ids: np.ndarray | None) -> Any:
        mask = np.ones(self.nsim, dtype=bool)
        if ids is not None:
            mask[:] = False
            mask[np.asarray(ids, dtype=np.intp)] = True
        return self._wp.array(mask, dtype=bool, device=self.device)

    def reset(self, ids: np.ndarray | None = None, forward: bool = False) -> None:
        """Reset worlds ``ids`` (None: all) to the model's defaults; optionally forward all."""
        self._mjw.reset_data(self._m, self._d, reset=self._mask(ids))
        for i in (range(self.nsim) if ids is None else ids):
            self.errors[int(i)] = None
        self._host.clear()
        if forward:
            self.forward()

    def forward(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Forward dynamics of every world (``ids`` is accepted for BatchSim's signature)."""
        with self._wp.ScopedDevice(self.device):
            self._mjw.forward(self._m, self._d)
        self._host.clear()
        return np.zeros(self.nsim, dtype=bool)

    def _run(self, nstep: int, hook: Any = None) -> None:
        wp, mjw = self._wp, self._mjw
        with wp.ScopedDevice(self.device):
            if not self._graph:
                for _ in range(nstep):
                    if hook is not None:
                        hook.launch(self._m, self._d)
                    mjw.step(self._m, self._d)
                return
            key = (nstep, id(hook))
            if key not in self._graphs:
                with wp.ScopedCapture() as capture:
                    for _ in range(nstep):
                        if hook is not None:
                            hook.launch(self._m, self._d)
                        mjw.step(self._m, self._d)
                self._graphs[key] = (capture.graph, hook)  # the hook is kept: its id stays unique
            wp.capture_launch(self._graphs[key][0])

    def step(self, nstep: int = 1, ids: np.ndarray | None = None, hook: Any = None) -> np.ndarray:
        """Advance every world by ``nstep`` steps; return the failed mask of worlds ``ids``.

        A world fails when its ``qpos``, ``qvel`` or ``qacc`` is non-finite or beyond
        ``mujoco.mjMAXVAL`` (1e10: the bounds of MuJoCo's own bad-state checks,
        ``mj_checkPos``/``mj_checkVel``/``mj_checkAcc``, whose warnings MuJoCo Warp does
        not keep; a blown-up float32 state stays finite for a long time), or when MuJoCo
        Warp flags an overflow in it; :attr:`errors` holds the message. Checked on the
        state after the last of the ``nstep`` steps.

        Args:
            nstep: Physics steps.
            ids: Worlds whose failures are reported (all worlds are stepped).
            hook: An object whose ``launch(model, data)`` runs device work before every
                physics step (e.g. :class:`JointDetent`); captured into the CUDA graph,
                so it must read its inputs from device arrays it owns.
        """
        if nstep < 1:
            raise ValueError(f"nstep: got {nstep}; accepted: an integer >= 1")
        self._run(int(nstep), hook)
        self._wp.synchronize_device(self.device)
        self._host.clear()
        overflow = np.asarray(self._d.overflow.numpy())
        blown: dict[str, np.ndarray] = {}
        for name in ("qpos", "qvel", "qacc"):  # NaN compares False: not finite, or beyond mjMAXVAL
            blown[name] = ~np.all(np.abs(self._field(name)) <= mujoco.mjMAXVAL, axis=1)
        bad = blown["qpos"] | blown["qvel"] | blown["qacc"] | (overflow != 0)
        if ids is not None:
            sel = np.zeros(self.nsim, dtype=bool)
            sel[np.asarray(ids, dtype=np.intp)] = True
            bad &= sel
        t = self._field("time")
        for i in np.flatnonzero(bad):
            if overflow[i]:
                flags = self._mjw.OverflowType(int(overflow[i])) if hasattr(self._mjw, "OverflowType") \
                    else int(overflow[i])
                self.errors[i] = f"MuJoCo Warp overflow {flags} at t={t[i]:.4f} s (raise nconmax/njmax)"
            else:
                names = [n for n in ("qpos", "qvel", "qacc") if blown[n][i]]
                self.errors[i] = (f"non-finite or |{'/'.join(names)}| > mjMAXVAL (1e10) state at "
                                  f"t={t[i]:.4f} s")
        return bad

    def get_data(self, sim: int) -> mujoco.MjData:
        """A new MjData with world ``sim``'s state and derived fields (to render or inspect it)."""
        if not 0 <= sim < self.nsim:
            raise ValueError(f"sim: got {sim}; accepted: 0 <= sim < {self.nsim}")
        return self.get_data_into(sim, mujoco.MjData(self.models[sim]))

    def get_data_into(self, sim: int, data: mujoco.MjData) -> mujoco.MjData:
        """Copy world ``sim``'s state, derived fields, contacts and constraint forces into ``data``.

        Each call copies the device arrays it reads for all worlds to the host; to read
        many worlds use :meth:`get_data_many` (one copy for all of them).
        """
        self.get_data_many([sim], [data])
        return data

    def get_data_many(self, sims: Sequence[int], datas: Sequence[mujoco.MjData]) -> None:
        """:meth:`get_data_into` for several worlds with one device-to-host copy per field.

        MuJoCo Warp's own ``get_data_into`` per world, reading a host mirror of the device
        data (:class:`_HostMirror`), so N worlds cost one transfer of each field rather than
        N (the per-world call alone makes reading every world O(worlds^2)).
        """
        if len(sims) != len(datas):
            raise ValueError(f"datas: got {len(datas)}; accepted: one MjData per world ({len(sims)})")
        mirror = _HostMirror(self._d, self._wp)
        for sim, data in zip(sims, datas, strict=True):
            if not 0 <= int(sim) < self.nsim:
                raise ValueError(f"sims: got {sim}; accepted: 0 <= sim < {self.nsim}")
            self._mjw.get_data_into(data, self.models[int(sim)], mirror, world_id=int(sim))


class _HostArray:
    """A device array whose ``numpy()`` is copied to the host once (then served from the copy)."""

    def __init__(self, arr: Any) -> None:
        self._arr = arr
        self._host: np.ndarray | None = None

    def numpy(self) -> np.ndarray:
        if self._host is None:
            self._host = self._arr.numpy()
        return self._host

    def __getattr__(self, name: str) -> Any:  # shape, dtype, ...: the device array's
        return getattr(self._arr, name)


class _HostMirror:
    """Read-only stand-in for a MuJoCo Warp ``Data`` (or one of its structs) for ``get_data_into``.

    ``mujoco_warp.get_data_into`` reads ``d.<field>.numpy()[world_id]``: every call copies
    each field of *all* worlds to the host. Through this mirror each field is copied
    once, on first use, and every world's call slices the same host copy - one transfer
    per field per step instead of one per field per world. Valid until the device data
    changes (build a new mirror after every step).
    """

    def __init__(self, obj: Any, wp: Any) -> None:
        self._obj, self._wp = obj, wp
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        cache = self.__dict__["_cache"]
        if name in cache:
            return cache[name]
        value = getattr(self._obj, name)
        if isinstance(value, self._wp.array):
            value = _HostArray(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = _HostMirror(value, self._wp)
        cache[name] = value
        return value


class JointDetent:
    """One detent joint per world on the device: a :meth:`WarpSim.step` hook.

    Before every physics step, world ``w`` gets ``qfrc_applied[dadr] = -stiffness q``
    while ``engaged`` and ``q < travel``, else 0 - the latch of
    ``tasks.touch.articulated.Articulation`` (engagement is decided once per control
    period, as there). Set the per-world values with :meth:`set` between steps.

    Args:
        sim: The simulation whose worlds get the detent.
        qadr: qpos address of each world's detent joint (-1: none).
        dadr: dof address of each world's detent joint.
    """

    def __init__(self, sim: WarpSim, qadr: np.ndarray, dadr: np.ndarray) -> None:
        from sims import _warp_kernels

        wp = sim._wp
        self._kernel = _warp_kernels.joint_detent
        self._wp = wp
        self.n = sim.nsim
        dev = sim.device
        self.qadr = wp.array(np.asarray(qadr, dtype=np.int32), dtype=wp.int32, device=dev)
        self.dadr = wp.array(np.asarray(dadr, dtype=np.int32), dtype=wp.int32, device=dev)
        self.stiffness = wp.zeros(self.n, dtype=wp.float32, device=dev)
        self.travel = wp.zeros(self.n, dtype=wp.float32, device=dev)
        self.engaged = wp.zeros(self.n, dtype=wp.int32, device=dev)

    def set(self, stiffness: np.ndarray, travel: np.ndarray, engaged: np.ndarray) -> None:
        """Per-world detent stiffness [N m/rad or N/m], travel [rad or m] and engagement."""
        self.stiffness.assign(np.asarray(stiffness, dtype=np.float32))
        self.travel.assign(np.asarray(travel, dtype=np.float32))
        self.engaged.assign(np.asarray(engaged, dtype=np.int32))

    def launch(self, m: Any, d: Any) -> None:
        """Write the detent forces of every world (one thread per world)."""
        self._wp.launch(self._kernel, dim=self.n,
                        inputs=[d.qpos, d.qfrc_applied, self.qadr, self.dadr, self.stiffness,
                                self.travel, self.engaged])
