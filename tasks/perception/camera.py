"""A colour radiometric camera on a built scene, and its pinhole calibration.

Absolute scale. ``scenes.build`` already sets every MuJoCo light colour to
``irradiance / Scene.light_ref`` (sun after dust extinction, ambient
earthshine/skylight, headlight ``I / r^2``), so a rendered value ``v`` of a
Lambertian surface of albedo ``rho`` is ``rho E / light_ref`` and its radiance is
``L = v light_ref / pi``. This camera therefore takes ``light_ref`` from the
scene and never calls :func:`sims.camera.configure_model_lights` (which would
rewrite the lights to its own reference, the *sum* of the sources, and the two
scales would multiply). The condition-specific levels enter once, through the
lights that ``build`` made from the spec.

Colour. Each of R, G, B is exposed as its own channel of the
:class:`sims.camera.SensorConfig` sensor (EMVA 1288 model: shot, dark, read noise,
PRNU/DSNU, full well, 12-bit ADC) with a third of the visible passband each: an
ideal three-chip colour camera (no demosaicing; assumed). Planetary rover cameras
are colour (Mastcam-Z: Bayer RGB, Bell et al. 2021, Space Sci. Rev. 217:24).

8-bit output. Frames are companded from 12 bit to 8 bit with a square-root
table, as the MER cameras did on board (Bell et al. 2003, JGR 108(E12) 8063,
sec. 2.4): photon noise grows as the square root of the signal, so a square-root
code spends its levels where they carry information.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from types import TracebackType

import mujoco
import numpy as np
from numpy.typing import NDArray

from sims.camera import AutoExposure, SensorConfig, draw_fixed_pattern, sensor_response
from sims.render import HeadlessRenderer

# Peak-metering auto-exposure (highlight priority): the brightest pixel of a frame is
# driven to 80 % of full scale, so a bright, saturated-colour target (the orange goal
# beacon, ~8x brighter than lunar regolith) keeps its colour instead of clipping to
# white as it would under mean metering. Exposure bounds 32 us (IMX174 minimum) to
# 0.1 s, the longest a 10 Hz perception loop tolerates (see sims.camera.AutoExposure).
DEFAULT_AE = AutoExposure(target_fraction=0.8)


def encode_sqrt8(dn: NDArray[np.float64], sensor: SensorConfig) -> NDArray[np.uint8]:
    """Square-root compand black-subtracted DN to 8-bit codes (0..255)."""
    span = float(sensor.dn_max - sensor.black_level_dn)
    x = np.clip((dn - sensor.black_level_dn) / span, 0.0, 1.0)
    return np.floor(255.0 * np.sqrt(x) + 0.5).astype(np.uint8)


def decode_sqrt8(code: NDArray[np.generic]) -> NDArray[np.float64]:
    """Inverse of :func:`encode_sqrt8`: fraction of the black-subtracted full scale."""
    c = np.asarray(code, dtype=np.float64) / 255.0
    return c * c


@dataclass(frozen=True)
class CameraModel:
    """Pinhole calibration of a body-mounted camera (intrinsics and mount).

    Calibration is fixed robot data, read once from the model; it is not state.
    Image coordinates: ``u`` to the right, ``v`` down, pixel centres at ``+0.5``.
    """

    width: int  # [px]
    height: int  # [px]
    focal_px: float  # [px] focal length in pixels (square pixels)
    pos_body: tuple[float, float, float]  # [m] optical centre in the parent-body frame
    rot_body: tuple[float, ...]  # 3x3 row-major: camera axes (x right, y up, -z view) in body

    @staticmethod
    def from_model(model: mujoco.MjModel, camera_name: str, width: int, height: int) -> CameraModel:
        """Read the calibration of camera ``camera_name`` for a ``width`` x ``height`` image."""
        cam = model.camera(camera_name)
        fovy = float(model.cam_fovy[cam.id])
        f_px = 0.5 * height / math.tan(math.radians(0.5 * fovy))
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, model.cam_quat[cam.id])
        pos = tuple(float(x) for x in model.cam_pos[cam.id])
        return CameraModel(int(width), int(height), f_px, pos, tuple(float(x) for x in mat))  # type: ignore[arg-type]

    @property
    def rotation(self) -> NDArray[np.float64]:
        """Camera-to-body rotation matrix (columns: camera x, y, z in the body frame)."""
        return np.asarray(self.rot_body, dtype=np.float64).reshape(3, 3)

    def rays_body(self, u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        """Unit viewing rays through image points ``(u, v)`` [px], in the body frame, ``(N, 3)``."""
        u = np.atleast_1d(np.asarray(u, dtype=np.float64))
        v = np.atleast_1d(np.asarray(v, dtype=np.float64))
        d = np.stack(
            [(u - 0.5 * self.width) / self.focal_px, -(v - 0.5 * self.height) / self.focal_px,
             -np.ones_like(u)],
            axis=-1,
        )
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return d @ self.rotation.T

    def project_body(self, point: NDArray[np.float64]) -> tuple[float, float, float]:
        """Image point ``(u, v)`` [px] and depth [m] of a body-frame point (inverse of rays_body).

        The depth is <= 0 (and ``u, v`` NaN) for a point at or behind the optical centre.
        """
        p = self.rotation.T @ (np.asarray(point, dtype=np.float64) - np.asarray(self.pos_body))
        depth = -float(p[2])  # the camera looks along its -z
        if depth <= 0.0:
            return math.nan, math.nan, depth
        return (0.5 * self.width + self.focal_px * float(p[0]) / depth,
                0.5 * self.height - self.focal_px * float(p[1]) / depth, depth)


class ColourCamera:
    """Colour radiometric camera bound to a built scene's absolute light scale.

    Args:
        model: Compiled model built by ``scenes.build`` (lights in ``light_ref`` units).
        camera_name: MuJoCo camera.
        light_ref: ``Scene.light_ref`` [W/m^2]: the irradiance a light colour of 1 stands for.
        width: Image width [px].
        height: Image height [px].
        sensor: Per-pixel sensor (its passband is split in three for R, G, B). Default:
            the IMX174 defaults of :class:`sims.camera.SensorConfig` with auto-exposure.
            Its ``auto_exposure.target_fraction`` is used as a *peak* target: the
            brightest pixel, not the mean, is driven to it (see ``DEFAULT_AE``).
        fixed_pattern_seed: Seed of the PRNU/DSNU pattern (drawn once).
        shadows: Render shadows.
        offsamples: Multisample anti-aliasing samples. A pixel integrates light over its
            area; without multisampling a 0.1 m pole beyond ~5 m (under one pixel)
            vanishes or flickers instead of showing as a partly covered pixel.

    Raises:
        ValueError: If ``light_ref`` is not positive or the camera is unknown.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        camera_name: str,
        light_ref: float,
        width: int = 64,
        height: int = 64,
        sensor: SensorConfig | None = None,
        *,
        fixed_pattern_seed: int = 0,
        shadows: bool = True,
        offsamples: int = 4,
    ) -> None:
        if not (math.isfinite(light_ref) and light_ref > 0):
            raise ValueError(
                f"ColourCamera.light_ref = {light_ref!r} must be > 0 W/m^2; pass Scene.light_ref "
                "of the scene the model was built from."
            )
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name) < 0:
            raise ValueError(f"ColourCamera.camera_name = {camera_name!r} is not in the model.")
        self.model = model
        self.camera_name = camera_name
        self.light_ref = float(light_ref)
        self.sensor = sensor if sensor is not None else SensorConfig(auto_exposure=DEFAULT_AE)
        self._channel = dataclasses.replace(
            self.sensor, passband_fraction=self.sensor.passband_fraction / 3.0
        )
        self.calibration = CameraModel.from_model(model, camera_name, width, height)
        self._renderer = HeadlessRenderer(
            model, width, height, shadows=shadows, offsamples=offsamples
        )
        self.fixed_pattern = draw_fixed_pattern(
            (height, width, 3), self.sensor, np.random.default_rng(fixed_pattern_seed)
        )
        f_px = self.calibration.focal_px
        xs = np.arange(width) + 0.5 - 0.5 * width
        ys = np.arange(height) + 0.5 - 0.5 * height
        r2 = (xs[None, :] ** 2 + ys[:, None] ** 2) / f_px**2
        cos4 = 1.0 / (1.0 + r2) ** 2 if self.sensor.cos4_falloff else np.ones_like(r2)
        self._cos4 = cos4[:, :, None]
        self.exposure_s = self.sensor.exposure_s
        self.last_exposure_s = self.sensor.exposure_s

    def reset(self) -> None:
        """Return the exposure to ``sensor.exposure_s`` (start of an episode)."""
        self.exposure_s = self.sensor.exposure_s
        self.last_exposure_s = self.sensor.exposure_s

    def expected_electrons(self, data: mujoco.MjData, exposure_s: float) -> NDArray[np.float64]:
        """Noise-free photo-electrons per pixel and channel, ``(H, W, 3)``."""
        rgb = self._renderer.render_rgb(data, self.camera_name)
        radiance = rgb.astype(np.float64) * (self.light_ref / (255.0 * math.pi))
        return radiance * (self._channel.electrons_per_radiance(exposure_s)) * self._cos4

    def capture_dn(self, data: mujoco.MjData, rng: np.random.Generator) -> NDArray[np.float64]:
        """Render and expose one frame in DN ``(H, W, 3)``; update auto-exposure."""
        t_exp = self.exposure_s
        mu = self.expected_electrons(data, t_exp)
        dn = sensor_response(
            mu, self._channel, t_exp, rng, fixed_pattern=self.fixed_pattern, as_float=True
        )
        self.last_exposure_s = t_exp
        ae = self.sensor.auto_exposure
        if ae is not None:
            # peak metering: the brightest pixel (any channel) -> target fraction
            span = self.sensor.dn_max - self.sensor.black_level_dn
            measured = max(float(dn.max()) - self.sensor.black_level_dn, 0.5) / span
            # a clipped peak says only "too bright": step down 8x (bracketing) instead
            proposed = t_exp / 8.0 if measured >= 0.98 else t_exp * ae.target_fraction / measured
            self.exposure_s = float(np.clip(proposed, ae.min_exposure_s, ae.max_exposure_s))
        return dn

    def capture(self, data: mujoco.MjData, rng: np.random.Generator) -> NDArray[np.uint8]:
        """One square-root companded 8-bit colour frame ``(H, W, 3)``."""
        return encode_sqrt8(self.capture_dn(data, rng), self.sensor)

    def settle_exposure(self, data: mujoco.MjData, rng: np.random.Generator,
                        max_frames: int = 8, tolerance: float = 0.15) -> int:
        """Run auto-exposure on the current view until the exposure changes < ``tolerance``.

        What a camera does before the first useful frame. Returns the frames used.
        """
        for k in range(max_frames):
            before = self.exposure_s
            self.capture_dn(data, rng)
            if abs(self.exposure_s - before) <= tolerance * before:
                return k + 1
        return max_frames

    def close(self) -> None:
        """Free the GL context; safe to call twice."""
        self._renderer.close()

    def __enter__(self) -> ColourCamera:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
