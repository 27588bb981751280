"""Every registered environment: check_env, seeded determinism, finite observations, names."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tasks
from tasks.registry import TASKS, make_policy

ENV_KWARGS = {
    # cloth: coarse 5 x 5 grid without self-collision keeps these registry tests fast
    "embodisim/ClothFlatten-v0": {"cloth_count": 5, "self_collide": False},
    "embodisim/ClothFold-v0": {"cloth_count": 5, "self_collide": False},
    "embodisim/ClothLift-v0": {"cloth_count": 5, "self_collide": False, "condition": "moon"},
    "embodisim/RoverTraverse-v0": {"condition": "lunar-terminator", "scenario_seed": 1},
    "embodisim/BeaconLocalize-v0": {"condition": "lunar-night-headlight", "scenario_seed": 1},
    "embodisim/SampleCollect-v0": {"condition": "lunar-mare-day", "scenario_seed": 1},
    "embodisim/DoorOpen-v0": {"condition": "earth-reference", "scenario_seed": 1},
    "embodisim/DrawerOpen-v0": {"condition": "lunar-mare-day", "scenario_seed": 1},
    "embodisim/LeverTurn-v0": {"condition": "lunar-mare-day", "scenario_seed": 2},
    "embodisim/FragileGrasp-v0": {"condition": "earth-reference", "scenario_seed": 3},
}
IDS = [t.id for t in TASKS]


def _kwargs(env_id):
    return ENV_KWARGS.get(env_id, {})


def test_every_task_has_test_kwargs():
    assert tasks.TASKS
    for env_id in IDS:
        assert env_id in gym.registry


@pytest.mark.parametrize("env_id", IDS)
def test_check_env(env_id):
    env = gym.make(env_id, **_kwargs(env_id))
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def _rollout(env_id, seed, n=40):
    env = gym.make(env_id, **_kwargs(env_id))
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(123)
    out = [obs]
    for _ in range(n):
        obs, r, term, trunc, info = env.step(env.action_space.sample() * 0 + rng.uniform(
            env.action_space.low, env.action_space.high).astype(env.action_space.dtype))
        out.append(obs)
        assert np.all(np.isfinite(obs))
        assert np.isfinite(r)
        assert set(info) >= {"success", "metrics", "sim_error"}
        if term or trunc:
            break
    qpos = env.unwrapped.data.qpos.copy()
    env.close()
    return out, qpos


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory(env_id):
    a, qa = _rollout(env_id, 7)
    b, qb = _rollout(env_id, 7)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert np.array_equal(qa, qb)
    c, _ = _rollout(env_id, 8)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))


@pytest.mark.parametrize("env_id", IDS)
def test_observations_do_not_share_memory(env_id):
    env = gym.make(env_id, **_kwargs(env_id))
    o1, _ = env.reset(seed=0)
    o2, *_ = env.step(env.action_space.sample())
    assert not np.shares_memory(o1, o2)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_every_model_element_is_named(env_id):
    env = gym.make(env_id, **_kwargs(env_id))
    m = env.unwrapped.model
    for objtype, count in [
        (mujoco.mjtObj.mjOBJ_BODY, m.nbody), (mujoco.mjtObj.mjOBJ_JOINT, m.njnt),
        (mujoco.mjtObj.mjOBJ_GEOM, m.ngeom), (mujoco.mjtObj.mjOBJ_SITE, m.nsite),
        (mujoco.mjtObj.mjOBJ_SENSOR, m.nsensor), (mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu),
        (mujoco.mjtObj.mjOBJ_CAMERA, m.ncam), (mujoco.mjtObj.mjOBJ_LIGHT, m.nlight),
    ]:
        start = 1 if objtype == mujoco.mjtObj.mjOBJ_BODY else 0  # body 0 is the world
        for i in range(start, count):
            assert mujoco.mj_id2name(m, objtype, i), f"unnamed {objtype.name} {i}"
    env.close()


@pytest.mark.parametrize("task", TASKS, ids=[t.id for t in TASKS])
def test_scripted_policy_sees_only_observations(task, monkeypatch):
    """The controller is given observations only; poisoning the env state it could read
    after construction must not change its actions."""
    env = gym.make(task.id, **_kwargs(task.id))
    policy = make_policy(task.id, "scripted", env)
    obs, _ = env.reset(seed=3)
    policy.reset(3)
    a1 = policy.act(obs.copy())
    policy2 = make_policy(task.id, "scripted", env)
    policy2.reset(3)
    env.unwrapped.data.qpos[:] = np.nan  # simulator state unavailable to the controller
    a2 = policy2.act(obs.copy())
    assert np.array_equal(a1, a2)
    env.close()


def test_rover_rejects_free_floating_condition():
    with pytest.raises(ValueError, match="RoverTraverse needs 'rover'"):
        gym.make("embodisim/RoverTraverse-v0", condition="orbital-free-floating")


def test_lunar_gravity_shows_as_wheel_slip():
    """Same full-throttle start on flat ground: traction ~ mu m g, so the Moon slips more."""
    import dataclasses

    from scenes.conditions import sample_seeded
    from tasks.rover_traverse import RoverTraverseEnv

    slips = {}
    for cond in ("earth-reference", "lunar-mare-day"):
        spec = sample_seeded(cond, 0)
        flat = dataclasses.replace(
            spec, terrain=dataclasses.replace(spec.terrain, slope_deg=0.0, roughness_rms=0.0,
                                              craters=None, rocks=None),
            regolith=dataclasses.replace(spec.regolith, friction=0.6),
        )
        env = RoverTraverseEnv(condition=None, scenario=flat)
        env.reset(seed=0)
        for _ in range(10):
            env.step(np.array([1.0, 1.0], dtype=np.float32))
        slips[cond] = env.evaluate()["slip_ratio"]
        env.close()
    assert slips["lunar-mare-day"] > 2 * slips["earth-reference"], slips
