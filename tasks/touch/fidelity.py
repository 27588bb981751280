"""Marker-field fidelity during manipulation: the pad model vs the finite-element reference.

On sampled frames of an episode the pad's cell tractions (from MuJoCo's
contacts) are kept with the marker field the pad model produced from them.
The same tractions load a finite-element model of the same gel
(:mod:`sims.tactile_fem`: trilinear hexahedra with selective reduced
integration, bonded base, uniform elements of one traction cell over the pad
and graded elements out to six thicknesses beyond it), and
:func:`metrics.field.max_relative_error` scores the pad's field against the
FE field at the markers (clause-1.5 marker-error indicator, target <= 30 %).

The FE stiffness is factorised once per pad configuration and process
(``scipy.sparse.linalg.splu``); each frame is one back-substitution.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse.linalg

from metrics.field import max_relative_error
from sims import tactile_fem
from sims.tactile import GelPadConfig, TactilePad


@functools.lru_cache(maxsize=4)
def _fem(config: GelPadConfig, cell: float, nx: int, ny: int) -> tuple[
        tactile_fem.LayerMesh, np.ndarray, object]:
    """Mesh, free DOFs and factorised free-free stiffness of the pad's gel layer."""
    half = 0.5 * max(nx, ny) * cell
    mesh = tactile_fem.build_mesh(config.thickness, cell, half, symmetric_y=False)
    k = tactile_fem.assemble_stiffness(mesh, config.young, config.nu)
    fixed = tactile_fem.fixed_dofs(mesh)
    free = np.setdiff1d(np.arange(mesh.n_dofs), fixed)
    lu = scipy.sparse.linalg.splu(k[free][:, free].tocsc(), permc_spec="MMD_AT_PLUS_A")
    return mesh, free, lu


def _cell_field(pad: TactilePad, traction: np.ndarray) -> tactile_fem.TractionField:
    """Piecewise-constant traction field over the pad's cells (zero off the pad)."""
    nx, ny = pad.grid
    d = pad.cell
    x0 = pad.cell_x[0] - d / 2
    y0 = pad.cell_y[0] - d / 2
    t3 = traction.reshape(nx, ny, 3)

    def field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        i = np.floor((x - x0) / d).astype(int)
        j = np.floor((y - y0) / d).astype(int)
        inside = (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
        out = np.zeros((*np.shape(x), 3))
        out[inside] = t3[i[inside], j[inside]]
        return out

    return field


def fem_marker_fields(pad: TactilePad, tractions: list[np.ndarray]) -> np.ndarray:
    """FE marker displacements ``(F, N, 3)`` [m, pad frame, z = outward] for cell tractions.

    Args:
        pad: The pad (its config, traction grid and markers).
        tractions: ``(C, 3)`` cell tractions [Pa] per frame (x-shear, y-shear, pressure).

    Returns:
        Displacements at the markers in the same convention as ``pad.marker_field``.
    """
    nx, ny = pad.grid
    mesh, free, lu = _fem(pad.config, pad.cell, nx, ny)
    f = tactile_fem.surface_loads(mesh, [_cell_field(pad, t) for t in tractions])
    u = np.zeros((mesh.n_dofs, len(tractions)))
    u[free] = lu.solve(np.ascontiguousarray(f[free]))  # type: ignore[attr-defined]
    mx, my, mz = mesh.shape
    top = np.moveaxis(u.reshape(mx, my, mz, 3, -1)[:, :, 0], -1, 0)
    sol = tactile_fem.FemSolution(mesh=mesh, surface=top)
    out = sol.at(pad.markers)
    out[..., 2] *= -1.0  # FE depth -> outward normal (pressing gives u_z < 0)
    return out


def max_error_vs_fem(pad: TactilePad, tractions: list[np.ndarray],
                     fields: list[np.ndarray]) -> float:
    """Max relative error of the pad's marker fields vs the FE reference (NaN: no frames).

    Args:
        pad: The pad that produced ``fields``.
        tractions: The cell tractions of each frame.
        fields: The pad model's marker fields of each frame ``(N, 3)`` [m].

    Returns:
        ``metrics.field.max_relative_error(...).max_relative_error`` over the frames.
    """
    if not tractions:
        return float("nan")
    ref = fem_marker_fields(pad, tractions)
    return float(max_relative_error(np.stack(fields), ref).max_relative_error)
