"""RoverTraverse: drive a wheeled rover to a goal region on generated terrain."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from scenes.build import GOAL_BEACON_HEIGHT, Scene, build_scene
from scenes.generate import resolve_scenario
from scenes.spec import ScenarioSpec
from sims.rover import WHEELS
from tasks.base import MujocoTaskEnv

# Sensor noise of the rover's own instruments (1-sigma), per control step.
GYRO_NOISE = 0.002  # [rad/s], MEMS IMU class (e.g. ADIS16495 datasheet: ~0.1 deg/s noise), assumed
ACCEL_NOISE = 0.01  # [m/s^2], MEMS accelerometer, assumed
NAV_NOISE = 0.03  # [m] localization fix noise relative to the goal, assumed (visual odometry)
RANGE_NOISE = 0.01  # [m] laser rangefinder, assumed
OBS_SIZE = 24
OBS_MODES = ("state", "image", "both")
GOAL_SOURCES = ("nav", "camera")
NO_FIX_AGE = 99.0  # [s] goal_age reported before the first camera fix


def _two_floats(action: Any) -> tuple[float, float]:
    """The two entries of a length-2 action as float64 values (np.asarray's conversion)."""
    if type(action) is np.ndarray and action.shape == (2,) and action.dtype.char in "fd":
        a, b = action.tolist()  # float32/64 -> Python float is exact, as astype(float64)
        return a, b
    a, b = np.asarray(action, dtype=np.float64).reshape(2).tolist()
    return a, b


def tilt_deg(zz: float) -> float:
    """Tilt [deg] of a body whose rotation matrix has ``R[2, 2] = zz`` (its z axis vs vertical).

    Plain ``math.acos``, shared by the single and the batch env so that both give the same
    bits: numpy's ``np.arccos`` takes SIMD (SVML) code paths on AVX-512 CPUs that differ from
    libm in the last bit for ~10 % of arguments. NaN passes through.
    """
    zz = -1.0 if zz < -1.0 else 1.0 if zz > 1.0 else zz
    return math.degrees(math.acos(zz))


class RoverTraverseEnv(MujocoTaskEnv):
    """Drive a rover to a goal region on physics-grounded terrain.

    **Description.** A 50 kg four-wheel skid-steer rover with passive suspension
    starts on the generated terrain of a working condition and must reach the
    goal region (radius from the spec, default 0.6 m) without tipping over or
    getting stuck. Actions are the normalized left/right wheel-speed commands in
    [-1, 1] (velocity servos with torque limits, so traction is limited by
    friction x normal load and low gravity shows as wheel slip). Observations
    (24 floats) are what the rover's own instruments report: goal vector in the
    rover frame from the navigation fix (3), rate gyro (3), accelerometer (3),
    IMU attitude quaternion (4), wheel encoder speeds (4), five forward
    rangefinders (5, cut off at 4 m) and the previous action (2). No simulator
    state is exposed.

    **Randomizations.** The scene (terrain, craters, rocks, lighting, start and
    goal) comes from ``condition`` and ``scenario_seed`` (or an explicit
    ``scenario``); per episode, the start heading is perturbed by U(-5, 5) deg and
    every sensor reading carries Gaussian noise (constants above).

    **Success conditions.** The rover's centre is within ``goal.radius`` of the
    goal centre (horizontal distance) while its tilt is below ``tip_tilt_deg``.
    The episode terminates on success, on tip-over (tilt > ``tip_tilt_deg``),
    when stuck (less than ``stuck_progress`` m of progress in ``stuck_time`` s, by
    default 20 s scaled by sqrt(1.62 / g) within [20, 90] s),
    or on a simulation error; truncation is left to ``TimeLimit``.

    **Perception mode.** ``goal_source="camera"`` replaces the navigation fix by
    the rover's perception pipeline (:mod:`tasks.perception`): every
    ``camera_period`` control steps the forward colour camera (radiometric, 64 x 64
    by default) is exposed, the goal beacon is detected and ranged (known height,
    levelled with the IMU) and fused with the last fixes (sliding median, carried by
    wheel odometry and the gyro, ``tasks.perception.GoalTracker``); the goal slots of
    the state carry the latest estimate
    and one more float, ``goal_age`` [s] since that estimate (99 before the first
    fix), is appended (25 floats). Hazards still come from the rangefinders.
    Perception accuracy is scored on every camera frame in which the whole beacon
    (pole base to sphere top) lies in the field of view within ``perception_range``
    m (closer than ~1 m it overflows the frame and the controller dead-reckons):
    a frame counts as correct when the estimated goal position is within
    ``perception_tol_m + perception_tol_frac x distance`` of the truth (horizontal);
    truth is used only for this score.
    ``obs_mode`` selects the observation: ``"state"`` (the vector),
    ``"image"`` (the companded 8-bit colour frame, ``(H, W, 3)`` uint8) or
    ``"both"`` (a dict with ``"state"`` and ``"image"``).
    """

    def __init__(
        self,
        condition: str | None = "lunar-mare-day",
        scenario_seed: int = 0,
        scenario: ScenarioSpec | None = None,
        frame_skip: int = 10,
        tip_tilt_deg: float = 60.0,
        stuck_time: float | None = None,
        stuck_progress: float = 0.05,
        progress_weight: float = 1.0,
        tilt_weight: float = 0.1,
        ctrl_weight: float = 0.001,
        success_bonus: float = 10.0,
        render_mode: str | None = None,
        obs_mode: str = "state",
        goal_source: str = "nav",
        camera_size: int = 64,
        camera_period: int = 2,
        perception_tol_m: float = 0.25,
        perception_tol_frac: float = 0.10,
        perception_range: float = 10.0,
    ):
        scenario = resolve_scenario(condition, scenario_seed, scenario)
        if scenario.robot.kind != "rover":
            raise ValueError(
                f"scenario.robot.kind: got {scenario.robot.kind!r} (condition "
                f"{scenario.condition!r} has no ground for a rover); RoverTraverse needs "
                "'rover' - use OrbitalCapture for the free-floating workspace"
            )
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode: got {obs_mode!r}; accepted: {list(OBS_MODES)}")
        if goal_source not in GOAL_SOURCES:
            raise ValueError(f"goal_source: got {goal_source!r}; accepted: {list(GOAL_SOURCES)}")
        if not 16 <= camera_size <= 512:
            raise ValueError(f"camera_size: got {camera_size}; accepted: 16..512 px")
        if camera_period < 1:
            raise ValueError(f"camera_period: got {camera_period}; accepted: an integer >= 1")
        self.obs_mode = obs_mode
        self.goal_source = goal_source
        self.camera_period = int(camera_period)
        self.perception_tol = (float(perception_tol_m), float(perception_tol_frac))
        self.perception_range = float(perception_range)
        self.scenario = scenario
        self.scene: Scene = build_scene(scenario)
        model = self.scene.mjspec.compile()
        super().__init__(model, frame_skip, render_mode=render_mode, render_camera="rover_cam")
        self.tip_tilt_deg = tip_tilt_deg
        if stuck_time is None:
            # dynamics slow down as 1/sqrt(g): allow proportionally longer without progress
            g = max(float(np.linalg.norm(scenario.body.gravity)), 1e-6)
            stuck_time = float(np.clip(20.0 * math.sqrt(1.62 / g), 20.0, 90.0))
            if goal_source == "camera":
                stuck_time = max(stuck_time, 40.0)  # a full search turn must fit in
        self.stuck_time = stuck_time
        self.stuck_progress = stuck_progress
        self.weights = {"progress": progress_weight, "tilt": tilt_weight, "ctrl": ctrl_weight,
                        "success": success_bonus}
        m = self.model
        self._rover = m.body("rover").id
        self._qadr = m.joint("rover_root").qposadr[0]
        self._goal_xy = np.array([scenario.goal.x, scenario.goal.y])
        self._vmax = float(scenario.robot.max_wheel_speed)
        self._act_ids = np.array([m.actuator(f"rover_drive_{w}").id for w in WHEELS])
        self._sens = {
            name: (m.sensor(name).adr[0], m.sensor(name).dim[0])
            for name in ["rover_goal_vec", "rover_gyro", "rover_accel", "rover_quat",
                         *[f"rover_wheel_vel_{w}" for w in WHEELS],
                         *[f"rover_range_{i}" for i in range(5)]]
        }
        rp = self.scene.rover_params
        assert rp is not None
        self._range_max = float(rp.range_max)
        self._wheel_r = float(rp.wheel_radius)
        self._wheel_dofs = np.array([m.jnt_dofadr[m.joint(f"rover_wheel_{w}").id] for w in WHEELS])
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._state_size = OBS_SIZE + (1 if goal_source == "camera" else 0)
        self.camera: Any = None
        self._image = np.zeros((camera_size, camera_size, 3), dtype=np.uint8)
        if goal_source == "camera" or obs_mode != "state":
            from tasks.perception import BeaconDetector, ColourCamera, GoalTracker

            self.camera = ColourCamera(self.model, "rover_cam", self.scene.light_ref,
                                       camera_size, camera_size)
            self.detector = BeaconDetector()
            self.tracker = GoalTracker()
        self.observation_space = self._make_obs_space(self._state_size, camera_size)
        # previous clipped action (float64 values; the observation rounds them to float32)
        self._prev_action: tuple[float, float] = (0.0, 0.0)
        self._rng: np.random.Generator = np.random.default_rng(0)
        self._goal_site = m.site("goal").id
        self._cam_id = m.camera("rover_cam").id
        # Per-step constants, computed once (step() is on the training hot path).
        self._dt = self.dt  # [s] control period
        self._gx, self._gy = float(scenario.goal.x), float(scenario.goal.y)
        self._slip_min_speed = 0.02 * self._vmax * self._wheel_r  # [m/s] slip counted above
        # sensordata indices of the 22 instrument floats, in observation order
        sens_order = ["rover_goal_vec", "rover_gyro", "rover_accel", "rover_quat",
                      *[f"rover_wheel_vel_{w}" for w in WHEELS],
                      *[f"rover_range_{i}" for i in range(5)]]
        self._obs_idx = np.concatenate([np.arange(adr, adr + dim)
                                        for adr, dim in (self._sens[n] for n in sens_order)])
        self._wheel_sens_idx = self._obs_idx[13:17]
        self._gyro_z_adr = int(self._sens["rover_gyro"][0]) + 2
        # noise sigmas in the order they are drawn (goal, gyro, accel, ranges) and the
        # observation slots they go to; one draw of n standard normals consumes the generator
        # exactly as the separate rng.normal draws did
        sigmas = [GYRO_NOISE] * 3 + [ACCEL_NOISE] * 3 + [RANGE_NOISE] * 5
        if goal_source != "camera":
            sigmas = [NAV_NOISE] * 3 + sigmas
        self._n_noise = len(sigmas)
        noisy = [*([] if goal_source == "camera" else [0, 1, 2]), *range(3, 9), *range(17, 22)]
        self._noise_at = list(zip(noisy, sigmas, strict=True))
        self._prev_xy = (0.0, 0.0)
        self._reset_stats()

    def _make_obs_space(self, state_size: int, size: int) -> gym.spaces.Space:
        state = gym.spaces.Box(-np.inf, np.inf, shape=(state_size,), dtype=np.float32)
        image = gym.spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8)
        if self.obs_mode == "state":
            return state
        if self.obs_mode == "image":
            return image
        return gym.spaces.Dict({"state": state, "image": image})

    # --- episode ----------------------------------------------------------------------------
    def _reset_stats(self) -> None:
        self._max_tilt = 0.0
        self._path = 0.0
        self._slip_sum = 0.0
        self._slip_n = 0
        self._best_dist = math.inf
        self._last_improve_t = 0.0
        self._stuck = False
        self._tipped = False
        self._steps = 0
        self._goal_est = np.zeros(3)
        self._goal_fix_t: float | None = None
        self._perc_frames = 0
        self._perc_hits = 0

    def _initialize_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        self._rng = rng
        q = self.data.qpos
        a = self._qadr
        dyaw = math.radians(float(rng.uniform(-5.0, 5.0)))
        yaw = math.radians(self.scenario.robot.yaw_deg) + dyaw
        q[a + 3:a + 7] = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
        self._prev_action = (0.0, 0.0)
        self._reset_stats()
        mujoco.mj_forward(self.model, self.data)
        self._best_dist = self._distance()
        x, y = self.data.xpos[self._rover, :2].tolist()
        self._prev_xy = (x, y)
        if self.camera is not None:
            self.tracker.reset()
            self.camera.reset()
            self.camera.settle_exposure(self.data, rng)
            self._camera_frame()

    def step(self, action: np.ndarray):
        """Apply wheel commands for one control period (``frame_skip`` physics steps)."""
        # plain floats: numpy's machinery is slow to come back after mj_step has run
        left, right = _two_floats(action)
        # clip to [-1, 1] (NaN passes through, as np.clip)
        left = -1.0 if left < -1.0 else 1.0 if left > 1.0 else left
        right = -1.0 if right < -1.0 else 1.0 if right > 1.0 else right
        vl, vr = left * self._vmax, right * self._vmax
        d_before = self._distance()
        self._simulate((vl, vr, vl, vr))  # type: ignore[arg-type]  # wheels fl, fr, rl, rr
        self._prev_action = (left, right)
        self._perception_step()
        obs = self._observe()
        if self.sim_error is not None:
            info = self._info()
            info["reward_parts"] = {}
            return obs, 0.0, True, False, info
        d_after, tilt = self._update_stats()
        ev = self._signals(d_after, tilt)
        w = self.weights
        parts = {
            "progress": w["progress"] * (d_before - d_after),
            "tilt": -w["tilt"] * (tilt / 90.0) * self._dt,
            "ctrl": -w["ctrl"] * (left * left + right * right),
            "success": w["success"] if ev["success"] else 0.0,
        }
        terminated = bool(ev["success"] or self._tipped or self._stuck)
        info = self._info(ev)
        info["reward_parts"] = parts
        return obs, float(sum(parts.values())), terminated, False, info

    def _update_stats(self) -> tuple[float, float]:
        """Update path, slip, tilt and progress statistics; return (distance [m], tilt [deg])."""
        data = self.data
        x, y = data.xpos[self._rover, :2].tolist()
        px, py = self._prev_xy
        dx, dy = x - px, y - py
        moved = math.sqrt(dx * dx + dy * dy)  # == the batch env's np.linalg.norm(axis=1), bit for bit
        self._path += moved
        ground_speed = moved / self._dt
        self._prev_xy = (x, y)
        w0, w1, w2, w3 = data.qvel.take(self._wheel_dofs).tolist()
        # sequential sum / 4: np.mean's order for 4 values
        wheel_speed = (abs(w0) + abs(w1) + abs(w2) + abs(w3)) / 4 * self._wheel_r
        if wheel_speed > self._slip_min_speed:
            self._slip_sum += max(0.0, 1.0 - ground_speed / wheel_speed)
            self._slip_n += 1
        tilt = self._tilt_deg()
        self._max_tilt = max(self._max_tilt, tilt)
        self._tipped = tilt > self.tip_tilt_deg
        dx, dy = x - self._gx, y - self._gy
        d = math.sqrt(dx * dx + dy * dy)
        if d < self._best_dist - self.stuck_progress:
            self._best_dist = d
            self._last_improve_t = data.time
        self._stuck = (data.time - self._last_improve_t) > self.stuck_time
        return d, tilt

    # --- signals ----------------------------------------------------------------------------
    def _distance(self) -> float:
        """Horizontal distance [m] from the rover's centre to the goal centre."""
        x, y = self.data.xpos[self._rover, :2].tolist()
        dx, dy = x - self._gx, y - self._gy
        # == the batch env's np.linalg.norm(..., axis=1) bit for bit (squares, one add, sqrt);
        # np.linalg.norm of a lone 2-vector goes through BLAS dot, which fuses the
        # multiply-add on some CPUs (AVX-512 OpenBLAS) and then differs in the last bit
        return math.sqrt(dx * dx + dy * dy)

    def _tilt_deg(self) -> float:
        """Angle [deg] between the chassis z axis and the world vertical."""
        return tilt_deg(float(self.data.xmat[self._rover, 8]))

    def _sensor(self, name: str) -> np.ndarray:
        adr, dim = self._sens[name]
        return self.data.sensordata[adr:adr + dim]

    # --- camera perception ---------------------------------------------------------------
    def _perception_step(self) -> None:
        """After a control period: dead-reckon the goal tracker, expose a frame when due."""
        self._steps += 1
        if self.camera is None or self.sim_error is not None:
            return
        if self.goal_source == "camera":
            # the rover's own odometry: wheel encoders and the gyro, with their noise
            sd = self.data.sensordata
            w0, w1, w2, w3 = sd[self._wheel_sens_idx].tolist()
            speed = (w0 + w1 + w2 + w3) / 4 * self._wheel_r  # np.mean's order for 4 values
            yaw_rate = float(sd[self._gyro_z_adr]) + float(self._rng.normal(0.0, GYRO_NOISE))
            self.tracker.propagate(speed, yaw_rate, self._dt)
        if self._steps % self.camera_period == 0:
            self._camera_frame()

    def _camera_frame(self) -> None:
        """Expose one frame; in camera mode, detect the beacon and score the estimate."""
        self._image = self.camera.capture(self.data, self._rng)
        if self.goal_source != "camera":
            return
        quat = self._sensor("rover_quat")  # the IMU attitude, as the controller sees it
        det = self.detector.detect(self._image, self.camera.calibration, quat)
        if det is not None:
            self.tracker.update(np.asarray(det.goal_body[:2]))
            self._goal_est[2] = det.goal_body[2]
            self._goal_fix_t = float(self.data.time)
        est = self.tracker.estimate()
        if est is not None:
            self._goal_est[:2] = est
        truth = self._sensor("rover_goal_vec")  # scoring only, never observed in this mode
        if self._beacon_in_view():
            d = float(np.linalg.norm(truth[:2]))
            self._perc_frames += 1
            if est is not None:
                err = float(np.linalg.norm(self._goal_est[:2] - truth[:2]))
                tol_m, tol_frac = self.perception_tol
                self._perc_hits += int(err <= tol_m + tol_frac * d)

    def _beacon_in_view(self) -> bool:
        """Whether the whole beacon (pole base to sphere top) is in the image, in range (truth)."""
        cam_pos = self.data.cam_xpos[self._cam_id]
        cam_rot = self.data.cam_xmat[self._cam_id].reshape(3, 3)
        centre = self.data.site_xpos[self._goal_site]
        f = self.camera.calibration.focal_px
        half = 0.5 * self.camera.calibration.width
        for dz in (-GOAL_BEACON_HEIGHT / 2, GOAL_BEACON_HEIGHT / 2 + 0.12):
            p = cam_rot.T @ (centre + np.array([0.0, 0.0, dz]) - cam_pos)
            depth = -p[2]
            if depth < 0.3 or np.linalg.norm(p) > self.perception_range:
                return False
            if abs(p[0] / depth) * f > half - 1 or abs(p[1] / depth) * f > half - 1:
                return False
        return True

    def _observe(self) -> Any:
        state = self._observe_state()
        if self.obs_mode == "state":
            return state
        if self.obs_mode == "image":
            return self._image.copy()
        return {"state": state, "image": self._image.copy()}

    def _observe_state(self) -> np.ndarray:
        # Plain floats (numpy's machinery is slow to come back after mj_step), bit for bit the
        # values of numpy's formulas: each noise value is 0.0 + sigma * z, as rng.normal(0.0,
        # sigma) computes it from the same standard-normal draw; float64 sums, one final
        # rounding to float32 (the previous action's float32 rounding is the same one).
        v = self.data.sensordata[self._obs_idx].tolist()
        z = self._rng.standard_normal(self._n_noise).tolist()
        rmax = self._range_max
        if self.goal_source == "camera":
            v[0:3] = self._goal_est.tolist()
        for (i, s), zj in zip(self._noise_at, z, strict=True):
            if i >= 17 and v[i] < 0:
                v[i] = rmax  # no hit within the cutoff
            v[i] += 0.0 + s * zj
        v += self._prev_action
        if self.goal_source == "camera":
            age = NO_FIX_AGE if self._goal_fix_t is None else self.data.time - self._goal_fix_t
            v.append(min(age, NO_FIX_AGE))
        return np.array(v, dtype=np.float32)

    def evaluate(self) -> dict[str, Any]:
        """Success and named signals: distance, tilt, slip, path length, time."""
        return self._signals(self._distance(), self._tilt_deg())

    def _signals(self, d: float, tilt: float) -> dict[str, Any]:
        """``evaluate()`` for an already computed distance ``d`` [m] and ``tilt`` [deg]."""
        out = {
            "success": bool(d <= self.scenario.goal.radius and tilt < self.tip_tilt_deg
                            and self.sim_error is None),
            "distance_to_goal": d,
            "tilt_deg": tilt,
            "max_tilt_deg": self._max_tilt,
            "slip_ratio": self._slip_sum / self._slip_n if self._slip_n else 0.0,
            "path_length": self._path,
            "time_s": float(self.data.time),
            "tipped": float(self._tipped),
            "stuck": float(self._stuck),
        }
        if self.goal_source == "camera":
            # accuracy only once a frame was scored (absent, not NaN, before that)
            n = self._perc_frames
            if n:
                out["perception_accuracy"] = self._perc_hits / n
            out["perception_frames"] = float(n)
        return out

    def close(self) -> None:
        """Release the camera and the renderer."""
        if self.camera is not None:
            self.camera.close()
            self.camera = None
        super().close()
