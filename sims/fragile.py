"""Breakable objects: a contact-force threshold checked at every physics step.

The break rule is the quantity a quasi-static compression test between two
plates measures: the normal force one other body (a plate, a jaw, the table)
exerts on the object, summed over that body's contact points
(``mujoco.mj_contactForce``). The object breaks, permanently, in the first
physics step in which that force exceeds its breaking force.
:func:`step_monitored` advances a control period step by step so no
intermediate peak is missed, with the same instability checks as
:func:`sims.world.step`.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from sims import world


def max_contact_normal_force(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> float:
    """Largest normal force [N] that any single other geom exerts on ``geom`` (summed per geom).

    Args:
        model: Compiled model.
        data: Current data (after a step or ``mj_forward``).
        geom: Id of the object geom.

    Returns:
        ``max over other geoms g of sum_{contacts(geom, g)} f_normal``; 0 with no contact.
    """
    n = data.ncon
    if n == 0:
        return 0.0
    g = data.contact.geom[:n]
    hits = np.nonzero((g[:, 0] == geom) | (g[:, 1] == geom))[0]
    if hits.size == 0:
        return 0.0
    f6 = np.zeros(6)
    per: dict[int, float] = {}
    for i in hits:
        mujoco.mj_contactForce(model, data, int(i), f6)
        other = int(g[i, 1] if g[i, 0] == geom else g[i, 0])
        per[other] = per.get(other, 0.0) + float(f6[0])
    return max(per.values())


class BreakMonitor:
    """Permanent breakage of one object geom at a force threshold.

    Args:
        model: Compiled model.
        geom: Object geom id.
        threshold: Breaking force [N].
    """

    def __init__(self, model: mujoco.MjModel, geom: int, threshold: float):
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold={threshold!r} N; expected a finite value > 0 "
                             "(the object's breaking force)")
        self.model = model
        self.geom = int(geom)
        self.threshold = float(threshold)
        self.broken = False
        self.peak = 0.0
        self.last = 0.0
        self.break_time = float("nan")
        self.break_force = float("nan")

    def update(self, data: mujoco.MjData) -> bool:
        """Check this physics step; returns True once broken (and forever after)."""
        f = max_contact_normal_force(self.model, data, self.geom)
        self.last = f
        self.peak = max(self.peak, f)
        if not self.broken and f > self.threshold:
            self.broken = True
            self.break_time = float(data.time)
            self.break_force = f
        return self.broken


def step_monitored(model: mujoco.MjModel, data: mujoco.MjData, nstep: int,
                   monitor: BreakMonitor) -> None:
    """Advance ``nstep`` physics steps, updating ``monitor`` after each one.

    Raises:
        sims.world.SimulationError: On NaN/Inf state or a MuJoCo instability warning.
    """
    before = world.warning_counts(data)
    for _ in range(nstep):
        mujoco.mj_step(model, data)
        monitor.update(data)
    after = world.warning_counts(data)
    if np.any(after > before):
        raise world.SimulationError(f"MuJoCo instability warning(s) at t={data.time:.4f} s")
    if not (np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qvel))):
        raise world.SimulationError(f"non-finite state at t={data.time:.4f} s")
