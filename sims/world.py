"""Compile and step MuJoCo models, detecting instability instead of crashing.

This module is the only place (with the sensor modules of ``sims``) that calls
``mj_step``. A simulation that produces NaN/Inf state or trips one of MuJoCo's
instability warnings raises :class:`SimulationError`; environments catch it and
end the episode with ``info["sim_error"]``.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

# Warnings that mean the state can no longer be trusted.
_FATAL_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADCTRL,
)
_FATAL_INDEX = np.array([int(w) for w in _FATAL_WARNINGS])


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
    return data.warning.number[_FATAL_INDEX].astype(np.int64)  # one view, one gather


def step(model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
    """Advance ``nstep`` physics steps and raise SimulationError if it went unstable.

    MuJoCo resets the state itself on a bad-acceleration warning, so the
    warning counters (not only NaNs) are checked.
    """
    before = data.warning.number.tolist()  # all counters as ints: one list compare after
    mujoco.mj_step(model, data, nstep)
    check_step(data, before)


def check_step(data: mujoco.MjData, before: list[int]) -> None:
    """Raise SimulationError if steps taken since ``before`` went unstable.

    ``before`` is ``data.warning.number.tolist()`` taken before the steps. A
    fatal warning counter that grew, or a non-finite state, is an instability;
    other warnings are not. Loops that step MuJoCo themselves (e.g.
    :func:`sims.fragile.step_monitored`) call this after their last step.
    """
    after = data.warning.number.tolist()
    if after != before:  # some warning fired: fatal only if a fatal counter grew
        names = [w.name for w, i in zip(_FATAL_WARNINGS, _FATAL_INDEX.tolist(), strict=True)
                 if after[i] > before[i]]
        if names:
            raise SimulationError(f"MuJoCo instability warning(s) {names} at t={data.time:.4f} s")
    # a sum is non-finite iff some element is (or the state is astronomically large, which is
    # just as unstable): two sums in MuJoCo's C (mju_sum, no copy) instead of element-wise
    # isfinite arrays; cheaper than numpy's reductions right after mj_step has taken the caches
    if not math.isfinite(mujoco.mju_sum(data.qpos) + mujoco.mju_sum(data.qvel)):
        raise SimulationError(f"non-finite state at t={data.time:.4f} s")
