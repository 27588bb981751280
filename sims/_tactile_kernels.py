"""Compiled per-step path of the tactile pads (numba): contacts -> tractions -> marker fields.

One call per simulation step does what :class:`sims.tactile.TactilePad` does in
NumPy (``contact_array`` -> ``patches`` -> ``patch_tractions`` -> ``marker_field``)
for every pad of a model: it scans MuJoCo's contact list once, reads each
contact's force from ``efc_force`` (elliptic cones: the normal and tangential
components directly; pyramidal cones: decoded as ``mju_decodePyramid`` does,
which is what ``mj_contactForce`` returns), turns it into a Hertz-shaped patch
on the pad's traction grid and superposes the loaded cells' rows of the pad's
influence matrix. The NumPy methods stay the reference these kernels are
tested against (``tests/test_tactile.py``); the arithmetic is the same, only
the order of the sums differs (agreement to round-off, not bit for bit).

Why compiled: the NumPy pipeline costs ~0.1-1 ms per step in interpreter and
small-array overhead, more than the physics of a gripper scene; compiled, the
pads cost a few microseconds plus the call (``benchmarks/bench_tactile.py``).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def gather_contacts(ncon, geom, pos, frame, efc_address, dim, friction, efc_force, elliptic,
                    geom_xpos, geom_xmat, pad_geoms, rot_pad_geom, origin_in_geom, radius_of_geom,
                    rows, slot, slot_offset, start):  # pragma: no cover - compiled
    """Contact loads on the pads in their pad frames, written from row ``start``; returns the end.

    ``rows[k]``: position relative to the surface centre (3, m), force the
    other geom exerts on the gel (3, N), curvature radius of the other geom
    (m); ``slot[k]`` = ``slot_offset`` + pad index. ``rows``/``slot`` need
    ``start + ncon * len(pad_geoms)`` entries at most.
    """
    n = start
    n_pads = pad_geoms.shape[0]
    f3 = np.zeros(3)
    fw = np.zeros(3)
    off = np.zeros(3)
    for i in range(ncon):
        g1 = geom[i, 0]
        g2 = geom[i, 1]
        for p in range(n_pads):
            pg = pad_geoms[p]
            if g1 != pg and g2 != pg:
                continue
            f3[:] = 0.0
            adr = efc_address[i]
            d = dim[i]
            if adr >= 0:  # excluded contacts (adr = -1) carry no force
                if elliptic or d == 1:
                    for k in range(min(d, 3)):
                        f3[k] = efc_force[adr + k]
                else:  # pyramidal: normal = sum of edge forces, tangent j = (pos - neg) mu_j
                    total = 0.0
                    for k in range(2 * (d - 1)):
                        total += efc_force[adr + k]
                    f3[0] = total
                    for j in range(min(d - 1, 2)):
                        f3[j + 1] = (efc_force[adr + 2 * j] - efc_force[adr + 2 * j + 1]) * friction[i, j]
            # force on geom2 in world: the rows of the contact frame are its axes
            sign = -1.0 if g1 == pg else 1.0  # force on the pad, whichever geom it is
            for c in range(3):
                fw[c] = sign * (f3[0] * frame[i, c] + f3[1] * frame[i, 3 + c] + f3[2] * frame[i, 6 + c])
            xm = geom_xmat[pg]
            o = origin_in_geom[p]
            for a in range(3):  # offset from the pad origin x + X o
                off[a] = pos[i, a] - (geom_xpos[pg, a] + xm[3 * a] * o[0] + xm[3 * a + 1] * o[1]
                                      + xm[3 * a + 2] * o[2])
            r = rot_pad_geom[p]
            for b in range(3):  # column b of the pad -> world rotation X r
                rp = 0.0
                fp = 0.0
                for a in range(3):
                    col = xm[3 * a] * r[0, b] + xm[3 * a + 1] * r[1, b] + xm[3 * a + 2] * r[2, b]
                    rp += off[a] * col
                    fp += fw[a] * col
                rows[n, b] = rp
                rows[n, 3 + b] = fp
            rows[n, 6] = radius_of_geom[g2 if g1 == pg else g1]
            slot[n] = slot_offset + p
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def patch_radius(normal, curvature, e_star_h3, thickness, log_s, log_chi):  # pragma: no cover
    """Contact radius (m) of one patch: inverse of Dimitriadis et al. (2002) eq. 12, tabulated.

    Same as :meth:`sims.tactile.TactilePad.patch_radius` for one contact.
    """
    s = max(normal, 0.0) * curvature / e_star_h3
    if s < math.exp(log_s[0]):
        return np.cbrt(s) * thickness  # Hertz limit
    return math.exp(np.interp(math.log(s), log_s, log_chi)) * thickness


@numba.njit(cache=True, nogil=True)
def spread_patch(t, x, y, fx, fy, normal, a, nx, ny, d, x0, y0, cx, cy, sub):  # pragma: no cover
    """Add one Hertz-shaped patch to cell tractions ``t`` ``(nx, ny, 3)``; see ``patch_tractions``."""
    reach = a + d
    i0 = max(0, math.ceil((x - reach - x0) / d))
    i1 = min(nx, math.floor((x + reach - x0) / d) + 1)
    j0 = max(0, math.ceil((y - reach - y0) / d))
    j1 = min(ny, math.floor((y + reach - y0) / d) + 1)
    if i0 >= i1 or j0 >= j1:  # contact beyond the pad edge: nearest cell
        i0 = min(max(int(np.rint((x - x0) / d)), 0), nx - 1)
        j0 = min(max(int(np.rint((y - y0) / d)), 0), ny - 1)
        i1 = i0 + 1
        j1 = j0 + 1
    inv_a2 = 1.0 / (a * a) if a > 0 else 0.0
    total = 0.0
    shape = np.zeros((i1 - i0, j1 - j0))
    best = np.inf
    bi = 0
    bj = 0
    for i in range(i0, i1):
        for j in range(j0, j1):
            dx = cx[i, j] - x
            dy = cy[i, j] - y
            v = 0.0
            for k in range(sub.shape[0]):
                q = 1.0 - ((dx + sub[k, 0]) ** 2 + (dy + sub[k, 1]) ** 2) * inv_a2
                if q > 0.0:
                    v += math.sqrt(q)
            shape[i - i0, j - j0] = v
            total += v
            r2 = dx * dx + dy * dy
            if r2 < best:
                best = r2
                bi = i - i0
                bj = j - j0
    if total <= 0.0:  # patch smaller than a cell: the load goes to the nearest cell
        shape[:, :] = 0.0
        shape[bi, bj] = 1.0
        total = 1.0
    scale = normal / (total * d * d)
    for i in range(i0, i1):
        for j in range(j0, j1):
            pres = shape[i - i0, j - j0] * scale
            t[i, j, 2] += pres
            t[i, j, 0] += pres * (fx / normal)
            t[i, j, 1] += pres * (fy / normal)


@numba.njit(cache=True, nogil=True)
def patches_from_rows(rows, n_rows, patches_out, e_star_h3, thickness, log_s,
                      log_chi):  # pragma: no cover - compiled
    """``(x, y, F_x, F_y, F_z, a)`` patches of contact rows (see ``TactilePad.patches``)."""
    for k in range(n_rows):
        patches_out[k, 0] = rows[k, 0]
        patches_out[k, 1] = rows[k, 1]
        patches_out[k, 2] = rows[k, 3]
        patches_out[k, 3] = rows[k, 4]
        patches_out[k, 4] = rows[k, 5]
        patches_out[k, 5] = patch_radius(-rows[k, 5], rows[k, 6], e_star_h3, thickness, log_s,
                                         log_chi)


@numba.njit(cache=True, nogil=True)
def fields_from_patches(patches, slot, n_rows, n_slots, tractions, fields, nx, ny, d, x0, y0, cx,
                        cy, sub, influence):  # pragma: no cover - compiled
    """Cell tractions and marker fields of contact patches, per slot (pad, or pad x sim).

    ``tractions`` ``(>= n_slots, nx, ny, 3)`` and ``fields`` ``(>= n_slots, N, 3)``
    are overwritten for the first ``n_slots`` slots; fields keep the layer's
    depth-positive third component (the caller flips it to the outward normal).
    Patches pulling on the gel (``F_z >= 0``) are skipped.
    """
    tractions[:n_slots] = 0.0
    fields[:n_slots] = 0.0
    loaded = np.zeros(n_slots, dtype=np.bool_)
    for k in range(n_rows):
        normal = -patches[k, 4]
        if normal <= 0.0:
            continue
        s = slot[k]
        loaded[s] = True
        spread_patch(tractions[s], patches[k, 0], patches[k, 1], patches[k, 2], patches[k, 3],
                     normal, patches[k, 5], nx, ny, d, x0, y0, cx, cy, sub)
    n_out = influence.shape[1]
    for s in range(n_slots):
        if not loaded[s]:
            continue
        ts = tractions[s]
        out = fields[s].reshape(n_out)
        for i in range(nx):
            for j in range(ny):
                for c in range(3):
                    v = ts[i, j, c]
                    if v != 0.0:
                        row = 3 * (i * ny + j) + c
                        for m in range(n_out):
                            out[m] += v * influence[row, m]


@numba.njit(cache=True, nogil=True)
def fields_from_rows(rows, slot, n_rows, n_slots, patches_out, tractions, fields, nx, ny, d, x0,
                     y0, cx, cy, sub, e_star_h3, thickness, log_s, log_chi,
                     influence):  # pragma: no cover - compiled
    """:func:`patches_from_rows` then :func:`fields_from_patches` in one call."""
    patches_from_rows(rows, n_rows, patches_out, e_star_h3, thickness, log_s, log_chi)
    fields_from_patches(patches_out, slot, n_rows, n_slots, tractions, fields, nx, ny, d, x0, y0,
                        cx, cy, sub, influence)


@numba.njit(cache=True, nogil=True)
def flip_depth(fields, n_slots):  # pragma: no cover - compiled
    """Depth-positive third component -> outward normal (pressing gives ``u_z < 0``)."""
    for s in range(n_slots):
        for m in range(fields.shape[1]):
            fields[s, m, 2] = -fields[s, m, 2]


def pack_static(pad_geoms, rot_pad_geom, origin_in_geom, radius_of_geom, nx, ny, d, x0, y0, cx, cy,
                sub, e_star_h3, thickness, log_s, log_chi):
    """Pack a pad array's constant arguments into one float and one int vector for :func:`pad_step`.

    (Fewer arguments: numba's dispatcher spends ~0.5 us per array argument.)
    """
    floats = np.concatenate([
        np.asarray(rot_pad_geom, dtype=np.float64).ravel(),
        np.asarray(origin_in_geom, dtype=np.float64).ravel(),
        np.asarray(radius_of_geom, dtype=np.float64).ravel(),
        np.asarray(cx, dtype=np.float64).ravel(), np.asarray(cy, dtype=np.float64).ravel(),
        np.asarray(sub, dtype=np.float64).ravel(),
        np.asarray(log_s, dtype=np.float64), np.asarray(log_chi, dtype=np.float64),
        np.array([d, x0, y0, e_star_h3, thickness], dtype=np.float64),
    ])
    ints = np.concatenate([
        np.array([len(pad_geoms), len(radius_of_geom), nx, ny, len(log_s), len(sub)], dtype=np.int64),
        np.asarray(pad_geoms, dtype=np.int64),
    ])
    return floats, ints


@numba.njit(cache=True, nogil=True)
def pad_step(ncon, geom, pos, frame, efc_address, dim, friction, efc_force, elliptic, geom_xpos,
             geom_xmat, floats, ints, influence, rows, slot, patches_out, tractions,
             fields):  # pragma: no cover - compiled
    """One simulation's pads in one call: contacts -> patches -> tractions -> outward fields.

    ``floats``/``ints`` come from :func:`pack_static`; ``rows``/``slot``/``patches_out``
    need ``ncon * n_pads`` entries. Returns the number of contact rows.
    """
    n_pads, ngeom, nx, ny, n_law, n_sub = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5]
    pad_geoms = ints[6:6 + n_pads]
    o = 0
    rot = floats[o:o + 9 * n_pads].reshape(n_pads, 3, 3)
    o += 9 * n_pads
    origin = floats[o:o + 3 * n_pads].reshape(n_pads, 3)
    o += 3 * n_pads
    radius = floats[o:o + ngeom]
    o += ngeom
    cx = floats[o:o + nx * ny].reshape(nx, ny)
    o += nx * ny
    cy = floats[o:o + nx * ny].reshape(nx, ny)
    o += nx * ny
    sub = floats[o:o + 2 * n_sub].reshape(n_sub, 2)
    o += 2 * n_sub
    log_s = floats[o:o + n_law]
    o += n_law
    log_chi = floats[o:o + n_law]
    o += n_law
    d, x0, y0, e_star_h3, thickness = floats[o], floats[o + 1], floats[o + 2], floats[o + 3], \
        floats[o + 4]
    n = gather_contacts(ncon, geom, pos, frame, efc_address, dim, friction, efc_force, elliptic,
                        geom_xpos, geom_xmat, pad_geoms, rot, origin, radius, rows, slot, 0, 0)
    fields_from_rows(rows, slot, n, n_pads, patches_out, tractions, fields, nx, ny, d, x0, y0, cx,
                     cy, sub, e_star_h3, thickness, log_s, log_chi, influence)
    flip_depth(fields, n_pads)
    return n


@numba.njit(cache=True, nogil=True)
def touch_features(fields, xy, sign_y, out):  # pragma: no cover - compiled
    """Six summary features per pad from outward-normal marker fields ``(P, N, 3)`` (m).

    Per pad ``p`` into ``out[6 p : 6 p + 6]`` (millimetres): mean and max
    indentation ``-u_z`` (clipped at 0), mean in-plane displacement ``u_x`` and
    ``sign_y[p] * u_y``, and the indentation-weighted centroid ``x`` and
    ``sign_y[p] * y`` of the markers (0 when nothing presses).
    """
    n = fields.shape[1]
    for p in range(fields.shape[0]):
        tot = 0.0
        peak = 0.0
        sx = 0.0
        sy = 0.0
        cxs = 0.0
        cys = 0.0
        for m in range(n):
            ind = max(-fields[p, m, 2] * 1e3, 0.0)
            tot += ind
            peak = max(peak, ind)
            sx += fields[p, m, 0] * 1e3
            sy += fields[p, m, 1] * 1e3
            cxs += ind * xy[m, 0]
            cys += ind * xy[m, 1]
        o = 6 * p
        out[o] = tot / n
        out[o + 1] = peak
        out[o + 2] = sx / n
        out[o + 3] = sign_y[p] * sy / n
        if tot > 1e-9:
            out[o + 4] = cxs / tot * 1e3
            out[o + 5] = sign_y[p] * cys / tot * 1e3
        else:
            out[o + 4] = 0.0
            out[o + 5] = 0.0
