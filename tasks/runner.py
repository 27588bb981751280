"""Run a suite's episodes on a local process pool or a Ray cluster, into the results store.

The same :func:`run_episode` runs every episode, whichever executor; it
returns a plain :class:`EpisodeOutcome` and never raises: an exception or an
unstable simulation (``info["sim_error"]``) becomes a recorded failure with
its error text, and the batch goes on. Only the parent process writes to the
SQLite store, one committed transaction per finished episode, so a batch
killed at any point resumes on rerun (finished episodes are skipped).

Contract with the environments (``tasks/__init__.py`` registers them):
``gymnasium.make(task_id, condition=..., scenario_seed=..., **env_kwargs)``,
``env.reset(seed=episode_seed)``, ``info`` with ``"success"``, ``"metrics"``
and ``"sim_error"``; after the episode ``env.unwrapped.evaluate()`` returns
``{"success": bool, **named float signals}``. Policies come from
``tasks.policies.make_policy(task_id, name, env)`` (or an injected factory)
with ``reset(seed)`` and ``act(obs)``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, Protocol

from metrics.store import EpisodeRecord, ResultsStore
from tasks.suites import EpisodeSpec, Suite, expand, get_suite

Executor = Literal["local", "ray", "inline"]

# An episode still running after this many steps is stopped and recorded as a
# failure: every registered task has a TimeLimit far below it, so reaching it
# means the env never terminates.
MAX_EPISODE_STEPS: int = 1_000_000


class Policy(Protocol):
    """What the runner needs from a policy."""

    def reset(self, seed: int) -> None:
        """Start a new episode."""

    def act(self, obs: Any) -> Any:
        """Return the action for an observation."""


PolicyFactory = Callable[[str, str, Any], Policy]


def default_policy_factory(task_id: str, name: str, env: Any) -> Policy:
    """``tasks.policies.make_policy`` (imported on first use)."""
    from tasks.policies import make_policy

    return make_policy(task_id, name, env)


@dataclass(frozen=True)
class EpisodeOutcome:
    """What one episode produced (picklable; the parent turns it into a record).

    Attributes:
        success: ``evaluate()["success"]``; ``False`` whenever ``sim_error`` is set.
        metrics: Named float signals: the last step's ``info["metrics"]``
            updated with ``evaluate()``'s signals (``evaluate`` wins).
        sim_error: The error that ended the episode, ``None`` if clean.
        wall_time_s: Wall-clock duration of the episode (seconds).
    """

    success: bool
    metrics: Mapping[str, float] = field(default_factory=dict)
    sim_error: str | None = None
    wall_time_s: float = 0.0


def _floats(values: Mapping[str, Any] | None) -> dict[str, float]:
    """Keep the numeric entries of a mapping, as floats (booleans become 0/1)."""
    out: dict[str, float] = {}
    for k, v in (values or {}).items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            continue  # non-numeric signals (arrays, strings) are not stored as metrics
    return out


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_episode(spec: EpisodeSpec, policy_factory: PolicyFactory | None = None) -> EpisodeOutcome:
    """Run one episode and report its outcome; never raises for episode errors.

    Args:
        spec: The episode.
        policy_factory: ``(task_id, policy_name, env) -> Policy``; default
            :func:`default_policy_factory`.

    Returns:
        The :class:`EpisodeOutcome`.
    """
    import gymnasium

    factory = policy_factory or default_policy_factory
    start = time.perf_counter()
    env = None
    metrics: dict[str, float] = {}
    sim_error: str | None = None
    success = False
    try:
        env = gymnasium.make(
            spec.task_id,
            condition=spec.condition,
            scenario_seed=spec.scenario_seed,
            **dict(spec.env_kwargs),
        )
        policy = factory(spec.task_id, spec.policy, env)
        obs, info = env.reset(seed=spec.episode_seed)
        policy.reset(spec.episode_seed)
        sim_error = info.get("sim_error")
        steps = 0
        while sim_error is None:
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
            steps += 1
            sim_error = info.get("sim_error")
            if terminated or truncated:
                break
            if steps >= MAX_EPISODE_STEPS:
                sim_error = (
                    f"episode did not end within {MAX_EPISODE_STEPS} steps; register the "
                    "task with max_episode_steps"
                )
        metrics = _floats(info.get("metrics"))
        try:
            result = env.unwrapped.evaluate()
        except Exception as exc:  # evaluate() of a diverged state may fail too
            if sim_error is None:
                raise
            result = {"success": False}
            sim_error += f"; evaluate() failed: {_describe(exc)}"
        metrics.update(_floats({k: v for k, v in result.items() if k != "success"}))
        success = bool(result.get("success", False)) and sim_error is None
    except Exception as exc:
        sim_error = _describe(exc) if sim_error is None else f"{sim_error}; {_describe(exc)}"
        success = False
    finally:
        if env is not None:
            try:
                env.close()
            except Exception as exc:
                sim_error = sim_error or f"env.close() failed: {_describe(exc)}"
                success = False
    return EpisodeOutcome(
        success=success,
        metrics=metrics,
        sim_error=None if sim_error is None else str(sim_error),
        wall_time_s=time.perf_counter() - start,
    )


def versions() -> tuple[str, str]:
    """``(embodisim version, MuJoCo version)`` as stored with every record."""
    import mujoco

    try:
        own = version("embodisim")
    except PackageNotFoundError:
        own = "0.0.0+unknown"
    return own, str(mujoco.__version__)


def _run_inline(
    specs: Sequence[EpisodeSpec],
    workers: int,
    factory: PolicyFactory | None,
    on_done: Callable[[EpisodeSpec, EpisodeOutcome], None],
) -> None:
    """Run in this process, one by one (debugging; no protection against hard crashes)."""
    del workers
    for spec in specs:
        on_done(spec, run_episode(spec, factory))


# Recorded when an episode kills its worker process (segfault, abort) even when rerun alone.
_CRASH_MESSAGE = (
    "worker process died while running this episode (hard crash, e.g. a segfault or abort "
    "in native code); it crashed again when rerun alone"
)


def _run_isolated(
    spec: EpisodeSpec, factory: PolicyFactory | None, ctx: multiprocessing.context.BaseContext
) -> EpisodeOutcome:
    """Run one episode alone in a fresh worker; a hard crash becomes a failed outcome."""
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        try:
            return pool.submit(run_episode, spec, factory).result()
        except BrokenProcessPool:
            return EpisodeOutcome(False, {}, _CRASH_MESSAGE)


def _run_local(
    specs: Sequence[EpisodeSpec],
    workers: int,
    factory: PolicyFactory | None,
    on_done: Callable[[EpisodeSpec, EpisodeOutcome], None],
) -> None:
    """Run on a pool of ``workers`` processes, surviving episodes that crash a worker.

    At most ``workers`` episodes are in flight. When a worker dies, the pool
    breaks and every in-flight episode is a suspect: each is rerun alone in a
    fresh process (episodes are deterministic, so the culprit crashes again
    and is recorded as a failure; the others get their real outcome), then a
    new pool takes the rest of the queue.
    """
    # 'spawn': a fresh interpreter per worker; MuJoCo/OpenGL state must not be forked.
    ctx = multiprocessing.get_context("spawn")
    queue = list(specs)
    queue.reverse()  # pop() from the end keeps the suite's order
    while queue:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        in_flight: dict[Future[EpisodeOutcome], EpisodeSpec] = {}
        suspects: list[EpisodeSpec] = []
        broken = False
        try:
            while (queue or in_flight) and not suspects and not broken:
                while queue and len(in_flight) < workers:
                    spec = queue.pop()
                    try:
                        fut = pool.submit(run_episode, spec, factory)
                    except BrokenProcessPool:
                        # a worker died after the last wait returned: the in-flight episodes
                        # are the suspects; this one never started and goes back to the queue
                        queue.append(spec)
                        broken = True
                        break
                    in_flight[fut] = spec
                if broken:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for fut in done:
                    spec = in_flight.pop(fut)
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        suspects.append(spec)
                        continue
                    on_done(spec, outcome)
        finally:
            # On Ctrl-C or an error, drop what is queued instead of finishing it.
            pool.shutdown(wait=True, cancel_futures=True)
        suspects.extend(in_flight.values())
        for spec in suspects:
            on_done(spec, _run_isolated(spec, factory, ctx))


def _run_ray(
    specs: Sequence[EpisodeSpec],
    workers: int,
    factory: PolicyFactory | None,
    on_done: Callable[[EpisodeSpec, EpisodeOutcome], None],
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "--executor ray needs Ray, which is not installed; install the extra with "
            "`pip install 'embodisim[cluster]'` or use --executor local"
        ) from exc
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        # With no address, start a local instance limited to `workers` CPUs.
        kwargs: dict[str, Any] = {"num_cpus": workers} if not address else {}
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_episode)
        refs = {remote.remote(spec, factory): spec for spec in specs}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                spec = refs[ref]
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:  # worker died: record, go on
                    outcome = EpisodeOutcome(False, {}, f"ray task failed: {_describe(exc)}")
                on_done(spec, outcome)
    finally:
        if started:
            ray.shutdown()


_EXECUTORS: dict[str, Callable[..., None]] = {
    "local": _run_local,
    "ray": _run_ray,
    "inline": _run_inline,
}


def run_suite(
    suite: Suite | str,
    db_path: str | os.PathLike[str],
    workers: int = 1,
    executor: Executor = "local",
    episodes_override: int | None = None,
    progress: bool = True,
    policy_factory: PolicyFactory | None = None,
) -> dict[str, Any]:
    """Run every not-yet-stored episode of a suite and store the records.

    Args:
        suite: A :class:`~tasks.suites.Suite` or a registered suite name.
        db_path: SQLite results store (created if missing).
        workers: Parallel episodes (>= 1).
        executor: ``"local"`` (process pool; episodes run in worker processes
            even with one worker, so a native crash costs one episode, not the
            batch), ``"ray"`` (extra ``cluster``; ``RAY_ADDRESS`` selects a
            cluster, else a local instance) or ``"inline"`` (this process, one
            by one; for debugging).
        episodes_override: Episodes per condition instead of the suite's.
        progress: Show a progress bar on stderr.
        policy_factory: ``(task_id, name, env) -> Policy``; must be a
            module-level function to reach worker processes. Default
            ``tasks.policies.make_policy``.

    Returns:
        Summary: suite, db, run_id, executor, workers, planned, skipped
        (already stored), ran, succeeded, failed and sim_errors (this run).

    Raises:
        ValueError: On a bad suite name, worker count or executor.
        RuntimeError: If Ray is requested but missing.
    """
    s = get_suite(suite) if isinstance(suite, str) else suite
    if workers < 1:
        raise ValueError(f"--workers {workers}; expected >= 1")
    if executor not in _EXECUTORS:
        raise ValueError(f"--executor {executor!r}; expected one of {sorted(_EXECUTORS)}")
    specs = expand(s, episodes_override)
    run_id = uuid.uuid4().hex
    own_version, mujoco_version = versions()
    counts = {"ran": 0, "succeeded": 0, "failed": 0, "sim_errors": 0}
    with ResultsStore(db_path) as store:
        done = store.done_keys(s.name)
        todo = [sp for sp in specs if sp.key not in done]
        from tqdm import tqdm

        bar = tqdm(
            total=len(todo),
            desc=f"suite {s.name}",
            unit="ep",
            file=sys.stderr,
            disable=not progress,
        )

        def on_done(spec: EpisodeSpec, outcome: EpisodeOutcome) -> None:
            record = EpisodeRecord(
                run_id=run_id,
                suite=spec.suite,
                task_id=spec.task_id,
                condition=spec.condition,
                scenario_seed=spec.scenario_seed,
                episode_seed=spec.episode_seed,
                policy=spec.policy,
                success=outcome.success,
                metrics=outcome.metrics,
                sim_error=outcome.sim_error,
                wall_time_s=outcome.wall_time_s,
                embodisim_version=own_version,
                mujoco_version=mujoco_version,
                variant=spec.variant,
            )
            store.insert(record)
            counts["ran"] += 1
            counts["succeeded" if outcome.success else "failed"] += 1
            counts["sim_errors"] += outcome.sim_error is not None
            bar.update(1)

        try:
            if todo:
                _EXECUTORS[executor](todo, workers, policy_factory, on_done)
        finally:
            bar.close()
    return {
        "suite": s.name,
        "db": str(Path(db_path)),
        "run_id": run_id,
        "executor": executor,
        "workers": workers,
        "planned": len(specs),
        "skipped": len(specs) - len(todo),
        **counts,
    }
