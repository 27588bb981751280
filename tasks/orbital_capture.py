"""OrbitalCapture: in 0 g, catch a free-floating tumbling object and bring it to rest.

Perception is stereo triangulation of the green capture fixture in two camera
images followed by a constant-velocity Kalman tracker (``tasks.perception.stereo``).
An earlier version had a 1-2 cm bias: the sun lights one side of the ball and the
intensity-weighted blob centroid moved ~1 px towards the light in both views (the
camera geometry itself - fovy to focal length, pixel centres, row order - checks
out to < 0.3 px against rendered spheres, see ``tests/test_orbital.py``). The blob
centre is now its area centroid, and a lamp on the stereo head keeps the ball's
night side visible so the whole disc is segmented.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from scenes.build import build_scene
from scenes.generate import resolve_scenario
from scenes.spec import ScenarioSpec
from sims.arm import ArmController, ArmParams, add_arm
from tasks.base import MujocoTaskEnv
from tasks.perception.stereo import StereoTracker, triangulate

TIMESTEP = 0.002  # [s] arm servos and gripper pads need <= 2 ms
TARGET_RADIUS = 0.025  # [m] spherical capture fixture (5 cm ball: 15 mm clearance per open jaw
# of the 80 mm Franka Hand stroke), assumed
TARGET_MASS = 0.5  # [kg] small free-flying payload (assumed)
TARGET_RGB = (0.1, 0.75, 0.2)  # green-painted capture fixture, for colour segmentation (assumed)
WORKSPACE_CENTRE = (0.55, 0.0, 0.25)  # [m] where the object starts drifting, world
# Stereo head on the servicer: two cameras 0.3 m apart, 0.65 m in front of the workspace,
# verged on its centre, and an LED lamp between them (assumed layout).
STEREO_POS = ((0.40, -0.65, 0.25), (0.70, -0.65, 0.25))  # [m] world
LAMP_POS = (0.55, -0.65, 0.25)  # [m] world
STEREO_FOVY = 45.0  # [deg] full vertical field of view
# Lamp: 100 W/sr over a 25 deg half-angle cone (0.59 sr): ~60 W optical, a ~150 W-electrical
# LED floodlight at ~40 % wall-plug efficiency (assumed). At the workspace (0.67 m) it gives
# ~220 W/m^2, 16 % of the solar constant: the ball's night side stays visible.
LAMP_INTENSITY = 100.0  # [W/sr]
LAMP_CUTOFF = 25.0  # [deg] half-angle of the lamp's cone
ESCAPE_RADIUS = 1.5  # [m] an object farther than this from the arm base is lost
STATE_SIZE = 16


def _look_at(pos: tuple[float, float, float], target: tuple[float, float, float]) -> list[float]:
    """MuJoCo ``xyaxes`` of a camera at ``pos`` looking at ``target`` with a level x axis."""
    z = np.asarray(pos, dtype=float) - np.asarray(target, dtype=float)  # camera looks along -z
    z /= np.linalg.norm(z)
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return [*x.tolist(), *y.tolist()]


class OrbitalCaptureEnv(MujocoTaskEnv):
    """Catch a drifting, tumbling object with a servicer arm in 0 g and bring it to rest.

    **Description.** The free-floating workspace of the ``orbital-free-floating``
    condition (or any zero-gravity scenario without terrain): a 7-DoF arm with a
    parallel-jaw gripper (``sims.arm``) whose base is fixed to the servicer (the
    station frame is the world frame and does not move, so "at rest" means at rest
    relative to the servicer); an object carrying a 5 cm spherical capture fixture
    drifts through the workspace while tumbling. A verged stereo camera pair
    (radiometric colour cameras, ``tasks.perception``; 0.3 m baseline, 0.67 m from the
    workspace centre) with an LED lamp between them looks at it; the object's position
    is triangulated from the two images (``tasks.perception.stereo``) and filtered by
    a constant-velocity Kalman tracker. The state (16 floats, world frame) holds the
    TCP position and yaw from the joint encoders (forward kinematics), the jaw
    opening (finger encoders), the servo tracking error (commanded minus measured
    TCP), the tracker's object position and velocity, a track-valid flag and the age
    of the last accepted fix. It never contains the simulator's object state.
    Actions (5 floats in [-1, 1]): TCP displacement (times ``max_step``), yaw change
    (times ``max_yaw_step``) and the gripper: each jaw's opening target as a fraction
    of its 40 mm stroke (+1 fully open; a target inside the object squeezes it with
    3000 N/m times the difference, up to 15 N per jaw). ``obs_mode``
    ``"image"`` gives the left camera frame instead, ``"both"`` a dict of the two.

    The scene is the condition's (station wall, sun, ambient light) without its rover
    goal marker, which is meaningless in this task.

    **Randomizations.** Lighting from the scene (``condition``/``scenario_seed``: sun
    elevation and azimuth, ambient light). Per episode: the object's
    start position (uniform in a +/-5 cm cube around the workspace centre), drift
    velocity (direction uniform, speed ~ U(``drift_speed``)), tumble (axis uniform,
    rate ~ U(``tumble_rate``)), orientation (uniform) and the camera noise.

    **Success conditions.** Both jaws touch the object, its linear speed is below
    ``rest_speed`` (1 cm/s) and its angular speed below ``rest_spin`` (0.1 rad/s),
    continuously for ``rest_time_s`` (0.5 s); the episode then terminates. It
    terminates as a failure when the object is more than 1.5 m from the arm base
    (lost). ``max_target_speed`` reports how hard it was knocked. Perception accuracy
    is scored at every camera frame where the object's centre is in line of sight of
    both cameras: correct when the tracker's position estimate (what the controller
    receives) is within ``perception_tol_m`` (1 cm) of the truth;
    ``perception_accuracy`` is the fraction correct, ``stereo_accuracy`` the same for
    the raw triangulated fix (a missing fix counts as wrong).
    """

    def __init__(
        self,
        condition: str | None = "orbital-free-floating",
        scenario_seed: int = 0,
        scenario: ScenarioSpec | None = None,
        frame_skip: int = 25,
        obs_mode: str = "state",
        camera_size: int = 96,
        camera_period: int = 1,
        max_step: float = 0.01,
        max_yaw_step: float = 0.1,
        drift_speed: tuple[float, float] = (0.005, 0.02),
        tumble_rate: tuple[float, float] = (0.1, 0.5),
        lamp_intensity_w_sr: float = LAMP_INTENSITY,
        rest_speed: float = 0.01,
        rest_spin: float = 0.1,
        rest_time_s: float = 0.5,
        perception_tol_m: float = 0.01,
        centroid_weighting: str = "coverage",
        capture_bonus: float = 10.0,
        render_mode: str | None = None,
    ):
        """Build the scene, arm, object and stereo head.

        Args:
            condition: Working condition (must be free-floating: no terrain, 0 g).
            scenario_seed: Scene seed of ``condition``.
            scenario: Explicit scenario (overrides ``condition``/``scenario_seed``).
            frame_skip: Physics steps per control step (2 ms each).
            obs_mode: ``"state"``, ``"image"`` or ``"both"``.
            camera_size: Square image side [px].
            camera_period: Control steps between stereo frames (>= 1).
            max_step: TCP displacement of a unit action [m].
            max_yaw_step: Hand yaw change of a unit action [rad].
            drift_speed: Range of the object's initial linear speed [m/s].
            tumble_rate: Range of the object's initial angular speed [rad/s].
            lamp_intensity_w_sr: Stereo-head lamp radiant intensity [W/sr] (0 = off).
            rest_speed: Largest object speed counted as at rest [m/s].
            rest_spin: Largest object angular speed counted as at rest [rad/s].
            rest_time_s: How long the held object must stay at rest [s].
            perception_tol_m: Position error below which an estimate is correct [m].
            centroid_weighting: Blob centre used by the stereo
                (``tasks.perception.stereo.colour_centroid``): ``"coverage"`` (edge
                pixels unmixed from the background), ``"area"`` or ``"intensity"``.
            capture_bonus: Reward on success.
            render_mode: ``None`` or ``"rgb_array"``.

        Raises:
            ValueError: On a scenario with ground or gravity, or a bad knob.
        """
        if obs_mode not in ("state", "image", "both"):
            raise ValueError(f"obs_mode: got {obs_mode!r}; accepted: ['state', 'image', 'both']")
        if centroid_weighting not in ("coverage", "area", "intensity"):
            raise ValueError(f"centroid_weighting: got {centroid_weighting!r}; accepted: "
                             "['coverage', 'area', 'intensity']")
        scenario = resolve_scenario(condition, scenario_seed, scenario)
        g = float(np.linalg.norm(scenario.body.gravity))
        if scenario.terrain.enabled or g > 1e-3:
            raise ValueError(
                f"condition {scenario.condition!r}: OrbitalCapture needs the free-floating "
                f"0 g workspace (terrain.enabled = false, |g| = 0; got terrain "
                f"{scenario.terrain.enabled}, |g| = {g:.3g} m/s^2); use 'orbital-free-floating'"
            )
        for name, rng_ in (("drift_speed", drift_speed), ("tumble_rate", tumble_rate)):
            if len(rng_) != 2 or not 0.0 <= rng_[0] <= rng_[1]:
                raise ValueError(f"{name}: got {rng_!r}; accepted: (low, high) with 0 <= low <= high")
        if int(camera_period) < 1 or int(camera_size) < 16:
            raise ValueError(
                f"camera_period = {camera_period}, camera_size = {camera_size}; accepted: "
                "camera_period >= 1 and camera_size >= 16 px"
            )
        lamp = float(lamp_intensity_w_sr)
        if not lamp >= 0.0:
            raise ValueError(f"lamp_intensity_w_sr: got {lamp!r}; accepted: >= 0 W/sr (0 = off)")
        self.scenario = scenario
        self.scene = build_scene(scenario)
        ms = self.scene.mjspec
        # The scene's rover goal marker (a visual-only 10 cm pole and beacon at the spec's
        # goal, which can stand inside the capture volume, the object passing through it)
        # has no meaning here: this task has no goal.
        for kind, name in (("site", "goal"), ("geom", "goal_beacon")):
            element = getattr(ms, kind)(name)
            if element is not None:
                ms.delete(element)
        ms.option.timestep = TIMESTEP
        ms.option.impratio = 10.0
        self.arm_params = ArmParams(grip_force_limit=15.0, finger_speed=0.05)
        self.arm = add_arm(ms, ms.worldbody, "arm", pos=(0.0, 0.0, 0.0), params=self.arm_params)
        ms.worldbody.add_geom(name="station_truss", type=mujoco.mjtGeom.mjGEOM_BOX,
                              size=[0.15, 0.15, 0.3], pos=[-0.2, 0.0, -0.3],
                              rgba=[0.7, 0.7, 0.7, 1.0])
        body = ms.worldbody.add_body(name="target", pos=list(WORKSPACE_CENTRE))
        body.add_freejoint(name="target_root")
        body.add_geom(name="target", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[TARGET_RADIUS, 0, 0],
                      mass=TARGET_MASS, rgba=[*TARGET_RGB, 1.0], friction=[0.8, 0.005, 0.0001],
                      condim=4)
        for i, pos in enumerate(STEREO_POS):
            ms.worldbody.add_camera(name=f"stereo_{i}", pos=list(pos), fovy=STEREO_FOVY,
                                    xyaxes=_look_at(pos, WORKSPACE_CENTRE))
        if lamp > 0.0:
            aim = np.asarray(WORKSPACE_CENTRE) - np.asarray(LAMP_POS)
            ms.worldbody.add_light(
                name="stereo_lamp", type=mujoco.mjtLightType.mjLIGHT_SPOT, pos=list(LAMP_POS),
                dir=(aim / np.linalg.norm(aim)).tolist(), cutoff=LAMP_CUTOFF, exponent=1.0,
                diffuse=[lamp / self.scene.light_ref] * 3, specular=[0.0, 0.0, 0.0],
                attenuation=[0.0, 0.0, 1.0],  # inverse square: E = I cos(theta) / r^2
                castshadow=False, active=True,
            )
        model = ms.compile()
        super().__init__(model, frame_skip, render_mode=render_mode, render_camera="stereo_0")
        self.ctl = ArmController(model, self.arm, self.arm_params)
        from tasks.perception import ColourCamera

        self.cameras = [ColourCamera(model, f"stereo_{i}", self.scene.light_ref, camera_size,
                                     camera_size, fixed_pattern_seed=i) for i in range(2)]
        self.tracker = StereoTracker()
        self.obs_mode = obs_mode
        self.camera_period = int(camera_period)
        self.max_step = float(max_step)
        self.max_yaw_step = float(max_yaw_step)
        self.drift_speed = (float(drift_speed[0]), float(drift_speed[1]))
        self.tumble_rate = (float(tumble_rate[0]), float(tumble_rate[1]))
        self.lamp_intensity_w_sr = lamp
        self.rest_speed = float(rest_speed)
        self.rest_spin = float(rest_spin)
        self.rest_time_s = float(rest_time_s)
        self.perception_tol_m = float(perception_tol_m)
        self.centroid_weighting = centroid_weighting
        self.capture_bonus = float(capture_bonus)
        self._target = model.body("target").id
        self._target_geom = model.geom("target").id
        self._cam_ids = [model.camera(f"stereo_{i}").id for i in range(2)]
        self._qadr = model.joint("target_root").qposadr[0]
        self._dadr = model.joint("target_root").dofadr[0]
        self._left = {model.geom(self.arm.left_pad).id, model.geom(f"{self.arm.finger_joints[0]}_geom").id}
        self._right = {model.geom(self.arm.right_pad).id,
                       model.geom(f"{self.arm.finger_joints[1]}_geom").id}
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        state = gym.spaces.Box(-np.inf, np.inf, shape=(STATE_SIZE,), dtype=np.float32)
        image = gym.spaces.Box(0, 255, shape=(camera_size, camera_size, 3), dtype=np.uint8)
        self.observation_space = {"state": state, "image": image}.get(
            obs_mode, gym.spaces.Dict({"state": state, "image": image}))
        self._rng = np.random.default_rng(0)
        self._image = np.zeros((camera_size, camera_size, 3), dtype=np.uint8)
        self._reset_stats()

    def _reset_stats(self) -> None:
        self._steps = 0
        self._fix_t: float | None = None
        self._perc_frames = 0
        self._perc_hits = 0
        self._stereo_hits = 0
        self._err_sum = 0.0
        self._escaped = False
        self._max_speed = 0.0
        self._rest_steps = 0
        self.tracker.reset()

    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._rng = rng
        self._reset_stats()
        self.ctl.set_home(self.data)
        a, d = self._qadr, self._dadr
        # start ~ U(+/-5 cm) cube around the workspace centre; orientation uniform
        self.data.qpos[a:a + 3] = np.asarray(WORKSPACE_CENTRE) + rng.uniform(-0.05, 0.05, 3)
        q = rng.normal(size=4)
        self.data.qpos[a + 3:a + 7] = q / np.linalg.norm(q)
        # drift: direction uniform, speed ~ U(drift_speed); tumble: axis uniform, rate ~ U(tumble_rate)
        direction = rng.normal(size=3)
        self.data.qvel[d:d + 3] = direction / np.linalg.norm(direction) * rng.uniform(*self.drift_speed)
        axis = rng.normal(size=3)
        self.data.qvel[d + 3:d + 6] = axis / np.linalg.norm(axis) * rng.uniform(*self.tumble_rate)
        mujoco.mj_forward(self.model, self.data)
        self._goal_tcp = self.ctl.ee_pos(self.data)
        self._goal_yaw = self.ctl.ee_yaw(self.data)
        for cam in self.cameras:
            cam.reset()
            cam.settle_exposure(self.data, rng)
        self._camera_frame()

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Move the TCP target, drive the arm and gripper for one control period."""
        act = np.clip(np.asarray(action, dtype=np.float64).reshape(5), -1.0, 1.0)
        self._goal_tcp = self._goal_tcp + act[:3] * self.max_step
        self._goal_yaw = self._goal_yaw + act[3] * self.max_yaw_step
        q = self.ctl.ik_targets(self.data, self._goal_tcp, self._goal_yaw, self.dt)
        # each jaw's opening target: +1 fully open, 0 closed, < 0 squeezing harder
        self.ctl.apply(self.data, q, float(act[4]) * self.arm_params.finger_stroke)
        self._simulate(self.data.ctrl.copy())
        self._steps += 1
        if self.sim_error is None and self._steps % self.camera_period == 0:
            self._camera_frame()
        elif self.sim_error is None:
            self.tracker.update(float(self.data.time), None)
        obs = self._observe()
        if self.sim_error is not None:
            info = self._info()
            info["reward_parts"] = {}
            return obs, 0.0, True, False, info
        d = self._dadr
        speed = float(np.linalg.norm(self.data.qvel[d:d + 3]))
        spin = float(np.linalg.norm(self.data.qvel[d + 3:d + 6]))
        self._max_speed = max(self._max_speed, speed)
        self._escaped = bool(np.linalg.norm(self.data.xpos[self._target]) > ESCAPE_RADIUS)
        at_rest = self._held() and speed < self.rest_speed and spin < self.rest_spin
        self._rest_steps = self._rest_steps + 1 if at_rest else 0
        ev = self.evaluate()
        parts = {"capture": self.capture_bonus if ev["success"] else 0.0,
                 "speed": -ev["target_speed"] * self.dt}
        info = self._info(ev)
        info["reward_parts"] = parts
        return obs, float(sum(parts.values())), bool(ev["success"] or self._escaped), False, info

    # --- perception ----------------------------------------------------------------------------
    def _camera_frame(self) -> None:
        """Capture both views, triangulate, update the tracker, score against the truth."""
        images = [cam.capture(self.data, self._rng) for cam in self.cameras]
        self._image = images[0]
        fix = triangulate(images, [cam.calibration for cam in self.cameras], TARGET_RGB,
                          max_gap=TARGET_RADIUS, weighting=self.centroid_weighting)
        t = float(self.data.time)
        if self.tracker.update(t, fix):
            self._fix_t = t
        if self._seen_by_both():
            truth = self.data.xpos[self._target]
            self._perc_frames += 1
            err = float(np.linalg.norm(self.tracker.predict(t) - truth))
            self._err_sum += err
            self._perc_hits += int(self.tracker.valid and err <= self.perception_tol_m)
            if fix is not None:
                self._stereo_hits += int(np.linalg.norm(fix - truth) <= self.perception_tol_m)

    def _seen_by_both(self) -> bool:
        """Whether the object's centre is in both images and in line of sight (scoring only)."""
        geomid = np.zeros(1, dtype=np.int32)
        for i, cam_id in enumerate(self._cam_ids):
            cam = self.data.cam_xpos[cam_id]
            to = self.data.xpos[self._target] - cam
            cal = self.cameras[i].calibration
            local = self.data.cam_xmat[cam_id].reshape(3, 3).T @ to
            if local[2] >= 0:
                return False
            u = 0.5 * cal.width + cal.focal_px * local[0] / -local[2]
            v = 0.5 * cal.height - cal.focal_px * local[1] / -local[2]
            if not (0.0 <= u < cal.width and 0.0 <= v < cal.height):
                return False
            dist = mujoco.mj_ray(self.model, self.data, cam, to / np.linalg.norm(to), None, 1, -1,
                                 geomid)
            if dist < 0 or int(geomid[0]) != self._target_geom:
                return False
        return True

    # --- observation / evaluation -----------------------------------------------------------
    def _observe(self) -> Any:
        ee = self.ctl.ee_pos(self.data)
        t = float(self.data.time)
        age = 99.0 if self._fix_t is None else min(99.0, t - self._fix_t)
        state = np.concatenate([
            ee, [self.ctl.ee_yaw(self.data), self.ctl.opening(self.data)], self._goal_tcp - ee,
            self.tracker.predict(t), self.tracker.velocity,
            [1.0 if self.tracker.valid else 0.0, age],
        ]).astype(np.float32)
        if self.obs_mode == "state":
            return state
        if self.obs_mode == "image":
            return self._image.copy()
        return {"state": state, "image": self._image.copy()}

    def _held(self) -> bool:
        left = right = False
        for c in self.data.contact[: self.data.ncon]:
            pair = {int(c.geom1), int(c.geom2)}
            if self._target_geom in pair:
                left |= bool(pair & self._left)
                right |= bool(pair & self._right)
        return left and right

    def evaluate(self) -> dict[str, Any]:
        """Success (held by both jaws and at rest for ``rest_time_s``) and named signals."""
        d = self._dadr
        speed = float(np.linalg.norm(self.data.qvel[d:d + 3]))
        spin = float(np.linalg.norm(self.data.qvel[d + 3:d + 6]))
        rested = self._rest_steps * self.dt >= self.rest_time_s - 1e-9
        ok = rested and not self._escaped and self.sim_error is None
        out = {
            "success": bool(ok),
            "held": float(self._held()),
            "target_speed": speed,
            "target_spin": spin,
            "rest_elapsed_s": self._rest_steps * self.dt,
            "max_target_speed": self._max_speed,
            "escaped": float(self._escaped),
            "time_s": float(self.data.time),
            "perception_frames": float(self._perc_frames),
        }
        if self._perc_frames:
            out["perception_accuracy"] = self._perc_hits / self._perc_frames
            out["stereo_accuracy"] = self._stereo_hits / self._perc_frames
            out["perception_error_mean_m"] = self._err_sum / self._perc_frames
        return out

    def close(self) -> None:
        """Release the cameras and the renderer."""
        for cam in getattr(self, "cameras", []):
            cam.close()
        self.cameras = []
        super().close()
