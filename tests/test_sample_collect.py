"""SampleCollect: the gripped sample stays put, the detector uses local contrast."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import tasks  # noqa: F401  (registers the envs)
from tasks.perception.camera import CameraModel
from tasks.perception.sample import SampleDetector


def _grip_in_air(condition: str, hold_steps: int, move: tuple[float, float, float],
                 below: float = 0.0, tilt_deg: float = 0.0) -> float:
    """Put the sample between the open jaws (its centre ``below`` the TCP [m], tilted by
    ``tilt_deg`` about the lander's x axis, as a rock lying on a slope), close them, hold or
    move the TCP for ``hold_steps``; the sample's largest slip in the hand [m]."""
    env = gym.make("embodisim/SampleCollect-v0", condition=condition, scenario_seed=0)
    u = env.unwrapped
    env.reset(seed=0)
    site = u.model.site(u.arm.ee_site).id
    a = u._sample_qadr
    u.data.qpos[a:a + 3] = u.data.site_xpos[site] - np.array([0.0, 0.0, below])
    half = np.radians(tilt_deg) / 2
    u.data.qpos[a + 3:a + 7] = [np.cos(half), np.sin(half), 0.0, 0.0]
    u.data.qvel[u._sample_dadr:u._sample_dadr + 6] = 0.0
    g = u.model.opt.gravity.copy()
    u.model.opt.gravity[:] = 0.0  # the jaws close (0.4 s) before the sample would fall out
    for _ in range(15):
        env.step(np.array([0.0, 0.0, 0.0, 0.0, -1.0], dtype=np.float32))
    u.model.opt.gravity[:] = g
    assert u._sample_touching_jaws()

    def rel() -> np.ndarray:
        r = u.data.site_xmat[site].reshape(3, 3)
        return r.T @ (u.data.xpos[u._sample] - u.data.site_xpos[site])

    r0 = rel()
    slip = 0.0
    for _ in range(hold_steps):
        env.step(np.array([*move, 0.0, -1.0], dtype=np.float32))
        slip = max(slip, float(np.linalg.norm(rel() - r0)))
    env.close()
    return slip


@pytest.mark.parametrize(("move", "limit"), [((0.0, 0.0, 0.0), 0.0002),
                                             ((0.0, -0.6, 0.3), 0.004)])
def test_gripped_sample_does_not_creep_at_one_g(move, limit):
    """At 1 g, gripped 3.5 mm off its equator, for 3 s: held still it slides < 0.2 mm along
    the pads, carried at 0.13 m/s < 4 mm.

    15 N per jaw with pad friction 1 is ~30x the 0.9 N weight. With MuJoCo's default
    contact mixing (the sample's 1 cm rolling resistance) and no noslip post-solver it
    slid 0.7 mm held still and 7.3 mm carried, and in full episodes walked out of the grip.
    """
    assert _grip_in_air("earth-reference", 60, move, below=0.0035) < limit


@pytest.mark.parametrize(("below", "held"), [(0.0037, True), (0.009, False)])
def test_tilted_sample_stays_in_the_jaws_only_gripped_near_its_equator(below, held):
    """A rock lying on a 16 deg slope, lifted tilted, and carried for 6 s at lunar gravity:
    gripped with its centre 3.7 mm below the TCP (the lowest the controller's 5.5 mm raise
    gives when the uphill fingertip touches 7 mm above the rock's base) it stays in the jaws;
    9 mm below (the earlier 8 mm raise on highland seed 14's slope) it falls out."""
    slip = _grip_in_air("lunar-highland-slopes", 120, (0.0, -0.6, 0.3), below=below, tilt_deg=16.0)
    assert (slip < 0.01) is held, slip


def _scene(size: int = 64) -> tuple[np.ndarray, CameraModel]:
    """A ground frame with a floodlight hot spot, a shadow edge and no sample (radiance)."""
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    r2 = ((xs - 24) ** 2 + (ys - 30) ** 2) / size**2
    ground = 0.25 * np.exp(-6.0 * r2)  # bright centre, corners ~6x darker
    ground = np.where(xs + 0.6 * ys > 70, 0.02 * ground, ground)  # cast shadow, lower right
    rng = np.random.default_rng(3)
    ground = ground * (1.0 + 0.03 * rng.standard_normal(ground.shape))
    calib = CameraModel(width=size, height=size, focal_px=77.0, pos_body=(0.0, 0.0, 1.0),
                        rot_body=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    return ground, calib


def _frame(lum: np.ndarray) -> np.ndarray:
    """Grey luminance (sum of R, G, B as fractions of full scale) -> square-root 8-bit codes."""
    x = np.repeat(np.clip(lum / 3.0, 0.0, 1.0)[..., None], 3, axis=-1)
    return np.floor(255.0 * np.sqrt(x) + 0.5).astype(np.uint8)


def _disc(lum: np.ndarray, u: float, v: float, gain: float) -> np.ndarray:
    ys, xs = np.mgrid[0:lum.shape[0], 0:lum.shape[1]] + 0.5
    inside = (xs - u) ** 2 + (ys - v) ** 2 <= 2.0**2
    return np.where(inside, gain * lum, lum)


def test_detector_finds_a_sample_in_the_bright_hot_spot():
    """1.8x its surroundings at the hot spot: a frame-median threshold of 2x misses it."""
    ground, calib = _scene()
    img = _frame(_disc(ground, 24.0, 30.0, 1.8))
    det = SampleDetector().detect(img, calib)
    assert det is not None
    assert abs(det.u - 24.0) < 0.5 and abs(det.v - 30.0) < 0.5, det


def test_detector_finds_a_sample_in_the_dim_corner_over_the_hot_spot():
    ground, calib = _scene()
    img = _frame(_disc(ground, 8.0, 8.0, 2.2))
    det = SampleDetector().detect(img, calib)
    assert det is not None and abs(det.u - 8.0) < 0.5 and abs(det.v - 8.0) < 0.5, det


def test_detector_ignores_shadow_edges_and_vignetting():
    ground, calib = _scene()
    assert SampleDetector().detect(_frame(ground), calib) is None


def test_detector_rejects_bad_knobs():
    with pytest.raises(ValueError, match="background_window"):
        SampleDetector(background_window=10)


def _state(ee: tuple[float, float, float], opening: float) -> np.ndarray:
    """A 17-float SampleCollect state: TCP, yaw, opening, no tracking error, a fresh ray."""
    s = np.zeros(17, dtype=np.float32)
    s[0:3] = ee
    s[4] = opening
    s[8:11] = (0.0, 0.0, -1.0)
    s[11] = 1.0
    return s


def _grasping_collector():
    """A SampleCollector at the start of its grasp phase, jaws at (0.5, 0, 0) on a vertical ray."""
    from tasks.controllers.sample import SampleCollector

    pol = SampleCollector()
    pol.phase, pol._n = "grasp", 0
    pol._grasp_at = np.array([0.5, 0.0, 0.0])
    pol._ray = np.array([0.0, 0.0, -1.0])
    return pol


def test_controller_regrasps_turned_when_the_jaws_squeeze_off_the_equator():
    """Closed jaws at 36 mm (chord ~9 mm off the 44 mm equator) after the grasp was already
    lowered once: open, turn 90 deg, look."""
    pol = _grasping_collector()
    pol._lowered = True
    for _ in range(14):
        pol.act(_state((0.5, 0.0, 0.0), 0.036))
    assert pol.phase == "regrasp"
    acts = [pol.act(_state((0.5, 0.0, 0.0), 0.08)) for _ in range(30)]
    assert all(a[4] > 0 for a in acts)  # jaws open
    assert sum(a[3] for a in acts) * pol.max_yaw_step == pytest.approx(np.pi / 2, abs=0.05)
    assert pol.phase == "look"


def test_controller_keeps_a_grip_on_the_equator():
    pol = _grasping_collector()
    for _ in range(14):
        pol.act(_state((0.5, 0.0, 0.0), 0.043))
    assert pol.phase == "lift"


def test_controller_retry_turns_the_jaws_the_other_way_each_time():
    from tasks.controllers.sample import SampleCollector

    pol = SampleCollector()
    turns = []
    for _ in range(2):
        pol.phase, pol._n = "lift", 0
        pol.act(_state((0.5, 0.0, pol.safe_z), 0.0))  # at the top, jaws closed on nothing
        assert pol.phase == "look"
        turns.append(sum(float(pol.act(_state((0.0, 0.4, 0.35), 0.08))[3]) for _ in range(5)))
        while pol._turn:
            turns[-1] += float(pol.act(_state((0.0, 0.4, 0.35), 0.08))[3])
    assert turns[0] * pol.max_yaw_step == pytest.approx(np.pi / 2, abs=0.05)
    assert turns[1] == pytest.approx(-turns[0])


def _low_sun_frame(u0: float, v0: float, elev_deg: float) -> tuple[np.ndarray, CameraModel,
                                                                    np.ndarray]:
    """A 64 px frame of a 22 mm sphere on level ground at 0.934 m under a sun ``elev_deg``
    above the horizon toward +u (image right), rendered by ray casting at 8x8 samples per
    pixel: Lambertian rock (albedo 0.45), regolith (0.12), sky/ground-bounce ambient."""
    calib = CameraModel(width=64, height=64, focal_px=77.25, pos_body=(0.0, 0.0, 0.95),
                        rot_body=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    e = np.radians(elev_deg)
    sun = np.array([np.cos(e), 0.0, np.sin(e)])
    ss = 8
    g = (np.arange(64 * ss) + 0.5) / ss
    uu, vv = np.meshgrid(g, g)
    d = calib.rays_body(uu.ravel(), vv.ravel())
    o = np.array(calib.pos_body)
    ray = calib.rays_body(np.array([u0]), np.array([v0]))[0]
    c = o + ray * (0.934 / -ray[2])  # on the ray through (u0, v0), 0.934 m below the camera
    r = 0.022
    oc = o - c
    b = d @ oc
    disc = b * b - (oc @ oc - r * r)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    hit = disc > 0
    n = (o + t[:, None] * d - c) / r
    rock = 0.45 * (np.clip(n @ sun, 0.0, None) + 0.05)
    tg = (c[2] - r - o[2]) / d[:, 2]
    gp = o + tg[:, None] * d - c  # ground point relative to the centre
    gb = gp @ sun
    shadow = (gb * gb - ((gp * gp).sum(-1) - r * r) > 0) & (gb < 0)
    ground = 0.12 * (np.where(shadow, 0.0, np.sin(e)) + 0.05)
    lum = np.where(hit, rock, ground).reshape(64 * ss, 64 * ss)
    lum = lum.reshape(64, ss, 64, ss).mean(axis=(1, 3))
    lum *= 1.0 + 0.01 * np.random.default_rng(5).standard_normal(lum.shape)
    return _frame(3.0 * lum / lum.max() * 0.8), calib, sun


@pytest.mark.parametrize("elev", [6.5, 20.0])
def test_detector_shading_fit_removes_the_low_sun_bias(elev):
    """Under a low sun only the sunward half of the rock is bright: the blob's centroid lies
    ~0.4 radius sunward (0.8-0.9 px here). The shading-model fit with the sun direction puts the
    centre within 0.25 px (3 mm at 0.93 m) of the truth, the plain centroid does not."""
    u0, v0 = 40.3, 22.6
    img, calib, sun = _low_sun_frame(u0, v0, elev)
    det = SampleDetector()
    plain = det.detect(img, calib)
    fitted = det.detect(img, calib, sun=sun)
    assert plain is not None and fitted is not None
    assert plain.u - u0 > 0.5, plain  # biased toward the sun (+u)
    assert np.hypot(fitted.u - u0, fitted.v - v0) < 0.25, (fitted, plain)


def test_detector_fit_is_skipped_without_sun():
    img, calib, _ = _low_sun_frame(30.0, 30.0, 6.5)
    det = SampleDetector()
    plain = det.detect(img, calib)
    night = det.detect(img, calib, sun=np.array([1.0, 0.0, -0.1]))  # below the horizon
    assert plain is not None and night is not None and night.u == plain.u


def test_controller_lowers_a_grasp_above_the_equator():
    """Jaws closed at 41 mm (a 42 mm chord with the 1 mm pad squeeze): the pads' lower edge
    is 16*sqrt(1-(21/22)^2) = 4.8 mm above the equator; the controller opens, goes down
    7.15 + 4.8 - 2 mm (not below the first contact) and closes again."""
    pol = _grasping_collector()
    pol._contact_z = -0.05
    for _ in range(14):
        pol.act(_state((0.5, 0.0, 0.0), 0.041))
    assert pol.phase == "reopen"
    expected = -(pol.pad_half_height + 16e-3 * np.sqrt(1 - (0.021 / 0.022) ** 2)) + 0.002
    assert pol._grasp_at[2] == pytest.approx(expected, abs=1e-4)
    acts = [pol.act(_state((0.5, 0.0, 0.0), 0.08)) for _ in range(14)]
    assert all(a[4] > 0 for a in acts) and sum(a[2] for a in acts) < 0  # open, then down
    assert pol.phase == "grasp"
    for _ in range(14):
        pol.act(_state((0.5, 0.0, expected), 0.041))
    assert pol.phase == "lift"  # lowered once only


def test_state_carries_the_sun_sensor():
    """The last 3 state floats: unit vector to the sun (lander frame) within 2 deg; zeros
    at night."""
    from scenes.build import sun_direction

    for cond, up in (("lunar-terminator", True), ("lunar-night-headlight", False)):
        env = gym.make("embodisim/SampleCollect-v0", condition=cond, scenario_seed=1)
        obs, _ = env.reset(seed=1)
        u = env.unwrapped
        assert obs.shape == (17,) and env.observation_space.shape == (17,)
        lt = u.scenario.lighting
        truth = u._rot.T @ sun_direction(lt.sun_elevation_deg, lt.sun_azimuth_deg)
        env.close()
        if up:
            assert np.degrees(np.arccos(np.clip(obs[14:17] @ truth, -1, 1))) < 2.0
        else:
            assert not obs[14:17].any()


def test_detector_prefers_a_shadowed_rock_to_a_lit_terrain_bump():
    """A light rock in a terrain shadow, lit by the sky only (0.05, its dark surround
    ~0.001), against a lit bump 1.5x the bright hot spot: the bump has the larger summed
    excess (1.6 vs 0.6), the rock the far larger contrast; the rock is taken."""
    ground, calib = _scene()
    ys, xs = np.mgrid[0:64, 0:64] + 0.5
    lum = _disc(ground, 24.0, 30.0, 1.5)
    lum = np.where((xs - 50.0) ** 2 + (ys - 50.0) ** 2 <= 4.0, 0.05, lum)
    det = SampleDetector().detect(_frame(lum), calib)
    assert det is not None and abs(det.u - 50.0) < 0.5 and abs(det.v - 50.0) < 0.5, det


def test_collector_does_not_take_servo_lag_for_contact():
    """Highland seed 10: the TCP lagged its target by 2-4 cm at the top of a slanted ray and
    the descent read that as fingertip contact 30 cm above the ground (a grasp in the air).
    The descent starts only once the servos have caught up, and its first steps sense no
    contact; a real contact after that still stops it."""
    from tasks.controllers.sample import DESCEND_BLIND, SampleCollector

    ray = np.array([-0.2, 0.1, -0.97])
    ray /= np.linalg.norm(ray)

    def state(ee, err):
        s = np.zeros(17)
        s[0:3], s[4], s[5:8] = ee, 0.08, err
        s[8:11], s[11], s[12] = ray, 1.0, 0.05
        return s

    c = SampleCollector()
    c.act(state((0.0, 0.45, 0.45), (0.0, 0.0, 0.0)))  # a fresh fix: leave "look"
    assert c.phase == "above"
    top = c._on_ray(c.safe_z)
    lag = (0.03, -0.02, -0.02)
    for _ in range(5):  # at the top of the ray, still lagging: no descent yet
        c.act(state(top, lag))
    assert c.phase == "above"
    c.act(state(top, (0.0, 0.0, 0.0)))
    assert c.phase == "descend"
    for _ in range(DESCEND_BLIND):  # servo lag as the descent starts is not contact
        c.act(state(top, lag))
        assert c.phase == "descend"
    # past the blind steps, a TCP that lags 2 cm but still sinks 5 mm a step is not touching
    # (jaws turned 90 deg after a regrasp: highland seeds 16, 42, 59, 66, 74)
    ee = top.copy()
    for _ in range(20):
        ee = ee + 0.005 / abs(ray[2]) * ray
        c.act(state(ee, (0.0, 0.0, -0.02)))
        assert c.phase == "descend"
    c.act(state(ee, (0.0, 0.0, -0.02)))  # fingertips on the ground: stopped, lagging
    assert c.phase == "raise"


@pytest.mark.parametrize("uphill", [0.0, 0.0035, 0.007])
def test_collector_grasps_with_the_equator_inside_the_pads(uphill):
    """The fingertip that touches first may stand up to 7 mm above the rock's base (the uphill
    one on a slope). The grasp height from that contact keeps the sample's equator (16 mm
    above its base) >= 3 mm inside the pads' span (TCP +/- 7.15 mm) for every such offset:
    a rock lifted off a slope hangs tilted and, squeezed well below its centre, slides down
    the pads and out (the test above; highland seed 14 dropped it in the carry with the
    earlier 8 mm raise)."""
    from tasks import sample_collect as sc
    from tasks.controllers.sample import SampleCollector

    c = SampleCollector()
    c.phase, c._n, c._ray = "descend", 100, np.array([0.0, 0.0, -1.0])
    contact_tcp = 0.0  # TCP height when the fingertip touched [m]
    for _ in range(2):  # stopped with the servo error of a contact
        s = np.zeros(17)
        s[0:3], s[4], s[5:8] = (0.5, 0.0, contact_tcp), 0.08, (0.0, 0.0, -0.02)
        c.act(s)
    assert c.phase == "raise"
    base = contact_tcp - c.pad_half_height - uphill
    equator = base + sc.SAMPLE_RADII[2]
    lower, upper = c._grasp_at[2] - c.pad_half_height, c._grasp_at[2] + c.pad_half_height
    assert lower + 0.003 <= equator <= upper - 0.003, (lower, equator, upper)
