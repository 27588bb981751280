from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import _toyenv
import numpy as np
import pytest

from metrics.store import EpisodeRecord, ResultsStore
from tasks import runner
from tasks.runner import run_episode, run_suite
from tasks.suites import (
    ALL_CONDITIONS,
    FREE_FLOATING_CONDITIONS,
    Suite,
    SuiteEntry,
    expand,
    get_suite,
    register_suite,
    resolve_conditions,
)

TESTS_DIR = Path(__file__).resolve().parent
TOY = _toyenv.TASK_ID


def toy_suite(name: str = "toy", episodes: int = 3, **entry_kw: object) -> Suite:
    return Suite(
        name,
        "toy batch",
        (
            SuiteEntry(TOY, ("moon", "earth"), "brake", episodes, **entry_kw),  # type: ignore[arg-type]
            SuiteEntry(TOY, ("mars",), "none", episodes, variant="no-thrust"),
        ),
    )


def _comparable(rows: list[EpisodeRecord]) -> list[tuple]:
    # Everything except what legitimately differs between runs.
    return sorted(
        (
            r.key,
            r.suite,
            r.success,
            dict(r.metrics),
            r.sim_error,
            r.embodisim_version,
            r.mujoco_version,
        )
        for r in rows
    )


def test_expand_seeds_and_order():
    specs = expand(toy_suite(episodes=2, base_seed=10))
    assert [(s.condition, s.scenario_seed, s.episode_seed, s.variant) for s in specs] == [
        ("moon", 10, 10, ""),
        ("moon", 11, 11, ""),
        ("earth", 10, 10, ""),
        ("earth", 11, 11, ""),
        ("mars", 0, 0, "no-thrust"),
        ("mars", 1, 1, "no-thrust"),
    ]
    assert len(expand(toy_suite(), episodes_override=1)) == 3
    with pytest.raises(ValueError, match="episodes"):
        SuiteEntry(TOY, ("moon",), "brake", 0)
    with pytest.raises(ValueError, match="scenario_seed"):
        SuiteEntry(TOY, ("moon",), "brake", 1, env_kwargs={"scenario_seed": 3})
    with pytest.raises(ValueError, match="known suites"):
        get_suite("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_suite(Suite("smoke", "dup", toy_suite().entries))


def test_builtin_suites_are_defined():
    smoke, extreme = get_suite("smoke"), get_suite("extreme")
    assert smoke.entries[0].task_id == "embodisim/RoverTraverse-v0"
    assert 2 <= len(smoke.entries[0].conditions) <= 3
    from scenes.conditions import CONDITIONS

    # Every condition is covered by some extreme entry: the rover tasks on every condition
    # with ground, OrbitalCapture on the free-floating ones.
    ground = {n for n, c in CONDITIONS.items() if c.terrain}
    assert ground and ground != set(CONDITIONS)
    assert {s.condition for s in expand(extreme)} == set(CONDITIONS)
    orbital = {s.condition for s in expand(extreme) if "OrbitalCapture" in s.task_id}
    assert orbital == set(CONDITIONS) - ground
    assert set(resolve_conditions(ALL_CONDITIONS)) == set(CONDITIONS)
    assert set(resolve_conditions(FREE_FLOATING_CONDITIONS)) == set(CONDITIONS) - ground
    assert set(smoke.entries[0].conditions) <= set(CONDITIONS)


def test_episode_physics_matches_closed_form():
    # Free fall from h = 0.3 + 0.1 * (seed % 8) m at g_moon: v = sqrt(v0^2 + 2 g h), v0 <= 0.05.
    spec = expand(Suite("t", "", (SuiteEntry(TOY, ("moon",), "none", 4),)))[3]
    out = run_episode(spec, _toyenv.make_policy)
    v = np.sqrt(2 * _toyenv.GRAVITY["moon"] * 0.6)
    assert out.sim_error is None and out.success
    assert out.metrics["impact_speed"] == pytest.approx(v, rel=0.02)
    assert out.metrics["landed"] == 1.0 and "height" in out.metrics


def test_errors_become_recorded_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo logs the instability warning to ./MUJOCO_LOG.TXT
    suite = Suite(
        "faulty",
        "",
        (
            SuiteEntry(TOY, ("moon",), "brake", 2),
            SuiteEntry(TOY, ("moon",), "brake", 2, variant="unstable", env_kwargs={"unstable": True}),
            SuiteEntry(TOY, ("moon",), "brake", 1, variant="raises", env_kwargs={"raise_at_step": 3}),
            SuiteEntry(TOY, ("moon",), "no-such-policy", 1),
        ),
    )
    summary = run_suite(suite, tmp_path / "r.sqlite", progress=False, policy_factory=_toyenv.make_policy)
    assert summary["planned"] == summary["ran"] == 6
    assert summary["failed"] == 4 and summary["sim_errors"] == 4
    rows = {(r.variant, r.policy, r.episode_seed): r for r in ResultsStore(tmp_path / "r.sqlite").rows()}
    assert rows[("", "brake", 0)].success and rows[("", "brake", 0)].sim_error is None
    unstable = rows[("unstable", "brake", 0)]
    assert not unstable.success and "mjWARN_BADQVEL" in unstable.sim_error
    assert "toy failure at step 3" in rows[("raises", "brake", 0)].sim_error
    assert "no-such-policy" in rows[("", "no-such-policy", 0)].sim_error


def test_resume_skips_stored_episodes(tmp_path: Path):
    db = tmp_path / "r.sqlite"
    kw = {"progress": False, "policy_factory": _toyenv.make_policy, "executor": "inline"}
    first = run_suite(toy_suite(), db, episodes_override=1, **kw)
    assert (first["ran"], first["skipped"]) == (3, 0)
    second = run_suite(toy_suite(), db, **kw)
    assert (second["planned"], second["ran"], second["skipped"]) == (9, 6, 3)
    rows = ResultsStore(db).rows("toy")
    assert len(rows) == len({r.key for r in rows}) == 9
    assert {r.run_id for r in rows} == {first["run_id"], second["run_id"]}


def test_workers_1_and_2_give_identical_records(tmp_path: Path):
    one = tmp_path / "one.sqlite"
    two = tmp_path / "two.sqlite"
    run_suite(toy_suite(), one, workers=1, progress=False, policy_factory=_toyenv.make_policy)
    run_suite(toy_suite(), two, workers=2, progress=False, policy_factory=_toyenv.make_policy)
    a, b = ResultsStore(one).rows(), ResultsStore(two).rows()
    assert len(a) == 9
    assert _comparable(a) == _comparable(b)
    # The batch mixes outcomes (earth braking lands too fast for some drop heights).
    assert 0 < sum(r.success for r in a) < 9


def test_worker_crash_costs_one_episode(tmp_path: Path):
    # One episode kills its worker process outright; the batch records it as a failure,
    # reruns the episodes that shared the broken pool, and finishes the rest.
    suite = Suite(
        "crash",
        "",
        (
            SuiteEntry(TOY, ("moon", "earth"), "brake", 2),
            SuiteEntry(TOY, ("moon",), "brake", 1, variant="crash", env_kwargs={"crash_at_step": 2}),
            SuiteEntry(TOY, ("mars",), "brake", 2),
        ),
    )
    kw = {"progress": False, "policy_factory": _toyenv.make_policy}
    summary = run_suite(suite, tmp_path / "pool.sqlite", workers=2, **kw)
    assert summary["ran"] == summary["planned"] == 7
    rows = ResultsStore(tmp_path / "pool.sqlite").rows()
    crashed = [r for r in rows if r.variant == "crash"]
    assert len(crashed) == 1 and not crashed[0].success
    assert "worker process died" in crashed[0].sim_error
    # Every other episode has exactly the outcome it has when run on its own.
    clean = Suite("crash", "", (suite.entries[0], suite.entries[2]))
    run_suite(clean, tmp_path / "inline.sqlite", executor="inline", **kw)
    others = [r for r in rows if r.variant != "crash"]
    assert _comparable(others) == _comparable(ResultsStore(tmp_path / "inline.sqlite").rows())


def test_pool_found_broken_at_submit_loses_nothing(tmp_path: Path, monkeypatch):
    # The race CI once hit: a worker dies after wait() returned, so the next submit raises
    # BrokenProcessPool. The unsubmitted episode goes back to the queue, the in-flight ones
    # are rerun alone, and every episode is recorded once with its real outcome.
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    calls = {"n": 0}

    class BreaksOnThirdSubmit(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                raise BrokenProcessPool("simulated: a child process terminated abruptly")
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(runner, "ProcessPoolExecutor", BreaksOnThirdSubmit)
    suite = Suite("race", "", (SuiteEntry(TOY, ("moon", "earth"), "brake", 2),))
    kw = {"progress": False, "policy_factory": _toyenv.make_policy}
    summary = run_suite(suite, tmp_path / "pool.sqlite", workers=2, **kw)
    assert calls["n"] >= 4 and summary["ran"] == summary["planned"] == 4
    run_suite(suite, tmp_path / "inline.sqlite", executor="inline", **kw)
    assert _comparable(ResultsStore(tmp_path / "pool.sqlite").rows()) == _comparable(
        ResultsStore(tmp_path / "inline.sqlite").rows())


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import _toyenv
    from tasks.runner import run_suite
    from tasks.suites import Suite, SuiteEntry

    suite = Suite("kill", "", (SuiteEntry(_toyenv.TASK_ID, ("moon", "mars"), "brake", 6,
                                          env_kwargs={"step_delay_s": float(sys.argv[3])}),))
    run_suite(suite, sys.argv[1], workers=int(sys.argv[2]), progress=False,
              policy_factory=_toyenv.make_policy)
    """
)


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_sigkill_mid_batch_then_resume(tmp_path: Path, workers: int):
    db = tmp_path / "kill.sqlite"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-c", KILL_SCRIPT, str(db), str(workers)]
    # Slow steps (~40 steps x 5 ms per episode) so the kill lands mid-batch.
    proc = subprocess.Popen([*cmd, "0.005"], env=env, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _count(db) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # Kill the batch's own process group (the runner and its pool workers) with SIGKILL.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    killed_at = _count(db)
    assert 3 <= killed_at < 12
    done = subprocess.run([*cmd, "0"], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    rows = ResultsStore(db).rows()
    assert len(rows) == 12
    assert len({r.key for r in rows}) == 12
    assert len({r.run_id for r in rows}) == 2  # first rows kept, the rest from the rerun


@pytest.mark.slow
def test_ray_executor_gives_identical_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    suite = toy_suite(episodes=2)
    run_suite(suite, tmp_path / "local.sqlite", progress=False, policy_factory=_toyenv.make_policy)
    run_suite(
        suite,
        tmp_path / "ray.sqlite",
        workers=2,
        executor="ray",
        progress=False,
        policy_factory=_toyenv.make_policy,
    )
    assert not ray.is_initialized()
    a = ResultsStore(tmp_path / "local.sqlite").rows()
    b = ResultsStore(tmp_path / "ray.sqlite").rows()
    assert len(b) == 6 and _comparable(a) == _comparable(b)


def test_ray_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RuntimeError, match=r"embodisim\[cluster\]"):
        run_suite(
            toy_suite(episodes=1),
            tmp_path / "r.sqlite",
            executor="ray",
            progress=False,
            policy_factory=_toyenv.make_policy,
        )


def _cli(argv: list[str]) -> int:
    from embodisim import cmd_evaluate

    parser = argparse.ArgumentParser(prog="embodisim")
    cmd_evaluate.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_evaluate_json_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    register_suite(toy_suite("toy-cli", episodes=2), replace=True)
    monkeypatch.setattr(runner, "default_policy_factory", _toyenv.make_policy)
    db = tmp_path / "cli.sqlite"
    assert (
        _cli(
            [
                "evaluate",
                "--suite",
                "toy-cli",
                "--db",
                str(db),
                "--json",
                "--no-progress",
                "--executor",
                "inline",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["suite"] == "toy-cli" and out["db"] == str(db)
    assert [(r["condition"], r["variant"], r["episodes"]) for r in out["rows"]] == [
        ("moon", "", 2),
        ("earth", "", 2),
        ("mars", "no-thrust", 2),
    ]
    moon = out["rows"][0]
    assert moon["success_rate"] == 1.0 and moon["ci_low"] < 1.0 and moon["ci_high"] == 1.0
    assert "impact_speed" in moon["metrics"]
    ind = {i["id"]: i for i in out["indicators"]}
    # moon and earth; the "no-thrust" variant is an ablation and not counted
    assert ind["conditions"]["value"] == 2 and ind["conditions"]["pass"] is False
    assert ind["scene-library"]["pass"] is None
    assert ind["task-success"]["target"] == 0.9
    # Rerun: nothing new to run; human output.
    assert (
        _cli(["evaluate", "--suite", "toy-cli", "--db", str(db), "--no-progress", "--executor", "inline"])
        == 0
    )
    text = capsys.readouterr().out
    assert "0 episodes run" in text and "6 already stored" in text
    assert _cli(["report", "--db", str(db), "--out", str(tmp_path / "rep")]) == 0
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"report.md", "index.html", "episodes.csv", "success_per_condition.png"} <= names
