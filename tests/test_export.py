"""Scene export: MJCF with assets reloads to the same model, USD carries terrain and colliders, GLB."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco
import numpy as np
import pytest

from embodisim.cli import main
from scenes import terrain as terr
from scenes.build import build_scene
from scenes.conditions import get_condition
from scenes.export import export_glb, export_mjcf, export_scene, terrain_mesh

SIZES = ("nbody", "ngeom", "nmesh", "nhfield", "nq", "nv", "nu", "nsensor", "nlight", "ncam",
         "nsite", "nmat", "nmeshvert", "nmeshface", "nhfielddata")

has_usd = importlib.util.find_spec("pxr") is not None and importlib.util.find_spec("mujoco._usd") is not None
needs_usd = pytest.mark.skipif(not has_usd, reason="USD export needs the `usd` extra (mujoco[usd], usd-core)")


@pytest.fixture(scope="module")
def rocky():
    spec = get_condition("mars-rock-field").sample(np.random.default_rng(1))
    scene = build_scene(spec)
    assert scene.n_rocks > 10 and scene.heights is not None
    return spec, scene


def _mesh_verts(m: mujoco.MjModel, i: int) -> np.ndarray:
    v = m.mesh_vert[m.mesh_vertadr[i] : m.mesh_vertadr[i] + m.mesh_vertnum[i]]
    return v[np.lexsort(v.T)]


def _assert_same_model(m0: mujoco.MjModel, m1: mujoco.MjModel) -> None:
    for k in SIZES:
        assert getattr(m0, k) == getattr(m1, k), k
    assert [m0.geom(i).name for i in range(m0.ngeom)] == [m1.geom(i).name for i in range(m1.ngeom)]
    np.testing.assert_array_equal(m0.hfield_data, m1.hfield_data)  # float32 file = stored data
    np.testing.assert_allclose(m0.hfield_size, m1.hfield_size, rtol=1e-5)
    for i in range(m0.nmesh):  # same vertex set (loaders may reorder), float32 exact
        np.testing.assert_allclose(_mesh_verts(m0, i), _mesh_verts(m1, i), atol=1e-6)
    # MuJoCo's XML writer keeps 6 significant digits: positions agree to that precision
    np.testing.assert_allclose(m1.geom_pos, m0.geom_pos, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m1.body_mass, m0.body_mass, rtol=1e-5)
    assert m0.opt.timestep == m1.opt.timestep
    np.testing.assert_allclose(m1.opt.gravity, m0.opt.gravity, rtol=1e-6)


def test_mjcf_folder_reloads_to_the_same_model(rocky, tmp_path: Path):
    spec, scene = rocky
    out = export_mjcf(spec, tmp_path / "scene_mjcf")
    assert (out / "scene.xml").is_file()
    assets = sorted(p.name for p in (out / "assets").iterdir())
    assert "terrain.bin" in assets and sum(a.endswith(".stl") for a in assets) == scene.n_rocks
    assert "vertex=" not in (out / "scene.xml").read_text()  # geometry lives in the asset files
    m0 = scene.mjspec.compile()
    m1 = mujoco.MjSpec.from_file(str(out / "scene.xml")).compile()
    _assert_same_model(m0, m1)
    # and it behaves the same: the rover settles to the same pose
    d0, d1 = mujoco.MjData(m0), mujoco.MjData(m1)
    mujoco.mj_step(m0, d0, 150)
    mujoco.mj_step(m1, d1, 150)
    np.testing.assert_allclose(d1.qpos, d0.qpos, atol=2e-3)


def test_mjcf_zip_and_errors(rocky, tmp_path: Path):
    spec, scene = rocky
    z = export_scene(spec, "mjcf", tmp_path / "scene.zip")
    m = mujoco.MjSpec.from_zip(str(z)).compile()
    _assert_same_model(scene.mjspec.compile(), m)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        export_mjcf(spec, tmp_path / "file.txt")
    with pytest.raises(ValueError, match="format"):
        export_scene(spec, "fbx", tmp_path / "x.fbx")
    with pytest.raises(ValueError, match=".glb"):
        export_glb(spec, tmp_path / "x.gltf")


def test_glb_holds_every_visible_geom(rocky, tmp_path: Path):
    import trimesh

    spec, scene = rocky
    out = export_glb(spec, tmp_path / "scene.glb")
    loaded = trimesh.load(out)
    m = scene.mjspec.compile()
    visible = [m.geom(i).name for i in range(m.ngeom) if m.geom_group[i] <= 2]
    assert sorted(loaded.geometry) == sorted(visible)
    terrain = loaded.geometry["terrain"]
    assert len(terrain.vertices) == spec.terrain.nrow * spec.terrain.ncol
    lo, hi = loaded.bounds
    assert lo[0] == pytest.approx(-spec.terrain.size_x / 2, abs=1e-4)
    assert hi[1] == pytest.approx(spec.terrain.size_y / 2, abs=1e-4)
    assert hi[2] >= scene.heights.max() - 1e-4


@needs_usd
def test_usd_has_terrain_and_collision_geometry(rocky, tmp_path: Path):
    from pxr import Usd, UsdGeom, UsdPhysics

    from scenes.export import usd_summary

    spec, scene = rocky
    out = export_scene(spec, "usd", tmp_path / "scene.usda")
    stage = Usd.Stage.Open(str(out))  # opens with plain pxr, no MuJoCo plugin needed
    assert stage.GetDefaultPrim()
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    s = usd_summary(out)
    # physics scene with the scene's gravity
    direction, magnitude = s["gravity"]
    assert magnitude == pytest.approx(float(np.linalg.norm(spec.body.gravity)), rel=1e-6)
    assert direction == pytest.approx((0.0, 0.0, -1.0))
    # terrain: a triangle-mesh collider through the real grid points
    t = s["terrain"]
    assert t and t["approximation"] == "none"
    w = t["world_points"]
    assert len(w) == spec.terrain.nrow * spec.terrain.ncol
    assert t["n_faces"] == 2 * (spec.terrain.nrow - 1) * (spec.terrain.ncol - 1)
    z = terr.surface_height(scene.heights, spec.terrain.size_x, spec.terrain.size_y, w[:, 0], w[:, 1])
    np.testing.assert_allclose(w[:, 2], z, atol=2e-5)
    v, _ = terrain_mesh(scene)
    key = lambda a: a[np.lexsort((np.round(a[:, 1], 4), np.round(a[:, 0], 4)))]  # noqa: E731
    np.testing.assert_allclose(key(w), key(v), atol=2e-5)
    # every rock is a convex-hull collider
    rocks = [c for c in s["colliders"] if "/rock_" in c[0]]
    assert len(rocks) == scene.n_rocks
    assert all(c[1] == "Mesh" and c[2] == "convexHull" for c in rocks)
    prim = stage.GetPrimAtPath(rocks[0][0])
    assert prim.HasAPI(UsdPhysics.CollisionAPI)
    assert UsdPhysics.CollisionAPI(prim).GetCollisionEnabledAttr().Get()
    assert s["custom"]["spec_hash"] == spec.spec_hash()
    assert s["custom"]["n_rocks"] == scene.n_rocks
    # binary crate as well
    outc = export_scene(spec, "usd", tmp_path / "scene.usdc")
    assert usd_summary(outc)["terrain"]["approximation"] == "none"


@needs_usd
def test_usd_free_floating_workspace(tmp_path: Path):
    from scenes.export import usd_summary

    spec = get_condition("orbital-free-floating").sample(np.random.default_rng(2))
    s = usd_summary(export_scene(spec, "usd", tmp_path / "orbit.usda"))
    assert not s["terrain"]
    assert any(c[0].endswith("module_wall") or "/module_wall" in c[0] for c in s["colliders"])


def test_cli_scene_export(rocky, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    spec, _ = rocky
    spec.save(tmp_path / "spec.json")
    assert main(["scene", "export", str(tmp_path / "spec.json"), "--format", "glb",
                 "--out", str(tmp_path / "s.glb")]) == 0
    assert (tmp_path / "s.glb").stat().st_size > 1000
    assert "wrote glb export" in capsys.readouterr().out
    assert main(["scene", "export", "3", "--library", str(tmp_path / "nolib"), "--format", "mjcf",
                 "--out", str(tmp_path / "m")]) == 2
    assert main(["scene", "export", "abc", "--library", str(tmp_path), "--format", "mjcf",
                 "--out", str(tmp_path / "m")]) == 2
