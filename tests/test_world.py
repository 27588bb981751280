"""sims.world.step: instability is detected and raised, never silently stepped through."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sims import world


def _ball() -> tuple[mujoco.MjModel, mujoco.MjData]:
    spec = mujoco.MjSpec()
    spec.modelname = "ball"
    body = spec.worldbody.add_body(name="ball", pos=[0, 0, 1])
    body.add_freejoint(name="ball_free")
    body.add_geom(name="ball_geom", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.1], mass=1.0)
    model = spec.compile()
    return model, mujoco.MjData(model)


def test_stable_steps_pass_and_fall_under_gravity() -> None:
    model, data = _ball()
    world.step(model, data, 100)
    t = 100 * model.opt.timestep
    assert data.qpos[2] == pytest.approx(1.0 - 0.5 * 9.81 * t * t, rel=1e-2)


def test_nan_state_raises_simulation_error() -> None:
    model, data = _ball()
    data.qvel[0] = np.nan  # MuJoCo resets on a bad qvel and warns: the warning counter trips
    with pytest.raises(world.SimulationError, match="instability|non-finite"):
        world.step(model, data, 1)


def test_huge_control_is_a_bad_ctrl_warning() -> None:
    spec = mujoco.MjSpec()
    spec.modelname = "slider"
    body = spec.worldbody.add_body(name="block")
    body.add_joint(name="slide", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[1, 0, 0])
    body.add_geom(name="block_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.1] * 3, mass=1.0)
    spec.add_actuator(name="push", target="slide", trntype=mujoco.mjtTrn.mjTRN_JOINT)
    model = spec.compile()
    data = mujoco.MjData(model)
    data.ctrl[0] = np.inf
    with pytest.raises(world.SimulationError, match="BADCTRL"):
        world.step(model, data, 1)
    assert np.all(np.isfinite(world.warning_counts(data)))


def _counting_step(monkeypatch: pytest.MonkeyPatch, warning: mujoco.mjtWarning) -> None:
    """Make ``mj_step`` also bump one warning counter, as MuJoCo does when it warns."""
    real = mujoco.mj_step

    def fake(model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
        real(model, data, nstep)
        data.warning.number[int(warning)] += 1

    monkeypatch.setattr(world.mujoco, "mj_step", fake)


def test_non_fatal_warning_during_step_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    model, data = _ball()
    _counting_step(monkeypatch, mujoco.mjtWarning.mjWARN_CONTACTFULL)
    world.step(model, data, 5)  # a full contact buffer is not an unstable state
    assert data.warning.number[int(mujoco.mjtWarning.mjWARN_CONTACTFULL)] == 1
    assert data.time == pytest.approx(5 * model.opt.timestep, rel=1e-12)


@pytest.mark.parametrize("warning", world._FATAL_WARNINGS)
def test_each_fatal_warning_is_named(monkeypatch: pytest.MonkeyPatch,
                                     warning: mujoco.mjtWarning) -> None:
    model, data = _ball()
    data.warning.number[int(mujoco.mjtWarning.mjWARN_CONTACTFULL)] = 3  # earlier, unrelated
    _counting_step(monkeypatch, warning)
    with pytest.raises(world.SimulationError, match=warning.name):
        world.step(model, data, 1)


def test_warning_fired_before_the_step_is_not_blamed_on_it() -> None:
    model, data = _ball()
    data.warning.number[int(mujoco.mjtWarning.mjWARN_BADQACC)] = 2  # from an earlier step
    world.step(model, data, 3)  # counters unchanged by a stable step: no error
    assert world.warning_counts(data).tolist() == [2, 0, 0, 0]


def test_non_finite_state_after_the_last_substep_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state gone non-finite in the last substep (no MuJoCo check left) is still caught."""
    model, data = _ball()
    real = mujoco.mj_step

    def fake(model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
        real(model, data, nstep)
        data.qvel[3] = np.inf  # as an overflowing integration would leave it, unwarned

    monkeypatch.setattr(world.mujoco, "mj_step", fake)
    with pytest.raises(world.SimulationError, match="non-finite"):
        world.step(model, data, 2)
