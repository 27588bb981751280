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
* one model for all worlds (per-world parameters of MuJoCo Warp's batched model
  fields are not used here): every sub-environment runs the same scene;
* failure = non-finite ``qpos``/``qvel`` or a MuJoCo Warp overflow flag
  (contacts/constraints beyond ``nconmax``/``njmax``) in that world.

The CPU path (:mod:`sims.batch`) stays the reference and is what the tests run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np

# Contacts and constraint rows allocated per world. The rover on a height field has
# 4 wheels + chassis touching the ground: a few contacts; pyramidal friction cones
# with condim 3 give 4 rows each. Generous defaults; overflow is reported per world.
DEFAULT_NCONMAX = 64  # contacts per world
DEFAULT_NJMAX = 256  # constraint rows per world


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

    Raises:
        RuntimeError: If mujoco-warp is missing (names the extra to install).
        ValueError: If the models are not all the same scene.
        NotImplementedError: From MuJoCo Warp, if the model uses an unsupported feature.
    """

    def __init__(self, models: Sequence[mujoco.MjModel], nthread: int = 0, outputs: Sequence[str] = (),
                 *, nconmax: int = DEFAULT_NCONMAX, njmax: int = DEFAULT_NJMAX,
                 device: str | None = None, graph: bool = True) -> None:
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
        for i, m in enumerate(models):
            if m is not m0 and (m.nq, m.nv, m.nu, m.nbody, m.ngeom, m.nsensordata) != (
                    m0.nq, m0.nv, m0.nu, m0.nbody, m0.ngeom, m0.nsensordata):
                raise ValueError(f"models[{i}]: a different scene from models[0]; accepted: one scene for "
                                 "all worlds on the warp backend - use backend='batch' to mix scenes")
        self._mjw, self._wp = mjw, wp
        self.models = tuple(models)
        self.model = m0
        self.nsim = len(models)
        self.errors: list[str | None] = [None] * self.nsim
        with contextlib.redirect_stdout(sys.stderr):
            wp.init()
        self.device = wp.get_device(device)
        with wp.ScopedDevice(self.device):
            self._m = mjw.put_model(m0)
            data = mujoco.MjData(m0)
            mujoco.mj_forward(m0, data)
            self._d = mjw.put_data(m0, data, nworld=self.nsim, nconmax=nconmax, njmax=njmax)
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

    def _run(self, nstep: int) -> None:
        wp, mjw = self._wp, self._mjw
        with wp.ScopedDevice(self.device):
            if not self._graph:
                for _ in range(nstep):
                    mjw.step(self._m, self._d)
                return
            if nstep not in self._graphs:
                with wp.ScopedCapture() as capture:
                    for _ in range(nstep):
                        mjw.step(self._m, self._d)
                self._graphs[nstep] = capture.graph
            wp.capture_launch(self._graphs[nstep])

    def step(self, nstep: int = 1, ids: np.ndarray | None = None) -> np.ndarray:
        """Advance every world by ``nstep`` steps; return the failed mask of worlds ``ids``.

        A world fails when its ``qpos``/``qvel`` become non-finite or MuJoCo Warp
        flags an overflow in it; :attr:`errors` holds the message.
        """
        if nstep < 1:
            raise ValueError(f"nstep: got {nstep}; accepted: an integer >= 1")
        self._run(int(nstep))
        self._wp.synchronize_device(self.device)
        self._host.clear()
        qpos, qvel = self._field("qpos"), self._field("qvel")
        overflow = np.asarray(self._d.overflow.numpy())
        bad = ~(np.all(np.isfinite(qpos), axis=1) & np.all(np.isfinite(qvel), axis=1)) | (overflow != 0)
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
                self.errors[i] = f"non-finite state at t={t[i]:.4f} s"
        return bad

    def get_data(self, sim: int) -> mujoco.MjData:
        """A new MjData with world ``sim``'s state and derived fields (to render or inspect it)."""
        if not 0 <= sim < self.nsim:
            raise ValueError(f"sim: got {sim}; accepted: 0 <= sim < {self.nsim}")
        data = mujoco.MjData(self.model)
        self._mjw.get_data_into(data, self.model, self._d, world_id=sim)
        return data
