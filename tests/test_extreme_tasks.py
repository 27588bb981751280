"""Extreme-environment physics and tasks: free fall, traction ~ mu m g, BeaconLocalize."""

import dataclasses
import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tasks  # noqa: F401  (registers the envs)
from scenes.build import build_scene
from scenes.conditions import G_EARTH, G_MARS, G_MOON, sample_seeded


def _flat(spec, friction=0.6):
    t = dataclasses.replace(spec.terrain, slope_deg=0.0, roughness_rms=0.0, craters=None,
                            rocks=None)
    return dataclasses.replace(spec, terrain=t,
                               regolith=dataclasses.replace(spec.regolith, friction=friction))


@pytest.mark.parametrize("condition,g", [("earth-reference", G_EARTH),
                                         ("mars-day", G_MARS), ("lunar-mare-day", G_MOON)])
def test_dropped_sample_fall_time_matches_gravity(condition, g):
    """A 5 cm sample dropped from 1 m lands after sqrt(2 h / g) (1 % + one step)."""
    spec = _flat(sample_seeded(condition, 0))
    scene = build_scene(spec)
    ms = scene.mjspec
    x, y = spec.goal.x + 1.5, spec.goal.y
    z0 = scene.surface_z(x, y)
    h, r = 1.0, 0.05
    body = ms.worldbody.add_body(name="sample", pos=[x, y, z0 + r + h])
    body.add_freejoint(name="sample_root")
    body.add_geom(name="sample", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[r, 0, 0],
                  density=2800.0)  # basalt ~2.8 g/cm^3
    model = ms.compile()
    data = mujoco.MjData(model)
    gid = model.geom("sample").id
    t_land = None
    while data.time < 5.0:
        mujoco.mj_step(model, data)
        if any(gid in (c.geom1, c.geom2) for c in data.contact[: data.ncon]):
            t_land = data.time
            break
    expected = math.sqrt(2 * h / g)
    assert t_land is not None
    assert abs(t_land - expected) <= 0.01 * expected + 2 * model.opt.timestep, (t_land, expected)


def _slide_force(condition: str, mu: float) -> tuple[float, float]:
    """Lateral force [N] on the resting rover at which it starts to slide, and m g [N]."""
    from tasks.rover_traverse import RoverTraverseEnv

    spec = _flat(sample_seeded(condition, 0), mu)
    env = RoverTraverseEnv(condition=None, scenario=spec)
    env.reset(seed=0)
    m, d = env.model, env.data
    rover = m.body("rover").id
    mass = float(m.body_subtreemass[rover])
    g = float(np.linalg.norm(m.opt.gravity))
    for _ in range(400):  # settle on the suspension
        mujoco.mj_step(m, d)
    y_axis = d.xmat[rover].reshape(3, 3)[:, 1]  # along the axles: wheels cannot roll
    weight = mass * g
    force = 0.0
    while force < 2.0 * mu * weight:
        force += 0.002 * mu * weight  # quasi-static ramp
        d.xfrc_applied[rover, :3] = force * y_axis
        for _ in range(4):
            mujoco.mj_step(m, d)
        # sliding, not soft-contact creep: lateral speed above 5 cm/s
        if abs(float(d.cvel[rover][3:] @ y_axis)) > 0.05 or abs(float(d.qvel[1])) > 0.05:
            break
    env.close()
    return force, weight


def test_rover_traction_scales_with_gravity_as_mu_m_g():
    """Sideways drawbar test: sliding starts at F = mu m g (within 15 %) on Earth and Moon,
    so the Moon/Earth force ratio is the gravity ratio 1.62 / 9.81."""
    mu = 0.6
    f_earth, w_earth = _slide_force("earth-reference", mu)
    f_moon, w_moon = _slide_force("lunar-mare-day", mu)
    assert f_earth == pytest.approx(mu * w_earth, rel=0.15)
    assert f_moon == pytest.approx(mu * w_moon, rel=0.15)
    assert f_moon / f_earth == pytest.approx(G_MOON / G_EARTH, rel=0.15)


def test_beacon_localize_obs_modes():
    for mode in ("image", "both"):
        env = gym.make("embodisim/BeaconLocalize-v0", condition="lunar-night-headlight",
                       scenario_seed=1, obs_mode=mode)
        check_env(env.unwrapped, skip_render_check=True)
        obs, _ = env.reset(seed=0)
        img = obs if mode == "image" else obs["image"]
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and img.max() > 0
        env.close()


def test_beacon_localize_rejects_free_floating_condition():
    with pytest.raises(ValueError, match="orbital-free-floating"):
        gym.make("embodisim/BeaconLocalize-v0", condition="orbital-free-floating")


def test_beacon_localize_scripted_episode_succeeds_and_scores_perception():
    from tasks.registry import make_policy

    env = gym.make("embodisim/BeaconLocalize-v0", condition="lunar-night-headlight",
                   scenario_seed=2)
    pol = make_policy("embodisim/BeaconLocalize-v0", "scripted", env)
    obs, _ = env.reset(seed=2)
    pol.reset(2)
    for _ in range(1200):
        obs, _, term, trunc, info = env.step(pol.act(obs))
        if term or trunc:
            break
    ev = env.unwrapped.evaluate()
    env.close()
    assert ev["reported"] == 1.0
    assert ev["success"], ev
    assert ev["perception_frames"] > 0 and ev["perception_accuracy"] >= 0.5


def test_sample_collect_rejects_free_floating_condition():
    with pytest.raises(ValueError, match="orbital-free-floating"):
        gym.make("embodisim/SampleCollect-v0", condition="orbital-free-floating")


def test_sample_collect_scripted_episode_stows_the_sample_in_the_dark():
    from tasks.registry import make_policy

    env = gym.make("embodisim/SampleCollect-v0", condition="lunar-night-headlight",
                   scenario_seed=0)
    pol = make_policy("embodisim/SampleCollect-v0", "scripted", env)
    obs, _ = env.reset(seed=0)
    pol.reset(0)
    u = env.unwrapped
    site = u.model.site(u.arm.ee_site).id
    offsets = []  # sample centre along the jaw axis from the TCP while the jaws hold it [m]
    for _ in range(600):
        obs, _, term, trunc, _ = env.step(pol.act(obs))
        if pol.phase in ("lift", "carry") and u._sample_touching_jaws():
            jaw_axis = u.data.site_xmat[site].reshape(3, 3)[:, 1]
            offsets.append(float(jaw_axis @ (u.data.xpos[u._sample] - u.data.site_xpos[site])))
        if term or trunc:
            break
    ev = u.evaluate()
    env.close()
    assert ev["success"] and ev["in_container"] == 1.0, ev
    # centred closure: the jaws do not float as a pair (they did by ~2 cm before)
    assert offsets and max(abs(o) for o in offsets) < 0.004, max(abs(o) for o in offsets)
    assert ev["perception_frames"] > 0 and ev["perception_accuracy"] >= 0.5


def test_sample_collect_places_the_sample_where_it_rests():
    """The sample starts at rest: never on ground steeper than MAX_REST_SLOPE_DEG.

    lunar-highland-slopes seed 52 draws its first position on a 39 deg crater wall, from
    which the sample rolled 1.95 m in 3 s (out of the camera's view) before placements were
    checked; seed 0's first draw is flat and kept, so its episode is unchanged.
    """
    from tasks.sample_collect import MAX_REST_SLOPE_DEG

    for condition, seed in (("lunar-highland-slopes", 52), ("lunar-highland-slopes", 0)):
        env = gym.make("embodisim/SampleCollect-v0", condition=condition, scenario_seed=seed)
        env.reset(seed=seed)
        u = env.unwrapped
        p0 = u.data.xpos[u._sample].copy()
        assert u._ground_slope_deg(float(p0[0]), float(p0[1])) <= MAX_REST_SLOPE_DEG
        hold = np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)  # arm still, jaws open
        for _ in range(40):  # 2 s
            env.step(hold)
        moved = float(np.linalg.norm(u.data.xpos[u._sample] - p0))
        env.close()
        assert moved < 0.005, (condition, seed, moved)
