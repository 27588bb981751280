"""Scene library: deterministic generation, SIGKILL resume, validation of tampering, queries, stats."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embodisim.cli import main
from scenes.conditions import get_condition
from scenes.generate import generate
from scenes.library import (
    QUERY_COLUMNS,
    Library,
    LibraryError,
    generate_library,
    library_stats,
    parse_where,
    scenario_from_library,
    scene_seed,
    validate_library,
)
from scenes.spec import ScenarioSpec

# Conditions that often need resampling (steep goals, wheels off the ground) plus a cheap one.
CONDS = ["lunar-highland-slopes", "lunar-terminator", "ceres-low-gravity", "orbital-free-floating"]
SEED = 5
COUNT = 16


def _hashes(path: Path) -> dict[int, tuple]:
    con = sqlite3.connect(path / "library.sqlite")
    rows = con.execute(
        "SELECT id, condition, scene_seed, attempt, spec_hash, rejected_json FROM scenes ORDER BY id"
    ).fetchall()
    con.close()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.fixture(scope="module")
def lib_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lib") / "a"
    res = generate_library(out, COUNT, conditions=CONDS, seed=SEED, workers=1)
    assert res.new == COUNT and res.stored == COUNT and not res.failures
    return out


def test_plan_and_rows_follow_the_documented_rule(lib_a: Path):
    rows = _hashes(lib_a)
    assert sorted(rows) == list(range(COUNT))
    for i, (cond, seed, attempt, _h, rejected) in rows.items():
        assert cond == CONDS[i % len(CONDS)]
        want = int(np.random.SeedSequence([SEED, i]).generate_state(1, dtype=np.uint64)[0]) >> 1
        assert seed == want == scene_seed(SEED, i)
        assert len(json.loads(rejected)) == attempt  # every earlier attempt is recorded
    g = generate(rows[6][0], rows[6][1])  # the stored row is exactly scenes.generate's scene
    assert g.spec.spec_hash() == rows[6][3] and g.attempt == rows[6][2]
    assert any(r[2] > 0 for r in rows.values())  # resampling happened and was recorded
    for _, reasons in json.loads(next(r[4] for r in rows.values() if r[2] > 0)):
        assert reasons and all(isinstance(s, str) and s for s in reasons)


def test_same_inputs_same_library_any_workers(lib_a: Path, tmp_path: Path):
    b = generate_library(tmp_path / "b", 8, conditions=CONDS, seed=SEED, workers=2, chunk_size=3)
    assert b.stored == 8
    assert _hashes(tmp_path / "b") == {i: v for i, v in _hashes(lib_a).items() if i < 8}
    c = generate_library(tmp_path / "c", 4, conditions=CONDS, seed=SEED + 1, workers=1)
    assert c.stored == 4
    a4 = {i: v[3] for i, v in _hashes(lib_a).items() if i < 4}
    assert all(_hashes(tmp_path / "c")[i][3] != a4[i] for i in range(4))
    # rerunning a finished library computes nothing
    again = generate_library(tmp_path / "b", 8, conditions=CONDS, seed=SEED, workers=1)
    assert again.new == 0 and again.skipped == 8
    with pytest.raises(LibraryError, match="seed"):
        generate_library(tmp_path / "b", 8, conditions=CONDS, seed=SEED + 1)
    with pytest.raises(LibraryError, match="conditions"):
        generate_library(tmp_path / "b", 8, conditions=CONDS[:2], seed=SEED)


def test_resume_after_sigkill(lib_a: Path, tmp_path: Path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "embodisim.cli", "library", "generate", "--count", "10", "--out",
           str(out), "--conditions", ",".join(CONDS), "--seed", str(SEED), "--workers", "1",
           "--chunk", "1", "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=subprocess.PIPE)
    db = out / "library.sqlite"

    def count() -> int:
        if not db.exists():
            return 0
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                return int(con.execute("SELECT COUNT(*) FROM scenes").fetchone()[0])
            finally:
                con.close()
        except sqlite3.OperationalError:
            return 0

    deadline = time.monotonic() + 180
    while count() < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    killed_at = count()
    assert 3 <= killed_at < 10
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    rows = _hashes(out)
    assert sorted(rows) == list(range(10))  # exact count, no duplicates, no gaps
    ref = _hashes(lib_a)
    assert all(rows[i] == ref[i] for i in range(10))  # identical to an uninterrupted run


def _copy_lib(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for p in src.iterdir():
        shutil.copy2(p, dst / p.name)
    return dst


def test_validate_passes_then_catches_corruption_and_tampering(lib_a: Path, tmp_path: Path):
    ok = validate_library(lib_a, workers=1)
    assert ok.ok and ok.counts == {"valid": COUNT}
    assert ok.by_condition == {c: {"valid": COUNT // len(CONDS)} for c in sorted(CONDS)}

    lib = _copy_lib(lib_a, tmp_path / "t")
    con = sqlite3.connect(lib / "library.sqlite")
    row = {r[0]: r[1:] for r in con.execute(
        "SELECT id, spec_json, spec_hash, condition, scene_seed, attempt, rejected_json FROM scenes")}
    # 0: corrupted bytes
    con.execute("UPDATE scenes SET spec_json = ? WHERE id = 0", (row[0][0][:-40],))
    # 1: a value edited, hash left alone
    d1 = json.loads(row[1][0])
    d1["regolith"]["friction"] = round(d1["regolith"]["friction"] + 0.05, 6)
    con.execute("UPDATE scenes SET spec_json = ? WHERE id = 1", (json.dumps(d1, sort_keys=True),))
    # 2: a consistent edit of spec and hash (and index column): not what the condition gives
    d2 = json.loads(row[2][0])
    d2["lighting"]["sun_elevation_deg"] = 1.25
    s2 = ScenarioSpec.from_dict(d2)
    con.execute("UPDATE scenes SET spec_json = ?, spec_hash = ?, sun_elevation = ? WHERE id = 2",
                (s2.to_json(indent=None), s2.spec_hash(), 1.25))
    # 3: an index column that lies about the scene (queries would return wrong scenes)
    con.execute("UPDATE scenes SET n_rocks = n_rocks + 3 WHERE id = 3")
    # 4: swap in one of the scene's own rejected attempts (valid provenance, fails settling)
    rid = next(i for i, r in row.items() if json.loads(r[5]) and i > 4)
    cond, seed, _, rejected = row[rid][2], row[rid][3], row[rid][4], json.loads(row[rid][5])
    k = rejected[0][0]
    bad = get_condition(cond).sample(np.random.default_rng([seed, k]))
    con.execute("UPDATE scenes SET spec_json = ?, spec_hash = ?, attempt = ? WHERE id = ?",
                (bad.to_json(indent=None), bad.spec_hash(), k, rid))
    con.commit()
    con.close()

    res = validate_library(lib, workers=1)
    status = {i: s for i, _, s, _ in res.statuses}
    assert status[0] == "corrupt"
    assert status[1] == "hash-mismatch"
    assert status[2] == "provenance-mismatch"
    assert status[3] == "index-mismatch"
    assert status[rid] in ("invalid", "index-mismatch")
    details = {i: d for i, _, _, d in res.statuses}
    if status[rid] == "index-mismatch":  # summary columns of the other spec differ first
        assert "column" in details[rid]
    assert all(s == "valid" for i, s in status.items() if i not in (0, 1, 2, 3, rid))
    assert not res.ok
    # the command line says the same, with exit code 1
    assert main(["library", "validate", str(lib), "--json", "--no-progress"]) == 1
    assert main(["library", "validate", str(lib_a), "--no-settle", "--json"]) == 0


def test_validate_settle_rejects_a_failing_scene(lib_a: Path, tmp_path: Path):
    """A rejected attempt with its own summary columns: only the settle check can catch it."""
    from scenes.build import build_scene, describe
    from scenes.library import _summary_row

    lib = _copy_lib(lib_a, tmp_path / "s")
    con = sqlite3.connect(lib / "library.sqlite")
    con.row_factory = sqlite3.Row
    r = next(x for x in con.execute("SELECT * FROM scenes ORDER BY id") if x["n_rejected"] > 0)
    k, reasons = json.loads(r["rejected_json"])[0]
    bad = get_condition(r["condition"]).sample(np.random.default_rng([r["scene_seed"], k]))
    cols = _summary_row(bad, describe(build_scene(bad)))
    sets = ", ".join(f"{c} = ?" for c in cols)
    con.execute(f"UPDATE scenes SET spec_json = ?, spec_hash = ?, attempt = ?, {sets} WHERE id = ?",
                (bad.to_json(indent=None), bad.spec_hash(), k, *cols.values(), r["id"]))
    con.execute("DELETE FROM scenes WHERE id >= 6 AND id != ?", (r["id"],))  # keep the test short
    con.commit()
    con.close()
    quick = validate_library(lib, settle=False)
    assert quick.ok  # hashes, provenance and index all consistent ...
    full = validate_library(lib, workers=1, chunk_size=2)
    status = {i: (s, d) for i, _, s, d in full.statuses}
    assert status[r["id"]][0] == "invalid"  # ... but the scene does not settle
    assert any(reason.split(" ")[0] in status[r["id"]][1] for reason in reasons)
    kept = 6 + (r["id"] >= 6)
    assert len(status) == kept and sum(s == "valid" for s, _ in status.values()) == kept - 1


def test_query_filters_match_python_filtering(lib_a: Path):
    with Library(lib_a) as lib:
        rows = lib.rows()
        assert len(lib) == COUNT and lib.ids() == list(range(COUNT))
        cases = [
            ("lunar-terminator", "sun_elevation<10", lambda r: r["sun_elevation"] < 10),
            (None, "n_rocks>=5 AND gravity < 2", lambda r: r["n_rocks"] >= 5 and r["gravity"] < 2),
            (None, "attempt != 0", lambda r: r["attempt"] != 0),
            (None, "max_slope_deg > 1e1", lambda r: r["max_slope_deg"] is not None
             and r["max_slope_deg"] > 10),
            ("ceres-low-gravity", "", lambda r: True),
            (None, "light_level<=0.5 and light_level>=0", lambda r: 0 <= r["light_level"] <= 0.5),
        ]
        for cond, where, pred in cases:
            want = [r["id"] for r in rows if (cond is None or r["condition"] == cond) and pred(r)]
            assert lib.query(condition=cond, where=where) == want, (cond, where)
        assert lib.query(where="id = 3") == [3]
        for bad in ("sun_elevation<10; DROP TABLE scenes", "spec_json = 1", "1=1",
                    "sun_elevation < abs(1)", "gravity < nan", "gravity << 1", "or gravity<1",
                    "gravity<1 or 1=1", "condition = 1"):
            with pytest.raises(LibraryError):
                lib.query(where=bad)
        assert len(lib) == COUNT  # nothing was dropped
        with pytest.raises(ValueError, match="condition"):
            lib.query(condition="no-such-condition")
        # iteration, spec lookup, hashes
        seen = 0
        for i, spec in lib:
            assert spec.spec_hash() == lib.row(i)["spec_hash"]
            seen += 1
        assert seen == COUNT
        assert lib.spec(5).condition == CONDS[5 % len(CONDS)]
        with pytest.raises(LibraryError, match="scene id 999"):
            lib.spec(999)
    assert set(QUERY_COLUMNS) >= {"gravity", "sun_elevation", "light_level", "n_rocks", "max_slope_deg"}
    assert parse_where("gravity<1 and n_rocks = 2") == [("gravity", "<", 1.0), ("n_rocks", "=", 2.0)]
    ids = Library(lib_a).query(condition="ceres-low-gravity")
    spec = scenario_from_library(lib_a, 1, condition="ceres-low-gravity")
    assert spec.spec_hash() == Library(lib_a).row(ids[1])["spec_hash"]
    assert scenario_from_library(lib_a, 7).spec_hash() == Library(lib_a).row(7)["spec_hash"]
    with pytest.raises(LibraryError, match="library_index"):
        scenario_from_library(lib_a, len(ids), condition="ceres-low-gravity")


def test_cli_query_and_stats(lib_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["library", "query", str(lib_a), "--condition", "lunar-terminator",
                 "--where", "gravity>1"]) == 0
    out = capsys.readouterr().out.split()
    assert [int(x) for x in out] == Library(lib_a).query(condition="lunar-terminator", where="gravity>1")
    assert main(["library", "query", str(lib_a), "--where", "gravity<1; drop"]) == 2
    summary = library_stats(lib_a, tmp_path / "stats")
    assert summary["scenes"] == COUNT
    assert summary["conditions"] == {c: COUNT // len(CONDS) for c in CONDS}
    g = summary["columns"]["gravity"]
    grav = [r["gravity"] for r in Library(lib_a).rows()]
    assert g["min"] == min(grav) and g["max"] == max(grav) and g["n"] == COUNT
    for name in summary["plots"]:
        assert (tmp_path / "stats" / name).stat().st_size > 1000
    assert json.loads((tmp_path / "stats" / "summary.json").read_text())["scenes"] == COUNT
    assert "| lunar-terminator |" in (tmp_path / "stats" / "summary.md").read_text()


def test_bad_arguments_are_refused(tmp_path: Path):
    with pytest.raises(LibraryError, match="count"):
        generate_library(tmp_path / "x", 0)
    with pytest.raises(ValueError, match="condition"):
        generate_library(tmp_path / "x", 2, conditions="lunar-mare-day,nope")
    with pytest.raises(LibraryError, match="executor"):
        generate_library(tmp_path / "y", 1, conditions=["orbital-free-floating"], executor="dask")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="generate"):
        Library(tmp_path / "nothing")


@pytest.mark.slow
def test_ray_executor_gives_the_same_library(lib_a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ray = pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    try:
        res = generate_library(tmp_path / "r", 4, conditions=CONDS, seed=SEED, workers=1, executor="ray")
    except LibraryError as exc:
        if "could not start" not in str(exc):
            raise
        pytest.skip(f"Ray could not start on this machine: {exc}")
    assert res.stored == 4 and not ray.is_initialized()
    assert _hashes(tmp_path / "r") == {i: v for i, v in _hashes(lib_a).items() if i < 4}
    assert validate_library(tmp_path / "r", workers=1, executor="ray", settle=False).ok


def _full_scene_report(spec: ScenarioSpec, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Settle report with every rock collidable (no parking)."""
    from scenes import settle

    with monkeypatch.context() as m:
        m.setattr(settle, "PARK_DISTANCE", float("inf"))
        return settle.settle_check(spec).to_dict()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parked_rocks_give_the_full_scene_settle(seed: int, monkeypatch: pytest.MonkeyPatch):
    """Rocks out of reach compiled without collisions: same report, bit for bit."""
    from scenes import settle
    from scenes.build import build_scene
    from scenes.generate import attempt_spec

    spec = attempt_spec("mars-rock-field", seed, 0)
    scene = build_scene(spec)
    parked = settle._parked_rocks(scene)
    assert scene.n_rocks > 5 and len(parked) == scene.n_rocks  # ROCK_CLEARANCE parks them all
    model = settle._compile(scene, parked)
    assert settle.parking_gap(model, scene, parked) > settle.DRIFT_TOL
    assert not model.geom_contype[model.geom("rock_0").id]
    assert scene.mjspec.geom("rock_0").contype == 1  # the scene's MjSpec is left as it was
    # the reduced settle model: every rock counted and placed, none built
    reduced = build_scene(spec, rock_reach=settle.PARK_DISTANCE)
    assert reduced.rocks_omitted == parked and not reduced.mjspec.meshes
    assert (reduced.n_rocks, reduced.rock_xy, reduced.rock_radii) == (
        scene.n_rocks, scene.rock_xy, scene.rock_radii)
    full = _full_scene_report(spec, monkeypatch)
    assert settle.settle_check(spec).to_dict() == full  # reduced model
    assert settle.settle_check(spec, build_scene(spec)).to_dict() == full  # rocks collision-free


def test_rock_prototype_check_can_fail():
    from scenes.build import check_rock_prototypes

    check_rock_prototypes(0.15, 1.2)
    with pytest.raises(ValueError, match="volume"):
        check_rock_prototypes(1e-6, 1.0)


def test_rover_near_a_parked_rock_is_settled_on_the_full_scene(monkeypatch: pytest.MonkeyPatch):
    """When the rover's excursion could reach a parked rock, the settle is redone with collisions."""
    from scenes import settle
    from scenes.build import build_scene
    from scenes.generate import attempt_spec

    spec = attempt_spec("mars-rock-field", 0, 0)
    scene = build_scene(spec, rock_reach=settle.PARK_DISTANCE)
    parked = scene.rocks_omitted
    gap = settle.parking_gap(settle._compile(scene, parked), scene, parked)
    # leave 0.1 mm of excursion: the settling rover moves more than that
    monkeypatch.setattr(settle, "REACH_MARGIN", settle.REACH_MARGIN + gap - 1e-4)
    calls: list[int] = []
    compile_ = settle._compile

    def counting(scene_, parked_):  # noqa: ANN001, ANN202 - test spy
        calls.append(len(parked_))
        return compile_(scene_, parked_)

    monkeypatch.setattr(settle, "_compile", counting)
    report = settle.settle_check(spec).to_dict()
    assert calls == [len(parked), 0]  # parked first, then the full scene
    monkeypatch.setattr(settle, "_compile", compile_)
    assert report == _full_scene_report(spec, monkeypatch)
