from __future__ import annotations

import csv
import json
import pickle
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from metrics.store import COLUMNS, EpisodeKey, EpisodeRecord, ResultsStore


def _rec(i: int, **kw: object) -> EpisodeRecord:
    base = dict(
        run_id="run-a",
        suite="smoke",
        task_id="embodisim/RoverTraverse-v0",
        condition="lunar-mare-day",
        scenario_seed=i,
        episode_seed=i,
        policy="scripted",
        success=i % 2 == 0,
        metrics={"distance_to_goal": 0.5 * i, "tilt": float("nan")},
        sim_error=None,
        wall_time_s=0.1,
        embodisim_version="0.1.0",
        mujoco_version="4.0.0",
    )
    base.update(kw)
    return EpisodeRecord(**base)  # type: ignore[arg-type]


def test_wal_and_synchronous_full(tmp_path: Path):
    store = ResultsStore(tmp_path / "sub" / "r.sqlite")
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_insert_roundtrip_and_duplicates(tmp_path: Path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        assert store.insert(_rec(0))
        assert store.insert(_rec(1, sim_error="NaN in qacc at step 12"))
        # Same key, different run and outcome: ignored (append-only, first wins).
        assert not store.insert(_rec(0, run_id="run-b", success=False))
        # A different variant is a different episode.
        assert store.insert(_rec(0, variant="no-touch"))
        rows = store.rows()
    assert len(rows) == 3
    assert rows[0].run_id == "run-a" and rows[0].success is True
    assert rows[1].sim_error == "NaN in qacc at step 12" and rows[1].success is False
    assert rows[0].metrics["distance_to_goal"] == 0.0
    assert rows[0].metrics["tilt"] != rows[0].metrics["tilt"]  # NaN survives
    assert rows[2].variant == "no-touch"
    # A second connection (a later process) sees everything committed.
    with ResultsStore(path) as again:
        assert again.done_keys("smoke") == {
            EpisodeKey("embodisim/RoverTraverse-v0", "lunar-mare-day", "scripted", 0, 0, ""),
            EpisodeKey("embodisim/RoverTraverse-v0", "lunar-mare-day", "scripted", 1, 1, ""),
            EpisodeKey("embodisim/RoverTraverse-v0", "lunar-mare-day", "scripted", 0, 0, "no-touch"),
        }
        assert again.done_keys("extreme") == set()
        assert again.rows(suite="extreme") == []
        assert again.suites() == ["smoke"]


def test_unique_key_is_enforced_by_the_schema(tmp_path: Path):
    path = tmp_path / "r.sqlite"
    ResultsStore(path).insert(_rec(3))
    conn = sqlite3.connect(path)
    row = _rec(3, run_id="other").to_row()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            f"INSERT INTO episodes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [row[c] for c in COLUMNS],
        )
    conn.close()


def test_resume_skips_done_keys(tmp_path: Path):
    path = tmp_path / "r.sqlite"
    planned = [_rec(i) for i in range(6)]
    with ResultsStore(path) as store:
        for r in planned[:4]:
            store.insert(r)
    with ResultsStore(path) as store:
        done = store.done_keys("smoke")
        todo = [r for r in planned if r.key not in done]
        assert [r.scenario_seed for r in todo] == [4, 5]
        for r in todo:
            store.insert(replace(r, run_id="run-2"))
        rows = store.rows("smoke")
    assert [r.scenario_seed for r in rows] == list(range(6))
    assert [r.run_id for r in rows] == ["run-a"] * 4 + ["run-2"] * 2


def test_export_csv_atomic(tmp_path: Path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        for i in range(3):
            store.insert(_rec(i, sim_error="boom" if i == 2 else None))
        out = store.export_csv(tmp_path / "out" / "r.csv")
        # No temp file left behind.
        assert sorted(p.name for p in out.parent.iterdir()) == ["r.csv"]
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["success"] for r in rows] == ["1", "0", "1"]
    assert rows[2]["sim_error"] == "boom" and rows[0]["sim_error"] == ""
    assert json.loads(rows[1]["metrics"])["distance_to_goal"] == 0.5


def test_record_is_frozen_and_metrics_read_only():
    r = _rec(0)
    with pytest.raises(AttributeError):
        r.success = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.metrics["tilt"] = 1.0  # type: ignore[index]


def test_record_pickles():
    r = _rec(2, sim_error="x")
    back = pickle.loads(pickle.dumps(r))
    assert back.to_row() == r.to_row()
    assert back.key == r.key
