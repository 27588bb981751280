"""Settle check of a built scene.

A scene must compile, settle stably, not interpenetrate, and keep its robot and
goal where they should be.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import mujoco
import numpy as np

from scenes import terrain as terr
from scenes.build import Scene, build_scene, check_rock_prototypes, terrain_stage
from scenes.spec import ScenarioSpec
from sims import world

PENETRATION_TOL = 0.02  # [m] deepest contact allowed after settling
DRIFT_TOL = 0.25  # [m] horizontal drift of the resting rover allowed during settling
# Rover slope limits: MSL Curiosity was designed for 30 deg and is driven on <= 20-25 deg
# (Grotzinger et al. 2012, Space Sci. Rev. 170); a start or goal steeper than 25 deg is
# treated as not traversable for a wheeled rover.
TILT_TOL_DEG = 25.0  # [deg] the rover must rest nearly upright
GOAL_SLOPE_TOL_DEG = 25.0  # [deg] a goal on steeper ground is unreachable for the rover
MIN_SETTLE_S = 1.0  # [s]
# Below this gravity the rover's rocking time scale sqrt(L/g) exceeds seconds (8 s at
# Eros' 4 mm/s^2), so "all wheels down" cannot be reached in a short settle; there we
# require instead that the rover has not hopped away (wheels within HOP_TOL of ground).
MILLI_G = 0.05  # [m/s^2]
HOP_TOL = 0.03  # [m]
MAX_SETTLE_S = 4.0  # [s]
# Rocks are static world geoms: they never collide with the terrain (MuJoCo skips pairs
# within one body) and can touch only the rover. A rock whose plan-view edge is farther than
# PARK_DISTANCE from the rover's start is "parked" for the settle: left out of the settle
# model (build_scene(rock_reach=...); a scene passed in has it compiled without collisions
# instead), while the settle watches the rover's horizontal excursion at every step; should
# the rover come within REACH_MARGIN of touching a parked rock, the settle is redone on the
# full scene. Either way the outcome is that of the full scene. That the parked rocks
# compile is certified once per process (build.check_rock_prototypes: every rock is a
# yawed, scaled copy of one of the prototypes).
# Design values: 1.0 m > rover bounding radius (~0.6 m) + DRIFT_TOL, so a rover that stays
# valid never triggers the redo; build.ROCK_CLEARANCE (1.2 m) parks every rock in practice.
PARK_DISTANCE = 1.0  # [m]
REACH_MARGIN = 0.05  # [m] slack on the rover/rock bounding-circle distance


@dataclass(frozen=True)
class SettleReport:
    """Outcome of :func:`settle_check`; ``valid`` is the conjunction of the checks."""

    valid: bool
    reasons: tuple[str, ...] = field(default=())  # why it is invalid (empty when valid)
    settle_time_s: float = 0.0
    max_penetration_m: float = 0.0
    rover_drift_m: float = 0.0
    rover_tilt_deg: float = 0.0
    n_contacts: int = 0
    summary: dict[str, float | int | str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d


def settle_time(spec: ScenarioSpec) -> float:
    """Time to simulate: long enough to fall the spawn gap twice under this gravity."""
    from scenes.build import SPAWN_GAP

    g = float(np.linalg.norm(spec.body.gravity))
    if g <= 0.0:
        return MIN_SETTLE_S
    return float(min(MAX_SETTLE_S, max(MIN_SETTLE_S, 2.0 * math.sqrt(2 * SPAWN_GAP / g))))


def settle_check(spec: ScenarioSpec, scene: Scene | None = None) -> SettleReport:
    """Build, compile and simulate the scene at rest; report what is wrong with it.

    The goal-region slope depends on the terrain heights alone, so it is checked
    first: a scene failing it is reported invalid (with that reason only) without
    building its meshes, compiling or simulating it. Rocks out of the rover's reach
    are compiled without collisions and the rover's excursion is watched (see
    PARK_DISTANCE): the report is that of the full scene, bit for bit.
    """
    from scenes.build import describe

    reasons: list[str] = []
    try:
        stage = None
        heights = scene.heights if scene is not None else None
        if scene is None:
            stage = terrain_stage(spec)
            heights = stage.heights
        slopes = None
        if heights is not None:
            t = spec.terrain
            slopes = terr.slope_map_deg(heights, t.size_x, t.size_y)
            gslope = _goal_slope(slopes, spec)
            if gslope > GOAL_SLOPE_TOL_DEG:
                return SettleReport(
                    valid=False,
                    reasons=(f"goal region slope {gslope:.1f} deg > {GOAL_SLOPE_TOL_DEG} deg",),
                )
        if scene is None:
            reach = PARK_DISTANCE if spec.robot.kind == "rover" else None
            scene = build_scene(spec, stage=stage, rock_reach=reach)
        if scene.rocks_omitted:
            r = spec.terrain.rocks
            assert r is not None
            check_rock_prototypes(r.d_min, r.d_max)
            parked = scene.rocks_omitted
        else:
            parked = _parked_rocks(scene)
        # Mesh processing on one thread: library workers already use every core.
        scene.mjspec.compiler.usethread = False
        model = _compile(scene, parked)
    except ValueError as exc:
        return SettleReport(valid=False, reasons=(f"compile: {exc}",))
    t_settle = settle_time(spec)
    nstep = int(round(t_settle / model.opt.timestep))
    try:
        data = _settle(model, scene, parked, nstep)
        if data is None:  # the rover came within reach of a parked rock: redo on the full scene
            if scene.rocks_omitted:
                scene = build_scene(spec, stage=stage)
                scene.mjspec.compiler.usethread = False
            model = _compile(scene, ())
            data = _settle(model, scene, (), nstep)
            assert data is not None
    except world.SimulationError as exc:
        return SettleReport(valid=False, reasons=(f"unstable: {exc}",), settle_time_s=t_settle)
    except ValueError as exc:
        return SettleReport(valid=False, reasons=(f"compile: {exc}",))
    depth = 0.0
    if data.ncon:
        depth = float(max(0.0, -float(np.min(data.contact.dist[: data.ncon]))))
    if depth > PENETRATION_TOL:
        reasons.append(f"interpenetration: deepest contact {depth:.3f} m > {PENETRATION_TOL} m")
    drift = tilt = 0.0
    if spec.robot.kind == "rover":
        bid = model.body("rover").id
        pos = data.xpos[bid]
        drift = float(math.hypot(pos[0] - spec.robot.x, pos[1] - spec.robot.y))
        zaxis = data.xmat[bid].reshape(3, 3)[:, 2]
        tilt = float(math.degrees(math.acos(float(np.clip(zaxis[2], -1.0, 1.0)))))
        if drift > DRIFT_TOL:
            reasons.append(f"rover drifted {drift:.2f} m while settling (> {DRIFT_TOL} m)")
        if tilt > TILT_TOL_DEG:
            reasons.append(f"rover tilt {tilt:.1f} deg after settling (> {TILT_TOL_DEG} deg)")
        g = float(np.linalg.norm(spec.body.gravity))
        if g >= MILLI_G:
            wheels_touch = _wheels_in_contact(model, data)
            if wheels_touch < 3:
                reasons.append(f"only {wheels_touch} of 4 wheels touch the ground after settling")
        else:
            hop = _lowest_wheel_clearance(model, data, scene)
            if hop > HOP_TOL:
                reasons.append(
                    f"rover hopped: lowest wheel {hop:.3f} m above ground (> {HOP_TOL} m)"
                )
    return SettleReport(
        valid=not reasons,
        reasons=tuple(reasons),
        settle_time_s=t_settle,
        max_penetration_m=depth,
        rover_drift_m=drift,
        rover_tilt_deg=tilt,
        n_contacts=int(data.ncon),
        summary=describe(scene, None if slopes is None else float(slopes.max())),
    )


def _parked_rocks(scene: Scene) -> tuple[int, ...]:
    """Indices of the rocks whose plan-view edge is farther than PARK_DISTANCE from the rover start."""
    s = scene.spec
    if s.robot.kind != "rover" or not scene.rock_xy:
        return ()
    xy = np.asarray(scene.rock_xy, dtype=np.float64).reshape(-1, 2)
    edge = np.hypot(xy[:, 0] - s.robot.x, xy[:, 1] - s.robot.y) - np.asarray(scene.rock_radii)
    return tuple(np.flatnonzero(edge > PARK_DISTANCE).tolist())


def _compile(scene: Scene, parked: Sequence[int]) -> mujoco.MjModel:
    """Compile the scene with the ``parked`` rocks collision-free; the MjSpec is left as it was.

    Sensors are disabled in the model: they never feed back into the dynamics, so
    settling without computing them (rangefinder ray casts are half the step time)
    gives bit-identical states.
    """
    omitted = set(scene.rocks_omitted)
    geoms = [scene.mjspec.geom(f"rock_{i}") for i in parked if i not in omitted]
    saved = [(g.contype, g.conaffinity) for g in geoms]
    try:
        for g in geoms:
            g.contype = g.conaffinity = 0
        model = world.compile_spec(scene.mjspec)
    finally:
        for g, (ct, ca) in zip(geoms, saved, strict=True):
            g.contype, g.conaffinity = ct, ca
    model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_SENSOR)
    return model


def _settle(
    model: mujoco.MjModel, scene: Scene, parked: Sequence[int], nstep: int
) -> mujoco.MjData | None:
    """Simulate ``nstep`` steps from rest; None if the rover could have touched a parked rock.

    Without parked rocks this is ``world.step``. With them, the rover's horizontal
    excursion from its start is checked after every step (``data.xpos`` holds the
    configuration the step's collision detection used) against the smallest gap
    ``|rock - start| - rock radius - rover radius - REACH_MARGIN`` over the parked
    rocks, where the rover radius bounds every rover geom (distance to the rover
    frame plus bounding-sphere radius). While the excursion stays below that gap no
    rover geom can overlap a parked rock, so the parked rocks would have produced no
    contact and the trajectory is that of the full scene.
    """
    data = mujoco.MjData(model)
    if not parked:
        world.step(model, data, nstep)
        return data
    gap = parking_gap(model, scene, parked, data)
    if gap <= 0.0:
        return None
    s = scene.spec
    bid = model.body("rover").id
    x0, y0 = s.robot.x, s.robot.y
    gap2 = gap * gap
    pos = data.xpos[bid]  # a view: updated in place by every step
    before = world.warning_counts(data)
    for _ in range(nstep):
        mujoco.mj_step(model, data)
        dx, dy = pos[0] - x0, pos[1] - y0
        if dx * dx + dy * dy >= gap2:
            return None
    # the checks of world.step, once for the whole run (warning counters accumulate)
    new_warnings = world.warning_counts(data) - before
    if np.any(new_warnings > 0):
        raise world.SimulationError(
            f"MuJoCo instability warning(s) (counts {new_warnings.tolist()}) by t={data.time:.4f} s"
        )
    if not np.isfinite(data.qpos.sum() + data.qvel.sum()):
        raise world.SimulationError(f"non-finite state at t={data.time:.4f} s")
    return data


def parking_gap(
    model: mujoco.MjModel, scene: Scene, parked: Sequence[int], data: mujoco.MjData | None = None
) -> float:
    """Horizontal excursion [m] of the rover below which it cannot touch a ``parked`` rock.

    ``min |rock - start| - rock plan-view radius - rover radius - REACH_MARGIN`` over
    the parked rocks; the rover radius bounds every rover geom (distance from the
    rover frame plus the geom's bounding-sphere radius) at the spawn pose. ``data``
    (fresh, at the spawn state) gets its kinematics computed, which leaves the
    state a simulation starts from unchanged.
    """
    s = scene.spec
    if data is None:
        data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    bid = model.body("rover").id
    in_rover = np.flatnonzero(model.body_rootid[model.geom_bodyid] == bid)
    offsets = np.linalg.norm(data.geom_xpos[in_rover] - data.xpos[bid], axis=1)
    rover_radius = float(np.max(offsets + model.geom_rbound[in_rover]))
    idx = np.asarray(parked, dtype=np.int64)
    xy = np.asarray(scene.rock_xy, dtype=np.float64).reshape(-1, 2)[idx]
    dist = np.hypot(xy[:, 0] - s.robot.x, xy[:, 1] - s.robot.y)
    edge = float(np.min(dist - np.asarray(scene.rock_radii)[idx]))
    return edge - rover_radius - REACH_MARGIN


def _goal_slope(slopes: np.ndarray, spec: ScenarioSpec) -> float:
    """Steepest slope [deg] within the goal disc (as ``terrain.max_slope_deg`` with a centre)."""
    t = spec.terrain
    x, y = terr.grid_axes(t.size_x, t.size_y, *slopes.shape)
    g = spec.goal
    mask = (x[None, :] - g.x) ** 2 + (y[:, None] - g.y) ** 2 <= g.radius**2
    return float(slopes[mask].max()) if mask.any() else 0.0


def _lowest_wheel_clearance(model: mujoco.MjModel, data: mujoco.MjData, scene: Scene) -> float:
    """Smallest gap between a wheel's bottom and the terrain under it [m]."""
    p = scene.rover_params
    assert p is not None
    gaps = []
    for w in ("fl", "fr", "rl", "rr"):
        x, y, z = data.geom_xpos[model.geom(f"rover_wheel_{w}").id]
        gaps.append(z - p.wheel_radius - scene.surface_z(float(x), float(y)))
    return float(min(gaps))


def _wheels_in_contact(model: mujoco.MjModel, data: mujoco.MjData) -> int:
    wheel_ids = [model.geom(f"rover_wheel_{w}").id for w in ("fl", "fr", "rl", "rr")]
    touching = data.contact.geom[: data.ncon].ravel()
    return int(np.isin(wheel_ids, touching).sum())
