"""SampleCollect: a lander arm picks a rock sample seen by its camera and stows it."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from scenes.build import build_scene, sun_direction
from scenes.generate import resolve_scenario
from scenes.spec import ScenarioSpec
from sims.arm import ArmController, ArmParams, add_arm
from tasks.base import MujocoTaskEnv

TIMESTEP = 0.002  # [s] arm servos (kp up to 4500 N m/rad) and gripper pads need <= 2 ms
ARM_BASE_Z = 0.10  # [m] arm base above the lander origin (deck top)
CAMERA_POS = (0.48, 0.0, 0.95)  # [m] downward camera on the lander boom, lander frame
CAMERA_FOVY = 45.0  # [deg]
CONTAINER_POS = (-0.05, 0.45, 0.20)  # [m] container floor-top centre, lander frame
CONTAINER_INNER = 0.07  # [m] inner half width of the container
CONTAINER_WALL = 0.08  # [m] wall height above the floor
# The sample is a flattened rounded rock (oblate ellipsoid): round in plan view, so the
# jaws grip it at any yaw, and flat enough not to roll on slopes (assumed shape).
SAMPLE_RADII = (0.022, 0.022, 0.016)  # [m] semi-axes
SAMPLE_HALF = SAMPLE_RADII[2]  # [m] centre height above the ground when resting
ROLLING_FRICTION = 0.01  # [m] rolling-resistance lever arm of the sample (see its geom)
SAMPLE_DENSITY = 2800.0  # [kg/m^3] basalt/anorthosite ~2.8 g/cm^3 (Lunar Sourcebook ch. 9)
SAMPLE_ALBEDO = 0.45  # [-] light-toned anorthosite fragment (Lunar Sourcebook ch. 10), assumed
STOW_JOINT1 = math.pi / 2  # [rad] arm turned towards the container: out of the camera's view
ACCEL_NOISE = 0.01  # [m/s^2] lander accelerometer noise, assumed
# Lander sun sensor: 1-sigma angular error per axis, drawn once per episode (a mounting /
# calibration bias dominates; digital fine sun sensors reach 0.01-0.1 deg, coarse cosine
# sensors 1-3 deg: Wertz, "Spacecraft Attitude Determination and Control", ch. 6; a fine
# sensor's figure degraded for an uncalibrated lander mount, assumed)
SUN_SENSOR_SIGMA_DEG = 0.5
STATE_SIZE = 17
IMPRATIO = 10.0  # friction-to-normal impedance ratio: stiffer friction, a gripped sample does not creep
# MuJoCo's soft contacts let a body held by friction slide slowly even well inside the
# friction cone (under gravity plus the off-equator squeeze, a gripped sample crept 3-4 mm
# per second down the pads). The noslip post-solver (MuJoCo docs, "Computation: Soft
# contacts"/``noslip_iterations``) removes that drift in the friction dimensions; real
# silicone pads hold a rock well inside its friction cone without creep.
NOSLIP_ITERATIONS = 4
REACQUIRE_FRAMES = 5  # frames without the tracked sample before the detector searches anew
# A sample lies where it came to rest: on ground steeper than it can rest on it would have
# rolled away long before. Its rolling-resistance lever over its radius gives a rolling angle of
# atan(ROLLING_FRICTION / 0.022 m) = 24 deg; samples dropped on 22-39 deg crater walls
# (lunar-terminator seeds 48, 52, 76, lunar-mare-day 48, 52, lunar-highland-slopes 52, ceres 32)
# started their episode rolling (1-195 cm in the first 3 s, some out of the camera's view). The
# sample's position is drawn again until the ground under it is at most MAX_REST_SLOPE_DEG steep
# (4 deg of margin for the roughness within its footprint); after MAX_PLACEMENTS draws the
# flattest is taken.
MAX_REST_SLOPE_DEG = 20.0  # [deg] steepest ground a sample is placed on
MAX_PLACEMENTS = 20  # position draws per episode at most
SLOPE_BASELINE = 0.03  # [m] half baseline of the ground-slope estimate (the sample is 4.4 cm wide)


def _quat_z(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


class SampleCollectEnv(MujocoTaskEnv):
    """Pick a rock sample off the terrain with a lander arm and place it in a container.

    **Description.** A lander stands at the start point of a working condition's
    scene (the scene's rover is replaced by it). A 7-DoF arm with a parallel-jaw
    gripper (``sims.arm``) sits on its deck, a container is fixed beside it and a
    camera on a boom looks straight down at the workspace; in dark conditions a
    floodlight of the condition's headlight power lights it. A light-toned 4.4 cm
    rounded rock sample lies on the terrain in front of the lander. Actions (5 floats in
    [-1, 1]): TCP displacement in the lander frame (x, y, z, times ``max_step``),
    hand yaw change (times ``max_yaw_step``) and the gripper (> 0 open, <= 0 close).
    The state (17 floats, lander frame) holds only the lander's own sensing: TCP
    position and yaw from the joint encoders, jaw opening, servo tracking error
    (target - TCP, shows contact), the sample's viewing ray from the perception
    pipeline (``tasks.perception.sample``: unit direction, valid flag, age [s]), the
    accelerometer's gravity magnitude and the sun sensor's unit vector toward the sun
    (3 floats, lander frame; zeros while the sun is below the horizon; error
    ``SUN_SENSOR_SIGMA_DEG`` per axis, drawn once per episode). The perception
    pipeline uses the sun direction to find the centre of a rock lit from one side
    (:meth:`tasks.perception.sample.SampleDetector.refine`). ``obs_mode``
    adds/substitutes the frame.

    **Randomizations.** Scene from ``condition``/``scenario_seed`` (terrain slope and
    roughness under the workspace, lighting, gravity, regolith friction); per episode
    the sample's position (0.42-0.62 m from the arm, +/-0.5 rad; drawn again where the
    ground under it is steeper than ``MAX_REST_SLOPE_DEG``, on which it would not rest) and
    yaw, camera noise.
    Low gravity changes how the released sample falls, bounces and settles.

    **Success conditions.** The sample rests inside the container (within its
    inner walls, below the rim) with speed below ``settle_speed`` and neither jaw
    touching it. Perception accuracy is scored on camera frames in which the sample
    lies on the ground, in the frame and unoccluded: correct when the true sample centre
    is within ``perception_tol_m`` of the estimated viewing ray.
    """

    def __init__(
        self,
        condition: str | None = "lunar-mare-day",
        scenario_seed: int = 0,
        scenario: ScenarioSpec | None = None,
        frame_skip: int = 25,
        obs_mode: str = "state",
        camera_size: int = 64,
        camera_period: int = 4,
        max_step: float = 0.01,
        max_yaw_step: float = 0.1,
        settle_speed: float = 0.02,
        perception_tol_m: float = 0.015,
        place_bonus: float = 10.0,
        render_mode: str | None = None,
    ):
        scenario = resolve_scenario(condition, scenario_seed, scenario)
        if not scenario.terrain.enabled:
            raise ValueError(
                f"condition {scenario.condition!r}: SampleCollect needs ground "
                "(terrain.enabled = true) for the lander and the sample; use OrbitalCapture "
                "for the free-floating workspace"
            )
        if obs_mode not in ("state", "image", "both"):
            raise ValueError(f"obs_mode: got {obs_mode!r}; accepted: ['state', 'image', 'both']")
        if not 0.0 < max_step <= 0.05:
            raise ValueError(f"max_step: got {max_step} m; accepted: (0, 0.05]")
        self.scenario = scenario
        spec = dataclasses.replace(scenario, robot=dataclasses.replace(scenario.robot, kind="none"))
        self.scene = build_scene(spec)
        ms = self.scene.mjspec
        ms.option.timestep = TIMESTEP
        ms.option.impratio = IMPRATIO
        ms.option.noslip_iterations = NOSLIP_ITERATIONS
        r = scenario.robot
        self._yaw = math.radians(r.yaw_deg)
        z0 = self.scene.surface_z(r.x, r.y)
        self._origin = np.array([r.x, r.y, z0])
        c, s = math.cos(self._yaw), math.sin(self._yaw)
        self._rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # lander -> world
        # a gentle grip for a fragile geological sample: 15 N per jaw at <= 5 cm/s (assumed;
        # the Franka Hand class gripper is force-settable from 30 N, we go lower), so a
        # squeeze slightly off the sample's equator does not pop it out in low gravity
        self.arm_params = ArmParams(grip_force_limit=15.0, finger_speed=0.05)
        self._build_lander(ms, z0, float(scenario.regolith.friction))
        model = ms.compile()
        super().__init__(model, frame_skip, render_mode=render_mode, render_camera="lander_cam")
        self.ctl = ArmController(model, self.arm, self.arm_params)
        self.obs_mode = obs_mode
        self.camera_period = int(camera_period)
        self.max_step = float(max_step)
        self.max_yaw_step = float(max_yaw_step)
        self.settle_speed = float(settle_speed)
        self.perception_tol_m = float(perception_tol_m)
        self.place_bonus = float(place_bonus)
        from tasks.perception import ColourCamera
        from tasks.perception.sample import SampleDetector

        self.camera = ColourCamera(model, "lander_cam", self.scene.light_ref, camera_size,
                                   camera_size)
        self.detector = SampleDetector(sample_radii=SAMPLE_RADII,
                                       sample_range=CAMERA_POS[2] - SAMPLE_HALF)
        lt = scenario.lighting
        # the sun's true direction in the lander frame (the sun sensor reads it with an error)
        self._sun_true = (self._rot.T @ sun_direction(lt.sun_elevation_deg, lt.sun_azimuth_deg)
                          if lt.sun_elevation_deg > 0.0 else np.zeros(3))
        self._sun = self._sun_true.copy()
        self.container_pos = np.array(CONTAINER_POS)  # lander calibration, known to controllers
        self._sample = model.body("sample").id
        self._sample_geom = model.geom("sample").id
        self._terrain_geom = model.geom("terrain").id
        self._sample_qadr = model.joint("sample_root").qposadr[0]
        self._sample_dadr = model.joint("sample_root").dofadr[0]
        self._pad_geoms = {model.geom(self.arm.left_pad).id, model.geom(self.arm.right_pad).id,
                           *(model.geom(f"{f}_geom").id for f in self.arm.finger_joints)}
        self._j1 = model.joint(self.arm.joints[0]).qposadr[0]
        acc = model.sensor("lander_accel")
        self._accel = slice(int(acc.adr[0]), int(acc.adr[0]) + 3)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        state = gym.spaces.Box(-np.inf, np.inf, shape=(STATE_SIZE,), dtype=np.float32)
        image = gym.spaces.Box(0, 255, shape=(camera_size, camera_size, 3), dtype=np.uint8)
        self.observation_space = {"state": state, "image": image}.get(
            obs_mode, gym.spaces.Dict({"state": state, "image": image}))
        self._rng = np.random.default_rng(0)
        self._image = np.zeros((camera_size, camera_size, 3), dtype=np.uint8)
        self._reset_stats()

    # --- build -------------------------------------------------------------------------------
    def _build_lander(self, ms: mujoco.MjSpec, z0: float, mu: float) -> None:
        sp = self.scenario
        lander = ms.worldbody.add_body(name="lander", pos=self._origin.tolist(),
                                       quat=_quat_z(self._yaw))
        lander.add_geom(name="lander_deck", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[0.25, 0.25, ARM_BASE_Z / 2], pos=[-0.2, 0.0, ARM_BASE_Z / 2],
                        rgba=[0.75, 0.65, 0.3, 1.0])
        self.arm = add_arm(ms, lander, "arm", pos=(0.0, 0.0, ARM_BASE_Z), params=self.arm_params)
        # Sample-pad contacts take the pads' own properties (silicone friction, 5 ms time
        # constant, condim 4: no rolling resistance). MuJoCo's default mixing takes the larger
        # condim and friction of the two geoms, which gave the squeezed sample the 1 cm
        # rolling-resistance lever arm of its regolith bed against the pads too; that soft
        # rolling constraint let a gripped sample creep along the pad face and squeeze out
        # sideways during the carry (measured: 2 cm in 3 s at 15 N grip).
        for pad in (self.arm.left_pad, self.arm.right_pad):
            ms.geom(pad).priority = 1
        cx, cy, cz = CONTAINER_POS
        lander.add_geom(name="container_post", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[0.02, 0.02, cz / 2], pos=[cx, cy, cz / 2], rgba=[0.1, 0.1, 0.1, 1])
        dark = [0.08, 0.08, 0.08, 1.0]  # anodized container, dark so it never looks like a sample
        t = 0.005
        lander.add_geom(name="container_floor", type=mujoco.mjtGeom.mjGEOM_BOX,
                        size=[CONTAINER_INNER + t, CONTAINER_INNER + t, t],
                        pos=[cx, cy, cz - t], rgba=dark, friction=[mu, 0.005, 0.0001])
        h = CONTAINER_WALL / 2
        for i, (dx, dy, sx, sy) in enumerate((
            (CONTAINER_INNER + t, 0, t, CONTAINER_INNER + 2 * t),
            (-CONTAINER_INNER - t, 0, t, CONTAINER_INNER + 2 * t),
            (0, CONTAINER_INNER + t, CONTAINER_INNER, t),
            (0, -CONTAINER_INNER - t, CONTAINER_INNER, t),
        )):
            lander.add_geom(name=f"container_wall_{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                            size=[sx, sy, h], pos=[cx + dx, cy + dy, cz + h], rgba=dark,
                            friction=[mu, 0.005, 0.0001])
        bx, bz = CAMERA_POS[0], CAMERA_POS[2]
        for name, fromto in (("boom_mast", [-0.3, 0.0, ARM_BASE_Z, -0.3, 0.0, bz + 0.03]),
                             ("boom_arm", [-0.3, 0.0, bz + 0.03, bx, 0.0, bz + 0.03])):
            lander.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_CAPSULE, fromto=fromto,
                            size=[0.015, 0, 0], contype=0, conaffinity=0,
                            rgba=[0.6, 0.6, 0.6, 1.0])
        lander.add_camera(name="lander_cam", pos=list(CAMERA_POS), fovy=CAMERA_FOVY,
                          xyaxes=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        lander.add_site(name="lander_imu", pos=[-0.2, 0.0, ARM_BASE_Z])
        ms.add_sensor(name="lander_accel", type=mujoco.mjtSensor.mjSENS_ACCELEROMETER,
                      objtype=mujoco.mjtObj.mjOBJ_SITE, objname="lander_imu")
        intensity = sp.lighting.headlight_intensity
        if intensity > 0:
            val = intensity / self.scene.light_ref  # radiometric light units (scenes.build)
            lander.add_light(name="lander_floodlight", type=mujoco.mjtLightType.mjLIGHT_SPOT,
                             pos=[bx - 0.05, 0.0, bz], dir=[0.0, 0.0, -1.0],
                             diffuse=[val, val, val], specular=[0, 0, 0],
                             attenuation=[0.0, 0.0, 1.0], cutoff=50.0, exponent=1.0,
                             castshadow=False)
        body = ms.worldbody.add_body(name="sample", pos=[0.0, 0.0, 0.0])
        body.add_freejoint(name="sample_root")
        a = SAMPLE_ALBEDO
        body.add_geom(name="sample", type=mujoco.mjtGeom.mjGEOM_ELLIPSOID,
                      size=list(SAMPLE_RADII), density=SAMPLE_DENSITY, rgba=[a, a, a * 0.95, 1.0],
                      # rolling resistance of a rough rock bedded in loose regolith: 1 cm
                      # lever arm (assumed, of the order of its sinkage), so it does not
                      # roll away down a slope like a wheel
                      friction=[mu, 0.02, ROLLING_FRICTION], condim=6)
        del z0

    # --- episode -----------------------------------------------------------------------------
    def _reset_stats(self) -> None:
        self._steps = 0
        self._ray = np.zeros(3)
        self._ray_t: float | None = None
        self._prior_uv: tuple[float, float] | None = None
        self._misses = 0
        self._perc_frames = 0
        self._perc_hits = 0
        self._max_drop_speed = 0.0
        self._placed = False

    def _to_lander(self, p: np.ndarray) -> np.ndarray:
        return self._rot.T @ (np.asarray(p) - self._origin)

    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._rng = rng
        self._reset_stats()
        self.ctl.set_home(self.data)
        self.data.qpos[self._j1] = STOW_JOINT1
        self.data.ctrl[self.ctl.act_ids[0]] = STOW_JOINT1
        best: tuple[float, np.ndarray] | None = None
        for _ in range(MAX_PLACEMENTS):
            dist = float(rng.uniform(0.42, 0.62))  # sample distance from the arm base [m]
            bearing = float(rng.uniform(-0.5, 0.5))  # [rad] from the lander's +x
            local = np.array([dist * math.cos(bearing), dist * math.sin(bearing), 0.0])
            world = self._origin + self._rot @ local
            slope = self._ground_slope_deg(float(world[0]), float(world[1]))
            if best is None or slope < best[0]:
                best = (slope, world)
            if slope <= MAX_REST_SLOPE_DEG:
                break
        assert best is not None
        world = best[1]
        zs = self._ground_z(float(world[0]), float(world[1]))
        a = self._sample_qadr
        self.data.qpos[a:a + 3] = [world[0], world[1], zs + SAMPLE_HALF + 0.002]
        yaw = float(rng.uniform(-math.pi, math.pi))
        self.data.qpos[a + 3:a + 7] = _quat_z(yaw)
        mujoco.mj_forward(self.model, self.data)
        mujoco.mj_step(self.model, self.data, 100)  # let the sample settle on the terrain (0.2 s)
        self._sample_z0 = float(self.data.xpos[self._sample][2])
        self._target = self.ctl.ee_pos(self.data)
        self._target_yaw = self.ctl.ee_yaw(self.data)
        if self._sun_true.any():
            # sun sensor error: a small rotation about two axes normal to the sun line
            e1 = np.cross(self._sun_true, [0.0, 0.0, 1.0])
            e1 = e1 / np.linalg.norm(e1) if np.linalg.norm(e1) > 1e-9 else np.array([1.0, 0, 0])
            e2 = np.cross(self._sun_true, e1)
            err = rng.normal(0.0, math.radians(SUN_SENSOR_SIGMA_DEG), 2)
            sun = self._sun_true + err[0] * e1 + err[1] * e2
            self._sun = sun / np.linalg.norm(sun)
        self.camera.reset()
        self.camera.settle_exposure(self.data, rng)
        self._camera_frame()

    def _ground_z(self, x: float, y: float) -> float:
        """Height of the collision surface under (x, y): a ray cast onto the terrain geom.

        The heightfield's triangles differ from the bilinear ``Scene.surface_z`` by up
        to a few cm on rough ground; spawning the sample from the latter can start it
        inside the terrain, which MuJoCo resolves with a violent ejection.
        """
        mujoco.mj_forward(self.model, self.data)
        return self._cast_ground_z(x, y)

    def _cast_ground_z(self, x: float, y: float) -> float:
        """:meth:`_ground_z` on data already forwarded (the ray needs current geom poses)."""
        z_top = self.scene.surface_z(x, y) + 0.3
        geomid = np.zeros(1, dtype=np.int32)
        dist = mujoco.mj_ray(self.model, self.data, np.array([x, y, z_top]),
                             np.array([0.0, 0.0, -1.0]), None, 1, self._sample, geomid)
        if dist < 0 or int(geomid[0]) != self._terrain_geom:
            return self.scene.surface_z(x, y)
        return z_top - float(dist)

    def _ground_slope_deg(self, x: float, y: float) -> float:
        """Steepness [deg] of the collision surface under (x, y), over the sample's footprint."""
        mujoco.mj_forward(self.model, self.data)  # once for the four casts
        h, z = SLOPE_BASELINE, self._cast_ground_z
        zx = (z(x + h, y) - z(x - h, y)) / (2.0 * h)
        zy = (z(x, y + h) - z(x, y - h)) / (2.0 * h)
        return math.degrees(math.atan(math.hypot(zx, zy)))

    def step(self, action: np.ndarray):
        """Move the TCP target, drive the arm and gripper for one control period."""
        act = np.clip(np.asarray(action, dtype=np.float64).reshape(5), -1.0, 1.0)
        self._target = self._target + self._rot @ (act[:3] * self.max_step)
        self._target_yaw = self._target_yaw + act[3] * self.max_yaw_step
        q = self.ctl.ik_targets(self.data, self._target, self._target_yaw, self.dt)
        stroke = self.arm_params.finger_stroke
        self.ctl.apply(self.data, q, stroke if act[4] > 0 else -stroke)
        if act[4] <= 0.0:
            # Closing: both jaws target the *mean* opening minus the squeeze that reaches the
            # force limit, so the pair centres on the sample like the rack-and-pinion coupled
            # jaws of a Franka Hand class gripper. Two independent force-limited servos both
            # commanded fully shut float as a pair (neutral equilibrium): the held sample
            # then drifts from jaw stop to jaw stop, turns and squeezes out sideways.
            jaws = self.data.qpos[self.ctl.fqadr]
            squeeze = self.arm_params.grip_force_limit / self.arm_params.finger_kp
            self.data.ctrl[self.ctl.finger_act_ids] = float(
                np.clip(np.mean(jaws) - squeeze, -stroke, stroke))
        self._simulate(self.data.ctrl.copy())
        self._steps += 1
        if self.sim_error is None and self._steps % self.camera_period == 0:
            self._camera_frame()
        obs = self._observe()
        if self.sim_error is not None:
            info = self._info()
            info["reward_parts"] = {}
            return obs, 0.0, True, False, info
        ev = self.evaluate()
        parts = {"place": self.place_bonus if ev["success"] else 0.0,
                 "distance": -0.1 * ev["sample_to_container"] * self.dt}
        info = self._info()
        info["reward_parts"] = parts
        return obs, float(sum(parts.values())), bool(ev["success"]), False, info

    # --- perception ----------------------------------------------------------------------------
    def _camera_frame(self) -> None:
        self._image = self.camera.capture(self.data, self._rng)
        det = self.detector.detect(self._image, self.camera.calibration, self._prior_uv,
                                   self._sun if self._sun.any() else None)
        if det is not None:
            self._ray = np.asarray(det.ray)
            self._ray_t = float(self.data.time)
            self._prior_uv = (det.u, det.v)
            self._misses = 0
        else:
            # a sample knocked away or dropped is no longer near the tracked pixel: after
            # REACQUIRE_FRAMES frames without it, search the whole frame again
            self._misses += 1
            if self._misses >= REACQUIRE_FRAMES:
                self._prior_uv = None
        centre = self._to_lander(self.data.xpos[self._sample])  # lander frame
        if self._sample_visible_on_ground(centre):
            self._perc_frames += 1
            if det is not None:
                origin = np.asarray(self.camera.calibration.pos_body)
                v = centre - origin
                miss = float(np.linalg.norm(v - (v @ self._ray) * self._ray))
                self._perc_hits += int(miss <= self.perception_tol_m)

    def _sample_visible_on_ground(self, centre: np.ndarray) -> bool:
        """Truth for scoring: the sample rests near where it started, in the frame, unoccluded.

        ``centre`` is the sample's centre in the lander frame.
        """
        if float(self.data.xpos[self._sample][2]) > self._sample_z0 + 0.03:
            return False
        cal = self.camera.calibration
        u, v, depth = cal.project_body(centre)
        if not (depth > 0.0 and 0.0 <= u < cal.width and 0.0 <= v < cal.height):
            return False  # pushed or rolled out of the camera's view
        cam = self.data.cam_xpos[self.model.camera("lander_cam").id]
        to = self.data.xpos[self._sample] - cam
        geomid = np.zeros(1, dtype=np.int32)
        dist = mujoco.mj_ray(self.model, self.data, cam, to / np.linalg.norm(to), None, 1, -1,
                             geomid)
        return dist >= 0 and int(geomid[0]) == self._sample_geom

    # --- observation / evaluation -----------------------------------------------------------
    def _observe(self) -> Any:
        ee = self._to_lander(self.ctl.ee_pos(self.data))
        err = self._rot.T @ (self._target - self.ctl.ee_pos(self.data))
        t_fix = self._ray_t
        age = 99.0 if t_fix is None else min(99.0, self.data.time - t_fix)
        g = float(np.linalg.norm(self.data.sensordata[self._accel]))
        g += float(self._rng.normal(0.0, ACCEL_NOISE))
        state = np.concatenate([
            ee, [self.ctl.ee_yaw(self.data) - self._yaw, self.ctl.opening(self.data)], err,
            self._ray, [1.0 if self._ray_t is not None else 0.0, age, g], self._sun,
        ]).astype(np.float32)
        if self.obs_mode == "state":
            return state
        if self.obs_mode == "image":
            return self._image.copy()
        return {"state": state, "image": self._image.copy()}

    def _sample_touching_jaws(self) -> bool:
        for c in self.data.contact[: self.data.ncon]:
            pair = {int(c.geom1), int(c.geom2)}
            if self._sample_geom in pair and pair & self._pad_geoms:
                return True
        return False

    def evaluate(self) -> dict[str, Any]:
        """Success (sample at rest in the container, released) and named signals."""
        p = self._to_lander(self.data.xpos[self._sample])
        rel = p - self.container_pos
        inside = bool(abs(rel[0]) < CONTAINER_INNER and abs(rel[1]) < CONTAINER_INNER
                      and -0.01 < rel[2] < CONTAINER_WALL)
        a = self._sample_dadr
        speed = float(np.linalg.norm(self.data.qvel[a:a + 3]))
        released = not self._sample_touching_jaws()
        ok = inside and speed < self.settle_speed and released and self.sim_error is None
        out = {
            "success": bool(ok),
            "in_container": float(inside),
            "sample_speed": speed,
            "sample_to_container": float(np.linalg.norm(rel)),
            "lifted": float(p[2] - self._to_lander(np.array([0, 0, self._sample_z0]))[2] > 0.05),
            "time_s": float(self.data.time),
            "perception_frames": float(self._perc_frames),
        }
        if self._perc_frames:
            out["perception_accuracy"] = self._perc_hits / self._perc_frames
        return out

    def close(self) -> None:
        """Release the camera and the renderer."""
        if getattr(self, "camera", None) is not None:
            self.camera.close()
            self.camera = None
        super().close()
