"""Batched vector env and BatchSim: bit-identical to single envs, autoreset, failures, errors."""

from __future__ import annotations

import functools

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import tasks  # noqa: F401  (registers the ids)
from sims import world
from sims.batch import BatchSim
from tasks.vector import BATCH_TASKS, RoverTraverseBatchEnv, make_vec

ROVER = "embodisim/RoverTraverse-v0"


# --- BatchSim ---------------------------------------------------------------------------------
def _ball(gravity: float, extra_geoms: int = 0) -> mujoco.MjModel:
    spec = mujoco.MjSpec()
    spec.option.gravity = [0.0, 0.0, -gravity]
    spec.option.timestep = 0.01
    body = spec.worldbody.add_body(name="ball", pos=[0, 0, 10])
    body.add_freejoint(name="ball_free")
    body.add_geom(name="ball_geom", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.1, 0, 0], contype=0,
                  conaffinity=0)
    for k in range(extra_geoms):
        spec.worldbody.add_geom(name=f"marker_{k}", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.01, 0, 0],
                                pos=[k + 2.0, 0, 0], contype=0, conaffinity=0)
    return spec.compile()


def test_batchsim_free_fall_closed_form_per_model_and_layout():
    # Per-simulation models: different gravity (Moon, Mars, Earth) and different layouts
    # (extra geoms) -> two groups. Semi-implicit Euler free fall from rest after n steps:
    # z_n = z0 - g h^2 n (n + 1) / 2 exactly (v_k = -g h k, z_n = z0 + h sum v_k).
    g = [1.62, 3.71, 9.81, 1.62]  # m/s^2: Moon, Mars, Earth (NASA planetary fact sheets)
    models = [_ball(g[0]), _ball(g[1]), _ball(g[2], extra_geoms=2), _ball(g[3], extra_geoms=2)]
    sim = BatchSim(models, nthread=2, outputs=("xpos",))
    assert len(sim.groups) == 2
    sim.reset()
    n, h = 25, 0.01
    failed = sim.step(n)
    assert not failed.any()
    z = sim.read("qpos")[:, 2]
    expected = 10.0 - np.array(g) * h * h * n * (n + 1) / 2
    np.testing.assert_allclose(z, expected, rtol=0, atol=1e-12)
    # same as one MjData per simulation, bit for bit
    for i, m in enumerate(models):
        d = mujoco.MjData(m)
        world.step(m, d, n)
        assert np.array_equal(sim.read("qpos")[i], d.qpos)
        # derived fields are one substep behind, as after mj_step
        assert np.array_equal(sim.read("xpos")[i], d.xpos)


def test_batchsim_failure_is_isolated_and_reported():
    models = [_ball(9.81)] * 3
    sim = BatchSim(models, nthread=1)
    sim.reset()
    qvel = np.zeros((1, 6))
    qvel[0, 2] = np.nan
    sim.write("qvel", qvel, ids=np.array([1]))
    failed = sim.step(3)
    assert failed.tolist() == [False, True, False]
    assert "BADQVEL" in (sim.errors[1] or "")
    assert sim.errors[0] is None and sim.errors[2] is None
    # the healthy ones kept falling; a reset clears the error
    assert sim.read("qvel")[0, 2] < 0
    sim.reset(np.array([1]))
    assert sim.errors[1] is None
    assert not sim.step(1).any()


def test_batchsim_bad_input():
    with pytest.raises(ValueError, match="models"):
        BatchSim([])
    with pytest.raises(ValueError, match="nthread"):
        BatchSim([_ball(1.0)], nthread=-1)
    with pytest.raises(ValueError, match="outputs"):
        BatchSim([_ball(1.0)], outputs=("no_such_field",))
    sim = BatchSim([_ball(1.0)])
    with pytest.raises(ValueError, match="not bound at construction"):
        sim.read("xpos")
    with pytest.raises(ValueError, match="nstep"):
        sim.step(0)


# --- vector env vs N single envs --------------------------------------------------------------
def _compare(vb: gym.vector.VectorEnv, vs: gym.vector.VectorEnv, steps: int, seed: int) -> dict[str, int]:
    """Step both with the same random actions; assert bit-identical results; count events."""
    ob, ib = vb.reset(seed=seed)
    os_, is_ = vs.reset(seed=seed)
    assert np.array_equal(ob, os_)
    assert np.array_equal(ib["success"], is_["success"])
    rng = np.random.default_rng(seed)
    counts = {"terminated": 0, "truncated": 0}
    prev = ob
    for _ in range(steps):
        a = rng.uniform(-1, 1, (vb.num_envs, 2)).astype(np.float32)
        rb, rs = vb.step(a), vs.step(a)
        for x, y in zip(rb[:4], rs[:4], strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape
            assert np.array_equal(x, y), (x, y)
        assert not np.shares_memory(rb[0], prev)
        prev = rb[0]
        assert rb[0] in vb.observation_space
        assert set(rb[4]) == set(rs[4])
        for k in ("success", "_success", "_metrics", "_reward_parts", "_sim_error"):
            if k in rs[4]:
                assert np.array_equal(rb[4][k], rs[4][k]), k
        for k, v in rs[4]["metrics"].items():
            assert np.array_equal(rb[4]["metrics"][k], v), k
        for k, v in rs[4].get("reward_parts", {}).items():
            assert np.array_equal(rb[4]["reward_parts"][k], v), k
        counts["terminated"] += int(rb[2].sum())
        counts["truncated"] += int(rb[3].sum())
    return counts


@functools.cache
def _spec():
    from scenes.generate import generate

    return generate("lunar-mare-day", 0).spec  # generated once: the envs below share it


def _pair(kws: list[dict], max_steps: int, threads: int):
    kws = [{"scenario": _spec(), **kw} for kw in kws]
    batch = RoverTraverseBatchEnv(kws, num_threads=threads, max_episode_steps=max_steps)
    sync = gym.vector.SyncVectorEnv(
        [lambda kw=kw: gym.make(ROVER, max_episode_steps=max_steps, **kw) for kw in kws])
    return batch, sync


def test_batch_bit_identical_to_sync_with_autoreset():
    # Short time limit and tight stuck/tilt thresholds so episodes end (terminated and
    # truncated) at different steps in different sub-envs: NEXT_STEP autoreset is exercised.
    stuck = {"stuck_time": 0.3, "stuck_progress": 0.5}  # stuck after 6 steps of 0.05 s
    vb, vs = _pair([stuck, {}, stuck], max_steps=9, threads=1)
    counts = _compare(vb, vs, steps=40, seed=7)
    assert counts["terminated"] > 0 and counts["truncated"] > 0
    vb.close()
    vs.close()


def test_batch_two_threads_identical_and_reset_mask():
    vb, vs = _pair([{"tip_tilt_deg": 3.0}] * 2, max_steps=2000, threads=2)
    counts = _compare(vb, vs, steps=20, seed=3)
    assert counts["terminated"] >= 0
    # partial reset with a mask, seeds as a list
    mask = np.array([False, True])
    ob, _ = vb.reset(seed=[None, 11], options={"reset_mask": mask.copy()})
    os_, _ = vs.reset(seed=[None, 11], options={"reset_mask": mask.copy()})
    assert np.array_equal(ob, os_)
    vb.close()
    vs.close()


def test_batch_per_env_scenarios_differ_in_layout():
    per = [{"scenario_seed": s} for s in (0, 2)]  # 55 vs 15 geoms in lunar-mare-day
    vb = make_vec(ROVER, 2, "batch", num_threads=1, per_env_kwargs=per)
    vs = make_vec(ROVER, 2, "sync", per_env_kwargs=per)
    assert len(vb.sim.groups) == 2
    _compare(vb, vs, steps=10, seed=1)
    vb.close()
    vs.close()


def test_same_step_autoreset_matches_sync():
    kw = {"stuck_time": 0.3, "stuck_progress": 0.5, "scenario": _spec()}
    vb = RoverTraverseBatchEnv([kw] * 2, num_threads=1, max_episode_steps=8, autoreset_mode="SameStep")
    vs = gym.vector.SyncVectorEnv([lambda: gym.make(ROVER, max_episode_steps=8, **kw)] * 2,
                                  autoreset_mode="SameStep")
    ob, _ = vb.reset(seed=0)
    os_, _ = vs.reset(seed=0)
    rng = np.random.default_rng(0)
    finals = 0
    for _ in range(20):
        a = rng.uniform(-1, 1, (2, 2)).astype(np.float32)
        rb, rs = vb.step(a), vs.step(a)
        for x, y in zip(rb[:4], rs[:4], strict=True):
            assert np.array_equal(x, y)
        for k in ("_success", "_metrics", "_reward_parts"):
            if k in rs[4]:
                assert np.array_equal(rb[4][k], rs[4][k]), k
        if "final_obs" in rs[4]:
            assert np.array_equal(rb[4]["_final_obs"], rs[4]["_final_obs"])
            assert np.array_equal(rb[4]["final_info"]["success"][rs[4]["_final_info"]],
                                  rs[4]["final_info"]["success"][rs[4]["_final_info"]])
            for i in np.flatnonzero(rs[4]["_final_obs"]):
                assert np.array_equal(rb[4]["final_obs"][i], rs[4]["final_obs"][i])
                finals += 1
        else:
            assert "final_obs" not in rb[4]
    assert finals > 0
    vb.close()
    vs.close()


def test_make_vec_errors_name_the_remedy(monkeypatch):
    with pytest.raises(ValueError, match="backend"):
        make_vec(ROVER, 2, backend="threads")
    with pytest.raises(ValueError, match="num_envs"):
        make_vec(ROVER, 0)
    with pytest.raises(ValueError, match="per_env_kwargs"):
        make_vec(ROVER, 2, per_env_kwargs=[{}])
    with pytest.raises(ValueError, match="unknown id"):
        make_vec("embodisim/Nope-v0", 2)
    monkeypatch.setattr("tasks.vector.BATCH_TASKS", {})
    with pytest.raises(ValueError, match="backend='sync'"):
        make_vec(ROVER, 2, backend="batch")
    assert ROVER in BATCH_TASKS


def test_make_vec_reexported_and_sync_backend_generic():
    import embodisim

    env = embodisim.make_vec(ROVER, 2, backend="sync")
    assert isinstance(env, gym.vector.SyncVectorEnv)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 24)
    env.close()


# --- GPU path (MuJoCo Warp): runs wherever mujoco-warp is installed (extra 'gpu', which CI
# installs). Without CUDA it runs on warp's CPU device: the same float32 kernels, so these
# tests check the GPU path's code and its agreement with the CPU reference, not its speed.
# The first run compiles MuJoCo Warp's kernels for the device (minutes; cached afterwards).
def _require_warp() -> None:
    from sims.warp_backend import warp_available

    ok, why = warp_available()
    if not ok:
        pytest.skip(f"warp backend: {why}")


@pytest.mark.slow
def test_warp_free_fall_closed_form():
    _require_warp()
    from sims.warp_backend import WarpSim

    n, h = 25, 0.01
    sim = WarpSim([_ball(1.62)] * 4)
    sim.reset(forward=True)
    assert not sim.step(n).any()
    # single precision: 1e-4 m after 0.25 s of fall
    np.testing.assert_allclose(sim.read("qpos")[:, 2], 10.0 - 1.62 * h * h * n * (n + 1) / 2, atol=1e-4)


@pytest.mark.slow
def test_warp_vector_env_tracks_cpu_over_short_horizon():
    _require_warp()
    vg = make_vec(ROVER, 4, backend="warp")
    vc = make_vec(ROVER, 4, backend="batch", num_threads=1)
    og, _ = vg.reset(seed=0)
    oc, _ = vc.reset(seed=0)
    assert og.shape == oc.shape == (4, 24) and og.dtype == np.float32
    a = np.full((4, 2), 0.6, dtype=np.float32)
    for _ in range(10):  # 0.5 s
        rg, rc = vg.step(a), vc.step(a)
    dg = rg[4]["metrics"]["distance_to_goal"]
    dc = rc[4]["metrics"]["distance_to_goal"]
    np.testing.assert_allclose(dg, dc, atol=0.05)  # m, as benchmarks/gpu_check.py TOLERANCES["xy_m"]
    vg.close()
    vc.close()


def test_warp_refuses_models_of_different_layouts_naming_the_size():
    _require_warp()
    import mujoco

    from sims.warp_backend import WarpSim

    one = "<mujoco><worldbody><body><freejoint/><geom size='.1'/>{}</body></worldbody></mujoco>"
    a = mujoco.MjModel.from_xml_string(one.format(""))
    b = mujoco.MjModel.from_xml_string(one.format("<geom size='.1' pos='0 0 .3'/>"))
    with pytest.raises(ValueError, match=r"models\[1\]: a different layout .*\(ngeom 2, not 1\)"):
        WarpSim([a, b])


@pytest.mark.slow
def test_warp_get_data_many_equals_per_world_get_data_into():
    """One host copy per field for all worlds gives what MuJoCo Warp's per-world call gives."""
    _require_warp()
    import mujoco

    vg = make_vec(ROVER, 3, backend="warp")
    vg.reset(seed=0)
    for _ in range(3):  # wheels on the ground: contacts and constraint forces in every world
        vg.step(np.full((3, 2), 0.6, dtype=np.float32))
    sim = vg.sim
    many = [mujoco.MjData(sim.model) for _ in range(3)]
    sim.get_data_many([2, 0, 1], [many[2], many[0], many[1]])
    for i in range(3):
        one = sim.get_data(i)
        assert one.ncon > 0 and one.ncon == many[i].ncon and one.nefc == many[i].nefc
        for name in ("qpos", "qvel", "xpos", "xmat", "sensordata", "efc_force", "qfrc_constraint"):
            assert np.array_equal(getattr(one, name), getattr(many[i], name)), name
        for name in ("geom", "pos", "frame", "dist", "efc_address"):
            assert np.array_equal(getattr(one.contact, name), getattr(many[i].contact, name)), name
    assert not np.array_equal(many[0].qpos, many[1].qpos)  # the worlds differ (start headings)
    vg.close()


# --- the single env's plain-float step against numpy's formulas ---------------------------------
def test_rover_step_matches_numpy_reference_bit_for_bit():
    """RoverTraverseEnv.step computes with plain floats (fast); the batch env uses numpy arrays.

    Both must equal numpy's formulas exactly: noise as ``rng.normal`` draws in the documented
    order, distances as ``np.linalg.norm(..., axis=1)`` (the batch env's; the norm of a lone
    vector goes through BLAS dot, whose fused multiply-adds on some CPUs differ in the last
    bit), wheel speed as ``np.mean``, tilt via ``np.clip`` and ``math.acos``.
    """
    import copy
    import math

    from tasks.rover_traverse import ACCEL_NOISE, GYRO_NOISE, NAV_NOISE, RANGE_NOISE, RoverTraverseEnv

    env = RoverTraverseEnv(condition="mars-dusk")
    env.reset(seed=4)
    d, m = env.data, env.model
    rover = m.body("rover").id
    goal_xy = np.array([env.scenario.goal.x, env.scenario.goal.y])
    wheel_dofs = np.array([m.jnt_dofadr[m.joint(f"rover_wheel_{w}").id] for w in ("fl", "fr", "rl", "rr")])

    def norm(v: np.ndarray) -> float:
        return float(np.linalg.norm(v[None], axis=1)[0])

    def sens(name: str) -> np.ndarray:
        s = m.sensor(name)
        return d.sensordata[s.adr[0]:s.adr[0] + s.dim[0]]

    actions = np.random.default_rng(7).uniform(-1.3, 1.3, (40, 2)).astype(np.float32)
    prev_xy = d.xpos[rover][:2].copy()
    path, slip_sum, slip_n = 0.0, 0.0, 0
    for a in actions:
        rng = copy.deepcopy(env._rng)  # the draws the step is about to make
        d_before = norm(d.xpos[rover][:2] - goal_xy)
        obs, reward, _, _, info = env.step(a)
        act = np.clip(np.asarray(a, dtype=np.float64), -1.0, 1.0)
        goal = sens("rover_goal_vec") + rng.normal(0.0, NAV_NOISE, 3)
        gyro = sens("rover_gyro") + rng.normal(0.0, GYRO_NOISE, 3)
        acc = sens("rover_accel") + rng.normal(0.0, ACCEL_NOISE, 3)
        wheels = np.concatenate([sens(f"rover_wheel_vel_{w}") for w in ("fl", "fr", "rl", "rr")])
        ranges = np.concatenate([sens(f"rover_range_{i}") for i in range(5)])
        ranges = np.where(ranges < 0, env._range_max, ranges) + rng.normal(0.0, RANGE_NOISE, 5)
        ref = np.concatenate([goal, gyro, acc, sens("rover_quat"), wheels, ranges,
                              act.astype(np.float32)]).astype(np.float32)
        assert obs.dtype == np.float32 and obs.tobytes() == ref.tobytes()
        xy = d.xpos[rover][:2]
        path += norm(xy - prev_xy)
        ground_speed = norm(xy - prev_xy) / env.dt
        prev_xy = xy.copy()
        dist = norm(xy - goal_xy)
        tilt = float(math.degrees(math.acos(float(np.clip(d.xmat[rover].reshape(3, 3)[2, 2], -1, 1)))))
        wheel_speed = float(np.mean(np.abs(d.qvel[wheel_dofs]))) * env._wheel_r
        if wheel_speed > 0.02 * env._vmax * env._wheel_r:
            slip_sum += max(0.0, 1.0 - ground_speed / wheel_speed)
            slip_n += 1
        met = info["metrics"]
        assert met["slip_ratio"] == (slip_sum / slip_n if slip_n else 0.0)
        assert (met["distance_to_goal"], met["tilt_deg"], met["path_length"]) == (dist, tilt, path)
        parts = info["reward_parts"]
        assert parts["progress"] == env.weights["progress"] * (d_before - dist)
        assert parts["ctrl"] == -env.weights["ctrl"] * float(np.sum(act**2))
        assert reward == float(sum(parts.values()))
    env.close()
