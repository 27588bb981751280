"""Scene libraries: generate, store, validate, query and summarize thousands of scenes.

A library is a folder holding ``library.sqlite`` (SQLite, WAL journal): one row
per scene with its id, condition, seeds, summary parameters, validation result,
spec hash, the canonical ScenarioSpec JSON and the rejected attempts with their
reasons. Heavy data (heightfields, rock meshes, the compiled model) is not
stored: ``scenes.build`` is a pure function of the spec, so it is rebuilt on
demand.

**Which scene is scene i.** With base seed ``S`` and the condition list ``C``
(the whole catalog in ``embodisim conditions`` order unless given), scene ``i``
has condition ``C[i % len(C)]`` and scene seed
``SeedSequence([S, i]).generate_state(1, uint64)[0] >> 1`` (63 bits). The scene
itself is ``scenes.generate.generate(condition, scene_seed)``: attempt ``k``
draws from ``default_rng([scene_seed, k])`` and the first attempt passing the
settle check is kept; rejected attempts are stored with their reasons. So the
same command twice gives the same library, row for row, whatever the number of
workers or the executor.

**Crash safety.** Workers only compute; the parent process alone writes, one
transaction per finished chunk of scenes. A run killed at any point (even
``kill -9``) leaves every committed scene intact and no partial row; rerunning
the same command skips the ids already stored and computes the rest.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenes.generate import attempt_spec
from scenes.spec import DemRef, ScenarioSpec, SpecError, light_level

DB_NAME = "library.sqlite"
LIBRARY_SCHEMA_VERSION = 1
Executor = Literal["local", "ray"]
DEFAULT_CHUNK = 25  # scenes per worker task and per committed transaction (upper bound)

# Index columns of the ``scenes`` table: name -> (SQL type, one-line meaning with unit).
# Every numeric one may be used in a query's where-clause.
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("INTEGER PRIMARY KEY", "scene index i in the library"),
    "condition": ("TEXT NOT NULL", "working-condition name"),
    "body": ("TEXT NOT NULL", "celestial body"),
    "base_seed": ("INTEGER NOT NULL", "library base seed S"),
    "scene_seed": ("INTEGER NOT NULL", "scene seed derived from (S, i)"),
    "spec_seed": ("INTEGER NOT NULL", "ScenarioSpec.seed (terrain/rock generator)"),
    "attempt": ("INTEGER NOT NULL", "index of the kept attempt"),
    "n_rejected": ("INTEGER NOT NULL", "number of rejected attempts before it"),
    "gravity": ("REAL NOT NULL", "|g| [m/s^2]"),
    "sun_elevation": ("REAL NOT NULL", "sun elevation [deg]"),
    "light_level": ("REAL NOT NULL", "horizontal irradiance, direct + ambient [W/m^2]"),
    "dust_optical_depth": ("REAL NOT NULL", "dust optical depth tau [-]"),
    "headlight": ("REAL NOT NULL", "headlight radiant intensity [W/sr]"),
    "friction": ("REAL NOT NULL", "regolith Coulomb friction [-]"),
    "terrain_area": ("REAL", "terrain area [m^2] (NULL without terrain)"),
    "n_craters": ("INTEGER NOT NULL", "craters carved"),
    "n_rocks": ("INTEGER NOT NULL", "rocks placed"),
    "crater_density": ("REAL", "craters per 100 m^2 (NULL without terrain)"),
    "rock_density": ("REAL", "rocks per 100 m^2 (NULL without terrain)"),
    "max_slope_deg": ("REAL", "steepest terrain slope [deg] (NULL without terrain)"),
    "goal_distance": ("REAL NOT NULL", "start-goal distance [m]"),
    "valid": ("INTEGER NOT NULL", "1 when the settle check passed at generation"),
    "max_penetration_m": ("REAL NOT NULL", "deepest contact after settling [m]"),
    "rover_drift_m": ("REAL NOT NULL", "rover drift while settling [m]"),
    "rover_tilt_deg": ("REAL NOT NULL", "rover tilt after settling [deg]"),
    "spec_hash": ("TEXT NOT NULL", "SHA-256 of the canonical spec JSON"),
    "spec_json": ("TEXT NOT NULL", "canonical compact ScenarioSpec JSON"),
    "rejected_json": ("TEXT NOT NULL", "[[attempt, [reasons...]], ...] of rejected attempts"),
}
QUERY_COLUMNS: tuple[str, ...] = tuple(
    n
    for n, (t, _) in COLUMNS.items()
    if (t.startswith("INTEGER") or t.startswith("REAL")) and n not in ("base_seed",)
)
_INSERT_SQL = (
    f"INSERT INTO scenes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)


class LibraryError(ValueError):
    """A library folder, its metadata or a request on it is invalid."""


# ---------------------------------------------------------------------------------------------
# Seeds and the plan of a library
# ---------------------------------------------------------------------------------------------


def scene_seed(base_seed: int, index: int) -> int:
    """Seed of scene ``index`` of a library with ``base_seed`` (63-bit, via SeedSequence)."""
    if base_seed < 0 or index < 0:
        raise LibraryError(
            f"seed/index: got base_seed={base_seed}, index={index}; accepted: integers >= 0"
        )
    state = np.random.SeedSequence([base_seed, index]).generate_state(1, dtype=np.uint64)
    return int(state[0]) >> 1


def resolve_conditions(conditions: Sequence[str] | str | None) -> tuple[str, ...]:
    """Condition list of a library: all (catalog order) when None; names checked."""
    from scenes.conditions import CONDITIONS, get_condition

    if conditions is None:
        return tuple(CONDITIONS)
    if isinstance(conditions, str):
        conditions = [c.strip() for c in conditions.split(",") if c.strip()]
    names = tuple(conditions)
    if not names:
        raise LibraryError(
            "conditions: got an empty list; give at least one name (see `embodisim conditions`)"
        )
    for n in names:
        get_condition(n)
    if len(set(names)) != len(names):
        raise LibraryError(f"conditions: {list(names)} repeats a name; list each condition once")
    return names


def plan(index: int, base_seed: int, conditions: Sequence[str]) -> tuple[int, str, int]:
    """``(index, condition, scene_seed)`` of scene ``index`` (see module docstring)."""
    return index, conditions[index % len(conditions)], scene_seed(base_seed, index)


# ---------------------------------------------------------------------------------------------
# Worker side: pure functions of their arguments (run in pool workers or in-process)
# ---------------------------------------------------------------------------------------------


def _summary_row(spec: ScenarioSpec, summary: dict[str, Any]) -> dict[str, Any]:
    """Index values shared by generation and validation."""
    t = spec.terrain
    area = t.size_x * t.size_y if t.enabled else None
    n_craters = int(summary.get("n_craters", 0))
    n_rocks = int(summary.get("n_rocks", 0))
    slope = summary.get("max_slope_deg")
    return {
        "condition": spec.condition,
        "body": spec.body.name,
        "spec_seed": spec.seed,
        "gravity": float(np.linalg.norm(spec.body.gravity)),
        "sun_elevation": spec.lighting.sun_elevation_deg,
        "light_level": light_level(spec),
        "dust_optical_depth": spec.atmosphere.dust_optical_depth,
        "headlight": spec.lighting.headlight_intensity,
        "friction": spec.regolith.friction,
        "terrain_area": area,
        "n_craters": n_craters,
        "n_rocks": n_rocks,
        "crater_density": None if area is None else 100.0 * n_craters / area,
        "rock_density": None if area is None else 100.0 * n_rocks / area,
        "max_slope_deg": None if slope is None else float(slope),
        "goal_distance": math.hypot(spec.goal.x - spec.robot.x, spec.goal.y - spec.robot.y),
    }


def generate_one(
    index: int, condition: str, seed: int, base_seed: int, dem: DemRef | None = None
) -> dict[str, Any]:
    """Generate scene ``index`` and return its row (``{"error": ...}`` when none is valid)."""
    from scenes.dem import DemError
    from scenes.generate import GenerationError, generate

    try:
        g = generate(condition, seed, dem=dem)
    except (GenerationError, DemError) as exc:
        return {"id": index, "condition": condition, "scene_seed": seed, "error": str(exc)}
    text = g.spec.to_json(indent=None)
    row = {
        "id": index,
        "base_seed": base_seed,
        "scene_seed": seed,
        "attempt": g.attempt,
        "n_rejected": len(g.rejected),
        **_summary_row(g.spec, g.report.summary),
        "valid": int(g.report.valid),
        "max_penetration_m": g.report.max_penetration_m,
        "rover_drift_m": g.report.rover_drift_m,
        "rover_tilt_deg": g.report.rover_tilt_deg,
        "spec_hash": hashlib.sha256(text.encode()).hexdigest(),  # = spec_hash(), one serialization
        "spec_json": text,
        "rejected_json": json.dumps([[k, list(r)] for k, r in g.rejected]),
    }
    return row


def _generate_chunk(
    tasks: list[tuple[int, str, int, int]], dem: DemRef | None = None
) -> list[dict[str, Any]]:
    return [generate_one(*t, dem=dem) for t in tasks]


# Relative tolerance when comparing stored float index values with recomputed ones:
# the build is deterministic on one machine; the slack covers libm differences across machines.
_INDEX_RTOL = 1e-6
_SETTLE_RTOL, _SETTLE_ATOL = 1e-3, 1e-4  # settle outcome columns [m, deg]


def validate_one(
    row: dict[str, Any], settle: bool = True, dem: DemRef | None = None
) -> tuple[str, str]:
    """Re-check one stored scene; returns ``(status, detail)``.

    Statuses, in the order they are checked: ``corrupt`` (spec JSON does not
    parse or is out of range), ``hash-mismatch`` (stored text or canonical form
    differs from ``spec_hash``: corruption or tampering), ``provenance-mismatch``
    (the condition does not give this spec for the stored seed and attempt:
    a consistent edit of spec and hash), ``index-mismatch`` (an index column
    disagrees with the spec or the rebuilt scene), ``invalid`` (the rebuilt scene
    fails the settle check), ``valid``.
    """
    from scenes.conditions import get_condition

    text = row["spec_json"]
    try:
        spec = ScenarioSpec.from_json(text)
    except (SpecError, TypeError) as exc:
        return "corrupt", f"spec JSON: {exc}"
    raw = hashlib.sha256(text.encode()).hexdigest()
    canon = spec.spec_hash()
    if raw != row["spec_hash"] or canon != row["spec_hash"]:
        return "hash-mismatch", (
            f"stored spec_hash {row['spec_hash'][:12]}, stored text hashes to {raw[:12]}, "
            f"canonical spec to {canon[:12]}"
        )
    try:
        get_condition(row["condition"])
    except SpecError as exc:
        return "provenance-mismatch", str(exc)
    try:
        resampled = attempt_spec(row["condition"], int(row["scene_seed"]), int(row["attempt"]), dem)
    except ValueError as exc:  # DemError: the library's DEM is missing or changed
        return "invalid", f"DEM: {exc}"
    # equal specs serialize (and hash) alike: hash only when they differ
    if resampled != spec and resampled.spec_hash() != canon:
        return "provenance-mismatch", (
            f"condition {row['condition']!r} seed {row['scene_seed']} attempt {row['attempt']} "
            f"gives spec {resampled.spec_hash()[:12]}, stored {canon[:12]}"
        )
    summary: dict[str, Any] = {
        "n_craters": row["n_craters"],
        "n_rocks": row["n_rocks"],
        "max_slope_deg": row["max_slope_deg"],
    }
    if settle:
        from scenes.settle import settle_check

        report = settle_check(spec)
        if not report.valid:
            return "invalid", "; ".join(report.reasons)
        summary = report.summary
        # The settled state is a deterministic function of the spec: the stored outcome must
        # be reproduced (slack for other CPUs' floating point in a dissipative settle).
        for key, value in (("max_penetration_m", report.max_penetration_m),
                           ("rover_drift_m", report.rover_drift_m),
                           ("rover_tilt_deg", report.rover_tilt_deg)):
            if not math.isclose(float(row[key]), value, rel_tol=_SETTLE_RTOL, abs_tol=_SETTLE_ATOL):
                return "index-mismatch", (
                    f"column {key}: stored {row[key]!r}, the settle check gives {value!r}"
                )
    expected = _summary_row(spec, summary)
    for key, want in expected.items():
        have = row.get(key)
        if isinstance(want, float) and have is not None:
            ok = math.isclose(float(have), want, rel_tol=_INDEX_RTOL, abs_tol=1e-9)
        else:
            ok = have == want
        if not ok:
            return "index-mismatch", f"column {key}: stored {have!r}, spec/rebuild gives {want!r}"
    return "valid", ""


def _validate_chunk(
    rows: list[dict[str, Any]], settle: bool, dem: DemRef | None = None
) -> list[tuple[int, str, str, str]]:
    out = []
    for row in rows:
        try:
            status, detail = validate_one(row, settle, dem)
        except Exception as exc:  # noqa: BLE001 - one broken scene must not stop the check
            status, detail = "error", f"{type(exc).__name__}: {exc}"
        out.append((int(row["id"]), str(row["condition"]), status, detail))
    return out


# ---------------------------------------------------------------------------------------------
# Executors: run chunks, hand each finished chunk to the parent's callback
# ---------------------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _run_chunks(
    fn: Callable[..., list[Any]],
    chunks: list[list[Any]],
    extra: tuple[Any, ...],
    workers: int,
    executor: Executor,
    on_done: Callable[[list[Any]], None],
) -> None:
    """Run ``fn(chunk, *extra)`` for every chunk; ``on_done`` in the parent, as they finish."""
    if executor not in ("local", "ray"):
        raise LibraryError(f"executor: got {executor!r}; accepted: 'local' or 'ray'")
    if workers < 1:
        raise LibraryError(f"workers: got {workers}; accepted: an integer >= 1")
    if executor == "ray":
        _run_ray(fn, chunks, extra, workers, on_done)
        return
    if workers == 1 or len(chunks) <= 1:
        for c in chunks:
            on_done(fn(c, *extra))
        return
    # 'spawn': fresh interpreters, no forked MuJoCo state. Workers live for the whole run
    # (no max_tasks_per_child), so each imports MuJoCo and builds the rock prototypes once.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        # Keep at most 2 chunks per worker in flight: results reach the database in
        # roughly index order and memory stays bounded for any library size.
        todo = iter(chunks)
        pending: set[Future[list[Any]]] = set()
        try:
            for c in todo:
                pending.add(pool.submit(fn, c, *extra))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    on_done(fut.result())
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.add(pool.submit(fn, nxt, *extra))
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "a worker process died while generating/validating scenes; every finished "
                "chunk is stored - rerun the same command to resume"
            ) from exc


def _run_ray(
    fn: Callable[..., list[Any]],
    chunks: list[list[Any]],
    extra: tuple[Any, ...],
    workers: int,
    on_done: Callable[[list[Any]], None],
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise LibraryError(
            "--executor ray needs Ray, which is not installed; install the extra with "
            "`pip install 'embodisim[cluster]'` or use --executor local"
        ) from exc
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {"num_cpus": workers} if not address else {}
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray raises plain Exception on start-up failure
            raise LibraryError(
                f"--executor ray: Ray could not start ({type(exc).__name__}: {exc}); check "
                "RAY_ADDRESS or use --executor local"
            ) from exc
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(fn)
        pending = [remote.remote(c, *extra) for c in chunks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                on_done(ray.get(ref))
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------


def db_path(path: str | os.PathLike[str]) -> Path:
    """The SQLite file of a library given its folder (or the file itself)."""
    p = Path(path)
    return p if p.suffix == ".sqlite" else p / DB_NAME


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    return con


def _create(con: sqlite3.Connection) -> None:
    cols = ", ".join(f"{n} {t}" for n, (t, _) in COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS scenes ({cols})")
    con.execute("CREATE INDEX IF NOT EXISTS scenes_condition ON scenes(condition)")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute(
        "CREATE TABLE IF NOT EXISTS failures (id INTEGER PRIMARY KEY, condition TEXT NOT NULL, "
        "scene_seed INTEGER NOT NULL, error TEXT NOT NULL)"
    )


def _meta(con: sqlite3.Connection) -> dict[str, str]:
    return {r["key"]: r["value"] for r in con.execute("SELECT key, value FROM meta")}


@dataclass(frozen=True)
class GenerateResult:
    """What one ``generate_library`` call did."""

    path: Path  # the library folder
    requested: int  # --count
    stored: int  # scenes in the library now
    new: int  # scenes generated by this call
    skipped: int  # ids already stored (resumed)
    failures: tuple[tuple[int, str], ...]  # (id, error) of ids with no valid scene
    seconds: float  # wall time of this call
    bytes_total: int  # size of the library folder
    rejected_attempts: int  # rejected attempts among the new scenes

    @property
    def scenes_per_s(self) -> float:
        """New scenes per second of wall time."""
        return self.new / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "path": str(self.path),
            "requested": self.requested,
            "stored": self.stored,
            "new": self.new,
            "skipped": self.skipped,
            "failures": [list(f) for f in self.failures],
            "seconds": round(self.seconds, 3),
            "scenes_per_s": round(self.scenes_per_s, 2),
            "bytes_total": self.bytes_total,
            "bytes_per_scene": round(self.bytes_total / max(self.stored, 1), 1),
            "rejected_attempts": self.rejected_attempts,
        }


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def generate_library(
    out: str | os.PathLike[str],
    count: int,
    conditions: Sequence[str] | str | None = None,
    seed: int = 0,
    workers: int = 1,
    executor: Executor = "local",
    chunk_size: int | None = None,
    progress: bool = False,
    dem: DemRef | None = None,
) -> GenerateResult:
    """Generate (or resume) a library of ``count`` scenes in folder ``out``.

    Args:
        out: Library folder (created if missing).
        count: Number of scenes, ids ``0 .. count-1``.
        conditions: Condition names (list or comma-separated); None = whole catalog.
        seed: Base seed ``S`` (>= 0).
        workers: Parallel worker processes (local) or CPUs (Ray).
        executor: ``"local"`` process pool or ``"ray"`` (extra ``cluster``).
        chunk_size: Scenes per worker task and per committed transaction
            (default: up to :data:`DEFAULT_CHUNK`, smaller for small runs).
        progress: Show a tqdm progress bar on stderr.
        dem: A real DEM as the terrain base of every scene (``center`` unset: each
            attempt is placed at a random spot, see ``scenes.dem.place_on_dem``);
            make one with ``scenes.dem.dem_ref_for``. Stored in the library
            metadata; a resume must name the same file.

    Returns:
        A :class:`GenerateResult`.

    Raises:
        LibraryError: Bad arguments, or a folder holding a library made with another
            base seed or condition list (the message names both values).
    """
    t0 = time.perf_counter()
    if count < 1:
        raise LibraryError(f"count: got {count}; accepted: an integer >= 1")
    if seed < 0:
        raise LibraryError(f"seed: got {seed}; accepted: an integer >= 0")
    names = resolve_conditions(conditions)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    con = _connect(db_path(folder))
    try:
        con.execute("BEGIN IMMEDIATE")
        _create(con)
        meta = _meta(con)
        if meta:
            _check_same_plan(meta, seed, names, folder, dem)
        else:
            _write_meta(con, seed, names, dem)
        con.execute("COMMIT")
        have = {int(r[0]) for r in con.execute("SELECT id FROM scenes")}
        failed = {int(r[0]) for r in con.execute("SELECT id FROM failures")}
        todo = [plan(i, seed, names) for i in range(count) if i not in have and i not in failed]
        skipped = count - len(todo)
        size = chunk_size or max(1, min(DEFAULT_CHUNK, math.ceil(len(todo) / (4 * workers))))
        tasks = [(i, c, s, seed) for i, c, s in todo]
        bar = _progress(progress, count, skipped, "generate")
        new = rejected = 0
        fails: list[tuple[int, str]] = []

        def on_done(rows: list[dict[str, Any]]) -> None:
            nonlocal new, rejected
            good = [r for r in rows if "error" not in r]
            bad = [r for r in rows if "error" in r]
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany(_INSERT_SQL, [tuple(r[c] for c in COLUMNS) for r in good])
                con.executemany(
                    "INSERT INTO failures (id, condition, scene_seed, error) VALUES (?, ?, ?, ?)",
                    [(r["id"], r["condition"], r["scene_seed"], r["error"]) for r in bad],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            new += len(good)
            rejected += sum(r["n_rejected"] for r in good)
            fails.extend((r["id"], r["error"]) for r in bad)
            if bar is not None:
                bar.update(len(rows))

        try:
            _run_chunks(_generate_chunk, _chunks(tasks, size), (dem,), workers, executor, on_done)
        finally:
            if bar is not None:
                bar.close()
        stored = int(con.execute("SELECT COUNT(*) FROM scenes").fetchone()[0])
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return GenerateResult(
        path=folder,
        requested=count,
        stored=stored,
        new=new,
        skipped=skipped,
        failures=tuple(sorted(fails)),
        seconds=time.perf_counter() - t0,
        bytes_total=_folder_bytes(folder),
        rejected_attempts=rejected,
    )


def _dem_meta(dem: DemRef | None) -> str:
    from scenes.spec import _to_plain

    return "" if dem is None else json.dumps(_to_plain(dem), sort_keys=True)


def library_dem(meta: dict[str, str]) -> DemRef | None:
    """The DEM a library was generated over (from its metadata), or None."""
    from scenes.spec import _convert

    text = meta.get("dem", "")
    return None if not text else _convert(DemRef, json.loads(text), "meta.dem")


def _write_meta(
    con: sqlite3.Connection, seed: int, names: Sequence[str], dem: DemRef | None = None
) -> None:
    import mujoco

    try:
        from importlib.metadata import version

        own = version("embodisim")
    except Exception:  # noqa: BLE001 - metadata missing in a plain checkout
        own = "unknown"
    values = {
        "library_schema_version": str(LIBRARY_SCHEMA_VERSION),
        "base_seed": str(seed),
        "conditions": json.dumps(list(names)),
        "embodisim_version": own,
        "mujoco_version": str(mujoco.__version__),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dem": _dem_meta(dem),
    }
    con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(values.items()))


def _check_same_plan(
    meta: dict[str, str], seed: int, names: Sequence[str], folder: Path, dem: DemRef | None = None
) -> None:
    version = meta.get("library_schema_version")
    if version != str(LIBRARY_SCHEMA_VERSION):
        raise LibraryError(
            f"{folder}: library_schema_version is {version!r}, this embodisim writes "
            f"{LIBRARY_SCHEMA_VERSION}; generate into a new folder"
        )
    if meta.get("base_seed") != str(seed):
        raise LibraryError(
            f"--seed: got {seed}, but {folder} was generated with seed {meta.get('base_seed')}; "
            "rerun with that seed to resume, or choose a new --out folder"
        )
    stored = json.loads(meta.get("conditions", "[]"))
    if stored != list(names):
        raise LibraryError(
            f"--conditions: got {list(names)}, but {folder} was generated with {stored}; "
            "rerun with the same list to resume, or choose a new --out folder"
        )
    if meta.get("dem", "") != _dem_meta(dem):
        raise LibraryError(
            f"--dem: got {_dem_meta(dem) or 'none'}, but {folder} was generated with "
            f"{meta.get('dem') or 'none'}; rerun with the same DEM to resume, or choose a new "
            "--out folder"
        )


def _progress(enabled: bool, total: int, initial: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="scene", dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------
# Reading: the Library class, queries
# ---------------------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*(<=|>=|==|!=|=|<|>)\s*"
    r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_SQL_OP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "==": "=", "!=": "!="}


def parse_where(text: str) -> list[tuple[str, str, float]]:
    """Parse ``"col op number [and col op number ...]"`` into ``[(col, sql_op, value)]``.

    Columns must be in :data:`QUERY_COLUMNS`; operators are ``< <= > >= = == !=``;
    values are finite decimal numbers. Nothing of the text reaches SQL except
    through the whitelist (columns, operators) and bound parameters (values).

    Raises:
        LibraryError: Naming the offending clause and what is accepted.
    """
    if not text or not text.strip():
        return []
    out = []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m is None:
            raise LibraryError(
                f"--where: cannot read {clause!r}; accepted: COLUMN OP NUMBER joined by 'and', "
                f"OP one of < <= > >= = != (e.g. \"sun_elevation<10 and n_rocks>=5\")"
            )
        col, op, num = m.group(1).lower(), m.group(2), float(m.group(3))
        if col not in QUERY_COLUMNS:
            raise LibraryError(
                f"--where: unknown column {col!r}; accepted columns are {list(QUERY_COLUMNS)}"
            )
        if not math.isfinite(num):
            raise LibraryError(f"--where: value {m.group(3)!r} is not a finite number")
        out.append((col, _SQL_OP[op], num))
    return out


class Library:
    """Read access to a generated library.

    ``Library(path)`` opens ``path/library.sqlite`` (or the file itself). ``len``
    counts the scenes, iteration yields ``(id, ScenarioSpec)`` in id order,
    :meth:`query` filters, :meth:`spec` fetches one scene.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.db = db_path(path)
        if not self.db.is_file():
            raise FileNotFoundError(
                f"library {str(path)!r}: no {DB_NAME} found; create one with "
                "`embodisim library generate --count N --out DIR`"
            )
        self._con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60.0)
        self._con.row_factory = sqlite3.Row
        tables = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master")}
        if "scenes" not in tables or "meta" not in tables:
            self._con.close()
            raise LibraryError(f"{self.db}: not an embodisim scene library (tables missing)")

    def close(self) -> None:
        """Close the database connection."""
        self._con.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def meta(self) -> dict[str, str]:
        """Library metadata (base seed, conditions, versions)."""
        return _meta(self._con)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM scenes").fetchone()[0])

    def ids(self) -> list[int]:
        """All scene ids, ascending."""
        return [int(r[0]) for r in self._con.execute("SELECT id FROM scenes ORDER BY id")]

    def __iter__(self) -> Iterator[tuple[int, ScenarioSpec]]:
        cur = self._con.execute("SELECT id, spec_json FROM scenes ORDER BY id")
        for r in cur:
            yield int(r[0]), ScenarioSpec.from_json(r[1])

    def row(self, scene_id: int) -> dict[str, Any]:
        """The stored row of one scene as a dict."""
        r = self._con.execute("SELECT * FROM scenes WHERE id = ?", (int(scene_id),)).fetchone()
        if r is None:
            raise LibraryError(
                f"scene id {scene_id}: not in {self.db} (ids 0..{self._max_id()}, {len(self)} scenes)"
            )
        return dict(r)

    def _max_id(self) -> int:
        v = self._con.execute("SELECT MAX(id) FROM scenes").fetchone()[0]
        return -1 if v is None else int(v)

    def spec(self, scene_id: int) -> ScenarioSpec:
        """The ScenarioSpec of scene ``scene_id``."""
        return ScenarioSpec.from_json(self.row(scene_id)["spec_json"])

    def rows(self, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """All rows (index columns only unless ``columns`` is given), id order."""
        cols = list(columns or [c for c in COLUMNS if c not in ("spec_json", "rejected_json")])
        bad = [c for c in cols if c not in COLUMNS]
        if bad:
            raise LibraryError(f"columns: unknown {bad}; accepted are {list(COLUMNS)}")
        cur = self._con.execute(f"SELECT {', '.join(cols)} FROM scenes ORDER BY id")
        return [dict(r) for r in cur]

    def conditions(self) -> dict[str, int]:
        """Scene count per condition."""
        cur = self._con.execute("SELECT condition, COUNT(*) FROM scenes GROUP BY condition")
        return {str(r[0]): int(r[1]) for r in cur}

    def failures(self) -> list[tuple[int, str]]:
        """Ids for which no valid scene was found, with the error."""
        return [(int(r[0]), str(r[1])) for r in self._con.execute(
            "SELECT id, error FROM failures ORDER BY id")]

    def query(self, condition: str | None = None, where: str | None = None) -> list[int]:
        """Ids of the scenes matching ``condition`` and the ``where`` text (see :func:`parse_where`)."""
        sql = ["SELECT id FROM scenes WHERE 1=1"]
        params: list[Any] = []
        if condition is not None:
            from scenes.conditions import get_condition

            get_condition(condition)
            sql.append("AND condition = ?")
            params.append(condition)
        for col, op, value in parse_where(where or ""):
            sql.append(f"AND {col} {op} ?")  # col and op come from whitelists only
            params.append(value)
        sql.append("ORDER BY id")
        return [int(r[0]) for r in self._con.execute(" ".join(sql), params)]


def scenario_from_library(
    path: str | os.PathLike[str],
    index: int,
    condition: str | None = None,
    where: str | None = None,
) -> ScenarioSpec:
    """The ``index``-th scene (id order) of a library, optionally of a query of it.

    Without ``condition``/``where``, ``index`` is the position among all scenes
    (equal to the scene id in a complete library).

    Raises:
        LibraryError: If ``index`` is outside ``[0, number of matches)``.
    """
    with Library(path) as lib:
        ids = lib.query(condition=condition, where=where)
        if not 0 <= index < len(ids):
            what = f" matching condition={condition!r} where={where!r}" if condition or where else ""
            raise LibraryError(
                f"library_index: got {index}; the library {lib.db} has {len(ids)} scenes{what}, "
                f"so accepted is 0..{len(ids) - 1}"
            )
        return lib.spec(ids[index])


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate_library`."""

    path: Path  # library folder
    statuses: tuple[tuple[int, str, str, str], ...]  # (id, condition, status, detail), id order
    seconds: float  # wall time
    failures: tuple[tuple[int, str], ...] = field(default=())  # ids with no valid scene at generation

    @property
    def counts(self) -> dict[str, int]:
        """Scene count per status."""
        return dict(Counter(s for _, _, s, _ in self.statuses))

    @property
    def by_condition(self) -> dict[str, dict[str, int]]:
        """Status counts per condition."""
        out: dict[str, dict[str, int]] = {}
        for _, cond, status, _ in self.statuses:
            out.setdefault(cond, {}).setdefault(status, 0)
            out[cond][status] += 1
        return dict(sorted(out.items()))

    @property
    def ok(self) -> bool:
        """True when every scene is valid, there is at least one and no id failed."""
        return bool(self.statuses) and not self.failures and all(
            s == "valid" for _, _, s, _ in self.statuses
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary including every non-valid scene."""
        n = len(self.statuses)
        return {
            "path": str(self.path),
            "scenes": n,
            "valid": self.counts.get("valid", 0),
            "ok": self.ok,
            "counts": self.counts,
            "by_condition": self.by_condition,
            "problems": [
                {"id": i, "condition": c, "status": s, "detail": d}
                for i, c, s, d in self.statuses
                if s != "valid"
            ],
            "generation_failures": [list(f) for f in self.failures],
            "seconds": round(self.seconds, 3),
            "scenes_per_s": round(n / self.seconds, 2) if self.seconds > 0 else 0.0,
        }


def validate_library(
    path: str | os.PathLike[str],
    workers: int = 1,
    executor: Executor = "local",
    settle: bool = True,
    chunk_size: int | None = None,
    progress: bool = False,
) -> ValidationResult:
    """Re-check every scene of a library (see :func:`validate_one` for the statuses).

    Args:
        path: Library folder.
        workers: Parallel worker processes.
        executor: ``"local"`` or ``"ray"``.
        settle: Rebuild, compile and settle every scene (False: only the
            hash/provenance/index checks, which need no simulation).
        chunk_size: Scenes per worker task.
        progress: Show a tqdm progress bar.

    Returns:
        A :class:`ValidationResult`; ``.ok`` is the pass/fail verdict.
    """
    t0 = time.perf_counter()
    with Library(path) as lib:
        cur = lib._con.execute("SELECT * FROM scenes ORDER BY id")
        rows = [dict(r) for r in cur]
        fails = tuple(lib.failures())
        dem = library_dem(lib.meta)
    size = chunk_size or max(1, min(DEFAULT_CHUNK, math.ceil(len(rows) / (4 * workers))))
    bar = _progress(progress, len(rows), 0, "validate")
    out: list[tuple[int, str, str, str]] = []

    def on_done(res: list[tuple[int, str, str, str]]) -> None:
        out.extend(res)
        if bar is not None:
            bar.update(len(res))

    try:
        _run_chunks(_validate_chunk, _chunks(rows, size), (settle, dem), workers, executor, on_done)
    finally:
        if bar is not None:
            bar.close()
    return ValidationResult(
        path=Path(path), statuses=tuple(sorted(out)), seconds=time.perf_counter() - t0,
        failures=fails,
    )


# ---------------------------------------------------------------------------------------------
# Diversity statistics
# ---------------------------------------------------------------------------------------------

_HISTOGRAMS: tuple[tuple[str, str, bool], ...] = (
    ("gravity", "gravity |g| [m/s^2]", True),
    ("sun_elevation", "sun elevation [deg]", False),
    ("light_level", "light level (horizontal irradiance) [W/m^2]", True),
    ("dust_optical_depth", "dust optical depth tau [-]", False),
    ("crater_density", "crater density [per 100 m^2]", False),
    ("rock_density", "rock density [per 100 m^2]", False),
    ("n_craters", "craters per scene", False),
    ("n_rocks", "rocks per scene", False),
    ("max_slope_deg", "max terrain slope [deg]", False),
)


def library_stats(
    path: str | os.PathLike[str], out: str | os.PathLike[str], each: bool = False
) -> dict[str, Any]:
    """Write diversity histograms (PNG), ``summary.json`` and ``summary.md`` to ``out``.

    ``diversity.png`` holds one histogram per parameter (stacked by condition);
    with ``each`` every histogram is also written alone as ``hist_<column>.png``.

    Returns:
        The summary dict (also written as JSON).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scenes._io import atomic_write_bytes, atomic_write_text

    with Library(path) as lib:
        rows = lib.rows()
        meta = lib.meta
        per_cond = lib.conditions()
    if not rows:
        raise LibraryError(f"library {path}: no scenes to summarize; generate some first")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    conds = sorted(per_cond)
    summary: dict[str, Any] = {
        "library": str(path),
        "scenes": len(rows),
        "conditions": per_cond,
        "bodies": dict(Counter(r["body"] for r in rows)),
        "base_seed": int(meta.get("base_seed", "0")),
        "rejected_attempts": int(sum(r["n_rejected"] for r in rows)),
        "columns": {},
        "plots": [],
    }
    cmap = plt.get_cmap("tab20")
    colors = [cmap(i % 20) for i in range(len(conds))]  # one colour per condition (13 in the catalog)
    fig_all, axes = plt.subplots(3, 3, figsize=(15, 12))
    for ax_all, (col, label, logx) in zip(axes.ravel(), _HISTOGRAMS, strict=True):
        vals_by = {
            c: np.array([r[col] for r in rows if r["condition"] == c and r[col] is not None],
                        dtype=float)
            for c in conds
        }
        allv = np.concatenate([v for v in vals_by.values()]) if vals_by else np.zeros(0)
        if allv.size == 0:
            ax_all.set_title(f"{label}: no data")
            continue
        summary["columns"][col] = {
            "n": int(allv.size),
            "min": float(allv.min()),
            "p5": float(np.percentile(allv, 5)),
            "median": float(np.median(allv)),
            "p95": float(np.percentile(allv, 95)),
            "max": float(allv.max()),
            "mean": float(allv.mean()),
        }
        pos = allv[allv > 0]
        use_log = logx and pos.size > 0
        if use_log:
            # log bins over the positive values; zeros (e.g. free fall in orbit) get a first bin
            lo, hi = float(pos.min()), float(pos.max())
            bins = np.geomspace(lo, hi * 1.0001 if hi > lo else lo * 10, 40)
            if pos.size < allv.size:
                bins = np.concatenate([[0.0, lo / 10], bins])
        else:
            bins = np.histogram_bin_edges(allv, bins=40)
        for target in (ax_all, None) if each else (ax_all,):
            if target is None:
                fig, ax = plt.subplots(figsize=(8, 5))
            else:
                ax = target
            present = [c for c in conds if vals_by[c].size]
            ax.hist([vals_by[c] for c in present], bins=bins, stacked=True, label=present,
                    color=[colors[conds.index(c)] for c in present])
            if use_log:
                if bins[0] == 0.0:
                    ax.set_xscale("symlog", linthresh=float(bins[1]))
                else:
                    ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("scenes")
            if target is None:
                ax.legend(fontsize=7, ncol=2)
                fig.tight_layout()
                name = f"hist_{col}.png"
                _save_fig(fig, out_dir / name, atomic_write_bytes)
                plt.close(fig)
                summary["plots"].append(name)
    axes.ravel()[0].legend(fontsize=6, ncol=1)
    fig_all.suptitle(f"scene library diversity: {len(rows)} scenes, {len(conds)} conditions")
    fig_all.tight_layout()
    _save_fig(fig_all, out_dir / "diversity.png", atomic_write_bytes)
    plt.close(fig_all)
    summary["plots"].insert(0, "diversity.png")
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out_dir / "summary.md", _summary_md(summary))
    return summary


def _save_fig(fig: Any, path: Path, writer: Callable[[Path, bytes], None]) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    writer(path, buf.getvalue())


def _summary_md(s: dict[str, Any]) -> str:
    lines = [
        f"# Scene library summary: {s['library']}",
        "",
        f"{s['scenes']} scenes, {len(s['conditions'])} conditions, base seed {s['base_seed']}, "
        f"{s['rejected_attempts']} rejected attempts (resampled).",
        "",
        "| condition | scenes |",
        "|---|---:|",
        *[f"| {c} | {n} |" for c, n in sorted(s["conditions"].items())],
        "",
        "| parameter | n | min | p5 | median | p95 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for col, v in s["columns"].items():
        lines.append(
            f"| {col} | {v['n']} | {v['min']:.4g} | {v['p5']:.4g} | {v['median']:.4g} | "
            f"{v['p95']:.4g} | {v['max']:.4g} |"
        )
    lines += ["", *[f"![{p}]({p})" for p in s["plots"]], ""]
    return "\n".join(lines)
