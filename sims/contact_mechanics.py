"""Closed-form contact mechanics used to drive and validate the tactile gel model.

Sign and frame conventions (all SI units):

* Surface coordinates ``x, y`` (metres) lie in the undeformed gel surface;
  ``z`` is the *depth* into the elastic body, so a pressure pushes material
  towards ``+z`` and an indentation gives ``u_z > 0``.
* Tractions are those applied *on* the body surface: pressure ``p`` (Pa,
  compressive positive) and tangential tractions ``q_x, q_y`` (Pa).

Sources:

* K. L. Johnson, *Contact Mechanics*, Cambridge University Press, 1985 (J85):
  Boussinesq point load eq. 3.22 (surface values), Cerruti point load
  eq. 2.19 / 3.4 (surface values), Hertz pressure and its surface
  displacements eqs. 3.41-3.42, Hertz sphere contact eqs. 4.22-4.23,
  Hertz-shaped tangential traction eqs. 3.91-3.92, flat punch eq. 3.35,
  2-D cylinder contact eqs. 4.45-4.46 (plane strain).
* E. K. Dimitriadis, F. Horkay, J. Maresca, B. Kachar, R. S. Chadwick,
  "Determination of elastic moduli of thin layers of soft material using the
  atomic force microscope", Biophys. J. 82(5):2798-2810, 2002 (D02): force vs
  depth of a rigid sphere on a layer bonded to a rigid substrate, eqs. 12-13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _check_positive(name: str, value: float, unit: str) -> None:
    """Raise ``ValueError`` unless ``value`` is finite and > 0."""
    if not (np.isfinite(value) and value > 0.0):
        raise ValueError(f"{name}={value!r} {unit}; expected a finite value > 0")


def _check_poisson(nu: float) -> None:
    """Raise ``ValueError`` unless ``-1 < nu < 0.5``."""
    if not (np.isfinite(nu) and -1.0 < nu < 0.5):
        raise ValueError(
            f"nu={nu!r}; expected -1 < nu < 0.5 (isotropic, compressible; "
            "use e.g. 0.49 for nearly incompressible silicone)"
        )


def shear_modulus(young: float, nu: float) -> float:
    """Shear modulus ``G = E / (2 (1 + nu))`` (Pa)."""
    _check_positive("young", young, "Pa")
    _check_poisson(nu)
    return young / (2.0 * (1.0 + nu))


def contact_modulus(young: float, nu: float) -> float:
    """Plane-strain modulus ``E* = E / (1 - nu^2)`` against a rigid indenter (Pa, J85 eq. 4.22)."""
    _check_positive("young", young, "Pa")
    _check_poisson(nu)
    return young / (1.0 - nu * nu)


@dataclass(frozen=True)
class HertzContact:
    """A Hertz sphere-on-flat contact (rigid sphere on an elastic half-space).

    Attributes:
        radius: Contact radius ``a`` (m).
        peak_pressure: Peak pressure ``p0`` (Pa).
        depth: Approach (indentation depth) ``delta`` (m).
        force: Normal force ``P`` (N).
    """

    radius: float
    peak_pressure: float
    depth: float
    force: float


def hertz_sphere(force: float, sphere_radius: float, young: float, nu: float) -> HertzContact:
    """Hertz contact of a rigid sphere pressed on an elastic half-space (J85 eqs. 4.22-4.23).

    ``a = (3 P R / (4 E*))^(1/3)``, ``p0 = 3 P / (2 pi a^2)``, ``delta = a^2 / R``.

    Args:
        force: Normal force ``P`` (N, >= 0).
        sphere_radius: Sphere radius ``R`` (m, > 0).
        young: Young's modulus of the elastic body (Pa).
        nu: Poisson ratio of the elastic body.

    Returns:
        The contact's radius, peak pressure, depth and force.
    """
    if not (np.isfinite(force) and force >= 0.0):
        raise ValueError(f"force={force!r} N; expected a finite value >= 0")
    _check_positive("sphere_radius", sphere_radius, "m")
    e_star = contact_modulus(young, nu)
    a = (3.0 * force * sphere_radius / (4.0 * e_star)) ** (1.0 / 3.0)
    p0 = 3.0 * force / (2.0 * np.pi * a * a) if a > 0.0 else 0.0
    return HertzContact(radius=a, peak_pressure=p0, depth=a * a / sphere_radius, force=force)


def hertz_pressure(r: np.ndarray, radius: float, peak_pressure: float) -> np.ndarray:
    """Hertz pressure ``p0 sqrt(1 - r^2/a^2)`` inside ``r < a``, zero outside (Pa, J85 eq. 3.39)."""
    r = np.asarray(r, dtype=float)
    s = np.clip(1.0 - (r / radius) ** 2, 0.0, None)
    return peak_pressure * np.sqrt(s)


def hertz_normal_displacement(
    r: np.ndarray, radius: float, peak_pressure: float, young: float, nu: float
) -> tuple[np.ndarray, np.ndarray]:
    """Surface displacements of a half-space under the Hertz pressure (J85 eqs. 3.41-3.42).

    Inside ``r <= a``: ``u_z = (1-nu^2)/E * pi p0 (2a^2 - r^2) / (4a)`` and
    ``u_r = -(1-2nu)(1+nu)/(3E) * a^2 p0 / r * (1 - (1 - r^2/a^2)^(3/2))``.
    Outside: ``u_z = (1-nu^2)/E * p0/(2a) * ((2a^2 - r^2) asin(a/r) + r a sqrt(1 - a^2/r^2))``
    and ``u_r = -(1-2nu)(1+nu)/(3E) * a^2 p0 / r``.

    Args:
        r: Radial distances from the contact centre (m).
        radius: Contact radius ``a`` (m).
        peak_pressure: Peak pressure ``p0`` (Pa).
        young: Young's modulus (Pa).
        nu: Poisson ratio.

    Returns:
        ``(u_z, u_r)`` in metres; ``u_z`` positive into the body, ``u_r``
        positive away from the centre (it is negative: material moves inwards).
    """
    _check_positive("radius", radius, "m")
    _check_poisson(nu)
    r = np.asarray(r, dtype=float)
    a, p0 = radius, peak_pressure
    k = (1.0 - nu * nu) / young
    inside = r <= a
    rr = np.maximum(r, 1e-300)
    uz_in = k * np.pi * p0 * (2.0 * a * a - r * r) / (4.0 * a)
    ratio = np.clip(a / rr, 0.0, 1.0)
    uz_out = k * p0 / (2.0 * a) * (
        (2.0 * a * a - r * r) * np.arcsin(ratio) + r * a * np.sqrt(np.clip(1.0 - ratio**2, 0, None))
    )
    u_z = np.where(inside, uz_in, uz_out)
    c = -(1.0 - 2.0 * nu) * (1.0 + nu) / (3.0 * young) * a * a * p0
    shape = 1.0 - np.clip(1.0 - (r / a) ** 2, 0.0, None) ** 1.5
    u_r = np.where(r > 0.0, c / rr * shape, 0.0)
    return u_z, u_r


def hertz_tangential_displacement_inside(
    x: np.ndarray, y: np.ndarray, radius: float, peak_traction: float, young: float, nu: float
) -> np.ndarray:
    """Surface displacement inside a circle loaded by ``q_x = q0 sqrt(1 - r^2/a^2)`` (J85 3.91-3.92).

    ``u_x = pi q0 / (32 G a) * (4(2-nu) a^2 - (4-3nu) x^2 - (4-nu) y^2)``,
    ``u_y = pi q0 / (32 G a) * 2 nu x y`` for ``r <= a``. The normal component
    follows from Betti's reciprocal theorem applied to the Hertz pressure's
    radial displacement (J85 eq. 3.41b):
    ``u_z = (1-2nu)/(6G) * a^2 q0 x / r^2 * (1 - (1 - r^2/a^2)^(3/2))``
    (into the body ahead of the traction).

    Args:
        x: Surface x coordinates (m), inside the loaded circle.
        y: Surface y coordinates (m), same shape.
        radius: Loaded circle radius ``a`` (m).
        peak_traction: ``q0`` (Pa), acting along +x.
        young: Young's modulus (Pa).
        nu: Poisson ratio.

    Returns:
        ``(..., 3)`` displacements (m), ``z`` positive into the body.

    Raises:
        ValueError: If any point lies outside ``r <= a`` (the formulas hold inside only).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    a, q0 = radius, peak_traction
    r2 = x * x + y * y
    if np.any(r2 > a * a * (1.0 + 1e-9)):
        raise ValueError(
            "hertz_tangential_displacement_inside got points with r > a; J85 eq. 3.92 holds "
            "for r <= a only (use cerruti_point_displacement for the far field)"
        )
    g = shear_modulus(young, nu)
    c = np.pi * q0 / (32.0 * g * a)
    u_x = c * (4.0 * (2.0 - nu) * a * a - (4.0 - 3.0 * nu) * x * x - (4.0 - nu) * y * y)
    u_y = c * 2.0 * nu * x * y
    safe = np.maximum(r2, 1e-300)
    shape = 1.0 - np.clip(1.0 - r2 / (a * a), 0.0, None) ** 1.5
    u_z = np.where(r2 > 0, (1.0 - 2.0 * nu) / (6.0 * g) * a * a * q0 * x / safe * shape, 0.0)
    return np.stack([u_x, u_y, u_z], axis=-1)


def cerruti_point_displacement(
    x: np.ndarray, y: np.ndarray, force: float, young: float, nu: float
) -> np.ndarray:
    """Surface displacement of a half-space under a tangential point force along +x (J85 eq. 3.4).

    At ``z = 0``: ``u_x = Q/(4 pi G r) (2(1-nu) + 2 nu x^2/r^2)``,
    ``u_y = Q/(4 pi G r) 2 nu x y / r^2``, ``u_z = (1-2nu) Q x / (4 pi G r^2)``.

    Args:
        x: Surface x coordinates relative to the force (m), ``r > 0``.
        y: Surface y coordinates (m).
        force: Tangential force ``Q`` (N) along +x.
        young: Young's modulus (Pa).
        nu: Poisson ratio.

    Returns:
        ``(..., 3)`` displacements (m), ``z`` positive into the body.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    g = shear_modulus(young, nu)
    r = np.sqrt(x * x + y * y)
    c = force / (4.0 * np.pi * g * r)
    u_x = c * (2.0 * (1.0 - nu) + 2.0 * nu * x * x / (r * r))
    u_y = c * 2.0 * nu * x * y / (r * r)
    u_z = c * (1.0 - 2.0 * nu) * x / r
    return np.stack([u_x, u_y, u_z], axis=-1)


def boussinesq_point_displacement(
    r: np.ndarray, force: float, young: float, nu: float
) -> tuple[np.ndarray, np.ndarray]:
    """Surface displacement of a half-space under a normal point force (J85 eq. 3.22).

    ``u_z = (1-nu^2) P / (pi E r)``, ``u_r = -(1-2nu)(1+nu) P / (2 pi E r)``.

    Returns:
        ``(u_z, u_r)`` (m), ``u_z`` positive into the body.
    """
    r = np.asarray(r, dtype=float)
    u_z = (1.0 - nu * nu) * force / (np.pi * young * r)
    u_r = -(1.0 - 2.0 * nu) * (1.0 + nu) * force / (2.0 * np.pi * young * r)
    return u_z, u_r


def flat_punch_pressure(
    r: np.ndarray, radius: float, force: float, edge_width: float = 0.0
) -> np.ndarray:
    """Pressure under a rigid flat circular punch, ``P / (2 pi a sqrt(a^2 - r^2))`` (Pa, J85 3.35).

    With ``edge_width = w > 0`` the edge singularity is capped where
    ``a^2 - r^2 < 2 a w`` (a punch whose edge is rounded over about ``w``) and the
    field is rescaled by ``1 / (1 - sqrt(2 a w) / (2 a))`` so it still carries
    exactly ``P``. With ``w = 0`` points at ``r = a`` get the value at
    ``r^2 = a^2 (1 - 1e-6)`` so arrays stay finite.

    Args:
        r: Radial distances (m).
        radius: Punch radius ``a`` (m).
        force: Punch force ``P`` (N).
        edge_width: Width of the rounded edge ``w`` (m, 0 <= w < a / 2).
    """
    if not (0.0 <= edge_width < radius / 2):
        raise ValueError(f"edge_width={edge_width!r} m; expected 0 <= edge_width < radius/2")
    r = np.asarray(r, dtype=float)
    cap = max(2.0 * radius * edge_width, 1e-6 * radius * radius)
    s = np.maximum(radius * radius - r * r, cap)
    scale = 1.0 / (1.0 - math.sqrt(2.0 * radius * edge_width) / (2.0 * radius))
    return np.where(r < radius, scale * force / (2.0 * np.pi * radius * np.sqrt(s)), 0.0)


def hertz_cylinder_half_width(
    force_per_length: float, cylinder_radius: float, young: float, nu: float
) -> tuple[float, float]:
    """Half-width ``b`` and peak pressure ``p0`` of a rigid cylinder on a half-space (J85 4.45-4.46).

    ``b = sqrt(4 P' R / (pi E*))``, ``p0 = 2 P' / (pi b)``.

    Returns:
        ``(b, p0)`` in metres and pascals.
    """
    _check_positive("cylinder_radius", cylinder_radius, "m")
    e_star = contact_modulus(young, nu)
    b = np.sqrt(4.0 * force_per_length * cylinder_radius / (np.pi * e_star))
    return float(b), float(2.0 * force_per_length / (np.pi * b)) if b > 0 else 0.0


def dimitriadis_bonded_coefficients(nu: float) -> tuple[float, float]:
    """``alpha0, beta0`` of D02 eq. 13 for a layer bonded to a rigid substrate.

    ``alpha0 = -(1.2876 - 1.4678 nu + 1.3442 nu^2) / (1 - nu)``,
    ``beta0 = (0.6387 - 1.0277 nu + 1.5164 nu^2) / (1 - nu)``.
    """
    _check_poisson(nu)
    alpha0 = -(1.2876 - 1.4678 * nu + 1.3442 * nu * nu) / (1.0 - nu)
    beta0 = (0.6387 - 1.0277 * nu + 1.5164 * nu * nu) / (1.0 - nu)
    return alpha0, beta0


def dimitriadis_force(
    depth: np.ndarray, sphere_radius: float, thickness: float, young: float, nu: float
) -> np.ndarray:
    """Force on a rigid sphere indenting a layer bonded to a rigid base (D02 eq. 12).

    ``F = 4 E R^(1/2) delta^(3/2) / (3 (1 - nu^2)) * [1 - 2 a0 chi / pi + 4 a0^2 chi^2 / pi^2
    - 8 (a0^3 + 4 pi^2 b0 / 15) chi^3 / pi^3 + 16 a0 (a0^3 + 3 pi^2 b0 / 5) chi^4 / pi^4]``
    with ``chi = sqrt(R delta) / h``. D02 state the series for ``chi`` up to
    about 1 (the quartic term's sign differs between D02's general eq. 12 and
    its nu = 0.5 eq. 11; at ``chi <= 0.7`` the term is below 1 % of ``F``).

    Args:
        depth: Indentation depths ``delta`` (m, >= 0).
        sphere_radius: Sphere radius ``R`` (m).
        thickness: Layer thickness ``h`` (m).
        young: Young's modulus of the layer (Pa).
        nu: Poisson ratio of the layer.

    Returns:
        Forces (N), same shape as ``depth``.
    """
    _check_positive("thickness", thickness, "m")
    _check_positive("sphere_radius", sphere_radius, "m")
    d = np.asarray(depth, dtype=float)
    a0, b0 = dimitriadis_bonded_coefficients(nu)
    chi = np.sqrt(sphere_radius * d) / thickness
    pi = np.pi
    series = (
        1.0
        - 2.0 * a0 / pi * chi
        + 4.0 * a0 * a0 / pi**2 * chi**2
        - 8.0 / pi**3 * (a0**3 + 4.0 * pi**2 * b0 / 15.0) * chi**3
        + 16.0 * a0 / pi**4 * (a0**3 + 3.0 * pi**2 * b0 / 5.0) * chi**4
    )
    hertz = 4.0 * young * np.sqrt(sphere_radius) * d**1.5 / (3.0 * (1.0 - nu * nu))
    return hertz * series
