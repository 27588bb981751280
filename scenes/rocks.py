"""Rock populations from the Golombek-Rapp model and irregular convex rock meshes.

**Model.** Golombek & Rapp (1997, JGR 102, 4117) fit the cumulative fractional
area covered by rocks of diameter ``D`` or larger (metres) with

    F_k(D) = k exp(-q(k) D),   q(k) = 1.79 + 0.152 / k,

where ``k`` is the total fraction of the surface covered by rocks (Golombek et
al. 2003, JGR 108, 8086, use it for rock abundances of 5-40 %).

**Number density (derivation).** Rocks with diameters in ``[s, s + ds]`` cover
the area fraction ``-dF/ds ds``; each covers ``pi s^2 / 4`` (diameter measured in
plan view), so their number per m^2 is

    n(s) = -F'(s) / (pi s^2 / 4) = (4 k q / pi) exp(-q s) / s^2.

Integrating from ``D`` to infinity, with ``d/ds E1(q s) = -exp(-q s) / s``
(``E1`` the exponential integral, scipy.special.exp1):

    G(D) = int_D^inf exp(-q s) / s^2 ds = exp(-q D) / D - q E1(q D),
    N(>=D) = (4 k q / pi) (G(D) - G(d_max))   for rocks no larger than d_max.

(The tests check this closed form against scipy.integrate.quad.)

**Typical k.** Mars: Viking Lander 1 ~0.07, Viking Lander 2 ~0.18 (Golombek &
Rapp 1997), Mars Pathfinder 0.19 (Golombek et al. 2003). Moon: rocks are far
scarcer; Diviner-derived rock abundance is below ~1 % over nearly all of the
lunar surface (Bandfield et al. 2011, JGR 116, E00H02) and the Chang'E-4 site
has 0.21 % (Wu et al. 2021, EPSL 553, 116666). The lunar defaults in
:data:`K_LUNAR_MARE` (0.005) and :data:`K_LUNAR_HIGHLAND` (0.01) are *assumed*
values in that range. Caveat: ``q(k)`` was calibrated on Mars and Earth sites
with k of a few percent and more; at k < 0.01 it gives q > 17 /m, i.e. almost no
rocks above ~0.3 m. Pass ``q=`` explicitly to use a site-specific fit instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy import special

from scenes.terrain import _require  # one argument-check helper for scenes/*

# Golombek & Rapp (1997): q(k) = Q_A + Q_B / k, D in metres.
Q_A: float = 1.79  # 1/m (Golombek & Rapp 1997)
Q_B: float = 0.152  # 1/m (Golombek & Rapp 1997)
# Total rock area fractions k.
K_VIKING_1: float = 0.07  # Viking Lander 1 site (Golombek & Rapp 1997)
K_VIKING_2: float = 0.18  # Viking Lander 2 site (Golombek & Rapp 1997)
K_PATHFINDER: float = 0.19  # Mars Pathfinder site (Golombek et al. 2003)
K_LUNAR_MARE: float = 0.005  # assumed; Diviner RA < ~1 % (Bandfield et al. 2011)
K_LUNAR_HIGHLAND: float = 0.01  # assumed; Diviner RA < ~1 % (Bandfield et al. 2011)
# Default upper truncation of rock diameters, m (design choice: boulder fields aside,
# Golombek et al. 2003 find rocks > 2 m rare at all Mars landing sites).
DEFAULT_D_MAX: float = 2.0


@dataclass(frozen=True)
class Rocks:
    """A rock population on a rectangular patch; arrays of equal length.

    Attributes:
        x: Rock centre x (m), scene frame.
        y: Rock centre y (m), scene frame.
        diameter: Plan-view diameter D (m), as in Golombek & Rapp (1997).
    """

    x: np.ndarray  # rock centre x, m
    y: np.ndarray  # rock centre y, m
    diameter: np.ndarray  # plan-view equivalent diameter, m (Golombek & Rapp 1997)

    def __post_init__(self) -> None:
        n = len(self.x)
        for name in ("y", "diameter"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Rocks.{name} has length {len(getattr(self, name))}, expected {n} "
                    "(same as Rocks.x); pass arrays of equal length."
                )

    def __len__(self) -> int:
        return int(len(self.x))



def _check_k(k: float) -> None:
    _require(0 < k < 1 and np.isfinite(k), "k", k, "0 < k < 1 (total rock area fraction)",
             f"Mars VL1 ~{K_VIKING_1}, lunar mare ~{K_LUNAR_MARE}")


def q_of_k(k: float) -> float:
    """Golombek-Rapp decay constant ``q(k) = 1.79 + 0.152 / k`` (1/m).

    Args:
        k: Total fractional area covered by rocks, in (0, 1).

    Returns:
        ``q`` in 1/m.
    """
    _check_k(k)
    return Q_A + Q_B / k


def cumulative_area_fraction(
    d: np.ndarray | float, k: float, q: float | None = None
) -> np.ndarray:
    """Fraction of the surface covered by rocks with diameter >= ``d``: ``k exp(-q d)``.

    Args:
        d: Diameter(s), m (>= 0).
        k: Total rock area fraction, in (0, 1).
        q: Decay constant (1/m); default ``q(k)`` of Golombek & Rapp (1997).

    Returns:
        Area fraction(s), same shape as ``d``.
    """
    qq = q_of_k(k) if q is None else float(q)
    return k * np.exp(-qq * np.asarray(d, dtype=np.float64))


def _g(d: np.ndarray, q: float) -> np.ndarray:
    # int_d^inf exp(-q s) / s^2 ds = exp(-q d)/d - q E1(q d)   (see module docstring)
    d = np.asarray(d, dtype=np.float64)
    return np.exp(-q * d) / d - q * special.exp1(q * d)


def cumulative_number_density(
    d: np.ndarray | float, k: float, d_max: float = DEFAULT_D_MAX, q: float | None = None
) -> np.ndarray:
    """Rocks per m^2 with diameter in ``[d, d_max]`` (closed form via ``E1``).

    ``N(>=d) = (4 k q / pi) (G(d) - G(d_max))`` with
    ``G(x) = exp(-q x)/x - q E1(q x)``; derived in the module docstring.

    Args:
        d: Diameter(s), m (> 0).
        k: Total rock area fraction, in (0, 1).
        d_max: Largest rock diameter, m; ``np.inf`` for no truncation.
        q: Decay constant (1/m); default ``q(k)``.

    Returns:
        Number density (1/m^2), same shape as ``d``; zero for ``d >= d_max``.
    """
    _check_k(k)
    qq = q_of_k(k) if q is None else float(q)
    d = np.asarray(d, dtype=np.float64)
    _require(bool(np.all(d > 0)), "d", "values <= 0", "> 0 m",
             "the number density diverges at zero diameter; use a positive d_min")
    g_max = 0.0 if np.isinf(d_max) else float(_g(np.asarray(d_max), qq))
    n = (4.0 * k * qq / np.pi) * (_g(np.minimum(d, d_max), qq) - g_max)
    return np.maximum(n, 0.0)


def sample_rocks(
    size_x: float,
    size_y: float,
    k: float,
    d_min: float,
    d_max: float,
    rng: np.random.Generator,
    q: float | None = None,
    n_table: int = 2048,
) -> Rocks:
    """Sample rocks with diameters in ``[d_min, d_max]`` on a ``size_x x size_y`` patch.

    Count ~ Poisson(``size_x size_y N(>=d_min)``); centres uniform over the patch;
    diameters by inverse CDF from a table of the closed-form ``N(>=D)`` on a
    log-spaced grid (``CDF(D) = 1 - N(>=D) / N(>=d_min)``, interpolated in ``ln D``).

    Args:
        size_x: Patch extent along x, m (> 0).
        size_y: Patch extent along y, m (> 0).
        k: Total rock area fraction, in (0, 1).
        d_min: Smallest rock diameter, m (> 0).
        d_max: Largest rock diameter, m (> d_min).
        rng: The scene's random generator.
        q: Decay constant (1/m); default ``q(k)`` of Golombek & Rapp (1997).
        n_table: Number of CDF table nodes.

    Returns:
        The sampled :class:`Rocks` (possibly empty).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    _require(size_x > 0 and np.isfinite(size_x), "size_x", size_x, "finite > 0 m",
             "give the patch extent along x")
    _require(size_y > 0 and np.isfinite(size_y), "size_y", size_y, "finite > 0 m",
             "give the patch extent along y")
    _check_k(k)
    _require(d_min > 0, "d_min", d_min, "> 0 m", "e.g. 0.05 m for rover-relevant rocks")
    _require(d_max > d_min, "d_max", d_max, f"> d_min={d_min} m",
             "raise d_max or lower d_min")
    _require(q is None or q > 0, "q", q, "None or > 0 per m", "omit q to use q(k)")
    nodes = np.geomspace(d_min, d_max, n_table)
    ncum = cumulative_number_density(nodes, k, d_max=d_max, q=q)
    total = float(ncum[0])
    n = int(rng.poisson(size_x * size_y * total))
    u = rng.random(n)
    cdf = 1.0 - ncum / total
    cdf[-1] = 1.0
    diameter = np.exp(np.interp(u, cdf, np.log(nodes)))
    x = rng.uniform(-0.5 * size_x, 0.5 * size_x, n)
    y = rng.uniform(-0.5 * size_y, 0.5 * size_y, n)
    return Rocks(x=x, y=y, diameter=diameter)


def plan_view_diameter(vertices: np.ndarray) -> float:
    """Equivalent diameter of a rock: mean of the sides of its plan-view bounding box.

    The plan-view outline (projection on the x-y plane) is enclosed by its
    minimum-area rectangle (trimesh.bounds.oriented_bounds_2D); the mean of the
    long and short sides is the rock diameter as measured from above in lander
    and orbital images (the long and intermediate axes of a rock lying flat).

    Args:
        vertices: ``(n, 3)`` vertex positions, m.

    Returns:
        The equivalent diameter, m.
    """
    _, extents = trimesh.bounds.oriented_bounds_2D(np.asarray(vertices)[:, :2])
    return float(np.mean(extents))


def rock_mesh(
    diameter: float,
    rng: np.random.Generator,
    n_points: int = 24,
    elongation_range: tuple[float, float] = (0.6, 1.0),
    roughness: float = 0.15,
) -> trimesh.Trimesh:
    """An irregular convex rock: hull of jittered points on a random ellipsoid.

    Semi-axes ``a >= b >= c`` along x, y, z with ``b/a`` and ``c/b`` drawn from
    ``elongation_range``; ``n_points`` random directions are placed on the
    ellipsoid with radial jitter ``U(1 - roughness, 1)``, and their convex hull
    (trimesh.convex.convex_hull) is scaled so that :func:`plan_view_diameter`
    equals ``diameter`` (the Golombek-Rapp diameter; the short axis is vertical,
    as for a rock lying on its flattest side). The mesh gets a random yaw and is
    centred at its volume centroid.

    ``mesh.metadata`` holds ``"equivalent_diameter"`` (m), ``"height"`` (z
    extent, m) and ``"bottom_offset"`` (m, centroid height above the lowest
    vertex): put the body at ``surface_z + bottom_offset`` to rest it on the
    ground (or lower it to bury it partially).

    Args:
        diameter: Target plan-view diameter, m (> 0).
        rng: Random generator.
        n_points: Points on the ellipsoid (>= 8).
        elongation_range: Bounds of the axis ratios ``b/a`` and ``c/b``, in (0, 1].
        roughness: Relative radial jitter of the points, in [0, 0.5].

    Returns:
        A watertight convex :class:`trimesh.Trimesh`.

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    _require(diameter > 0 and np.isfinite(diameter), "diameter", diameter, "finite > 0 m",
             "pass the rock's plan-view diameter in metres")
    _require(int(n_points) == n_points and n_points >= 8, "n_points", n_points,
             "an integer >= 8", "use the default 24")
    lo, hi = (float(v) for v in elongation_range)
    _require(0 < lo <= hi <= 1, "elongation_range", elongation_range,
             "0 < lo <= hi <= 1", "use the default (0.6, 1.0)")
    _require(0 <= roughness <= 0.5, "roughness", roughness, "0 <= roughness <= 0.5",
             "use the default 0.15")
    b_over_a, c_over_b = rng.uniform(lo, hi, 2)
    axes = np.array([1.0, b_over_a, b_over_a * c_over_b])
    dirs = rng.standard_normal((int(n_points), 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    radial = rng.uniform(1.0 - roughness, 1.0, (int(n_points), 1))
    # Six axis tips keep the hull's extents close to the ellipsoid's for few points.
    tips = np.vstack([np.diag(axes), -np.diag(axes)])
    pts = np.vstack([dirs * axes * radial, tips * rng.uniform(1.0 - roughness, 1.0, (6, 1))])
    mesh = trimesh.convex.convex_hull(pts)
    mesh.apply_scale(diameter / plan_view_diameter(mesh.vertices))
    yaw = rng.uniform(0.0, 2.0 * np.pi)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(yaw, [0.0, 0.0, 1.0]))
    mesh.apply_translation(-mesh.center_mass)
    mesh.metadata["equivalent_diameter"] = plan_view_diameter(mesh.vertices)
    mesh.metadata["height"] = float(np.ptp(mesh.vertices[:, 2]))
    mesh.metadata["bottom_offset"] = float(-mesh.vertices[:, 2].min())
    return mesh
