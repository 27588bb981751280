"""Cloth physics: mass from areal density, hang elongation vs E*t, gravity scaling, bad input."""

import dataclasses
import math

import mujoco
import numpy as np
import pytest

from scenes.conditions import G_EARTH, G_MOON
from sims import cloth, world
from sims.cloth import FABRICS, Fabric, add_cloth


def _spec(g=G_EARTH, dt=1e-3):
    spec = mujoco.MjSpec()
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_DISCRETE
    spec.option.timestep = dt
    spec.option.gravity = [0.0, 0.0, -g]
    return spec


def test_mass_matches_areal_density_times_area():
    for fab in FABRICS.values():
        spec = _spec()
        h = add_cloth(spec, "cloth", fab, size=(0.4, 0.25), count=(9, 6), pos=(0, 0, 0.5))
        m = spec.compile()
        total = float(m.body_mass[cloth.vertex_body_ids(m, h)].sum())
        assert total == pytest.approx(fab.areal_density * 0.4 * 0.25, rel=1e-9)
        assert h.mass == pytest.approx(total, rel=1e-12)


def test_flex_constants_reproduce_measured_membrane_and_bending_stiffness():
    """The equivalent shell keeps E*t and D = E t^3 / (12 (1 - nu^2)) = B of the fabric."""
    for fab in FABRICS.values():
        spec = _spec()
        add_cloth(spec, "cloth", fab, count=(3, 3))
        flex = spec.flex("cloth")
        assert flex.young * flex.thickness == pytest.approx(fab.young * fab.thickness, rel=1e-12)
        d = flex.young * flex.thickness**3 / (12 * (1 - flex.poisson**2))
        assert d == pytest.approx(fab.bending_rigidity, rel=1e-12)
        # a fabric bends far more easily than a solid plate of its caliper thickness
        d_solid = fab.young * fab.thickness**3 / (12 * (1 - fab.poisson**2))
        assert d_solid > 10 * fab.bending_rigidity


def _hang(fab, g, width=0.1, length=0.3, count=(5, 16), seconds=3.0):
    """Strip hanging from its pinned top edge; returns the mean drop of the bottom edge [m]."""
    spec = _spec(g)
    nx, ny = count
    # grid in the local xy plane, rotated +90 deg about x so local y points up (world z)
    q = [math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0]
    top = [ix * ny + (ny - 1) for ix in range(nx)]
    h = add_cloth(spec, "strip", fab, size=(width, length), count=count, pos=(0, 0, 1.0), quat=q,
                  self_collide=False, contype=0, conaffinity=0, pin=top)
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    x0 = cloth.vertex_positions(m, d, h)
    assert np.allclose(x0[top, 2], x0[:, 2].max())
    bottom = [ix * ny for ix in range(nx)]
    world.step(m, d, int(seconds / m.opt.timestep))
    x = cloth.vertex_positions(m, d, h)
    assert np.abs(d.qvel).max() < 1e-3, "strip did not settle"
    return float(np.mean(x0[bottom, 2] - x[bottom, 2]))


# A soft test fabric (E t = 100 N/m) so that the top strain rho_A g L / (E t) ~ 0.6 % is
# measurable and still small (linear range of the St Venant-Kirchhoff membrane).
SOFT = Fabric(name="soft", areal_density=0.2, young=1e5, poisson=0.0, thickness=1e-3,
              bending_rigidity=1e-6, damping=0.01)


def test_hang_elongation_matches_closed_form():
    """Average elongation of a strip under its own weight: rho_A g L^2 / (2 E t).

    For the lumped equal vertex masses of the flexcomp grid the discrete sum gives exactly the
    same value as the continuum formula, so the tolerance only covers the Green-strain
    nonlinearity (~strain/2 = 0.3 %) and solver residuals: 2 %.
    """
    length = 0.3
    drop = _hang(SOFT, G_EARTH, length=length)
    expected = SOFT.areal_density * G_EARTH * length**2 / (2 * SOFT.young * SOFT.thickness)
    assert drop == pytest.approx(expected, rel=0.02), (drop, expected)
    # with lateral contraction (nu = 0.3) the clamped top edge stiffens the strip slightly
    drop_nu = _hang(dataclasses.replace(SOFT, poisson=0.3), G_EARTH, length=length)
    assert drop_nu == pytest.approx(expected, rel=0.05), (drop_nu, expected)
    # the elongation is inversely proportional to E t: a stiffer fabric stretches less
    stiff = dataclasses.replace(SOFT, young=2e5)
    assert _hang(stiff, G_EARTH, length=length) == pytest.approx(expected / 2, rel=0.02)


def test_hang_real_fabric_matches_closed_form():
    """The same closed form with the cotton constants (elongation of only a few micrometres)."""
    fab = dataclasses.replace(FABRICS["cotton"], damping=0.01)
    drop = _hang(fab, G_EARTH, count=(3, 11), seconds=1.0)
    expected = fab.areal_density * G_EARTH * 0.3**2 / (2 * fab.tensile_stiffness)
    assert drop == pytest.approx(expected, rel=0.05), (drop, expected)


def test_lunar_gravity_scales_hang_elongation_by_g_ratio():
    earth = _hang(SOFT, G_EARTH)
    moon = _hang(SOFT, G_MOON)
    assert moon / earth == pytest.approx(G_MOON / G_EARTH, rel=0.02)


def test_covered_area_of_flat_and_folded_cloth():
    spec = _spec()
    h = add_cloth(spec, "cloth", FABRICS["cotton"], size=(0.3, 0.2), count=(11, 9))
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    x = cloth.vertex_positions(m, d, h)
    tri = cloth.flex_triangles(m, h)
    assert cloth.covered_area(x[:, :2], tri, resolution=0.002) == pytest.approx(0.06, rel=0.02)
    folded = x.copy()
    folded[:, 0] = -np.abs(folded[:, 0])  # fold the +x half onto the -x half
    # 11 columns: the middle one (x = 0) is the crease, so exactly half the area remains
    assert cloth.covered_area(folded[:, :2], tri, resolution=0.002) == pytest.approx(0.03, rel=0.02)
    # a shifted copy of the same cloth doubles nothing: the union counts overlaps once
    assert cloth.covered_area(x[:, :2] + 1e-4, tri) == pytest.approx(0.06, rel=0.02)


@pytest.mark.parametrize("field,value", [("areal_density", -0.1), ("poisson", 0.5),
                                         ("young", float("nan")), ("thickness", 0.5)])
def test_bad_fabric_is_refused_with_field_name(field, value):
    with pytest.raises(ValueError, match=f"Fabric.{field}"):
        dataclasses.replace(FABRICS["cotton"], **{field: value})


def test_add_cloth_refuses_implicit_integrator_and_bad_grid():
    spec = mujoco.MjSpec()
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    with pytest.raises(ValueError, match="mjINT_DISCRETE"):
        add_cloth(spec, "cloth", FABRICS["cotton"])
    with pytest.raises(ValueError, match="count"):
        add_cloth(_spec(), "cloth", FABRICS["cotton"], count=(1, 5))
    with pytest.raises(ValueError, match="fabric"):
        cloth.get_fabric("silk")


def test_sample_fabric_is_seeded_and_varies():
    a = cloth.sample_fabric(np.random.default_rng(1))
    b = cloth.sample_fabric(np.random.default_rng(1))
    c = cloth.sample_fabric(np.random.default_rng(2))
    assert a == b
    assert a != c


def test_set_fabric_changes_mass_and_stiffness_on_recompile():
    spec = _spec()
    h = add_cloth(spec, "cloth", FABRICS["cotton"], size=(0.2, 0.2), count=(4, 4))
    m1 = spec.compile()
    h2 = cloth.set_fabric(spec, h, FABRICS["denim"])
    m2 = spec.compile()
    ids = cloth.vertex_body_ids(m2, h2)
    assert float(m2.body_mass[ids].sum()) == pytest.approx(FABRICS["denim"].areal_density * 0.04)
    assert h2.mass == pytest.approx(FABRICS["denim"].areal_density * 0.04)
    assert not np.allclose(m1.flex_stiffness, m2.flex_stiffness)


# --- the cloth tasks --------------------------------------------------------------------------
FAST = {"cloth_count": 6, "self_collide": False}


@pytest.mark.parametrize("condition,g", [("earth-reference", G_EARTH), ("moon", G_MOON),
                                         ("lunar-mare-day", G_MOON)])
def test_env_gravity_follows_condition(condition, g):
    from tasks.cloth import ClothLiftEnv

    env = ClothLiftEnv(condition=condition, **FAST)
    env.reset(seed=0)
    assert env.model.opt.gravity[2] == pytest.approx(-g)
    assert env.gravity == pytest.approx(g)
    env.close()


def test_env_rejects_bad_configuration():
    from tasks.cloth import ClothFlattenEnv, ClothLiftEnv

    with pytest.raises(ValueError, match="cloth_size"):
        ClothLiftEnv(cloth_size=2.0, **FAST)
    with pytest.raises(ValueError, match="coverage_threshold"):
        ClothFlattenEnv(coverage_threshold=1.5, **FAST)
    with pytest.raises(ValueError, match="fabric"):
        ClothLiftEnv(fabrics=("silk",), **FAST)
    with pytest.raises(ValueError, match="condition"):
        ClothLiftEnv(condition="venus", **FAST)


def test_episode_fabric_randomization_sets_model_mass():
    from tasks.cloth import ClothLiftEnv

    env = ClothLiftEnv(**FAST)
    seen = set()
    for seed in range(4):
        _, info = env.reset(seed=seed)
        fab = info["randomization"]
        ids = cloth.vertex_body_ids(env.model, env.rig.scene.cloth)
        assert float(env.model.body_mass[ids].sum()) == pytest.approx(
            fab["areal_density"] * env.rig.size**2, rel=1e-9)
        seen.add(round(fab["areal_density"], 6))
    assert len(seen) == 4
    env.close()


def test_flatten_starts_folded_and_scores_flat_cloth_as_success():
    from tasks.cloth import ClothFlattenEnv

    env = ClothFlattenEnv(**FAST)
    env.reset(seed=5)
    ev = env.evaluate()
    assert 0.55 < ev["coverage"] < 0.92 and not ev["success"]
    # put the cloth back flat: coverage 1, success
    env.rig.set_vertices(env.data, env._flat, env._flat)
    mujoco.mj_forward(env.model, env.data)
    ev = env.evaluate()
    assert ev["coverage"] == pytest.approx(1.0, abs=0.03) and ev["success"]
    env.close()


def test_fold_success_needs_corner_on_corner_and_fixed_half_in_place():
    from tasks.cloth import ClothFoldEnv

    env = ClothFoldEnv(**FAST)
    env.reset(seed=1)
    assert not env.evaluate()["success"]
    x = env.rig.vertices(env.data)
    n = env.rig.count
    folded = x.copy()
    for a, b in env._pairs:  # reflect the moving half onto its mirror vertices, one layer up
        folded[a] = x[b] + np.array([0.0, 0.0, 0.007])
    env.rig.set_vertices(env.data, env._flat, folded)
    mujoco.mj_forward(env.model, env.data)
    ev = env.evaluate()
    assert ev["corner_distance"] < 0.01 and ev["fixed_corner_drift"] < 1e-6 and ev["success"]
    assert n * n == len(x)
    env.close()


def test_lift_needs_clearance_and_hold_time():
    from tasks.cloth import ClothLiftEnv

    env = ClothLiftEnv(**FAST)
    env.reset(seed=0)
    ev = env.evaluate()
    assert not ev["success"] and ev["table_contacts"] > 0 and ev["min_height"] < 0.01
    env.close()


def test_compiled_covered_area_equals_the_numpy_reference():
    rng = np.random.default_rng(7)
    n = 12
    g = np.stack(np.meshgrid(np.linspace(0, 0.3, n), np.linspace(0, 0.3, n), indexing="ij"), -1)
    xy = g.reshape(-1, 2)
    tri = np.array([[i * n + j, (i + 1) * n + j, i * n + j + 1] for i in range(n - 1)
                    for j in range(n - 1)] + [[(i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1]
                                              for i in range(n - 1) for j in range(n - 1)])
    for scale in (0.0, 0.01, 0.05, 0.2):  # flat, jittered, crumpled, folded over itself
        pts = xy + rng.normal(0.0, scale, xy.shape)
        for res in (0.002, 0.005):
            assert cloth.covered_area(pts, tri, res) == cloth.covered_area_reference(pts, tri, res)
