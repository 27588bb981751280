"""The working-conditions catalog: named distributions over ScenarioSpecs.

Each :class:`Condition` is a small frozen record of ranges; ``sample(rng)``
draws one :class:`~scenes.spec.ScenarioSpec` from it. Every physical constant
below names its published source. Where a value is an engineering choice
rather than a measurement, the comment says "assumed".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scenes.spec import (
    AtmosphereSpec,
    BodySpec,
    CameraSpec,
    CraterSpec,
    GoalSpec,
    LightingSpec,
    RegolithSpec,
    RobotSpec,
    RockSpec,
    ScenarioSpec,
    SpecError,
    TerrainSpec,
)

# --- Gravity [m/s^2] ---------------------------------------------------------
G_EARTH = 9.80665  # standard gravity, 3rd CGPM (1901)
G_MOON = 1.62  # NASA GSFC Moon Fact Sheet (Williams 2024), surface gravity 1.62 m/s^2
G_MARS = 3.71  # NASA GSFC Mars Fact Sheet (Williams 2024), surface gravity 3.71 m/s^2
G_CERES = 0.28  # Ceres surface gravity, Russell et al. 2016 (Science 353, Dawn at Ceres)
# 433 Eros: surface gravity varies 0.0023-0.0055 m/s^2 over its elongated shape
# (Yeomans et al. 2000, Science 289, "Radio science results during the NEAR-Shoemaker
# spacecraft rendezvous with Eros").
G_EROS_RANGE = (0.0023, 0.0055)

# --- Illumination [W/m^2] ------------------------------------------------------
SOLAR_CONSTANT = 1361.0  # total solar irradiance at 1 AU, Kopp & Lean 2011 (GRL 38, L01706)
MARS_AU_RANGE = (1.381, 1.666)  # Mars perihelion/aphelion, NASA Mars Fact Sheet
CERES_AU = 2.77  # Ceres semi-major axis, JPL Small-Body Database
EROS_AU = 1.458  # 433 Eros semi-major axis, JPL Small-Body Database
# Earthshine at the Moon near zero phase: ~0.15 W/m^2 broadband hemispherical, about
# half of it reflected sunlight (Glenar et al. 2019, Icarus 321, 841-856).
EARTHSHINE_FULL_SOLAR_BAND = 0.075
# Mars daytime diffuse skylight is a large fraction of total irradiance under dust;
# we model it as ambient = 0.3 * attenuated direct + a floor (assumed; cf. Lemmon et al.
# 2015, Icarus 251, for the optical-depth record that drives it).
MARS_SKY_FRACTION = 0.3

# --- Dust optical depth --------------------------------------------------------
# Clear-season Mars visible optical depth 0.3-0.9 at the MER sites (Lemmon et al. 2015,
# Icarus 251, 96-111). Global storms: tau ~ 5 over Opportunity in 2007 and up to 10.8
# in 2018 (Guzewich et al. 2019, GRL 46, 71-79).
MARS_TAU_CLEAR = (0.3, 0.9)
MARS_TAU_STORM = (3.0, 8.0)

# --- Regolith -------------------------------------------------------------------
# Lunar regolith bulk density 1.50 +/- 0.05 g/cm^3 in the top 15 cm; friction angle
# 30-50 deg depending on depth and relative density (Carrier, Olhoeft & Mendell 1991,
# Lunar Sourcebook ch. 9, Tables 9.4 and 9.11). Wheel-regolith Coulomb mu ~ tan(phi_eff),
# taken lower than tan(phi) because the surface layer is loose (assumed).
MOON_DENSITY = (1450.0, 1550.0)
MOON_MU = (0.55, 0.8)
# Mars soils: bulk density 1.1-1.6 g/cm^3, internal friction angle 30-40 deg
# (Golombek et al. 2008, in The Martian Surface, ch. 21; Sullivan et al. 2011, JGR 116).
MARS_DENSITY = (1100.0, 1600.0)
MARS_MU = (0.5, 0.75)
EARTH_MU = (0.7, 0.9)  # dry sand / packed soil on rubber, assumed
EARTH_DENSITY = (1500.0, 1700.0)  # dry sand bulk density, assumed

# --- Craters ----------------------------------------------------------------------
# Small lunar craters are near empirical equilibrium N(>D) = 10^-1.1 D^-2 per m^2
# with D in metres (Gault 1970, Radio Science 5(2), 273-291).
LUNAR_EQUILIBRIUM_COEFF = 10.0**-1.1
LUNAR_EQUILIBRIUM_EXPONENT = 2.0
# Depth/diameter: ~0.2 for fresh simple craters (Pike 1977, in Impact and Explosion
# Cratering), degrading toward ~0.05 (Stopar et al. 2017, Icarus 298, 34-48).
DEPTH_RATIO_FRESH = 0.2
DEPTH_RATIO_DEGRADED = 0.05

# --- Rocks (Golombek & Rapp 1997 k) --------------------------------------------
# Mars landing sites: VL1 k ~ 0.07, VL2 k ~ 0.18, Pathfinder ~ 0.19 (Golombek et al. 2003,
# JGR 108(E12), 8086). Lunar mare rock abundance is far lower, about 0.5-2 % for rocks
# larger than ~0.5-1 m from Diviner thermal data (Bandfield et al. 2011, JGR 116, E00H02).
MOON_ROCK_K = (0.005, 0.02)
MARS_ROCK_K = (0.03, 0.10)
MARS_ROCKFIELD_K = (0.12, 0.20)


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


@dataclass(frozen=True)
class Condition:
    """A named working condition: ranges from which scenes are drawn."""

    name: str  # catalog id, kebab-case
    description: str  # one line for humans
    body: str  # body name (scenes.spec.BODIES)
    gravity: tuple[float, float]  # |g| range [m/s^2]
    sun_elevation_deg: tuple[float, float]  # [deg]; <= 0 means no direct sun
    solar_irradiance: tuple[float, float]  # top-of-atmosphere irradiance [W/m^2]
    ambient_irradiance: tuple[float, float]  # earthshine/skylight [W/m^2]
    dust_optical_depth: tuple[float, float]  # [-]
    headlight_intensity: tuple[float, float]  # [W/sr]; (0, 0) = off
    friction: tuple[float, float]  # regolith Coulomb mu [-]
    density: tuple[float, float]  # regolith bulk density [kg/m^3]
    slope_deg: tuple[float, float]  # regional slope [deg]
    roughness_rms: tuple[float, float]  # fractal roughness RMS [m]
    crater_density_coeff: float  # N(>1 m) per m^2; 0 = no craters
    crater_exponent: float  # cumulative SFD exponent
    crater_d_range: tuple[float, float]  # generated diameters [m]
    rock_k: tuple[float, float]  # Golombek-Rapp k; (0, 0) = no rocks
    goal_distance: tuple[float, float]  # start-goal distance [m]
    max_wheel_speed: float  # rover wheel speed at full command [rad/s]
    terrain: bool = True  # False: free-floating workspace, no ground
    light_class: str = "day"  # day | low-sun | dim | dark (for listings)

    def summary(self) -> dict[str, object]:
        """Row for ``embodisim conditions``."""
        sun = self.sun_elevation_deg
        return {
            "name": self.name,
            "body": self.body,
            "gravity_m_s2": [self.gravity[0], self.gravity[1]],
            "sun_elevation_deg": [sun[0], sun[1]],
            "light_class": self.light_class,
            "light_level_w_m2": [round(v, 4) for v in self.light_level_range()],
            "dust_optical_depth": [self.dust_optical_depth[0], self.dust_optical_depth[1]],
            "headlight": self.headlight_intensity[1] > 0,
            "description": self.description,
        }

    def light_level_range(self) -> tuple[float, float]:
        """Horizontal irradiance range [W/m^2] (direct, dust-attenuated, plus ambient)."""

        def level(elev: float, e0: float, tau: float, amb: float) -> float:
            if elev <= 0:
                return amb
            s = math.sin(math.radians(elev))
            return e0 * math.exp(-tau / max(s, 1e-3)) * s + amb

        lo = level(
            self.sun_elevation_deg[0],
            self.solar_irradiance[0],
            self.dust_optical_depth[1],
            self.ambient_irradiance[0],
        )
        hi = level(
            self.sun_elevation_deg[1],
            self.solar_irradiance[1],
            self.dust_optical_depth[0],
            self.ambient_irradiance[1],
        )
        return (min(lo, hi), max(lo, hi))

    def sample(self, rng: np.random.Generator) -> ScenarioSpec:
        """Draw one ScenarioSpec from this condition."""
        g = _u(rng, self.gravity)
        elev = _u(rng, self.sun_elevation_deg)
        tau = _u(rng, self.dust_optical_depth)
        e0 = _u(rng, self.solar_irradiance)
        amb = _u(rng, self.ambient_irradiance)
        if self.body == "mars" and elev > 0:
            # diffuse skylight grows with dust loading (assumed model, see MARS_SKY_FRACTION)
            amb += MARS_SKY_FRACTION * e0 * math.sin(math.radians(elev)) * (1 - math.exp(-tau))
        seed = int(rng.integers(0, 2**63 - 1))
        size = 24.0 if self.terrain else 8.0
        craters = None
        if self.terrain and self.crater_density_coeff > 0:
            fresh = DEPTH_RATIO_FRESH
            craters = CraterSpec(
                density_coeff=self.crater_density_coeff,
                exponent=self.crater_exponent,
                d_min=self.crater_d_range[0],
                d_max=self.crater_d_range[1],
                depth_ratio_min=DEPTH_RATIO_DEGRADED,
                depth_ratio_max=fresh,
            )
        rocks = None
        if self.terrain and self.rock_k[1] > 0:
            rocks = RockSpec(abundance_k=_u(rng, self.rock_k), d_min=0.15, d_max=1.2, max_count=60)
        terrain = TerrainSpec(
            enabled=self.terrain,
            size_x=size,
            size_y=size,
            slope_deg=_u(rng, self.slope_deg),
            slope_azimuth_deg=float(rng.uniform(-180.0, 180.0)),
            roughness_rms=_u(rng, self.roughness_rms),
            craters=craters,
            rocks=rocks,
        )
        if self.terrain:
            yaw = float(rng.uniform(-180.0, 180.0))
            dist = _u(rng, self.goal_distance)
            bearing = math.radians(yaw + float(rng.uniform(-60.0, 60.0)))
            sx, sy = -0.5 * dist * math.cos(bearing), -0.5 * dist * math.sin(bearing)
            robot = RobotSpec(
                kind="rover", x=sx, y=sy, yaw_deg=yaw, max_wheel_speed=self.max_wheel_speed
            )
            goal = GoalSpec(
                x=sx + dist * math.cos(bearing), y=sy + dist * math.sin(bearing), radius=0.6
            )
        else:
            robot = RobotSpec(kind="none")
            goal = GoalSpec(x=float(rng.uniform(-1, 1)), y=float(rng.uniform(-1, 1)), radius=0.3)
        return ScenarioSpec(
            condition=self.name,
            seed=seed,
            body=BodySpec(name=self.body, gravity=(0.0, 0.0, -g)),
            terrain=terrain,
            lighting=LightingSpec(
                sun_elevation_deg=elev,
                sun_azimuth_deg=float(rng.uniform(-180.0, 180.0)),
                solar_irradiance=e0,
                ambient_irradiance=amb,
                headlight_intensity=_u(rng, self.headlight_intensity),
            ),
            atmosphere=AtmosphereSpec(dust_optical_depth=tau),
            regolith=RegolithSpec(friction=_u(rng, self.friction), density=_u(rng, self.density)),
            robot=robot,
            goal=goal,
            camera=CameraSpec(),
        )


_MARS_E0 = (SOLAR_CONSTANT / MARS_AU_RANGE[1] ** 2, SOLAR_CONSTANT / MARS_AU_RANGE[0] ** 2)
_LUNAR_CRATERS = {
    "crater_density_coeff": LUNAR_EQUILIBRIUM_COEFF,
    "crater_exponent": LUNAR_EQUILIBRIUM_EXPONENT,
    "crater_d_range": (1.0, 10.0),
}
_HEADLIGHT = (2.0, 8.0)  # W/sr: a ~10 W-electrical LED lamp with a ~1 sr beam (assumed)
_MOON = {
    "body": "moon",
    "gravity": (G_MOON, G_MOON),
    "friction": MOON_MU,
    "density": MOON_DENSITY,
    "dust_optical_depth": (0.0, 0.0),
}
_MARS = {
    "body": "mars",
    "gravity": (G_MARS, G_MARS),
    "friction": MARS_MU,
    "density": MARS_DENSITY,
    "solar_irradiance": _MARS_E0,
}

CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition(
            name="earth-reference",
            description="Earth 1 g daylight reference on sandy ground",
            body="earth",
            gravity=(G_EARTH, G_EARTH),
            sun_elevation_deg=(30.0, 70.0),
            solar_irradiance=(1000.0, 1000.0),  # clear-sky global irradiance, ASTM G173 AM1.5
            ambient_irradiance=(50.0, 100.0),
            dust_optical_depth=(0.0, 0.0),
            headlight_intensity=(0.0, 0.0),
            friction=EARTH_MU,
            density=EARTH_DENSITY,
            slope_deg=(0.0, 5.0),
            roughness_rms=(0.01, 0.03),
            crater_density_coeff=0.0,
            crater_exponent=2.0,
            crater_d_range=(1.0, 2.0),
            rock_k=(0.02, 0.05),
            goal_distance=(5.0, 8.0),
            max_wheel_speed=3.0,
        ),
        Condition(
            name="lunar-mare-day",
            description="Lunar mare, mid-morning sun, equilibrium craters",
            sun_elevation_deg=(20.0, 60.0),
            solar_irradiance=(SOLAR_CONSTANT, SOLAR_CONSTANT),
            ambient_irradiance=(0.0, EARTHSHINE_FULL_SOLAR_BAND),
            headlight_intensity=(0.0, 0.0),
            slope_deg=(0.0, 5.0),
            roughness_rms=(0.01, 0.03),
            rock_k=MOON_ROCK_K,
            goal_distance=(5.0, 8.0),
            max_wheel_speed=2.5,
            **_MOON,
            **_LUNAR_CRATERS,
        ),
        Condition(
            name="lunar-highland-slopes",
            description="Lunar highlands, 8-18 deg slopes, rougher",
            sun_elevation_deg=(15.0, 50.0),
            solar_irradiance=(SOLAR_CONSTANT, SOLAR_CONSTANT),
            ambient_irradiance=(0.0, EARTHSHINE_FULL_SOLAR_BAND),
            headlight_intensity=(0.0, 0.0),
            slope_deg=(8.0, 18.0),
            roughness_rms=(0.02, 0.05),
            rock_k=MOON_ROCK_K,
            goal_distance=(4.0, 7.0),
            max_wheel_speed=2.0,
            **_MOON,
            **_LUNAR_CRATERS,
        ),
        Condition(
            name="lunar-terminator",
            description="Lunar terminator: sun 2-10 deg, long shadows",
            sun_elevation_deg=(2.0, 10.0),
            solar_irradiance=(SOLAR_CONSTANT, SOLAR_CONSTANT),
            ambient_irradiance=(0.0, EARTHSHINE_FULL_SOLAR_BAND),
            headlight_intensity=(0.0, 0.0),
            slope_deg=(0.0, 6.0),
            roughness_rms=(0.01, 0.03),
            rock_k=MOON_ROCK_K,
            goal_distance=(5.0, 8.0),
            max_wheel_speed=2.5,
            light_class="low-sun",
            **_MOON,
            **_LUNAR_CRATERS,
        ),
        Condition(
            name="lunar-polar-shadowed-crater",
            description="Permanently shadowed crater floor: scattered light only, headlight on",
            sun_elevation_deg=(-1.5, 0.0),
            solar_irradiance=(SOLAR_CONSTANT, SOLAR_CONSTANT),
            # secondary illumination scattered from sunlit crater walls: 0.01-0.5 W/m^2 (assumed;
            # order of magnitude of PSR floors in Mazarico et al. 2011, Icarus 211)
            ambient_irradiance=(0.01, 0.5),
            headlight_intensity=_HEADLIGHT,
            slope_deg=(0.0, 6.0),
            roughness_rms=(0.01, 0.03),
            rock_k=MOON_ROCK_K,
            goal_distance=(4.0, 7.0),
            max_wheel_speed=2.0,
            light_class="dark",
            **_MOON,
            **_LUNAR_CRATERS,
        ),
        Condition(
            name="lunar-night-headlight",
            description="Lunar night under earthshine, headlight on",
            sun_elevation_deg=(-30.0, -5.0),
            solar_irradiance=(SOLAR_CONSTANT, SOLAR_CONSTANT),
            ambient_irradiance=(0.005, EARTHSHINE_FULL_SOLAR_BAND),
            headlight_intensity=_HEADLIGHT,
            slope_deg=(0.0, 5.0),
            roughness_rms=(0.01, 0.03),
            rock_k=MOON_ROCK_K,
            goal_distance=(4.0, 7.0),
            max_wheel_speed=2.0,
            light_class="dark",
            **_MOON,
            **_LUNAR_CRATERS,
        ),
        Condition(
            name="mars-day",
            description="Mars daytime, clear-season dust",
            sun_elevation_deg=(25.0, 70.0),
            ambient_irradiance=(0.0, 0.0),
            dust_optical_depth=MARS_TAU_CLEAR,
            headlight_intensity=(0.0, 0.0),
            slope_deg=(0.0, 6.0),
            roughness_rms=(0.01, 0.04),
            crater_density_coeff=0.02,
            crater_exponent=2.0,
            crater_d_range=(1.0, 8.0),
            rock_k=MARS_ROCK_K,
            goal_distance=(5.0, 8.0),
            max_wheel_speed=2.5,
            **_MARS,
        ),
        Condition(
            name="mars-dust-storm",
            description="Mars global dust storm, tau 3-8, dim diffuse light",
            sun_elevation_deg=(20.0, 70.0),
            ambient_irradiance=(0.0, 0.0),
            dust_optical_depth=MARS_TAU_STORM,
            headlight_intensity=_HEADLIGHT,
            slope_deg=(0.0, 6.0),
            roughness_rms=(0.01, 0.04),
            crater_density_coeff=0.02,
            crater_exponent=2.0,
            crater_d_range=(1.0, 8.0),
            rock_k=MARS_ROCK_K,
            goal_distance=(5.0, 8.0),
            max_wheel_speed=2.5,
            light_class="dim",
            **_MARS,
        ),
        Condition(
            name="mars-dusk",
            description="Mars dusk, sun 0-8 deg, long shadows",
            sun_elevation_deg=(0.5, 8.0),
            ambient_irradiance=(0.0, 0.0),
            dust_optical_depth=MARS_TAU_CLEAR,
            headlight_intensity=_HEADLIGHT,
            slope_deg=(0.0, 6.0),
            roughness_rms=(0.01, 0.04),
            crater_density_coeff=0.02,
            crater_exponent=2.0,
            crater_d_range=(1.0, 8.0),
            rock_k=MARS_ROCK_K,
            goal_distance=(5.0, 8.0),
            max_wheel_speed=2.5,
            light_class="low-sun",
            **_MARS,
        ),
        Condition(
            name="mars-rock-field",
            description="Mars rock field (VL2-like abundance), daytime",
            sun_elevation_deg=(25.0, 70.0),
            ambient_irradiance=(0.0, 0.0),
            dust_optical_depth=MARS_TAU_CLEAR,
            headlight_intensity=(0.0, 0.0),
            slope_deg=(0.0, 4.0),
            roughness_rms=(0.01, 0.03),
            crater_density_coeff=0.01,
            crater_exponent=2.0,
            crater_d_range=(1.0, 5.0),
            rock_k=MARS_ROCKFIELD_K,
            goal_distance=(5.0, 8.0),
            max_wheel_speed=2.0,
            **_MARS,
        ),
        Condition(
            name="ceres-low-gravity",
            description="Ceres: 0.28 m/s^2, faint sun at 2.8 AU",
            body="ceres",
            gravity=(G_CERES, G_CERES),
            sun_elevation_deg=(15.0, 60.0),
            solar_irradiance=(SOLAR_CONSTANT / CERES_AU**2, SOLAR_CONSTANT / CERES_AU**2),
            ambient_irradiance=(0.0, 0.0),
            dust_optical_depth=(0.0, 0.0),
            headlight_intensity=(0.0, 0.0),
            friction=MOON_MU,
            density=MOON_DENSITY,
            slope_deg=(0.0, 5.0),
            roughness_rms=(0.01, 0.03),
            crater_density_coeff=LUNAR_EQUILIBRIUM_COEFF,
            crater_exponent=2.0,
            crater_d_range=(1.0, 8.0),
            rock_k=MOON_ROCK_K,
            goal_distance=(4.0, 6.0),
            max_wheel_speed=1.0,
            light_class="dim",
        ),
        Condition(
            name="asteroid-microgravity",
            description="Small body (Eros-like) milli-g surface: crawl speed, hop risk",
            body="eros",
            gravity=G_EROS_RANGE,
            sun_elevation_deg=(20.0, 60.0),
            solar_irradiance=(SOLAR_CONSTANT / EROS_AU**2, SOLAR_CONSTANT / EROS_AU**2),
            ambient_irradiance=(0.0, 0.0),
            dust_optical_depth=(0.0, 0.0),
            headlight_intensity=(0.0, 0.0),
            friction=MOON_MU,
            density=MOON_DENSITY,
            slope_deg=(0.0, 3.0),
            roughness_rms=(0.005, 0.015),
            crater_density_coeff=0.0,
            crater_exponent=2.0,
            crater_d_range=(1.0, 2.0),
            rock_k=(0.0, 0.0),
            goal_distance=(1.5, 2.5),
            max_wheel_speed=0.25,
        ),
        Condition(
            name="orbital-free-floating",
            description="Orbital 0 g free-floating workspace (no ground), station lighting",
            body="orbit",
            gravity=(0.0, 0.0),
            sun_elevation_deg=(20.0, 60.0),
            solar_irradiance=(SOLAR_CONSTANT, SOLAR_CONSTANT),
            ambient_irradiance=(0.0, 5.0),
            dust_optical_depth=(0.0, 0.0),
            headlight_intensity=_HEADLIGHT,
            friction=(0.5, 0.9),
            density=(1000.0, 1000.0),
            slope_deg=(0.0, 0.0),
            roughness_rms=(0.0, 0.0),
            crater_density_coeff=0.0,
            crater_exponent=2.0,
            crater_d_range=(1.0, 2.0),
            rock_k=(0.0, 0.0),
            goal_distance=(0.5, 1.0),
            max_wheel_speed=1.0,
            terrain=False,
        ),
    )
}


def get_condition(name: str) -> Condition:
    """Look up a condition by name with a helpful error."""
    try:
        return CONDITIONS[name]
    except KeyError:
        raise SpecError(
            f"condition: unknown name {name!r}; accepted names are {sorted(CONDITIONS)} "
            "(list them with `embodisim conditions`)"
        ) from None


def sample(condition: str | Condition, rng: np.random.Generator) -> ScenarioSpec:
    """Draw a ScenarioSpec from a named condition (``sample(condition, rng)``)."""
    cond = get_condition(condition) if isinstance(condition, str) else condition
    return cond.sample(rng)


def sample_seeded(condition: str, seed: int) -> ScenarioSpec:
    """Scene ``seed`` of ``condition``: a deterministic function of both."""
    return sample(condition, np.random.default_rng(seed))
