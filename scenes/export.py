"""Export a scene as MJCF (with asset files), USD (with colliders) or GLB.

* **MJCF**: ``scene.xml`` written by ``MjSpec.to_xml`` plus an ``assets/``
  folder: the heightfield in MuJoCo's binary hfield format (int32 nrow, int32
  ncol, float32 data: exactly the values MuJoCo stores) and each rock as a
  binary STL (float32, as MuJoCo stores mesh vertices). Reloading it with
  ``mujoco.MjSpec.from_file`` compiles to the same model. A ``.zip`` target
  packs the same files (``mujoco.MjSpec.from_zip`` reads it).
* **USD**: through MuJoCo's own MJCF->USD converter (the ``usdMjcf`` file-format
  plugin of ``mujoco-usd``, extra ``usd``), which writes UsdPhysics schemas:
  ``PhysicsScene`` with the scene's gravity, ``PhysicsCollisionAPI`` and
  ``PhysicsMeshCollisionAPI`` on every colliding geom, physics materials with
  the regolith friction. Two adaptations make the stage load in an Isaac Sim
  based platform (InternUtopia): the heightfield, which the converter does not
  support, becomes a triangle mesh of the same grid points with collision
  approximation ``none`` (a static triangle-mesh collider; rocks keep
  ``convexHull``), and the rover is left out (MuJoCo 4.0's converter writes only
  one joint per body; the platform brings its own robot). The rover start pose,
  goal and gravity are stored in the layer's ``customLayerData["embodisim"]``.
* **GLB**: every visible geom of the compiled model as a trimesh mesh (terrain,
  rocks, rover parts, goal beacon) in one glTF binary, for viewers and
  renderers.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

import mujoco
import numpy as np

from scenes import terrain as terr
from scenes._io import atomic_write_bytes
from scenes.build import Scene, build_scene
from scenes.spec import ScenarioSpec

Format = Literal["mjcf", "usd", "glb"]
ASSET_DIR = "assets"
USD_SUFFIXES = (".usda", ".usd", ".usdc")


def _scene(spec_or_scene: ScenarioSpec | Scene, base_heights: np.ndarray | None = None) -> Scene:
    if isinstance(spec_or_scene, Scene):
        return spec_or_scene
    return build_scene(spec_or_scene, base_heights=base_heights)


def _readable(path: Path) -> None:
    """Give a published file the usual permissions (temp files are created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def export_scene(
    spec: ScenarioSpec | Scene,
    fmt: str,
    out: str | os.PathLike[str],
    base_heights: np.ndarray | None = None,
) -> Path:
    """Export ``spec`` (or an already built scene) in format ``fmt`` to ``out``.

    Returns:
        The path written (folder for MJCF, file otherwise).

    Raises:
        ValueError: Unknown format or an output name that does not fit it.
    """
    if fmt == "mjcf":
        return export_mjcf(spec, out, base_heights)
    if fmt == "usd":
        return export_usd(spec, out, base_heights)
    if fmt == "glb":
        return export_glb(spec, out, base_heights)
    raise ValueError(f"--format: got {fmt!r}; accepted: 'mjcf', 'usd', 'glb'")


# ---------------------------------------------------------------------------------------------
# MJCF
# ---------------------------------------------------------------------------------------------


def _stl_bytes(verts: np.ndarray, faces: np.ndarray) -> bytes:
    import trimesh

    mesh = trimesh.Trimesh(vertices=verts, faces=faces, process=False)
    return bytes(mesh.export(file_type="stl"))


def _hfield_bytes(nrow: int, ncol: int, data: np.ndarray) -> bytes:
    """MuJoCo custom binary heightfield: int32 nrow, int32 ncol, float32 data (row-major)."""
    return (
        np.array([nrow, ncol], dtype="<i4").tobytes()
        + np.asarray(data, dtype="<f4").reshape(nrow * ncol).tobytes()
    )


def mjcf_files(scene: Scene | mujoco.MjSpec) -> dict[str, bytes]:
    """The files of the MJCF export: ``{"scene.xml": ..., "assets/<name>": ...}``.

    The scene's MjSpec is copied and its inline mesh/hfield data moved to files
    (the XML writer keeps 6 significant digits; the binary assets keep float32).
    """
    ms = (scene.mjspec if isinstance(scene, Scene) else scene).copy()
    files: dict[str, bytes] = {}
    for mesh in ms.meshes:
        if mesh.file:
            continue
        verts = np.asarray(mesh.uservert, dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(mesh.userface, dtype=np.int64).reshape(-1, 3)
        name = f"{mesh.name}.stl"
        files[f"{ASSET_DIR}/{name}"] = _stl_bytes(verts, faces)
        mesh.file = name
        mesh.uservert = []
        mesh.userface = []
    for hf in ms.hfields:
        if hf.file:
            continue
        name = f"{hf.name}.bin"
        files[f"{ASSET_DIR}/{name}"] = _hfield_bytes(hf.nrow, hf.ncol, np.asarray(hf.userdata))
        hf.file = name
        hf.userdata = []
        hf.nrow = 0  # read from the file
        hf.ncol = 0
    ms.compiler.meshdir = ASSET_DIR
    # to_xml compiles the spec: give it the asset bytes through MuJoCo's virtual file system
    ms.assets = {name.split("/", 1)[1]: data for name, data in files.items()}
    files["scene.xml"] = ms.to_xml().encode()
    return files


def export_mjcf(
    spec: ScenarioSpec | Scene, out: str | os.PathLike[str], base_heights: np.ndarray | None = None
) -> Path:
    """Write ``scene.xml`` and ``assets/`` into folder ``out`` (or a ``.zip`` of them)."""
    scene = _scene(spec, base_heights)
    files = mjcf_files(scene)
    dest = Path(out)
    if dest.suffix.lower() == ".zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in sorted(files.items()):
                zf.writestr(name, data)
        atomic_write_bytes(dest, buf.getvalue())
        _readable(dest)
        return dest
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"--out: {dest} exists and is not a folder; MJCF export writes a folder "
                         "(scene.xml + assets/) or a .zip")
    # Write into a fresh sibling folder, then swap it in: readers never see half an export.
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name, data in files.items():
            p = tmp / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old.{os.getpid()}")
            os.replace(dest, old)
        _readable(tmp)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------------------------------------
# USD
# ---------------------------------------------------------------------------------------------


def _require_usd() -> Any:
    try:
        import mujoco._usd  # noqa: F401  (registers the usdMjcf file-format plugin)
        from pxr import Usd
    except ImportError as exc:
        raise ValueError(
            "USD export needs MuJoCo's USD support and OpenUSD: install the extra with "
            "`pip install 'embodisim[usd]'` (mujoco[usd] and usd-core)"
        ) from exc
    return Usd


def terrain_mesh(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of the terrain grid: vertices at the heightfield points (world frame).

    Returns:
        ``(vertices (nrow*ncol, 3), faces (2*(nrow-1)*(ncol-1), 3))``, counter-clockwise
        seen from above (normals up).
    """
    assert scene.heights is not None
    t = scene.spec.terrain
    x, y = terr.grid_axes(t.size_x, t.size_y, t.nrow, t.ncol)
    xx, yy = np.meshgrid(x, y)
    verts = np.stack([xx.ravel(), yy.ravel(), scene.heights.ravel()], axis=1)
    idx = np.arange(t.nrow * t.ncol).reshape(t.nrow, t.ncol)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return verts, faces


def _usd_ready_spec(scene: Scene) -> mujoco.MjSpec:
    """Copy of the scene's MjSpec that MuJoCo's USD converter can write completely."""
    ms = scene.mjspec.copy()
    for s in list(ms.sensors):
        ms.delete(s)
    for a in list(ms.actuators):
        ms.delete(a)
    for light in list(ms.lights):
        if light.name.startswith("rover"):
            ms.delete(light)
    try:
        rover = ms.body("rover")
    except (KeyError, ValueError):
        rover = None
    if rover is not None:
        ms.delete(rover)
    if scene.heights is not None:
        hf_geom = ms.geom("terrain")
        material = hf_geom.material
        friction = list(hf_geom.friction)
        ms.delete(hf_geom)
        ms.delete(ms.hfield("terrain"))
        verts, faces = terrain_mesh(scene)
        ms.add_mesh(
            name="terrain",
            uservert=verts.ravel().tolist(),
            userface=faces.ravel().tolist(),
            inertia=mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL,
        )
        ms.worldbody.add_geom(
            name="terrain",
            type=mujoco.mjtGeom.mjGEOM_MESH,
            meshname="terrain",
            material=material,
            friction=friction,
            condim=3,
        )
    return ms


def export_usd(
    spec: ScenarioSpec | Scene, out: str | os.PathLike[str], base_heights: np.ndarray | None = None
) -> Path:
    """Write a USD stage (``.usda`` text, ``.usdc``/``.usd`` binary) with colliders."""
    usd = _require_usd()
    from pxr import Sdf, UsdGeom, UsdPhysics, Vt

    dest = Path(out)
    if dest.suffix.lower() not in USD_SUFFIXES:
        raise ValueError(f"--out: {dest.name} for USD must end in {', '.join(USD_SUFFIXES)}")
    scene = _scene(spec, base_heights)
    ms = _usd_ready_spec(scene)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".usd_export.", dir=dest.parent) as tmpd:
        for name, blob in mjcf_files(ms).items():
            (Path(tmpd) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmpd) / name).write_bytes(blob)
        xml = Path(tmpd) / "scene.xml"
        stage = usd.Stage.Open(str(xml))
        staged = Path(tmpd) / f"stage{dest.suffix.lower()}"
        stage.Export(str(staged))
        del stage
        out_stage = usd.Stage.Open(str(staged))
        root = out_stage.GetDefaultPrim()
        terrain_prim = None
        for prim in out_stage.Traverse():
            if prim.GetName() == "Mesh" and prim.GetParent().GetName() == "terrain":
                terrain_prim = prim
        if scene.heights is not None:
            if terrain_prim is None:
                raise RuntimeError("USD export: the converter wrote no terrain mesh")
            UsdPhysics.CollisionAPI.Apply(terrain_prim)
            mc = UsdPhysics.MeshCollisionAPI.Apply(terrain_prim)
            mc.CreateApproximationAttr().Set(UsdPhysics.Tokens.none)
        s = scene.spec
        start_z = scene.surface_z(s.robot.x, s.robot.y)
        layer = out_stage.GetRootLayer()
        data = dict(layer.customLayerData)
        goal_z = scene.surface_z(s.goal.x, s.goal.y)
        data["embodisim"] = {
            "condition": s.condition,
            "spec_hash": s.spec_hash(),
            "gravity_m_s2": Vt.DoubleArray([float(v) for v in s.body.gravity]),
            "robot_start_xyz_yaw_deg": Vt.DoubleArray([s.robot.x, s.robot.y, start_z,
                                                       s.robot.yaw_deg]),
            "goal_xyz_radius": Vt.DoubleArray([s.goal.x, s.goal.y, goal_z, s.goal.radius]),
            "terrain_prim": str(terrain_prim.GetPath()) if terrain_prim is not None else "",
            "n_rocks": int(scene.n_rocks),
        }
        layer.customLayerData = data
        UsdGeom.SetStageUpAxis(out_stage, UsdGeom.Tokens.z)
        UsdGeom.SetStageMetersPerUnit(out_stage, 1.0)
        if root:
            out_stage.SetDefaultPrim(root)
        layer.Save()
        del out_stage
        Sdf.Layer.Find(str(staged))  # drop cached handles before the move
        os.replace(staged, dest)
    return dest


def usd_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a USD stage holds for physics: colliders, terrain, gravity (for checks and tests)."""
    _require_usd()
    from pxr import Usd, UsdGeom, UsdPhysics

    stage = Usd.Stage.Open(str(path))
    colliders = []
    terrain: dict[str, Any] = {}
    gravity = None
    xcache = UsdGeom.XformCache()
    for prim in stage.Traverse():
        if prim.IsA(UsdPhysics.Scene):
            sc = UsdPhysics.Scene(prim)
            gravity = (
                tuple(sc.GetGravityDirectionAttr().Get()),
                float(sc.GetGravityMagnitudeAttr().Get()),
            )
        if prim.HasAPI(UsdPhysics.CollisionAPI):
            approx = None
            if prim.HasAPI(UsdPhysics.MeshCollisionAPI):
                approx = str(UsdPhysics.MeshCollisionAPI(prim).GetApproximationAttr().Get())
            colliders.append((str(prim.GetPath()), prim.GetTypeName(), approx))
            if prim.GetParent().GetName() == "terrain" and prim.IsA(UsdGeom.Mesh):
                pts = np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get(), dtype=np.float64)
                m = np.asarray(xcache.GetLocalToWorldTransform(prim), dtype=np.float64)
                world = pts @ m[:3, :3] + m[3, :3]  # USD: row vectors, p' = p M
                terrain = {
                    "path": str(prim.GetPath()),
                    "world_points": world,
                    "n_faces": len(UsdGeom.Mesh(prim).GetFaceVertexCountsAttr().Get()),
                    "approximation": approx,
                }
    return {
        "up_axis": str(UsdGeom.GetStageUpAxis(stage)),
        "meters_per_unit": float(UsdGeom.GetStageMetersPerUnit(stage)),
        "default_prim": str(stage.GetDefaultPrim().GetPath()) if stage.GetDefaultPrim() else "",
        "colliders": colliders,
        "terrain": terrain,
        "gravity": gravity,
        "custom": dict(stage.GetRootLayer().customLayerData).get("embodisim", {}),
    }


# ---------------------------------------------------------------------------------------------
# GLB
# ---------------------------------------------------------------------------------------------


def _geom_trimesh(model: mujoco.MjModel, g: int) -> Any:
    """Trimesh of geom ``g`` in its own frame (None for types without a surface)."""
    import trimesh

    t = int(model.geom_type[g])
    size = model.geom_size[g]
    G = mujoco.mjtGeom
    if t == G.mjGEOM_BOX:
        return trimesh.creation.box(extents=2 * size)
    if t == G.mjGEOM_SPHERE:
        return trimesh.creation.icosphere(subdivisions=2, radius=float(size[0]))
    if t == G.mjGEOM_ELLIPSOID:
        m = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
        m.apply_scale(size)
        return m
    if t == G.mjGEOM_CAPSULE:
        return trimesh.creation.capsule(height=2 * float(size[1]), radius=float(size[0]), count=[16, 16])
    if t == G.mjGEOM_CYLINDER:
        return trimesh.creation.cylinder(radius=float(size[0]), height=2 * float(size[1]), sections=24)
    if t == G.mjGEOM_MESH:
        mid = int(model.geom_dataid[g])
        va, vn = int(model.mesh_vertadr[mid]), int(model.mesh_vertnum[mid])
        fa, fn = int(model.mesh_faceadr[mid]), int(model.mesh_facenum[mid])
        return trimesh.Trimesh(
            vertices=model.mesh_vert[va : va + vn].astype(np.float64),
            faces=model.mesh_face[fa : fa + fn],
            process=False,
        )
    if t == G.mjGEOM_HFIELD:
        hid = int(model.geom_dataid[g])
        nrow, ncol = int(model.hfield_nrow[hid]), int(model.hfield_ncol[hid])
        adr = int(model.hfield_adr[hid])
        sx, sy, sz, _ = model.hfield_size[hid]
        z = model.hfield_data[adr : adr + nrow * ncol].astype(np.float64).reshape(nrow, ncol) * sz
        x = np.linspace(-sx, sx, ncol)
        y = np.linspace(-sy, sy, nrow)
        xx, yy = np.meshgrid(x, y)
        verts = np.stack([xx.ravel(), yy.ravel(), z.ravel()], 1)
        idx = np.arange(nrow * ncol).reshape(nrow, ncol)
        a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
        c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
        faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
        return trimesh.Trimesh(vertices=verts, faces=faces, process=False)
    return None  # planes and other unbounded or special types


def export_glb(
    spec: ScenarioSpec | Scene, out: str | os.PathLike[str], base_heights: np.ndarray | None = None
) -> Path:
    """Write every visible geom (groups 0-2) at its initial pose into one ``.glb``."""
    import trimesh

    dest = Path(out)
    if dest.suffix.lower() != ".glb":
        raise ValueError(f"--out: {dest.name} for GLB must end in .glb")
    scene = _scene(spec, base_heights)
    model = scene.mjspec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    tscene = trimesh.Scene()
    for g in range(model.ngeom):
        if int(model.geom_group[g]) > 2:
            continue
        mesh = _geom_trimesh(model, g)
        if mesh is None:
            continue
        rgba = model.geom_rgba[g]
        mat = int(model.geom_matid[g])
        if mat >= 0:
            rgba = model.mat_rgba[mat]
        mesh.visual = trimesh.visual.ColorVisuals(
            mesh=mesh, face_colors=np.clip(np.round(np.asarray(rgba) * 255), 0, 255).astype(np.uint8)
        )
        tf = np.eye(4)
        tf[:3, :3] = data.geom_xmat[g].reshape(3, 3)
        tf[:3, 3] = data.geom_xpos[g]
        name = model.geom(g).name or f"geom_{g}"
        tscene.add_geometry(mesh, node_name=name, geom_name=name, transform=tf)
    payload = tscene.export(file_type="glb")
    atomic_write_bytes(dest, bytes(payload))
    _readable(dest)
    return dest
