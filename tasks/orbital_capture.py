"""OrbitalCapture: in 0 g, catch a free-floating tumbling object and bring it to rest."""

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

TIMESTEP = 0.002  # [s] arm servos and gripper pads need <= 2 ms
TARGET_RADIUS = 0.03  # [m] spherical capture fixture on the object
TARGET_MASS = 0.5  # [kg] small free-flying payload (assumed)
TARGET_RGB = (0.1, 0.75, 0.2)  # green-painted capture fixture, for colour segmentation (assumed)
# Stereo pair on the station wall beside the workspace, looking along +y: baseline 0.2 m.
STEREO_POS = ((0.45, -0.9, 0.40), (0.65, -0.9, 0.40))  # [m] world
STEREO_FOVY = 40.0  # [deg]
WORKSPACE_CENTRE = (0.55, 0.0, 0.40)  # [m] where the object drifts, world
ESCAPE_RADIUS = 1.5  # [m] an object farther than this from the arm base is lost
STATE_SIZE = 16


class OrbitalCaptureEnv(MujocoTaskEnv):
    """Catch a drifting, tumbling object with a station arm in 0 g and stop it.

    **Description.** The free-floating workspace of the ``orbital-free-floating``
    condition (or any zero-gravity scenario): a 7-DoF arm with a parallel-jaw
    gripper (``sims.arm``) is fixed to the station; an object carrying a 6 cm
    spherical capture fixture drifts through the workspace at 0.5-2 cm/s while
    tumbling at 0.1-0.5 rad/s. A stereo camera pair (radiometric colour cameras,
    ``tasks.perception``) on the station wall tracks it; the state (16 floats,
    world frame) holds the TCP position and yaw from the joint encoders, the jaw
    opening, the servo tracking error, the perceived object position and velocity
    (stereo triangulation, finite differences between frames), a valid flag and
    the fix age. Actions (5 floats in [-1, 1]): TCP displacement (times
    ``max_step``), yaw change and the gripper (> 0 open, <= 0 close).
    ``obs_mode`` adds/substitutes the left camera frame.

    **Randomizations.** Lighting from the scene (``condition``/``scenario_seed``);
    per episode the object's start position (+/-5 cm around the workspace centre),
    drift velocity (direction uniform, 0.5-2 cm/s) and tumble (axis uniform,
    0.1-0.5 rad/s), and camera noise.

    **Success conditions.** Both jaws hold the object and its linear speed is
    below ``rest_speed`` (1 cm/s) and its angular speed below ``rest_spin``
    (0.1 rad/s). The episode fails when the object is knocked or drifts farther
    than 1.5 m from the arm base. Perception accuracy is scored on frames where
    the object is seen unoccluded by both cameras: correct when the triangulated
    position is within ``perception_tol_m`` of the truth.
    """

    def __init__(
        self,
        condition: str | None = "orbital-free-floating",
        scenario_seed: int = 0,
        scenario: ScenarioSpec | None = None,
        frame_skip: int = 25,
        obs_mode: str = "state",
        camera_size: int = 64,
        camera_period: int = 2,
        max_step: float = 0.01,
        max_yaw_step: float = 0.1,
        rest_speed: float = 0.01,
        rest_spin: float = 0.1,
        perception_tol_m: float = 0.015,
        capture_bonus: float = 10.0,
        render_mode: str | None = None,
    ):
        scenario = resolve_scenario(condition, scenario_seed, scenario)
        g = float(np.linalg.norm(scenario.body.gravity))
        if scenario.terrain.enabled or g > 1e-3:
            raise ValueError(
                f"condition {scenario.condition!r}: OrbitalCapture needs the free-floating "
                f"0 g workspace (terrain.enabled = false, |g| = 0; got terrain "
                f"{scenario.terrain.enabled}, |g| = {g:.3g} m/s^2); use 'orbital-free-floating'"
            )
        if obs_mode not in ("state", "image", "both"):
            raise ValueError(f"obs_mode: got {obs_mode!r}; accepted: ['state', 'image', 'both']")
        self.scenario = scenario
        self.scene = build_scene(scenario)
        ms = self.scene.mjspec
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
                                    xyaxes=[1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        model = ms.compile()
        super().__init__(model, frame_skip, render_mode=render_mode, render_camera="stereo_0")
        self.ctl = ArmController(model, self.arm, self.arm_params)
        from tasks.perception import ColourCamera

        self.cameras = [ColourCamera(model, f"stereo_{i}", self.scene.light_ref, camera_size,
                                     camera_size, fixed_pattern_seed=i) for i in range(2)]
        self.obs_mode = obs_mode
        self.camera_period = int(camera_period)
        self.max_step = float(max_step)
        self.max_yaw_step = float(max_yaw_step)
        self.rest_speed = float(rest_speed)
        self.rest_spin = float(rest_spin)
        self.perception_tol_m = float(perception_tol_m)
        self.capture_bonus = float(capture_bonus)
        self._target = model.body("target").id
        self._target_geom = model.geom("target").id
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
        self._est = np.zeros(3)
        self._vel = np.zeros(3)
        self._fix_t: float | None = None
        self._perc_frames = 0
        self._perc_hits = 0
        self._escaped = False
        self._max_speed = 0.0

    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._rng = rng
        self._reset_stats()
        self.ctl.set_home(self.data)
        a, d = self._qadr, self._dadr
        self.data.qpos[a:a + 3] = np.asarray(WORKSPACE_CENTRE) + rng.uniform(-0.05, 0.05, 3)
        q = rng.normal(size=4)
        self.data.qpos[a + 3:a + 7] = q / np.linalg.norm(q)
        direction = rng.normal(size=3)
        # drift speed ~ U(0.5, 2) cm/s, direction uniform; tumble ~ U(0.1, 0.5) rad/s
        self.data.qvel[d:d + 3] = direction / np.linalg.norm(direction) * rng.uniform(0.005, 0.02)
        axis = rng.normal(size=3)
        self.data.qvel[d + 3:d + 6] = axis / np.linalg.norm(axis) * rng.uniform(0.1, 0.5)
        mujoco.mj_forward(self.model, self.data)
        self._goal_tcp = self.ctl.ee_pos(self.data)
        self._goal_yaw = self.ctl.ee_yaw(self.data)
        for cam in self.cameras:
            cam.reset()
            cam.settle_exposure(self.data, rng)
        self._camera_frame()

    def step(self, action: np.ndarray):
        """Move the TCP target, drive the arm and gripper for one control period."""
        act = np.clip(np.asarray(action, dtype=np.float64).reshape(5), -1.0, 1.0)
        self._goal_tcp = self._goal_tcp + act[:3] * self.max_step
        self._goal_yaw = self._goal_yaw + act[3] * self.max_yaw_step
        q = self.ctl.ik_targets(self.data, self._goal_tcp, self._goal_yaw, self.dt)
        stroke = self.arm_params.finger_stroke
        self.ctl.apply(self.data, q, stroke if act[4] > 0 else -stroke)
        self._simulate(self.data.ctrl.copy())
        self._steps += 1
        if self.sim_error is None and self._steps % self.camera_period == 0:
            self._camera_frame()
        obs = self._observe()
        if self.sim_error is not None:
            info = self._info()
            info["reward_parts"] = {}
            return obs, 0.0, True, False, info
        d = self._dadr
        self._max_speed = max(self._max_speed, float(np.linalg.norm(self.data.qvel[d:d + 3])))
        self._escaped = bool(np.linalg.norm(self.data.xpos[self._target]) > ESCAPE_RADIUS)
        ev = self.evaluate()
        parts = {"capture": self.capture_bonus if ev["success"] else 0.0,
                 "speed": -ev["target_speed"] * self.dt}
        info = self._info()
        info["reward_parts"] = parts
        return obs, float(sum(parts.values())), bool(ev["success"] or self._escaped), False, info

    # --- perception ----------------------------------------------------------------------------
    def _camera_frame(self) -> None:
        from tasks.perception.stereo import triangulate

        images = [cam.capture(self.data, self._rng) for cam in self.cameras]
        self._image = images[0]
        p = triangulate(images, [cam.calibration for cam in self.cameras], TARGET_RGB)
        t = float(self.data.time)
        if p is not None:
            if self._fix_t is not None and t - self._fix_t > 0:
                v = (p - self._est) / (t - self._fix_t)
                self._vel = 0.5 * self._vel + 0.5 * v  # first-order smoothing of the differences
            self._est = p
            self._fix_t = t
        if self._seen_by_both():
            self._perc_frames += 1
            if p is not None:
                err = float(np.linalg.norm(p - self.data.xpos[self._target]))
                self._perc_hits += int(err <= self.perception_tol_m)

    def _seen_by_both(self) -> bool:
        geomid = np.zeros(1, dtype=np.int32)
        for i in range(2):
            cam = self.data.cam_xpos[self.model.camera(f"stereo_{i}").id]
            to = self.data.xpos[self._target] - cam
            dist = mujoco.mj_ray(self.model, self.data, cam, to / np.linalg.norm(to), None, 1, -1,
                                 geomid)
            if dist < 0 or int(geomid[0]) != self._target_geom:
                return False
        return True

    # --- observation / evaluation -----------------------------------------------------------
    def _observe(self) -> Any:
        ee = self.ctl.ee_pos(self.data)
        age = 99.0 if self._fix_t is None else min(99.0, self.data.time - self._fix_t)
        state = np.concatenate([
            ee, [self.ctl.ee_yaw(self.data), self.ctl.opening(self.data)], self._goal_tcp - ee,
            self._est, self._vel, [1.0 if self._fix_t is not None else 0.0, age],
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
        """Success (held by both jaws and at rest) and named signals."""
        d = self._dadr
        speed = float(np.linalg.norm(self.data.qvel[d:d + 3]))
        spin = float(np.linalg.norm(self.data.qvel[d + 3:d + 6]))
        held = self._held()
        ok = (held and speed < self.rest_speed and spin < self.rest_spin
              and not self._escaped and self.sim_error is None)
        out = {
            "success": bool(ok),
            "held": float(held),
            "target_speed": speed,
            "target_spin": spin,
            "max_target_speed": self._max_speed,
            "escaped": float(self._escaped),
            "time_s": float(self.data.time),
            "perception_frames": float(self._perc_frames),
        }
        if self._perc_frames:
            out["perception_accuracy"] = self._perc_hits / self._perc_frames
        return out

    def close(self) -> None:
        """Release the cameras and the renderer."""
        for cam in getattr(self, "cameras", []):
            cam.close()
        self.cameras = []
        super().close()
