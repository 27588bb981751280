"""ScenarioSpec: the frozen, JSON-serializable description of one scene.

A spec fully determines the built scene: ``scenes.build.build(spec)`` is a pure
function of it (terrain noise, craters and rocks are drawn from a generator
seeded by ``spec.seed``). Every numeric field declares its unit and accepted
range in its dataclass metadata; :func:`validate` checks them and
:func:`from_dict` rejects unknown keys, both with errors that name the dotted
field path, the value and what is accepted.

JSON layout mirrors the dataclasses, plus a top-level ``schema_version``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


class SpecError(ValueError):
    """A ScenarioSpec (or its JSON) is invalid; the message names field, value and range."""


def _f(lo: float, hi: float, unit: str, doc: str, default: Any = dataclasses.MISSING) -> Any:
    """Declare a bounded numeric field (inclusive range)."""
    meta = {"range": (lo, hi), "unit": unit, "doc": doc}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def _choice(options: tuple[str, ...], doc: str, default: Any = dataclasses.MISSING) -> Any:
    meta = {"choices": options, "doc": doc}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


BODIES = ("earth", "moon", "mars", "ceres", "eros", "orbit")
ROBOTS = ("rover", "none")


@dataclass(frozen=True)
class BodySpec:
    """Celestial body and the gravity vector of the scene."""

    name: str = _choice(BODIES, "celestial body the scene is on")
    gravity: tuple[float, float, float] = _f(-20.0, 20.0, "m/s^2", "gravity vector, world frame")


@dataclass(frozen=True)
class CraterSpec:
    """Crater population: cumulative size-frequency N(>D) = density_coeff * D^-exponent per m^2."""

    density_coeff: float = _f(0.0, 1.0, "m^-2 m^b", "N(>1 m) per square metre")
    exponent: float = _f(1.0, 4.0, "-", "cumulative SFD power-law exponent b")
    d_min: float = _f(0.2, 50.0, "m", "smallest crater diameter generated")
    d_max: float = _f(0.2, 200.0, "m", "largest crater diameter generated")
    depth_ratio_min: float = _f(0.01, 0.3, "-", "depth/diameter of the most degraded craters")
    depth_ratio_max: float = _f(0.01, 0.3, "-", "depth/diameter of the freshest craters")


@dataclass(frozen=True)
class RockSpec:
    """Rock population after Golombek & Rapp (1997): F_k(D) = k exp(-q(k) D)."""

    abundance_k: float = _f(0.0, 0.4, "-", "total fractional area covered by rocks, k")
    d_min: float = _f(0.05, 2.0, "m", "smallest rock diameter generated")
    d_max: float = _f(0.05, 3.0, "m", "largest rock diameter generated")
    max_count: int = _f(0, 400, "-", "cap on generated rocks (keeps compile time bounded)")


def _opt(lo: float, hi: float, unit: str, doc: str) -> Any:
    """Declare an optional bounded numeric field (None, or every value in range)."""
    return field(default=None, metadata={"range": (lo, hi), "unit": unit, "doc": doc,
                                         "optional": True})


@dataclass(frozen=True)
class DemRef:
    """A real digital elevation model used as the terrain base (read by ``scenes.dem``).

    The scene's heightfield is the DEM resampled on the terrain grid, plus the
    procedural roughness, craters and rocks of the condition (detail below the
    DEM's pixel size). The file is checked against ``sha256`` whenever the
    scene is built: a changed or missing file is refused, never silently used.
    """

    path: str = field(metadata={"doc": "DEM file (.npy, .tif/.tiff, PDS3 .lbl/.img); "
                                       "relative paths are taken from the working directory"})
    sha256: str = field(metadata={"doc": "SHA-256 (hex) of the DEM data file"})
    resolution_m: float | None = _opt(1e-3, 1e6, "m", "pixel size when the file has none (.npy)")
    window: tuple[int, int, int, int] | None = _opt(
        0, 10**7, "px", "(row0, col0, nrows, ncols) sub-grid of the file; None = whole file"
    )
    center: tuple[float, float] | None = _opt(
        0.0, 10**7, "px", "scene origin as (row, col) in the window; None = window centre"
    )
    datum_m: float = _f(-1e5, 1e5, "m", "subtracted from every DEM height", 0.0)


@dataclass(frozen=True)
class TerrainSpec:
    """Heightfield terrain."""

    enabled: bool = field(default=True, metadata={"doc": "False for a free-floating workspace"})
    size_x: float = _f(2.0, 200.0, "m", "terrain extent along x", 24.0)
    size_y: float = _f(2.0, 200.0, "m", "terrain extent along y", 24.0)
    nrow: int = _f(16, 1024, "-", "heightfield rows (along y)", 96)
    ncol: int = _f(16, 1024, "-", "heightfield columns (along x)", 96)
    slope_deg: float = _f(0.0, 35.0, "deg", "regional planar slope", 0.0)
    slope_azimuth_deg: float = _f(-360.0, 360.0, "deg", "uphill direction, from +x toward +y", 0.0)
    roughness_rms: float = _f(0.0, 0.5, "m", "RMS of fractal base roughness", 0.02)
    hurst: float = _f(0.1, 1.0, "-", "Hurst exponent of the fractal roughness", 0.8)
    craters: CraterSpec | None = None
    rocks: RockSpec | None = None
    # Omitted from the JSON when None, so specs without a DEM keep their text and hash.
    dem: DemRef | None = field(default=None, metadata={"doc": "real DEM as the terrain base",
                                                      "omit_if_none": True})


@dataclass(frozen=True)
class LightingSpec:
    """Sun, secondary illumination and the robot's headlight."""

    sun_elevation_deg: float = _f(-90.0, 90.0, "deg", "sun elevation above the horizon")
    sun_azimuth_deg: float = _f(-360.0, 360.0, "deg", "sun azimuth, from +x toward +y")
    solar_irradiance: float = _f(
        0.0, 1500.0, "W/m^2", "irradiance normal to the sun, top of atmosphere"
    )
    ambient_irradiance: float = _f(0.0, 600.0, "W/m^2", "earthshine / skylight / scattered light")
    headlight_intensity: float = _f(
        0.0, 500.0, "W/sr", "robot headlight radiant intensity (0 = off)"
    )


@dataclass(frozen=True)
class AtmosphereSpec:
    """Dust / haze."""

    dust_optical_depth: float = _f(0.0, 12.0, "-", "vertical dust optical depth tau")


@dataclass(frozen=True)
class RegolithSpec:
    """Surface material."""

    friction: float = _f(0.05, 2.0, "-", "Coulomb friction coefficient wheel/rock-regolith")
    density: float = _f(500.0, 3500.0, "kg/m^3", "bulk density of the top layer")


@dataclass(frozen=True)
class RobotSpec:
    """Robot kind and start pose."""

    kind: str = _choice(ROBOTS, "robot placed in the scene")
    x: float = _f(-100.0, 100.0, "m", "start x", 0.0)
    y: float = _f(-100.0, 100.0, "m", "start y", 0.0)
    yaw_deg: float = _f(-360.0, 360.0, "deg", "start heading from +x", 0.0)
    max_wheel_speed: float = _f(0.05, 20.0, "rad/s", "wheel speed at full command", 3.0)


@dataclass(frozen=True)
class GoalSpec:
    """Goal region."""

    x: float = _f(-100.0, 100.0, "m", "goal centre x")
    y: float = _f(-100.0, 100.0, "m", "goal centre y")
    radius: float = _f(0.1, 10.0, "m", "goal region radius")


@dataclass(frozen=True)
class CameraSpec:
    """The robot's forward camera."""

    width: int = _f(16, 2048, "px", "image width", 64)
    height: int = _f(16, 2048, "px", "image height", 64)
    fovy_deg: float = _f(10.0, 150.0, "deg", "vertical field of view", 60.0)


@dataclass(frozen=True)
class ScenarioSpec:
    """One scene, completely."""

    condition: str = field(metadata={"doc": "name of the working condition it was sampled from"})
    seed: int = _f(0, 2**63 - 1, "-", "seed of the terrain/rock generator")
    body: BodySpec = field(metadata={"doc": "celestial body"})
    terrain: TerrainSpec = field(metadata={"doc": "terrain"})
    lighting: LightingSpec = field(metadata={"doc": "illumination"})
    atmosphere: AtmosphereSpec = field(metadata={"doc": "dust and haze"})
    regolith: RegolithSpec = field(metadata={"doc": "surface material"})
    robot: RobotSpec = field(metadata={"doc": "robot"})
    goal: GoalSpec = field(metadata={"doc": "goal"})
    camera: CameraSpec = field(default_factory=CameraSpec, metadata={"doc": "camera"})

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict including ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, **_to_plain(self)}

    def to_json(self, indent: int | None = 2) -> str:
        """Canonical JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    def spec_hash(self) -> str:
        """SHA-256 of the canonical compact JSON: identifies the scene."""
        return hashlib.sha256(self.to_json(indent=None).encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the JSON atomically."""
        from scenes._io import atomic_write_text

        atomic_write_text(Path(path), self.to_json() + "\n")

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ScenarioSpec:
        """Parse a dict produced by :meth:`to_dict`; strict about keys and version."""
        if not isinstance(data, dict):
            raise SpecError(f"spec: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise SpecError(
                f"schema_version: got {version!r}, this embodisim reads version {SCHEMA_VERSION}; "
                "regenerate the spec with `embodisim scene sample`"
            )
        return _from_plain(ScenarioSpec, data, "")

    @staticmethod
    def from_json(text: str) -> ScenarioSpec:
        """Parse JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec: not valid JSON ({exc})") from None
        return ScenarioSpec.from_dict(data)

    @staticmethod
    def load(path: str | Path) -> ScenarioSpec:
        """Read a spec JSON file."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"spec file {str(p)!r} does not exist")
        return ScenarioSpec.from_json(p.read_text())


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {
            f.name: _to_plain(getattr(obj, f.name))
            for f in _fields(type(obj))
            if not (f.metadata.get("omit_if_none") and getattr(obj, f.name) is None)
        }
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # typing.get_type_hints re-evaluates the string annotations on every call: cached
    # per class, parsing a spec costs a fifth of what it did.
    return typing.get_type_hints(cls)


@functools.cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _from_plain(cls: type, data: Any, path: str) -> Any:
    where = path or "spec"
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected an object, got {data!r}")
    names = {f.name for f in _fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; accepted keys are {sorted(names)}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in _fields(cls):
        fpath = f"{path}.{f.name}" if path else f.name
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{fpath}: missing required field")
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name], fpath)
    try:
        return cls(**kwargs)
    except SpecError:
        raise
    except TypeError as exc:  # pragma: no cover - guarded by the key checks above
        raise SpecError(f"{where}: {exc}") from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, path)
    if dataclasses.is_dataclass(tp):
        return _from_plain(tp, value, path)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise SpecError(f"{path}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(
            _convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"{path}: expected a string, got {value!r}")
        return value
    raise SpecError(f"{path}: unsupported type {tp!r}")  # pragma: no cover


def _check_value(value: Any, meta: Any, path: str) -> None:
    if value is None and meta.get("optional"):
        return
    if "choices" in meta:
        if value not in meta["choices"]:
            raise SpecError(f"{path}: got {value!r}; accepted values are {list(meta['choices'])}")
        return
    if "range" not in meta:
        return
    lo, hi = meta["range"]
    unit = meta.get("unit", "")
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise SpecError(f"{path}: expected a number, got {v!r}")
        if not math.isfinite(v) or not lo <= v <= hi:
            raise SpecError(
                f"{path}: value {v!r} is outside the accepted range [{lo}, {hi}] {unit}".rstrip()
            )


def validate(obj: Any, path: str = "") -> None:
    """Check ranges, choices and cross-field rules of a spec dataclass tree.

    Raises:
        SpecError: naming the dotted field path, the value and the accepted range.
    """
    for f in _fields(type(obj)):
        value = getattr(obj, f.name)
        fpath = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            validate(value, fpath)
            continue
        _check_value(value, f.metadata, fpath)
    _cross_checks(obj, path)


def _cross_checks(obj: Any, path: str) -> None:
    p = f"{path}." if path else ""
    if isinstance(obj, CraterSpec):
        if obj.d_min >= obj.d_max:
            raise SpecError(f"{p}d_min: {obj.d_min} must be smaller than {p}d_max ({obj.d_max})")
        if obj.depth_ratio_min > obj.depth_ratio_max:
            raise SpecError(
                f"{p}depth_ratio_min: {obj.depth_ratio_min} must not exceed "
                f"{p}depth_ratio_max ({obj.depth_ratio_max})"
            )
    if isinstance(obj, DemRef):
        if not obj.path:
            raise SpecError(f"{p}path: empty; give the DEM file path")
        if len(obj.sha256) != 64 or any(ch not in "0123456789abcdef" for ch in obj.sha256):
            raise SpecError(
                f"{p}sha256: got {obj.sha256!r}; accepted: 64 lowercase hex digits (the SHA-256 "
                "of the DEM file, e.g. from `sha256sum FILE`)"
            )
        if obj.window is not None and min(obj.window[2], obj.window[3]) < 2:
            raise SpecError(f"{p}window: {obj.window}; nrows and ncols must be >= 2")
    if isinstance(obj, RockSpec) and obj.d_min >= obj.d_max:
        raise SpecError(f"{p}d_min: {obj.d_min} must be smaller than {p}d_max ({obj.d_max})")
    if isinstance(obj, ScenarioSpec):
        t = obj.terrain
        hx, hy = t.size_x / 2, t.size_y / 2
        if t.enabled:
            for name, (x, y) in (
                ("robot", (obj.robot.x, obj.robot.y)),
                ("goal", (obj.goal.x, obj.goal.y)),
            ):
                if abs(x) > hx - 1.0 or abs(y) > hy - 1.0:
                    raise SpecError(
                        f"{name}: position ({x}, {y}) must lie at least 1 m inside the terrain "
                        f"(|x| <= {hx - 1.0}, |y| <= {hy - 1.0}); enlarge terrain.size_x/size_y"
                    )
        if t.dem is not None and not t.enabled:
            raise SpecError("terrain.dem: set, but terrain.enabled is false; a DEM needs terrain")
        if obj.robot.kind == "rover" and not t.enabled:
            raise SpecError(
                "robot.kind: 'rover' needs terrain.enabled = true (a rover needs ground)"
            )


def light_level(spec: ScenarioSpec) -> float:
    """Irradiance on a horizontal surface at the scene [W/m^2].

    Direct sun attenuated by dust (Beer-Lambert along the slant path,
    ``exp(-tau / sin(elevation))``) projected on the horizontal, plus the
    ambient term. The headlight is not included (it depends on range).
    """
    lt = spec.lighting
    elev = math.radians(lt.sun_elevation_deg)
    direct = 0.0
    if elev > 0.0:
        tau = spec.atmosphere.dust_optical_depth
        direct = lt.solar_irradiance * math.exp(-tau / max(math.sin(elev), 1e-3)) * math.sin(elev)
    return direct + lt.ambient_irradiance
