"""Vision-based tactile sensor: marker displacement field of a gel pad on a rigid backing.

Physics. The gel is an isotropic, linear-elastic layer of thickness ``h``
bonded to a rigid backing (the sensor's acrylic window) with a traction-free
top surface loaded by the contact tractions. For one Fourier mode
``exp(i k . x)`` of the surface tractions the layer's response decouples into
a P-SV part (normal and longitudinal shear, 2 x 2) and an SH part
(transverse shear, scalar). Both follow from the plane-strain (P-SV) and
anti-plane (SH) solutions of Navier's equation with the four boundary
conditions (traction-free loaded surface, clamped base); the derivation is in
:func:`_psv_compliance`. We solve the 4 x 4 boundary-value system numerically
on a table of ``kh``; its normal part reproduces the classical bonded-layer
kernel ``(1-nu)/(mu k) [(3-4nu) sinh 2kh - 2kh] / [(3-4nu) cosh 2kh + 2(kh)^2 +
5 - 12 nu + 8 nu^2]`` to round-off (tests), the SH part is ``tanh(kh)/(mu k)``.
A cubic spline in ``log kh`` interpolates the table, and the layer's surface
Green's function is evaluated once per pad:

* ``ElasticLayer`` holds the real-space influence kernel of one grid cell
  (uniform traction over a square cell, exact in Fourier space, aliasing summed)
  on a periodic grid padded by six gel thicknesses, so images are negligible;
  ``influence_matrix`` turns it into a dense (3C x 3N) map from cell tractions
  to markers (``TactilePad.marker_field`` / ``batch_marker_fields``).
* Per step, each MuJoCo contact on the pad (force from ``efc_force`` as
  ``mj_contactForce`` gives it) becomes a Hertz-shaped pressure patch (radius
  from the thin-layer contact law of Dimitriadis et al. 2002, shear riding on
  the same shape), spread over the traction cells (``patch_tractions``); the
  marker field is the loaded cells' rows of the influence matrix superposed
  (``marker_field``). ``TactileArray`` (and ``TactilePad.update``) runs this
  in one compiled call per step for every pad (:mod:`sims._tactile_kernels`);
  the NumPy methods are the reference it is tested against.

Conventions. Inside ``ElasticLayer`` the third component is the *depth*
(positive into the gel, pressure positive). ``TactilePad`` reports
displacements in the pad frame whose ``z`` axis is the outward normal of the
sensing surface, so pressing the gel gives ``u_z < 0``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import mujoco
import numpy as np
import scipy.fft
from scipy.interpolate import CubicSpline

from sims import _tactile_kernels as _k
from sims import contact_mechanics as cm

# kh range tabulated; beyond KH_MAX the layer equals a half-space to e^(-2 KH_MAX).
_KH_MIN = 1e-4
_KH_MAX = 40.0
_KH_POINTS = 1200
# Images of the periodic FFT grid sit at least this many gel thicknesses away;
# the layer kernel decays like exp(-~1.5 r/h), so 6 h leaves < 1e-3 of the peak.
_PERIOD_MARGIN_THICKNESSES = 6.0
# Aliases summed on each side when sampling the cell kernel (Poisson summation).
_ALIASES = 1


@dataclass(frozen=True)
class GelPadConfig:
    """Geometry, material and marker layout of a gel pad (defaults: GelSight Mini class).

    The in-plane frame has its origin at the centre of the sensing surface.
    Markers form a ``rows x cols`` grid with ``marker_spacing`` pitch centred
    on the pad.
    """

    size_x: float = 18.6e-3  # m; GelSight Mini sensing area 18.6 x 14.3 mm (GelSight Inc. datasheet)
    size_y: float = 14.3e-3  # m; GelSight Mini sensing area 18.6 x 14.3 mm (GelSight Inc. datasheet)
    thickness: float = 3.0e-3  # m; assumed: GelSight-class gels are a few mm thick (Yuan 2017,
    #   Sensors 17(12):2762); not a datasheet value, calibrate per gel
    young: float = 0.3e6  # Pa; assumed, inside the 0.1-1 MPa range of soft tactile silicones;
    #   calibrate per gel (e.g. by indentation against dimitriadis_force)
    nu: float = 0.48  # 1; assumed: nearly incompressible silicone (0.45-0.49 typical)
    marker_rows: int = 7  # count; assumed 7 x 9 grid, the order of GelSight Mini marker gels
    marker_cols: int = 9  # count; assumed 7 x 9 grid, the order of GelSight Mini marker gels
    marker_spacing: float = 1.9e-3  # m; chosen so the 7 x 9 grid spans the sensing area
    max_cell: float = 0.65e-3  # m; largest traction-grid cell (grid pitch = spacing / integer)
    flat_radius: float = 0.05  # m; modelling choice: curvature radius used for flat geoms

    def __post_init__(self) -> None:
        """Validate every field; raise ``ValueError`` naming the field and remedy."""
        for name in ("size_x", "size_y", "thickness", "young", "marker_spacing", "max_cell",
                     "flat_radius"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"GelPadConfig.{name}={value!r}; expected a finite value > 0")
        if not (-1.0 < self.nu < 0.5):
            raise ValueError(
                f"GelPadConfig.nu={self.nu!r}; expected -1 < nu < 0.5 (an incompressible "
                "nu = 0.5 has no compressible layer solution; use 0.49 for silicone)"
            )
        for name in ("marker_rows", "marker_cols"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"GelPadConfig.{name}={value!r}; expected an integer >= 1")
        span_x = (self.marker_cols - 1) * self.marker_spacing
        span_y = (self.marker_rows - 1) * self.marker_spacing
        if span_x > self.size_x * (1 + 1e-9) or span_y > self.size_y * (1 + 1e-9):
            raise ValueError(
                f"markers outside the pad: a {self.marker_rows} x {self.marker_cols} grid at "
                f"marker_spacing={self.marker_spacing} m spans {span_x:.4g} x {span_y:.4g} m but "
                f"the pad is {self.size_x:.4g} x {self.size_y:.4g} m; reduce marker_spacing, "
                "rows/cols, or enlarge size_x/size_y"
            )

    @property
    def cell(self) -> float:
        """Traction-grid pitch (m): ``marker_spacing / m`` with the least ``m`` <= ``max_cell``."""
        m = max(1, math.ceil(self.marker_spacing / self.max_cell - 1e-12))
        return self.marker_spacing / m

    def marker_positions(self) -> np.ndarray:
        """Undeformed marker positions ``(N, 2)`` in the pad frame (m), row-major."""
        xs = (np.arange(self.marker_cols) - (self.marker_cols - 1) / 2) * self.marker_spacing
        ys = (np.arange(self.marker_rows) - (self.marker_rows - 1) / 2) * self.marker_spacing
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], axis=-1)


def _psv_compliance(kh: np.ndarray, nu: float) -> np.ndarray:
    """Dimensionless P-SV compliance ``c(kh)`` of a layer bonded to a rigid base.

    For surface tractions ``t_L = i tau e^{ikx}`` (longitudinal shear) and
    pressure ``p e^{ikx}`` the surface displacements are
    ``u_L = i f e^{ikx}``, ``u_z = g e^{ikx}`` (depth positive) with
    ``[f, g] = c(kh) [tau, p] / (mu k)``. Solved from the general plane-strain
    solution ``(A + B z) e^{-kz}`` / ``(A' + B' s) e^{-ks}`` (``s = h - z``),
    which satisfies Navier's equation when ``C = -A - (3-4nu) B / k``,
    ``D = -B`` (and mirrored), with ``sigma_xz = -t_x``, ``sigma_zz = -p`` at
    ``z = 0`` and ``u = 0`` at ``z = h``. Basis functions decay from their own
    boundary, so the system stays well conditioned for large ``kh``.

    Args:
        kh: Dimensionless wavenumbers ``k h`` (> 0).
        nu: Poisson ratio.

    Returns:
        ``(len(kh), 2, 2)`` array ``[[c_LL, c_Lz], [c_zL, c_zz]]`` (symmetric).
    """
    s_tot = np.atleast_1d(np.asarray(kh, dtype=float))
    lam = 2.0 * nu / (1.0 - 2.0 * nu)  # Lame lambda / mu
    kap = 3.0 - 4.0 * nu

    def basis(z: np.ndarray) -> tuple[np.ndarray, ...]:
        s = s_tot - z
        e1, e2 = np.exp(-z), np.exp(-s)
        f = np.stack([e1, z * e1, e2, s * e2], -1)
        g = np.stack([-e1, (-kap - z) * e1, e2, (kap + s) * e2], -1)
        fp = np.stack([-e1, (1.0 - z) * e1, e2, -(1.0 - s) * e2], -1)
        gp = np.stack([e1, (kap - 1.0 + z) * e1, e2, -(1.0 - kap - s) * e2], -1)
        return f, g, fp, gp

    f0, g0, fp0, gp0 = basis(np.zeros_like(s_tot))
    fh, gh, _, _ = basis(s_tot)
    mat = np.stack([fp0 + g0, lam * (-f0 + gp0) + 2.0 * gp0, fh, gh], axis=1)
    rhs = np.zeros((s_tot.size, 4, 2))
    rhs[:, 0, 0] = -1.0  # sigma_xz(0) = -tau
    rhs[:, 1, 1] = -1.0  # sigma_zz(0) = -p
    coef = np.linalg.solve(mat, rhs)  # (n, 4, 2)
    out = np.empty((s_tot.size, 2, 2))
    out[:, 0, :] = np.einsum("nk,nkj->nj", f0, coef)
    out[:, 1, :] = np.einsum("nk,nkj->nj", g0, coef)
    return out


@functools.lru_cache(maxsize=16)
def _compliance_splines(nu: float) -> tuple[CubicSpline, CubicSpline, CubicSpline]:
    """Splines in ``log(kh)`` of ``c_LL/kh``, ``c_Lz/kh``, ``c_zz/kh`` (finite at ``kh -> 0``)."""
    s = np.logspace(np.log10(_KH_MIN), np.log10(_KH_MAX), _KH_POINTS)
    c = _psv_compliance(s, nu) / s[:, None, None]
    x = np.log(s)
    return CubicSpline(x, c[:, 0, 0]), CubicSpline(x, c[:, 0, 1]), CubicSpline(x, c[:, 1, 1])


def layer_compliance(
    k: np.ndarray, thickness: float, young: float, nu: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Surface compliances of a bonded layer at wavenumber magnitudes ``k`` (m/Pa * m^2 = m^3/N).

    Returns ``(C_LL, C_Lz, C_zz, C_TT)`` such that, in Fourier space,
    ``u_L = C_LL t_L + i C_Lz t_z``, ``u_z = -i C_Lz t_L + C_zz t_z``,
    ``u_T = C_TT t_T`` (``L``/``T`` along/across the wavevector, ``z`` depth).
    At ``k = 0`` these are ``h/mu, 0, h/(lambda + 2 mu), h/mu`` (uniform shear
    and uniaxial strain); for ``kh -> inf`` the half-space values
    ``(1-nu)/(mu k), (1-2nu)/(2 mu k), (1-nu)/(mu k), 1/(mu k)``.

    Args:
        k: Wavenumber magnitudes (rad/m, >= 0).
        thickness: Layer thickness ``h`` (m).
        young: Young's modulus (Pa).
        nu: Poisson ratio.
    """
    mu = cm.shear_modulus(young, nu)
    s = np.asarray(k, dtype=float) * thickness
    scale = thickness / mu
    near = s <= _KH_MAX
    far_s = np.where(near, 1.0, s)
    # half-space asymptotes (exact to e^(-2 kh) beyond _KH_MAX)
    c_ll = (1.0 - nu) / far_s
    c_lz = (1.0 - 2.0 * nu) / (2.0 * far_s)
    c_zz = c_ll.copy()
    if np.any(near):
        spl_ll, spl_lz, spl_zz = _compliance_splines(float(nu))
        x = np.log(np.maximum(s[near], _KH_MIN))
        c_ll[near], c_lz[near], c_zz[near] = spl_ll(x), spl_lz(x), spl_zz(x)
    small = s < 1e-6
    c_tt = np.tanh(s) / np.where(small, 1.0, s)
    c_tt[small] = 1.0
    c_ll *= scale
    c_lz *= scale
    c_zz *= scale
    c_tt *= scale
    return c_ll, c_lz, c_zz, c_tt


class ElasticLayer:
    """Surface Green's function of a gel layer on a rigid base, sampled on a cell grid.

    Tractions are piecewise constant on square cells of pitch ``cell``;
    ``kernel[a, b, i, j]`` is the displacement component ``a`` (x, y, depth)
    at offset ``(i, j) * cell + shift`` (periodic indices) from the centre of a
    cell loaded by a unit traction component ``b`` (x-shear, y-shear,
    pressure; Pa). The grid period is at least ``grid + 6 h / cell`` so the
    periodic images of any load on the ``grid`` are negligible.

    Args:
        young: Young's modulus (Pa).
        nu: Poisson ratio (< 0.5).
        thickness: Layer thickness (m).
        cell: Cell pitch (m).
        grid: ``(nx, ny)`` cells that carry tractions.
        shift: ``(dx, dy)`` offset of the evaluation points from cell centres (m).
    """

    def __init__(
        self,
        young: float,
        nu: float,
        thickness: float,
        cell: float,
        grid: tuple[int, int],
        shift: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        cm.shear_modulus(young, nu)  # validates young and nu
        if not (math.isfinite(thickness) and thickness > 0):
            raise ValueError(f"thickness={thickness!r} m; expected a finite value > 0")
        if not (math.isfinite(cell) and cell > 0):
            raise ValueError(f"cell={cell!r} m; expected a finite value > 0")
        if min(grid) < 1:
            raise ValueError(f"grid={grid!r}; expected two cell counts >= 1")
        self.young, self.nu, self.thickness, self.cell = young, nu, thickness, cell
        self.grid = (int(grid[0]), int(grid[1]))
        self.shift = (float(shift[0]), float(shift[1]))
        margin = math.ceil(_PERIOD_MARGIN_THICKNESSES * thickness / cell)
        self.period = tuple(scipy.fft.next_fast_len(n + margin + 1, real=True) for n in self.grid)
        self.kernel_hat = self._kernel_hat()  # (3, 3, Px, Py//2+1) complex
        self.kernel = scipy.fft.irfft2(self.kernel_hat, s=self.period, axes=(-2, -1))

    def _kernel_hat(self) -> np.ndarray:
        """Fourier transform of the cell kernel, aliases summed (Poisson summation)."""
        px, py = self.period
        d = self.cell
        kx0 = 2 * np.pi * scipy.fft.fftfreq(px, d)[:, None]
        ky0 = 2 * np.pi * scipy.fft.rfftfreq(py, d)[None, :]
        out = np.zeros((3, 3, px, py // 2 + 1), dtype=complex)
        for mx in range(-_ALIASES, _ALIASES + 1):
            for my in range(-_ALIASES, _ALIASES + 1):
                kx = kx0 + 2 * np.pi * mx / d
                ky = ky0 + 2 * np.pi * my / d
                k = np.hypot(kx, ky)
                c_ll, c_lz, c_zz, c_tt = layer_compliance(k, self.thickness, self.young, self.nu)
                kk = np.where(k > 0, k, 1.0)
                nx, ny = np.where(k > 0, kx / kk, 0.0), np.where(k > 0, ky / kk, 0.0)
                # uniform traction on one cell: sinc in each direction; shift: phase
                w = np.sinc(kx * d / (2 * np.pi)) * np.sinc(ky * d / (2 * np.pi))
                if self.shift != (0.0, 0.0):
                    w = w * np.exp(1j * (kx * self.shift[0] + ky * self.shift[1]))
                dl = c_ll - c_tt
                out[0, 0] += w * (c_tt + dl * nx * nx)
                out[1, 1] += w * (c_tt + dl * ny * ny)
                out[0, 1] += w * dl * nx * ny
                out[0, 2] += w * 1j * c_lz * nx
                out[1, 2] += w * 1j * c_lz * ny
                out[2, 2] += w * c_zz
        out[1, 0] = out[0, 1]
        out[2, 0] = -out[0, 2]
        out[2, 1] = -out[1, 2]
        return out

    def field(self, traction: np.ndarray) -> np.ndarray:
        """Displacements at every cell (centre + ``shift``) from cell tractions, by FFT.

        Args:
            traction: ``(3, nx, ny)`` cell tractions (Pa): x-shear, y-shear, pressure.

        Returns:
            ``(3, nx, ny)`` displacements (m): x, y, depth.
        """
        t = np.asarray(traction, dtype=float)
        if t.shape != (3, *self.grid):
            raise ValueError(f"traction has shape {t.shape}; expected (3, {self.grid[0]}, "
                             f"{self.grid[1]}) cell tractions in Pa")
        t_hat = scipy.fft.rfft2(t, s=self.period, axes=(-2, -1))
        u_hat = np.einsum("abij,bij->aij", self.kernel_hat, t_hat)
        u = scipy.fft.irfft2(u_hat, s=self.period, axes=(-2, -1))
        return u[:, : self.grid[0], : self.grid[1]]

    def influence_matrix(self, points: np.ndarray) -> np.ndarray:
        """Dense map from cell tractions to displacements at grid points.

        Args:
            points: ``(N, 2)`` integer cell indices ``(ix, iy)`` of the
                evaluation points (each at its cell centre + ``shift``).

        Returns:
            ``(3 * C, 3 * N)`` matrix ``Mt`` (m/Pa) with ``C = nx * ny``; rows
            are ``cell * 3 + traction component`` (cells in C order of
            ``(nx, ny)``), columns ``point * 3 + displacement component``, so
            ``u.ravel() = t.ravel() @ Mt`` for ``t`` of shape ``(C, 3)``.
        """
        pts = np.asarray(points, dtype=int)
        nx, ny = self.grid
        cx, cy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        cx, cy = cx.ravel(), cy.ravel()
        ox = (pts[None, :, 0] - cx[:, None]) % self.period[0]  # (C, N)
        oy = (pts[None, :, 1] - cy[:, None]) % self.period[1]
        blocks = self.kernel[:, :, ox, oy]  # (3 disp, 3 trac, C, N)
        return np.ascontiguousarray(blocks.transpose(2, 1, 3, 0)).reshape(3 * cx.size, 3 * len(pts))


def hertz_patch_radius(
    force: float, curvature_radius: float, thickness: float, young: float, nu: float
) -> float:
    """Contact radius of a rigid sphere of radius ``R`` on a bonded gel layer at a given force.

    Inverts Dimitriadis et al. (2002) eq. 12 ``F(delta)`` for the depth and
    returns ``a = sqrt(R delta)`` (the Hertz radius at that depth), so thin
    gels carry the load on a smaller, stiffer patch than a half-space would.
    Newton iterations on ``chi = a / h`` start from the half-space Hertz radius.

    Args:
        force: Normal force (N, >= 0).
        curvature_radius: Indenter curvature radius (m).
        thickness: Gel thickness (m).
        young: Gel Young's modulus (Pa).
        nu: Gel Poisson ratio.

    Returns:
        Contact radius (m).
    """
    if force <= 0.0:
        return 0.0
    e_star = young / (1.0 - nu * nu)
    a0, b0 = cm.dimitriadis_bonded_coefficients(nu)
    pi = math.pi
    c1 = -2 * a0 / pi
    c2 = 4 * a0 * a0 / pi**2
    c3 = -8 / pi**3 * (a0**3 + 4 * pi**2 * b0 / 15)
    c4 = 16 * a0 / pi**4 * (a0**3 + 3 * pi**2 * b0 / 5)
    scale = 4.0 * e_star * thickness**3 / (3.0 * curvature_radius)  # F = scale chi^3 series
    chi = (force / scale) ** (1.0 / 3.0)
    for _ in range(30):
        ser = 1 + chi * (c1 + chi * (c2 + chi * (c3 + chi * c4)))
        dser = c1 + chi * (2 * c2 + chi * (3 * c3 + chi * 4 * c4))
        fval = scale * chi**3 * ser - force
        dval = scale * (3 * chi * chi * ser + chi**3 * dser)
        step = fval / dval if dval > 0 else 0.0
        chi = max(chi - step, 0.5 * chi)
        if abs(step) < 1e-12 * max(chi, 1e-30):
            break
    return chi * thickness


@functools.lru_cache(maxsize=16)
def _chi_table(nu: float) -> tuple[np.ndarray, np.ndarray]:
    """``log s`` and ``log chi`` with ``s = chi^3 series(chi)`` of D02 eq. 12 (``chi <= 2``)."""
    a0, b0 = cm.dimitriadis_bonded_coefficients(nu)
    pi = math.pi
    c = (-2 * a0 / pi, 4 * a0 * a0 / pi**2, -8 / pi**3 * (a0**3 + 4 * pi**2 * b0 / 15),
         16 * a0 / pi**4 * (a0**3 + 3 * pi**2 * b0 / 5))
    chi = np.logspace(-4, np.log10(2.0), 600)
    s = chi**3 * (1 + chi * (c[0] + chi * (c[1] + chi * (c[2] + chi * c[3]))))
    if np.any(np.diff(s) <= 0):
        raise ValueError(f"nu={nu!r}: the thin-layer contact law is not monotonic up to chi = 2")
    return np.log(s), np.log(chi)


# Six summary features per pad from marker fields (compiled; see its docstring).
touch_features = _k.touch_features

# Rotation from pad frame (x, y, outward normal) to the geom frame, per sensing face.
_FACE_ROTATIONS: dict[str, np.ndarray] = {
    "+z": np.eye(3),
    "-z": np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]]),
    "+x": np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]),
    "-x": np.array([[0.0, 0, -1], [0, 1, 0], [1, 0, 0]]),
    "+y": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "-y": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
}


@dataclass(frozen=True)
class TactileReading:
    """One step of a tactile pad's output, in the pad frame (``z`` = outward normal).

    Attributes:
        markers: ``(N, 3)`` marker displacements (m); pressing gives ``u_z < 0``.
        force: ``(3,)`` net force of the contacts on the pad (N).
        torque: ``(3,)`` net torque about the sensing-surface centre (N m).
        contact_area: Sum of the contact patches' areas ``pi a^2`` (m^2).
        patches: ``(C, 6)`` contact patches: centre ``x, y`` (m), force on
            the gel ``F_x, F_y, F_z`` (N, ``F_z < 0`` presses), radius ``a`` (m).
            :meth:`TactilePad.pressure_map` turns them into a pressure image.
    """

    markers: np.ndarray
    force: np.ndarray
    torque: np.ndarray
    contact_area: float
    patches: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class MarkerObservation:
    """Camera-tracked marker positions with noise and lost markers.

    Attributes:
        pixels: ``(N, 2)`` marker centres in image pixels (column, row); ``nan`` if lost.
        lost: ``(N,)`` bool mask of markers the tracker lost this frame.
    """

    pixels: np.ndarray
    lost: np.ndarray


class TactilePad:
    """A gel pad attached to a box geom of a compiled MuJoCo model.

    The sensing surface is the geom's ``face`` (e.g. ``"+z"``: the face at
    ``z = +size[2]`` in the geom frame); the pad frame has its origin at the
    face centre and ``z`` along the face's outward normal. Each call to
    :meth:`update` reads the contacts involving the geom, turns every contact
    force into a Hertz-shaped patch (radius from the force and the other geom's
    curvature through the thin-layer contact law, shear with the same shape),
    and sums the patches' tabulated marker responses.

    Args:
        model: Compiled model.
        geom: Name of the pad's box geom.
        config: Gel pad parameters.
        face: Sensing face of the box: one of ``+x, -x, +y, -y, +z, -z``.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        geom: str,
        config: GelPadConfig | None = None,
        face: str = "+z",
    ) -> None:
        self.config = config if config is not None else GelPadConfig()
        cfg = self.config
        if face not in _FACE_ROTATIONS:
            raise ValueError(f"face={face!r}; expected one of {sorted(_FACE_ROTATIONS)}")
        try:
            self.geom_id = int(model.geom(geom).id)
        except KeyError as exc:
            raise ValueError(f"geom={geom!r} is not a geom of the model; name the pad's box geom")\
                from exc
        if int(model.geom_type[self.geom_id]) != int(mujoco.mjtGeom.mjGEOM_BOX):
            raise ValueError(f"geom={geom!r} must be a box (the pad's sensing face is a box face)")
        self.model = model
        self.face = face
        self.rot_pad_to_geom = _FACE_ROTATIONS[face]
        half = model.geom_size[self.geom_id]
        face_half = np.abs(self.rot_pad_to_geom) @ half  # pad-frame half extents
        if cfg.size_x > 2 * face_half[0] * (1 + 1e-6) or cfg.size_y > 2 * face_half[1] * (1 + 1e-6):
            raise ValueError(
                f"GelPadConfig size {cfg.size_x} x {cfg.size_y} m exceeds the {face} face of "
                f"geom {geom!r} ({2 * face_half[0]:.4g} x {2 * face_half[1]:.4g} m); "
                "shrink the pad or enlarge the geom"
            )
        self.origin_in_geom = self.rot_pad_to_geom @ np.array([0.0, 0.0, face_half[2]])

        d = cfg.cell
        self.cell = d
        nx = math.ceil(cfg.size_x / d - 1e-9)
        ny = math.ceil(cfg.size_y / d - 1e-9)
        # marker grid parity: markers at integer multiples of d from cell centres plus shift
        self.grid = (nx, ny)
        self.cell_x = (np.arange(nx) - (nx - 1) / 2) * d
        self.cell_y = (np.arange(ny) - (ny - 1) / 2) * d
        markers = cfg.marker_positions()
        fx = (markers[:, 0] - self.cell_x[0]) / d
        fy = (markers[:, 1] - self.cell_y[0]) / d
        ix, iy = np.floor(fx + 1e-9).astype(int), np.floor(fy + 1e-9).astype(int)
        shift = ((fx[0] - ix[0]) * d, (fy[0] - iy[0]) * d)
        self.markers = markers
        self.layer = ElasticLayer(cfg.young, cfg.nu, cfg.thickness, d, self.grid, shift)
        self.influence = self.layer.influence_matrix(np.stack([ix, iy], -1))  # (3C, 3N)
        self._cx, self._cy = np.meshgrid(self.cell_x, self.cell_y, indexing="ij")
        self._f6 = np.zeros((8, 6))
        self._k3 = np.arange(3)
        self._radius = np.array([self._other_radius(g) for g in range(model.ngeom)])
        q = d / 4.0
        self._sub = np.array([[-q, -q], [-q, q], [q, -q], [q, q]])  # 2 x 2 samples per cell
        self._to_depth = np.array([1.0, 1.0, -1.0])  # F_z < 0 presses: depth load = -F_z
        self._chi_table = _chi_table(cfg.nu)
        self._e_star_h3 = 4.0 * cm.contact_modulus(cfg.young, cfg.nu) * cfg.thickness**3 / 3.0
        self._single: TactileArray | None = None  # compiled path of update(), built on first use

    # ---------------------------------------------------------------- tractions
    def _other_radius(self, other: int) -> float:
        """Curvature radius of the geom touching the pad (m)."""
        m = self.model
        gtype = int(m.geom_type[other])
        size = m.geom_size[other]
        rounded = {int(mujoco.mjtGeom.mjGEOM_SPHERE), int(mujoco.mjtGeom.mjGEOM_CAPSULE),
                   int(mujoco.mjtGeom.mjGEOM_CYLINDER)}
        if gtype in rounded:
            return float(size[0])
        if gtype == int(mujoco.mjtGeom.mjGEOM_ELLIPSOID):
            return float(np.min(size))
        return self.config.flat_radius

    def geom_radii(self) -> np.ndarray:
        """``(ngeom,)`` curvature radius (m) used for a contact with each geom of the model."""
        return self._radius.copy()

    def contact_loads(self, data: mujoco.MjData) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Contact forces on the pad, in the pad frame.

        Returns:
            One ``(position (3,), force (3,), curvature radius)`` per active
            contact touching the pad geom: position relative to the surface
            centre (m), force the other body exerts on the gel (N), curvature
            radius of the other geom (m). :meth:`contact_array` gives the same
            as one array.
        """
        rows = self.contact_array(data)
        return [(r[0:3].copy(), r[3:6].copy(), float(r[6])) for r in rows]

    def contact_array(self, data: mujoco.MjData) -> np.ndarray:
        """Contact forces on the pad, in the pad frame, as one array.

        Returns:
            ``(C, 7)`` rows, one per active contact touching the pad geom:
            position relative to the surface centre (3, m), force the other
            body exerts on the gel (3, N), curvature radius of the other geom (m).
        """
        ncon = data.ncon
        if ncon == 0:
            return np.zeros((0, 7))
        geoms = data.contact.geom[:ncon]
        hits = np.flatnonzero((geoms[:, 0] == self.geom_id) | (geoms[:, 1] == self.geom_id))
        if hits.size == 0:
            return np.zeros((0, 7))
        if self.model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC:
            # mj_contactForce copies efc_force[efc_address : efc_address + dim] for elliptic
            # cones (zero for excluded contacts): read them all at once
            adr = data.contact.efc_address[hits][:, None] + self._k3  # (C, 3)
            valid = (adr >= self._k3) & (data.contact.dim[hits][:, None] > self._k3)
            efc = data.efc_force
            f3 = np.where(valid, efc[np.where(valid, adr, 0)], 0.0) if efc.size else \
                np.zeros((hits.size, 3))
        else:
            if hits.size > len(self._f6):
                self._f6 = np.zeros((2 * hits.size, 6))
            f6 = self._f6
            for j, i in enumerate(hits):
                mujoco.mj_contactForce(self.model, data, int(i), f6[j])
            f3 = f6[: hits.size, :3]
        frames = data.contact.frame[hits].reshape(-1, 3, 3)
        f_world = (f3[:, None, :] @ frames)[:, 0]  # on geom2
        mine_first = geoms[hits, 0] == self.geom_id
        f_world[mine_first] *= -1.0
        other = np.where(mine_first, geoms[hits, 1], geoms[hits, 0])
        rot_geom = data.geom_xmat[self.geom_id].reshape(3, 3)
        rot = rot_geom @ self.rot_pad_to_geom  # pad -> world
        origin = data.geom_xpos[self.geom_id] + rot_geom @ self.origin_in_geom
        out = np.empty((hits.size, 7))
        out[:, 0:3] = (data.contact.pos[hits] - origin) @ rot
        out[:, 3:6] = f_world @ rot
        out[:, 6] = self._radius[other]
        return out

    def patch_radius(self, normal: np.ndarray, curvature: np.ndarray) -> np.ndarray:
        """Contact radii (m) for normal forces (N) and indenter curvature radii (m).

        Vectorised form of :func:`hertz_patch_radius` through a tabulated
        inverse of Dimitriadis et al. (2002) eq. 12.
        """
        s = np.maximum(normal, 0.0) * curvature / self._e_star_h3
        log_s, log_chi = self._chi_table
        chi = np.exp(np.interp(np.log(np.maximum(s, 1e-300)), log_s, log_chi,
                               left=-np.inf))
        small = s < math.exp(log_s[0])
        chi[small] = np.cbrt(s[small])  # Hertz limit
        return chi * self.config.thickness

    def patches(self, loads: np.ndarray) -> np.ndarray:
        """Contact patches ``(C, 6)``: ``x, y, F_x, F_y, F_z, a`` from :meth:`contact_array` rows."""
        out = np.empty((len(loads), 6))
        out[:, 0:2] = loads[:, 0:2]
        out[:, 2:5] = loads[:, 3:6]
        out[:, 5] = self.patch_radius(-loads[:, 5], loads[:, 6])
        return out

    def patch_field(self, patches: np.ndarray, sim: np.ndarray | None = None,
                    n_sims: int = 1) -> np.ndarray:
        """Marker displacements (depth ``z``) from contact patches, compiled.

        The same physics as ``marker_field(patch_tractions(patches))`` (each
        pressing patch spread as a Hertz pressure over the traction grid, then
        the loaded cells' influence rows superposed), per simulation, in one
        compiled call (:mod:`sims._tactile_kernels`). Patches pulling on the
        gel (``F_z >= 0``) are skipped.

        Args:
            patches: ``(C, 6)`` patches (see :class:`TactileReading`).
            sim: ``(C,)`` index of the simulation each patch belongs to.
            n_sims: Number of simulations (rows of the output).

        Returns:
            ``(n_sims, N, 3)`` displacements (m), depth-positive ``z``.
        """
        p = np.ascontiguousarray(patches, dtype=np.float64).reshape(-1, 6)
        slot = (np.zeros(len(p), dtype=np.intp) if sim is None
                else np.ascontiguousarray(sim, dtype=np.intp))
        nx, ny = self.grid
        tractions = np.empty((n_sims, nx, ny, 3))
        fields = np.empty((n_sims, len(self.markers), 3))
        _k.fields_from_patches(p, slot, len(p), n_sims, tractions, fields, *self._kernel_grid())
        return fields

    def _kernel_grid(self) -> tuple:
        """Grid and influence arguments of :func:`sims._tactile_kernels.fields_from_patches`."""
        nx, ny = self.grid
        return (nx, ny, self.cell, float(self.cell_x[0]), float(self.cell_y[0]), self._cx,
                self._cy, self._sub, self.influence)

    def tractions(
        self, loads: list[tuple[np.ndarray, np.ndarray, float]] | np.ndarray
    ) -> np.ndarray:
        """Cell tractions ``(nx * ny, 3)`` (Pa) of contact loads (see :meth:`patch_tractions`).

        Args:
            loads: :meth:`contact_loads` tuples or :meth:`contact_array` rows.
        """
        if isinstance(loads, np.ndarray):
            rows = loads.reshape(-1, 7)
        else:
            rows = np.array([[*pos, *force, radius] for pos, force, radius in loads]).reshape(-1, 7)
        return self.patch_tractions(self.patches(rows))

    def patch_tractions(self, patches: np.ndarray) -> np.ndarray:
        """Cell tractions of contact patches on the pad's grid (for pressure maps and batches).

        Each pressing patch (force ``N = -F_z > 0``, radius ``a``) gets the
        pressure ``p0 sqrt(1 - r^2/a^2)``, cell values averaged over 2 x 2
        sub-samples and rescaled so the cells on the pad carry exactly ``N``;
        its tangential force rides on the same shape (``q = F_t p / N``).

        Args:
            patches: ``(C, 6)`` patches (see :class:`TactileReading`).

        Returns:
            ``(nx * ny, 3)`` cell tractions (Pa): x-shear, y-shear, pressure.
        """
        nx, ny = self.grid
        t = np.zeros((nx * ny, 3))
        t3 = t.reshape(nx, ny, 3)
        d = self.cell
        x0, y0 = self.cell_x[0], self.cell_y[0]
        for px, py, fx, fy, fz, a in patches:
            normal = -fz
            if normal <= 0.0:
                continue
            reach = a + d
            i0 = max(0, math.ceil((px - reach - x0) / d))
            i1 = min(nx, math.floor((px + reach - x0) / d) + 1)
            j0 = max(0, math.ceil((py - reach - y0) / d))
            j1 = min(ny, math.floor((py + reach - y0) / d) + 1)
            if i0 >= i1 or j0 >= j1:  # contact beyond the pad edge: nearest cell
                i0 = min(max(round((px - x0) / d), 0), nx - 1)
                j0 = min(max(round((py - y0) / d), 0), ny - 1)
                i1, j1 = i0 + 1, j0 + 1
            dx = self._cx[i0:i1, j0:j1] - px
            dy = self._cy[i0:i1, j0:j1] - py
            inv_a2 = 1.0 / (a * a) if a > 0 else 0.0
            sx = (dx[..., None] + self._sub[:, 0]) ** 2 + (dy[..., None] + self._sub[:, 1]) ** 2
            shape = np.sqrt(np.maximum(1.0 - sx * inv_a2, 0.0)).sum(-1)
            total = shape.sum()
            if total <= 0.0:  # patch smaller than a cell: put the load on the nearest cell
                shape[:] = 0.0
                shape[np.unravel_index(np.argmin(dx * dx + dy * dy), dx.shape)] = 1.0
                total = 1.0
            pres = shape * (normal / (total * d * d))
            win = t3[i0:i1, j0:j1]
            win[..., 2] += pres
            win[..., 0] += pres * (fx / normal)
            win[..., 1] += pres * (fy / normal)
        return t

    def pressure_map(self, reading: TactileReading) -> np.ndarray:
        """Contact pressure ``(nx, ny)`` (Pa) on the pad's traction grid for a reading."""
        nx, ny = self.grid
        return self.patch_tractions(reading.patches)[:, 2].reshape(nx, ny)

    # ----------------------------------------------------------------- outputs
    def marker_field(self, traction: np.ndarray) -> np.ndarray:
        """Marker displacements ``(N, 3)`` in the pad frame from cell tractions ``(C, 3)``.

        Contacts load few cells, so only the influence rows of nonzero tractions
        are read (same sum, without the zero terms).
        """
        t = np.asarray(traction, dtype=float).reshape(-1)
        nz = np.flatnonzero(t)
        if nz.size == 0:
            return np.zeros((len(self.markers), 3))
        r0, r1 = int(nz[0]), int(nz[-1]) + 1
        if 4 * nz.size < r1 - r0:  # scattered: gather the loaded rows
            u = (t[nz] @ np.take(self.influence, nz, axis=0)).reshape(-1, 3)
        else:  # one contiguous block of rows (a view, no copy)
            u = (t[r0:r1] @ self.influence[r0:r1]).reshape(-1, 3)
        u[:, 2] *= -1.0  # depth -> outward normal
        return u

    def batch_marker_fields(self, tractions: np.ndarray) -> np.ndarray:
        """Marker fields of many pads (same config) at once: one matrix product.

        Args:
            tractions: ``(B, C, 3)`` cell tractions (Pa) stacked over pads/sims.

        Returns:
            ``(B, N, 3)`` marker displacements (m) in the pad frame.
        """
        t = np.asarray(tractions, dtype=float)
        b = t.shape[0]
        u = (t.reshape(b, -1) @ self.influence).reshape(b, -1, 3)
        u[..., 2] *= -1.0
        return u

    def _reading(self, loads: np.ndarray, patches: np.ndarray, markers: np.ndarray
                 ) -> TactileReading:
        """Reading of outward-normal ``markers`` and their contact rows and patches."""
        force = loads[:, 3:6].sum(axis=0)
        torque = np.cross(loads[:, 0:3], loads[:, 3:6]).sum(axis=0) if len(loads) else np.zeros(3)
        return TactileReading(markers=markers, force=force, torque=torque,
                              contact_area=float(np.pi * np.sum(patches[:, 5] ** 2 *
                                                                (patches[:, 4] < 0))),
                              patches=patches)

    def update(self, data: mujoco.MjData) -> TactileReading:
        """Read this step's contacts and return the pad's marker field and loads (compiled path)."""
        if self._single is None:
            self._single = TactileArray([self])
        arr = self._single
        markers = arr.update(data)[0]
        loads = arr.last_rows
        return self._reading(loads, arr.last_patches, markers)

    def update_many(self, datas: list[mujoco.MjData]) -> np.ndarray:
        """Marker fields ``(B, N, 3)`` (pad frame) of this pad in ``B`` simulations of one model."""
        if self._single is None:
            self._single = TactileArray([self])
        return self._single.update_many(datas)[:, 0]

    def observe_markers(
        self,
        reading: TactileReading,
        rng: np.random.Generator,
        pixels_per_metre: float = 320 / 18.6e-3,
        noise_px: float = 0.2,
        lost_probability: float = 0.01,
    ) -> MarkerObservation:
        """Project markers into the sensor camera with tracking noise and dropouts.

        An orthographic view from below the gel (the camera looks along the
        pad normal through the backing); pixel ``(col, row)`` grows with
        pad ``(x, -y)`` and the image centre is the pad centre.

        Args:
            reading: The pad reading to image.
            rng: The episode's random generator (noise and dropouts).
            pixels_per_metre: Image scale; default 320 px across 18.6 mm
                (GelSight Mini streams resized to 320 x 240 px, gsrobotics).
            noise_px: Standard deviation of the tracker's centroid noise (px).
            lost_probability: Chance that a marker is lost in a frame.

        Returns:
            The tracked marker pixels and the lost-marker mask.
        """
        if not (noise_px >= 0 and 0 <= lost_probability <= 1 and pixels_per_metre > 0):
            raise ValueError(
                f"noise_px={noise_px!r} (>= 0), lost_probability={lost_probability!r} "
                f"(0..1), pixels_per_metre={pixels_per_metre!r} (> 0) out of range"
            )
        pos = self.markers + reading.markers[:, :2]
        w = self.config.size_x * pixels_per_metre
        h = self.config.size_y * pixels_per_metre
        pix = np.stack([w / 2 + pos[:, 0] * pixels_per_metre, h / 2 - pos[:, 1] * pixels_per_metre],
                       -1)
        pix = pix + rng.normal(0.0, noise_px, size=pix.shape)
        lost = rng.random(len(pix)) < lost_probability
        pix[lost] = np.nan
        return MarkerObservation(pixels=pix, lost=lost)


class TactileArray:
    """Several pads of one configuration (e.g. both fingers), updated together, compiled.

    One scan of the contact list serves every pad (and, with
    :meth:`update_many`, every simulation), in compiled code
    (:mod:`sims._tactile_kernels`): contact forces from ``efc_force``, Hertz
    patches, cell tractions, and the loaded cells' rows of the influence
    matrix. It computes exactly what the NumPy reference
    ``marker_field(patch_tractions(patches(contact_array(data))))`` computes
    (to round-off; tests), without the interpreter overhead. This is the
    per-step form for training loops. After each update, :attr:`last_rows`,
    :attr:`last_slots`, :attr:`last_patches` and :attr:`last_tractions` hold
    that step's contact loads, their pad (or pad x simulation) slots, patches
    and cell tractions.

    Args:
        pads: Pads attached to one model, all with the same :class:`GelPadConfig`.
    """

    def __init__(self, pads: list[TactilePad]) -> None:
        if not pads:
            raise ValueError("pads is empty; pass at least one TactilePad")
        first = pads[0]
        for pad in pads[1:]:
            if pad.config != first.config or pad.model is not first.model:
                raise ValueError(
                    "every pad of a TactileArray needs the same GelPadConfig and model; "
                    "group pads by configuration"
                )
        self.pads = list(pads)
        self.model = first.model
        self._lead = first
        self._geom_ids = np.array([p.geom_id for p in pads], dtype=np.int32)
        self._rot = np.ascontiguousarray(np.stack([p.rot_pad_to_geom for p in pads]), dtype=float)
        self._origin_in_geom = np.ascontiguousarray(np.stack([p.origin_in_geom for p in pads]))
        self._radius = np.ascontiguousarray(first._radius, dtype=float)
        self._elliptic = bool(self.model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC)
        self._no_friction = np.zeros((0, 5))  # stands in for contact.friction with elliptic cones
        log_s, log_chi = first._chi_table
        self._law = (first._e_star_h3, first.config.thickness, np.ascontiguousarray(log_s),
                     np.ascontiguousarray(log_chi))
        self._grid = first._kernel_grid()
        self._rows = np.zeros((64, 7))
        self._slots = np.zeros(64, dtype=np.intp)
        self._patches = np.zeros((64, 6))
        nx, ny = first.grid
        self._tractions = np.zeros((len(pads), nx, ny, 3))
        self._fields = np.zeros((len(pads), len(first.markers), 3))
        self._n = 0
        self._n_slots = len(pads)
        self._loaded = False  # whether the field buffers may hold a nonzero field
        self._step_args: tuple = ()
        self._static_args()

    def _static_args(self) -> None:
        """Arguments of :func:`sims._tactile_kernels.pad_step` after the simulation's arrays."""
        floats, ints = _k.pack_static(self._geom_ids, self._rot, self._origin_in_geom,
                                      self._radius, *self._grid[:8], *self._law)
        self._step_args = (floats, ints, self._grid[8], self._rows, self._slots, self._patches,
                           self._tractions, self._fields)

    @property
    def last_rows(self) -> np.ndarray:
        """``(C, 7)`` contact loads of the last update (see :meth:`TactilePad.contact_array`)."""
        return self._rows[: self._n]

    @property
    def last_slots(self) -> np.ndarray:
        """``(C,)`` slot of each row: pad index (+ ``P x`` simulation index in ``update_many``)."""
        return self._slots[: self._n]

    @property
    def last_patches(self) -> np.ndarray:
        """``(C, 6)`` contact patches of the last update (see :class:`TactileReading`)."""
        return self._patches[: self._n]

    @property
    def last_tractions(self) -> np.ndarray:
        """``(slots, nx * ny, 3)`` cell tractions (Pa) of the last update."""
        return self._tractions[: self._n_slots].reshape(self._n_slots, -1, 3)

    def _reserve(self, rows: int, slots: int) -> None:
        """Grow the scratch buffers to hold ``rows`` contact rows and ``slots`` fields."""
        if rows <= len(self._rows) and slots <= len(self._tractions):
            return
        if rows > len(self._rows):  # grow, keeping rows already gathered this update
            size = max(rows, 2 * len(self._rows))
            self._rows = np.concatenate([self._rows, np.zeros((size - len(self._rows), 7))])
            self._slots = np.concatenate([self._slots,
                                          np.zeros(size - len(self._slots), dtype=np.intp)])
            self._patches = np.zeros((size, 6))
        if slots > len(self._tractions):
            self._tractions = np.zeros((slots, *self._tractions.shape[1:]))
            self._fields = np.zeros((slots, *self._fields.shape[1:]))
        self._static_args()

    def _gather(self, data: mujoco.MjData, slot_offset: int, start: int) -> int:
        """Append this simulation's pad contacts to the row buffer; return the new row count."""
        ncon = data.ncon
        if ncon == 0:
            return start
        self._reserve(start + ncon * len(self.pads), 0)
        c = data.contact
        return _k.gather_contacts(
            ncon, c.geom, c.pos, c.frame, c.efc_address, c.dim, c.friction, data.efc_force,
            self._elliptic, data.geom_xpos, data.geom_xmat, self._geom_ids, self._rot,
            self._origin_in_geom, self._radius, self._rows, self._slots, slot_offset, start)

    def update(self, data: mujoco.MjData, out: np.ndarray | None = None) -> np.ndarray:
        """Marker fields ``(P, N, 3)`` (pad frames, m) of every pad for this step.

        Args:
            data: The simulation (after ``mj_step`` / ``mj_forward``).
            out: Optional ``(P, N, 3)`` array to write into (no allocation).

        Returns:
            The fields (``out`` when given).
        """
        n_pads = len(self.pads)
        self._n_slots = n_pads
        ncon = data.ncon
        c = data.contact if ncon else None
        geom = c.geom if c is not None else None
        if geom is None or not (geom.reshape(-1, 1) == self._geom_ids).any():
            # nothing touches a pad: zero fields without reading the contacts' forces
            if self._loaded:
                self._tractions[:n_pads] = 0.0
                self._fields[:n_pads] = 0.0
                self._loaded = False
            self._n = 0
        else:
            self._reserve(ncon * n_pads, 0)
            self._loaded = True
            self._n = _k.pad_step(
                ncon, geom, c.pos, c.frame, c.efc_address, c.dim,
                self._no_friction if self._elliptic else c.friction,  # pyramidal cones only
                data.efc_force, self._elliptic, data.geom_xpos, data.geom_xmat, *self._step_args)
        if out is None:
            return self._fields[:n_pads].copy()
        out[...] = self._fields[:n_pads]
        return out

    def _fields_out(self, n_slots: int) -> np.ndarray:
        self._n_slots = n_slots
        self._loaded = True
        _k.fields_from_rows(self._rows, self._slots, self._n, n_slots, self._patches,
                            self._tractions, self._fields, *self._grid[:8], *self._law,
                            self._grid[8])
        u = self._fields[:n_slots].copy()
        u[..., 2] *= -1.0  # depth -> outward normal
        return u

    def update_many(self, datas: list[mujoco.MjData],
                    radii: list[np.ndarray] | None = None) -> np.ndarray:
        """Marker fields ``(B, P, N, 3)`` of every pad in ``B`` simulations.

        Args:
            datas: One MjData per simulation (after ``mj_step``), all with the
                pads' geometry of this array (same pad geom ids and config).
            radii: Optional per-simulation ``(ngeom,)`` curvature radii (m) of
                the geoms that can touch the pads (:meth:`TactilePad.geom_radii`
                of each simulation's model) when the simulations hold different
                scenes; default: this array's model.

        Returns:
            The fields in the pad frames (m).
        """
        n_pads = len(self.pads)
        if radii is not None and len(radii) != len(datas):
            raise ValueError(f"radii: got {len(radii)} arrays for {len(datas)} simulations; "
                             "pass one per simulation or None")
        self._reserve(0, len(datas) * n_pads)
        own = self._radius
        n = 0
        try:
            for b, d in enumerate(datas):
                if radii is not None:
                    self._radius = np.ascontiguousarray(radii[b], dtype=float)
                n = self._gather(d, b * n_pads, n)
        finally:
            self._radius = own
        self._n = n
        u = self._fields_out(len(datas) * n_pads)
        return u.reshape(len(datas), n_pads, -1, 3)
