"""Compile and step MuJoCo models, detecting instability instead of crashing.

This module is the only place (with the sensor modules of ``sims``) that calls
``mj_step``. A simulation that produces NaN/Inf state or trips one of MuJoCo's
instability warnings raises :class:`SimulationError`; environments catch it and
end the episode with ``info["sim_error"]``.
"""

from __future__ import annotations

import mujoco
import numpy as np

# Warnings that mean the state can no longer be trusted.
_FATAL_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADCTRL,
)


class SimulationError(RuntimeError):
    """The simulation went unstable (NaN/Inf state or a MuJoCo instability warning)."""


def compile_spec(spec: mujoco.MjSpec) -> mujoco.MjModel:
    """Compile an MjSpec, re-raising MuJoCo's message as a ValueError with context."""
    try:
        return spec.compile()
    except ValueError as exc:
        raise ValueError(f"MuJoCo could not compile the scene: {exc}") from None


def warning_counts(data: mujoco.MjData) -> np.ndarray:
    """Counts of the fatal warnings so far (to compare before/after a step)."""
    return np.array([data.warning[int(w)].number for w in _FATAL_WARNINGS], dtype=np.int64)


def step(model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
    """Advance ``nstep`` physics steps and raise SimulationError if it went unstable.

    MuJoCo resets the state itself on a bad-acceleration warning, so the
    warning counters (not only NaNs) are checked.
    """
    before = warning_counts(data)
    mujoco.mj_step(model, data, nstep)
    after = warning_counts(data)
    if np.any(after > before):
        names = [w.name for w, b, a in zip(_FATAL_WARNINGS, before, after, strict=True) if a > b]
        raise SimulationError(f"MuJoCo instability warning(s) {names} at t={data.time:.4f} s")
    if not (np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qvel))):
        raise SimulationError(f"non-finite state at t={data.time:.4f} s")
