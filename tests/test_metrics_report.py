from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from metrics.indicators import Measurement
from metrics.report import (
    is_counted_variant,
    measurements_from_rows,
    scores_for_rows,
    summarize_rows,
    task_base_name,
    write_report,
)
from metrics.stats import wilson_interval
from metrics.store import EpisodeRecord, ResultsStore


def _rec(task: str, cond: str, i: int, success: bool, variant: str = "", **metrics: float):
    return EpisodeRecord(
        run_id="r",
        suite="s",
        task_id=task,
        condition=cond,
        scenario_seed=i,
        episode_seed=i,
        policy="scripted",
        success=success,
        metrics=metrics,
        sim_error=None,
        wall_time_s=0.01,
        embodisim_version="0.1.0",
        mujoco_version="4.0.0",
        variant=variant,
    )


ROVER = "embodisim/RoverTraverse-v0"
DOOR = "embodisim/DoorOpen-v0"


def _rows() -> list[EpisodeRecord]:
    rows = []
    # Rover: 19/20 successes over 2 conditions; perception accuracy per episode.
    for i in range(20):
        rows.append(
            _rec(
                ROVER,
                "lunar-night" if i % 2 else "mars-day",
                i,
                i != 3,
                perception_accuracy=0.8 + 0.01 * (i % 10),
            )
        )
    # The Earth reference is a baseline: neither in task-success nor in the condition count.
    rows.extend(_rec(ROVER, "earth-reference", i, False) for i in range(5))
    # Door: 9/10 default, plus an ablation (no-touch) that fails a lot and must not count.
    for i in range(10):
        rows.append(_rec(DOOR, "lab", i, i != 0, marker_max_rel_error=0.1 + 0.01 * i))
        rows.append(_rec(DOOR, "lab", i, i < 3, variant="no-touch", perception_accuracy=0.0))
    return rows


def test_task_base_name():
    assert task_base_name("embodisim/DoorOpen-v0") == "DoorOpen"
    assert task_base_name("_toyenv:ToyFall-v12") == "ToyFall"
    assert task_base_name("Plain") == "Plain"


def test_measurements_from_rows():
    m = measurements_from_rows(_rows())
    ts = m["task-success"]
    assert ts is not None and ts.value == pytest.approx(19 / 20) and ts.n == 20
    assert (ts.low, ts.high) == wilson_interval(19, 20)
    tac = m["tactile-success"]
    assert tac is not None and tac.value == pytest.approx(0.9) and tac.n == 10  # ablation out
    per = m["perception"]
    assert per is not None and per.value == pytest.approx(0.845) and per.n == 20
    assert per.low < 0.845 < per.high
    assert m["marker-error"] is not None and m["marker-error"].value == pytest.approx(0.19)
    assert m["conditions"] is not None and m["conditions"].value == 2  # door's "lab" is no
    assert m["sim2real-loss"] is None and m["scene-library"] is None
    assert m["training-speed"] is None


def test_configuration_variants_count_but_reality_proxies_do_not():
    extra = [_rec(ROVER, "mars-dusk", i, True, variant="camera", perception_accuracy=0.9) for i in range(5)]
    extra += [_rec(ROVER, "mars-dusk", i, False, variant="reality:latency") for i in range(5)]
    extra += [_rec(ROVER, "ceres", i, False, variant="no-vision", perception_accuracy=0.0) for i in range(3)]
    m = measurements_from_rows(_rows() + extra)
    ts = m["task-success"]
    assert ts is not None and ts.n == 25 and ts.value == pytest.approx(24 / 25)
    per = m["perception"]
    assert per is not None and per.n == 25
    assert per.value == pytest.approx((0.845 * 20 + 0.9 * 5) / 25)
    assert m["conditions"] is not None and m["conditions"].value == 3  # + mars-dusk, not ceres
    assert is_counted_variant("") and is_counted_variant("camera")
    assert not is_counted_variant("no-touch") and not is_counted_variant("reality:latency")


def test_scores_and_extras():
    scores = {
        s.indicator.id: s
        for s in scores_for_rows(_rows(), {"scene-library": Measurement(12_000, source="library")})
    }
    assert scores["task-success"].status == "pass"
    assert scores["task-success"].interval_clears is False  # 19/20: Wilson low 0.76
    assert scores["perception"].status == "fail"  # 0.845 < 0.85
    assert scores["conditions"].status == "fail"  # 2 < 10
    assert scores["scene-library"].status == "pass"
    assert scores["training-speed"].status == "not measured"


def test_summarize_rows():
    groups = summarize_rows(_rows())
    assert [(g.task, g.condition, g.variant, g.episodes) for g in groups] == [
        (ROVER, "mars-day", "", 10),
        (ROVER, "lunar-night", "", 10),
        (ROVER, "earth-reference", "", 5),
        (DOOR, "lab", "", 10),
        (DOOR, "lab", "no-touch", 10),
    ]
    assert groups[4].success_rate == pytest.approx(0.3)
    assert groups[0].metrics["perception_accuracy"] == pytest.approx(0.84)


def test_write_report(tmp_path: Path):
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as store:
        for r in _rows():
            store.insert(r)
    paths = write_report(db, tmp_path / "out")
    md = paths.markdown.read_text()
    assert "| task-success | 1.4 indicators | 95.0 % |" in md
    assert "not measured" in md and "**FAIL**" in md
    page = paths.html.read_text()
    for p in paths.plots:
        assert p.parent == paths.html.parent
        assert f'src="{p.name}"' in page
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 100
    assert {p.name for p in paths.plots} == {"success_per_condition.png", "success_per_task.png"}
    with pytest.raises(FileNotFoundError, match="evaluate"):
        write_report(tmp_path / "missing.sqlite", tmp_path / "o2")


def test_sim2real_loss_is_the_worst_skill_with_a_wilson_interval(tmp_path: Path):
    rover = "sim2real.suites:embodisim/RoverTraverseTransfer-v0"
    grasp = "sim2real.suites:embodisim/FragileGraspTransfer-v0"
    rows = []
    # rover: 20 twin successes, 1 reality failure; grasp: 10 twin successes, 3 failures, and
    # 5 episodes whose twin failed (no loss reported: not counted)
    rows += [_rec(rover, "lunar-mare-day", i, i != 0, sim2real_loss=float(i == 0)) for i in range(20)]
    rows += [_rec(grasp, "earth-reference", i, i >= 3, sim2real_loss=float(i < 3)) for i in range(10)]
    rows += [_rec(grasp, "earth-reference", 10 + i, False) for i in range(5)]
    # an ablation's losses never count
    rows += [_rec(grasp, "earth-reference", i, False, variant="no-sysid-no-dr", sim2real_loss=1.0)
             for i in range(10)]
    m = measurements_from_rows(rows)["sim2real-loss"]
    assert m is not None and m.value == pytest.approx(0.3) and m.n == 10
    assert (m.low, m.high) == pytest.approx(wilson_interval(3, 10))
    assert "FragileGraspTransfer 3/10" in m.source and "RoverTraverseTransfer 1/20" in m.source
    db = tmp_path / "s.sqlite"
    with ResultsStore(db) as store:
        for r in rows:
            store.insert(r)
    paths = write_report(db, tmp_path / "rep")
    text = paths.markdown.read_text()
    assert "30.0 % (3/10)" in text and "5.0 % (1/20)" in text
    groups = {(g.task, g.variant): g for g in summarize_rows(rows)}
    assert groups[(grasp, "")].loss == (3, 10)
    assert groups[(grasp, "no-sysid-no-dr")].loss == (10, 10)
