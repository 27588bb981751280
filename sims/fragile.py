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
import numba
import numpy as np

from sims import world


@numba.njit(cache=True, nogil=True, inline="always")
def _other_geom(geom, i, obj):  # pragma: no cover - compiled
    """The geom contact ``i`` pairs with ``obj``, or -1 if ``obj`` is not in contact ``i``."""
    if geom[i, 0] == obj:
        return geom[i, 1]
    if geom[i, 1] == obj:
        return geom[i, 0]
    return -1


@numba.njit(cache=True, nogil=True)
def _max_normal_force(ncon, geom, efc_address, dim, efc_force, elliptic, obj,
                      per, order):  # pragma: no cover - compiled
    """Compiled :func:`max_contact_normal_force` over MuJoCo's contact arrays.

    The normal force of contact ``i`` is what ``mj_contactForce`` returns in
    its first component (0 for an excluded contact, ``efc_address < 0``;
    elliptic cones and frictionless contacts: the first constraint force;
    pyramidal cones: the sum of the ``2 (dim - 1)`` edge forces, in the order
    ``mju_decodePyramid`` adds them). Forces are summed per other geom in
    contact order and the largest sum is returned, as the Python reference
    does, so the result is the same float. ``per`` (zeros, one per geom) and
    ``order`` (one per geom) are scratch; ``per`` is zero again on return.
    """
    n_other = 0
    for i in range(ncon):
        other = _other_geom(geom, i, obj)
        if other < 0:
            continue
        f = 0.0
        adr = efc_address[i]
        if adr >= 0:
            d = dim[i]
            if elliptic or d == 1:
                f = efc_force[adr]
            else:
                for k in range(2 * (d - 1)):
                    f += efc_force[adr + k]
        # first appearance of ``other`` in contact order (per[other] may be an exact 0 sum)
        seen = False
        for k in range(n_other):
            if order[k] == other:
                seen = True
                break
        if not seen:
            order[n_other] = other
            n_other += 1
        per[other] = per[other] + f
    if n_other == 0:
        return 0.0
    best = per[order[0]]
    for k in range(1, n_other):  # builtins.max: replace only on a strictly larger value
        v = per[order[k]]
        if v > best:
            best = v
    for k in range(n_other):
        per[order[k]] = 0.0
    return best


@numba.njit(cache=True, nogil=True)
def _touching(ncon, geom, obj, a, b):  # pragma: no cover - compiled
    """Bit 0: a contact between ``obj`` and ``a`` exists; bit 1: between ``obj`` and ``b``."""
    out = 0
    for i in range(ncon):
        other = _other_geom(geom, i, obj)
        if other < 0:
            continue
        if other == a:
            out |= 1
        if other == b:
            out |= 2
    return out


def contact_with(data: mujoco.MjData, geom: int, a: int, b: int) -> tuple[bool, bool]:
    """Whether ``geom`` has a contact with geom ``a`` and with geom ``b`` (one compiled scan).

    Args:
        data: Current data (after a step or ``mj_forward``).
        geom: The object geom id.
        a: First other geom id (e.g. the left pad).
        b: Second other geom id (e.g. the right pad).

    Returns:
        ``(touches a, touches b)``; a contact counts whether or not it carries force
        (as a test of ``data.contact.geom`` would).
    """
    n = data.ncon
    if n == 0:
        return False, False
    bits = _touching(n, data.contact.geom, int(geom), int(a), int(b))
    return bool(bits & 1), bool(bits & 2)


def max_contact_normal_force(model: mujoco.MjModel, data: mujoco.MjData, geom: int,
                             scratch: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Largest normal force [N] that any single other geom exerts on ``geom`` (summed per geom).

    One compiled pass over the contact list (``_max_normal_force``), equal to
    summing ``mujoco.mj_contactForce(...)[0]`` per other geom.

    Args:
        model: Compiled model.
        data: Current data (after a step or ``mj_forward``).
        geom: Id of the object geom.
        scratch: Optional ``(per, order)`` work arrays of ``model.ngeom`` float64 zeros and
            int32 (reused between calls to avoid allocations).

    Returns:
        ``max over other geoms g of sum_{contacts(geom, g)} f_normal``; 0 with no contact.
    """
    n = data.ncon
    if n == 0:
        return 0.0
    if scratch is None:
        scratch = (np.zeros(model.ngeom), np.zeros(model.ngeom, dtype=np.int32))
    c = data.contact
    return _max_normal_force(n, c.geom, c.efc_address, c.dim, data.efc_force,
                             model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC, int(geom),
                             scratch[0], scratch[1])


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
        self._scratch = (np.zeros(model.ngeom), np.zeros(model.ngeom, dtype=np.int32))

    def update(self, data: mujoco.MjData) -> bool:
        """Check this physics step; returns True once broken (and forever after)."""
        return self._record(max_contact_normal_force(self.model, data, self.geom, self._scratch),
                            data)

    def _record(self, f: float, data: mujoco.MjData) -> bool:
        """Book this step's force ``f`` [N] (peak, breakage)."""
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

    The per-step check is :meth:`BreakMonitor.update` with the lookups that
    cannot change within the period (cone type, scratch, geom id) hoisted out
    of the loop: one ``mj_step`` and one compiled contact pass per step.

    Raises:
        sims.world.SimulationError: On NaN/Inf state or a MuJoCo instability warning.
    """
    before = data.warning.number.tolist()
    elliptic = model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    geom, threshold = monitor.geom, monitor.threshold
    per, order = monitor._scratch
    step = mujoco.mj_step
    # BreakMonitor.update inlined on locals (written back below): last, peak, breakage
    last, peak, broken = monitor.last, monitor.peak, monitor.broken
    try:
        for _ in range(nstep):
            step(model, data)
            n = data.ncon
            if n == 0:
                f = 0.0
            else:
                c = data.contact
                adr = c.efc_address
                # the contact dimension is only read for pyramidal cones
                f = _max_normal_force(n, c.geom, adr, adr if elliptic else c.dim, data.efc_force,
                                      elliptic, geom, per, order)
            last = f
            if f > peak:  # max(peak, f)
                peak = f
            if not broken and f > threshold:
                broken = True
                monitor.break_time = float(data.time)
                monitor.break_force = f
    finally:
        monitor.last, monitor.peak, monitor.broken = last, peak, broken
    world.check_step(data, before)
