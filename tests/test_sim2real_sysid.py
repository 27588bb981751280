"""sysid: recover known parameters from reality-proxy logs; the identified model closes the gap."""

from __future__ import annotations

import copy

import pytest

from sim2real.logs import record_log
from sim2real.reality import RealityProfile
from sim2real.sysid import Unknown, gap_closure, identify
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
