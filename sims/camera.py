"""Radiometric low-light camera: MuJoCo render -> radiance -> electrons -> digital numbers.

The sensor follows the linear camera model of EMVA Standard 1288 (Release 4.0,
2021, "Standard for Characterization of Image Sensors and Cameras"): a pixel
collects ``mu_e = eta * mu_p`` photo-electrons (quantum efficiency ``eta``),
adds dark electrons, saturates at the full-well capacity, picks up read noise and
is converted with the system gain ``K`` [DN/e-] and quantised by the ADC, so that
for the temporal noise::

    sigma_y^2 = K^2 sigma_d^2 + sigma_q^2 + K (mu_y - mu_y.dark)      (EMVA 1288 eq. 8)

with ``sigma_d^2 = sigma_read^2 + dark_current * t_exp`` and ``sigma_q^2 = 1/12 DN^2``.
Fixed-pattern noise (PRNU, DSNU) is drawn once per camera and never changes.

From render to radiance
-----------------------
MuJoCo's classic renderer computes, per pixel and colour channel,
``rgba * (ambient + sum_lights diffuse * cos(theta) * attenuation * shadow)`` in
linear units, clipped at 1. Interpreting that value radiometrically requires the
scene's lights to be set so that their ``diffuse`` values are the fractions of a
reference irradiance ``E_ref`` (see :func:`configure_model_lights`, which does this
from an :class:`Illumination`):

* ``E_ref = E_sun + E_ambient + I_head / r_ref^2`` [W/m^2], the irradiance a surface
  facing all sources at once would receive (:meth:`Illumination.reference_irradiance`);
* sun light ``diffuse = E_sun / E_ref``; the visual headlight's ambient term is
  ``E_ambient / E_ref`` (earthshine/skylight: unshadowed, direction-free);
  the robot headlight light ``diffuse = (I_head / r_ref^2) / E_ref`` with
  ``attenuation = (0, 0, 1/r_ref^2)`` so its irradiance falls as ``I_head / r^2``.

Then the grey value ``v`` of a pixel (Rec. 709 luma of the linear RGB) equals
``albedo * E(pixel) / E_ref`` for a Lambertian surface, and its radiance is::

    L = v * E_ref / pi                                             [W m^-2 sr^-1]

The lens forms the image-plane irradiance (camera equation, object at infinity)::

    E_sensor = pi * L * tau_lens * cos^4(alpha) / (1 + 4 N^2)      [W/m^2]

which reduces to ``pi L / (4 N^2)`` for slow lenses on axis. Only the fraction of
broadband irradiance inside the sensor's passband counts, and photons carry the
mean energy ``h c / lambda`` at ``lambda = 550 nm``; so per pixel and exposure::

    mu_e = QE * passband * E_sensor * A_pixel * t_exp / (h c / lambda)

Limits of this mapping, stated so nobody over-trusts it: the render is 8-bit
(a step of 1/255 of ``E_ref``), clips at 1, uses an ambient term without
inter-reflection, and treats RGB as a broadband grey (a monochrome sensor).

Backend: rendering goes through :class:`sims.render.HeadlessRenderer`, which uses
whatever ``MUJOCO_GL`` selects (``osmesa`` on CPU, ``egl`` on a GPU); set it before
``import mujoco``.

All randomness comes from ``numpy.random.Generator`` objects passed in by hand.

Speed: a capture reuses its buffers (luma, blur accumulator, electrons) and the
sensor model works in place; the arithmetic is float64 throughout and evaluates the
same expressions in the same order as the plain chain, so frames are bit-identical
for a given Generator state (tested). float32 is not used: ``Generator.poisson``
takes float64 means, and float32 ``standard_normal`` draws different variates, so it
would change every frame for a saving of ~0.05 ms. At 64 x 64 the sensor model costs
~0.4 ms per frame, ~80 % of it in ``Generator.poisson`` (one variate per pixel); the
render costs 3-16 ms (see :mod:`sims.render`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import TracebackType

import mujoco
import numpy as np
from numpy.typing import ArrayLike, NDArray

from sims.render import HeadlessRenderer

__all__ = [
    "AutoExposure",
    "FixedPattern",
    "Illumination",
    "RadiometricCamera",
    "SensorConfig",
    "configure_model_lights",
    "draw_fixed_pattern",
    "photon_transfer",
    "radiance_to_electrons",
    "sensor_response",
    "snr",
]

# --- Physical constants ----------------------------------------------------------
PLANCK_H = 6.62607015e-34  # J s, exact by definition (SI Brochure, 9th ed., BIPM 2019)
SPEED_OF_LIGHT = 299_792_458.0  # m/s, exact by definition (SI Brochure, 9th ed., BIPM 2019)
MEAN_WAVELENGTH_M = 550e-9  # m, centre of the visible band used for the mean photon energy
# Rec. 709 luma weights for linear RGB -> grey (ITU-R BT.709-6, item 3.3).
_LUMA = np.array([0.2126, 0.7152, 0.0722])
# Quantisation noise of an ideal uniform quantiser, sigma_q^2 = 1/12 DN^2 (EMVA 1288 eq. 5).
QUANTIZATION_VARIANCE_DN2 = 1.0 / 12.0


def _bad(cls: str, name: str, value: object, accepted: str, remedy: str) -> ValueError:
    return ValueError(f"{cls}.{name} = {value!r} is invalid: accepted {accepted}; {remedy}.")


def _check(cls: str, name: str, value: float, lo: str, hi: str, remedy: str) -> None:
    """Raise unless ``value`` lies in the interval written as ``lo``/``hi`` ("(0", "1]")."""
    lo_v, hi_v = float(lo[1:]), float(hi[:-1])
    ok = math.isfinite(float(value))
    ok = ok and (value >= lo_v if lo[0] == "[" else value > lo_v)
    ok = ok and (value <= hi_v if hi[-1] == "]" else value < hi_v)
    if not ok:
        raise _bad(cls, name, value, f"{lo}, {hi}", remedy)


# Accepted interval and remedy for each numeric SensorConfig field.
_SENSOR_BOUNDS: dict[str, tuple[str, str, str]] = {
    "quantum_efficiency": ("(0", "1]", "QE is a fraction; datasheets quote percent, divide by 100"),
    "pixel_pitch_m": ("(0", "1e-3)", "give the pitch in metres, e.g. 5.86e-6"),
    "exposure_s": ("(0", "3600]", "give the exposure time in seconds, e.g. 0.01"),
    "dark_current_e_s": ("[0", "1e9)", "electrons per second; use 0 to disable dark current"),
    "read_noise_e": ("[0", "1e4)", "use the EMVA 'temporal dark noise' in electrons"),
    "full_well_e": ("(0", "1e9)", "use the EMVA 'saturation capacity' in electrons"),
    "gain_dn_per_e": ("(0", "1e3)", "K is DN per electron; invert an e-/DN figure"),
    "adc_bits": ("[1", "16]", "machine-vision ADCs have 8, 10, 12 or 14 bits"),
    "prnu_percent": ("[0", "100)", "PRNU is a percentage of the signal"),
    "dsnu_e": ("[0", "1e6)", "DSNU is an rms in electrons; use 0 to disable"),
    "f_number": ("[0.5", "64]", "N = focal length / aperture diameter"),
    "focal_length_m": ("(0", "10)", "give the focal length in metres, e.g. 8e-3"),
    "lens_transmission": ("(0", "1]", "a fraction, about 0.9 for a coated lens"),
    "passband_fraction": ("(0", "1]", "the fraction of broadband irradiance in the sensor band"),
    "motion_blur_subframes": ("[1", "64]", "use 1 for no blur, a few (4-8) for blur"),
}


@dataclass(frozen=True)
class AutoExposure:
    """Frame-to-frame auto-exposure that drives the mean signal to a target fraction.

    After each frame the exposure for the next one becomes
    ``t * target / measured`` (measured = mean black-level-subtracted DN over the ADC
    range), clipped to the bounds: what a camera's AE loop does with one frame of lag.
    """

    target_fraction: float = 0.35  # [-] target mean DN / (DN_max - black level); mid-grey-ish
    min_exposure_s: float = 32e-6  # [s] IMX174 minimum exposure ~32 us (ZWO ASI174 driver limit)
    max_exposure_s: float = 0.1  # [s] longest exposure a 10 Hz control loop tolerates (assumed)

    def __post_init__(self) -> None:
        _check(
            "AutoExposure",
            "target_fraction",
            self.target_fraction,
            "(0",
            "1)",
            "it is a fraction of the ADC range, e.g. 0.35",
        )
        if not 0.0 < self.min_exposure_s <= self.max_exposure_s:
            raise _bad(
                "AutoExposure",
                "min_exposure_s/max_exposure_s",
                (self.min_exposure_s, self.max_exposure_s),
                "0 < min <= max [s]",
                "give the bounds in seconds, smaller first",
            )


@dataclass(frozen=True)
class SensorConfig:
    """A monochrome camera in EMVA 1288 terms (sensor, lens, exposure control).

    Defaults: a Sony IMX174 (Pregius, 1/1.2", global shutter) machine-vision camera,
    FLIR/Point Grey Grasshopper3 GS3-U3-23S6M-C, EMVA 1288 summary at 0 dB gain
    (Point Grey camera sensor review / "Sony Pregius Global Shutter CMOS Imaging
    Performance" white paper). Provenance: QE, temporal dark noise and saturation
    capacity are transcribed from that summary but the PDF could not be re-opened
    from this workspace; an independent IMX174 simulator preset gives QE 0.77 and a
    32 ke- full well, and sensor tables give 5.86 um pixels and a 12-bit ADC. Re-check
    against the PDF before relying on agreement better than ~5 %. Fields not in the
    summary are marked *assumed*.

    Each rendered pixel is simulated as one sensor pixel of ``pixel_pitch_m``; image-plane
    irradiance depends only on ``f_number``, so the photon count per pixel does not depend
    on the render's field of view. ``fovy_deg`` gives the field of view the physical
    lens would have for that many pixels, for scene code that wants the two to agree.
    """

    # QE at 525 nm, GS3-U3-23S6M-C EMVA 1288 summary (76 %); used as the band mean.
    quantum_efficiency: float = 0.76  # [-] photo-electrons per photon
    pixel_pitch_m: float = 5.86e-6  # [m] IMX174 pixel size 5.86 um (Sony IMX174LLJ data)
    exposure_s: float = 0.010  # [s] initial/fixed exposure time (10 ms, assumed)
    # Dark current is not in the EMVA summary; a few e-/s is the order published for
    # Pregius cameras at ~30 C (assumed; negligible next to read noise below ~1 s).
    dark_current_e_s: float = 5.0  # [e-/s]
    read_noise_e: float = 6.83  # [e- rms] temporal dark noise, GS3-U3-23S6M-C EMVA summary
    full_well_e: float = 32513.0  # [e-] saturation capacity, GS3-U3-23S6M-C EMVA summary
    # 0 dB gain maps the saturation capacity onto the 12-bit range: K = 4095/32513 (derived).
    gain_dn_per_e: float = 4095.0 / 32513.0  # [DN/e-]
    adc_bits: int = 12  # [bit] IMX174 ADC 12-bit (Sony IMX174LLJ data)
    prnu_percent: float = 0.5  # [%] photo-response non-uniformity, typical Pregius (assumed)
    dsnu_e: float = 1.5  # [e- rms] dark-signal non-uniformity, typical Pregius (assumed)
    black_level_dn: float = 16.0  # [DN] offset so read noise never clips at 0 (assumed)
    # Lens: Fujifilm CF8ZA-1S C-mount, f = 8 mm, F1.8 (a lens sold for 1/1.2" sensors).
    f_number: float = 1.8  # [-] N
    focal_length_m: float = 8e-3  # [m] sets the physical field of view, see fovy_deg()
    lens_transmission: float = 0.9  # [-] multi-coated lens transmittance (assumed)
    # Fraction of broadband solar irradiance between 400 and 700 nm, ~0.39 for the AM0
    # spectrum (ASTM E490-00a). Illumination values are broadband, as in scenes.
    passband_fraction: float = 0.39  # [-]
    cos4_falloff: bool = True  # apply the cos^4 natural vignetting off axis
    auto_exposure: AutoExposure | None = None  # None: fixed exposure_s
    motion_blur_subframes: int = 1  # renders averaged over the exposure (1 = no blur)

    def __post_init__(self) -> None:
        if isinstance(self.adc_bits, bool) or not isinstance(self.adc_bits, int):
            raise _bad("SensorConfig", "adc_bits", self.adc_bits, "an int in 1..16", "pass e.g. 12")
        for name, (lo, hi, remedy) in _SENSOR_BOUNDS.items():
            _check("SensorConfig", name, getattr(self, name), lo, hi, remedy)
        _check(
            "SensorConfig",
            "black_level_dn",
            self.black_level_dn,
            "[0",
            f"{self.dn_max})",
            "keep the offset inside the ADC range",
        )

    @property
    def dn_max(self) -> int:
        """Largest ADC code, ``2**adc_bits - 1`` [DN]."""
        return 2**self.adc_bits - 1

    @property
    def pixel_area_m2(self) -> float:
        """Pixel area [m^2] (square pixels, 100 % fill factor folded into QE)."""
        return self.pixel_pitch_m**2

    @property
    def photon_energy_j(self) -> float:
        """Mean photon energy ``h c / lambda`` at 550 nm [J]."""
        return PLANCK_H * SPEED_OF_LIGHT / MEAN_WAVELENGTH_M

    def fovy_deg(self, height_px: int) -> float:
        """Vertical field of view [deg] of ``height_px`` pixels behind this lens.

        Scene code should give the MuJoCo camera this ``fovy`` so that rendered pixels
        and sensor pixels cover the same angle.
        """
        half = 0.5 * height_px * self.pixel_pitch_m
        return math.degrees(2.0 * math.atan(half / self.focal_length_m))

    def electrons_per_radiance(self, exposure_s: float) -> float:
        """Mean photo-electrons per pixel per unit radiance [e- / (W m^-2 sr^-1)], on axis."""
        e_per_l = math.pi * self.lens_transmission / (1.0 + 4.0 * self.f_number**2)
        photons = e_per_l * self.pixel_area_m2 * exposure_s / self.photon_energy_j
        return self.quantum_efficiency * self.passband_fraction * photons


@dataclass(frozen=True)
class Illumination:
    """Light reaching the scene, supplied by scene code from the working condition.

    All values are broadband irradiances as in ``scenes.spec.LightingSpec``; the
    sensor's ``passband_fraction`` picks the visible part.
    """

    solar_irradiance_w_m2: float = 0.0  # [W/m^2] on a surface facing the sun, after dust; 0 = night
    ambient_irradiance_w_m2: float = 0.0  # [W/m^2] earthshine / skylight, direction-free
    headlight_intensity_w_sr: float = 0.0  # [W/sr] robot headlight radiant intensity; 0 = off
    headlight_reference_range_m: float = 2.0  # [m] range r_ref where the headlight gives I/r_ref^2

    def __post_init__(self) -> None:
        for name in ("solar_irradiance_w_m2", "ambient_irradiance_w_m2"):
            _check("Illumination", name, getattr(self, name), "[0", "1e5)", "W/m^2; 0 = absent")
        _check(
            "Illumination",
            "headlight_intensity_w_sr",
            self.headlight_intensity_w_sr,
            "[0",
            "1e6)",
            "W/sr; 0 = headlight off",
        )
        _check(
            "Illumination",
            "headlight_reference_range_m",
            self.headlight_reference_range_m,
            "(0",
            "1e4)",
            "a typical working range in metres, e.g. 2.0",
        )

    def headlight_irradiance(self, range_m: float | None = None) -> float:
        """Headlight irradiance ``I / r^2`` [W/m^2] at ``range_m`` (default: reference range)."""
        r = self.headlight_reference_range_m if range_m is None else range_m
        return self.headlight_intensity_w_sr / r**2

    def reference_irradiance(self) -> float:
        """``E_ref`` [W/m^2]: the irradiance a render value of 1 stands for (see module doc)."""
        sun, ambient = self.solar_irradiance_w_m2, self.ambient_irradiance_w_m2
        return sun + ambient + self.headlight_irradiance()

    def light_weights(self) -> dict[str, float]:
        """Fractions of ``E_ref`` for the sun, ambient and headlight (sum 1, or all 0)."""
        e_ref = self.reference_irradiance()
        if e_ref <= 0:
            return {"sun": 0.0, "ambient": 0.0, "headlight": 0.0}
        return {
            "sun": self.solar_irradiance_w_m2 / e_ref,
            "ambient": self.ambient_irradiance_w_m2 / e_ref,
            "headlight": self.headlight_irradiance() / e_ref,
        }

    def headlight_attenuation(self) -> tuple[float, float, float]:
        """MuJoCo light ``attenuation`` (constant, linear, quadratic) giving ``(r_ref/r)^2``."""
        return (0.0, 0.0, 1.0 / self.headlight_reference_range_m**2)


def configure_model_lights(
    model: mujoco.MjModel,
    illumination: Illumination,
    *,
    sun_light: str | None = None,
    headlight: str | None = None,
) -> None:
    """Set the model's lights so a render is radiometrically scaled by ``illumination``.

    Every light's diffuse/ambient/specular is overwritten: the named sun light gets
    ``E_sun / E_ref``, the named headlight ``E_head(r_ref) / E_ref`` with inverse-square
    attenuation, every other light is switched off, and the visual headlight becomes a
    pure ambient term ``E_ambient / E_ref``. For the Lambertian reading to hold, give
    geoms a material with ``specular = 0`` (MuJoCo's default is 0.5) whose ``rgba`` is
    the albedo. MuJoCo fits a directional light's shadow map around the light's
    ``pos``, so place the sun light within about one model extent of the scene.

    Args:
        model: Model to modify in place (lights and ``vis.headlight``).
        illumination: The light levels.
        sun_light: Name of a directional light standing for the sun.
        headlight: Name of a spot/point light standing for the robot's headlight.

    Raises:
        ValueError: If a source is on but has no light to carry it, or a name is unknown.
    """
    w = illumination.light_weights()
    ids: dict[str, int] = {}
    for role, name, key in (("sun_light", sun_light, "sun"), ("headlight", headlight, "headlight")):
        if name is None:
            if w[key] > 0:
                raise ValueError(
                    f"configure_model_lights: Illumination has {key} > 0 but {role}=None; "
                    f"pass the name of the MuJoCo light that stands for the {key}."
                )
            continue
        lid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_LIGHT, name)
        if lid < 0:
            raise ValueError(
                f"configure_model_lights: {role} = {name!r} is not a light in the model; "
                "name the light in the MjSpec (spec.worldbody.add_light(name=...))."
            )
        ids[key] = lid
    model.light_diffuse[:] = 0.0
    model.light_ambient[:] = 0.0
    model.light_specular[:] = 0.0
    model.light_active[:] = 0
    if "sun" in ids:
        model.light_active[ids["sun"]] = 1
        model.light_diffuse[ids["sun"]] = w["sun"]
    if "headlight" in ids:
        model.light_active[ids["headlight"]] = 1
        model.light_diffuse[ids["headlight"]] = w["headlight"]
        model.light_attenuation[ids["headlight"]] = illumination.headlight_attenuation()
    model.vis.headlight.active = 1
    model.vis.headlight.ambient[:] = w["ambient"]
    model.vis.headlight.diffuse[:] = 0.0
    model.vis.headlight.specular[:] = 0.0


@dataclass(frozen=True)
class FixedPattern:
    """Per-pixel fixed-pattern noise, drawn once and reused for every frame."""

    prnu_gain: NDArray[np.float64] = field(repr=False)  # [-] multiplicative, mean 1
    dsnu_e: NDArray[np.float64] = field(repr=False)  # [e-] additive dark offset, mean 0


def draw_fixed_pattern(
    shape: tuple[int, int], sensor: SensorConfig, rng: np.random.Generator
) -> FixedPattern:
    """Draw PRNU (Gaussian gain, sd ``prnu_percent``) and DSNU (Gaussian offset, sd ``dsnu_e``).

    Args:
        shape: Image shape ``(height, width)``.
        sensor: Supplies the PRNU and DSNU magnitudes.
        rng: Generator consumed once here.

    Returns:
        The frozen pattern; its arrays are read-only.
    """
    gain = 1.0 + (sensor.prnu_percent / 100.0) * rng.standard_normal(shape)
    np.maximum(gain, 0.0, out=gain)
    offset = sensor.dsnu_e * rng.standard_normal(shape)
    gain.flags.writeable = False
    offset.flags.writeable = False
    return FixedPattern(prnu_gain=gain, dsnu_e=offset)


# Luma weights per 8-bit code: v = R*w_r + G*w_g + B*w_b with the render in [0, 255].
_LUMA_PER_CODE = _LUMA / 255.0


def _luma_into(
    rgb: NDArray[np.uint8], out: NDArray[np.float64], tmp: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rec. 709 luma of an 8-bit render, ``(R w_r + G w_g) + B w_b``, into ``out``.

    Three multiply-into-buffer passes (~4x faster than ``np.dot`` on an ``(H, W, 3)``
    uint8 image, which converts it to float64 first). Each product and sum is one IEEE
    float64 operation in the order ``(R w_r + G w_g) + B w_b``, so the result is the same
    on every CPU. It equals ``np.dot(rgb, _LUMA / 255)`` bit for bit where BLAS does not
    fuse multiply-adds (checked for all 2^24 RGB triples); OpenBLAS's FMA kernels (e.g. on
    AVX-512 CPUs) round ``np.dot`` differently in the last bit.
    """
    w = _LUMA_PER_CODE
    np.multiply(rgb[..., 0], w[0], out=out)
    np.multiply(rgb[..., 1], w[1], out=tmp)
    np.add(out, tmp, out=out)
    np.multiply(rgb[..., 2], w[2], out=tmp)
    np.add(out, tmp, out=out)
    return out


def _electrons_scale(sensor: SensorConfig, exposure_s: float) -> float:
    """Checked ``sensor.electrons_per_radiance(exposure_s)`` [e- / (W m^-2 sr^-1)]."""
    if not (math.isfinite(exposure_s) and exposure_s > 0):
        raise ValueError(
            f"radiance_to_electrons: exposure_s = {exposure_s!r} must be > 0 s; pass seconds."
        )
    return sensor.electrons_per_radiance(exposure_s)


def radiance_to_electrons(
    radiance_w_m2_sr: ArrayLike,
    sensor: SensorConfig,
    exposure_s: float,
    *,
    relative_illumination: ArrayLike = 1.0,
) -> NDArray[np.float64]:
    """Mean photo-electrons per pixel for a radiance image (camera equation, see module doc).

    Args:
        radiance_w_m2_sr: Scene radiance per pixel [W m^-2 sr^-1].
        sensor: Sensor and lens.
        exposure_s: Exposure time [s].
        relative_illumination: Off-axis factor (e.g. ``cos^4``), broadcast to the image.

    Returns:
        Expected photo-electrons per pixel (no noise, no saturation).
    """
    scale = _electrons_scale(sensor, exposure_s)
    return np.asarray(radiance_w_m2_sr, dtype=np.float64) * scale * relative_illumination


def sensor_response(
    electrons_mean: ArrayLike,
    sensor: SensorConfig,
    exposure_s: float,
    rng: np.random.Generator,
    *,
    fixed_pattern: FixedPattern | None = None,
    as_float: bool = False,
) -> NDArray[np.generic]:
    """Turn mean photo-electrons into one noisy digital frame (EMVA 1288 linear model).

    Order: PRNU gain on the mean -> Poisson photo- plus dark electrons
    (``dark_current * exposure``) -> DSNU offset -> full-well clip -> Gaussian read
    noise -> gain ``K`` and black level -> round to integer DN -> clip to ``[0, DN_max]``.

    Args:
        electrons_mean: Expected photo-electrons per pixel (any shape, >= 0).
        sensor: Sensor parameters.
        exposure_s: Exposure time [s] (drives the dark signal).
        rng: The only source of randomness.
        fixed_pattern: PRNU/DSNU maps of the same shape; ``None`` = a perfectly uniform sensor.
        as_float: Return float64 DN (still integer-valued) instead of an unsigned integer array.

    Returns:
        DN image: uint8 for ``adc_bits <= 8``, else uint16; or float64 with ``as_float``.

    Raises:
        ValueError: On negative or non-finite electrons, a bad exposure or mismatched shapes.
    """
    mu = np.asarray(electrons_mean, dtype=np.float64)
    # One min and one max pass instead of isfinite + all + min: NaN fails ``lo >= 0``
    # and +inf fails ``hi < inf``.
    if mu.size and not (mu.min() >= 0.0 and mu.max() < math.inf):
        raise ValueError(
            "sensor_response: electrons_mean must be finite and >= 0 e- per pixel; "
            f"got min={np.nanmin(mu)}, max={np.nanmax(mu)}; clip the radiance image first."
        )
    if not (math.isfinite(exposure_s) and exposure_s > 0):
        raise ValueError(
            f"sensor_response: exposure_s = {exposure_s!r} must be > 0 s; pass seconds."
        )
    if fixed_pattern is not None and fixed_pattern.prnu_gain.shape != mu.shape:
        raise ValueError(
            f"sensor_response: fixed_pattern shape {fixed_pattern.prnu_gain.shape} != image "
            f"shape {mu.shape}; draw the pattern for this image size."
        )
    # Every step below works in place on one float64 buffer and evaluates the same
    # floating-point expressions in the same order as the textbook chain
    # ``poisson(mu * prnu + dark t) + dsnu -> min(full well) + normal(0, read) -> K, black``,
    # so frames are bit-identical for a given Generator state.
    if fixed_pattern is not None:
        lam = np.multiply(mu, fixed_pattern.prnu_gain)
        np.add(lam, sensor.dark_current_e_s * exposure_s, out=lam)
    else:
        lam = mu + sensor.dark_current_e_s * exposure_s
    # Photo and dark electrons are independent Poisson counts, so their sum is one
    # Poisson draw with the summed mean (half the random draws of two separate ones).
    electrons = lam  # the counts overwrite their means (int64 -> float64 is exact here)
    np.copyto(electrons, rng.poisson(lam), casting="unsafe")
    if fixed_pattern is not None:
        np.add(electrons, fixed_pattern.dsnu_e, out=electrons)
    np.minimum(electrons, sensor.full_well_e, out=electrons)
    if sensor.read_noise_e > 0:
        # Generator.normal(0, s) is 0 + s * standard_normal(): same variates, same order.
        noise = rng.standard_normal(size=mu.shape)
        np.multiply(noise, sensor.read_noise_e, out=noise)
        np.add(electrons, noise, out=electrons)
    dn = electrons
    np.multiply(dn, sensor.gain_dn_per_e, out=dn)
    np.add(dn, sensor.black_level_dn, out=dn)
    np.add(dn, 0.5, out=dn)
    np.floor(dn, out=dn)
    np.clip(dn, 0.0, float(sensor.dn_max), out=dn)
    if as_float:
        return dn
    return dn.astype(np.uint8 if sensor.adc_bits <= 8 else np.uint16)


def snr(mean_e: ArrayLike, sensor: SensorConfig, exposure_s: float | None = None) -> NDArray:
    """Temporal signal-to-noise ratio in closed form (EMVA 1288 eq. 15).

    ``SNR = mu_e / sqrt(sigma_d^2 + mu_e + sigma_q^2 / K^2)`` with
    ``sigma_d^2 = read_noise^2 + dark_current * t``; ``mu_e`` is clipped at full well.

    Args:
        mean_e: Mean photo-electrons per pixel.
        sensor: Sensor parameters.
        exposure_s: Exposure for the dark-current term (default ``sensor.exposure_s``).

    Returns:
        SNR (same shape as ``mean_e``), dimensionless.
    """
    t = sensor.exposure_s if exposure_s is None else exposure_s
    mu = np.minimum(np.asarray(mean_e, dtype=np.float64), sensor.full_well_e)
    var_d = sensor.read_noise_e**2 + sensor.dark_current_e_s * t
    var_q = QUANTIZATION_VARIANCE_DN2 / sensor.gain_dn_per_e**2
    return mu / np.sqrt(var_d + mu + var_q)


def photon_transfer(images: ArrayLike) -> tuple[float, float]:
    """Mean and temporal variance of a stack of frames of one flat field (EMVA 1288 sec. 6).

    The temporal variance is each pixel's variance over the frames (ddof=1) averaged
    over pixels, which removes fixed-pattern noise.

    Args:
        images: Array ``(n_frames, ...)`` with ``n_frames >= 2``, in DN.

    Returns:
        ``(mean_dn, temporal_variance_dn2)``.
    """
    stack = np.asarray(images, dtype=np.float64)
    if stack.ndim < 2 or stack.shape[0] < 2:
        raise ValueError(
            f"photon_transfer: images shape {stack.shape} needs >= 2 frames on axis 0; "
            "capture the same flat field at least twice."
        )
    return float(stack.mean()), float(stack.var(axis=0, ddof=1).mean())


class RadiometricCamera:
    """A MuJoCo camera seen through a radiometric EMVA 1288 sensor model.

    Args:
        model: Compiled model with a camera named ``camera_name``; lights should be
            set with :func:`configure_model_lights` for the radiance scale to hold.
        camera_name: Name of the MuJoCo camera.
        width: Image width [px].
        height: Image height [px].
        sensor: Sensor, lens and exposure control.
        illumination: Light levels; may be replaced later via :attr:`illumination`.
        fixed_pattern_seed: Seed or Generator for the PRNU/DSNU pattern (drawn once here).
        shadows: Render shadows.
        shadow_size: Shadow map side [texels]; ``None`` = automatic from the image size
            (see :mod:`sims.render`).

    Raises:
        ValueError: If the camera does not exist or the size is not renderable.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        camera_name: str,
        width: int,
        height: int,
        sensor: SensorConfig | None = None,
        illumination: Illumination | None = None,
        *,
        fixed_pattern_seed: int | np.random.Generator = 0,
        shadows: bool = True,
        shadow_size: int | None = None,
    ) -> None:
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name)
        if cam_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(
                f"RadiometricCamera.camera_name = {camera_name!r} is not in the model; "
                f"cameras present: {names}."
            )
        self.model = model
        self.camera_name = camera_name
        self.width = int(width)
        self.height = int(height)
        self.sensor = sensor if sensor is not None else SensorConfig()
        self.illumination = illumination if illumination is not None else Illumination()
        self._renderer = HeadlessRenderer(
            model, self.width, self.height, shadows=shadows, shadow_size=shadow_size
        )
        pattern_rng = (
            fixed_pattern_seed
            if isinstance(fixed_pattern_seed, np.random.Generator)
            else np.random.default_rng(fixed_pattern_seed)
        )
        self.fixed_pattern = draw_fixed_pattern((self.height, self.width), self.sensor, pattern_rng)
        # cos^4 natural vignetting from the camera's vertical field of view (square pixels).
        f_px = 0.5 * self.height / math.tan(math.radians(0.5 * float(model.cam_fovy[cam_id])))
        xs = np.arange(self.width) - 0.5 * (self.width - 1)
        ys = np.arange(self.height) - 0.5 * (self.height - 1)
        r2 = (xs[None, :] ** 2 + ys[:, None] ** 2) / f_px**2
        self._cos4 = 1.0 / (1.0 + r2) ** 2 if self.sensor.cos4_falloff else np.ones_like(r2)
        self._scratch: mujoco.MjData | None = None
        # Per-frame work buffers, allocated once (float64: see _luma_into and capture).
        shape = (self.height, self.width)
        self._grey = np.empty(shape, dtype=np.float64)
        self._luma_tmp = np.empty(shape, dtype=np.float64)
        self._blur = np.empty(shape, dtype=np.float64)
        self._mu = np.empty(shape, dtype=np.float64)
        self.exposure_s = self.sensor.exposure_s  # exposure used for the next frame
        self.last_exposure_s = self.sensor.exposure_s  # exposure of the last captured frame

    def reset(self) -> None:
        """Return the auto-exposure state to ``sensor.exposure_s`` (start of an episode)."""
        self.exposure_s = self.sensor.exposure_s
        self.last_exposure_s = self.sensor.exposure_s

    def _grey_render(self, data: mujoco.MjData) -> NDArray[np.float64]:
        rgb = self._renderer.render_rgb(data, self.camera_name)
        _luma_into(rgb, self._grey, self._luma_tmp)
        return self._grey

    def _relative_radiance_buf(self, data: mujoco.MjData, t_exp: float) -> NDArray[np.float64]:
        """:meth:`relative_radiance` into an internal buffer (valid until the next frame)."""
        n = self.sensor.motion_blur_subframes
        if n == 1:
            return self._grey_render(data)
        if self._scratch is None:
            self._scratch = mujoco.MjData(self.model)
        scratch = self._scratch
        acc = self._blur
        acc.fill(0.0)
        for k in range(n):
            mujoco.mj_copyData(scratch, self.model, data)
            dt = -t_exp + (k + 0.5) * t_exp / n  # sub-frame mid-point, relative to now
            mujoco.mj_integratePos(self.model, scratch.qpos, data.qvel, dt)
            mujoco.mj_kinematics(self.model, scratch)
            mujoco.mj_camlight(self.model, scratch)
            np.add(acc, self._grey_render(scratch), out=acc)
        np.divide(acc, n, out=acc)
        return acc

    def _electrons_buf(self, data: mujoco.MjData, t_exp: float) -> NDArray[np.float64]:
        """:meth:`expected_electrons` into an internal buffer (valid until the next frame).

        Same expressions in the same order as ``radiance_to_electrons(v * E_ref / pi)``:
        ``((v * (E_ref / pi)) * scale) * cos4``, so the values are bit-identical.
        """
        scale = _electrons_scale(self.sensor, t_exp)
        v = self._relative_radiance_buf(data, t_exp)
        mu = self._mu
        np.multiply(v, self.illumination.reference_irradiance() / math.pi, out=mu)
        np.multiply(mu, scale, out=mu)
        np.multiply(mu, self._cos4, out=mu)
        return mu

    def relative_radiance(self, data: mujoco.MjData, exposure_s: float | None = None) -> NDArray:
        """Render value ``v`` in [0, 1] (luma), averaged over motion-blur sub-frames.

        With ``motion_blur_subframes = n > 1`` the state is extrapolated kinematically
        with the current ``qvel`` to the mid-points of ``n`` equal slices of the
        exposure ending now (``mj_integratePos`` then ``mj_kinematics`` and
        ``mj_camlight`` on a scratch ``MjData``), and the renders are averaged, which is
        what the sensor integrates. ``data`` is not modified.

        Args:
            data: Current state (kinematics up to date).
            exposure_s: Exposure for the blur window (default: the next frame's).

        Returns:
            A new ``(height, width)`` float64 array.
        """
        t_exp = self.exposure_s if exposure_s is None else exposure_s
        return self._relative_radiance_buf(data, t_exp).copy()

    def radiance(self, data: mujoco.MjData) -> NDArray[np.float64]:
        """Scene radiance per pixel ``L = v E_ref / pi`` [W m^-2 sr^-1]."""
        return self.relative_radiance(data) * (self.illumination.reference_irradiance() / math.pi)

    def expected_electrons(
        self, data: mujoco.MjData, exposure_s: float | None = None
    ) -> NDArray[np.float64]:
        """Noise-free photo-electrons per pixel for the next frame (with cos^4 and blur)."""
        t_exp = self.exposure_s if exposure_s is None else exposure_s
        return self._electrons_buf(data, t_exp).copy()

    def capture(
        self, data: mujoco.MjData, rng: np.random.Generator, *, as_float: bool = False
    ) -> NDArray[np.generic]:
        """Render and expose one frame, then update auto-exposure for the next.

        Args:
            data: Current state (kinematics up to date, e.g. after ``mj_step``).
            rng: The only source of temporal noise (shot, dark, read).
            as_float: Return float32 in [0, 1] (DN / DN_max) instead of integer DN.

        Returns:
            ``(height, width)`` image: uint16 DN (uint8 for <= 8-bit ADCs) or float32.
        """
        t_exp = self.exposure_s
        mu = self._electrons_buf(data, t_exp)
        dn = sensor_response(
            mu, self.sensor, t_exp, rng, fixed_pattern=self.fixed_pattern, as_float=True
        )
        self.last_exposure_s = t_exp
        ae = self.sensor.auto_exposure
        if ae is not None:
            span = self.sensor.dn_max - self.sensor.black_level_dn
            measured = max(float(dn.mean()) - self.sensor.black_level_dn, 0.5) / span
            proposed = t_exp * ae.target_fraction / measured
            self.exposure_s = float(np.clip(proposed, ae.min_exposure_s, ae.max_exposure_s))
        if as_float:
            return (dn / self.sensor.dn_max).astype(np.float32)
        return dn.astype(np.uint8 if self.sensor.adc_bits <= 8 else np.uint16)

    def close(self) -> None:
        """Free the renderer's GL context; safe to call twice."""
        self._renderer.close()

    def __enter__(self) -> RadiometricCamera:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
