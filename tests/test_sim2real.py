"""sim2real: randomization isolation, reality proxies measured, log validation, transfer scoring."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from metrics.sim2real import rank_violations, sim_real_correlation, transfer_loss
from sim2real import randomization as rz
from sim2real.logs import RobotLog, commanded_ctrl, load_log, record_log, replay, save_log
from sim2real.reality import PROFILES, RealityProfile, TouchSensorGap, get_profile
from sim2real.transfer import EpisodeOutcome, score
from sim2real.wrappers import (
    Calibrated,
    DomainRandomization,
    RealityProxy,
    make_env,
    set_gel_modulus,
)

ROVER = "embodisim/RoverTraverse-v0"
COND = "lunar-mare-day"


@pytest.fixture(scope="module")
def nominal_model():
    env = make_env(ROVER, condition=COND, scenario_seed=0)
    yield copy.deepcopy(env.unwrapped.model)
    env.close()


def _actions(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)


def _rollout(env, seed: int, actions: np.ndarray) -> tuple[np.ndarray, dict]:
    obs, info = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, *_ = env.step(a)
        out.append(obs)
    return np.asarray(out), info


# --- randomization ----------------------------------------------------------------------------


def test_samplers_are_pure_and_change_only_what_they_claim(nominal_model):
    m = nominal_model
    before = {f: getattr(m, f).copy() for f in rz.MODEL_FIELDS}
    s = rz.friction(m, rz.Uniform(0.5, 0.5), np.random.default_rng(0))
    for f in rz.MODEL_FIELDS:  # input untouched
        np.testing.assert_array_equal(getattr(m, f), before[f])
    assert s.values == {"friction_scale": 0.5}
    np.testing.assert_allclose(s.model.geom_friction[:, 0], 0.5 * m.geom_friction[:, 0])
    np.testing.assert_array_equal(s.model.geom_friction[:, 1:], m.geom_friction[:, 1:])
    for f in rz.MODEL_FIELDS:
        if f != "geom_friction":
            np.testing.assert_array_equal(getattr(s.model, f), getattr(m, f))
    b = rz.body_mass(m, rz.BodyScale(("rover",), rz.Uniform(1.2, 1.2)), np.random.default_rng(0))
    rid = m.body("rover").id
    assert b.model.body_mass[rid] == pytest.approx(1.2 * m.body_mass[rid])
    others = np.arange(m.nbody) != rid
    np.testing.assert_array_equal(b.model.body_mass[others], m.body_mass[others])
    g = rz.actuator_gain(m, rz.Uniform(0.5, 0.5), np.random.default_rng(0))
    np.testing.assert_allclose(g.model.actuator_gainprm[:, 0], 0.5 * m.actuator_gainprm[:, 0])
    np.testing.assert_allclose(g.model.actuator_biasprm[:, 2], 0.5 * m.actuator_biasprm[:, 2])


def test_bad_values_are_refused_with_the_field_named(nominal_model):
    with pytest.raises(ValueError, match="friction_scale"):
        rz.apply_values(nominal_model, {"friction_scale": -1.0})
    with pytest.raises(ValueError, match="no body 'arm'"):
        rz.apply_values(nominal_model, {"mass_scale:arm": 1.1})
    with pytest.raises(ValueError, match="unknown"):
        rz.apply_values(nominal_model, {"wheel_colour": 1.0})
    with pytest.raises(ValueError, match="low <= high"):
        rz.Uniform(2.0, 1.0)


def test_same_seed_episodes_differ_only_by_the_randomization():
    actions = _actions(40)
    env = DomainRandomization(make_env(ROVER, condition=COND, scenario_seed=0), "rover-dr",
                              randomization_seed=3)
    a, info_a = _rollout(env, 0, actions)
    b, info_b = _rollout(env, 0, actions)
    assert info_a["randomization"] != info_b["randomization"]
    assert not np.array_equal(a, b)  # the randomization changes the episode ...
    # ... and explains all of it: applying the drawn values to a fresh nominal env
    # (same reset seed) reproduces each randomized episode bit for bit.
    for traj, info in ((a, info_a), (b, info_b)):
        replica = Calibrated(make_env(ROVER, condition=COND, scenario_seed=0), info["randomization"])
        c, _ = _rollout(replica, 0, actions)
        np.testing.assert_array_equal(traj, c)
    # A randomization of zero width leaves consecutive same-seed episodes identical.
    null = rz.Randomization("null", "nothing", (rz.Term(rz.friction, rz.Uniform(1.0, 1.0)),))
    env0 = DomainRandomization(make_env(ROVER, condition=COND, scenario_seed=0), null, 5)
    np.testing.assert_array_equal(_rollout(env0, 0, actions)[0], _rollout(env0, 0, actions)[0])


# --- reality proxies --------------------------------------------------------------------------


def test_latency_profile_delays_actions_by_the_stated_steps():
    profile = get_profile("rover-latency")
    env = make_env(ROVER, reality=profile.name, condition=COND, scenario_seed=0)
    actions = _actions(12)
    env.reset(seed=0)
    applied = []
    for a in actions:
        env.step(a)
        applied.append(env.unwrapped.data.ctrl.copy())
    applied = np.asarray(applied)
    k = profile.delay_steps
    assert k == 3
    np.testing.assert_array_equal(applied[:k], 0.0)
    expected = np.asarray([commanded_ctrl(env, a) for a in actions[:-k]])
    np.testing.assert_allclose(applied[k:], expected, rtol=1e-6)
    # the measured lag is the argmin of the command/applied mismatch over candidate lags
    err = [np.abs(applied[j:] - np.asarray([commanded_ctrl(env, a) for a in actions[:len(actions) - j]])).sum()
           for j in range(6)]
    assert int(np.argmin(err)) == k


def test_backlash_absorbs_small_command_changes():
    profile = RealityProfile("bl", "RoverTraverse", "test backlash", ("dead band 0.2",), backlash=0.2)
    env = RealityProxy(make_env(ROVER, condition=COND, scenario_seed=0), profile)
    env.reset(seed=0)
    vmax = float(env.unwrapped.scenario.robot.max_wheel_speed)
    for a, expect in (((0.1, 0.1), 0.0), ((0.5, 0.5), 0.3), ((0.35, 0.35), 0.3), ((0.0, 0.0), 0.2)):
        env.step(np.array(a, dtype=np.float32))
        np.testing.assert_allclose(env.unwrapped.data.ctrl[0] / vmax, expect, atol=1e-6)


def test_model_profiles_change_what_they_claim(nominal_model):
    env = make_env(ROVER, reality="rover-payload", condition=COND, scenario_seed=0)
    m, n = env.unwrapped.model, nominal_model
    rid = n.body("rover").id
    assert m.body_mass[rid] == pytest.approx(1.3 * n.body_mass[rid])
    np.testing.assert_allclose(m.actuator_gainprm[:, 0], 0.7 * n.actuator_gainprm[:, 0])
    for f in ("geom_friction", "geom_solref", "dof_damping", "dof_frictionloss", "hfield_size"):
        np.testing.assert_array_equal(getattr(m, f), getattr(n, f))
    soil = make_env(ROVER, reality="rover-soft-soil", condition=COND, scenario_seed=0).unwrapped.model
    np.testing.assert_allclose(soil.geom_friction[:, 0], 0.7 * n.geom_friction[:, 0])
    np.testing.assert_allclose(soil.geom_solref[:, 0], 3.0 * n.geom_solref[:, 0])


def test_sensor_bias_is_the_stated_offset():
    profile = RealityProfile("bias", "RoverTraverse", "gyro bias", ("gyro +0.02",),
                             obs_bias={"gyro": 0.02})
    actions = _actions(10)
    real, _ = _rollout(RealityProxy(make_env(ROVER, condition=COND, scenario_seed=0), profile), 0,
                       actions)
    sim, _ = _rollout(make_env(ROVER, condition=COND, scenario_seed=0), 0, actions)
    np.testing.assert_allclose(real[:, 3:6] - sim[:, 3:6], 0.02, atol=1e-6)
    np.testing.assert_array_equal(np.delete(real, [3, 4, 5], axis=1), np.delete(sim, [3, 4, 5], axis=1))


def test_every_profile_lists_its_changes():
    for p in PROFILES.values():
        assert p.changes and p.description
    with pytest.raises(ValueError, match="channel 'lidar'"):
        RealityProfile("x", "RoverTraverse", "d", ("c",), obs_noise={"lidar": 0.1})
    with pytest.raises(ValueError, match="reality proxy stands for the real robot"):
        make_env(ROVER, reality="rover-latency", randomization="rover-dr", condition=COND)


# --- logs -------------------------------------------------------------------------------------


def _good_log(**over) -> dict:
    t = np.arange(5) * 0.05
    base = {"t": t, "qpos": np.zeros((5, 3)), "qvel": np.zeros((5, 3)), "ctrl": np.zeros((5, 1)),
            "sensors": {"gyro": np.zeros((5, 3))},
            "units": {"t": "s", "qpos": "SI", "qvel": "SI", "ctrl": "actuator",
                      "sensors/gyro": "rad/s"}}
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"qvel": None}, "'qvel'.*missing"),
        ({"t": np.array([0.0, 0.1, 0.1, 0.2, 0.3])}, "'t'.*not strictly increasing"),
        ({"units": {"t": "ms", "qpos": "SI", "qvel": "SI", "ctrl": "actuator",
                    "sensors/gyro": "rad/s"}}, "'t'.*unit 'ms'.*divide"),
        ({"units": {"t": "s", "qpos": "deg", "qvel": "SI", "ctrl": "actuator",
                    "sensors/gyro": "rad/s"}}, "'qpos'.*unit 'deg'"),
        ({"units": {"t": "s", "qpos": "SI", "qvel": "SI", "ctrl": "actuator"}},
         "'sensors/gyro'.*no unit"),
        ({"ctrl": np.zeros((4, 1))}, "'ctrl'.*shape"),
        ({"sensors": {"gyro": np.full((5, 3), np.nan)}}, "'sensors/gyro'.*non-finite"),
    ],
)
def test_malformed_logs_are_refused_naming_the_field(over, match):
    with pytest.raises(ValueError, match=match):
        RobotLog(**_good_log(**over))


def test_log_files_round_trip_and_missing_channels_are_named(tmp_path: Path):
    log = RobotLog(**_good_log(), meta={"source": "test"})
    back = load_log(save_log(log, tmp_path / "a.npz"))
    np.testing.assert_array_equal(back.sensors["gyro"], log.sensors["gyro"])
    assert back.meta == {"source": "test"} and back.units == log.units
    arrays = {k: getattr(log, k) for k in ("t", "qpos", "ctrl")}  # qvel left out
    np.savez(tmp_path / "bad.npz", header=np.array('{"units": {}}'), **arrays)
    with pytest.raises(ValueError, match="'qvel'.*missing channel"):
        load_log(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="suffix"):
        save_log(log, tmp_path / "a.csv")


def test_hdf5_round_trip(tmp_path: Path):
    pytest.importorskip("h5py")
    log = RobotLog(**_good_log())
    back = load_log(save_log(log, tmp_path / "a.h5"))
    np.testing.assert_array_equal(back.qpos, log.qpos)


def test_replay_reports_the_gap_and_the_true_model_closes_it(nominal_model):
    profile = get_profile("rover-payload")
    env = make_env(ROVER, reality=profile.name, condition=COND, scenario_seed=0)
    from tasks.registry import make_policy

    log = record_log(env, make_policy(ROVER, "scripted", env), 0, max_steps=80)
    gap = replay(log, nominal_model)
    assert gap.base_rms_m > 1e-3 and gap.steps == 80
    true_model = rz.apply_values(nominal_model, profile.values)
    assert replay(log, true_model, profile.delay_steps).base_rms_m < 1e-9


# --- transfer scoring -------------------------------------------------------------------------


def test_transfer_scores_match_metrics_on_the_same_records():
    rng = np.random.default_rng(1)
    outcomes = []
    truth = {}
    for name, (ps, pr) in {"a": (0.9, 0.8), "b": (0.7, 0.4), "c": (0.5, 0.45)}.items():
        sim = rng.random(30) < ps
        real = rng.random(30) < pr
        truth[name] = (sim, real)
        outcomes += [EpisodeOutcome(name, "sim", i, bool(s)) for i, s in enumerate(sim)]
        outcomes += [EpisodeOutcome(name, "reality", i, bool(r)) for i, r in enumerate(real)]
    per, (r, lo, hi, viol) = score(outcomes, boot_seed=11)
    ref_rng = np.random.default_rng(11)
    for p in per:
        ref = transfer_loss(*truth[p.policy], ref_rng)
        assert (p.loss, p.loss_low, p.loss_high) == (ref.loss, ref.low, ref.high)
        assert p.s_sim == ref.s_sim and p.s_real == ref.s_real
    sims = [truth[p.policy][0].mean() for p in per]
    reals = [truth[p.policy][1].mean() for p in per]
    c = sim_real_correlation(sims, reals)
    assert (r, lo, hi) == (c.r, c.low, c.high)
    assert viol == rank_violations(sims, reals)


def test_stored_suite_scores_match_metrics(tmp_path: Path):
    from metrics.stats import t_interval
    from metrics.store import EpisodeRecord, ResultsStore
    from sim2real.transfer import score_store

    sim = [True] * 8 + [False] * 2
    real = [True] * 6 + [False] * 3 + [True]  # one reality success where the twin failed
    with ResultsStore(tmp_path / "s.sqlite") as store:
        for i, (s, r) in enumerate(zip(sim, real, strict=True)):
            m = {"sim_success": float(s), "reality_success": float(r)}
            if s:
                m["sim2real_loss"] = 1.0 - float(r)
            store.insert(EpisodeRecord(
                run_id="r", suite="sim2real", task_id="pair", condition=COND, scenario_seed=i,
                episode_seed=i, policy="scripted", success=r, metrics=m, sim_error=None,
                wall_time_s=0.0, embodisim_version="0", mujoco_version="0", variant="raw"))
    (row,) = score_store(str(tmp_path / "s.sqlite"), boot_seed=4)
    ref = transfer_loss(sim, real, np.random.default_rng(4))
    assert row.loss == (ref.loss, ref.low, ref.high)
    assert row.loss[0] == pytest.approx((0.8 - 0.7) / 0.8)
    paired = t_interval(np.array([1.0 - r for s, r in zip(sim, real, strict=True) if s]))
    assert row.paired_loss == (paired.value, paired.low, paired.high)
    assert row.paired_loss[0] == pytest.approx(2 / 8)  # conservative: >= the unpaired loss


@pytest.mark.slow
def test_paired_suite_episode_records_both_sides(tmp_path: Path):
    from metrics.store import ResultsStore
    from sim2real import suites
    from tasks.runner import run_suite
    from tasks.suites import Suite, SuiteEntry

    suite = Suite("s2r-test", "one paired episode", (SuiteEntry(
        f"sim2real.suites:{suites.ROVER_PAIR}", (COND,), "scripted", 1, variant="no-sysid-no-dr",
        env_kwargs={"policy": "scripted", "reality": "rover-latency", "pipeline": "raw"}),))
    summary = run_suite(suite, tmp_path / "p.sqlite", progress=False,
                        policy_factory=suites.policy_factory)
    assert summary["ran"] == 1 and summary["sim_errors"] == 0
    (row,) = ResultsStore(tmp_path / "p.sqlite").rows()
    assert row.metrics["reality_success"] == float(row.success)
    assert ("sim2real_loss" in row.metrics) == (row.metrics["sim_success"] == 1.0)
    # the twin is the nominal sim of the same scene and seed: it matches a direct run
    from sim2real.transfer import run_episode

    assert row.metrics["sim_success"] == float(run_episode(ROVER, "scripted", 0, COND, {}))
    assert "sim2real" in __import__("tasks.suites", fromlist=["SUITES"]).SUITES


# --- touch skill: reality proxy and randomization of the tactile task --------------------------

FRAGILE = "embodisim/FragileGrasp-v0"
EARTH = "earth-reference"
TOUCH = slice(30, 42)  # touch features of the observation (tasks.touch.base)
OPEN = np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)  # hold still, jaws open: no contact


def _touch_proxy(gap: TouchSensorGap, **values: float) -> RealityProxy:
    profile = RealityProfile("t", "FragileGrasp", "test", ("test",), values=values, touch=gap)
    return RealityProxy(make_env(FRAGILE, condition=EARTH, scenario_seed=0), profile)


def test_touch_marker_noise_appears_in_the_field_with_the_stated_spread():
    sigma = 0.01  # [mm]
    env = _touch_proxy(TouchSensorGap(marker_noise_mm=sigma))
    env.reset(seed=0)
    fields, feats = [], []
    for _ in range(20):
        obs, *_ = env.step(OPEN)
        assert not env.unwrapped._markers.any()  # the simulator's own field stays exact (no load)
        fields.append(env.tracked_markers() * 1e3)
        feats.append(obs[TOUCH])
    u, f = np.asarray(fields), np.asarray(feats, dtype=float).reshape(-1, 2, 6)
    # 20 x 2 x 63 x 3 draws: the sample std is within 3 % (1 sigma) of sigma
    assert u.std() == pytest.approx(sigma, rel=0.1)
    assert abs(u.mean()) < 0.1 * sigma
    # the tasks' mean indentation clips at zero: E[max(0, N(0, s^2))] = s / sqrt(2 pi)
    assert f[:, :, 0].mean() == pytest.approx(sigma / np.sqrt(2 * np.pi), rel=0.12)
    sim = make_env(FRAGILE, condition=EARTH, scenario_seed=0)
    sim.reset(seed=0)
    assert not np.any(sim.step(OPEN)[0][TOUCH])  # nominal: no load, no touch signal


def test_lost_markers_keep_their_last_value_and_frames_are_held():
    env = _touch_proxy(TouchSensorGap(marker_noise_mm=0.01, lost_markers=0.3))
    env.reset(seed=1)
    prev = env.tracked_markers()
    held = []
    for _ in range(20):
        env.step(OPEN)
        cur = env.tracked_markers()
        held.append(np.all(cur == prev, axis=-1))  # (2, N): marker kept exactly
        prev = cur
    assert np.mean(held) == pytest.approx(0.3, abs=0.05)  # 2520 markers: 1 sigma ~ 0.009
    slow = _touch_proxy(TouchSensorGap(marker_noise_mm=0.01, frame_steps=2))
    obs0, _ = slow.reset(seed=1)
    feats = [obs0[TOUCH]] + [slow.step(OPEN)[0][TOUCH] for _ in range(6)]
    for k in range(0, 6, 2):  # a new frame at steps 0, 2, 4, held one step each
        np.testing.assert_array_equal(feats[k], feats[k + 1])
        assert not np.array_equal(feats[k + 1], feats[k + 2])


def test_gel_modulus_scales_the_marker_field_as_linear_elasticity():
    env = make_env(FRAGILE, condition=EARTH, scenario_seed=0)
    u = env.unwrapped
    nominal, cal = u.pads[0], u.tactile_calibration
    a = float(nominal.patch_radius(np.array([2.0]), np.array([0.015]))[0])
    press = np.array([[0.002, -0.001, 0.3, 0.0, -2.0, a]])  # 2 N press + 0.3 N shear
    t = nominal.patch_tractions(press)
    set_gel_modulus(env, 1.4)
    aged = u.pads[0]
    assert aged.config.young == pytest.approx(1.4 * u.pad_config.young)
    # same tractions: displacements scale exactly with 1/E (fixed Poisson ratio)
    np.testing.assert_allclose(aged.marker_field(t), nominal.marker_field(t) / 1.4,
                               rtol=1e-9, atol=1e-15)
    # same force through the whole path (each gel's own contact radius): the mean normal
    # displacement over the pad, ~ the layer's k = 0 compliance F h / (lambda + 2 mu), stays
    # within 5 % of 1/E although the patch shrinks on the stiffer gel
    def mean_indent(pad):
        p = press.copy()
        p[0, 5] = pad.patch_radius(np.array([2.0]), np.array([0.015]))[0]
        return -pad.marker_field(pad.patch_tractions(p))[:, 2].mean()
    assert mean_indent(aged) / mean_indent(nominal) == pytest.approx(1 / 1.4, rel=0.05)
    assert aged.patch_radius(np.array([2.0]), np.array([0.015]))[0] < a
    assert u.tactile_calibration == cal  # the controller keeps the fresh gel's calibration
    set_gel_modulus(env, 1.0)
    np.testing.assert_allclose(u.pads[0].marker_field(t), nominal.marker_field(t), rtol=1e-12)
    with pytest.raises(ValueError, match="no tactile pads"):
        set_gel_modulus(make_env(ROVER, condition=COND, scenario_seed=0), 1.2)


def test_touch_proxy_scales_every_episodes_own_draws():
    real = make_env(FRAGILE, reality="touch-composite", condition=EARTH, scenario_seed=0)
    sim = make_env(FRAGILE, condition=EARTH, scenario_seed=0)
    m, n = real.unwrapped.model, sim.unwrapped.model
    obj, geom = n.body("object").id, n.geom("object").id
    pad = n.geom(sim.unwrapped.arm.left_pad).id
    for seed in (0, 1):
        real.reset(seed=seed)
        sim.reset(seed=seed)
        assert real.unwrapped.sampled == sim.unwrapped.sampled  # the task's draws, unchanged ...
        # ... and the proxy's errors on top of them
        assert m.body_mass[obj] == pytest.approx(1.25 * n.body_mass[obj])
        np.testing.assert_allclose(m.body_inertia[obj], 1.25 * n.body_inertia[obj])
        assert m.geom_friction[geom, 0] == pytest.approx(0.7 * n.geom_friction[geom, 0])
        assert m.geom_friction[pad, 0] == pytest.approx(0.7 * n.geom_friction[pad, 0])
        np.testing.assert_allclose(m.actuator_gainprm[:, 0], 0.85 * n.actuator_gainprm[:, 0])
    assert real.unwrapped.pads[1].config.young == pytest.approx(1.4 * sim.unwrapped.pad_config.young)
    assert real.unwrapped.tactile_calibration == sim.unwrapped.tactile_calibration


def test_touch_randomization_changes_only_what_it_draws():
    env = DomainRandomization(make_env(FRAGILE, condition=EARTH, scenario_seed=0), "touch-dr",
                              randomization_seed=3)
    u = env.unwrapped
    m = u.model
    obj = m.body("object").id
    snaps, infos, obs = [], [], []
    for _ in range(2):
        o, info = env.reset(seed=0)
        snaps.append({f: getattr(m, f).copy() for f in rz.MODEL_FIELDS})
        info["sampled"] = dict(u.sampled)
        infos.append(info)
        obs.append(o)
        v = info["randomization"]
        # the task's own draw, scaled by the randomization
        assert m.body_mass[obj] == pytest.approx(info["sampled"]["object_mass"] * v["mass_scale:object"])
        assert u.pads[0].config.young == pytest.approx(v["gel_young_scale"] * u.pad_config.young)
    a, b = infos
    assert a["sampled"] == b["sampled"]  # same reset seed: same task draws
    assert a["randomization"] != b["randomization"]
    np.testing.assert_array_equal(obs[0][:TOUCH.start], obs[1][:TOUCH.start])
    allowed = {"geom_friction": (slice(None), 0), "body_mass": obj, "body_inertia": obj,
               "actuator_gainprm": (slice(None), 0), "actuator_biasprm": (slice(None), slice(1, 3))}
    for f in rz.MODEL_FIELDS:
        diff = snaps[0][f] != snaps[1][f]
        if f in allowed:
            diff[allowed[f]] = False
        assert not diff.any(), f"{f} changed outside the randomized entries"


def test_sim2real_suite_has_every_pipeline_for_each_skill():
    from sim2real import suites
    from tasks.suites import SUITES

    entries = SUITES["sim2real"].entries
    got = {(e.task_id.split(":", 1)[1], e.env_kwargs["pipeline"], e.variant) for e in entries}
    want = {(pair, p, suites.VARIANTS[p]) for pair in suites.SKILLS for p in suites.PIPELINES}
    assert got == want and len(entries) == len(want)
    touch = suites.SKILLS[suites.FRAGILE_PAIR]
    assert (touch.task, touch.reality, touch.condition) == (FRAGILE, "touch-composite", EARTH)
    assert suites.sim_side_kwargs("dr", FRAGILE, touch.reality, EARTH, 4) == {
        "randomization": "touch-dr", "randomization_seed": 4}


@pytest.mark.slow
def test_paired_touch_episode_runs_the_controller_on_the_proxy(tmp_path: Path):
    from metrics.store import ResultsStore
    from sim2real import suites
    from sim2real.transfer import run_episode
    from tasks.runner import run_suite
    from tasks.suites import Suite, SuiteEntry

    suite = Suite("s2r-touch-test", "one paired touch episode", (SuiteEntry(
        f"sim2real.suites:{suites.FRAGILE_PAIR}", (EARTH,), "scripted", 1,
        variant="no-sysid-no-dr",
        env_kwargs={"policy": "scripted", "reality": "touch-composite", "pipeline": "raw"}),))
    summary = run_suite(suite, tmp_path / "t.sqlite", progress=False,
                        policy_factory=suites.policy_factory)
    assert summary["ran"] == 1 and summary["sim_errors"] == 0
    (row,) = ResultsStore(tmp_path / "t.sqlite").rows()
    assert row.metrics["reality_success"] == float(row.success)
    assert row.metrics["sim_success"] == float(run_episode(FRAGILE, "scripted", 0, EARTH, {}))
    assert row.metrics["sim_success"] == 1.0  # scene 0 (a fruit) is grasped in simulation
