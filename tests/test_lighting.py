"""Scene lighting in radiometric units (scenes.build): sky light, render reference."""

import dataclasses
import math

import mujoco
import numpy as np

from scenes.build import (
    ALBEDO_RGB,
    RENDER_HEADROOM_SLOPE_DEG,
    _ground_bounce,
    build_scene,
    light_reference,
)
from scenes.conditions import sample_seeded
from sims.render import HeadlessRenderer


def _terrain_pixels(spec) -> tuple[np.ndarray, float]:
    """Red channel of the terrain seen by the overview camera, and the scene's light_ref."""
    scene = build_scene(spec)
    model = scene.mjspec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with HeadlessRenderer(model, 160, 120, shadow_size=1024) as r:
        img = r.render_rgb(data, "overview").astype(float)
    with HeadlessRenderer(model, 160, 120, shadow_size=64) as r:
        r._renderer.enable_segmentation_rendering()
        r._renderer.update_scene(data, "overview")
        seg = r._renderer.render()
    mask = (seg[..., 0] == model.geom("terrain").id) & (
        seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))
    return img[..., 0][mask], scene.light_ref


def test_shadowed_ground_keeps_the_ambient_light():
    """Shadowed regolith renders albedo x (E_sky + E_bounce) / E_ref (MuJoCo's shadow pass
    would zero it if the ambient sat on the shadow-casting sun)."""
    base = sample_seeded("mars-day", 2)
    low = dataclasses.replace(base, lighting=dataclasses.replace(
        base.lighting, sun_elevation_deg=4.0, ambient_irradiance=30.0))
    red, ref = _terrain_pixels(low)
    expected = 255.0 * ALBEDO_RGB["mars"][0] * (30.0 + _ground_bounce(low)) / ref
    # the darkest decile of terrain pixels is shadow: ambient only, within 1.5 grey levels
    # (8-bit rounding, smooth-shading normals)
    dark = np.sort(red)[: max(1, red.size // 10)]
    assert expected > 5.0
    assert abs(float(np.median(dark)) - expected) < 1.5, (np.median(dark), expected)
    assert float(np.min(red)) > 0.5 * expected


def test_light_reference_is_ground_tilted_toward_the_sun():
    """E_ref = E_direct sin(elevation + headroom) + E_ambient, and level ground renders
    albedo x (E_direct sin(elevation) + E_ambient) / E_ref below 1."""
    spec = sample_seeded("lunar-terminator", 0)
    lt = spec.lighting
    el = lt.sun_elevation_deg
    ref = light_reference(spec)
    tilt = math.radians(min(el + RENDER_HEADROOM_SLOPE_DEG, 90.0))
    assert math.isclose(ref, lt.solar_irradiance * math.sin(tilt) + lt.ambient_irradiance,
                        rel_tol=1e-9)
    level = (lt.solar_irradiance * math.sin(math.radians(el)) + lt.ambient_irradiance) / ref
    assert 0.0 < level < 1.0
    # a sun-facing slope steeper than the headroom would clip: the reference is below the beam
    assert ref < lt.solar_irradiance
    # without terrain (free-floating workspace) the normal beam stays the reference
    orbit = sample_seeded("orbital-free-floating", 0)
    assert light_reference(orbit) >= orbit.lighting.solar_irradiance


def test_ground_bounce_is_half_the_albedo_times_level_irradiance():
    """Regolith-scattered light on a vertical surface: rho E_h / 2; none without terrain."""
    spec = sample_seeded("lunar-terminator", 0)
    lt = spec.lighting
    e_h = lt.solar_irradiance * math.sin(math.radians(lt.sun_elevation_deg))
    assert math.isclose(_ground_bounce(spec), 0.5 * 0.12 * e_h, rel_tol=1e-9)
    assert _ground_bounce(sample_seeded("orbital-free-floating", 0)) == 0.0
