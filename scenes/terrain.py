"""Physics-grounded heightfield terrain: craters, fractal roughness, slope.

Everything here is pure numpy/scipy (no MuJoCo), so the scene builder can call it
with plain arguments and the scene library can generate thousands of terrains
per minute.

Models and their sources:

* **Crater size-frequency distribution (SFD).** Cumulative number of craters per
  square metre with diameter larger than ``D`` (metres) is a power law
  ``N(>D) = c * D**(-b)``. Small lunar craters (metres to a few hundred metres)
  are in *equilibrium* (production balanced by degradation) with ``b = 2``
  (Gault 1970, Radio Science 5, 273; Moore, Boyce & Hahn 1980, The Moon and the
  Planets 23, 231; Minton et al. 2019, Icarus 326, 63). Fresh *production*
  populations are steeper, ``b ~ 2.8`` (Moore et al. 1980).
* **Depth/diameter.** Fresh simple lunar craters have ``d/D ~ 0.2``
  (Pike 1974, GRL 1, 291; Pike 1977, in Impact and Explosion Cratering,
  ``d = 0.196 D**1.010`` km); small craters (tens to hundreds of metres) degrade
  towards ``d/D ~ 0.05`` (Basilevsky 1976, Proc. LSC 7; Stopar et al. 2017,
  Icarus 298, 34; the Chang'E-4 site averages 0.061 for decimetre-to-metre
  craters, Wu et al. 2021, EPSL 553, 116666).
* **Rim height.** Fresh simple craters: ``h_r = 0.036 D**1.014`` km (Pike 1977).
  Degradation lowers floor and rim together; we scale the Pike rim height by
  ``(d/D) / 0.196`` (a linear-diffusion simplification: an assumption, stated).
* **Ejecta blanket.** Thickness decays as ``(r/R)**-3`` outside the rim
  (McGetchin, Settle & Head 1973, EPSL 20, 226).
* **Base roughness.** Planetary topography is self-affine over rover scales
  (Shepard et al. 2001, JGR 106, 32777; Rosenburg et al. 2011, JGR 116, E02001
  give lunar Hurst exponents ~0.8-0.95): a fractional Brownian surface with power
  spectrum ``P(k) ~ k**-(2H+2)``, made by spectral synthesis (Saupe 1988, The
  Science of Fractal Images).

Grid convention (matches MuJoCo's hfield): a height array ``hf`` of shape
``(nrow, ncol)`` covers ``[-size_x/2, size_x/2] x [-size_y/2, size_y/2]``;
column ``j`` is at ``x = -size_x/2 + j * size_x / (ncol - 1)`` and row ``i`` at
``y = -size_y/2 + i * size_y / (nrow - 1)`` (row 0 at ``y = -size_y/2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

# Equilibrium cumulative SFD exponent of small lunar craters, N(>D) ~ D^-2
# (Gault 1970; Moore et al. 1980; Minton et al. 2019).
EQUILIBRIUM_EXPONENT: float = 2.0
# Production-population exponent of fresh small lunar craters, N(>D) ~ D^-2.8
# (Moore, Boyce & Hahn 1980).
PRODUCTION_EXPONENT: float = 2.8
# Geometric saturation, N(>D) = 1.54 D^-2 per m^2 with D in m (Gault 1970).
GEOMETRIC_SATURATION_COEFF: float = 1.54
# Lunar-mare equilibrium density, N(>D) = 10^10.9 D^-2 per 10^6 km^2 with D in m
# (Trask 1966, Ranger VIII/IX, JPL TR 32-800), i.e. 10^-1.1 = 0.079 per m^2:
# ~5 % of geometric saturation, the "few percent" of Minton et al. 2019.
LUNAR_EQUILIBRIUM_DENSITY_COEFF: float = 10.0**-1.1
# Fresh simple lunar craters: d/D ~ 0.2 (Pike 1974); d = 0.196 D^1.010 km (Pike 1977).
FRESH_DEPTH_RATIO: float = 0.196
# Degraded small lunar craters: d/D ~ 0.05 (Basilevsky 1976; Stopar et al. 2017).
DEGRADED_DEPTH_RATIO: float = 0.05
# Fresh simple crater rim height h_r = 0.036 D^1.014, h_r and D in km (Pike 1977).
PIKE_RIM_COEFF_KM: float = 0.036
PIKE_RIM_EXPONENT: float = 1.014
# Ejecta thickness ~ (r/R)^-3 outside the rim (McGetchin, Settle & Head 1973).
EJECTA_DECAY_EXPONENT: float = 3.0
# Radius (in crater radii) where the ejecta term is brought to zero. At 3 R the
# McGetchin thickness is 1/27 of the rim value; beyond it we ignore ejecta (design choice).
EJECTA_CUTOFF_RNORM: float = 3.0


@dataclass(frozen=True)
class Craters:
    """A set of simple craters; all arrays have the same length, units metres.

    Attributes:
        x: Crater centre x (m), scene frame.
        y: Crater centre y (m), scene frame.
        diameter: Rim-to-rim diameter D (m).
        depth: Floor depth below the pre-impact surface (m).
        rim_height: Rim crest height above the pre-impact surface (m).
    """

    x: np.ndarray  # crater centre x, m
    y: np.ndarray  # crater centre y, m
    diameter: np.ndarray  # rim-to-rim diameter, m
    depth: np.ndarray  # floor depth below pre-impact surface, m
    rim_height: np.ndarray  # rim height above pre-impact surface, m (Pike 1977 scaled)

    def __post_init__(self) -> None:
        n = len(self.x)
        for name in ("y", "diameter", "depth", "rim_height"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Craters.{name} has length {len(getattr(self, name))}, expected {n} "
                    "(same as Craters.x); pass arrays of equal length."
                )

    def __len__(self) -> int:
        return int(len(self.x))

    @staticmethod
    def empty() -> Craters:
        """Return a crater set with no craters."""
        z = np.zeros(0)
        return Craters(x=z, y=z.copy(), diameter=z.copy(), depth=z.copy(), rim_height=z.copy())


def _require(ok: bool, field: str, value: object, accepted: str, remedy: str) -> None:
    if not ok:
        raise ValueError(f"{field}={value!r} is invalid: accepted {accepted}; {remedy}.")


def pike_rim_height(diameter: np.ndarray | float) -> np.ndarray:
    """Rim height of a fresh simple lunar crater (Pike 1977).

    Args:
        diameter: Rim-to-rim diameter(s), metres.

    Returns:
        Rim height(s) in metres, ``1000 * 0.036 * (D/1000)**1.014``.
    """
    d_km = np.asarray(diameter, dtype=np.float64) / 1000.0
    return 1000.0 * PIKE_RIM_COEFF_KM * d_km**PIKE_RIM_EXPONENT


def expected_crater_count(
    area: float, density_coeff: float, exponent: float, d_min: float, d_max: float
) -> float:
    """Expected number of craters with ``d_min <= D < d_max`` on ``area`` square metres.

    Args:
        area: Surface area, m^2.
        density_coeff: ``c`` in ``N(>D) = c D**-b`` (per m^2, D in m).
        exponent: Cumulative exponent ``b``.
        d_min: Smallest diameter, m.
        d_max: Largest diameter, m.

    Returns:
        ``area * c * (d_min**-b - d_max**-b)``.
    """
    return float(area * density_coeff * (d_min ** (-exponent) - d_max ** (-exponent)))


def sample_craters(
    size_x: float,
    size_y: float,
    density_coeff: float,
    exponent: float,
    d_min: float,
    d_max: float,
    depth_ratio_range: tuple[float, float],
    rng: np.random.Generator,
) -> Craters:
    """Sample craters from a truncated cumulative power-law size-frequency distribution.

    The cumulative density is ``N(>D) = density_coeff * D**-exponent`` per m^2.
    Craters near the border must be able to reach into the patch, so centres are
    drawn uniformly over the patch enlarged by ``d_max / 2`` on every side, with
    the Poisson mean scaled by the enlarged area (the areal density is unchanged):
    ``mean = (size_x + d_max) (size_y + d_max) (N(>d_min) - N(>d_max))``. The
    craters whose centres fall inside the nominal patch are therefore a Poisson
    sample with mean ``size_x * size_y * (N(>d_min) - N(>d_max))``.

    Diameters follow the truncated power law by inverse CDF,
    ``D = (d_min**-b - u (d_min**-b - d_max**-b))**(-1/b)``, ``u ~ U(0, 1)``.
    Depth ratio ``d/D ~ U(depth_ratio_range)`` (fresh ~0.2, Pike 1974; degraded
    ~0.05, Basilevsky 1976 / Stopar et al. 2017); rim height is the Pike (1977)
    fresh rim scaled by ``(d/D) / 0.196``.

    Args:
        size_x: Patch extent along x, m (> 0).
        size_y: Patch extent along y, m (> 0).
        density_coeff: ``c`` of ``N(>D) = c D**-b``, per m^2 with D in m (>= 0);
            lunar equilibrium ~0.079 (:data:`LUNAR_EQUILIBRIUM_DENSITY_COEFF`).
        exponent: Cumulative exponent ``b`` (> 0); 2 for equilibrium.
        d_min: Smallest crater diameter, m (> 0).
        d_max: Largest crater diameter, m (> d_min).
        depth_ratio_range: ``(lo, hi)`` bounds of the depth/diameter ratio,
            ``0 < lo <= hi <= 0.5``.
        rng: The scene's random generator.

    Returns:
        The sampled :class:`Craters` (possibly empty).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    _require(size_x > 0 and np.isfinite(size_x), "size_x", size_x, "a finite value > 0 m",
             "give the terrain extent along x in metres")
    _require(size_y > 0 and np.isfinite(size_y), "size_y", size_y, "a finite value > 0 m",
             "give the terrain extent along y in metres")
    _require(density_coeff >= 0 and np.isfinite(density_coeff), "density_coeff",
             density_coeff, "a finite value >= 0 per m^2",
             f"lunar equilibrium is {LUNAR_EQUILIBRIUM_DENSITY_COEFF:.3f}")
    _require(exponent > 0 and np.isfinite(exponent), "exponent", exponent, "> 0",
             "use 2.0 for equilibrium, ~2.8 for a production population")
    _require(d_min > 0, "d_min", d_min, "> 0 m", "set a positive smallest crater diameter")
    _require(d_max > d_min, "d_max", d_max, f"> d_min={d_min} m",
             "raise d_max or lower d_min")
    lo, hi = (float(v) for v in depth_ratio_range)
    _require(0 < lo <= hi <= 0.5, "depth_ratio_range", depth_ratio_range,
             "0 < lo <= hi <= 0.5", "fresh craters ~0.2, degraded ~0.05")

    area = (size_x + d_max) * (size_y + d_max)
    mean = expected_crater_count(area, density_coeff, exponent, d_min, d_max)
    n = int(rng.poisson(mean))
    a, c = d_min ** (-exponent), d_max ** (-exponent)
    u = rng.random(n)
    diameter = (a - u * (a - c)) ** (-1.0 / exponent)
    x = rng.uniform(-0.5 * (size_x + d_max), 0.5 * (size_x + d_max), n)
    y = rng.uniform(-0.5 * (size_y + d_max), 0.5 * (size_y + d_max), n)
    ratio = rng.uniform(lo, hi, n)
    depth = ratio * diameter
    rim = pike_rim_height(diameter) * (ratio / FRESH_DEPTH_RATIO)
    return Craters(x=x, y=y, diameter=diameter, depth=depth, rim_height=rim)


def crater_profile(
    r_norm: np.ndarray,
    depth: float,
    rim_height: float,
    ejecta_cutoff: float = EJECTA_CUTOFF_RNORM,
) -> np.ndarray:
    """Height of a simple crater relative to the pre-impact surface.

    Inside (``r/R <= 1``): parabolic bowl ``-depth + (depth + rim) (r/R)**2``, so
    the floor is at ``-depth`` and the rim crest at ``+rim``. Outside: ejecta
    blanket ``rim (r/R)**-3`` (McGetchin et al. 1973), offset and rescaled to
    reach exactly zero at ``ejecta_cutoff`` so that the profile stays continuous
    at the rim and at the cutoff: ``rim (s**-3 - s_c**-3) / (1 - s_c**-3)``.

    Args:
        r_norm: Distance from the crater centre divided by the radius R (>= 0).
        depth: Floor depth, m (>= 0).
        rim_height: Rim height, m (>= 0).
        ejecta_cutoff: ``r/R`` beyond which the profile is zero (> 1).

    Returns:
        Heights (m), same shape as ``r_norm``.
    """
    s = np.asarray(r_norm, dtype=np.float64)
    inside = -depth + (depth + rim_height) * s * s
    inv_c3 = ejecta_cutoff ** (-EJECTA_DECAY_EXPONENT)
    with np.errstate(divide="ignore"):
        decay = (np.maximum(s, 1.0) ** (-EJECTA_DECAY_EXPONENT) - inv_c3) / (1.0 - inv_c3)
    outside = rim_height * np.maximum(decay, 0.0)
    return np.where(s <= 1.0, inside, outside)


def grid_axes(size_x: float, size_y: float, nrow: int, ncol: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates of the heightfield grid.

    Args:
        size_x: Extent along x, m.
        size_y: Extent along y, m.
        nrow: Number of rows (along y).
        ncol: Number of columns (along x).

    Returns:
        ``(x, y)``: ``x`` of length ``ncol`` and ``y`` of length ``nrow`` (m).
    """
    return (
        np.linspace(-0.5 * size_x, 0.5 * size_x, ncol),
        np.linspace(-0.5 * size_y, 0.5 * size_y, nrow),
    )


def fbm_surface(
    nrow: int, ncol: int, dx: float, dy: float, rms: float, hurst: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Fractional Brownian surface by FFT spectral synthesis, zero mean, given RMS.

    White Gaussian noise is filtered in the Fourier domain by ``|k|**-(H+1)``
    (power spectrum ``k**-(2H+2)``, Saupe 1988), the DC term removed, and the
    result rescaled so that its standard deviation equals ``rms`` exactly.

    Args:
        nrow: Rows (y samples).
        ncol: Columns (x samples).
        dx: Column spacing, m.
        dy: Row spacing, m.
        rms: Target RMS height, m (>= 0).
        hurst: Hurst exponent H in (0, 1].
        rng: Random generator.

    Returns:
        ``(nrow, ncol)`` heights in metres.
    """
    noise = rng.standard_normal((nrow, ncol))
    if rms == 0.0:
        return np.zeros((nrow, ncol))
    spec = np.fft.rfft2(noise)
    ky = np.fft.fftfreq(nrow, d=dy)[:, None]
    kx = np.fft.rfftfreq(ncol, d=dx)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    filt = k ** (-(hurst + 1.0))
    filt[0, 0] = 0.0
    z = np.fft.irfft2(spec * filt, s=(nrow, ncol))
    z -= z.mean()
    std = z.std()
    return z * (rms / std) if std > 0 else z


def add_craters(
    hf: np.ndarray, size_x: float, size_y: float, craters: Craters,
    ejecta_cutoff: float = EJECTA_CUTOFF_RNORM,
) -> np.ndarray:
    """Add each crater's profile to ``hf`` in place, over its bounding window only.

    Args:
        hf: ``(nrow, ncol)`` heights (m), modified in place.
        size_x: Extent along x, m.
        size_y: Extent along y, m.
        craters: Craters to add.
        ejecta_cutoff: ``r/R`` beyond which a crater has no effect.

    Returns:
        ``hf`` (the same array).
    """
    nrow, ncol = hf.shape
    if len(craters) == 0:
        return hf
    dx = size_x / (ncol - 1)
    dy = size_y / (nrow - 1)
    x0, y0 = -0.5 * size_x, -0.5 * size_y
    inv_c3 = ejecta_cutoff ** (-EJECTA_DECAY_EXPONENT)
    cx, cy, dep, rim = craters.x, craters.y, craters.depth, craters.rim_height
    radius = 0.5 * craters.diameter
    reach = ejecta_cutoff * radius
    # Bounding window of every crater, all craters at once.
    j0 = np.maximum(np.ceil((cx - reach - x0) / dx), 0).astype(np.int64)
    j1 = np.minimum(np.floor((cx + reach - x0) / dx), ncol - 1).astype(np.int64)
    i0 = np.maximum(np.ceil((cy - reach - y0) / dy), 0).astype(np.int64)
    i1 = np.minimum(np.floor((cy + reach - y0) / dy), nrow - 1).astype(np.int64)
    nx = np.maximum(j1 - j0 + 1, 0)
    ny = np.maximum(i1 - i0 + 1, 0)
    counts = nx * ny
    total = int(counts.sum())
    if total == 0:
        return hf
    # One entry per (crater, cell), crater after crater and row-major within a window.
    k = np.repeat(np.arange(len(counts)), counts)
    local = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    nxk = nx[k]
    jj = j0[k] + local % nxk
    ii = i0[k] + local // nxk
    rk = radius[k]
    xs = (x0 + dx * jj.astype(np.float64) - cx[k]) / rk
    ys = (y0 + dy * ii.astype(np.float64) - cy[k]) / rk
    s2 = ys**2 + xs**2
    # Same profile as crater_profile(), written on s^2 to skip a sqrt per cell.
    s2c = np.maximum(s2, 1.0)
    rimk, depk = rim[k], dep[k]
    out = rimk * np.maximum((s2c ** (-0.5 * EJECTA_DECAY_EXPONENT) - inv_c3) / (1.0 - inv_c3), 0.0)
    val = np.where(s2 <= 1.0, -depk + (depk + rimk) * s2, out)
    # np.add.at is unbuffered and adds in index order: every cell receives its craters'
    # contributions in crater order, as the one-crater-at-a-time loop did.
    flat = hf.reshape(-1)  # a view when hf is contiguous, else a copy written back below
    np.add.at(flat, ii * ncol + jj, val)
    if not np.shares_memory(flat, hf):
        hf[...] = flat.reshape(hf.shape)
    return hf


def heightfield(
    size_x: float,
    size_y: float,
    nrow: int,
    ncol: int,
    craters: Craters,
    roughness_rms: float,
    hurst: float,
    slope_deg: float,
    slope_azimuth_deg: float,
    rng: np.random.Generator,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """Terrain heights on a regular grid: base DEM + fBm roughness + slope + craters.

    Layout matches MuJoCo's hfield: shape ``(nrow, ncol)``, row index along y
    (row 0 at ``y = -size_y/2``), column index along x (column 0 at
    ``x = -size_x/2``), grid points on the patch border included.

    The plane is ``z = tan(slope) (x cos(az) + y sin(az))``: the terrain rises
    towards azimuth ``az`` (measured from +x towards +y), so ``az = 0`` raises
    the last column.

    Args:
        size_x: Extent along x, m (> 0).
        size_y: Extent along y, m (> 0).
        nrow: Rows (>= 2).
        ncol: Columns (>= 2).
        craters: Craters to carve (see :func:`sample_craters`).
        roughness_rms: RMS height of the fBm roughness, m (>= 0).
        hurst: Hurst exponent of the roughness, in (0, 1].
        slope_deg: Regional slope, degrees in [0, 60).
        slope_azimuth_deg: Uphill direction, degrees from +x towards +y.
        rng: Random generator (consumes one ``(nrow, ncol)`` normal draw).
        base: Optional DEM already resampled to ``(nrow, ncol)`` (m), added first.

    Returns:
        ``(nrow, ncol)`` float64 heights, metres.

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    _require(size_x > 0 and np.isfinite(size_x), "size_x", size_x, "finite > 0 m",
             "give the terrain extent along x")
    _require(size_y > 0 and np.isfinite(size_y), "size_y", size_y, "finite > 0 m",
             "give the terrain extent along y")
    _require(int(nrow) == nrow and nrow >= 2, "nrow", nrow, "an integer >= 2",
             "use e.g. 128")
    _require(int(ncol) == ncol and ncol >= 2, "ncol", ncol, "an integer >= 2",
             "use e.g. 128")
    _require(roughness_rms >= 0 and np.isfinite(roughness_rms), "roughness_rms",
             roughness_rms, "finite >= 0 m", "use 0 for a smooth surface")
    _require(0 < hurst <= 1, "hurst", hurst, "0 < hurst <= 1",
             "lunar surfaces are ~0.8-0.95 (Rosenburg et al. 2011)")
    _require(0 <= slope_deg < 60, "slope_deg", slope_deg, "0 <= slope_deg < 60",
             "regolith rests below ~35-40 degrees")
    _require(np.isfinite(slope_azimuth_deg), "slope_azimuth_deg", slope_azimuth_deg,
             "a finite angle in degrees", "pass e.g. 0 for uphill along +x")
    nrow, ncol = int(nrow), int(ncol)
    if base is not None:
        base = np.asarray(base, dtype=np.float64)
        _require(base.shape == (nrow, ncol), "base.shape", base.shape,
                 f"({nrow}, {ncol})", "resample the DEM to the grid first")
        _require(bool(np.all(np.isfinite(base))), "base", "non-finite values",
                 "finite heights", "fill DEM gaps before passing it")
        hf = base.copy()
    else:
        hf = np.zeros((nrow, ncol))
    dx = size_x / (ncol - 1)
    dy = size_y / (nrow - 1)
    hf += fbm_surface(nrow, ncol, dx, dy, roughness_rms, hurst, rng)
    x, y = grid_axes(size_x, size_y, nrow, ncol)
    if slope_deg > 0:
        t = np.tan(np.radians(slope_deg))
        az = np.radians(slope_azimuth_deg)
        hf += t * (np.cos(az) * x[None, :] + np.sin(az) * y[:, None])
    add_craters(hf, size_x, size_y, craters)
    return hf


def _grid_coords(
    hf: np.ndarray, size_x: float, size_y: float, x: np.ndarray | float, y: np.ndarray | float
) -> tuple[np.ndarray, tuple[int, ...]]:
    nrow, ncol = hf.shape
    col = (np.asarray(x, dtype=np.float64) + 0.5 * size_x) * ((ncol - 1) / size_x)
    row = (np.asarray(y, dtype=np.float64) + 0.5 * size_y) * ((nrow - 1) / size_y)
    row, col = np.broadcast_arrays(row, col)
    return np.stack([row.ravel(), col.ravel()]), row.shape


def _sample(field: np.ndarray, coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return ndimage.map_coordinates(field, coords, order=1, mode="nearest").reshape(shape)


def surface_height(
    hf: np.ndarray, size_x: float, size_y: float, x: np.ndarray | float, y: np.ndarray | float
) -> np.ndarray:
    """Bilinear height of the heightfield at scene coordinates ``(x, y)``.

    Points outside the patch take the height of the nearest border point.

    Args:
        hf: ``(nrow, ncol)`` heights (m) in the layout of :func:`heightfield`.
        size_x: Extent along x, m.
        size_y: Extent along y, m.
        x: Query x (m), any shape broadcastable with ``y``.
        y: Query y (m).

    Returns:
        Heights (m) with the broadcast shape of ``x`` and ``y``.
    """
    coords, shape = _grid_coords(hf, size_x, size_y, x, y)
    return _sample(hf, coords, shape)


def surface_gradient(
    hf: np.ndarray, size_x: float, size_y: float, x: np.ndarray | float, y: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Height gradient ``(dz/dx, dz/dy)`` at ``(x, y)``, central differences interpolated.

    Args:
        hf: ``(nrow, ncol)`` heights (m).
        size_x: Extent along x, m.
        size_y: Extent along y, m.
        x: Query x (m).
        y: Query y (m).

    Returns:
        ``(gx, gy)`` dimensionless slopes, broadcast shape of ``x`` and ``y``.
    """
    nrow, ncol = hf.shape
    gy, gx = np.gradient(hf, size_y / (nrow - 1), size_x / (ncol - 1))
    coords, shape = _grid_coords(hf, size_x, size_y, x, y)
    return _sample(gx, coords, shape), _sample(gy, coords, shape)


def surface_normal(
    hf: np.ndarray, size_x: float, size_y: float, x: np.ndarray | float, y: np.ndarray | float
) -> np.ndarray:
    """Unit upward surface normal at ``(x, y)``.

    Args:
        hf: ``(nrow, ncol)`` heights (m).
        size_x: Extent along x, m.
        size_y: Extent along y, m.
        x: Query x (m).
        y: Query y (m).

    Returns:
        Array of shape ``(*broadcast_shape, 3)`` with ``n_z > 0``.
    """
    gx, gy = surface_gradient(hf, size_x, size_y, x, y)
    n = np.stack([-gx, -gy, np.ones_like(gx)], axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def slope_map_deg(hf: np.ndarray, size_x: float, size_y: float) -> np.ndarray:
    """Local slope angle (degrees) at every grid point, from central differences.

    Args:
        hf: ``(nrow, ncol)`` heights (m).
        size_x: Extent along x, m.
        size_y: Extent along y, m.

    Returns:
        ``(nrow, ncol)`` slopes in degrees.
    """
    nrow, ncol = hf.shape
    gy, gx = np.gradient(hf, size_y / (nrow - 1), size_x / (ncol - 1))
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def max_slope_deg(
    hf: np.ndarray,
    size_x: float,
    size_y: float,
    center: tuple[float, float] | None = None,
    radius: float | None = None,
) -> float:
    """Steepest local slope (degrees), over the patch or within a disc.

    Args:
        hf: ``(nrow, ncol)`` heights (m).
        size_x: Extent along x, m.
        size_y: Extent along y, m.
        center: Optional disc centre ``(x, y)`` (m), e.g. a robot start pose.
        radius: Disc radius (m); required with ``center``.

    Returns:
        Maximum slope in degrees (0 if the disc contains no grid point).
    """
    slopes = slope_map_deg(hf, size_x, size_y)
    if center is None:
        return float(slopes.max())
    _require(radius is not None and radius > 0, "radius", radius, "> 0 m with center",
             "give the disc radius in metres")
    x, y = grid_axes(size_x, size_y, *hf.shape)
    mask = (x[None, :] - center[0]) ** 2 + (y[:, None] - center[1]) ** 2 <= radius**2
    return float(slopes[mask].max()) if mask.any() else 0.0


def fit_power_law_exponent(
    diameters: np.ndarray, d_min: float, d_max: float | None = None
) -> float:
    """Maximum-likelihood cumulative exponent ``b`` of ``N(>D) ~ D**-b``.

    Without ``d_max``: the continuous estimator of Clauset, Shalizi & Newman
    (2009, SIAM Review 51, 661, eq. 3.1), ``alpha = 1 + n / sum(ln(D_i / d_min))``
    for the density ``p(D) ~ D**-alpha``, returned as ``b = alpha - 1``. With
    ``d_max``: the MLE of the power law truncated to ``[d_min, d_max]``, solved
    with Brent's method.

    Args:
        diameters: Diameters (m); values below ``d_min`` (or above ``d_max``) are ignored.
        d_min: Lower cut-off, m (> 0).
        d_max: Optional upper truncation, m.

    Returns:
        Estimated cumulative exponent ``b`` (its standard error is ~``b / sqrt(n)``).

    Raises:
        ValueError: If fewer than two diameters lie in range.
    """
    d = np.asarray(diameters, dtype=np.float64)
    d = d[d >= d_min]
    if d_max is not None:
        d = d[d <= d_max]
    _require(d.size >= 2, "diameters", f"{d.size} in range", ">= 2 diameters in range",
             "pool more samples or lower d_min")
    s = float(np.log(d / d_min).sum())
    n = d.size
    b_plain = n / s
    if d_max is None:
        return b_plain
    lr = np.log(d_max / d_min)
    mean_log = s / n

    def score(b: float) -> float:
        # d/db of the mean log-likelihood of p(D) = b D^(-b-1) / (d_min^-b - d_max^-b).
        return 1.0 / b - mean_log - lr / np.expm1(b * lr)

    lo, hi = 1e-9, max(50.0, 10.0 * b_plain)
    _require(score(lo) > 0, "diameters", f"mean ln(D/d_min)={mean_log:.3g}",
             f"< ln(d_max/d_min)/2={lr / 2:.3g} (a decreasing distribution)",
             "the sample does not follow a decreasing power law on [d_min, d_max]")
    return float(optimize.brentq(score, lo, hi))


def normalize_for_mujoco(hf: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Split heights into MuJoCo hfield data in [0, 1], elevation range and base.

    MuJoCo scales hfield data (which it expects in [0, 1]) by ``size[2]`` and puts
    the lowest value at the geom's position; so use ``data`` as the elevation,
    ``z_range`` as ``size[2]``, and place the geom at ``z = z_min``.

    Args:
        hf: ``(nrow, ncol)`` heights (m).

    Returns:
        ``(data, z_range, z_min)``: normalized float32-safe data, the height
        range in metres (at least 1e-6), and the minimum height in metres.
    """
    z_min = float(hf.min())
    z_range = max(float(hf.max()) - z_min, 1e-6)
    return (hf - z_min) / z_range, z_range, z_min
