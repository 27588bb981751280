"""DEM import: readers (npy, GeoTIFF, PDS3) and real heights kept at the terrain grid points."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from scenes.conditions import get_condition
from scenes.dem import (
    DemError,
    DemRef,
    build_scene_with_dem,
    dem_from_ref,
    fit_spec_to_dem,
    load_dem,
    load_npy,
    load_pds3,
    parse_pds3_label,
    terrain_base,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dem"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/dem")
LOLA = DATA / "LDEM_4.LBL"
HIRISE = DATA / "mars_hirise_dtm_crop.npy"
needs_lola = pytest.mark.skipif(not LOLA.is_file(), reason="shared LOLA DEM not available")
needs_hirise = pytest.mark.skipif(not HIRISE.is_file(), reason="shared HiRISE DEM not available")


def _smooth_dem(rows: int, cols: int, seed: int = 7) -> np.ndarray:
    """A generated DEM: smooth hills (sum of Gaussians) plus a tilt, metres."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(float)
    h = 0.02 * x - 0.01 * y + 500.0
    for _ in range(6):
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        h += rng.uniform(-1.5, 1.5) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * rng.uniform(4, 12) ** 2))
    return h


def _plain_spec(cond: str = "lunar-mare-day", seed: int = 3):
    """A condition's spec with no procedural relief, so the terrain is the DEM alone."""
    spec = get_condition(cond).sample(np.random.default_rng(seed))
    t = dataclasses.replace(spec.terrain, roughness_rms=0.0, craters=None, rocks=None, slope_deg=0.0)
    return dataclasses.replace(spec, terrain=t)


def _model_heights(model: mujoco.MjModel) -> np.ndarray:
    """Heights the compiled MuJoCo model actually holds: data * size_z + geom z."""
    nrow, ncol = int(model.hfield_nrow[0]), int(model.hfield_ncol[0])
    data = model.hfield_data[: nrow * ncol].reshape(nrow, ncol).astype(np.float64)
    z0 = model.geom_pos[model.geom("terrain").id][2]
    return data * model.hfield_size[0][2] + z0


def test_generated_npy_dem_heights_kept_at_grid_points(tmp_path: Path):
    h = _smooth_dem(41, 57)
    path = tmp_path / "hills.npy"
    np.save(path, h)
    dem = load_npy(path, resolution_m=0.5)
    assert dem.shape == (41, 57) and dem.extent_m == (28.0, 20.0)
    spec = fit_spec_to_dem(_plain_spec(), dem)
    assert (spec.terrain.nrow, spec.terrain.ncol) == (41, 57)
    scene = build_scene_with_dem(spec, dem)
    # file row 0 is north (+y); the terrain's row 0 is at -y
    np.testing.assert_array_equal(scene.heights, h[::-1])
    model = scene.mjspec.compile()
    span = h.max() - h.min()
    np.testing.assert_allclose(_model_heights(model), h[::-1], rtol=0, atol=2e-6 * span + 1e-9)


def test_procedural_detail_is_added_on_top_of_the_dem(tmp_path: Path):
    h = _smooth_dem(49, 49, seed=2)
    np.save(tmp_path / "d.npy", h)
    dem = load_dem(tmp_path / "d.npy", resolution_m=0.5)
    spec = fit_spec_to_dem(get_condition("lunar-mare-day").sample(np.random.default_rng(11)), dem)
    assert spec.terrain.craters is not None and spec.terrain.roughness_rms > 0
    from scenes.build import build_scene

    flat = build_scene(spec)  # same spec, no DEM: the procedural part alone
    with_dem = build_scene_with_dem(spec, dem)
    np.testing.assert_allclose(with_dem.heights - flat.heights, h[::-1], rtol=0, atol=1e-9)
    assert with_dem.n_craters == flat.n_craters > 0


def test_terrain_base_interpolates_bilinearly_between_pixels(tmp_path: Path):
    h = _smooth_dem(30, 40, seed=5)
    np.save(tmp_path / "d.npy", h)
    dem = load_npy(tmp_path / "d.npy", resolution_m=2.0, resolution_y_m=3.0)
    base = terrain_base(dem, 37.0, 41.0, 23, 29, center=(14.2, 19.7), datum_m=100.0)
    ys = np.linspace(-20.5, 20.5, 23)
    xs = np.linspace(-18.5, 18.5, 29)
    interp = RegularGridInterpolator((np.arange(30.0), np.arange(40.0)), h)
    rr, cc = np.meshgrid(14.2 - ys / 3.0, 19.7 + xs / 2.0, indexing="ij")
    want = interp(np.stack([rr.ravel(), cc.ravel()], axis=1)).reshape(23, 29) - 100.0
    np.testing.assert_allclose(base, want, rtol=0, atol=1e-9)


def test_dem_errors_name_the_problem(tmp_path: Path):
    np.save(tmp_path / "d.npy", _smooth_dem(10, 10))
    with pytest.raises(DemError, match="resolution_m"):
        load_dem(tmp_path / "d.npy")
    dem = load_npy(tmp_path / "d.npy", 1.0)
    with pytest.raises(DemError, match="leaves the"):
        terrain_base(dem, 20.0, 5.0, 16, 16)
    with pytest.raises(DemError, match="window"):
        dem.window(5, 5, 8, 8)
    with pytest.raises(DemError, match="sha256"):
        dem_from_ref(DemRef(path="d.npy", sha256="0" * 64, resolution_m=1.0), tmp_path)
    ok = dem_from_ref(DemRef(path="d.npy", sha256=dem.sha256, resolution_m=1.0, window=(1, 2, 4, 5)),
                      tmp_path)
    np.testing.assert_array_equal(ok.heights, dem.heights[1:5, 2:7])
    from scenes.dem import base_from_ref

    spec = _plain_spec()
    t = dataclasses.replace(spec.terrain, size_x=3.0, size_y=2.0, nrow=16, ncol=16)
    small = dataclasses.replace(spec, robot=dataclasses.replace(spec.robot, x=0.0, y=0.0),
                                goal=dataclasses.replace(spec.goal, x=0.2, y=0.0), terrain=t)
    ref = DemRef(path="d.npy", sha256=dem.sha256, resolution_m=1.0, window=(1, 2, 6, 7),
                 center=(2.5, 3.0), datum_m=5.0)
    np.testing.assert_array_equal(
        base_from_ref(ref, small, tmp_path),
        terrain_base(dem.window(1, 2, 6, 7), 3.0, 2.0, 16, 16, center=(2.5, 3.0)) - 5.0,
    )
    with pytest.raises(FileNotFoundError):
        load_npy(tmp_path / "missing.npy", 1.0)


def test_geotiff_dem_with_pixel_scale_and_nodata(tmp_path: Path):
    tifffile = pytest.importorskip("tifffile")
    h = _smooth_dem(20, 30, seed=9).astype(np.float32)
    h[3, 4] = -9999.0
    geokeys = (1, 1, 0, 1, 1024, 0, 1, 1)  # GeoKeyDirectory: GTModelTypeGeoKey = 1 (projected)
    tifffile.imwrite(
        tmp_path / "dem.tif",
        h,
        extratags=[
            (33550, "d", 3, (0.75, 0.75, 0.0), False),  # ModelPixelScaleTag
            (34735, "H", len(geokeys), geokeys, False),  # GeoKeyDirectoryTag
            (42113, "s", 0, "-9999", False),  # GDAL_NODATA
        ],
    )
    dem = load_dem(tmp_path / "dem.tif")
    assert (dem.dx, dem.dy) == (0.75, 0.75)
    assert np.isnan(dem.heights[3, 4])
    mask = np.ones_like(h, dtype=bool)
    mask[3, 4] = False
    np.testing.assert_array_equal(dem.heights[mask], h[mask].astype(np.float64))
    with pytest.raises(DemError, match="missing data"):
        terrain_base(dem, 6.0, 6.0, 16, 16, center=(6.0, 8.0))
    # a plain TIFF has no pixel size: refused unless given
    tifffile.imwrite(tmp_path / "plain.tif", h)
    with pytest.raises(DemError, match="resolution_m"):
        load_dem(tmp_path / "plain.tif")
    assert load_dem(tmp_path / "plain.tif", resolution_m=2.0).dx == 2.0


def test_pds3_attached_label_msb_scaling_offset_missing(tmp_path: Path):
    rows, cols = 6, 9
    dn = (np.arange(rows * cols, dtype=np.int32).reshape(rows, cols) * 37 - 700).astype(">i2")
    dn[2, 5] = -32768
    record = cols * 2
    label = (
        'PDS_VERSION_ID = PDS3\r\nRECORD_TYPE = FIXED_LENGTH\r\nRECORD_BYTES = {rb}\r\n'
        "LABEL_RECORDS = {lr}\r\n^IMAGE = {start}\r\n/* a comment */\r\n"
        'DESCRIPTION = "multi-line\r\n  text with = signs"\r\n'
        "OBJECT = IMAGE\r\n  LINES = {rows}\r\n  LINE_SAMPLES = {cols}\r\n"
        "  SAMPLE_TYPE = MSB_INTEGER\r\n  SAMPLE_BITS = 16\r\n  SCALING_FACTOR = 0.25\r\n"
        "  OFFSET = 100.0\r\n  MISSING_CONSTANT = -32768\r\nEND_OBJECT = IMAGE\r\n"
        "OBJECT = IMAGE_MAP_PROJECTION\r\n  MAP_PROJECTION_TYPE = \"EQUIRECTANGULAR\"\r\n"
        "  MAP_SCALE = 0.002 <KM/PIXEL>\r\nEND_OBJECT = IMAGE_MAP_PROJECTION\r\nEND\r\n"
    )
    text = label.format(rb=record, lr=99, start=99, rows=rows, cols=cols)
    nrec = -(-len(text) // record)
    text = label.format(rb=record, lr=nrec, start=nrec + 1, rows=rows, cols=cols)
    head = text.encode().ljust(nrec * record, b" ")
    (tmp_path / "synthetic.img").write_bytes(head + dn.tobytes())
    dem = load_pds3(tmp_path / "synthetic.img")
    assert dem.shape == (rows, cols) and dem.dx == dem.dy == pytest.approx(2.0)
    want = dn.astype(np.float64) * 0.25 + 100.0
    assert np.isnan(dem.heights[2, 5])
    ok = ~np.isnan(dem.heights)
    np.testing.assert_array_equal(dem.heights[ok], want[ok])
    parsed = parse_pds3_label(text)
    assert parsed["DESCRIPTION"] == "multi-line text with = signs"
    assert parsed["IMAGE_MAP_PROJECTION"]["MAP_SCALE"] == (0.002, "KM/PIXEL")


@needs_lola
def test_lola_pds3_reader_matches_the_label_and_raw_file():
    dem = load_pds3(LOLA)
    assert dem.shape == (720, 1440)
    raw = np.fromfile(DATA / "LDEM_4.IMG", dtype="<i2").reshape(720, 1440)
    np.testing.assert_array_equal(dem.heights, raw * 0.5)  # DN x 0.5 m above the 1737.4 km sphere
    assert dem.heights.min() == -8878.5 and dem.heights.max() == 10504.0
    assert dem.info["a_axis_radius_m"] == 1737400.0 and "OFFSET removed" in dem.info["datum"]
    assert dem.dy == pytest.approx(7580.84)
    for i, j in ((0, 0), (359, 720), (719, 1439), (100, 37)):
        lat, lon = dem.latlon(i, j)
        assert lat == pytest.approx(90 - (i + 0.5) / 4, abs=1e-12)
        assert lon == pytest.approx((j + 0.5) / 4, abs=1e-12)
    row, col = dem.pixel_of(-43.3, 348.6)  # near Tycho
    assert dem.latlon(row, col) == pytest.approx((-43.375, 348.625))


@needs_lola
def test_lola_window_as_regional_base():
    dem = load_pds3(LOLA)
    row0, col0 = dem.pixel_of(-43.3, 348.6)
    win = dem.window(row0 - 2, col0 - 2, 5, 5)
    lat_c = dem.latlon(row0, col0)[0]
    assert win.dx == pytest.approx(7580.84 * np.cos(np.radians(lat_c)))
    np.testing.assert_array_equal(win.heights, dem.heights[row0 - 2 : row0 + 3, col0 - 2 : col0 + 3])
    # real heights at pixel centres: a grid whose points fall on the 5 x 5 pixels
    base = terrain_base(win, 4 * win.dx, 4 * win.dy, 5, 5)
    np.testing.assert_array_equal(base, win.heights[::-1])
    # a 200 m rover patch inside one 7.6 km pixel: bilinear between the real heights
    patch = terrain_base(win, 200.0, 200.0, 16, 16)
    interp = RegularGridInterpolator((np.arange(5.0), np.arange(5.0)), win.heights)
    ys = np.linspace(-100, 100, 16)
    xs = np.linspace(-100, 100, 16)
    rr, cc = np.meshgrid(2.0 - ys / win.dy, 2.0 + xs / win.dx, indexing="ij")
    np.testing.assert_allclose(patch, interp(np.stack([rr.ravel(), cc.ravel()], 1)).reshape(16, 16),
                               atol=1e-6)


@needs_hirise
def test_hirise_dtm_scene_keeps_real_heights():
    dem = load_npy(HIRISE, resolution_m=1.01)
    h = np.load(HIRISE).astype(np.float64)
    assert dem.shape == (120, 70)
    assert h.min() == pytest.approx(753.25, abs=0.01) and h.max() == pytest.approx(792.32, abs=0.01)
    spec = fit_spec_to_dem(_plain_spec("mars-day", seed=4), dem)
    scene = build_scene_with_dem(spec, dem)
    np.testing.assert_array_equal(scene.heights, h[::-1])
    model = scene.mjspec.compile()
    np.testing.assert_allclose(_model_heights(model), h[::-1], rtol=0, atol=1e-4)
    # the rover is spawned on the real surface
    z = scene.surface_z(spec.robot.x, spec.robot.y)
    assert 753.0 < z < 793.0


# ---------------------------------------------------------------------------------------------
# TerrainSpec.dem: a spec that names its DEM
# ---------------------------------------------------------------------------------------------


def _spec_on(ref: DemRef, cond: str = "lunar-mare-day", seed: int = 3, plain: bool = True):
    spec = _plain_spec(cond, seed) if plain else get_condition(cond).sample(np.random.default_rng(seed))
    t = dataclasses.replace(spec.terrain, slope_deg=0.0, dem=ref)
    return dataclasses.replace(spec, terrain=t)


def test_spec_with_dem_round_trips_and_specs_without_keep_their_json(tmp_path: Path):
    from scenes.dem import dem_ref_for
    from scenes.spec import ScenarioSpec

    np.save(tmp_path / "d.npy", _smooth_dem(60, 60))
    ref = dem_ref_for(tmp_path / "d.npy", 0.25, window=(2, 3, 50, 55), datum_m=480.0)
    ref = dataclasses.replace(ref, center=(24.5, 27.0))
    spec = _spec_on(ref)
    text = spec.to_json()
    back = ScenarioSpec.from_json(text)
    assert back == spec and back.terrain.dem == ref and back.spec_hash() == spec.spec_hash()
    assert back.terrain.dem.window == (2, 3, 50, 55) and back.terrain.dem.center == (24.5, 27.0)
    plain = _plain_spec()
    assert '"dem"' not in plain.to_json()  # absent field: same text and hash as before it existed
    assert ScenarioSpec.from_json(plain.to_json()).terrain.dem is None
    assert _spec_on(dataclasses.replace(ref, datum_m=0.0)).spec_hash() != spec.spec_hash()
    from scenes.spec import SpecError

    bad = spec.to_dict()
    bad["terrain"]["dem"]["sha256"] = "xyz"
    with pytest.raises(SpecError, match="terrain.dem.sha256"):
        ScenarioSpec.from_dict(bad)


def test_build_from_spec_dem_keeps_grid_heights_and_adds_detail(tmp_path: Path):
    from scenes.build import build_scene
    from scenes.dem import dem_ref_for

    h = _smooth_dem(120, 110, seed=4)
    np.save(tmp_path / "d.npy", h)
    # 24 m terrain on 97 x 97 points: 0.25 m spacing, the DEM's pixel size, centred on a pixel
    ref = dataclasses.replace(dem_ref_for(tmp_path / "d.npy", 0.25, datum_m=500.0), center=(60.0, 50.0))
    spec = _spec_on(ref)
    spec = dataclasses.replace(spec, terrain=dataclasses.replace(spec.terrain, nrow=97, ncol=97))
    scene = build_scene(spec)
    # scene row i is y = -12 + 0.25 i, i.e. DEM row 60 + 48 - i (file row 0 is north = +y)
    want = h[60 + 48 - np.arange(97)][:, 50 - 48 : 50 + 49] - 500.0
    np.testing.assert_array_equal(scene.heights, want)
    # with the condition's own craters/roughness: the DEM stays underneath, detail on top
    full = _spec_on(ref, plain=False)
    full = dataclasses.replace(full, terrain=dataclasses.replace(full.terrain, nrow=97, ncol=97))
    no_dem = dataclasses.replace(full, terrain=dataclasses.replace(full.terrain, dem=None))
    with_dem, alone = build_scene(full), build_scene(no_dem)
    assert full.terrain.craters is not None and with_dem.n_craters == alone.n_craters
    np.testing.assert_allclose(with_dem.heights - alone.heights, want, rtol=0, atol=1e-9)


def test_changed_or_missing_dem_file_is_refused_naming_the_field(tmp_path: Path):
    from scenes.build import build_scene
    from scenes.dem import dem_ref_for
    from scenes.settle import settle_check

    path = tmp_path / "d.npy"
    h = _smooth_dem(120, 110, seed=4)
    np.save(path, h)
    ref = dataclasses.replace(dem_ref_for(path, 0.25), center=(60.0, 50.0))
    spec = _spec_on(ref)
    assert build_scene(spec).heights is not None
    h2 = h.copy()
    h2[60, 50] += 0.01  # one pixel moved by 1 cm: same size, different content
    np.save(path, h2)
    with pytest.raises(DemError, match=r"terrain\.dem\.sha256"):
        build_scene(spec)
    report = settle_check(spec)
    assert not report.valid and "terrain.dem.sha256" in report.reasons[0]
    path.unlink()
    with pytest.raises(DemError, match=r"terrain\.dem\.path"):
        build_scene(spec)


def test_library_over_a_dem_validates_and_catches_a_changed_dem(tmp_path: Path):
    from embodisim.cli import main
    from scenes.library import Library, validate_library

    path = tmp_path / "hills.npy"
    np.save(path, _smooth_dem(140, 140, seed=9))
    out = tmp_path / "lib"
    assert main(["library", "generate", "--count", "3", "--out", str(out), "--conditions",
                 "lunar-mare-day,mars-day", "--dem", str(path), "--dem-resolution", "0.5",
                 "--workers", "1", "--no-progress"]) == 0
    with Library(out) as lib:
        specs = [s for _, s in lib]
        assert len(specs) == 3 and all(s.terrain.dem is not None for s in specs)
        assert {s.terrain.dem.path for s in specs} == {str(path.resolve())}
        assert len({s.terrain.dem.center for s in specs}) == 3  # each scene at its own spot
    assert validate_library(out, workers=1).ok
    np.save(path, _smooth_dem(140, 140, seed=10))
    res = validate_library(out, workers=1, settle=False)
    assert not res.ok and {s for _, _, s, _ in res.statuses} == {"invalid"}
    assert all("terrain.dem.sha256" in d for _, _, _, d in res.statuses)
