"""Terrain (craters, roughness, slope) and rock models against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from scenes import rocks as R
from scenes import terrain as T

# --------------------------------------------------------------------------- craters


def _pooled_craters(exponent: float, seeds: int, size: float, d_min: float, d_max: float):
    out = [
        T.sample_craters(size, size, T.LUNAR_EQUILIBRIUM_DENSITY_COEFF, exponent, d_min,
                         d_max, (0.05, 0.2), np.random.default_rng(s))
        for s in range(seeds)
    ]
    return out


@pytest.mark.parametrize("exponent", [T.EQUILIBRIUM_EXPONENT, T.PRODUCTION_EXPONENT])
def test_crater_sfd_exponent_recovered(exponent: float) -> None:
    d_min, d_max = 0.3, 10.0
    sets = _pooled_craters(exponent, seeds=10, size=40.0, d_min=d_min, d_max=d_max)
    d = np.concatenate([c.diameter for c in sets])
    assert d.min() >= d_min and d.max() <= d_max
    n = d.size
    assert n > 2000
    b_fit = T.fit_power_law_exponent(d, d_min, d_max)
    sigma = exponent / np.sqrt(n)  # MLE standard error (Clauset et al. 2009)
    # Stated tolerance: |b_fit - b| < 0.1, and within 4 standard errors.
    assert abs(b_fit - exponent) < min(0.1, 4 * sigma), (b_fit, exponent, sigma)


def test_crater_count_matches_poisson_mean() -> None:
    size, d_min, d_max, seeds = 30.0, 0.5, 8.0, 20
    b, c = 2.0, T.LUNAR_EQUILIBRIUM_DENSITY_COEFF
    sets = [T.sample_craters(size, size, c, b, d_min, d_max, (0.05, 0.2),
                             np.random.default_rng(100 + s)) for s in range(seeds)]
    inside = sum(int(np.sum((np.abs(s.x) <= size / 2) & (np.abs(s.y) <= size / 2)))
                 for s in sets)
    mean_inside = seeds * T.expected_crater_count(size * size, c, b, d_min, d_max)
    assert abs(inside - mean_inside) < 4 * np.sqrt(mean_inside), (inside, mean_inside)
    total = sum(len(s) for s in sets)
    mean_total = seeds * T.expected_crater_count((size + d_max) ** 2, c, b, d_min, d_max)
    assert abs(total - mean_total) < 4 * np.sqrt(mean_total), (total, mean_total)
    # Centres reach past the border by at most d_max / 2.
    assert max(float(np.abs(s.x).max()) for s in sets) <= (size + d_max) / 2
    assert max(float(np.abs(s.x).max()) for s in sets) > size / 2


def test_depth_ratio_and_rim_height() -> None:
    lo, hi = 0.07, 0.18
    c = T.sample_craters(50, 50, 0.2, 2.0, 0.5, 10, (lo, hi), np.random.default_rng(3))
    ratio = c.depth / c.diameter
    assert len(c) > 100
    assert ratio.min() >= lo and ratio.max() <= hi
    # Uniform in the range: the mean is mid-range within 4 standard errors.
    se = (hi - lo) / np.sqrt(12 * len(c))
    assert abs(ratio.mean() - (lo + hi) / 2) < 4 * se
    # Pike (1977) fresh rim 0.036 D^1.014 km, scaled by freshness (d/D)/0.196.
    expected = 1000 * 0.036 * (c.diameter / 1000) ** 1.014 * ratio / 0.196
    np.testing.assert_allclose(c.rim_height, expected, rtol=1e-12)
    assert np.all(c.rim_height < c.depth)  # rim/depth ~ 0.18 for simple craters


def test_crater_profile_shape() -> None:
    depth, rim = 0.4, 0.07
    eps = 1e-9
    p = T.crater_profile(np.array([0.0, 1 - eps, 1.0, 1 + eps]), depth, rim)
    assert p[0] == pytest.approx(-depth)
    assert p[1] == pytest.approx(rim, abs=1e-8)
    assert p[2] == pytest.approx(rim)
    assert p[3] == pytest.approx(rim, abs=1e-8)
    # Parabolic bowl: half-way in radius, a quarter of the way up from the floor.
    assert T.crater_profile(np.array([0.5]), depth, rim)[0] == pytest.approx(
        -depth + 0.25 * (depth + rim))
    # Ejecta ~ (r/R)^-3 (McGetchin et al. 1973), brought to zero at the cutoff.
    c3 = T.EJECTA_CUTOFF_RNORM ** -3
    assert T.crater_profile(np.array([2.0]), depth, rim)[0] == pytest.approx(
        rim * (2.0 ** -3 - c3) / (1 - c3))
    out = T.crater_profile(np.linspace(1, 5, 200), depth, rim)
    assert np.all(np.diff(out) <= 1e-15) and np.all(out >= 0)
    assert T.crater_profile(np.array([T.EJECTA_CUTOFF_RNORM, 4.0]), depth, rim) == \
        pytest.approx([0.0, 0.0], abs=1e-15)


def test_single_crater_in_heightfield() -> None:
    size, n = 16.0, 161  # grid point every 0.1 m, one at the origin
    cr = T.Craters(x=np.array([0.0]), y=np.array([0.0]), diameter=np.array([4.0]),
                   depth=np.array([0.6]), rim_height=np.array([0.1]))
    hf = T.heightfield(size, size, n, n, cr, 0.0, 0.8, 0.0, 0.0, np.random.default_rng(0))
    assert hf[80, 80] == pytest.approx(-0.6)
    assert T.surface_height(hf, size, size, 2.0, 0.0) == pytest.approx(0.1)
    assert T.surface_height(hf, size, size, 0.0, -2.0) == pytest.approx(0.1)
    # Matches crater_profile along a diagonal, and zero beyond the ejecta cutoff.
    r = np.linspace(0, 7, 30)
    xy = r / np.sqrt(2)
    np.testing.assert_allclose(T.surface_height(hf, size, size, xy, xy),
                               T.crater_profile(r / 2.0, 0.6, 0.1), atol=0.03)
    assert hf[0, 0] == 0.0


def test_crater_outside_patch_reaches_in() -> None:
    cr = T.Craters(x=np.array([5.5]), y=np.array([0.0]), diameter=np.array([2.0]),
                   depth=np.array([0.3]), rim_height=np.array([0.05]))
    hf = T.heightfield(10, 10, 101, 101, cr, 0.0, 0.8, 0.0, 0.0, np.random.default_rng(0))
    assert hf[50, -1] == pytest.approx(-0.3 + 0.35 * 0.25)  # x = 5 is r/R = 0.5
    assert hf[50, 0] == 0.0


def test_overlapping_craters_sum_their_profiles() -> None:
    """All craters carved at once = the sum of each crater's closed-form profile, per cell."""
    size, n = 12.0, 61
    cr = T.sample_craters(size, size, 0.3, 2.0, 0.4, 6.0, (0.05, 0.2), np.random.default_rng(3))
    assert len(cr) > 20
    hf = T.add_craters(np.zeros((n, n)), size, size, cr)
    x, y = T.grid_axes(size, size, n, n)
    want = np.zeros((n, n))
    for cx, cy, d, dep, rim in zip(cr.x, cr.y, cr.diameter, cr.depth, cr.rim_height, strict=True):
        r = np.hypot(x[None, :] - cx, y[:, None] - cy) / (0.5 * d)
        want += T.crater_profile(r, dep, rim)
    np.testing.assert_allclose(hf, want, rtol=0, atol=1e-12)
    # a non-contiguous height array is written in place as well
    wide = np.zeros((n, 2 * n))
    T.add_craters(wide[:, ::2], size, size, cr)
    np.testing.assert_array_equal(wide[:, ::2], hf)
    assert not wide[:, 1::2].any()


# ------------------------------------------------------------------ heightfield


def test_heightfield_shape_and_slope_orientation() -> None:
    rng = np.random.default_rng(0)
    empty = T.Craters.empty()
    size_x, size_y, nrow, ncol = 12.0, 8.0, 33, 65
    hf = T.heightfield(size_x, size_y, nrow, ncol, empty, 0.0, 0.8, 10.0, 0.0, rng)
    assert hf.shape == (nrow, ncol) and hf.dtype == np.float64
    t = np.tan(np.radians(10.0))
    # Uphill along +x: the last column is highest, rows are identical.
    np.testing.assert_allclose(hf[:, -1] - hf[:, 0], t * size_x)
    np.testing.assert_allclose(hf - hf[0], 0.0, atol=1e-12)
    hf_y = T.heightfield(size_x, size_y, nrow, ncol, empty, 0.0, 0.8, 10.0, 90.0, rng)
    np.testing.assert_allclose(hf_y[-1, :] - hf_y[0, :], t * size_y)  # row 0 at -y/2
    assert T.max_slope_deg(hf, size_x, size_y) == pytest.approx(10.0)
    n = T.surface_normal(hf, size_x, size_y, np.array([1.0, -2.0]), np.array([0.5, 3.0]))
    np.testing.assert_allclose(n, [[-np.sin(np.radians(10)), 0, np.cos(np.radians(10))]] * 2,
                               atol=1e-12)
    # Bilinear interpolation is exact on a plane.
    assert T.surface_height(hf, size_x, size_y, 3.3, -1.7) == pytest.approx(t * 3.3)


@pytest.mark.parametrize("hurst", [0.5, 0.85])
def test_roughness_rms_and_spectrum(hurst: float) -> None:
    rms, n, size = 0.05, 128, 25.6
    hf = T.heightfield(size, size, n, n, T.Craters.empty(), rms, hurst, 0.0, 0.0,
                       np.random.default_rng(7))
    assert abs(hf.std() - rms) < 0.1 * rms
    assert abs(hf.mean()) < 1e-12
    # Radially averaged power spectrum ~ k^-(2H+2) (fractional Brownian surface).
    p = np.abs(np.fft.fft2(hf)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    bins = np.geomspace(2 / n, 0.45, 16)
    idx = np.digitize(k.ravel(), bins)
    kk = [k.ravel()[idx == i].mean() for i in range(1, len(bins))]
    pp = [p.ravel()[idx == i].mean() for i in range(1, len(bins))]
    slope = np.polyfit(np.log(kk), np.log(pp), 1)[0]
    assert abs(slope + (2 * hurst + 2)) < 0.3, slope


def test_base_dem_added_first() -> None:
    base = np.outer(np.linspace(0, 1, 20), np.ones(30))
    hf = T.heightfield(3, 2, 20, 30, T.Craters.empty(), 0.0, 0.8, 0.0, 0.0,
                       np.random.default_rng(0), base=base)
    np.testing.assert_array_equal(hf, base)
    with pytest.raises(ValueError, match="base.shape"):
        T.heightfield(3, 2, 21, 30, T.Craters.empty(), 0.0, 0.8, 0.0, 0.0,
                      np.random.default_rng(0), base=base)


def test_max_slope_in_disc_and_normalize() -> None:
    cr = T.Craters(x=np.array([3.0]), y=np.array([0.0]), diameter=np.array([2.0]),
                   depth=np.array([0.4]), rim_height=np.array([0.07]))
    hf = T.heightfield(10, 10, 101, 101, cr, 0.0, 0.8, 0.0, 0.0, np.random.default_rng(0))
    assert T.max_slope_deg(hf, 10, 10, center=(-3.0, 0.0), radius=1.0) == 0.0
    assert T.max_slope_deg(hf, 10, 10) > 20.0
    data, z_range, z_min = T.normalize_for_mujoco(hf)
    assert data.min() == 0.0 and data.max() == 1.0
    np.testing.assert_allclose(z_min + z_range * data, hf, atol=1e-12)


def test_truncated_mle_removes_truncation_bias() -> None:
    rng = np.random.default_rng(11)
    d_min, d_max, b = 1.0, 3.0, 2.0
    u = rng.random(20000)
    d = (d_min**-b - u * (d_min**-b - d_max**-b)) ** (-1 / b)
    b_trunc = T.fit_power_law_exponent(d, d_min, d_max)
    b_plain = T.fit_power_law_exponent(d, d_min)
    assert abs(b_trunc - b) < 4 * b / np.sqrt(d.size)
    assert b_plain > b + 0.5  # ignoring truncation (no large D) overestimates b


# ------------------------------------------------------------------------ rocks


@pytest.mark.parametrize("k", [R.K_LUNAR_MARE, R.K_VIKING_1, R.K_PATHFINDER])
def test_number_density_closed_form_matches_quadrature(k: float) -> None:
    q = R.q_of_k(k)
    for d in [0.02, 0.1, 0.4]:
        numeric = integrate.quad(lambda s: 4 * k * q / np.pi * np.exp(-q * s) / s**2,
                                 d, 2.0, epsabs=0, epsrel=1e-10)[0]
        assert R.cumulative_number_density(d, k, d_max=2.0) == pytest.approx(numeric,
                                                                             rel=1e-7)
    assert R.cumulative_number_density(3.0, k, d_max=2.0) == 0.0
    assert R.cumulative_area_fraction(0.0, k) == pytest.approx(k)
    assert R.q_of_k(k) == pytest.approx(1.79 + 0.152 / k)


@pytest.mark.parametrize("k", [R.K_VIKING_1, R.K_VIKING_2])
def test_rock_counts_and_area_follow_golombek_rapp(k: float) -> None:
    size, d_min, d_max, seeds = 10.0, 0.05, 2.0, 20
    q = R.q_of_k(k)
    sets = [R.sample_rocks(size, size, k, d_min, d_max, np.random.default_rng(s))
            for s in range(seeds)]
    d = np.concatenate([r.diameter for r in sets])
    assert d.min() >= d_min and d.max() <= d_max
    area = seeds * size * size
    for d0 in [d_min, 0.1, 0.25]:
        expected = area * float(R.cumulative_number_density(d0, k, d_max=d_max))
        assert expected > 30
        assert abs(np.sum(d >= d0) - expected) < 4 * np.sqrt(expected), (d0, expected)
        # Covered area fraction above d0 vs k (exp(-q d0) - exp(-q d_max)); compound-
        # Poisson variance: area * int (pi s^2/4)^2 n(s) ds.
        frac = np.sum(np.pi * d[d >= d0] ** 2 / 4) / area
        f_exp = k * (np.exp(-q * d0) - np.exp(-q * d_max))
        var = integrate.quad(lambda s: (np.pi * s**2 / 4) * k * q * np.exp(-q * s),
                             d0, d_max)[0] / area
        assert abs(frac - f_exp) < 4 * np.sqrt(var), (d0, frac, f_exp)
    inside = np.concatenate([np.abs(r.x) for r in sets] + [np.abs(r.y) for r in sets])
    assert inside.max() <= size / 2


def test_rock_diameters_follow_closed_form_cdf() -> None:
    # Kolmogorov-Smirnov test of the tabulated inverse CDF against 1 - N(>=D)/N(>=d_min).
    k, d_min, d_max = R.K_VIKING_2, 0.03, 2.0
    d = np.concatenate([R.sample_rocks(30, 30, k, d_min, d_max,
                                       np.random.default_rng(50 + s)).diameter
                        for s in range(10)])
    n0 = float(R.cumulative_number_density(d_min, k, d_max=d_max))

    def cdf(x: np.ndarray) -> np.ndarray:
        return 1.0 - R.cumulative_number_density(np.clip(x, d_min, d_max), k, d_max) / n0

    assert d.size > 100000  # KS resolves CDF errors of ~0.6 %
    assert stats.kstest(d, cdf).pvalue > 1e-3


def _min_rect_mean_side(xy: np.ndarray) -> float:
    # Brute-force minimum-area enclosing rectangle over 0.05-degree steps (independent of trimesh).
    best_area, best_mean = np.inf, 0.0
    for a in np.radians(np.arange(0.0, 90.0, 0.05)):
        rot = xy @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        w, h = np.ptp(rot, axis=0)
        if w * h < best_area:
            best_area, best_mean = w * h, (w + h) / 2
    return best_mean


@pytest.mark.parametrize("seed,diameter", [(0, 0.1), (1, 0.35), (2, 1.2), (3, 0.6)])
def test_rock_mesh_convex_watertight_sized(seed: int, diameter: float) -> None:
    mesh = R.rock_mesh(diameter, np.random.default_rng(seed))
    assert mesh.is_watertight and mesh.is_convex and mesh.is_volume
    assert _min_rect_mean_side(mesh.vertices[:, :2]) == pytest.approx(diameter, rel=0.05)
    assert mesh.metadata["equivalent_diameter"] == pytest.approx(diameter, rel=1e-9)
    np.testing.assert_allclose(mesh.center_mass, 0.0, atol=1e-9 * diameter + 1e-12)
    z = mesh.vertices[:, 2]
    assert mesh.metadata["height"] == pytest.approx(np.ptp(z))
    assert mesh.metadata["bottom_offset"] == pytest.approx(-z.min())
    # The short axis is vertical: the rock is lower than it is wide.
    assert 0.2 * diameter < mesh.metadata["height"] < 1.05 * diameter


def test_determinism() -> None:
    def run(seed: int):
        rng = np.random.default_rng(seed)
        c = T.sample_craters(20, 20, 0.079, 2.0, 0.5, 6.0, (0.05, 0.2), rng)
        hf = T.heightfield(20, 20, 64, 64, c, 0.03, 0.85, 4.0, 30.0, rng)
        r = R.sample_rocks(20, 20, 0.07, 0.1, 2.0, rng)
        m = R.rock_mesh(0.3, rng)
        return c, hf, r, m

    a, b, c = run(5), run(5), run(6)
    for f in ("x", "y", "diameter", "depth", "rim_height"):
        np.testing.assert_array_equal(getattr(a[0], f), getattr(b[0], f))
    np.testing.assert_array_equal(a[1], b[1])
    for f in ("x", "y", "diameter"):
        np.testing.assert_array_equal(getattr(a[2], f), getattr(b[2], f))
    np.testing.assert_array_equal(a[3].vertices, b[3].vertices)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda rng: T.sample_craters(10, 10, 0.08, 2, 2.0, 1.0, (0.05, 0.2), rng), "d_max"),
        (lambda rng: T.sample_craters(10, 10, 0.08, 2, 0.5, 5.0, (0.3, 0.1), rng),
         "depth_ratio_range"),
        (lambda rng: T.sample_craters(-1, 10, 0.08, 2, 0.5, 5.0, (0.05, 0.2), rng), "size_x"),
        (lambda rng: T.heightfield(10, 10, 64, 64, T.Craters.empty(), 0.1, 1.5, 0, 0, rng),
         "hurst"),
        (lambda rng: T.heightfield(10, 10, 64, 64, T.Craters.empty(), 0.1, 0.8, 75, 0, rng),
         "slope_deg"),
        (lambda rng: R.sample_rocks(10, 10, 1.5, 0.05, 2.0, rng), "k"),
        (lambda rng: R.sample_rocks(10, 10, 0.07, 0.0, 2.0, rng), "d_min"),
        (lambda rng: R.rock_mesh(-0.2, rng), "diameter"),
    ],
)
def test_bad_arguments_name_the_field(call, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call(np.random.default_rng(0))
