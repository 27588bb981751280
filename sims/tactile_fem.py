"""Finite-element reference for the tactile gel: a linear-elastic layer on a rigid backing.

scipy has no finite-element assembler, so this module assembles one small,
standard element: the 8-node trilinear hexahedron with *selective reduced
integration* (deviatoric part with 2 x 2 x 2 Gauss points, volumetric part
with one point; T. J. R. Hughes, *The Finite Element Method*, Dover 2000,
sec. 4.5), which stays free of volumetric locking for the nearly
incompressible silicone gels (nu -> 0.5) of tactile sensors. The stiffness is
assembled with ``scipy.sparse`` and solved with ``scipy.sparse.linalg.spsolve``
(one factorisation for all load cases).

Geometry. A tensor-product mesh of box elements: uniform pitch ``element``
over the central region ``|x|, |y| <= fine_half_width`` that carries the loads
and markers, then geometrically growing elements out to ``half_width``
(default: fine region + 6 thicknesses, where the layer response has decayed).
``z`` is the depth: the free, loaded surface at ``z = 0`` and the bonded
base at ``z = h`` (``u = 0``). The far lateral faces are clamped too. With
``symmetric_y`` only ``y >= 0`` is meshed and ``u_y = 0`` on ``y = 0``; loads
must then be even in ``y`` with shear along ``x`` (all validation cases are).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy.interpolate import RegularGridInterpolator

from sims import contact_mechanics as cm

# Traction field: (x, y) arrays (m) -> (..., 3) tractions (Pa): x-shear, y-shear, pressure.
TractionField = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Corner signs of the reference hexahedron, in the element's local node order.
_CORNERS = np.array(list(itertools.product((-1, 1), repeat=3)), dtype=float)  # (8, 3) x,y,z
_GAUSS2 = 1.0 / math.sqrt(3.0)
# Ratio between neighbouring elements outside the fine region.
_GROWTH = 1.5


def graded_axis(fine_half: float, half: float, element: float, symmetric: bool) -> np.ndarray:
    """Node coordinates: uniform pitch over ``[-fine_half, fine_half]``, growing outwards.

    Args:
        fine_half: Half-width of the uniform region (m).
        half: Half-width of the whole axis (m).
        element: Uniform pitch (m); ``fine_half / element`` should be an integer.
        symmetric: Mesh only ``[0, half]`` (symmetry plane at 0).

    Returns:
        Increasing node coordinates (m).
    """
    n_fine = max(1, round(fine_half / element))
    fine = np.arange(0, n_fine + 1) * (fine_half / n_fine)
    outer = [fine_half]
    step = element
    while outer[-1] < half - 1e-12:
        step *= _GROWTH
        nxt = outer[-1] + step
        if half - nxt < 0.5 * step * _GROWTH:
            nxt = half
        outer.append(min(nxt, half))
    pos = np.concatenate([fine, np.array(outer[1:])])
    if symmetric:
        return pos
    return np.concatenate([-pos[:0:-1], pos])


def _reference_blocks(young: float, nu: float) -> tuple[np.ndarray, np.ndarray]:
    """``R_ij`` (3, 3, 24, 24) for the deviatoric and volumetric parts on the reference cube."""
    mu = cm.shear_modulus(young, nu)
    lam = 2.0 * mu * nu / (1.0 - 2.0 * nu)
    m = np.array([1.0, 1, 1, 0, 0, 0])
    d_dev = mu * np.diag([2.0, 2, 2, 1, 1, 1]) - (2.0 * mu / 3.0) * np.outer(m, m)
    d_vol = (lam + 2.0 * mu / 3.0) * np.outer(m, m)

    def b_dirs(xi: np.ndarray) -> np.ndarray:
        """``B_i`` (3, 6, 24): strain from nodal displacements per reference derivative."""
        f = 1.0 + _CORNERS * xi  # (8, 3)
        grads = np.empty((3, 8))
        grads[0] = _CORNERS[:, 0] * f[:, 1] * f[:, 2] / 8
        grads[1] = _CORNERS[:, 1] * f[:, 0] * f[:, 2] / 8
        grads[2] = _CORNERS[:, 2] * f[:, 0] * f[:, 1] / 8
        b = np.zeros((3, 6, 24))
        # Voigt order xx, yy, zz, yz, xz, xy (engineering shear)
        pairs = {0: ((0, 0), (4, 2), (5, 1)), 1: ((1, 1), (3, 2), (5, 0)),
                 2: ((2, 2), (3, 1), (4, 0))}
        for i, entries in pairs.items():
            for row, comp in entries:
                b[i, row, comp::3] = grads[i]
        return b

    r_dev = np.zeros((3, 3, 24, 24))
    for gp in itertools.product((-_GAUSS2, _GAUSS2), repeat=3):
        b = b_dirs(np.array(gp))
        r_dev += np.einsum("ipa,pq,jqb->ijab", b, d_dev, b)
    b0 = b_dirs(np.zeros(3))
    r_vol = 8.0 * np.einsum("ipa,pq,jqb->ijab", b0, d_vol, b0)
    return r_dev, r_vol


@dataclass(frozen=True)
class LayerMesh:
    """Node coordinates of the tensor-product mesh (m)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    symmetric_y: bool

    @property
    def shape(self) -> tuple[int, int, int]:
        """Node counts ``(nx, ny, nz)``."""
        return (self.x.size, self.y.size, self.z.size)

    @property
    def n_dofs(self) -> int:
        """Number of displacement unknowns before boundary conditions."""
        return 3 * self.x.size * self.y.size * self.z.size


def build_mesh(
    thickness: float,
    element: float,
    fine_half_width: float,
    half_width: float | None = None,
    symmetric_y: bool = True,
) -> LayerMesh:
    """Mesh a layer of thickness ``h``; ``h / element`` layers through the thickness.

    Args:
        thickness: Layer thickness (m).
        element: Element pitch in the fine region and through the thickness (m).
        fine_half_width: Half-width of the uniform region (m).
        half_width: Half-width of the meshed layer (m); default fine + 6 h.
        symmetric_y: Mesh only ``y >= 0``.
    """
    for name, value in (("thickness", thickness), ("element", element),
                        ("fine_half_width", fine_half_width)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value!r} m; expected a finite value > 0")
    if half_width is None:
        half_width = fine_half_width + 6.0 * thickness
    nz = max(1, round(thickness / element))
    return LayerMesh(
        x=graded_axis(fine_half_width, half_width, element, symmetric=False),
        y=graded_axis(fine_half_width, half_width, element, symmetric=symmetric_y),
        z=np.linspace(0.0, thickness, nz + 1),
        symmetric_y=symmetric_y,
    )


def _element_dofs(mesh: LayerMesh) -> tuple[np.ndarray, np.ndarray]:
    """Element DOF table ``(E, 24)`` and element sizes ``(E, 3)``."""
    nx, ny, nz = mesh.shape
    ex, ey, ez = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), np.arange(nz - 1),
                             indexing="ij")
    ex, ey, ez = ex.ravel(), ey.ravel(), ez.ravel()
    corner = ((_CORNERS + 1) / 2).astype(int)  # (8, 3) offsets 0/1
    ix = ex[:, None] + corner[:, 0]
    iy = ey[:, None] + corner[:, 1]
    iz = ez[:, None] + corner[:, 2]
    node = (ix * ny + iy) * nz + iz  # (E, 8)
    dofs = (node[:, :, None] * 3 + np.arange(3)).reshape(-1, 24)
    sizes = np.stack([np.diff(mesh.x)[ex], np.diff(mesh.y)[ey], np.diff(mesh.z)[ez]], -1)
    return dofs, sizes


def assemble_stiffness(mesh: LayerMesh, young: float, nu: float) -> scipy.sparse.csr_matrix:
    """Global stiffness matrix (N/m) of the mesh, selective reduced integration."""
    r_dev, r_vol = _reference_blocks(young, nu)
    ref = (r_dev + r_vol).reshape(9, 576)
    dofs, sizes = _element_dofs(mesh)
    n = mesh.n_dofs
    rows = np.repeat(dofs, 24, axis=1).astype(np.int32)
    cols = np.tile(dofs, (1, 24)).astype(np.int32)
    vol = sizes.prod(axis=1) / 8.0
    inv = 2.0 / sizes  # d xi / d x
    coef = (vol[:, None, None] * inv[:, :, None] * inv[:, None, :]).reshape(-1, 9)
    data = coef @ ref  # (E, 576)
    k = scipy.sparse.coo_matrix((data.ravel(), (rows.ravel(), cols.ravel())), shape=(n, n))
    return k.tocsr()


def surface_loads(mesh: LayerMesh, tractions: list[TractionField], order: int = 4) -> np.ndarray:
    """Consistent nodal forces (N) of surface tractions on ``z = 0``, Gauss ``order^2`` per face.

    Returns:
        ``(n_dofs, len(tractions))`` load vectors (``z`` force = pressure, into the layer).
    """
    nx, ny, nz = mesh.shape
    xi, wi = np.polynomial.legendre.leggauss(order)
    fx, fy = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="ij")
    fx, fy = fx.ravel(), fy.ravel()
    x0, x1 = mesh.x[fx], mesh.x[fx + 1]
    y0, y1 = mesh.y[fy], mesh.y[fy + 1]
    loads = np.zeros((mesh.n_dofs, len(tractions)))
    corners = [(0, 0), (1, 0), (0, 1), (1, 1)]
    node = [((fx + cx) * ny + (fy + cy)) * nz for cx, cy in corners]
    for (gx, wx), (gy, wy) in itertools.product(zip(xi, wi, strict=True),
                                                zip(xi, wi, strict=True)):
        sx, sy = (gx + 1) / 2, (gy + 1) / 2
        px = x0 + sx * (x1 - x0)
        py = y0 + sy * (y1 - y0)
        w = wx * wy * (x1 - x0) * (y1 - y0) / 4.0
        shape = [(1 - sx) * (1 - sy), sx * (1 - sy), (1 - sx) * sy, sx * sy]
        for col, field in enumerate(tractions):
            t = np.asarray(field(px, py), dtype=float)  # (F, 3)
            for nd, nshape in zip(node, shape, strict=True):
                for c in range(3):
                    np.add.at(loads[:, col], nd * 3 + c, w * nshape * t[:, c])
    return loads


def fixed_dofs(mesh: LayerMesh) -> np.ndarray:
    """DOFs held at zero: bonded base, clamped far faces, symmetry plane ``u_y``."""
    nx, ny, nz = mesh.shape
    ix, iy, iz = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    node = (ix * ny + iy) * nz + iz
    clamp = (iz == nz - 1) | (ix == 0) | (ix == nx - 1) | (iy == ny - 1)
    if not mesh.symmetric_y:
        clamp |= iy == 0
    out = [(node[clamp][:, None] * 3 + np.arange(3)).ravel()]
    if mesh.symmetric_y:
        out.append(node[(iy == 0) & ~clamp] * 3 + 1)
    return np.unique(np.concatenate(out))


@dataclass(frozen=True)
class FemSolution:
    """Surface displacements of every load case (m, ``z`` = depth).

    Attributes:
        mesh: The mesh solved on.
        surface: ``(cases, nx, ny, 3)`` displacements of the ``z = 0`` nodes.
    """

    mesh: LayerMesh
    surface: np.ndarray

    def at(self, points: np.ndarray) -> np.ndarray:
        """Displacements ``(cases, N, 3)`` at surface points ``(N, 2)`` (bilinear between nodes).

        With a symmetric mesh, points with ``y < 0`` are mirrored (``u_y`` flips).
        """
        pts = np.asarray(points, dtype=float)
        mirror = self.mesh.symmetric_y & (pts[:, 1] < 0)
        q = np.stack([pts[:, 0], np.abs(pts[:, 1]) if self.mesh.symmetric_y else pts[:, 1]], -1)
        out = np.empty((self.surface.shape[0], len(pts), 3))
        for c in range(self.surface.shape[0]):
            interp = RegularGridInterpolator((self.mesh.x, self.mesh.y), self.surface[c])
            out[c] = interp(q)
        out[:, mirror, 1] *= -1.0
        return out


def solve_layer(
    mesh: LayerMesh, young: float, nu: float, tractions: list[TractionField]
) -> FemSolution:
    """Solve the layer under each surface traction field (one sparse factorisation).

    Args:
        mesh: Layer mesh from :func:`build_mesh`.
        young: Young's modulus (Pa).
        nu: Poisson ratio (< 0.5).
        tractions: Traction fields on the free surface.

    Returns:
        Surface displacements of every case.
    """
    k = assemble_stiffness(mesh, young, nu)
    f = surface_loads(mesh, tractions)
    fixed = fixed_dofs(mesh)
    free = np.setdiff1d(np.arange(mesh.n_dofs), fixed)
    k_ff = k[free][:, free].tocsc()
    u_free = scipy.sparse.linalg.spsolve(k_ff, f[free], permc_spec="MMD_AT_PLUS_A")
    u_free = np.asarray(u_free).reshape(len(free), -1)
    u = np.zeros((mesh.n_dofs, len(tractions)))
    u[free] = u_free
    nx, ny, nz = mesh.shape
    top = u.reshape(nx, ny, nz, 3, -1)[:, :, 0]  # (nx, ny, 3, cases)
    return FemSolution(mesh=mesh, surface=np.moveaxis(top, -1, 0))
