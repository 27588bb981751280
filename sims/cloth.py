"""Cloth as a MuJoCo flex: named fabrics with measured constants, and a builder for MjSpec.

A woven fabric is described by what textile labs measure: areal density, the
tensile stiffness per unit width (KES-F tensile test: load ``Fm`` at extension
``EMT``), the caliper thickness, the bending rigidity per unit width (KES-F
``B``) and Poisson's ratio. MuJoCo's 2D flex is a Saint Venant-Kirchhoff shell
whose membrane stiffness is ``young * thickness`` and whose plate bending
rigidity is ``D = young * thickness**3 / (12 (1 - poisson**2))`` (MuJoCo 4
XMLreference, ``flex/elasticity``). A real fabric bends one to two orders of
magnitude more easily than a solid plate of its caliper thickness (yarns slide
and the fibres are twisted), so the flex is given the *equivalent shell*: the
thickness and modulus that reproduce both the measured membrane stiffness
``E t`` and the measured bending rigidity ``B``::

    t_eq = sqrt(12 (1 - nu**2) B / (E t)),    E_eq = E t / t_eq

(the standard equivalent-single-layer mapping for thin shells). The hang test
in ``tests/test_cloth.py`` checks the membrane part against the closed form.

Flex elasticity in MuJoCo 4 is integrated implicitly only by the ``discrete``
integrator (``implicit``/``implicitfast`` refuse to compile it), so
:func:`add_cloth` requires ``spec.option.integrator == mjINT_DISCRETE``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import mujoco
import numba
import numpy as np

# KES-F unit conversions (Kawabata 1980, "The Standardization and Analysis of Hand
# Evaluation", 2nd ed., Textile Machinery Society of Japan): loads in gf/cm, bending
# rigidity in gf*cm^2/cm.
GF = 9.80665e-3  # [N] one gram-force (3rd CGPM 1901 standard gravity x 1 g)
KES_FM = 500.0 * GF / 0.01  # [N/m] KES-FB1 standard maximum tensile load, 500 gf/cm
GF_CM2_PER_CM = GF * 1e-4 / 1e-2  # [N*m] one gf*cm^2/cm of bending rigidity per width


@dataclass(frozen=True)
class Fabric:
    """Mechanical constants of one woven fabric (isotropic approximation).

    ``young`` is the secant tensile modulus on the caliper ``thickness``:
    ``young = Fm / (EMT * thickness)`` from a KES-FB1 test, so ``young *
    thickness`` is the measured tensile stiffness per unit width [N/m].
    """

    name: str  # fabric label
    areal_density: float  # [kg/m^2] mass per area (ISO 3801 / KES W)
    young: float  # [Pa] secant tensile modulus on the caliper thickness (KES-FB1)
    poisson: float  # [-] in-plane Poisson ratio, in [0, 0.5)
    thickness: float  # [m] caliper thickness (KES-FB3 T at 0.5 gf/cm^2)
    bending_rigidity: float  # [N*m] bending rigidity per unit width (KES-FB2 B)
    damping: float = 0.002  # [s] Rayleigh stiffness-proportional damping, assumed
    friction: float = 0.5  # [-] cloth-on-solid Coulomb friction, assumed (KES MIU ~0.2-0.4 cloth/steel)

    def __post_init__(self) -> None:
        checks = [
            ("areal_density", self.areal_density, 0.01, 2.0, "kg/m^2 (fabrics are ~0.05-1)"),
            ("young", self.young, 1e3, 1e10, "Pa"),
            ("poisson", self.poisson, 0.0, 0.4999, "- (MuJoCo accepts [0, 0.5))"),
            ("thickness", self.thickness, 1e-5, 0.01, "m"),
            ("bending_rigidity", self.bending_rigidity, 1e-9, 1e-2, "N*m per width"),
            ("damping", self.damping, 0.0, 1.0, "s"),
            ("friction", self.friction, 0.0, 3.0, "-"),
        ]
        for field, value, lo, hi, unit in checks:
            if not (np.isfinite(value) and lo <= value <= hi):
                raise ValueError(
                    f"Fabric.{field}: got {value!r}; accepted range [{lo}, {hi}] {unit}. "
                    "Check the unit (SI: kg, m, Pa, N*m) of the measured value."
                )

    @property
    def tensile_stiffness(self) -> float:
        """Membrane stiffness per unit width ``E t`` [N/m]."""
        return self.young * self.thickness

    @property
    def flex_thickness(self) -> float:
        """Thickness [m] of the equivalent shell that matches both ``E t`` and ``B``."""
        return math.sqrt(12.0 * (1.0 - self.poisson**2) * self.bending_rigidity
                         / self.tensile_stiffness)

    @property
    def flex_young(self) -> float:
        """Young's modulus [Pa] of the equivalent shell (``E t / t_eq``)."""
        return self.tensile_stiffness / self.flex_thickness

    def scaled(self, *, density: float = 1.0, stiffness: float = 1.0, bending: float = 1.0,
               friction: float = 1.0) -> Fabric:
        """Copy with multiplied areal density, tensile modulus, bending rigidity, friction."""
        return replace(self, areal_density=self.areal_density * density,
                       young=self.young * stiffness,
                       bending_rigidity=self.bending_rigidity * bending,
                       friction=self.friction * friction)


def _from_kes(name: str, *, weight_g_m2: float, emt_percent: float, thickness_mm: float,
              b_gf_cm2_cm: float, poisson: float) -> Fabric:
    """Fabric from KES-F readings (W [g/m^2], EMT [%] at 500 gf/cm, T [mm], B [gf cm^2/cm])."""
    t = thickness_mm * 1e-3
    return Fabric(name=name, areal_density=weight_g_m2 * 1e-3,
                  young=KES_FM / (emt_percent / 100.0) / t, poisson=poisson, thickness=t,
                  bending_rigidity=b_gf_cm2_cm * GF_CM2_PER_CM)


FABRICS: Mapping[str, Fabric] = MappingProxyType({
    # Denim, 100 % cotton 3/1 twill: KES-F fabric "A" of Hindawi J. Textiles 2016, art. 4614168
    # ("Regenerated cellulose-based denim fabric for tropical regions", Table 5): EMT 5.515 %,
    # T 1.066 mm, B 0.172 gf cm^2/cm. Its printed weight (104 "mg/cm^2") is inconsistent with a
    # 1 mm denim, so the areal density is assumed 350 g/m^2 (10.3 oz/yd^2, a mid-weight denim).
    # Poisson ratio 0.25 assumed (woven fabrics 0.1-0.5 depending on direction).
    "denim": _from_kes("denim", weight_g_m2=350.0, emt_percent=5.515, thickness_mm=1.066,
                       b_gf_cm2_cm=0.172, poisson=0.25),
    # Cotton plain-weave shirting: representative KES-F values inside the ranges Kawabata
    # (1980, op. cit.) tabulates for men's shirting: EMT 4-10 %, B 0.05-0.15 gf cm^2/cm,
    # T 0.25-0.5 mm, W 100-150 g/m^2. Point values chosen mid-range (assumed).
    "cotton": _from_kes("cotton", weight_g_m2=125.0, emt_percent=6.0, thickness_mm=0.35,
                        b_gf_cm2_cm=0.08, poisson=0.2),
    # Polyester plain-weave (filament, dress/lining weight): lower extensibility and weight than
    # cotton; KES-F EMT ~3-5 %, B ~0.03-0.08 gf cm^2/cm, T ~0.2-0.3 mm, W ~80-110 g/m^2
    # (ranges as summarized for polyester suiting/dress fabrics in Kawabata 1980; assumed
    # mid-range point values).
    "polyester": _from_kes("polyester", weight_g_m2=95.0, emt_percent=4.0, thickness_mm=0.25,
                           b_gf_cm2_cm=0.05, poisson=0.2),
})


def get_fabric(name: str) -> Fabric:
    """Named fabric, with an error listing the accepted names."""
    try:
        return FABRICS[name]
    except KeyError:
        raise ValueError(f"fabric: got {name!r}; accepted: {sorted(FABRICS)}") from None


def sample_fabric(rng: np.random.Generator, names: Sequence[str] | None = None) -> Fabric:
    """Random fabric: a named base with lot-to-lot variation of its constants.

    Distributions (assumed, of the order of inter-lab KES-F scatter):
    base ~ uniform over ``names``; areal density x U(0.85, 1.15); tensile modulus
    x logU(0.7, 1.4); bending rigidity x logU(0.6, 1.6); friction x U(0.8, 1.2).
    """
    names = list(names) if names is not None else sorted(FABRICS)
    base = get_fabric(names[int(rng.integers(len(names)))])
    return base.scaled(
        density=float(rng.uniform(0.85, 1.15)),
        stiffness=float(np.exp(rng.uniform(np.log(0.7), np.log(1.4)))),
        bending=float(np.exp(rng.uniform(np.log(0.6), np.log(1.6)))),
        friction=float(rng.uniform(0.8, 1.2)),
    )


@dataclass(frozen=True)
class ClothHandles:
    """Names of what :func:`add_cloth` created (look ids up by name after compiling)."""

    name: str  # flex name
    count: tuple[int, int]  # vertices along x and y (grid index = ix * ny + iy)
    size: tuple[float, float]  # [m] side lengths
    mass: float  # [kg] total mass = areal density x area
    vertex_bodies: tuple[str, ...]  # body name of every vertex, in flex vertex order
    pinned: tuple[int, ...]  # vertex indices without joints (welded to the parent)

    def corner_indices(self) -> tuple[int, int, int, int]:
        """Vertex indices of the corners (-x-y, -x+y, +x-y, +x+y) in the flat layout."""
        nx, ny = self.count
        return (0, ny - 1, (nx - 1) * ny, nx * ny - 1)


def add_cloth(
    spec: mujoco.MjSpec,
    name: str,
    fabric: Fabric,
    size: tuple[float, float] = (0.3, 0.3),
    count: tuple[int, int] = (20, 20),
    pos: Sequence[float] = (0.0, 0.0, 0.0),
    quat: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
    radius: float = 0.003,
    self_collide: bool = True,
    contype: int = 1,
    conaffinity: int = 1,
    pin: Sequence[int] = (),
    rgba: Sequence[float] = (0.25, 0.4, 0.75, 1.0),
) -> ClothHandles:
    """Add a rectangular cloth (2D flex grid, one body with three slide joints per vertex).

    Built with ``MjsBody.make_flex`` (the MjSpec form of ``<flexcomp type="grid"
    dim="2" dof="full">``). Units: ``young``/``thickness`` of the flex are the
    equivalent shell of ``fabric`` (see module docstring); the flexcomp mass is
    ``areal_density * size[0] * size[1]``, spread equally over the vertices.

    Args:
        spec: model under construction; its integrator must be ``discrete``.
        name: flex name; vertex bodies are ``<name>_<i>``, their joints
            ``<name>_<i>_x|y|z``.
        fabric: material constants.
        size: side lengths [m] along the local x and y axes.
        count: vertices along x and y (>= 2 each).
        pos: centre of the grid in the world frame [m].
        quat: orientation of the grid (w, x, y, z); the grid lies in its local xy plane.
        radius: collision radius of the flex elements [m].
        self_collide: enable flex self-collision (mid-phase BVH).
        contype: collision type bits.
        conaffinity: collision affinity bits.
        pin: vertex indices to weld to the world (their joints are removed).
        rgba: colour.

    Returns:
        The names and sizes of what was created.
    """
    if spec.option.integrator != mujoco.mjtIntegrator.mjINT_DISCRETE:
        raise ValueError(
            f"spec.option.integrator: got {spec.option.integrator!r}; flex elasticity needs "
            "mjINT_DISCRETE in MuJoCo 4 (implicit integrators refuse it, Euler needs a tiny "
            "timestep). Set spec.option.integrator = mujoco.mjtIntegrator.mjINT_DISCRETE."
        )
    nx, ny = int(count[0]), int(count[1])
    if nx < 2 or ny < 2:
        raise ValueError(f"count: got {tuple(count)}; accepted: two integers >= 2 (vertices per side)")
    if not (size[0] > 0 and size[1] > 0):
        raise ValueError(f"size: got {tuple(size)}; accepted: two positive side lengths in m")
    n = nx * ny
    bad = [i for i in pin if not 0 <= int(i) < n]
    if bad:
        raise ValueError(f"pin: vertex indices {bad} out of range; accepted: 0..{n - 1}")
    mass = fabric.areal_density * size[0] * size[1]
    flex = spec.worldbody.make_flex(
        name, type="grid", dim=2, dof="full", count=[nx, ny, 1],
        spacing=[size[0] / (nx - 1), size[1] / (ny - 1), 1.0],
        radius=radius, mass=mass, pos=list(pos), quat=list(quat), elastic2d=3,
    )
    flex.condim = 3
    flex.contype = contype
    flex.conaffinity = conaffinity
    flex.selfcollide = (mujoco.mjtFlexSelf.mjFLEXSELF_AUTO if self_collide
                        else mujoco.mjtFlexSelf.mjFLEXSELF_NONE)
    flex.rgba = list(rgba)
    bodies = tuple(f"{name}_{i}" for i in range(n))
    pinned = tuple(sorted({int(i) for i in pin}))
    for i, bname in enumerate(bodies):
        body = spec.body(bname)
        joints = list(body.joints)
        if i in pinned:
            for j in joints:
                spec.delete(j)
            continue
        for j, axis in zip(joints, "xyz", strict=True):
            j.name = f"{bname}_{axis}"
    handles = ClothHandles(name=name, count=(nx, ny), size=(float(size[0]), float(size[1])),
                           mass=float(mass), vertex_bodies=bodies, pinned=pinned)
    set_fabric(spec, handles, fabric)
    return handles


def set_fabric(spec: mujoco.MjSpec, handles: ClothHandles, fabric: Fabric) -> ClothHandles:
    """Give an existing cloth the constants of ``fabric`` (recompile the spec afterwards).

    Sets the flex ``young``/``poisson``/``thickness`` (equivalent shell),
    Rayleigh ``damping`` and friction, and the vertex masses (areal density x
    area, equal shares as ``flexcomp`` distributes them).

    Returns:
        The handles with the new total mass.
    """
    flex = spec.flex(handles.name)
    flex.young = fabric.flex_young
    flex.poisson = fabric.poisson
    flex.thickness = fabric.flex_thickness
    flex.damping = fabric.damping
    flex.friction = [fabric.friction, 0.005, 0.0001]
    mass = fabric.areal_density * handles.size[0] * handles.size[1]
    per_vertex = mass / len(handles.vertex_bodies)
    for bname in handles.vertex_bodies:
        spec.body(bname).mass = per_vertex
    return replace(handles, mass=float(mass))


def _flex_id(model: mujoco.MjModel, handles: ClothHandles) -> int:
    f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, handles.name)
    if f < 0:
        raise ValueError(f"handles.name: no flex named {handles.name!r} in this model")
    return int(f)


def vertex_body_ids(model: mujoco.MjModel, handles: ClothHandles) -> np.ndarray:
    """Body id of every cloth vertex, in flex vertex order."""
    f = _flex_id(model, handles)
    adr, num = model.flex_vertadr[f], model.flex_vertnum[f]
    return np.asarray(model.flex_vertbodyid[adr:adr + num], dtype=np.int64)


def vertex_positions(model: mujoco.MjModel, data: mujoco.MjData, handles: ClothHandles) -> np.ndarray:
    """World positions of the cloth vertices (N x 3, a copy), valid after ``mj_kinematics``."""
    f = _flex_id(model, handles)
    adr, num = model.flex_vertadr[f], model.flex_vertnum[f]
    return data.flexvert_xpos[adr:adr + num].copy()


def flex_triangles(model: mujoco.MjModel, handles: ClothHandles) -> np.ndarray:
    """Triangle vertex indices (T x 3, local to the flex)."""
    f = _flex_id(model, handles)
    num = model.flex_elemnum[f]
    dadr = model.flex_elemdataadr[f]
    return model.flex_elem[dadr:dadr + 3 * num].reshape(num, 3).astype(np.int64)


def covered_area(xy: np.ndarray, triangles: np.ndarray, resolution: float = 0.002) -> float:
    """Area [m^2] of the union of the triangles' projections on the xy plane.

    The plane is rasterized on cells of ``resolution`` m (a cell is covered when
    its centre lies in a triangle, edges included); a cell counts once however
    many layers cover it (the SoftGym coverage measure). Compiled: each triangle
    is tested only on the cells of its own bounding box, so a crumpled cloth with
    a few stretched triangles costs what a flat one does; the cell decisions are
    those of :func:`covered_area_reference` (same arithmetic; tests).
    """
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    lo = xy.min(axis=0) - resolution
    shape = np.ceil((xy.max(axis=0) + resolution - lo) / resolution).astype(int) + 1
    n = _raster_union(xy, np.ascontiguousarray(triangles, dtype=np.int64), float(lo[0]),
                      float(lo[1]), int(shape[0]), int(shape[1]), float(resolution))
    return float(n) * resolution**2


@numba.njit(cache=True, nogil=True)
def _raster_union(xy, tri, lo_x, lo_y, n_i, n_j, res):  # pragma: no cover - compiled
    """Number of raster cells whose centre lies in at least one triangle."""
    covered = np.zeros((n_i, n_j), dtype=np.bool_)
    for t in range(tri.shape[0]):
        ax, ay = xy[tri[t, 0], 0], xy[tri[t, 0], 1]
        bx, by = xy[tri[t, 1], 0], xy[tri[t, 1], 1]
        cx, cy = xy[tri[t, 2], 0], xy[tri[t, 2], 1]
        min_x, max_x = min(ax, bx, cx), max(ax, bx, cx)
        min_y, max_y = min(ay, by, cy), max(ay, by, cy)
        i0 = int(math.floor((min_x - lo_x) / res))
        j0 = int(math.floor((min_y - lo_y) / res))
        wi = int(math.ceil((max_x - min_x) / res)) + 2
        wj = int(math.ceil((max_y - min_y) / res)) + 2
        for i in range(max(i0, 0), min(i0 + wi, n_i)):
            x = lo_x + (i + 0.5) * res
            for j in range(max(j0, 0), min(j0 + wj, n_j)):
                if covered[i, j]:
                    continue
                y = lo_y + (j + 0.5) * res
                d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by)
                d2 = (x - cx) * (by - cy) - (bx - cx) * (y - cy)
                d3 = (x - ax) * (cy - ay) - (cx - ax) * (y - ay)
                neg = d1 < 0 or d2 < 0 or d3 < 0
                pos = d1 > 0 or d2 > 0 or d3 > 0
                if not (neg and pos):
                    covered[i, j] = True
    return np.count_nonzero(covered)


def covered_area_reference(xy: np.ndarray, triangles: np.ndarray, resolution: float = 0.002) -> float:
    """NumPy form of :func:`covered_area` (the reference it is tested against).

    The plane is rasterized on cells of ``resolution`` m (a cell is covered when
    its centre lies in a triangle); a cell counts once however many layers cover
    it (the SoftGym coverage measure). Vectorized over triangles: each is tested
    on the cells of a window as large as the largest triangle's bounding box.
    """
    p = np.asarray(xy, dtype=np.float64)[triangles]  # T x 3 x 2
    lo = xy.min(axis=0) - resolution
    shape = np.ceil((xy.max(axis=0) + resolution - lo) / resolution).astype(int) + 1
    start = np.floor((p.min(axis=1) - lo) / resolution).astype(int)  # T x 2
    w = int(np.ceil(float(np.max(p.max(axis=1) - p.min(axis=1))) / resolution)) + 2
    off = np.arange(w)
    i = start[:, 0, None] + off  # T x w
    j = start[:, 1, None] + off
    X = (lo[0] + (i + 0.5) * resolution)[:, :, None]  # T x w x 1
    Y = (lo[1] + (j + 0.5) * resolution)[:, None, :]  # T x 1 x w

    def side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ax, ay = a[:, 0, None, None], a[:, 1, None, None]
        bx, by = b[:, 0, None, None], b[:, 1, None, None]
        return (X - bx) * (ay - by) - (ax - bx) * (Y - by)

    d1, d2, d3 = side(p[:, 0], p[:, 1]), side(p[:, 1], p[:, 2]), side(p[:, 2], p[:, 0])
    inside = ~(((d1 < 0) | (d2 < 0) | (d3 < 0)) & ((d1 > 0) | (d2 > 0) | (d3 > 0)))
    t, a_, b_ = np.nonzero(inside)
    ii, jj = i[t, a_], j[t, b_]
    ok = (ii >= 0) & (ii < shape[0]) & (jj >= 0) & (jj < shape[1])
    covered = np.zeros(shape, dtype=bool)
    covered[ii[ok], jj[ok]] = True
    return float(np.count_nonzero(covered)) * resolution**2
