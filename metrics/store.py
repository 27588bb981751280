"""The results store: one SQLite row per episode, append-only and resumable.

Why SQLite (standard library): one file, transactional, queryable with any
SQLite tool, and safe against a killed writer. The database runs in WAL mode
with ``synchronous=FULL`` and every episode is committed in its own
transaction, so a batch killed at any point (including ``kill -9``) keeps
every episode that finished and nothing half-written; a rerun skips the
finished episodes (:meth:`ResultsStore.done_keys`).

Only one process should write (the batch runner's parent); workers return
records to it.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from metrics._atomic import atomic_text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    suite TEXT NOT NULL,
    task_id TEXT NOT NULL,
    condition TEXT NOT NULL,
    scenario_seed INTEGER NOT NULL,
    episode_seed INTEGER NOT NULL,
    policy TEXT NOT NULL,
    variant TEXT NOT NULL DEFAULT '',
    success INTEGER NOT NULL CHECK (success IN (0, 1)),
    metrics TEXT NOT NULL,
    sim_error TEXT,
    wall_time_s REAL NOT NULL,
    embodisim_version TEXT NOT NULL,
    mujoco_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (suite, task_id, condition, policy, scenario_seed, episode_seed, variant)
);
CREATE INDEX IF NOT EXISTS episodes_suite ON episodes (suite);
"""

# Column order of rows(), the CSV export and the INSERT.
COLUMNS: tuple[str, ...] = (
    "run_id",
    "suite",
    "task_id",
    "condition",
    "scenario_seed",
    "episode_seed",
    "policy",
    "variant",
    "success",
    "metrics",
    "sim_error",
    "wall_time_s",
    "embodisim_version",
    "mujoco_version",
    "created_at",
)


class EpisodeKey(NamedTuple):
    """What identifies an episode within a suite (the store's unique key)."""

    task_id: str
    condition: str
    policy: str
    scenario_seed: int
    episode_seed: int
    variant: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished episode.

    Attributes:
        run_id: Identifier of the invocation that ran it (not part of the key).
        suite: Name of the suite it belongs to.
        task_id: Gymnasium id of the task, e.g. ``"embodisim/RoverTraverse-v0"``.
        condition: Working-condition name.
        scenario_seed: Seed of the scenario (scene) sampled from the condition.
        episode_seed: Seed passed to ``env.reset(seed=...)``.
        policy: Name of the policy that acted.
        success: Whether the task's ``evaluate()`` reported success.
        metrics: Named float signals (unit given by each name's task docs).
        sim_error: The simulation or episode error, ``None`` if it ran cleanly.
        wall_time_s: Wall-clock duration of the episode (seconds).
        embodisim_version: Version of embodisim that produced it.
        mujoco_version: Version of MuJoCo that simulated it (a string).
        variant: Ablation tag (e.g. ``"no-touch"``); ``""`` for the default.
        created_at: UTC ISO-8601 time the record was made.
    """

    run_id: str
    suite: str
    task_id: str
    condition: str
    scenario_seed: int
    episode_seed: int
    policy: str
    success: bool
    metrics: Mapping[str, float]
    sim_error: str | None
    wall_time_s: float
    embodisim_version: str
    mujoco_version: str
    variant: str = ""
    created_at: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        # A read-only copy: a frozen record must not change through its metrics.
        object.__setattr__(
            self, "metrics", MappingProxyType({str(k): float(v) for k, v in self.metrics.items()})
        )

    def __reduce__(self) -> tuple[type[EpisodeRecord], tuple[object, ...]]:
        # Picklable despite the read-only metrics view (records may cross processes).
        values = [getattr(self, f.name) for f in fields(self)]
        values[[f.name for f in fields(self)].index("metrics")] = dict(self.metrics)
        return (type(self), tuple(values))

    @property
    def key(self) -> EpisodeKey:
        """The episode's unique key within its suite."""
        return EpisodeKey(
            self.task_id,
            self.condition,
            self.policy,
            int(self.scenario_seed),
            int(self.episode_seed),
            self.variant,
        )

    def to_row(self) -> dict[str, object]:
        """The record as a flat dict of SQLite/CSV column values."""
        row: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        row["success"] = int(bool(self.success))
        # Python's extended JSON keeps NaN/Infinity (json.loads reads them back);
        # null would lose the difference between "not computed" and "diverged".
        row["metrics"] = json.dumps(dict(sorted(self.metrics.items())))
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> EpisodeRecord:
        """Rebuild a record from a row as written by :meth:`to_row`."""
        values = {f.name: row[f.name] for f in fields(cls)}
        values["success"] = bool(values["success"])
        values["metrics"] = json.loads(str(values["metrics"]))
        return cls(**values)  # type: ignore[arg-type]


class ResultsStore:
    """Append-only SQLite store of episode records.

    Args:
        path: Database file; created (with its parent folder) if missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30.0)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed episode survives power loss, not just a killed process.
        self._conn.execute("PRAGMA synchronous=FULL")
        with self._conn:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def insert(self, record: EpisodeRecord) -> bool:
        """Append one episode in its own transaction.

        Args:
            record: The finished episode.

        Returns:
            ``True`` if it was written, ``False`` if an episode with the same
            key was already stored (the store is append-only: the first
            record wins).
        """
        row = record.to_row()
        sql = (
            f"INSERT OR IGNORE INTO episodes ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in COLUMNS)})"
        )
        with self._conn:  # commits on success, rolls back on error
            cur = self._conn.execute(sql, [row[c] for c in COLUMNS])
        return cur.rowcount == 1

    def done_keys(self, suite: str) -> set[EpisodeKey]:
        """Keys of the episodes of ``suite`` already stored (for resuming)."""
        cur = self._conn.execute(
            "SELECT task_id, condition, policy, scenario_seed, episode_seed, variant "
            "FROM episodes WHERE suite = ?",
            (suite,),
        )
        return {EpisodeKey(*r) for r in cur}

    def rows(self, suite: str | None = None) -> list[EpisodeRecord]:
        """Stored records in insertion order, optionally of one suite only."""
        return list(self._iter_rows(suite))

    def _iter_rows(self, suite: str | None) -> Iterator[EpisodeRecord]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM episodes"
        args: tuple[str, ...] = ()
        if suite is not None:
            sql += " WHERE suite = ?"
            args = (suite,)
        for r in self._conn.execute(sql + " ORDER BY id", args):
            yield EpisodeRecord.from_row(dict(r))

    def suites(self) -> list[str]:
        """Names of the suites present in the store, sorted."""
        return [r[0] for r in self._conn.execute("SELECT DISTINCT suite FROM episodes ORDER BY 1")]

    def export_csv(self, path: str | os.PathLike[str], suite: str | None = None) -> Path:
        """Write the records to a CSV file atomically (temp file + rename).

        Args:
            path: Destination file.
            suite: Export only this suite's records (default: all).

        Returns:
            The written path.
        """
        dest = Path(path)
        with atomic_text(dest) as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            writer.writeheader()
            for rec in self._iter_rows(suite):
                row = rec.to_row()
                writer.writerow({c: "" if row[c] is None else row[c] for c in COLUMNS})
        return dest
