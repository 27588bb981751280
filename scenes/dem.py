"""Real digital elevation models (DEMs) as the terrain base of a scene.

Planetary simulators put procedural detail on top of orbital elevation data:
the DEM gives the real relief down to its pixel size, and craters, fractal
roughness and rocks *below* that resolution are added by ``scenes.terrain``
and ``scenes.build`` (the same models as for fully procedural scenes).

Readers (each returns a :class:`DemGrid`, heights in metres, row 0 = first
line of the file, i.e. north for map-projected products):

* ``.npy``: a 2-D array of heights [m]; its pixel size is not in the file, so
  ``resolution_m`` must be given.
* GeoTIFF (``.tif``/``.tiff``): through the optional reader ``tifffile``
  (extra ``geo``). The pixel size comes from the ModelPixelScale tag of a
  projected CRS (metres); for a geographic CRS (degrees) or a plain TIFF
  pass ``resolution_m``. GDAL_NODATA pixels become NaN.
* PDS3 (``.IMG`` with a detached ``.LBL``, or an attached label): the label is
  parsed, not assumed: ``^IMAGE`` pointer, LINES, LINE_SAMPLES, SAMPLE_TYPE,
  SAMPLE_BITS, SCALING_FACTOR, OFFSET, MISSING_CONSTANT and the
  IMAGE_MAP_PROJECTION keywords (MAP_SCALE, MAP_RESOLUTION,
  LINE/SAMPLE_PROJECTION_OFFSET, CENTER_LATITUDE/LONGITUDE, A_AXIS_RADIUS).
  Values are ``OFFSET + SCALING_FACTOR * DN`` (PDS3 Standards Reference,
  ch. 12 / Planetary Science Data Dictionary); when OFFSET equals the
  reference-sphere radius (A_AXIS_RADIUS), as in LRO LOLA GDR products,
  that radius is removed so the heights are relative to the sphere.

Grid of a scene (``scenes.terrain``): row 0 at ``y = -size_y/2`` (south),
column 0 at ``x = -size_x/2`` (west). :func:`terrain_base` flips the DEM rows
accordingly and samples it bilinearly; where a terrain grid point falls on a
DEM pixel centre the real height is kept exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from scenes.spec import DemRef, ScenarioSpec

__all__ = ["DemError", "DemGrid", "DemRef"]  # DemRef lives in scenes.spec (TerrainSpec.dem)

# PDS3 SAMPLE_TYPE -> numpy byte order and kind (PDS3 Standards Reference, Appendix C).
_PDS3_TYPES: dict[str, tuple[str, str]] = {
    "MSB_INTEGER": (">", "i"),
    "INTEGER": (">", "i"),
    "SUN_INTEGER": (">", "i"),
    "MAC_INTEGER": (">", "i"),
    "LSB_INTEGER": ("<", "i"),
    "PC_INTEGER": ("<", "i"),
    "VAX_INTEGER": ("<", "i"),
    "MSB_UNSIGNED_INTEGER": (">", "u"),
    "UNSIGNED_INTEGER": (">", "u"),
    "SUN_UNSIGNED_INTEGER": (">", "u"),
    "MAC_UNSIGNED_INTEGER": (">", "u"),
    "LSB_UNSIGNED_INTEGER": ("<", "u"),
    "PC_UNSIGNED_INTEGER": ("<", "u"),
    "VAX_UNSIGNED_INTEGER": ("<", "u"),
    "IEEE_REAL": (">", "f"),
    "FLOAT": (">", "f"),
    "REAL": (">", "f"),
    "SUN_REAL": (">", "f"),
    "MAC_REAL": (">", "f"),
    "PC_REAL": ("<", "f"),
}
# Tolerance when recognising OFFSET as the reference radius [m].
_RADIUS_MATCH_M = 1.0


class DemError(ValueError):
    """A DEM file, its label or a request on it is invalid (the message says how to fix it)."""


@dataclass(frozen=True)
class DemGrid:
    """A height grid with its pixel size.

    Row 0 is the first line of the file (north for map-projected DEMs);
    column 0 the first sample (west).
    """

    heights: np.ndarray  # (rows, cols) float64 heights [m]; NaN where the file has no data
    dx: float  # column spacing (east-west) [m]
    dy: float  # row spacing (north-south) [m]
    source: str = ""  # file it was read from
    sha256: str = ""  # SHA-256 of the data file
    info: dict[str, Any] = field(default_factory=dict)  # label / projection metadata
    origin: tuple[int, int] = (0, 0)  # (row, col) of heights[0, 0] in the source file

    def __post_init__(self) -> None:
        h = np.asarray(self.heights)
        if h.ndim != 2 or min(h.shape) < 2:
            raise DemError(f"heights: shape {h.shape}; accepted: a 2-D grid of at least 2 x 2")
        for name in ("dx", "dy"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise DemError(f"{name}: got {v!r}; accepted: a pixel size > 0 m")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return (int(self.heights.shape[0]), int(self.heights.shape[1]))

    @property
    def extent_m(self) -> tuple[float, float]:
        """``(x, y)`` distance between the first and last pixel centres [m]."""
        return ((self.shape[1] - 1) * self.dx, (self.shape[0] - 1) * self.dy)

    def window(self, row0: int, col0: int, nrows: int, ncols: int) -> DemGrid:
        """A sub-grid (rows ``row0 .. row0+nrows-1``, columns likewise)."""
        r, c = self.shape
        if not (0 <= row0 and nrows >= 2 and row0 + nrows <= r and 0 <= col0 and ncols >= 2
                and col0 + ncols <= c):
            raise DemError(
                f"window: rows {row0}..{row0 + nrows - 1}, cols {col0}..{col0 + ncols - 1} do not "
                f"fit the {r} x {c} grid; accepted: 0 <= row0, row0 + nrows <= {r}, 0 <= col0, "
                f"col0 + ncols <= {c}, nrows and ncols >= 2"
            )
        h = self.heights[row0 : row0 + nrows, col0 : col0 + ncols]
        info = dict(self.info)
        dx = self.dx
        if info.get("projection") == "SIMPLE CYLINDRICAL":
            # east-west pixel size shrinks with cos(latitude) at the window centre
            lat_c, _ = self.latlon(row0 + (nrows - 1) / 2.0, col0)
            dx = float(info["map_scale_m"]) * max(math.cos(math.radians(lat_c)), 1e-6)
        return dataclasses.replace(
            self, heights=h, dx=dx, origin=(self.origin[0] + row0, self.origin[1] + col0),
            info=info,
        )

    def latlon(self, row: float, col: float) -> tuple[float, float]:
        """Latitude and longitude [deg] of a pixel centre (0-based, of this grid).

        Only for PDS3 SIMPLE CYLINDRICAL products:
        ``lat = CENTER_LATITUDE + (LINE_PROJECTION_OFFSET - line) / MAP_RESOLUTION`` and
        ``lon = CENTER_LONGITUDE + (sample - SAMPLE_PROJECTION_OFFSET) / MAP_RESOLUTION``
        with 0-based line/sample of the file (PDS3 DSMAP.CAT conventions).
        """
        p = self.info
        if p.get("projection") != "SIMPLE CYLINDRICAL":
            raise DemError(
                f"latlon: DEM {self.source!r} has projection {p.get('projection')!r}; "
                "latitude/longitude are known only for PDS3 SIMPLE CYLINDRICAL products"
            )
        line = row + self.origin[0]
        sample = col + self.origin[1]
        res = float(p["map_resolution_pix_per_deg"])
        lat = float(p["center_latitude"]) + (float(p["line_projection_offset"]) - line) / res
        lon = float(p["center_longitude"]) + (sample - float(p["sample_projection_offset"])) / res
        return lat, lon

    def pixel_of(self, lat: float, lon: float) -> tuple[int, int]:
        """Nearest (row, col) of this grid to a latitude/longitude [deg] (cylindrical only)."""
        p = self.info
        lat0, lon0 = self.latlon(0, 0)
        res = float(p["map_resolution_pix_per_deg"])
        row = int(round((lat0 - lat) * res))
        col = int(round(((lon - lon0) % 360.0) * res))
        return row, col


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")


def load_npy(
    path: str | os.PathLike[str], resolution_m: float, resolution_y_m: float | None = None
) -> DemGrid:
    """Read a ``.npy`` height grid [m] with the given pixel size [m] (row 0 = north)."""
    p = Path(path)
    _require_file(p, "DEM file")
    if resolution_m is None or not (math.isfinite(resolution_m) and resolution_m > 0):
        raise DemError(
            f"resolution_m: got {resolution_m!r} for {p.name}; a .npy DEM carries no pixel size, "
            "pass it in metres (e.g. 1.01 for a HiRISE DTM)"
        )
    h = np.load(p, allow_pickle=False)
    if h.ndim != 2 or not np.issubdtype(h.dtype, np.number):
        raise DemError(f"{p.name}: array of shape {h.shape} and dtype {h.dtype}; "
                       "accepted: a 2-D numeric height grid in metres")
    return DemGrid(
        heights=h.astype(np.float64), dx=float(resolution_m),
        dy=float(resolution_y_m if resolution_y_m is not None else resolution_m),
        source=str(p), sha256=_sha256(p), info={"format": "npy"},
    )


def load_geotiff(path: str | os.PathLike[str], resolution_m: float | None = None) -> DemGrid:
    """Read a single-band GeoTIFF DEM through ``tifffile`` (optional extra ``geo``)."""
    p = Path(path)
    _require_file(p, "DEM file")
    try:
        import tifffile
    except ImportError as exc:
        raise DemError(
            "GeoTIFF DEMs need the optional reader tifffile; install it with "
            "`pip install 'embodisim[geo]'` (or `pip install tifffile`), or convert the DEM to .npy"
        ) from exc
    with tifffile.TiffFile(p) as tif:
        page = tif.pages[0]
        h = page.asarray()
        tags = {t.name: t.value for t in page.tags.values()}
        geo = tif.geotiff_metadata or {}
    if h.ndim == 3 and h.shape[-1] == 1:
        h = h[..., 0]
    if h.ndim != 2:
        raise DemError(f"{p.name}: image of shape {h.shape}; accepted: a single-band height grid")
    h = h.astype(np.float64)
    nodata = tags.get("GDAL_NODATA")
    if nodata is not None:
        try:
            h[h == float(str(nodata).strip("\x00 "))] = np.nan
        except ValueError:
            pass
    scale = geo.get("ModelPixelScale") or tags.get("ModelPixelScaleTag")
    model_type = geo.get("GTModelTypeGeoKey")
    projected = model_type is not None and int(model_type) == 1
    info: dict[str, Any] = {"format": "geotiff", "model_type": None if model_type is None
                            else int(model_type)}
    if resolution_m is not None:
        dx = dy = float(resolution_m)
    elif scale is not None and projected:
        dx, dy = float(scale[0]), float(scale[1])
    else:
        raise DemError(
            f"resolution_m: {p.name} has no pixel size in metres (ModelPixelScale "
            f"{scale!r}, model type {model_type!r}: needs a projected CRS); pass resolution_m"
        )
    return DemGrid(heights=h, dx=dx, dy=dy, source=str(p), sha256=_sha256(p), info=info)


def parse_pds3_label(text: str) -> dict[str, Any]:
    """Parse PDS3 ODL label text into nested dicts (``OBJECT`` blocks become keys).

    Values: quoted strings (multi-line), numbers with optional ``<unit>`` (kept
    as ``(value, unit)`` when a unit is present), ``{...}`` / ``(...)``
    sequences, bare symbols. ``/* */`` comments are ignored.
    """
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    tokens = re.finditer(
        r'^[ \t]*(?:(?P<key>\^?[A-Za-z_][A-Za-z0-9_:]*)[ \t]*=[ \t]*'
        r'(?P<val>"[^"]*"|\'[^\']*\'|\{[^}]*\}|\([^)]*\)|[^\r\n]*)'
        r"|(?P<end>END)[ \t]*$)",
        text,
        flags=re.MULTILINE,
    )
    root: dict[str, Any] = {}
    stack = [root]
    for m in tokens:
        if m.group("end") and m.group("key") is None:
            break
        key, raw = m.group("key"), (m.group("val") or "").strip()
        if key is None:
            continue
        if key == "OBJECT" or key == "GROUP":
            child: dict[str, Any] = {}
            name = raw.strip('"')
            stack[-1][name] = child
            stack.append(child)
            continue
        if key in ("END_OBJECT", "END_GROUP"):
            if len(stack) > 1:
                stack.pop()
            continue
        stack[-1][key] = _odl_value(raw)
    return root


def _odl_value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith('"') or raw.startswith("'"):
        return " ".join(raw.strip("\"'").split())
    if raw.startswith("{") or raw.startswith("("):
        items = [s.strip() for s in raw[1:-1].split(",") if s.strip()]
        return tuple(_odl_value(s) for s in items)
    m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:<([^>]*)>)?", raw)
    if m:
        num = float(m.group(1))
        value: Any = int(num) if re.fullmatch(r"[-+]?\d+", m.group(1)) else num
        return (value, m.group(2).strip()) if m.group(2) else value
    m16 = re.fullmatch(r"16#([0-9A-Fa-f]+)#", raw)
    if m16:
        return int(m16.group(1), 16)
    return raw


def _num(v: Any) -> float:
    """Number of an ODL value, ignoring its unit."""
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str):
        v = v[0]
    return float(v)


def _length_m(v: Any, default_unit: str) -> float:
    value = _num(v)
    unit = (v[1] if isinstance(v, tuple) else default_unit).lower()
    if unit in ("km", "km/pixel", "km/pix", "kilometers", "kilometer"):
        return value * 1000.0
    return value


def _find(label: dict[str, Any], name: str) -> dict[str, Any] | None:
    """First nested OBJECT called ``name`` (depth first)."""
    for k, v in label.items():
        if isinstance(v, dict):
            if k == name:
                return v
            hit = _find(v, name)
            if hit is not None:
                return hit
    return None


def _pointer(label: dict[str, Any], name: str) -> tuple[str | None, int]:
    """``^IMAGE`` pointer: (file or None for attached, byte offset)."""
    def search(d: dict[str, Any]) -> Any:
        if f"^{name}" in d:
            return d[f"^{name}"]
        for v in d.values():
            if isinstance(v, dict):
                hit = search(v)
                if hit is not None:
                    return hit
        return None

    ptr = search(label)
    record_bytes = int(_num(label.get("RECORD_BYTES", _find_key(label, "RECORD_BYTES") or 0)))
    if ptr is None:
        return None, 0
    if isinstance(ptr, str):
        return ptr, 0
    if isinstance(ptr, int):  # record number (1-based) in an attached label file
        return None, (ptr - 1) * record_bytes
    if isinstance(ptr, tuple):
        if len(ptr) == 2 and isinstance(ptr[1], str) and ptr[1].upper() == "BYTES":
            return None, int(ptr[0]) - 1
        fname = str(ptr[0])
        if len(ptr) >= 2:
            off = ptr[1]
            if isinstance(off, tuple) and str(off[1]).upper() == "BYTES":
                return fname, int(off[0]) - 1
            return fname, (int(_num(off)) - 1) * record_bytes
        return fname, 0
    raise DemError(f"^{name}: cannot read pointer {ptr!r}")


def _find_key(d: dict[str, Any], key: str) -> Any:
    if key in d:
        return d[key]
    for v in d.values():
        if isinstance(v, dict):
            hit = _find_key(v, key)
            if hit is not None:
                return hit
    return None


def load_pds3(path: str | os.PathLike[str]) -> DemGrid:
    """Read a PDS3 image DEM from a ``.LBL`` or an ``.IMG`` file.

    The label is the ``.LBL`` itself, the ``.LBL`` next to an ``.IMG``, or a label
    attached at the start of the ``.IMG``. See the module docstring for the
    keywords used.
    """
    p = Path(path)
    _require_file(p, "PDS3 file")
    if p.suffix.lower() == ".lbl":
        label_path, label_text = p, p.read_text(errors="replace")
    else:
        head = p.open("rb").read(64)
        if head.lstrip().startswith(b"PDS_VERSION_ID"):
            label_path = p
            label_text = p.read_bytes()[: 1 << 20].decode("ascii", errors="replace")
        else:
            cands = [p.with_suffix(s) for s in (".LBL", ".lbl")]
            found = [c for c in cands if c.is_file()]
            if not found:
                raise DemError(f"{p.name}: no attached label and no {p.stem}.LBL next to it; "
                               "a PDS3 image needs its label")
            label_path, label_text = found[0], found[0].read_text(errors="replace")
    label = parse_pds3_label(label_text)
    img = _find(label, "IMAGE")
    if img is None:
        raise DemError(f"{label_path.name}: no OBJECT = IMAGE in the label")
    fname, offset = _pointer(label, "IMAGE")
    data_path = label_path if fname is None else _locate(label_path.parent, fname)
    try:
        lines, samples = int(_num(img["LINES"])), int(_num(img["LINE_SAMPLES"]))
        stype, bits = str(img["SAMPLE_TYPE"]).upper(), int(_num(img["SAMPLE_BITS"]))
    except KeyError as exc:
        raise DemError(f"{label_path.name}: IMAGE object lacks {exc.args[0]}") from None
    if stype not in _PDS3_TYPES:
        raise DemError(f"SAMPLE_TYPE: {stype!r} in {label_path.name}; accepted: {sorted(_PDS3_TYPES)}")
    if bits not in (8, 16, 32, 64):
        raise DemError(f"SAMPLE_BITS: {bits} in {label_path.name}; accepted: 8, 16, 32, 64")
    order, kind = _PDS3_TYPES[stype]
    dtype = np.dtype(f"{order}{kind}{bits // 8}")
    if int(_num(img.get("BANDS", 1))) != 1:
        raise DemError(f"BANDS: {img.get('BANDS')} in {label_path.name}; a DEM has one band")
    count = lines * samples
    size = data_path.stat().st_size
    if offset + count * dtype.itemsize > size:
        raise DemError(
            f"{data_path.name}: {size} bytes, but the label asks for {lines} x {samples} "
            f"{stype}/{bits} samples from byte {offset}; file truncated or label wrong"
        )
    dn = np.fromfile(data_path, dtype=dtype, count=count, offset=offset).reshape(lines, samples)
    scale = float(_num(img.get("SCALING_FACTOR", 1.0)))
    off = float(_num(img.get("OFFSET", 0.0)))
    values = dn.astype(np.float64) * scale
    missing = img.get("MISSING_CONSTANT")
    info: dict[str, Any] = {
        "format": "pds3",
        "label": str(label_path),
        "product_id": str(label.get("PRODUCT_ID", "")),
        "target": str(label.get("TARGET_NAME", "")),
        "sample_type": stype,
        "sample_bits": bits,
        "scaling_factor": scale,
        "offset_label": off,
        "unit": str(img.get("UNIT", "")),
    }
    proj = _find(label, "IMAGE_MAP_PROJECTION")
    radius_m = None
    dx = dy = None
    if proj is not None:
        ptype = str(proj.get("MAP_PROJECTION_TYPE", "")).upper()
        info["projection"] = ptype
        if "A_AXIS_RADIUS" in proj:
            radius_m = _length_m(proj["A_AXIS_RADIUS"], "km")
            info["a_axis_radius_m"] = radius_m
        if "MAP_SCALE" in proj:
            ms = proj["MAP_SCALE"]
            unit = ms[1].lower() if isinstance(ms, tuple) else "km/pixel"
            scale_m = _num(ms) * (1000.0 if unit.startswith("km") else 1.0)
            info["map_scale_m"] = scale_m
            dx = dy = scale_m
        for key, name in (
            ("MAP_RESOLUTION", "map_resolution_pix_per_deg"),
            ("LINE_PROJECTION_OFFSET", "line_projection_offset"),
            ("SAMPLE_PROJECTION_OFFSET", "sample_projection_offset"),
            ("CENTER_LATITUDE", "center_latitude"),
            ("CENTER_LONGITUDE", "center_longitude"),
        ):
            if key in proj:
                info[name] = _num(proj[key])
        if ptype == "SIMPLE CYLINDRICAL" and dx is not None:
            # east-west spacing at the centre latitude of the whole grid
            lat_mid = info.get("center_latitude", 0.0)
            dx = dx * max(math.cos(math.radians(lat_mid)), 1e-6)
    if dx is None or dy is None:
        raise DemError(f"{label_path.name}: no IMAGE_MAP_PROJECTION MAP_SCALE; pixel size unknown")
    if radius_m is not None and abs(off - radius_m) <= _RADIUS_MATCH_M:
        info["datum"] = f"sphere of radius {radius_m:.1f} m (OFFSET removed)"
        heights = values
    else:
        info["datum"] = "label OFFSET applied"
        heights = values + off
    if missing is not None:
        heights[dn == int(_num(missing))] = np.nan
    return DemGrid(heights=heights, dx=float(dx), dy=float(dy), source=str(data_path),
                   sha256=_sha256(data_path), info=info)


def _locate(folder: Path, fname: str) -> Path:
    direct = folder / fname
    if direct.is_file():
        return direct
    for c in folder.iterdir():  # PDS file names are case-insensitive
        if c.name.lower() == fname.lower():
            return c
    raise FileNotFoundError(f"PDS3 data file {fname!r} named by the label is not in {folder}")


def load_dem(path: str | os.PathLike[str], resolution_m: float | None = None) -> DemGrid:
    """Read a DEM by file type: ``.npy``, ``.tif``/``.tiff`` or PDS3 ``.lbl``/``.img``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        if resolution_m is None:
            raise DemError(f"resolution_m: required for .npy DEM {Path(path).name} (pixel size, m)")
        return load_npy(path, resolution_m)
    if suffix in (".tif", ".tiff"):
        return load_geotiff(path, resolution_m)
    if suffix in (".lbl", ".img"):
        dem = load_pds3(path)
        if resolution_m is not None:
            dem = dataclasses.replace(dem, dx=float(resolution_m), dy=float(resolution_m))
        return dem
    raise DemError(
        f"DEM {Path(path).name}: unknown type {suffix!r}; accepted: .npy (with resolution_m), "
        ".tif/.tiff (extra geo), PDS3 .lbl/.img"
    )


# ---------------------------------------------------------------------------------------------
# DEM -> terrain base of a scene
# ---------------------------------------------------------------------------------------------


def terrain_base(
    dem: DemGrid,
    size_x: float,
    size_y: float,
    nrow: int,
    ncol: int,
    center: tuple[float, float] | None = None,
    datum_m: float = 0.0,
) -> np.ndarray:
    """Heights of ``dem`` on a scene's terrain grid, shape ``(nrow, ncol)`` [m].

    The scene patch (``size_x`` by ``size_y`` metres) is centred on DEM pixel
    coordinates ``center = (row, col)`` (default: the grid centre); DEM rows
    are flipped so that the first file line (north) is at ``+y``. Sampling is
    bilinear; at scene grid points that coincide with DEM pixel centres the
    real height is returned exactly (minus ``datum_m``).

    Raises:
        DemError: If the patch leaves the DEM or touches missing data.
    """
    rows, cols = dem.shape
    rc = ((rows - 1) / 2.0, (cols - 1) / 2.0) if center is None else center
    xs = np.linspace(-0.5 * size_x, 0.5 * size_x, ncol)
    ys = np.linspace(-0.5 * size_y, 0.5 * size_y, nrow)
    col = rc[1] + xs / dem.dx
    row = rc[0] - ys / dem.dy  # +y is north = smaller row index
    tol = 1e-9
    if col[0] < -tol or col[-1] > cols - 1 + tol or row[-1] < -tol or row[0] > rows - 1 + tol:
        raise DemError(
            f"terrain {size_x} x {size_y} m centred at DEM pixel {rc} leaves the "
            f"{rows} x {cols} DEM ({dem.extent_m[0]:.1f} x {dem.extent_m[1]:.1f} m between pixel "
            "centres); make the terrain smaller or move the centre"
        )
    # snap coordinates that are integers up to rounding, so grid-aligned points hit pixels exactly
    col = np.where(np.abs(col - np.round(col)) < 1e-9, np.round(col), col)
    row = np.where(np.abs(row - np.round(row)) < 1e-9, np.round(row), row)
    rr, cc = np.meshgrid(np.clip(row, 0, rows - 1), np.clip(col, 0, cols - 1), indexing="ij")
    out = ndimage.map_coordinates(dem.heights, [rr.ravel(), cc.ravel()], order=1, mode="nearest")
    out = out.reshape(nrow, ncol)
    if not np.all(np.isfinite(out)):
        raise DemError(
            f"DEM {dem.source!r}: the terrain patch touches missing data (NaN); choose another "
            "window or fill the gaps first"
        )
    return out - datum_m


def fit_spec_to_dem(spec: ScenarioSpec, dem: DemGrid, max_cells: int = 1024) -> ScenarioSpec:
    """``spec`` with its terrain grid laid exactly on the DEM pixels (slope from the DEM).

    The terrain becomes ``(cols - 1) * dx`` by ``(rows - 1) * dy`` metres with one
    hfield point per DEM pixel, so the real heights are kept at every grid point;
    the regional planar slope is set to 0 (the DEM has the real slope); craters,
    roughness and rocks of the condition are kept as sub-resolution detail.

    Raises:
        DemError: If the DEM grid does not fit the TerrainSpec limits.
    """
    rows, cols = dem.shape
    sx, sy = dem.extent_m
    if rows > max_cells or cols > max_cells:
        raise DemError(f"DEM {rows} x {cols}: at most {max_cells} per side; take a window")
    terrain = dataclasses.replace(spec.terrain, size_x=sx, size_y=sy, nrow=rows, ncol=cols,
                                  slope_deg=0.0)
    return dataclasses.replace(spec, terrain=terrain)


def base_from_ref(ref: DemRef, spec: ScenarioSpec, folder: str | os.PathLike[str] = ".") -> np.ndarray:
    """Terrain base of ``spec`` from the DEM named by ``ref`` (what ``build`` would call)."""
    t = spec.terrain
    dem = dem_from_ref(ref, folder)
    return terrain_base(dem, t.size_x, t.size_y, t.nrow, t.ncol, ref.center, ref.datum_m)


def build_scene_with_dem(
    spec: ScenarioSpec,
    dem: DemGrid,
    center: tuple[float, float] | None = None,
    datum_m: float = 0.0,
) -> Any:
    """Build ``spec`` with ``dem`` as its terrain base (returns a ``scenes.build.Scene``)."""
    from scenes.build import build_scene

    t = spec.terrain
    if not t.enabled:
        raise DemError("terrain.enabled: false; a DEM base needs terrain")
    base = terrain_base(dem, t.size_x, t.size_y, t.nrow, t.ncol, center, datum_m)
    return build_scene(spec, base_heights=base)


def dem_from_ref(ref: DemRef, folder: str | os.PathLike[str] = ".") -> DemGrid:
    """Load and check the DEM named by a :class:`DemRef` (relative paths from ``folder``)."""
    p = Path(ref.path)
    if not p.is_absolute():
        p = Path(folder) / p
    dem = load_dem(p, ref.resolution_m)
    if ref.sha256 and dem.sha256 != ref.sha256:
        raise DemError(
            f"dem.sha256: {p} hashes to {dem.sha256[:12]}, the spec expects {ref.sha256[:12]}; "
            "the DEM file changed - restore it or regenerate the scene"
        )
    if ref.window is not None:
        dem = dem.window(*ref.window)
    return dem


def dem_ref_for(
    path: str | os.PathLike[str],
    resolution_m: float | None = None,
    window: tuple[int, int, int, int] | None = None,
    center: tuple[float, float] | None = None,
    datum_m: float = 0.0,
) -> DemRef:
    """A :class:`DemRef` naming ``path`` (made absolute) with the file's current SHA-256.

    The file is read once here, so a DEM that does not load is refused now rather
    than at build time.
    """
    p = Path(path).resolve()
    dem = load_dem(p, resolution_m)
    return DemRef(path=str(p), sha256=dem.sha256, resolution_m=resolution_m, window=window,
                  center=center, datum_m=datum_m)


# Per process: loaded DEMs keyed by the file's identity (path, size, inode, times), so a
# library build reads and hashes each DEM once, while a file changed on disk is read again
# and checked against the spec's SHA-256.
_DEM_CACHE: dict[tuple[Any, ...], DemGrid] = {}
_BASE_CACHE: dict[tuple[Any, ...], np.ndarray] = {}
_CACHE_MAX = 8


def _cached_dem(p: Path, resolution_m: float | None) -> DemGrid:
    st = p.stat()
    key = (str(p), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, resolution_m)
    dem = _DEM_CACHE.get(key)
    if dem is None:
        dem = load_dem(p, resolution_m)
        if len(_DEM_CACHE) >= _CACHE_MAX:
            _DEM_CACHE.clear()
        _DEM_CACHE[key] = dem
    return dem


def base_for_spec(spec: ScenarioSpec) -> np.ndarray:
    """Terrain base heights of a spec naming a DEM (``spec.terrain.dem``), ``(nrow, ncol)`` [m].

    Raises:
        DemError: Naming ``terrain.dem.path`` when the file is missing or unreadable,
            ``terrain.dem.sha256`` when its content changed, or the window/centre
            when the scene patch does not fit the DEM.
    """
    t = spec.terrain
    ref = t.dem
    if ref is None:
        raise DemError("terrain.dem: not set; this spec has no DEM base")
    p = Path(ref.path)
    if not p.is_file():
        raise DemError(
            f"terrain.dem.path: {ref.path!r} does not exist (working directory {os.getcwd()}); "
            "restore the DEM file at that path or regenerate the scene"
        )
    try:
        dem = _cached_dem(p, ref.resolution_m)
    except (DemError, FileNotFoundError, OSError) as exc:
        raise DemError(f"terrain.dem.path: {ref.path!r} could not be read: {exc}") from None
    if dem.sha256 != ref.sha256:
        raise DemError(
            f"terrain.dem.sha256: {ref.path} hashes to {dem.sha256[:16]}..., the spec expects "
            f"{ref.sha256[:16]}...; the DEM file changed - restore the original or regenerate "
            "the scene"
        )
    key = (dem.sha256, ref.resolution_m, ref.window, ref.center, ref.datum_m,
           t.size_x, t.size_y, t.nrow, t.ncol)
    base = _BASE_CACHE.get(key)
    if base is None:
        grid = dem.window(*ref.window) if ref.window is not None else dem
        base = terrain_base(grid, t.size_x, t.size_y, t.nrow, t.ncol, ref.center, ref.datum_m)
        base.setflags(write=False)
        if len(_BASE_CACHE) >= _CACHE_MAX:
            _BASE_CACHE.clear()
        _BASE_CACHE[key] = base
    return base


def place_on_dem(spec: ScenarioSpec, ref: DemRef, rng: np.random.Generator) -> ScenarioSpec:
    """``spec`` laid on a random spot of the DEM named by ``ref`` (a library scene over a DEM).

    The scene keeps its size and grid; its centre is drawn uniformly (two draws
    from ``rng``) among the DEM positions (pixel units, in ``ref.window``) where
    the whole patch lies on the DEM. The planar regional slope of the condition
    is set to 0: the DEM carries the real slope. Craters, roughness and rocks of
    the condition stay, as relief below the DEM's resolution.

    Raises:
        DemError: If the scene patch is larger than the DEM (window).
    """
    t = spec.terrain
    if not t.enabled:
        raise DemError(f"terrain.enabled: false for condition {spec.condition!r}; a DEM base "
                       "needs terrain (drop this condition from a DEM library)")
    dem = _cached_dem(Path(ref.path), ref.resolution_m)
    if dem.sha256 != ref.sha256:
        raise DemError(f"terrain.dem.sha256: {ref.path} hashes to {dem.sha256[:16]}..., "
                       f"expected {ref.sha256[:16]}...; the DEM file changed")
    if ref.window is not None:
        dem = dem.window(*ref.window)
    rows, cols = dem.shape
    hx, hy = 0.5 * t.size_x / dem.dx, 0.5 * t.size_y / dem.dy  # half extents [px]
    if cols - 1 < 2 * hx or rows - 1 < 2 * hy:
        raise DemError(
            f"terrain.size_x/size_y: {t.size_x} x {t.size_y} m does not fit the DEM "
            f"({dem.extent_m[0]:.1f} x {dem.extent_m[1]:.1f} m between pixel centres); "
            "use a larger DEM window or a condition with smaller terrain"
        )
    u = rng.uniform(0.0, 1.0, 2)
    center = (float(hy + u[0] * (rows - 1 - 2 * hy)), float(hx + u[1] * (cols - 1 - 2 * hx)))
    terrain = dataclasses.replace(t, slope_deg=0.0, dem=dataclasses.replace(ref, center=center))
    return dataclasses.replace(spec, terrain=terrain)
