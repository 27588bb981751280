"""The ``sim2real`` evaluation suite: paired transfer episodes under four pipeline variants.

Each suite episode is a **paired transfer episode** (:class:`TransferPairEnv`):
on ``reset(seed)`` the policy first runs a complete *simulation twin* episode on
the pipeline's simulation side (same scene, same seed, its own policy
instance), then the runner drives the same policy on the **reality proxy**.
Its record holds ``sim_success``, ``reality_success`` and, when the twin
succeeded, ``sim2real_loss = 1 - reality_success``. The mean of that metric over
a group is the *paired* transfer loss P(reality fails | simulation succeeds),
which equals ``(S_sim - S_real) / S_sim`` when reality never succeeds where the
simulation failed and is otherwise larger (conservative); ``embodisim transfer``
reports the unpaired estimator with its bootstrap interval from ``metrics``.

Pipelines (the simulation side the policy is judged in) and their suite variants:

* ``sysid-dr`` -> variant ``""`` (the full pipeline; the only one that feeds the
  ``sim2real-loss`` indicator): calibrated with values identified
  (:mod:`sim2real.sysid`) from reality-proxy logs of held-out training scenes
  (seeds 1000, 1001), plus a narrow randomization around them (``rover-dr-narrow``);
* ``sysid`` -> ``"no-dr"``: calibrated only;
* ``dr`` -> ``"no-sysid"``: domain-randomized only (``rover-dr``);
* ``raw`` -> ``"no-sysid-no-dr"``: the nominal simulator (the raw loss).

The ``no-`` variants are ablations in the sense of ``metrics.report`` (kept out
of the indicators). Note that the default variant's success (on the reality
proxy) also enters ``task-success`` of the store it is written to; the suite
has its own store by default (``results/sim2real.sqlite``).

The identified values are computed once per (reality proxy, condition) and
cached as JSON (``EMBODISIM_SYSID_CACHE``, default ``results/sim2real``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from sim2real.wrappers import make_env
from tasks.suites import Suite, SuiteEntry, register_suite

ROVER = "embodisim/RoverTraverse-v0"
ROVER_PAIR = "embodisim/RoverTraverseTransfer-v0"
PAIR_TASKS: Mapping[str, str] = {ROVER_PAIR: ROVER}
PIPELINES: tuple[str, ...] = ("raw", "dr", "sysid", "sysid-dr")
# Suite variant of each pipeline: the full one is the default, the others are ablations.
VARIANTS: Mapping[str, str] = {"raw": "no-sysid-no-dr", "dr": "no-sysid", "sysid": "no-dr",
                               "sysid-dr": ""}
SYSID_TRAIN_SEEDS: tuple[int, ...] = (1000, 1001)  # scenes never used for evaluation
SYSID_LOG_STEPS = 140  # control steps per identification log (7 s at 20 Hz)


def _cache_dir() -> Path:
    return Path(os.environ.get("EMBODISIM_SYSID_CACHE", "results/sim2real"))


def identified_values(task_id: str, reality: str, condition: str, policy: str = "scripted",
                      timeout_s: float = 1800.0) -> dict[str, float]:
    """Identified values for a reality proxy, computed once and cached (atomic JSON).

    Args:
        task_id: Task id (RoverTraverse).
        reality: Reality-proxy profile whose logs are identified.
        condition: Working condition of the logs.
        policy: Policy that drives the logged episodes.
        timeout_s: How long to wait for another process computing the same values.

    Returns:
        Values in the ``apply_values`` vocabulary, incl. ``action_delay_steps``.
    """
    from sim2real.logs import record_log
    from sim2real.sysid import identify
    from tasks.registry import make_policy

    path = _cache_dir() / f"sysid_{reality}_{condition}.json"
    lock = path.with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another worker is identifying: wait for its file
            if time.monotonic() > deadline:
                raise RuntimeError(f"{lock} held for > {timeout_s} s; delete it and rerun") from None
            time.sleep(2.0)
            continue
        os.close(fd)
        try:
            scenes = []
            for seed in SYSID_TRAIN_SEEDS:
                renv = make_env(task_id, reality=reality, condition=condition, scenario_seed=seed)
                log = record_log(renv, make_policy(task_id, policy, renv), seed,
                                 meta={"reality_proxy": reality}, max_steps=SYSID_LOG_STEPS)
                scenes.append((renv.unwrapped.scene.mjspec, [log]))
                renv.close()
            result = identify(scenes, window=10)
            fd2, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json")
            with os.fdopen(fd2, "w", encoding="utf-8") as f:
                json.dump({"values": dict(result.values), "cost_initial": result.cost_initial,
                           "cost_final": result.cost_final}, f, indent=2)
            os.replace(tmp, path)
        finally:
            lock.unlink(missing_ok=True)
    with open(path, encoding="utf-8") as f:
        return {str(k): float(v) for k, v in json.load(f)["values"].items()}


def sim_side_kwargs(pipeline: str, task_id: str, reality: str, condition: str,
                    seed: int) -> dict[str, Any]:
    """``make_env`` keywords of a pipeline's simulation side.

    Raises:
        ValueError: For an unknown pipeline.
    """
    if pipeline == "raw":
        return {}
    if pipeline == "dr":
        return {"randomization": "rover-dr", "randomization_seed": seed}
    if pipeline == "sysid":
        return {"calibration": identified_values(task_id, reality, condition)}
    if pipeline == "sysid-dr":
        return {"calibration": identified_values(task_id, reality, condition),
                "randomization": "rover-dr-narrow", "randomization_seed": seed}
    raise ValueError(f"pipeline {pipeline!r} is unknown; accepted: {list(PIPELINES)}")


class TransferPairEnv(gym.Env):
    """A paired transfer episode: simulation twin in ``reset``, reality proxy in ``step``."""

    metadata = {"render_modes": []}

    def __init__(self, task: str, policy: str, reality: str, pipeline: str,
                 condition: str = "lunar-mare-day", scenario_seed: int = 0):
        if pipeline not in PIPELINES:
            raise ValueError(f"pipeline {pipeline!r} is unknown; accepted: {list(PIPELINES)}")
        self.task, self.policy, self.reality, self.pipeline = task, policy, reality, pipeline
        self.condition, self.scenario_seed = condition, int(scenario_seed)
        self._real = make_env(task, reality=reality, condition=condition,
                              scenario_seed=scenario_seed)
        self.observation_space = self._real.observation_space
        self.action_space = self._real.action_space
        self._sim_success: bool | None = None

    @property
    def dt(self) -> float:
        """Control period of the task [s]."""
        return float(self._real.unwrapped.dt)

    def _twin(self, seed: int) -> bool:
        from tasks.registry import make_policy

        kw = sim_side_kwargs(self.pipeline, self.task, self.reality, self.condition, seed)
        env = make_env(self.task, condition=self.condition, scenario_seed=self.scenario_seed, **kw)
        try:
            pol = make_policy(self.task, self.policy, env)
            obs, info = env.reset(seed=seed)
            pol.reset(seed)
            while info.get("sim_error") is None:
                obs, _, terminated, truncated, info = env.step(pol.act(obs))
                if terminated or truncated:
                    break
            return bool(env.unwrapped.evaluate()["success"]) and info.get("sim_error") is None
        finally:
            env.close()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Run the simulation twin, then reset the reality proxy."""
        super().reset(seed=seed)
        s = 0 if seed is None else int(seed)
        self._sim_success = self._twin(s)
        return self._real.reset(seed=s, options=options)

    def step(self, action: np.ndarray):
        """Step the reality proxy."""
        return self._real.step(action)

    def evaluate(self) -> dict[str, Any]:
        """The reality proxy's evaluation plus the pair's transfer signals."""
        ev = dict(self._real.unwrapped.evaluate())
        real = bool(ev["success"]) and self._real.unwrapped.sim_error is None
        ev["reality_success"] = float(real)
        if self._sim_success is not None:
            ev["sim_success"] = float(self._sim_success)
            if self._sim_success:
                ev["sim2real_loss"] = 1.0 - float(real)
        return ev

    def close(self) -> None:
        """Close the reality proxy."""
        self._real.close()
        super().close()


def policy_factory(task_id: str, name: str, env: Any) -> Any:
    """Runner policy factory that also knows the transfer-pair ids (module-level: picklable).

    Other ids go to ``tasks.runner.default_policy_factory`` (looked up per call).
    """
    from tasks import runner

    bare = task_id.split(":", 1)[-1]  # "module:id" ids name a module to import first
    if bare in PAIR_TASKS:
        from tasks.registry import make_policy

        return make_policy(PAIR_TASKS[bare], name, env)
    return runner.default_policy_factory(task_id, name, env)


def register_envs() -> None:
    """Register the transfer-pair ids with Gymnasium (idempotent)."""
    if ROVER_PAIR not in gym.registry:
        gym.register(id=ROVER_PAIR, entry_point="sim2real.suites:TransferPairEnv",
                     kwargs={"task": ROVER}, disable_env_checker=True)


register_envs()

SIM2REAL_CONDITION = "lunar-mare-day"
SIM2REAL_REALITY = "rover-composite"


def _entry(pipeline: str, episodes: int) -> SuiteEntry:
    return SuiteEntry(
        f"sim2real.suites:{ROVER_PAIR}",
        (SIM2REAL_CONDITION,),
        "scripted",
        episodes,
        variant=VARIANTS[pipeline],
        env_kwargs={"policy": "scripted", "reality": SIM2REAL_REALITY, "pipeline": pipeline},
    )


if "sim2real" not in __import__("tasks.suites", fromlist=["SUITES"]).SUITES:
    register_suite(Suite(
        "sim2real",
        "Sim2Real loss of the rover traverse skill vs the rover-composite reality proxy: "
        "raw, DR, sysid, sysid+DR (default variant)",
        tuple(_entry(p, 20) for p in PIPELINES),
    ))
