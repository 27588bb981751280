"""Validation of the tactile gel model against contact mechanics and a finite-element reference.

Every case compares the marker displacement field of the elastic-layer model
(:class:`sims.tactile.ElasticLayer`, the same kernel a :class:`TactilePad`
applies each step) with a reference and scores it with
:func:`metrics.field.max_relative_error` (max over markers of
``|u_sim - u_ref|`` over the peak ``|u_ref|``):

* ``hertz_normal_thick``: Hertz pressure on a layer 25 contact radii thick
  vs the half-space surface displacements of Johnson (1985) eqs. 3.41-3.42;
* ``hertz_tangential_thick``: Hertz-shaped tangential traction, Johnson
  eq. 3.92 inside the contact and the Cerruti point-load field (Johnson
  eq. 3.4) for ``2a <= r <= 4a``;
* ``fem_<load>_<normal|shear>``: a thin layer (``h`` = 2 mm, contact sizes
  comparable to ``h``) under sphere (Hertz), cylinder-edge (finite Hertz
  strip), flat-punch and broad (cloth-like) pressures, without and with a
  tangential traction, vs :mod:`sims.tactile_fem` on the finest of a
  sequence of meshes (its own change under the last refinement is reported);
* ``dimitriadis_force_depth``: force vs depth of a rigid sphere on a bonded
  layer, from a frictionless contact solve with the model's influence matrix,
  vs Dimitriadis et al. (2002) eq. 12 (relative error of the force curve).

Targets: 10 % where a closed form applies, 30 % against the FE reference
(the clause-1.5 marker-error indicator).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.linalg
import scipy.optimize

from metrics.field import max_relative_error
from sims import contact_mechanics as cm
from sims import tactile_fem
from sims.tactile import ElasticLayer

CLOSED_FORM_TARGET = 0.10  # issue 5: <= 10 % where the closed form applies
FEM_TARGET = 0.30  # clause 1.5 marker-error indicator: max relative error <= 30 %


@dataclass(frozen=True)
class ValidationCase:
    """One validation result.

    Attributes:
        case: Case name.
        reference: What the model is compared with.
        max_relative_error: Max relative error (dimensionless).
        target: Largest accepted error (dimensionless).
        passed: ``max_relative_error <= target``.
        details: Extra figures (e.g. FE mesh change, markers scored).
    """

    case: str
    reference: str
    max_relative_error: float
    target: float
    passed: bool
    details: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict with the keys ``case, reference, max_relative_error, target, pass``."""
        out = asdict(self)
        out["pass"] = out.pop("passed")
        return out


@dataclass(frozen=True)
class ValidationSettings:
    """Resolution and material of the validation runs (defaults: the full validation)."""

    young: float = 0.3e6  # Pa; gel modulus, as GelPadConfig's default
    nu: float = 0.48  # 1; gel Poisson ratio, as GelPadConfig's default
    thin_thickness: float = 2.0e-3  # m; thin layer: contact radii 0.6-1.5 mm ~ h
    cells_per_radius: int = 8  # traction cells across a Hertz radius (thick cases)
    thick_ratio: float = 25.0  # thick-layer h / a (layer effect ~1.1 a/h on u_z)
    fem_elements: tuple[float, ...] = (0.5e-3, 1.0e-3 / 3.0, 0.25e-3)  # m; refinement sequence
    model_cell: float = 0.125e-3  # m; model traction cell for the FE cases
    dimitriadis_chi: tuple[float, ...] = (0.2, 0.4, 0.6)  # sqrt(R delta)/h probed


def _case(name: str, reference: str, u_sim: np.ndarray, u_ref: np.ndarray, target: float,
          **details: float) -> ValidationCase:
    err = float(max_relative_error(u_sim, u_ref, noise_floor=0.0).max_relative_error)
    return ValidationCase(name, reference, err, target, bool(err <= target),
                          {k: float(v) for k, v in details.items()})


def cell_average(field_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], x: np.ndarray,
                 y: np.ndarray, cell: float, sub: int = 4) -> np.ndarray:
    """Average of a traction field over square cells centred at ``(x, y)`` (``sub^2`` samples)."""
    offs = (np.arange(sub) + 0.5) / sub * cell - cell / 2
    acc = 0.0
    for ox in offs:
        for oy in offs:
            acc = acc + np.asarray(field_fn(x + ox, y + oy), dtype=float)
    return acc / (sub * sub)


def _centred_grid(n: int, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = (np.arange(n) - (n - 1) / 2) * cell
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    return xs, gx, gy


def validate_hertz_thick(settings: ValidationSettings) -> list[ValidationCase]:
    """Hertz normal and tangential loads on a thick layer vs the half-space closed forms."""
    s = settings
    a = 1.0e-3
    p0 = 20e3  # Pa; any value (linear), ~0.04 N on a 1 mm contact radius
    cell = a / s.cells_per_radius
    n = 8 * s.cells_per_radius + 1  # traction grid spans +-4a
    layer = ElasticLayer(s.young, s.nu, s.thick_ratio * a, cell, (n, n))
    _, gx, gy = _centred_grid(n, cell)

    def hertz(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return cm.hertz_pressure(np.hypot(x, y), a, p0)

    pres = cell_average(hertz, gx, gy, cell)
    r = np.hypot(gx, gy)
    # markers every a/4 within r <= 3a (normal) -- on cell centres
    step = max(1, s.cells_per_radius // 4)
    centre = (n - 1) // 2
    on_step = (np.arange(n) - centre) % step == 0
    pick = on_step[:, None] & on_step[None, :]
    out = []

    normal_mask = pick & (r <= 3.0 * a)
    u = layer.field(np.stack([0 * pres, 0 * pres, pres]))
    uz, ur = cm.hertz_normal_displacement(r[normal_mask], a, p0, s.young, s.nu)
    rr = np.maximum(r[normal_mask], 1e-30)
    ref = np.stack([ur * gx[normal_mask] / rr, ur * gy[normal_mask] / rr, uz], -1)
    out.append(_case("hertz_normal_thick",
                     f"Johnson (1985) eqs. 3.41-3.42, half-space; layer h = {s.thick_ratio:g} a",
                     u[:, normal_mask].T, ref, CLOSED_FORM_TARGET,
                     markers=int(normal_mask.sum()), a_over_h=1.0 / s.thick_ratio))

    u = layer.field(np.stack([pres, 0 * pres, 0 * pres]))
    inside = pick & (r <= a)
    far = pick & (r >= 2.0 * a) & (r <= 4.0 * a)
    ref_in = cm.hertz_tangential_displacement_inside(gx[inside], gy[inside], a, p0, s.young, s.nu)
    force = 2.0 / 3.0 * math.pi * a * a * p0
    ref_far = cm.cerruti_point_displacement(gx[far], gy[far], force, s.young, s.nu)
    sim = np.concatenate([u[:, inside].T, u[:, far].T])
    ref = np.concatenate([ref_in, ref_far])
    out.append(_case("hertz_tangential_thick",
                     "Johnson (1985) eq. 3.92 (r <= a) and Cerruti point load (2a <= r <= 4a)",
                     sim, ref, CLOSED_FORM_TARGET, markers=int(len(sim)),
                     a_over_h=1.0 / s.thick_ratio))
    return out


def thin_layer_loads() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Pressure fields (Pa) of the thin-layer cases, each ~0.5 N, even in ``x`` and ``y``."""
    force = 0.5  # N

    def sphere(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = 1.5e-3  # m; Hertz radius of a ~10 mm sphere at ~0.5 N on this gel
        return cm.hertz_pressure(np.hypot(x, y), a, 3.0 * force / (2.0 * math.pi * a * a))

    def cylinder_edge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        b, half_len = 0.6e-3, 3.0e-3  # m; strip half-width, half-length (cylinder along y)
        p0 = 2.0 * (force / (2 * half_len)) / (math.pi * b)  # J85 eq. 4.46
        return np.where(np.abs(y) <= half_len, cm.hertz_pressure(np.abs(x), b, p0), 0.0)

    def flat_punch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # edge rounded over 0.1 mm: a real punch edge, and a load the meshes can resolve
        return cm.flat_punch_pressure(np.hypot(x, y), 1.5e-3, force, edge_width=0.1e-3)

    def broad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rb = 4.5e-3  # m; cloth-like load spread over most of the region
        s = np.clip(1.0 - (x * x + y * y) / (rb * rb), 0.0, None)
        return force * 3.0 / (math.pi * rb * rb) * s * s

    return {"sphere": sphere, "cylinder_edge": cylinder_edge, "flat_punch": flat_punch,
            "broad": broad}


SHEAR_RATIO = 0.4  # tangential / normal traction in the "+shear" cases (a sliding friction)


def _traction_fn(pressure: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 shear: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def fn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = pressure(x, y)
        return np.stack([shear * p, np.zeros_like(p), p], -1)

    return fn


def thin_layer_markers() -> np.ndarray:
    """Markers of the thin-layer cases: 9 x 9 grid at 1 mm pitch (``(81, 2)`` m)."""
    g = np.arange(-4, 5) * 1e-3
    gx, gy = np.meshgrid(g, g, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], -1)


def model_thin_layer(settings: ValidationSettings,
                     tractions: list[Callable[[np.ndarray, np.ndarray], np.ndarray]],
                     markers: np.ndarray) -> np.ndarray:
    """Model marker fields ``(cases, N, 3)`` (depth ``z``) for traction fields on the thin layer."""
    s = settings
    cell = s.model_cell
    n = 2 * round(5e-3 / cell) + 1  # +-5 mm, like the FE fine region
    layer = ElasticLayer(s.young, s.nu, s.thin_thickness, cell, (n, n))
    xs, gx, gy = _centred_grid(n, cell)
    idx = np.rint((markers - xs[0]) / cell).astype(int)
    if not np.allclose(xs[idx], markers, atol=1e-9):
        raise ValueError("markers must sit on the model's cell centres (multiples of model_cell)")
    out = []
    influence = layer.influence_matrix(idx)  # (3C, 3N)
    for fn in tractions:
        t = cell_average(fn, gx, gy, cell)  # (n, n, 3)
        out.append((t.reshape(-1) @ influence).reshape(-1, 3))
    return np.array(out)


def validate_thin_layer(settings: ValidationSettings) -> list[ValidationCase]:
    """Thin layer: model vs the finest FE mesh for each load, normal and normal + shear."""
    s = settings
    loads = thin_layer_loads()
    names, fields = [], []
    for name, pressure in loads.items():
        for tag, shear in (("normal", 0.0), ("shear", SHEAR_RATIO)):
            names.append(f"fem_{name}_{tag}")
            fields.append(_traction_fn(pressure, shear))
    markers = thin_layer_markers()
    fem = []
    for element in s.fem_elements:
        mesh = tactile_fem.build_mesh(s.thin_thickness, element, fine_half_width=5e-3)
        fem.append(tactile_fem.solve_layer(mesh, s.young, s.nu, fields).at(markers))
    sim = model_thin_layer(s, fields, markers)
    out = []
    for i, name in enumerate(names):
        change = float("nan")
        if len(fem) > 1:
            change = max_relative_error(fem[-2][i], fem[-1][i], noise_floor=0.0).max_relative_error
        elem_mm = s.fem_elements[-1] * 1e3
        out.append(_case(name, f"hex8 SRI finite elements, h = {s.thin_thickness * 1e3:g} mm, "
                               f"element {elem_mm:.3g} mm",
                         sim[i], fem[-1][i], FEM_TARGET, fem_last_refinement_change=change,
                         markers=len(markers)))
    return out


def sphere_indentation_force(young: float, nu: float, thickness: float, sphere_radius: float,
                             depth: float, cells_per_radius: int = 10,
                             hertz_radius: bool = True) -> float:
    """Force (N) of a frictionless rigid sphere pushed ``depth`` into a bonded layer (model).

    The surface under the sphere follows ``u_z = depth - r^2 / (2R)``. With
    ``hertz_radius`` the contact radius is fixed at ``sqrt(R depth)``, the
    assumption behind Dimitriadis et al. (2002) eq. 12, and the pressures on
    that disc solve one linear system. Otherwise the contact radius is free:
    ``u_z >= depth - r^2/(2R)`` with equality where ``p > 0`` and ``p >= 0``,
    i.e. ``min 1/2 p.A p - b.p, p >= 0``, solved as non-negative least squares
    through the Cholesky factor ``A = U^T U`` (``scipy.optimize.nnls``).
    """
    a_h = math.sqrt(sphere_radius * depth)
    cell = a_h / cells_per_radius
    reach = 1.0 if hertz_radius else 1.3
    half = math.ceil(reach * cells_per_radius) + 1
    n = 2 * half + 1
    layer = ElasticLayer(young, nu, thickness, cell, (n, n))
    _, gx, gy = _centred_grid(n, cell)
    r2 = gx * gx + gy * gy
    disc = np.flatnonzero((r2 <= (reach * a_h) ** 2).ravel())
    ix, iy = np.unravel_index(disc, (n, n))
    kzz = layer.kernel[2, 2]
    a_mat = kzz[(ix[:, None] - ix[None, :]) % layer.period[0],
                (iy[:, None] - iy[None, :]) % layer.period[1]]
    a_mat = 0.5 * (a_mat + a_mat.T)
    b = depth - r2.ravel()[disc] / (2.0 * sphere_radius)
    if hertz_radius:
        p = scipy.linalg.solve(a_mat, b, assume_a="pos")
    else:
        upper = scipy.linalg.cholesky(a_mat)
        rhs = scipy.linalg.solve_triangular(upper, b, trans="T")
        p, _ = scipy.optimize.nnls(upper, rhs, maxiter=50 * len(b))
    return float(p.sum() * cell * cell)


def validate_dimitriadis(settings: ValidationSettings) -> ValidationCase:
    """Force vs depth on the thin layer vs Dimitriadis et al. (2002) eq. 12.

    Scored with D02's own assumption (contact radius ``sqrt(R delta)``); the
    free-contact-radius forces are reported in ``details`` for comparison.
    """
    s = settings
    radius = 5.0e-3  # m; indenter radius
    h = s.thin_thickness
    depths = np.array([(chi * h) ** 2 / radius for chi in s.dimitriadis_chi])
    sim = np.array([sphere_indentation_force(s.young, s.nu, h, radius, d) for d in depths])
    free = np.array([sphere_indentation_force(s.young, s.nu, h, radius, d, hertz_radius=False)
                     for d in depths])
    ref = cm.dimitriadis_force(depths, radius, h, s.young, s.nu)
    err = float(np.max(np.abs(sim - ref) / ref))
    details = {}
    for chi, f_sim, f_free, f_ref in zip(s.dimitriadis_chi, sim, free, ref, strict=True):
        details[f"force_N_chi_{chi:g}"] = float(f_sim)
        details[f"reference_N_chi_{chi:g}"] = float(f_ref)
        details[f"free_radius_force_N_chi_{chi:g}"] = float(f_free)
    return ValidationCase(
        "dimitriadis_force_depth",
        "Dimitriadis et al. (2002) eq. 12, bonded, R = 5 mm, contact radius sqrt(R delta), "
        f"chi = {list(s.dimitriadis_chi)}",
        err, CLOSED_FORM_TARGET, bool(err <= CLOSED_FORM_TARGET), details,
    )


def run_validation(settings: ValidationSettings | None = None) -> list[ValidationCase]:
    """Run every validation case; see the module docstring."""
    s = settings if settings is not None else ValidationSettings()
    cases = validate_hertz_thick(s)
    cases.extend(validate_thin_layer(s))
    cases.append(validate_dimitriadis(s))
    return cases
