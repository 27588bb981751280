"""Tactile gel model: layer kernel, pad on MuJoCo contacts, field properties."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest

from metrics.field import max_relative_error
from sims import contact_mechanics as cm
from sims.tactile import (
    ElasticLayer,
    GelPadConfig,
    TactileArray,
    TactilePad,
    _psv_compliance,
    hertz_patch_radius,
    layer_compliance,
)

E, NU = 0.3e6, 0.48


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"nu": 0.5}, "nu=0.5"),
        ({"nu": 0.7}, "nu=0.7"),
        ({"thickness": 0.0}, "thickness=0.0"),
        ({"thickness": -1e-3}, "thickness"),
        ({"young": float("nan")}, "young"),
        ({"marker_spacing": 5e-3}, "markers outside the pad"),
        ({"marker_rows": 0}, "marker_rows"),
    ],
)
def test_bad_config_is_refused_with_the_field_named(change: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        dataclasses.replace(GelPadConfig(), **change)


def test_default_markers_lie_on_the_pad() -> None:
    cfg = GelPadConfig()
    pos = cfg.marker_positions()
    assert pos.shape == (cfg.marker_rows * cfg.marker_cols, 2)
    assert np.all(np.abs(pos[:, 0]) <= cfg.size_x / 2)
    assert np.all(np.abs(pos[:, 1]) <= cfg.size_y / 2)
    assert cfg.cell <= cfg.max_cell
    assert abs(cfg.marker_spacing / cfg.cell - round(cfg.marker_spacing / cfg.cell)) < 1e-9


# ------------------------------------------------------------ layer kernel
def test_normal_compliance_matches_closed_form_layer_kernel() -> None:
    # Johnson (1985) sec. 5.9 / Barber: bonded layer normal compliance
    kh = np.logspace(-3, 1.3, 40)
    kap = 3 - 4 * NU
    closed = (1 - NU) * (kap * np.sinh(2 * kh) - 2 * kh) / (
        kap * np.cosh(2 * kh) + 2 * kh**2 + (1 + kap**2) / 2)
    c = _psv_compliance(kh, NU)
    np.testing.assert_allclose(c[:, 1, 1], closed, rtol=1e-9)
    np.testing.assert_allclose(c[:, 0, 1], c[:, 1, 0], rtol=1e-9)  # reciprocity


def test_compliance_limits_uniaxial_strain_and_half_space() -> None:
    h = 2e-3
    mu = cm.shear_modulus(E, NU)
    lam = 2 * mu * NU / (1 - 2 * NU)
    c_ll, c_lz, c_zz, c_tt = layer_compliance(np.array([0.0, 1e6]), h, E, NU)
    assert c_zz[0] == pytest.approx(h / (lam + 2 * mu), rel=1e-3)
    assert c_ll[0] == pytest.approx(h / mu, rel=1e-3)
    assert c_tt[0] == pytest.approx(h / mu, rel=1e-9)
    k = 1e6
    assert c_zz[1] == pytest.approx((1 - NU) / (mu * k), rel=1e-9)
    assert c_lz[1] == pytest.approx((1 - 2 * NU) / (2 * mu * k), rel=1e-9)
    assert c_tt[1] == pytest.approx(1 / (mu * k), rel=1e-9)


def _hertz_grid(n: int, cell: float, a: float, p0: float) -> tuple[np.ndarray, ...]:
    xs = (np.arange(n) - (n - 1) / 2) * cell
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    p = cm.hertz_pressure(np.hypot(gx, gy), a, p0)
    return gx, gy, p


@pytest.fixture(scope="module")
def thin_layer() -> ElasticLayer:
    return ElasticLayer(E, NU, 2e-3, 0.2e-3, (41, 41))


def test_zero_load_gives_zero_field(thin_layer: ElasticLayer) -> None:
    u = thin_layer.field(np.zeros((3, 41, 41)))
    assert np.all(u == 0.0)


def test_axisymmetric_load_gives_radially_symmetric_field(thin_layer: ElasticLayer) -> None:
    gx, gy, p = _hertz_grid(41, 0.2e-3, 1.5e-3, 1e4)
    u = thin_layer.field(np.stack([0 * p, 0 * p, p]))
    # 90-degree rotation of the grid maps the field onto itself
    np.testing.assert_allclose(np.rot90(u[2]), u[2], atol=1e-6 * np.abs(u[2]).max())
    # in-plane displacement is radial: its tangential component vanishes
    r = np.hypot(gx, gy)
    tangential = (-gy * u[0] + gx * u[1]) / np.where(r > 0, r, 1.0)
    # (square cells break exact isotropy at the 1e-4 level)
    assert np.abs(tangential).max() < 1e-3 * np.abs(u).max()
    # and depends on r only: compare points at equal radius on the axes and diagonal
    assert u[2, 20 + 5, 20] == pytest.approx(u[2, 20, 20 - 5], rel=1e-9)
    assert u[2, 20 + 3, 20 + 4] == pytest.approx(u[2, 20 + 5, 20], rel=2e-2)  # r = 5 cells


def test_reversing_shear_reverses_in_plane_field(thin_layer: ElasticLayer) -> None:
    _, _, p = _hertz_grid(41, 0.2e-3, 1.5e-3, 1e4)
    u_pos = thin_layer.field(np.stack([0.4 * p, 0 * p, 0 * p]))
    u_neg = thin_layer.field(np.stack([-0.4 * p, 0 * p, 0 * p]))
    np.testing.assert_allclose(u_neg[:2], -u_pos[:2], atol=1e-15)
    assert u_pos[0, 20, 20] > 0  # the centre moves along the shear
    # with a pressure underneath, only the shear-driven part flips
    u_p = thin_layer.field(np.stack([0 * p, 0 * p, p]))
    u_pq = thin_layer.field(np.stack([0.4 * p, 0 * p, p]))
    u_pmq = thin_layer.field(np.stack([-0.4 * p, 0 * p, p]))
    np.testing.assert_allclose(u_pq - u_p, -(u_pmq - u_p), atol=1e-12 * np.abs(u_p).max())


def test_influence_matrix_equals_fft_path(thin_layer: ElasticLayer) -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=(3, 41, 41))
    pts = np.array([[0, 0], [20, 20], [40, 3], [7, 33]])
    mt = thin_layer.influence_matrix(pts)
    u_mat = (np.moveaxis(t, 0, -1).reshape(-1) @ mt).reshape(-1, 3)
    u_fft = thin_layer.field(t)[:, pts[:, 0], pts[:, 1]].T
    np.testing.assert_allclose(u_mat, u_fft, rtol=1e-9, atol=1e-12 * np.abs(u_fft).max())


def test_patch_radius_follows_thin_layer_contact_law() -> None:
    # thick gel: Hertz radius; thin gel: smaller (stiffer) patch, Dimitriadis consistent
    r_sphere = 10e-3
    thick = hertz_patch_radius(0.2, r_sphere, 1.0, E, NU)
    assert thick == pytest.approx(cm.hertz_sphere(0.2, r_sphere, E, NU).radius, rel=1e-3)
    h = 2e-3
    a = hertz_patch_radius(0.5, r_sphere, h, E, NU)
    assert a < cm.hertz_sphere(0.5, r_sphere, E, NU).radius
    assert cm.dimitriadis_force(a * a / r_sphere, r_sphere, h, E, NU) == pytest.approx(0.5, 1e-6)


def test_dimitriadis_reduces_to_hertz_and_published_coefficients() -> None:
    f = cm.dimitriadis_force(np.array([1e-6]), 5e-3, 10.0, E, NU)[0]
    hertz = cm.hertz_sphere(1.0, 5e-3, E, NU)
    assert f == pytest.approx(4 * cm.contact_modulus(E, NU) * np.sqrt(5e-3) * 1e-9 / 3, rel=1e-4)
    assert hertz.depth > 0
    a0, b0 = cm.dimitriadis_bonded_coefficients(0.4999999)
    pi = np.pi
    assert -2 * a0 / pi == pytest.approx(1.133, abs=2e-3)  # D02 eq. 11
    assert 4 * a0**2 / pi**2 == pytest.approx(1.283, abs=2e-3)
    assert -8 / pi**3 * (a0**3 + 4 * pi**2 * b0 / 15) == pytest.approx(0.769, abs=2e-3)


# ------------------------------------------------------------ MuJoCo pad
def _pressed_sphere_scene(force: float, offset: tuple[float, float] = (0.0, 0.0),
                          pad_half: float = 6e-3) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """A fixed pad box and a 10 mm sphere on a vertical slide, weight = ``force``."""
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.001
    spec.modelname = "pressed_sphere"
    body = spec.worldbody.add_body(name="pad_body")
    body.add_geom(name="pad", type=mujoco.mjtGeom.mjGEOM_BOX, size=[pad_half, pad_half, 2e-3])
    ball = spec.worldbody.add_body(name="ball", pos=[offset[0], offset[1], 2e-3 + 10e-3])
    ball.add_joint(name="ball_z", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1], damping=0.5)
    ball.add_geom(name="ball_geom", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[10e-3],
                  mass=force / 9.81)
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(1500):
        mujoco.mj_step(model, data)
    return model, data


THICK_PAD = GelPadConfig(size_x=12e-3, size_y=12e-3, thickness=40e-3, young=E, nu=NU,
                         marker_rows=9, marker_cols=9, marker_spacing=0.5e-3, max_cell=0.25e-3)


@pytest.fixture(scope="module")
def thick_pad_scene() -> tuple[mujoco.MjModel, mujoco.MjData, TactilePad]:
    model, data = _pressed_sphere_scene(0.2)
    return model, data, TactilePad(model, "pad", THICK_PAD)


def test_mujoco_sphere_field_matches_hertz_for_measured_force(thick_pad_scene) -> None:
    model, data, pad = thick_pad_scene
    reading = pad.update(data)
    normal = -reading.force[2]
    assert normal == pytest.approx(0.2, rel=0.02)  # the sphere's weight, as MuJoCo measured it
    assert np.linalg.norm(reading.force[:2]) < 1e-6
    contact = cm.hertz_sphere(normal, 10e-3, E, NU)
    centre = pad.contact_loads(data)[0][0][:2]
    np.testing.assert_array_equal(pad.contact_array(data)[0, :2], centre)
    rel = pad.markers - centre
    r = np.hypot(rel[:, 0], rel[:, 1])
    uz, ur = cm.hertz_normal_displacement(r, contact.radius, contact.peak_pressure, E, NU)
    rr = np.where(r > 0, r, 1.0)
    ref = np.stack([ur * rel[:, 0] / rr, ur * rel[:, 1] / rr, -uz], -1)  # pad z is outward
    err = max_relative_error(reading.markers, ref).max_relative_error
    assert err <= 0.10
    # the pressure map carries the measured force; the patch is the Hertz contact
    assert pad.pressure_map(reading).sum() * pad.cell**2 == pytest.approx(normal, rel=1e-9)
    # (thin-layer law: a/h = 0.04 makes the patch ~1.5 % narrower than half-space Hertz)
    assert reading.contact_area == pytest.approx(np.pi * contact.radius**2, rel=0.05)
    assert reading.contact_area < np.pi * contact.radius**2
    # the per-step table path agrees with the gridded-traction influence matrix
    gridded = pad.marker_field(pad.patch_tractions(reading.patches))
    np.testing.assert_allclose(pad.tractions(pad.contact_loads(data)),
                               pad.patch_tractions(reading.patches), rtol=1e-12)
    assert max_relative_error(reading.markers, gridded).max_relative_error < 0.05


def test_no_contact_gives_zero_reading() -> None:
    model, data = _pressed_sphere_scene(0.1)
    pad = TactilePad(model, "pad", dataclasses.replace(THICK_PAD, thickness=3e-3))
    data.qpos[0] = 0.05  # lift the ball off the pad
    mujoco.mj_forward(model, data)
    reading = pad.update(data)
    assert np.all(reading.markers == 0.0)
    assert reading.contact_area == 0.0
    assert np.all(reading.force == 0.0)


def _patch(x: float, y: float, fx: float, fy: float, fz: float, a: float) -> np.ndarray:
    return np.array([[x, y, fx, fy, fz, a]])


def test_superposition_of_two_contacts() -> None:
    model, data = _pressed_sphere_scene(0.1)
    pad = TactilePad(model, "pad", dataclasses.replace(THICK_PAD, thickness=3e-3))
    a = _patch(-2e-3, 0.5e-3, 0.02, 0.0, -0.3, 1.1e-3)
    b = _patch(1.5e-3, -1.2e-3, 0.0, -0.05, -0.2, 0.8e-3)
    for field in (lambda p: pad.patch_field(p)[0], lambda p: pad.marker_field(pad.patch_tractions(p))):
        u_a, u_b, u_ab = field(a), field(b), field(np.concatenate([a, b]))
        np.testing.assert_allclose(u_ab, u_a + u_b, rtol=1e-9, atol=1e-18)
        assert np.abs(u_a).max() > 0 and np.abs(u_b).max() > 0


def test_reversing_contact_shear_reverses_in_plane_marker_field() -> None:
    model, data = _pressed_sphere_scene(0.1)
    pad = TactilePad(model, "pad", dataclasses.replace(THICK_PAD, thickness=3e-3))
    base = pad.patch_field(_patch(0.3e-3, 0.0, 0.0, 0.0, -0.3, 1.0e-3))[0]
    plus = pad.patch_field(_patch(0.3e-3, 0.0, 0.1, 0.05, -0.3, 1.0e-3))[0] - base
    minus = pad.patch_field(_patch(0.3e-3, 0.0, -0.1, -0.05, -0.3, 1.0e-3))[0] - base
    np.testing.assert_allclose(minus[:, :2], -plus[:, :2], atol=1e-15)
    assert np.abs(plus[:, :2]).max() > 0.1 * np.abs(base).max()


def test_batched_fields_equal_single_pad_fields() -> None:
    model, data = _pressed_sphere_scene(0.1)
    pad = TactilePad(model, "pad", dataclasses.replace(THICK_PAD, thickness=3e-3))
    patches = [_patch(x, 0.0, 0.01, 0.0, -f, 1e-3) for x, f in ((0.0, 0.1), (1e-3, 0.3),
                                                               (-2e-3, 0.2))]
    tr = np.stack([pad.patch_tractions(p) for p in patches])
    batched = pad.batch_marker_fields(tr)
    stacked = pad.patch_field(np.concatenate(patches), sim=np.arange(3), n_sims=3)
    for i, p in enumerate(patches):
        np.testing.assert_allclose(batched[i], pad.marker_field(pad.patch_tractions(p)), rtol=1e-9,
                                   atol=1e-15)
        np.testing.assert_allclose(stacked[i], pad.patch_field(p)[0], rtol=1e-9, atol=1e-18)


def test_tactile_array_matches_single_pads_across_sims() -> None:
    model, data = _pressed_sphere_scene(0.2)
    cfg = dataclasses.replace(THICK_PAD, thickness=3e-3)
    pad = TactilePad(model, "pad", cfg)
    array = TactileArray([pad])
    other = mujoco.MjData(model)  # ball still in the air: no contact
    fields = array.update_many([data, other, data])
    single = pad.update(data).markers
    np.testing.assert_allclose(fields[0, 0], single, rtol=1e-9, atol=1e-18)
    np.testing.assert_allclose(fields[2, 0], single, rtol=1e-9, atol=1e-18)
    assert np.all(fields[1] == 0.0)
    np.testing.assert_allclose(array.update(data)[0], single, rtol=1e-9, atol=1e-18)
    with pytest.raises(ValueError, match="same GelPadConfig"):
        TactileArray([pad, TactilePad(model, "pad", dataclasses.replace(cfg, young=1e6))])


def _dragged_sphere_scene(cone: int) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """A sphere pressed on a tilted pad by gravity and pushed sideways: normal + shear contact."""
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.001
    spec.option.cone = cone
    spec.modelname = "dragged_sphere"
    body = spec.worldbody.add_body(name="pad_body", quat=[0.9962, 0.0, 0.0872, 0.0])  # 10 deg
    body.add_geom(name="pad", type=mujoco.mjtGeom.mjGEOM_BOX, size=[6e-3, 6e-3, 2e-3])
    ball = spec.worldbody.add_body(name="ball", pos=[-1e-3, 0.5e-3, 2e-3 + 9.9e-3])
    for axis, name in (([1, 0, 0], "ball_x"), ([0, 0, 1], "ball_z")):
        ball.add_joint(name=name, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=axis, damping=0.5)
    ball.add_geom(name="ball_geom", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[10e-3], mass=0.03,
                  friction=[0.8, 0.005, 0.0001])
    act = spec.add_actuator(name="push", target="ball_x", trntype=mujoco.mjtTrn.mjTRN_JOINT)
    act.gainprm[0] = 1.0
    model = spec.compile()
    data = mujoco.MjData(model)
    data.ctrl[0] = 0.05  # N sideways, below the friction limit: a sticking, sheared contact
    mujoco.mj_step(model, data, nstep=400)
    return model, data


@pytest.mark.parametrize("cone", [mujoco.mjtCone.mjCONE_PYRAMIDAL, mujoco.mjtCone.mjCONE_ELLIPTIC])
def test_compiled_path_matches_the_numpy_reference(cone: int) -> None:
    model, data = _dragged_sphere_scene(cone)
    cfg = dataclasses.replace(THICK_PAD, thickness=3e-3)
    pad = TactilePad(model, "pad", cfg)
    rows = pad.contact_array(data)  # mj_contactForce (pyramidal) / efc_force (elliptic)
    assert len(rows) >= 1 and np.all(rows[:, 5] < 0)
    assert np.abs(rows[:, 3:5]).sum() > 0.02 * np.abs(rows[:, 5]).sum()  # real shear load
    array = TactileArray([pad])
    compiled = array.update(data)[0]
    np.testing.assert_allclose(array.last_rows, rows, rtol=1e-10, atol=1e-14)
    reference = pad.marker_field(pad.patch_tractions(pad.patches(rows)))
    scale = np.abs(reference).max()
    assert scale > 0
    np.testing.assert_allclose(compiled, reference, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(array.last_tractions[0], pad.patch_tractions(pad.patches(rows)),
                               rtol=1e-10, atol=1e-6)


def test_pad_rejects_bad_geometry() -> None:
    model, _ = _pressed_sphere_scene(0.1)
    with pytest.raises(ValueError, match="not a geom"):
        TactilePad(model, "nope", THICK_PAD)
    with pytest.raises(ValueError, match="must be a box"):
        TactilePad(model, "ball_geom", THICK_PAD)
    with pytest.raises(ValueError, match="exceeds"):
        TactilePad(model, "pad", GelPadConfig())  # 18.6 mm pad on a 12 mm face
    with pytest.raises(ValueError, match="face"):
        TactilePad(model, "pad", THICK_PAD, face="up")


def test_marker_observation_noise_and_dropouts_from_the_generator(thick_pad_scene) -> None:
    _, data, pad = thick_pad_scene
    reading = pad.update(data)
    clean = pad.observe_markers(reading, np.random.default_rng(1), noise_px=0.0,
                                lost_probability=0.0)
    scale = 320 / 18.6e-3
    pos = pad.markers + reading.markers[:, :2]
    np.testing.assert_allclose(clean.pixels[:, 0] - clean.pixels[0, 0],
                               (pos[:, 0] - pos[0, 0]) * scale, atol=1e-9)
    a = pad.observe_markers(reading, np.random.default_rng(7), noise_px=0.5, lost_probability=0.2)
    b = pad.observe_markers(reading, np.random.default_rng(7), noise_px=0.5, lost_probability=0.2)
    np.testing.assert_array_equal(a.lost, b.lost)
    np.testing.assert_array_equal(np.isnan(a.pixels[:, 0]), a.lost)
    assert 0 < a.lost.sum() < len(a.lost)
    kept = ~a.lost
    noise = a.pixels[kept] - clean.pixels[kept]
    assert 0.3 < noise.std() < 0.7
    with pytest.raises(ValueError, match="noise_px"):
        pad.observe_markers(reading, np.random.default_rng(0), noise_px=-1.0)


def test_array_fields_return_to_zero_when_contact_ends() -> None:
    model, data = _pressed_sphere_scene(0.2)
    pad = TactilePad(model, "pad", dataclasses.replace(THICK_PAD, thickness=3e-3))
    array = TactileArray([pad])
    pressed = array.update(data)
    assert np.abs(pressed).max() > 0
    free = mujoco.MjData(model)
    free.qpos[0] = 0.05  # ball lifted 5 cm: no contact with the pad
    mujoco.mj_forward(model, free)
    assert np.all(array.update(free) == 0.0) and len(array.last_rows) == 0
    np.testing.assert_array_equal(array.update(data), pressed)
