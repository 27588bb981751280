"""sysid: recover known parameters from reality-proxy logs; the identified model closes the gap."""

from __future__ import annotations

import copy

import pytest

from sim2real.logs import record_log
from sim2real.reality import RealityProfile, TouchSensorGap
from sim2real.sysid import Unknown, gap_closure, identify, identify_tactile
from sim2real.wrappers import RealityProxy, make_env
from tasks.registry import make_policy

ROVER = "embodisim/RoverTraverse-v0"
COND = "lunar-mare-day"
# Known truth: +30 % payload, 30 % weaker servos, 2 control steps (100 ms) of latency.
TRUTH = {"mass_scale:rover": 1.3, "actuator_gain_scale": 0.7, "action_delay_steps": 2}
PROFILE = RealityProfile("sysid-truth", "RoverTraverse", "known truth for sysid",
                         ("mass x1.3", "gain x0.7", "delay 2"), values=TRUTH)
# Stated tolerances: relative error of each continuous value; latency exact.
REL_TOL = 0.15
MIN_GAP_CLOSED = 0.4


def _scene(seed: int):
    env = RealityProxy(make_env(ROVER, condition=COND, scenario_seed=seed), PROFILE)
    log = record_log(env, make_policy(ROVER, "scripted", env), seed, max_steps=140)
    nominal = make_env(ROVER, condition=COND, scenario_seed=seed)
    return nominal.unwrapped.scene.mjspec, log, copy.deepcopy(nominal.unwrapped.model)


@pytest.mark.slow
def test_sysid_recovers_known_parameters_and_closes_the_gap():
    pytest.importorskip("tabulate")  # mujoco.sysid's extra dependency
    spec, log, _ = _scene(1)
    _, held_out, held_model = _scene(2)
    unknowns = (Unknown("mass_scale:rover", 1.0, 0.6, 2.0),
                Unknown("actuator_gain_scale", 1.0, 0.3, 1.6))
    res = identify([(spec, [log])], unknowns=unknowns, delays=(0, 1, 2, 3), window=10,
                   max_windows=8)
    assert res.values["action_delay_steps"] == TRUTH["action_delay_steps"]
    for u in unknowns:
        assert res.values[u.name] == pytest.approx(TRUTH[u.name], rel=REL_TOL), u.name
    assert res.cost_final < res.cost_initial
    closure = gap_closure(held_model, res.values, [held_out])
    assert closure.closed >= MIN_GAP_CLOSED, closure


# --- touch side: servo gain (mujoco.sysid), gel modulus and marker noise (marker logs) ---------

FRAGILE = "embodisim/FragileGrasp-v0"
EARTH = "earth-reference"
TOUCH_TRUTH = {"actuator_gain_scale": 0.8, "gel_young_scale": 1.3}
TOUCH_NOISE_MM = 0.015
TOUCH_PROFILE = RealityProfile("touch-truth", "FragileGrasp", "known truth for touch sysid",
                               ("gain x0.8", "gel x1.3", "marker noise 0.015 mm"),
                               values=TOUCH_TRUTH,
                               touch=TouchSensorGap(marker_noise_mm=TOUCH_NOISE_MM))
# Stated tolerances: servo gain 2 %, gel modulus 5 %, marker noise 10 %.
GAIN_TOL, GEL_TOL, NOISE_TOL = 0.02, 0.05, 0.10


@pytest.mark.slow
def test_touch_sysid_recovers_servo_gain_gel_modulus_and_marker_noise():
    pytest.importorskip("tabulate")
    seed = 1000  # an egg: grasped, lifted and held in both the proxy and the simulation
    real_env = RealityProxy(make_env(FRAGILE, condition=EARTH, scenario_seed=seed), TOUCH_PROFILE)
    real = record_log(real_env, make_policy(FRAGILE, "scripted", real_env), seed,
                      ctrl_source="applied")
    sim_env = make_env(FRAGILE, condition=EARTH, scenario_seed=seed)
    sim = record_log(sim_env, make_policy(FRAGILE, "scripted", sim_env), seed,
                     ctrl_source="applied")
    sim_env.reset(seed=seed)  # nominal model with this episode's own draws
    gain = (Unknown("actuator_gain_scale", 1.0, 0.5, 1.5),)
    res = identify([(copy.deepcopy(sim_env.unwrapped.model), [real])], unknowns=gain,
                   delays=(0,), window=10, skip=5, sensor_weights={}, max_windows=12, n_starts=8)
    assert res.values["actuator_gain_scale"] == pytest.approx(0.8, rel=GAIN_TOL)
    assert res.cost_final < 0.1 * res.cost_initial
    tac = identify_tactile([real], [sim])
    assert tac.gel_young_scale == pytest.approx(1.3, rel=GEL_TOL)
    assert tac.marker_noise_mm == pytest.approx(TOUCH_NOISE_MM, rel=NOISE_TOL)
    with pytest.raises(ValueError, match="tactile_markers"):
        identify_tactile([log_without_markers(real)], [sim])


def log_without_markers(log):
    """The same log without its marker fields (a robot without a tactile logger)."""
    from sim2real.logs import RobotLog

    sensors = {k: v for k, v in log.sensors.items() if k != "tactile_markers"}
    units = {k: v for k, v in log.units.items() if k != "sensors/tactile_markers"}
    return RobotLog(log.t, log.qpos, log.qvel, log.ctrl, sensors, units, log.meta)
