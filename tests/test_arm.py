"""Tests of sims.arm: compile, hold under gravity compensation, EE delta IK, grip force limit."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from sims.arm import ArmController, ArmHandles, ArmParams, add_arm


def _build(gravity: float = 9.81, box_half: float | None = None, params: ArmParams | None = None
           ) -> tuple[mujoco.MjModel, ArmHandles]:
    spec = mujoco.MjSpec()
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.gravity = [0.0, 0.0, -gravity]
    h = add_arm(spec, spec.worldbody, params=params)
    if box_half is not None:
        # rigid box between the pads at the TCP of the home pose (filled in by the caller)
        b = spec.worldbody.add_body(name="box", pos=[0.0, 0.0, 0.0])
        b.add_freejoint(name="box_free")
        b.add_geom(name="box_geom", type=mujoco.mjtGeom.mjGEOM_BOX,
                   size=[box_half, box_half, box_half], mass=0.1, friction=[1.0, 0.005, 0.0001])
    return spec.compile(), h


def test_compiles_and_every_element_named() -> None:
    model, h = _build()
    assert model.njnt == 9 and model.nu == 9
    for objtype, count in ((mujoco.mjtObj.mjOBJ_BODY, model.nbody),
                           (mujoco.mjtObj.mjOBJ_JOINT, model.njnt),
                           (mujoco.mjtObj.mjOBJ_GEOM, model.ngeom),
                           (mujoco.mjtObj.mjOBJ_SITE, model.nsite),
                           (mujoco.mjtObj.mjOBJ_ACTUATOR, model.nu),
                           (mujoco.mjtObj.mjOBJ_SENSOR, model.nsensor)):
        for i in range(1 if objtype == mujoco.mjtObj.mjOBJ_BODY else 0, count):
            assert mujoco.mj_id2name(model, objtype, i), (objtype, i)
    for name in (h.left_pad, h.right_pad):
        assert model.geom(name).type == mujoco.mjtGeom.mjGEOM_BOX
    for name in (h.left_pad_site, h.right_pad_site, h.ee_site):
        model.site(name)
    # total arm mass = sum of the Gaz et al. link masses + base + hand + fingers
    p = ArmParams()
    total = sum(p.link_mass) + 0.629769 + p.hand_mass + 2 * p.finger_mass
    assert float(np.sum(model.body_mass)) == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize("gravity", [9.81, 1.62])
def test_gravity_compensated_hold_keeps_pose(gravity: float) -> None:
    model, h = _build(gravity)
    data = mujoco.MjData(model)
    ctl = ArmController(model, h)
    ctl.set_home(data)
    mujoco.mj_forward(model, data)
    x0 = ctl.ee_pos(data)
    mujoco.mj_step(model, data, 1000)  # 2 s
    assert np.linalg.norm(ctl.ee_pos(data) - x0) < 1e-4
    # without gravity compensation the same servos sag measurably (the test can fail)
    model.body_gravcomp[:] = 0.0
    data2 = mujoco.MjData(model)
    ctl.set_home(data2)
    mujoco.mj_step(model, data2, 1000)
    assert np.linalg.norm(ctl.ee_pos(data2) - x0) > 5e-4


@pytest.mark.parametrize("direction", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (-1, 0, -1)])
def test_ee_delta_moves_in_commanded_direction(direction: tuple[int, int, int]) -> None:
    model, h = _build()
    data = mujoco.MjData(model)
    ctl = ArmController(model, h)
    ctl.set_home(data)
    mujoco.mj_forward(model, data)
    x0 = ctl.ee_pos(data)
    yaw0 = ctl.ee_yaw(data)
    u = np.asarray(direction, float) / np.linalg.norm(direction)
    target = x0.copy()
    for _ in range(50):  # 5 cm at 1 mm per 20 ms control step
        target = target + 0.001 * u
        ctl.apply(data, ctl.ik_targets(data, target, yaw0, 0.02), 0.04)
        mujoco.mj_step(model, data, 10)
    for _ in range(25):
        ctl.apply(data, ctl.ik_targets(data, target, yaw0, 0.02), 0.04)
        mujoco.mj_step(model, data, 10)
    disp = ctl.ee_pos(data) - x0
    assert float(disp @ u) == pytest.approx(0.05, abs=2e-3)
    assert np.linalg.norm(disp - (disp @ u) * u) < 2e-3
    assert abs(ctl.ee_yaw(data) - yaw0) < 0.01
    # the gripper still points down
    assert data.site_xmat[ctl.site_id].reshape(3, 3)[2, 2] < -0.999


def _pad_normal_force(model: mujoco.MjModel, data: mujoco.MjData, pad: str) -> float:
    gid = model.geom(pad).id
    total = 0.0
    f6 = np.zeros(6)
    for i in range(data.ncon):
        c = data.contact[i]
        if gid in (c.geom1, c.geom2):
            mujoco.mj_contactForce(model, data, i, f6)
            total += f6[0]
    return total


@pytest.mark.parametrize("limit", [70.0, 20.0])
def test_grip_force_limited_on_rigid_box(limit: float) -> None:
    params = ArmParams(grip_force_limit=limit)
    model, h = _build(gravity=0.0, box_half=0.02, params=params)
    data = mujoco.MjData(model)
    ctl = ArmController(model, h, params)
    ctl.set_home(data)
    mujoco.mj_forward(model, data)
    adr = model.jnt_qposadr[model.joint("box_free").id]
    data.qpos[adr:adr + 3] = ctl.ee_pos(data)
    mujoco.mj_forward(model, data)
    q_home = np.asarray(params.home)
    for _ in range(400):  # command fully closed: the servo asks for far more than the limit
        ctl.apply(data, q_home, -params.finger_stroke)
        mujoco.mj_step(model, data)
    for pad in (h.left_pad, h.right_pad):
        assert _pad_normal_force(model, data, pad) == pytest.approx(limit, rel=0.02)
    # below the limit the jaw force follows the servo law finger_kp * (target - q)
    target = 0.02 - 5e-3
    for _ in range(1500):
        ctl.apply(data, q_home, target)
        mujoco.mj_step(model, data)
    expect = min(params.finger_kp * (data.qpos[ctl.fqadr[0]] - target), limit)
    assert _pad_normal_force(model, data, h.left_pad) == pytest.approx(expect, rel=0.03)
    assert ctl.opening(data) == pytest.approx(0.04, abs=2e-3)  # box is rigid: 40 mm


def _ik_reference(ctl: ArmController, data: mujoco.MjData, target: np.ndarray, yaw: float,
                  dt: float) -> np.ndarray:
    """ArmController.ik_targets written plainly in NumPy (fresh arrays, np.clip, np.linalg.inv)."""
    jacp, jacr = np.zeros((3, ctl.model.nv)), np.zeros((3, ctl.model.nv))
    mujoco.mj_jacSite(ctl.model, data, jacp, jacr, ctl.site_id)
    jac = np.vstack([jacp[:, ctl.dadr], jacr[:, ctl.dadr]])
    xmat = data.site_xmat[ctl.site_id].reshape(3, 3)
    cy, sy = math.cos(yaw), math.sin(yaw)
    rerr = np.array([[cy, sy, 0.0], [sy, -cy, 0.0], [0.0, 0.0, -1.0]]) @ xmat.T
    quat, rot = np.zeros(4), np.zeros(3)
    mujoco.mju_mat2Quat(quat, rerr.ravel())
    mujoco.mju_quat2Vel(rot, quat, 1.0)
    err = np.concatenate([target - data.site_xpos[ctl.site_id], rot])
    jjt = jac @ jac.T
    jjt[np.diag_indices(6)] += ctl.damping ** 2
    jpinv = jac.T @ np.linalg.inv(jjt)
    q = data.qpos[ctl.qadr]
    home = np.asarray(ctl.params.home, dtype=float)
    dq = jpinv @ err
    dq += ctl.nullspace_gain * ((home - q) - jpinv @ (jac @ (home - q)))
    scale = float(np.max(np.abs(dq) / (np.asarray(ctl.params.velocity_limit) * dt)))
    if scale > 1.0:
        dq /= scale
    return np.clip(q + dq, ctl.lo, ctl.hi)


def test_ik_targets_equal_plain_numpy_bit_for_bit() -> None:
    """The buffered IK (preallocated arrays, direct ufunc calls) gives the plain formulation's bits."""
    model, h = _build()
    p = ArmParams()
    data = mujoco.MjData(model)
    ctl = ArmController(model, h, p)
    ctl.set_home(data)
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(3)
    clipped = 0
    for _ in range(150):
        data.qpos[ctl.qadr] = np.clip(np.asarray(p.home) + rng.normal(0.0, 0.4, 7), ctl.lo, ctl.hi)
        mujoco.mj_forward(model, data)
        target = data.site_xpos[ctl.site_id] + rng.normal(0.0, 0.05, 3)
        yaw = float(rng.uniform(0.0, np.pi))
        for dt in (0.02, 0.002):
            got = ctl.ik_targets(data, target, yaw, dt)
            want = _ik_reference(ctl, data, target, yaw, dt)
            assert np.array_equal(got, want)
            clipped += int(np.any((want == ctl.lo) | (want == ctl.hi)))
    assert clipped > 0  # the joint-limit clip was exercised
