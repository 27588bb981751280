"""Radiometric camera: EMVA 1288 photon transfer, exposure, saturation, SNR, radiometry.

Tolerances are stated per test; frame counts are chosen so the statistical error of
each estimate is several times smaller than its tolerance.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from scipy import stats

from sims.camera import (
    QUANTIZATION_VARIANCE_DN2,
    AutoExposure,
    Illumination,
    RadiometricCamera,
    SensorConfig,
    configure_model_lights,
    draw_fixed_pattern,
    photon_transfer,
    radiance_to_electrons,
    sensor_response,
    snr,
)
from sims.render import HeadlessRenderer

# MUJOCO_GL (osmesa on CPU unless set) is chosen in tests/conftest.py before mujoco loads.

SIZE = 64
FLOOR_ALBEDO = 0.6
BOX_ALBEDO = 0.9
SUN_ELEVATION = math.radians(40.0)


def _scene(camera_height: float = 2.0, box: bool = True, free_box: bool = False) -> mujoco.MjModel:
    """Plane + box + sun (+ a downward headlight at the camera), all matte, all named."""
    spec = mujoco.MjSpec()
    spec.add_material(
        name="floor_mat", rgba=[FLOOR_ALBEDO] * 3 + [1], specular=0, shininess=0, reflectance=0
    )
    spec.add_material(
        name="box_mat", rgba=[BOX_ALBEDO] * 3 + [1], specular=0, shininess=0, reflectance=0
    )
    spec.worldbody.add_light(
        name="sun",
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        pos=[2.0, 0.0, 2.0],
        dir=[-math.cos(SUN_ELEVATION), 0.0, -math.sin(SUN_ELEVATION)],
        castshadow=True,
    )
    spec.worldbody.add_light(
        name="headlight",
        type=mujoco.mjtLightType.mjLIGHT_SPOT,
        pos=[0.0, 0.0, camera_height],
        dir=[0.0, 0.0, -1.0],
        cutoff=80.0,
        exponent=0.0,
        castshadow=False,
    )
    spec.worldbody.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.1], material="floor_mat"
    )
    if box:
        body = spec.worldbody.add_body(name="box", pos=[0.3, 0.0, 0.2])
        if free_box:
            body.add_freejoint(name="box_free")
        body.add_geom(
            name="box_geom",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[0.15, 0.15, 0.2],
            material="box_mat",
        )
    spec.worldbody.add_camera(
        name="cam", pos=[0.0, 0.0, camera_height], xyaxes=[1, 0, 0, 0, 1, 0], fovy=60.0
    )
    if free_box:
        spec.option.gravity = [0.0, 0.0, 0.0]
    return spec.compile()


def _data(model: mujoco.MjModel) -> mujoco.MjData:
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return data


def _flat_stack(sensor: SensorConfig, mean_e: float, n: int, seed: int, pattern=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu = np.full((SIZE, SIZE), mean_e)
    return np.stack(
        [
            sensor_response(
                mu, sensor, sensor.exposure_s, rng, fixed_pattern=pattern, as_float=True
            )
            for _ in range(n)
        ]
    )


# --- photon transfer -------------------------------------------------------------------


def test_flat_field_follows_photon_transfer_relation() -> None:
    """sigma_y^2 = K^2 sigma_d^2 + 1/12 + K (mu_y - mu_y.dark), EMVA 1288 eq. 8.

    Tolerance: slope K within 2 %, dark variance within 5 %, each level's variance within
    3 % (64x64 px x 16 frames: ~0.6 % standard error of the variance).
    """
    sensor = SensorConfig(dark_current_e_s=50.0, exposure_s=0.02)  # 1 e- dark signal
    pattern = draw_fixed_pattern((SIZE, SIZE), sensor, np.random.default_rng(7))
    k = sensor.gain_dn_per_e
    var_d = sensor.read_noise_e**2 + sensor.dark_current_e_s * sensor.exposure_s
    mu_dark, var_dark = photon_transfer(_flat_stack(sensor, 0.0, 16, 1, pattern))
    assert var_dark == pytest.approx(k**2 * var_d + QUANTIZATION_VARIANCE_DN2, rel=0.05)
    means, variances = [], []
    for i, level in enumerate([300.0, 1500.0, 5000.0, 12000.0, 25000.0]):
        mu_y, var_y = photon_transfer(_flat_stack(sensor, level, 16, 10 + i, pattern))
        predicted = k**2 * var_d + QUANTIZATION_VARIANCE_DN2 + k * (mu_y - mu_dark)
        assert var_y == pytest.approx(predicted, rel=0.03), level
        means.append(mu_y - mu_dark)
        variances.append(var_y - var_dark)
    fit = stats.linregress(means, variances)
    assert fit.slope == pytest.approx(k, rel=0.02)
    # the mean itself is linear in electrons: mu_y - mu_dark = K mu_e (PRNU averages out)
    assert means[2] == pytest.approx(k * 5000.0, rel=0.01)


def test_photon_transfer_needs_two_frames() -> None:
    with pytest.raises(ValueError, match="2 frames"):
        photon_transfer(np.zeros((1, 4, 4)))


# --- exposure ---------------------------------------------------------------------------


def test_doubling_exposure_doubles_dark_subtracted_signal_flat_field() -> None:
    """Pure sensor path, radiance held fixed: ratio 2 within 1 %."""
    sensor = SensorConfig()
    radiance = np.full((SIZE, SIZE), 0.05)  # W m^-2 sr^-1, a dim lunar-night surface
    signals = []
    for t in (0.01, 0.02):
        rng = np.random.default_rng(3)
        light = [
            sensor_response(radiance_to_electrons(radiance, sensor, t), sensor, t, rng)
            for _ in range(8)
        ]
        dark = [sensor_response(np.zeros_like(radiance), sensor, t, rng) for _ in range(8)]
        signals.append(np.mean(light, dtype=np.float64) - np.mean(dark, dtype=np.float64))
    assert signals[0] > 50.0  # well above quantisation, well below saturation
    assert signals[1] / signals[0] == pytest.approx(2.0, rel=0.01)


def test_doubling_exposure_doubles_signal_in_render() -> None:
    """Full render path under earthshine-like light: ratio 2 within 2 %."""
    model = _scene()
    data = _data(model)
    lit = Illumination(solar_irradiance_w_m2=0.0, ambient_irradiance_w_m2=0.5)
    configure_model_lights(model, lit, sun_light="sun", headlight="headlight")
    signals = []
    for t in (0.004, 0.008):
        sensor = SensorConfig(exposure_s=t)
        with RadiometricCamera(model, "cam", SIZE, SIZE, sensor, lit) as cam:
            rng = np.random.default_rng(5)
            light = np.mean([cam.capture(data, rng) for _ in range(6)], dtype=np.float64)
            cam.illumination = Illumination()  # lens cap on: dark frames at the same exposure
            dark = np.mean([cam.capture(data, rng) for _ in range(6)], dtype=np.float64)
        signals.append(light - dark)
    assert 50.0 < signals[0] < 0.4 * SensorConfig().dn_max
    assert signals[1] / signals[0] == pytest.approx(2.0, rel=0.02)


# --- saturation -------------------------------------------------------------------------


def test_saturation_clips_at_adc_max() -> None:
    sensor = SensorConfig()  # K * full well + black level > 4095: the ADC clips first
    img = sensor_response(np.full((SIZE, SIZE), 1e6), sensor, 0.01, np.random.default_rng(0))
    assert img.dtype == np.uint16
    assert np.all(img == sensor.dn_max)
    sensor8 = SensorConfig(adc_bits=8, gain_dn_per_e=255.0 / 32513.0)
    img8 = sensor_response(np.full((SIZE, SIZE), 1e6), sensor8, 0.01, np.random.default_rng(0))
    assert img8.dtype == np.uint8 and np.all(img8 == 255)


def test_saturation_clips_at_full_well() -> None:
    """Low gain so the well fills before the ADC: mean = K*FW + black, no shot noise left."""
    sensor = SensorConfig(gain_dn_per_e=0.05)
    stack = _flat_stack(sensor, 5.0 * sensor.full_well_e, 8, 2)
    mean, var = photon_transfer(stack)
    expected = sensor.gain_dn_per_e * sensor.full_well_e + sensor.black_level_dn
    assert mean == pytest.approx(expected, abs=0.05)
    # Only read noise is left (sigma = 0.34 DN, below the 0.5 DN where 1/12 DN^2 holds), so
    # compare with the exact variance of a rounded Gaussian; shot noise would add 81 DN^2.
    sigma = sensor.gain_dn_per_e * sensor.read_noise_e
    k = np.arange(math.floor(expected) - 10, math.ceil(expected) + 11)
    p = stats.norm.cdf(k + 0.5, expected, sigma) - stats.norm.cdf(k - 0.5, expected, sigma)
    exact = float(np.sum(p * k**2) - np.sum(p * k) ** 2)
    assert var == pytest.approx(exact, rel=0.1)
    assert stack.max() < sensor.dn_max


# --- SNR --------------------------------------------------------------------------------


def test_snr_closed_form_matches_measured_flat_fields() -> None:
    """Measured temporal SNR within 3 % of EMVA eq. 15 at four signal levels."""
    sensor = SensorConfig()
    k = sensor.gain_dn_per_e
    dark_mean = sensor.black_level_dn + k * sensor.dark_current_e_s * sensor.exposure_s
    levels = np.array([20.0, 200.0, 2000.0, 20000.0])
    closed = snr(levels, sensor)
    assert np.all(np.diff(closed) > 0)
    for level, expected in zip(levels, closed, strict=True):
        mean, var = photon_transfer(_flat_stack(sensor, level, 16, int(level)))
        assert (mean - dark_mean) / math.sqrt(var) == pytest.approx(expected, rel=0.03)
    # shot-noise limit: SNR -> sqrt(mu_e) far above the read noise
    assert snr(30000.0, sensor) == pytest.approx(math.sqrt(30000.0), rel=0.01)


def _measured_snr(cam: RadiometricCamera, data: mujoco.MjData, n: int) -> tuple[float, float]:
    """Median over lit pixels of measured and closed-form temporal SNR."""
    rng = np.random.default_rng(11)
    light = np.stack([cam.capture(data, rng, as_float=False) for _ in range(n)]).astype(float)
    expected_e = cam.expected_electrons(data) * cam.fixed_pattern.prnu_gain
    k = cam.sensor.gain_dn_per_e
    dark = cam.sensor.black_level_dn + k * (
        cam.sensor.dark_current_e_s * cam.exposure_s + cam.fixed_pattern.dsnu_e
    )
    unsaturated = expected_e < 0.9 * cam.sensor.full_well_e
    assert unsaturated.mean() > 0.9
    measured = (light.mean(axis=0) - dark) / light.std(axis=0, ddof=1)
    closed = snr(expected_e, cam.sensor)
    return float(np.median(measured[unsaturated])), float(np.median(closed[unsaturated]))


def test_darker_illumination_gives_lower_snr_in_render() -> None:
    """Same exposure, lunar-day sun vs earthshine: SNR drops, and matches eq. 15 within 10 %."""
    model = _scene()
    data = _data(model)
    sensor = SensorConfig(exposure_s=15e-6)  # sunlit box top ~21 ke-, below full well
    results = {}
    for name, lit in {
        "bright": Illumination(solar_irradiance_w_m2=1361.0, ambient_irradiance_w_m2=0.0),
        "dim": Illumination(solar_irradiance_w_m2=0.0, ambient_irradiance_w_m2=20.0),
    }.items():
        configure_model_lights(model, lit, sun_light="sun", headlight="headlight")
        with RadiometricCamera(model, "cam", SIZE, SIZE, sensor, lit) as cam:
            results[name] = _measured_snr(cam, data, 24)
    (bright, bright_cf), (dim, dim_cf) = results["bright"], results["dim"]
    assert bright == pytest.approx(bright_cf, rel=0.1)
    assert dim == pytest.approx(dim_cf, rel=0.1)
    assert dim < 0.3 * bright
    assert snr(1.0, sensor) < snr(10.0, sensor) < snr(1000.0, sensor)


# --- radiometry -------------------------------------------------------------------------


def test_render_radiance_matches_lambertian_closed_form() -> None:
    """Lit floor: L = rho (E_sun sin(el) + E_amb) / pi; shadow: L = rho E_amb / pi; 1.5 %."""
    model = _scene()
    data = _data(model)
    lit = Illumination(solar_irradiance_w_m2=600.0, ambient_irradiance_w_m2=200.0)
    configure_model_lights(model, lit, sun_light="sun", headlight="headlight")
    with RadiometricCamera(model, "cam", SIZE, SIZE, SensorConfig(), lit) as cam:
        radiance = cam.radiance(data)
    lit_floor = FLOOR_ALBEDO * (600.0 * math.sin(SUN_ELEVATION) + 200.0) / math.pi
    shadow = FLOOR_ALBEDO * 200.0 / math.pi
    box_top = BOX_ALBEDO * (600.0 * math.sin(SUN_ELEVATION) + 200.0) / math.pi
    assert radiance[2, 2] == pytest.approx(lit_floor, rel=0.015)
    # the box (x = 0.15..0.45 m) shadows the floor toward -x; the camera looks straight down
    assert np.sum(np.isclose(radiance, shadow, rtol=0.015)) > 50
    assert radiance[SIZE // 2, int(SIZE * 0.62)] == pytest.approx(box_top, rel=0.015)
    # electrons at the image centre follow the camera equation (cos^4 = 1 on axis)
    sensor = SensorConfig()
    e_sensor = math.pi * lit_floor * sensor.lens_transmission / (1 + 4 * sensor.f_number**2)
    photons = e_sensor * sensor.pixel_pitch_m**2 * sensor.exposure_s / sensor.photon_energy_j
    mu_e = sensor.quantum_efficiency * sensor.passband_fraction * photons
    expected = radiance_to_electrons(np.array([[lit_floor]]), sensor, sensor.exposure_s)
    assert float(expected[0, 0]) == pytest.approx(mu_e, rel=1e-12)


def test_headlight_falls_off_with_inverse_square() -> None:
    """Headlight only, camera and lamp at height h looking down: L = rho I / (pi h^2), 2 %."""
    intensity = 4.0  # W/sr
    lit = Illumination(headlight_intensity_w_sr=intensity, headlight_reference_range_m=1.0)
    centre = []
    for h in (1.0, 2.0):
        model = _scene(camera_height=h, box=False)
        data = _data(model)
        configure_model_lights(model, lit, headlight="headlight")
        with RadiometricCamera(model, "cam", SIZE, SIZE, SensorConfig(), lit) as cam:
            radiance = cam.radiance(data)
        value = float(radiance[SIZE // 2 - 1 : SIZE // 2 + 1, SIZE // 2 - 1 : SIZE // 2 + 1].mean())
        assert value == pytest.approx(FLOOR_ALBEDO * intensity / (math.pi * h**2), rel=0.02)
        centre.append(value)
    assert centre[0] / centre[1] == pytest.approx(4.0, rel=0.02)


def test_lights_without_a_carrier_are_refused() -> None:
    model = _scene()
    with pytest.raises(ValueError, match="sun_light"):
        configure_model_lights(model, Illumination(solar_irradiance_w_m2=100.0))
    with pytest.raises(ValueError, match="not a light"):
        configure_model_lights(
            model, Illumination(solar_irradiance_w_m2=1.0), sun_light="no_such_light"
        )


# --- determinism, fixed pattern, auto-exposure, blur ---------------------------------------


def test_same_seed_gives_identical_frames_bit_for_bit() -> None:
    model = _scene()
    data = _data(model)
    lit = Illumination(ambient_irradiance_w_m2=2.0)
    configure_model_lights(model, lit, sun_light="sun", headlight="headlight")
    with RadiometricCamera(model, "cam", SIZE, SIZE, SensorConfig(), lit) as cam:
        a = [cam.capture(data, np.random.default_rng(42)) for _ in range(2)]
        b = cam.capture(data, np.random.default_rng(43))
    with RadiometricCamera(model, "cam", SIZE, SIZE, SensorConfig(), lit) as cam2:
        c = cam2.capture(data, np.random.default_rng(42))
    assert a[0].tobytes() == a[1].tobytes() == c.tobytes()
    assert a[0].tobytes() != b.tobytes()


def test_fixed_pattern_is_drawn_once_and_depends_on_seed() -> None:
    model = _scene()
    with (
        RadiometricCamera(model, "cam", SIZE, SIZE, fixed_pattern_seed=1) as a,
        RadiometricCamera(model, "cam", SIZE, SIZE, fixed_pattern_seed=1) as b,
        RadiometricCamera(model, "cam", SIZE, SIZE, fixed_pattern_seed=2) as c,
    ):
        assert np.array_equal(a.fixed_pattern.prnu_gain, b.fixed_pattern.prnu_gain)
        assert not np.array_equal(a.fixed_pattern.dsnu_e, c.fixed_pattern.dsnu_e)
        assert a.fixed_pattern.prnu_gain.std() == pytest.approx(0.005, rel=0.1)
        with pytest.raises(ValueError):
            a.fixed_pattern.prnu_gain[0, 0] = 2.0  # read-only: cannot drift between frames


def test_auto_exposure_converges_to_target_and_clamps() -> None:
    model = _scene()
    data = _data(model)
    ae = AutoExposure(target_fraction=0.3, min_exposure_s=32e-6, max_exposure_s=0.05)
    bright = Illumination(solar_irradiance_w_m2=1361.0)
    configure_model_lights(model, bright, sun_light="sun", headlight="headlight")
    rng = np.random.default_rng(0)
    # Stopped down to f/5.6 the lunar-noon scene fits the exposure range: AE reaches target.
    sensor = SensorConfig(auto_exposure=ae, f_number=5.6)
    span = sensor.dn_max - sensor.black_level_dn
    with RadiometricCamera(model, "cam", SIZE, SIZE, sensor, bright) as cam:
        for _ in range(10):
            img = cam.capture(data, rng)
        assert (img.mean() - sensor.black_level_dn) / span == pytest.approx(0.3, rel=0.05)
        assert ae.min_exposure_s < cam.exposure_s < 1e-3
        cam.illumination = Illumination()  # darkness: exposure runs to its upper bound
        for _ in range(6):
            cam.capture(data, rng)
        assert cam.exposure_s == ae.max_exposure_s
        cam.reset()
        assert cam.exposure_s == sensor.exposure_s
    # Wide open (f/1.8) the same scene is too bright even at the shortest exposure.
    with RadiometricCamera(model, "cam", SIZE, SIZE, SensorConfig(auto_exposure=ae), bright) as cam:
        for _ in range(10):
            img = cam.capture(data, rng)
        assert cam.exposure_s == ae.min_exposure_s
        assert (img.mean() - sensor.black_level_dn) / span > 0.3


def test_motion_blur_averages_over_the_exposure() -> None:
    model = _scene(free_box=True)
    data = _data(model)
    lit = Illumination(solar_irradiance_w_m2=800.0, ambient_irradiance_w_m2=50.0)
    configure_model_lights(model, lit, sun_light="sun", headlight="headlight")
    blur = SensorConfig(exposure_s=0.05, motion_blur_subframes=6)
    with (
        RadiometricCamera(model, "cam", SIZE, SIZE, SensorConfig(exposure_s=0.05), lit) as sharp,
        RadiometricCamera(model, "cam", SIZE, SIZE, blur, lit) as blurred,
    ):
        # at rest every sub-frame is the same render (equal up to float summation rounding)
        np.testing.assert_allclose(
            sharp.relative_radiance(data), blurred.relative_radiance(data), rtol=0, atol=1e-12
        )
        data.qvel[:3] = [8.0, 0.0, 0.0]  # 8 m/s along +x: 0.4 m during the exposure
        qpos = data.qpos.copy()
        v_sharp, v_blur = sharp.relative_radiance(data), blurred.relative_radiance(data)
        assert np.array_equal(data.qpos, qpos)  # the caller's state is untouched
        # box pixels (brighter than any floor pixel) smear into a longer, dimmer streak
        floor_max = FLOOR_ALBEDO * (800 * math.sin(SUN_ELEVATION) + 50) / 850 + 0.01
        streak = np.count_nonzero(v_blur.max(axis=0) > floor_max)
        assert streak > np.count_nonzero(v_sharp.max(axis=0) > floor_max) + 5
        # the streak trails behind the box: it reaches further toward -x than the box now
        cols_sharp = np.flatnonzero(v_sharp.max(axis=0) > floor_max)
        cols_blur = np.flatnonzero(v_blur.max(axis=0) > floor_max)
        assert cols_blur.min() < cols_sharp.min() - 5 and cols_blur.max() <= cols_sharp.max() + 1


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exposure_s", -0.01),
        ("exposure_s", 0.0),
        ("quantum_efficiency", 1.2),
        ("quantum_efficiency", 0.0),
        ("pixel_pitch_m", -1e-6),
        ("read_noise_e", -1.0),
        ("full_well_e", 0.0),
        ("gain_dn_per_e", 0.0),
        ("adc_bits", 0),
        ("adc_bits", 20),
        ("prnu_percent", -0.5),
        ("f_number", 0.1),
        ("lens_transmission", 1.5),
        ("motion_blur_subframes", 0),
        ("dark_current_e_s", float("nan")),
        ("black_level_dn", 5000.0),
    ],
)
def test_bad_sensor_config_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        SensorConfig(**{field: value})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"solar_irradiance_w_m2": -1.0}, "solar_irradiance_w_m2"),
        ({"ambient_irradiance_w_m2": float("inf")}, "ambient_irradiance_w_m2"),
        ({"headlight_intensity_w_sr": -2.0}, "headlight_intensity_w_sr"),
        ({"headlight_reference_range_m": 0.0}, "headlight_reference_range_m"),
    ],
)
def test_bad_illumination_names_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Illumination(**kwargs)


def test_bad_inputs_elsewhere_are_refused() -> None:
    with pytest.raises(ValueError, match="target_fraction"):
        AutoExposure(target_fraction=1.5)
    with pytest.raises(ValueError, match="min_exposure_s"):
        AutoExposure(min_exposure_s=0.1, max_exposure_s=0.01)
    sensor = SensorConfig()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="electrons_mean"):
        sensor_response(np.array([[-1.0]]), sensor, 0.01, rng)
    with pytest.raises(ValueError, match="exposure_s"):
        sensor_response(np.zeros((2, 2)), sensor, -1.0, rng)
    with pytest.raises(ValueError, match="fixed_pattern shape"):
        pattern = draw_fixed_pattern((3, 3), sensor, rng)
        sensor_response(np.zeros((2, 2)), sensor, 0.01, rng, fixed_pattern=pattern)
    model = _scene()
    with pytest.raises(ValueError, match="camera_name"):
        RadiometricCamera(model, "nope", SIZE, SIZE)


def test_renderer_close_is_idempotent_and_final() -> None:
    model = _scene()
    data = _data(model)
    renderer = HeadlessRenderer(model, SIZE, SIZE)
    shadow_size = model.vis.quality.shadowsize
    assert renderer.render_rgb(data, "cam").shape == (SIZE, SIZE, 3)
    assert model.vis.quality.shadowsize == shadow_size  # caller's model left as it was
    renderer.close()
    renderer.close()
    assert renderer.closed
    with pytest.raises(RuntimeError, match="after close"):
        renderer.render_rgb(data, "cam")
    with pytest.raises(ValueError, match="positive"):
        HeadlessRenderer(model, 0, SIZE)


def _reference_sensor_response(
    mu: np.ndarray, sensor: SensorConfig, t: float, rng: np.random.Generator, pattern
) -> np.ndarray:
    """The EMVA chain written out plainly (one temporary per step), as first implemented."""
    lam = mu * pattern.prnu_gain + sensor.dark_current_e_s * t
    electrons = rng.poisson(lam).astype(np.float64) + pattern.dsnu_e
    electrons = np.minimum(electrons, sensor.full_well_e)
    electrons = electrons + rng.normal(0.0, sensor.read_noise_e, size=mu.shape)
    dn = np.floor(electrons * sensor.gain_dn_per_e + sensor.black_level_dn + 0.5)
    return np.clip(dn, 0.0, float(sensor.dn_max))


@pytest.mark.parametrize("shape", [(64, 64), (32, 48, 3)])
def test_in_place_sensor_model_equals_the_plain_chain_bit_for_bit(shape: tuple[int, ...]) -> None:
    # Same Generator state -> same variates in the same order -> identical DN, including
    # small means (Poisson's multiplication branch, lam < 10), saturation and dark pixels.
    sensor = SensorConfig()
    pattern = draw_fixed_pattern(shape, sensor, np.random.default_rng(3))
    mu = np.random.default_rng(4).uniform(0.0, 40_000.0, shape)
    mu.flat[::7] = np.random.default_rng(5).uniform(0.0, 9.0, mu.flat[::7].shape)
    mu.flat[::11] = 0.0
    fast = sensor_response(mu, sensor, 0.01, np.random.default_rng(9), fixed_pattern=pattern,
                           as_float=True)
    plain = _reference_sensor_response(mu, sensor, 0.01, np.random.default_rng(9), pattern)
    assert fast.tobytes() == plain.tobytes()
    assert (fast == sensor.dn_max).any() and (fast < 100).any()  # both ends exercised


def test_sensor_response_leaves_its_input_alone_and_refuses_nan_and_inf() -> None:
    sensor = SensorConfig()
    mu = np.full((4, 4), 100.0)
    before = mu.copy()
    sensor_response(mu, sensor, 0.01, np.random.default_rng(0),
                    fixed_pattern=draw_fixed_pattern((4, 4), sensor, np.random.default_rng(1)))
    assert mu.tobytes() == before.tobytes()
    for bad in (np.nan, np.inf):
        mu[1, 2] = bad
        with pytest.raises(ValueError, match="electrons_mean"):
            sensor_response(mu, sensor, 0.01, np.random.default_rng(0))


def test_luma_passes_are_rec709_in_a_fixed_order() -> None:
    """The luma passes give, bit for bit, ``(R w_r + G w_g) + B w_b`` in plain float64
    (Python floats: one rounding per operation, on every CPU) and agree with ``np.dot`` to
    within an ulp (BLAS may fuse the multiply-adds: OpenBLAS on AVX-512 does)."""
    from sims.camera import _LUMA, _luma_into

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(64, 256, 3), dtype=np.uint8)
    rgb[0, :, :] = np.arange(256, dtype=np.uint8)[:, None]  # every code on every channel
    out, tmp = np.empty((64, 256)), np.empty((64, 256))
    got = _luma_into(rgb, out, tmp)
    w = [float(v) for v in _LUMA / 255.0]
    ref = np.array([[(float(r) * w[0] + float(g) * w[1]) + float(b) * w[2] for r, g, b in row]
                    for row in rgb.tolist()])
    assert got.tobytes() == ref.tobytes()
    np.testing.assert_allclose(got, np.dot(rgb, _LUMA / 255.0), rtol=4.5e-16, atol=0.0)


def test_capture_equals_the_public_functions_chained() -> None:
    # capture() works on internal buffers; it must give what the documented pipeline gives.
    model = _scene()
    data = _data(model)
    lit = Illumination(solar_irradiance_w_m2=200.0, ambient_irradiance_w_m2=2.0)
    configure_model_lights(model, lit, sun_light="sun", headlight="headlight")
    sensor = SensorConfig(exposure_s=2e-4)
    with RadiometricCamera(model, "cam", SIZE, SIZE, sensor, lit) as cam:
        mu = radiance_to_electrons(cam.radiance(data), sensor, sensor.exposure_s,
                                   relative_illumination=cam._cos4)
        assert mu.tobytes() == cam.expected_electrons(data).tobytes()
        expected = sensor_response(mu, sensor, sensor.exposure_s, np.random.default_rng(8),
                                   fixed_pattern=cam.fixed_pattern)
        frame = cam.capture(data, np.random.default_rng(8))
        assert frame.tobytes() == expected.tobytes()
        assert cam.capture(data, np.random.default_rng(8)).tobytes() == frame.tobytes()
