"""build(spec) -> mujoco.MjSpec: a pure function from a ScenarioSpec to a MuJoCo scene.

The build step makes the structure (terrain, rocks, lights, robot, goal); it is
a pure function of the spec: every random draw comes from a generator seeded
by ``spec.seed``. Per-episode state (noise, perturbations) is the task's job.

Lighting convention (radiometric, see ``sims.camera``): MuJoCo light colours
are irradiances divided by ``Scene.light_ref`` [W/m^2], so a Lambertian
surface of albedo ``rho`` lit at normal incidence by the reference irradiance
renders as ``rho``. The camera multiplies back by ``light_ref``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from scenes import rocks as rocklib
from scenes import terrain as terr
from scenes.spec import ScenarioSpec, light_level
from sims.rover import RoverParams, add_rover

TIMESTEP = 0.005  # [s] physics step; contact-rich wheel/terrain dynamics stay stable at 5 ms

# Normal albedo of the regolith, used as the terrain colour:
# Moon ~0.12 (mean visible albedo, Lunar Sourcebook ch. 10 / NASA Moon Fact Sheet
# geometric albedo 0.12); Mars ~0.25 (NASA Mars Fact Sheet geometric albedo 0.17
# bolometric, brighter and redder in the visible; assumed 0.25 red / 0.15 green / 0.1 blue).
ALBEDO_RGB = {
    "moon": (0.12, 0.12, 0.12),
    "mars": (0.28, 0.16, 0.10),
    "earth": (0.35, 0.30, 0.22),  # dry sand, assumed
    "ceres": (0.09, 0.09, 0.09),  # Ceres geometric albedo 0.09 (Li et al. 2016, ApJL 817)
    "eros": (0.25, 0.25, 0.23),  # 433 Eros geometric albedo 0.25 (JPL SBDB)
    "orbit": (0.6, 0.6, 0.6),  # painted module interior, assumed
}
# Rock shapes come from a fixed library of unit-diameter convex prototypes (drawn once
# per process from a fixed seed), scaled to each rock's diameter and yawed at random:
# the same approach as rock libraries in planetary terrain generators, and ~50x faster
# than hulling a new point cloud per rock.
N_ROCK_PROTOTYPES = 32
ROCK_PROTOTYPE_SEED = 20_241_129
SPAWN_GAP = 0.002  # [m] wheels start this far above the ground (short fall at milli-g)
ROCK_CLEARANCE = 1.2  # [m] keep rocks this far (edge to point) from the start and the goal
GOAL_BEACON_HEIGHT = 0.8  # [m] visible goal marker (no collision)
# Horizontal extinction from dust: k = tau / H with the Mars dust scale height
# H ~ 11 km (Kahre et al. 2017, in The Atmosphere and Climate of Mars, ch. 10);
# visibility ~ 3.9 / k (Koschmieder).
DUST_SCALE_HEIGHT = 11_000.0


@dataclass(frozen=True)
class Scene:
    """The result of a build: the MjSpec plus derived data the tasks need."""

    mjspec: mujoco.MjSpec  # the model, ready to compile
    spec: ScenarioSpec  # what it was built from
    heights: np.ndarray | None  # (nrow, ncol) terrain heights [m], None without terrain
    light_ref: float  # [W/m^2] irradiance represented by light colour 1.0
    n_craters: int  # craters carved into the terrain
    n_rocks: int  # rocks placed
    rocks_dropped: int  # rocks removed to keep start and goal clear
    rover_params: RoverParams | None = None  # rover constants, when a rover is present
    rock_radii: tuple[float, ...] = field(default=())  # bounding radii of the rocks [m]
    rock_xy: tuple[tuple[float, float], ...] = field(default=())  # rock centres [m]
    # indices of rocks placed and counted but given no mesh/geom (build_scene's rock_reach)
    rocks_omitted: tuple[int, ...] = field(default=())

    def surface_z(self, x: float, y: float) -> float:
        """Terrain height at (x, y) [m] (0 without terrain)."""
        if self.heights is None:
            return 0.0
        t = self.spec.terrain
        return float(
            terr.surface_height(self.heights, t.size_x, t.size_y, np.array([x]), np.array([y]))[0]
        )


def sun_direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector from the scene toward the sun (world frame, z up)."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def _direct_irradiance(spec: ScenarioSpec) -> float:
    """Sun irradiance normal to the beam at the surface after dust extinction [W/m^2]."""
    lt = spec.lighting
    if lt.sun_elevation_deg <= 0.0:
        return 0.0
    slant = 1.0 / max(math.sin(math.radians(lt.sun_elevation_deg)), 1e-3)
    return lt.solar_irradiance * math.exp(-spec.atmosphere.dust_optical_depth * slant)


# Sun-facing slope rendered without clipping (see light_reference) [deg]; steeper sun-facing
# faces and the orange goal beacon at low sun saturate, like a clipped sensor (assumed).
RENDER_HEADROOM_SLOPE_DEG = 30.0


def light_reference(spec: ScenarioSpec) -> float:
    """Irradiance mapped to light colour 1.0 [W/m^2].

    The render is 8 bit, so the reference sets its quantisation step. A reference at the
    sun's normal-beam irradiance would leave level ground at low sun only
    ``albedo * sin(elevation) * 255`` grey levels (about 3 for lunar regolith at the
    terminator) and hide its relief. The reference is instead the irradiance on ground
    tilted ``RENDER_HEADROOM_SLOPE_DEG`` toward the sun (never more than the normal beam)
    plus the diffuse sources: level ground and slopes facing the sun up to that angle
    render unclipped, steeper sun-facing faces clip at 1 like a saturating pixel. The
    camera models multiply the render back by this reference, so radiance stays
    absolute wherever the render is not clipped. Without terrain (the free-floating
    workspace) there is no level ground to refer to and the normal beam is the reference.
    """
    lt = spec.lighting
    head_at_2m = lt.headlight_intensity / 4.0  # E = I / r^2 at 2 m
    tilt = min(max(lt.sun_elevation_deg, 0.0) + RENDER_HEADROOM_SLOPE_DEG, 90.0)
    if not spec.terrain.enabled:
        tilt = 90.0
    sun = _direct_irradiance(spec) * math.sin(math.radians(tilt))
    return max(sun + lt.ambient_irradiance, head_at_2m, 1e-6)


@dataclass(frozen=True)
class TerrainStage:
    """First stage of a build: the terrain heights, and the generator state after them.

    ``build_scene(spec, stage=terrain_stage(spec))`` equals ``build_scene(spec)``;
    the split lets checks that need only the heights (the goal-region slope) run
    before the meshes are made and the model compiled.
    """

    heights: np.ndarray | None  # (nrow, ncol) terrain heights [m], None without terrain
    n_craters: int  # craters carved
    rng_state: dict[str, Any]  # bit-generator state of the scene generator after the terrain

    def rng(self) -> np.random.Generator:
        """A fresh generator continuing the scene's random stream after the terrain."""
        bg = np.random.PCG64()
        bg.state = self.rng_state
        return np.random.Generator(bg)


def terrain_stage(spec: ScenarioSpec, base_heights: np.ndarray | None = None) -> TerrainStage:
    """Terrain heights of ``spec`` (first part of :func:`build_scene`).

    The base is ``base_heights`` when given, else the DEM named by
    ``spec.terrain.dem`` (checked against its SHA-256), else flat.
    """
    rng = np.random.default_rng(spec.seed)
    heights = None
    n_craters = 0
    if spec.terrain.enabled:
        if base_heights is None and spec.terrain.dem is not None:
            from scenes.dem import base_for_spec

            base_heights = base_for_spec(spec)
        heights, n_craters = _terrain_heights(spec, rng, base_heights)
    return TerrainStage(heights, n_craters, rng.bit_generator.state)


def build_scene(
    spec: ScenarioSpec,
    base_heights: np.ndarray | None = None,
    stage: TerrainStage | None = None,
    rock_reach: float | None = None,
) -> Scene:
    """Build the full scene (MjSpec plus derived data) from a spec.

    ``base_heights`` is an optional terrain base of shape ``(terrain.nrow,
    terrain.ncol)`` [m] (a real DEM resampled by ``scenes.dem.terrain_base``);
    roughness, slope and craters are added on top of it. Without it a spec
    naming a DEM (``terrain.dem``) gets that DEM as its base. ``stage`` is the
    result of :func:`terrain_stage` for this spec, when already computed.

    ``rock_reach`` [m], when given, builds the settle check's reduced model: rocks
    whose plan-view edge is farther than this from the robot start are placed and
    counted exactly as in the full scene (``n_rocks``, ``rock_xy``, ``rock_radii``)
    but get no mesh or geom (their indices are in ``Scene.rocks_omitted``); the
    other rocks keep their names. Everything else equals the full scene.
    """
    if stage is None:
        stage = terrain_stage(spec, base_heights)
    rng = stage.rng()
    ms = mujoco.MjSpec()
    ms.modelname = f"embodisim_{spec.condition.replace('-', '_')}"
    ms.option.timestep = TIMESTEP
    ms.option.gravity = list(spec.body.gravity)
    ms.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    ms.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    ms.visual.headlight.active = 0  # all light is modelled explicitly
    ms.visual.quality.shadowsize = 2048
    ms.visual.map.znear = 0.01
    ms.stat.extent = max(spec.terrain.size_x, spec.terrain.size_y) if spec.terrain.enabled else 4.0
    ms.stat.center = [0.0, 0.0, 0.0]

    light_ref = light_reference(spec)
    _add_lights(ms, spec, light_ref)
    _add_fog(ms, spec)

    albedo = ALBEDO_RGB[spec.body.name]
    mat = ms.add_material(
        name="regolith", rgba=[*albedo, 1.0], specular=0.0, shininess=0.0, reflectance=0.0
    )
    del mat
    mu = spec.regolith.friction
    heights = stage.heights
    n_craters = stage.n_craters
    n_rocks = dropped = 0
    omitted: list[int] = []
    radii: list[float] = []
    centres: list[tuple[float, float]] = []
    rover_params = None
    if heights is not None:
        _add_terrain(ms, spec, heights, mu)
        n_rocks, dropped, radii, centres, omitted = _add_rocks(
            ms, spec, heights, rng, mu, rock_reach
        )
    else:
        _add_workspace(ms, spec)
    scene_tmp = Scene(ms, spec, heights, light_ref, n_craters, n_rocks, dropped)
    gz = scene_tmp.surface_z(spec.goal.x, spec.goal.y)
    ms.worldbody.add_site(
        name="goal",
        pos=[spec.goal.x, spec.goal.y, gz + GOAL_BEACON_HEIGHT / 2],
        type=mujoco.mjtGeom.mjGEOM_CYLINDER,
        size=[0.05, GOAL_BEACON_HEIGHT / 2, 0],
        rgba=[1.0, 0.45, 0.0, 1.0],
    )
    ms.worldbody.add_geom(
        name="goal_beacon",
        type=mujoco.mjtGeom.mjGEOM_SPHERE,
        size=[0.12, 0, 0],
        pos=[spec.goal.x, spec.goal.y, gz + GOAL_BEACON_HEIGHT],
        contype=0,
        conaffinity=0,
        rgba=[1.0, 0.45, 0.0, 1.0],
        group=1,
    )
    if spec.robot.kind == "rover":
        rover_params = RoverParams(max_wheel_speed=spec.robot.max_wheel_speed)
        z = _rover_spawn_z(scene_tmp, rover_params)
        add_rover(
            ms,
            (spec.robot.x, spec.robot.y, z),
            math.radians(spec.robot.yaw_deg),
            rover_params,
            friction=mu,
            headlight_intensity=spec.lighting.headlight_intensity,
            light_scale=light_ref,
            camera_fovy=spec.camera.fovy_deg,
        )
    ms.worldbody.add_camera(
        name="overview",
        pos=[0.0, -0.9 * ms.stat.extent, 0.6 * ms.stat.extent],
        xyaxes=[1, 0, 0, 0, 0.55, 0.83],
        fovy=50.0,
    )
    return Scene(
        ms,
        spec,
        heights,
        light_ref,
        n_craters,
        n_rocks,
        dropped,
        rover_params,
        tuple(radii),
        tuple(centres),
        tuple(omitted),
    )


def build(spec: ScenarioSpec) -> mujoco.MjSpec:
    """Build the MuJoCo scene of ``spec`` (a pure function of the spec)."""
    return build_scene(spec).mjspec


def _ground_bounce(spec: ScenarioSpec) -> float:
    """Sunlight scattered once by the regolith onto a vertical surface [W/m^2].

    Level Lambertian ground of albedo ``rho`` under ``E_h`` has radiance ``rho E_h / pi``;
    a vertical surface sees it over half its hemisphere, so it receives ``rho E_h / 2``.
    The renderer has no inter-reflection, so this enters as a direction-free ambient
    term: it is what lights terrain shadows on an airless body (Apollo surface
    photography shows shadowed rocks and the sides of craters lit by it). Without
    terrain there is no ground to scatter.
    """
    if not spec.terrain.enabled:
        return 0.0
    lt = spec.lighting
    rho = float(np.mean(ALBEDO_RGB[spec.body.name]))
    e_h = _direct_irradiance(spec) * math.sin(math.radians(max(lt.sun_elevation_deg, 0.0)))
    return 0.5 * rho * e_h


def _add_lights(ms: mujoco.MjSpec, spec: ScenarioSpec, light_ref: float) -> None:
    """Sun (diffuse, shadows) and sky (ambient only, never shadowed), in ``light_ref`` units.

    MuJoCo's shadow pass scales a shadow-casting light's ambient term too, so an ambient
    on the sun would vanish in its shadows (shadowed ground rendering black whatever the
    earthshine or skylight). The direction-free ambient therefore sits on its own light
    that casts no shadow.
    """
    lt = spec.lighting
    sun = _direct_irradiance(spec) / light_ref
    to_sun = sun_direction(max(lt.sun_elevation_deg, 0.0), lt.sun_azimuth_deg)
    ambient = (lt.ambient_irradiance + _ground_bounce(spec)) / light_ref
    ms.worldbody.add_light(
        name="sun",
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        dir=(-to_sun).tolist(),
        pos=(to_sun * 30.0).tolist(),
        diffuse=[sun, sun, sun],
        specular=[0, 0, 0],
        ambient=[0, 0, 0],
        castshadow=sun > 0.0,
        active=True,
    )
    ms.worldbody.add_light(
        name="sky",
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        dir=[0.0, 0.0, -1.0],
        pos=[0.0, 0.0, 30.0],
        diffuse=[0, 0, 0],
        specular=[0, 0, 0],
        ambient=[ambient, ambient, ambient],
        castshadow=False,
        active=ambient > 0.0,
    )


def _add_fog(ms: mujoco.MjSpec, spec: ScenarioSpec) -> None:
    tau = spec.atmosphere.dust_optical_depth
    if tau <= 0.0:
        ms.visual.map.fogstart = 1e6
        ms.visual.map.fogend = 1e6
        return
    visibility = 3.9 * DUST_SCALE_HEIGHT / tau  # [m], Koschmieder
    extent = float(ms.stat.extent)
    ms.visual.map.fogstart = 0.0
    ms.visual.map.fogend = visibility / extent  # MuJoCo expresses fog distances in extents
    ms.visual.rgba.fog = [0.55, 0.42, 0.32, 1.0]  # Martian dust colour, assumed


def _terrain_heights(
    spec: ScenarioSpec, rng: np.random.Generator, base: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    t = spec.terrain
    craters = terr.Craters.empty()
    if t.craters is not None:
        c = t.craters
        craters = terr.sample_craters(
            t.size_x,
            t.size_y,
            c.density_coeff,
            c.exponent,
            c.d_min,
            c.d_max,
            (c.depth_ratio_min, c.depth_ratio_max),
            rng,
        )
    hf = terr.heightfield(
        t.size_x,
        t.size_y,
        t.nrow,
        t.ncol,
        craters,
        t.roughness_rms,
        t.hurst,
        t.slope_deg,
        t.slope_azimuth_deg,
        rng,
        base=base,
    )
    return hf, len(craters)


def _add_terrain(ms: mujoco.MjSpec, spec: ScenarioSpec, hf: np.ndarray, mu: float) -> None:
    t = spec.terrain
    data, z_range, z_min = terr.normalize_for_mujoco(hf)
    base = 0.5  # [m] thickness of the slab under the lowest point
    ms.add_hfield(
        name="terrain",
        nrow=t.nrow,
        ncol=t.ncol,
        size=[t.size_x / 2, t.size_y / 2, z_range, base],
        userdata=data.astype(np.float32).ravel().tolist(),
    )
    ms.worldbody.add_geom(
        name="terrain",
        type=mujoco.mjtGeom.mjGEOM_HFIELD,
        hfieldname="terrain",
        pos=[0.0, 0.0, z_min],
        material="regolith",
        friction=[mu, 0.005, 0.0001],
        condim=3,
    )


def _add_workspace(ms: mujoco.MjSpec, spec: ScenarioSpec) -> None:
    """Free-floating workspace: a module wall as visual backdrop and a capture volume."""
    ms.worldbody.add_geom(
        name="module_wall",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[3.0, 0.05, 2.0],
        pos=[0.0, 3.0, 0.0],
        material="regolith",
        friction=[spec.regolith.friction, 0.005, 1e-4],
    )


def _add_rocks(
    ms: mujoco.MjSpec,
    spec: ScenarioSpec,
    hf: np.ndarray,
    rng: np.random.Generator,
    mu: float,
    reach: float | None = None,
) -> tuple[int, int, list[float], list[tuple[float, float]], list[int]]:
    t = spec.terrain
    if t.rocks is None or t.rocks.abundance_k <= 0.0:
        return 0, 0, [], [], []
    r = t.rocks
    margin = 0.5
    rocks = rocklib.sample_rocks(
        t.size_x - 2 * margin, t.size_y - 2 * margin, r.abundance_k, r.d_min, r.d_max, rng
    )
    order = np.argsort(-rocks.diameter, kind="stable")[: r.max_count]
    n = 0
    radii: list[float] = []
    centres: list[tuple[float, float]] = []
    albedo = ALBEDO_RGB[spec.body.name]
    rock_rgb = [min(1.0, a * 1.3) for a in albedo]  # rocks slightly brighter than fines, assumed
    protos = _rock_prototypes()
    cand_x, cand_y, cand_d = rocks.x[order], rocks.y[order], rocks.diameter[order]
    # Terrain height under every candidate at once (bilinear, pointwise: the same values
    # as one call per rock, without the per-call overhead).
    zs_all = terr.surface_height(hf, t.size_x, t.size_y, cand_x, cand_y)
    # Shape and yaw of every candidate, drawn in candidate order (prototype, then yaw) from
    # the scene generator - also for the candidates dropped below, so that the stream does
    # not depend on which are kept.
    n_cand = len(order)
    kinds = np.empty(n_cand, dtype=np.int64)
    yaws = np.empty(n_cand)
    for rank in range(n_cand):
        kinds[rank] = rng.integers(N_ROCK_PROTOTYPES)
        yaws[rank] = rng.uniform(0.0, 2.0 * math.pi)
    # A yaw about z keeps horizontal distances and heights: the plan-view bounding radius,
    # the lowest point and the height of a rock follow from its prototype and diameter.
    r_xy, z_lo, z_hi = _rock_prototype_extents()
    bound = cand_d * r_xy[kinds]
    keep = np.hypot(cand_x - spec.robot.x, cand_y - spec.robot.y)
    keep = np.minimum(keep, np.hypot(cand_x - spec.goal.x, cand_y - spec.goal.y))
    kept = keep >= bound + ROCK_CLEARANCE
    # bury the lower third of the rock, as partly embedded boulders are (assumed)
    lo, hi = cand_d * z_lo[kinds], cand_d * z_hi[kinds]
    z_all = zs_all - lo - (hi - lo) / 3.0
    cos_y, sin_y = np.cos(yaws), np.sin(yaws)
    rgba = [*rock_rgb, 1.0]
    friction = [mu, 0.005, 0.0001]
    wb = ms.worldbody
    omitted: list[int] = []
    edge = np.hypot(cand_x - spec.robot.x, cand_y - spec.robot.y) - bound
    for rank in np.flatnonzero(kept).tolist():
        if reach is not None and edge[rank] > reach:
            radii.append(float(bound[rank]))
            centres.append((float(cand_x[rank]), float(cand_y[rank])))
            omitted.append(n)
            n += 1
            continue
        proto_verts, faces = protos[int(kinds[rank])]
        c, sn = float(cos_y[rank]), float(sin_y[rank])
        rot = np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])
        verts = float(cand_d[rank]) * proto_verts @ rot.T
        name = f"rock_{n}"
        ms.add_mesh(name=name, uservert=verts.ravel().tolist(), userface=faces.ravel().tolist())
        x, y = float(cand_x[rank]), float(cand_y[rank])
        wb.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_MESH,
            meshname=name,
            pos=[x, y, float(z_all[rank])],
            rgba=rgba,
            friction=friction,
            condim=3,
        )
        radii.append(float(bound[rank]))
        centres.append((x, y))
        n += 1
    dropped = n_cand - n
    return n, dropped, radii, centres, omitted


@functools.cache
def check_rock_prototypes(d_min: float, d_max: float) -> None:
    """Compile every rock prototype, collidable, at diameters ``d_min`` and ``d_max`` [m].

    MuJoCo's mesh checks (positive volume, consistent face orientation, valid
    inertia) are invariant under a yaw and monotone in a uniform scale, so a
    rock (a yawed prototype scaled to a diameter in ``[d_min, d_max]``) compiles
    whenever this passes; the settle check relies on it for the rocks it omits.

    Raises:
        ValueError: MuJoCo's message, if a prototype does not compile.
    """
    ms = mujoco.MjSpec()
    ms.compiler.usethread = False
    for k, (verts, faces) in enumerate(_rock_prototypes()):
        for j, d in enumerate((d_min, d_max)):
            name = f"rock_prototype_{k}_{j}"
            ms.add_mesh(name=name, uservert=(float(d) * verts).ravel().tolist(),
                        userface=faces.ravel().tolist())
            ms.worldbody.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_MESH, meshname=name,
                                  pos=[3.0 * k, 3.0 * j, 0.0])
    try:
        ms.compile()
    except ValueError as exc:
        raise ValueError(f"rock prototypes at diameters {d_min}-{d_max} m: {exc}") from None


@functools.cache
def _rock_prototypes() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Unit-diameter rock shapes (vertices, faces), generated once from a fixed seed."""
    rng = np.random.default_rng(ROCK_PROTOTYPE_SEED)
    out = []
    for _ in range(N_ROCK_PROTOTYPES):
        mesh = rocklib.rock_mesh(1.0, rng)
        out.append(
            (np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int32))
        )
    return tuple(out)


@functools.cache
def _rock_prototype_extents() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per prototype: plan-view bounding radius, lowest and highest vertex z (unit diameter)."""
    protos = _rock_prototypes()
    r_xy = np.array([float(np.sqrt(np.max(np.sum(v[:, :2] ** 2, axis=1)))) for v, _ in protos])
    z_lo = np.array([float(v[:, 2].min()) for v, _ in protos])
    z_hi = np.array([float(v[:, 2].max()) for v, _ in protos])
    return r_xy, z_lo, z_hi


def _rover_spawn_z(scene: Scene, p: RoverParams) -> float:
    """Chassis height so that the lowest wheel just touches the terrain under it."""
    s = scene.spec
    yaw = math.radians(s.robot.yaw_deg)
    c, sn = math.cos(yaw), math.sin(yaw)
    wx: list[float] = []
    wy: list[float] = []
    for dx in (-p.wheelbase_half, p.wheelbase_half):
        for dy in (-p.track_half, p.track_half):
            wx.append(s.robot.x + c * dx - sn * dy)
            wy.append(s.robot.y + sn * dx + c * dy)
    top = 0.0
    if scene.heights is not None:  # the four wheels at once (bilinear, pointwise)
        t = s.terrain
        top = float(np.max(terr.surface_height(scene.heights, t.size_x, t.size_y,
                                               np.array(wx), np.array(wy))))
    return top + p.rest_height + SPAWN_GAP


def describe(scene: Scene, max_slope: float | None = None) -> dict[str, float | int | str]:
    """Summary numbers of a built scene (for listings and the library index).

    ``max_slope`` is the steepest terrain slope [deg] when the caller already has it.
    """
    s = scene.spec
    out: dict[str, float | int | str] = {
        "condition": s.condition,
        "body": s.body.name,
        "gravity": float(np.linalg.norm(s.body.gravity)),
        "sun_elevation": s.lighting.sun_elevation_deg,
        "light_level": light_level(s),
        "dust_optical_depth": s.atmosphere.dust_optical_depth,
        "n_craters": scene.n_craters,
        "n_rocks": scene.n_rocks,
    }
    if scene.heights is not None:
        t = s.terrain
        out["max_slope_deg"] = (
            float(terr.max_slope_deg(scene.heights, t.size_x, t.size_y))
            if max_slope is None
            else float(max_slope)
        )
    return out
