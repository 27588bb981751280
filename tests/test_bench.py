"""Smoke of the throughput-benchmark harness: tiny counts, well-formed JSON/Markdown/PNG.

Never asserts timings: only structure, and the target logic on synthetic numbers.
"""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image

from benchmarks import bench_throughput as bt
from embodisim import cli

ROVER = "embodisim/RoverTraverse-v0"


def _finite_summary(s: dict) -> None:
    assert set(s) == {"median", "min", "max", "n"}
    assert math.isfinite(s["median"]) and s["min"] <= s["median"] <= s["max"]


def test_tiny_run_writes_json_markdown_png(tmp_path):
    cfg = bt.BenchConfig(steps=3, repeats=2, camera_frames=2, camera_sizes=(32,), scene_count=1,
                         vec_envs=2, vec_steps=2, env_ids=(ROVER,))
    results = bt.run(cfg, command="pytest tiny")
    # every env either measured or skipped with a reason; the peer baseline is in the same run
    assert set(results["envs"]) == {ROVER, bt.PEER_ENV}
    rover = results["envs"][ROVER]
    for k in ("env_steps_per_s", "raw_steps_per_s", "ratio", "ratio_wall", "overhead_us_per_step"):
        _finite_summary(rover[k])
    assert rover["frame_skip"] == 10 and rover["ratio"]["n"] == 2
    peer = results["envs"][bt.PEER_ENV]
    assert "ratio" in peer or peer["skipped"]
    assert "skipped" in results["tactile"] or all("overhead" in r or "skipped" in r
                                                  for r in results["tactile"].values())
    cam = results["camera"]
    assert "skipped" in cam or cam["32x32_fps"]["n"] == 2
    _finite_summary(results["scenes"]["scenes_per_s"])
    vec = results["vector"]
    for k in ("batch_2t_vs_1t", "batch_2t_vs_sync", "batch_1t_vs_sync", "batch_1t_vs_raw"):
        _finite_summary(vec[k])
    names = {t["target"] for t in results["targets"]}
    assert {"env_vs_raw", "batch_2t_vs_1t", "batch_vs_sync"} <= names
    assert all(t["met"] in (True, False, None) for t in results["targets"])

    paths = bt.write_outputs(results, tmp_path / "out")
    loaded = json.loads(paths["json"].read_text())
    assert loaded["command"] == "pytest tiny" and loaded["machine"]["cpu_count"] >= 1
    md = paths["md"].read_text()
    assert "`pytest tiny`" in md and "| measure | value | target | met |" in md
    assert f"`{ROVER}` env.step / raw mj_step" in md
    with Image.open(paths["png"]) as im:
        assert im.format == "PNG" and im.size[0] > 200 and im.size[1] > 100
    assert not list((tmp_path / "out").glob(".*tmp*"))  # atomic writes left no temp files


def test_cli_json_only_scenes(tmp_path, capsys):
    rc = cli.main(["bench", "--json", "--quick", "--only", "scenes", "--repeats", "1",
                   "--out", str(tmp_path)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"machine", "config", "scenes", "targets"}
    assert "envs" not in out and out["config"]["repeats"] == 1
    assert (tmp_path / "bench.png").stat().st_size > 0


def test_cli_rejects_bad_section(capsys):
    assert cli.main(["bench", "--only", "gpu"]) == 2
    assert "accepted" in capsys.readouterr().err


def test_config_validation():
    with pytest.raises(ValueError, match="steps"):
        bt.BenchConfig(steps=0)
    with pytest.raises(ValueError, match="sections"):
        bt.BenchConfig(sections=("envs", "warp"))


def _fake(ratio: float, scale: float, cam: float) -> dict:
    s = lambda v: {"median": v, "min": v, "max": v, "n": 1}  # noqa: E731
    return {
        "config": {"repeats": 1, "camera_sizes": [64]},
        "machine": {"cpu": "x", "cpu_count": 2, "load_average_1_5_15": [3.0, 3.0, 3.0], "utc": "t",
                    "mujoco": "4", "gymnasium": "1", "mujoco_gl": "osmesa"},
        "envs": {ROVER: {"ratio": s(ratio), "ratio_wall": s(ratio), "env_steps_per_s": s(100.0),
                         "raw_steps_per_s": s(100.0 / ratio), "overhead_us_per_step": s(123.0),
                         "frame_skip": 10},
                 "embodisim/Broken-v0": {"skipped": "RuntimeError: no GL"}},
        "tactile": {"skipped": "no switch"},
        "camera": {"condition": "c", "gl_backend": "osmesa", "64x64_fps": s(cam)},
        "vector": {"num_envs": 4, "batch_2t_vs_1t": s(scale), "batch_2t_vs_sync": s(scale),
                   "batch_1t_vs_sync": s(1.0), "batch_1t_vs_raw": s(ratio), "sync_vs_raw": s(0.6),
                   **{f"{k}_env_steps_per_s": s(1.0) for k in ("batch_1t", "batch_2t", "sync", "raw")},
                   **{f"{k}_env_steps_per_cpu_s": s(1.0) for k in ("batch_1t", "batch_2t", "sync", "raw")}},
    }


def test_targets_are_evaluated_not_asserted():
    bad = bt.evaluate_targets(_fake(ratio=0.6, scale=1.1, cam=80.0))
    by = {(t["target"], t["where"]): t for t in bad}
    rover = by[("env_vs_raw", ROVER)]
    assert rover["met"] is False and "123 us per step" in rover["note"]
    assert by[("env_vs_raw", "embodisim/Broken-v0")]["met"] is None
    assert "load average 3.0" in next(t for t in bad if t["target"] == "batch_2t_vs_1t")["note"]
    assert "osmesa" in next(t for t in bad if t["target"] == "camera_64_fps")["note"]
    good = bt.evaluate_targets(_fake(ratio=0.95, scale=1.9, cam=200.0))
    assert all(t["met"] in (True, None) for t in good)
    md = bt.markdown({**_fake(0.6, 1.1, 80.0), "targets": bad})
    assert "Why targets fall short" in md and "| no |" in md


@pytest.mark.parametrize("env_id, kwargs", [
    # rebuilds its model at every reset (the fabric is sampled): the replay must follow it
    ("embodisim/ClothFlatten-v0", {"cloth_count": 6}),
    # a report step ends the episode without physics: the replay must take no step there
    ("embodisim/BeaconLocalize-v0", {}),
])
def test_raw_replay_reproduces_the_env_trajectory(env_id, kwargs):
    import gymnasium as gym
    import numpy as np

    env = gym.make(env_id, **kwargs)
    try:
        env.action_space.seed(3)
        actions = np.stack([env.action_space.sample() for _ in range(12)])
        if env_id.endswith("BeaconLocalize-v0"):
            actions[:, 4] = -1.0
            actions[[3, 7], 4] = 1.0  # two report steps: three episodes
        _, segments = bt._env_run(env, actions, seed=5)
        assert len(segments) == (3 if env_id.endswith("BeaconLocalize-v0") else 1)
        if env_id.endswith("BeaconLocalize-v0"):
            assert [n for _, n in segments[0].inputs][-1] == 0  # the report step took no physics
        _, identical = bt._raw_run(segments)
        assert identical
        # a wrong model (the first episode's for all) or wrong step counts would be caught
        broken = [bt.Segment(segments[0].model, s.start, [(u, n + 1) for u, n in s.inputs], s.end)
                  for s in segments]
        assert not bt._raw_run(broken)[1]
    finally:
        env.close()
