"""Batched touch-task vector env: bit-identical to single envs (autoreset, grasp, tactile fields)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import tasks  # noqa: F401  (registers the ids)
from tasks.registry import make_policy
from tasks.vector import BATCH_TASKS, make_vec
from tasks.vector_touch import TouchBatchEnv

DOOR = "embodisim/DoorOpen-v0"
FRAGILE = "embodisim/FragileGrasp-v0"
N = 3
KWARGS = [{"scenario_seed": i} for i in range(N)]  # three different scenes (models)


def _assert_same(a: Any, b: Any, where: str) -> None:
    """Recursive bit-for-bit equality of vector-env outputs (arrays, info trees)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{where}/{k}")
        return
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{k}]")
        return
    if isinstance(a, np.ndarray) and a.dtype == object:
        assert isinstance(b, np.ndarray) and a.shape == b.shape, where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{k}]")
        return
    if a is None or isinstance(a, str):
        assert a == b, f"{where}: {a!r} != {b!r}"
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    assert np.array_equal(a, b), f"{where}: max |diff| {np.max(np.abs(a.astype(float) - b.astype(float)))}"


def _sync(env_id: str, max_steps: int, mode: str = "NextStep") -> gym.vector.SyncVectorEnv:
    """N single gym.make envs (TimeLimit included), Gymnasium's reference vectorization."""
    return gym.vector.SyncVectorEnv(
        [lambda kw=kw: gym.make(env_id, max_episode_steps=max_steps, **kw) for kw in KWARGS],
        autoreset_mode=mode)


@pytest.mark.parametrize(("env_id", "mode"), [(DOOR, "NextStep"), (FRAGILE, "NextStep"),
                                              (DOOR, "SameStep")])
def test_random_actions_bit_identical_with_autoreset(env_id: str, mode: str) -> None:
    steps, limit = 60 if mode == "NextStep" else 30, 25  # TimeLimit 25: autoresets inside the run
    batch = BATCH_TASKS[env_id](KWARGS, num_threads=2, max_episode_steps=limit, autoreset_mode=mode)
    sync = _sync(env_id, limit, mode)
    _assert_same(batch.reset(seed=11), sync.reset(seed=11), "reset")
    if env_id == DOOR:  # env 1 starts past its latch: released and engaged latches in one batch
        for data in (batch.envs[1].data, sync.envs[1].unwrapped.data):
            data.qpos[batch.envs[1].art.qadr] = 0.3  # rad, > the 3 deg latch travel
    rng = np.random.default_rng(5)
    ends = 0
    for k in range(steps):
        a = rng.uniform(-1.0, 1.0, (N, 5)).astype(np.float32)
        out_b, out_s = batch.step(a), sync.step(a)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), out_b, out_s,
                              strict=True):
            _assert_same(x, y, f"step {k} {name}")
        ends += int(np.sum(out_b[2] | out_b[3]))
        if mode == "SameStep" and (out_b[2] | out_b[3]).any():
            assert out_b[4]["_final_obs"].any()
    assert ends >= N  # every sub-env went through at least one autoreset
    batch.close()
    sync.close()


def test_scripted_grasp_touches_and_stays_identical() -> None:
    """FragileGrasp with the scripted controller: the pads read a nonzero field, equal bit for bit."""
    batch = make_vec(FRAGILE, N, backend="batch", per_env_kwargs=KWARGS, num_threads=2)
    assert isinstance(batch, TouchBatchEnv) and len(batch.touch_groups) == 1  # one update_many call
    sync = _sync(FRAGILE, 450)
    pol_b = [make_policy(FRAGILE, "scripted", batch.envs[i]) for i in range(N)]
    pol_s = [make_policy(FRAGILE, "scripted", sync.envs[i]) for i in range(N)]
    obs_b, _ = batch.reset(seed=3)
    obs_s, _ = sync.reset(seed=3)
    for i in range(N):
        pol_b[i].reset(3 + i)
        pol_s[i].reset(3 + i)
    touched = 0
    for k in range(190):
        out_b = batch.step(np.stack([p.act(obs_b[i]) for i, p in enumerate(pol_b)]))
        out_s = sync.step(np.stack([p.act(obs_s[i]) for i, p in enumerate(pol_s)]))
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), out_b, out_s,
                              strict=True):
            _assert_same(x, y, f"step {k} {name}")
        obs_b, obs_s = out_b[0], out_s[0]
        markers = np.stack([e._markers for e in batch.envs])  # (N, pads, markers, 3), metres
        for i in range(N):
            assert np.array_equal(markers[i], sync.envs[i].unwrapped._markers)
        touched += int(np.any(np.abs(markers) > 1e-6))  # a press of > 1 um somewhere
        assert np.array_equal(np.any(obs_b[:, 30:42] != 0, axis=1), np.any(markers != 0, axis=(1, 2, 3)))
    assert touched > 0
    batch.close()
    sync.close()


def test_unstable_latch_period_ends_the_episode_as_the_single_env() -> None:
    """A door kicked mid-latch: same error, same step and same state as the single env."""
    batch = BATCH_TASKS[DOOR](KWARGS, num_threads=2, max_episode_steps=50)
    sync = _sync(DOOR, 50)
    _assert_same(batch.reset(seed=2), sync.reset(seed=2), "reset")
    rng = np.random.default_rng(1)
    errors = 0
    for k in range(6):
        if k == 2:  # env 0: an absurd door speed while its latch is engaged
            for env in (batch.envs[0], sync.envs[0].unwrapped):
                assert env.data.qpos[env.art.qadr] < env.art.ranges.latch_travel
                env.data.qvel[env.art.dadr] = 1e12
        a = rng.uniform(-1.0, 1.0, (N, 5)).astype(np.float32)
        out_b, out_s = batch.step(a), sync.step(a)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), out_b, out_s,
                              strict=True):
            _assert_same(x, y, f"step {k} {name}")
        if k == 2:
            assert out_b[2][0] and not out_b[2][1:].any()  # only the kicked env ended
            assert batch.envs[0].sim_error == sync.envs[0].unwrapped.sim_error
            errors += batch.envs[0].sim_error is not None
            assert np.array_equal(batch.envs[0].data.qpos, sync.envs[0].unwrapped.data.qpos)
    assert errors == 1
    batch.close()
    sync.close()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        BATCH_TASKS[DOOR]([{"render_mode": "rgb_array"}])
    with pytest.raises(ValueError, match="sim_backend"):
        BATCH_TASKS[DOOR]([{}], sim_backend="gpu")
    with pytest.raises(ValueError, match="FragileGrasp"):  # refused before warp is needed
        BATCH_TASKS[FRAGILE]([{}], sim_backend="warp")
    with pytest.raises(ValueError, match="env_cls"):
        TouchBatchEnv([{}])
    with pytest.raises(ValueError, match="autoreset_mode"):
        BATCH_TASKS[FRAGILE]([{}], autoreset_mode="Disabled")


# --- GPU path (MuJoCo Warp): runs wherever mujoco-warp is installed (extra 'gpu', which CI
# installs); without CUDA on warp's CPU device, the same float32 kernels - a check of the
# path's code and of its agreement with the CPU reference, not of its speed.
def _require_warp() -> None:
    from sims.warp_backend import warp_available

    ok, why = warp_available()
    if not ok:
        pytest.skip(f"warp backend: {why}")


def test_warp_refuses_mixed_scenes_naming_the_field() -> None:
    _require_warp()
    with pytest.raises(ValueError, match=r"models\[1\]: differs from models\[0\] in .*one scene"):
        make_vec(DOOR, 2, backend="warp", per_env_kwargs=KWARGS[:2])  # two door structures


def test_warp_refuses_a_model_write_it_cannot_hold_per_world() -> None:
    """A host-model write outside the per-world fields would be ignored on the device: refused."""
    _require_warp()
    env = make_vec(DOOR, 2, backend="warp")
    env.reset(seed=0)
    env.warp.update_models()  # the episodes' randomization (per-world fields): accepted
    env.envs[0].model.geom_conaffinity[0] = 0  # held once for all worlds
    with pytest.raises(ValueError, match=r"models\[0\]: changed in \['geom_conaffinity'\]"):
        env.warp.update_models([0])
    env.close()


@pytest.mark.slow
def test_warp_door_open_tracks_cpu_in_closed_loop_and_succeeds() -> None:
    """The scripted DoorOpen controller on MuJoCo Warp: same grasp and opening as on the CPU.

    Tolerances: ``benchmarks.gpu_check.TOUCH_TOLERANCES`` (TCP 2 mm and opening fraction
    0.01 over the first 130 control steps, first pad contact within 1 step, first success
    within 20 steps); measured on warp's CPU device: 0.37 mm, 0.0007, 0 and 7 steps.
    """
    _require_warp()
    from benchmarks.gpu_check import touch_agreement

    res = touch_agreement(DOOR, nworld=2, seed=3, scenario_seed=0, max_steps=300)
    assert all(res["within_tolerance"].values()), res["max_deviation"]
    assert res["warp_success"] == 1.0, res["first_success_step"]
    assert all(t is not None for t in res["first_touch_step"]["warp"])  # the pads were pressed


@pytest.mark.slow
def test_warp_blown_up_world_ends_its_episode_and_spares_the_others() -> None:
    """A world kicked to 1e12 rad/s ends with a recorded error; the other world is untouched."""
    _require_warp()
    a = np.zeros((2, 5), dtype=np.float32)
    runs = {}
    for kick in (False, True):
        env = make_vec(DOOR, 2, backend="warp")
        env.reset(seed=0)
        env.step(a)
        if kick:  # as the CPU test above; float32 MuJoCo Warp keeps this finite (~1e10-1e12)
            e = env.envs[0]
            e.data.qvel[e.art.dadr] = 1e12
            env.warp.set_state([0], [e.data])
        runs[kick] = [env.step(a) for _ in range(2)]
        errors = [e.sim_error for e in env.envs]
        env.close()
    (o1, _, term1, _, info1), (o2, _, term2, _, _) = runs[True]
    assert term1[0] and not term1[1] and not info1["success"][0]
    assert "mjMAXVAL" in info1["sim_error"][0]
    assert errors[1] is None
    for k in range(2):  # world 1 runs as if nothing happened next to it
        assert np.array_equal(runs[True][k][0][1], runs[False][k][0][1])
    assert not term2[0] and np.isfinite(o2).all()  # NEXT_STEP: world 0 reset, finite again


@pytest.mark.slow
def test_warp_latch_kernel_is_the_articulation_detent() -> None:
    """JointDetent on the device writes Articulation.apply_latch's force before each step."""
    _require_warp()
    env = make_vec(DOOR, 3, backend="warp")
    env.reset(seed=0)
    sim, art = env.warp, env.envs[0].art
    q0 = np.array([0.02, 0.02, 0.2])  # rad: engaged inside the travel (3 deg), engaged beyond it, -
    qpos = sim.read("qpos").copy()
    qpos[:, art.qadr] = q0
    sim.write("qpos", qpos)
    k = np.array([20.0, 20.0, 20.0])
    env._detent.set(k, np.full(3, art.ranges.latch_travel), np.array([1, 0, 1]))
    sim.step(1, hook=env._detent)
    f = sim.read("qfrc_applied")[:, art.dadr]
    # world 0: -k q (float32); world 1: released by the period's start state; world 2: beyond the travel
    np.testing.assert_allclose(f, [-20.0 * 0.02, 0.0, 0.0], rtol=1e-6, atol=0.0)
    ref = env.envs[0]
    ref.data.qpos[art.qadr] = 0.02
    ref.art.latch_k = 20.0
    ref.art.apply_latch(ref.data)
    assert ref.data.qfrc_applied[art.dadr] == pytest.approx(f[0], rel=1e-6)
    env.close()
