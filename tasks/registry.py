"""One record per task: id, entry point, episode limit, reference policies, suites use them.

Registration is explicit and versioned (``embodisim/<Name>-v0``) with lazy
string entry points, as in ``gymnasium/envs/__init__.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import gymnasium as gym
import numpy as np


class Policy(Protocol):
    """What the runner needs from a controller: reset per episode, act on observations."""

    def reset(self, seed: int) -> None:
        """Start a new episode."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Action for one observation."""


@dataclass(frozen=True)
class TaskRecord:
    """Everything about one registered task in one place."""

    name: str  # e.g. "RoverTraverse"
    entry_point: str  # "module:Class"
    max_episode_steps: int  # TimeLimit
    policies: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    family: str = "extreme"  # "extreme" | "touch": which indicator its success feeds
    version: int = 0
    # which working conditions the task makes physical sense on: "surface" (needs ground:
    # a rover), "free-floating" (the 0 g workspace), or "any"
    workspace: str = "any"

    def applies_to(self, condition: str) -> bool:
        """Whether this task can run on ``condition`` (by its terrain / gravity)."""
        if self.workspace == "any":
            return True
        from scenes.conditions import get_condition

        has_ground = get_condition(condition).terrain
        return has_ground if self.workspace == "surface" else not has_ground

    @property
    def id(self) -> str:
        """Gymnasium id."""
        return f"embodisim/{self.name}-v{self.version}"


TASKS: tuple[TaskRecord, ...] = (
    TaskRecord(
        name="RoverTraverse",
        entry_point="tasks.rover_traverse:RoverTraverseEnv",
        max_episode_steps=2000,
        policies=MappingProxyType({
            "scripted": "tasks.controllers.rover:RoverGoalSeeker",
            "camera": "tasks.controllers.extreme:RoverCameraSeeker",  # goal_source="camera"
            "random": "tasks.controllers.common:RandomPolicy",
        }),
        workspace="surface",
    ),
    TaskRecord(
        name="BeaconLocalize",
        entry_point="tasks.beacon_localize:BeaconLocalizeEnv",
        max_episode_steps=1200,
        policies=MappingProxyType({
            "scripted": "tasks.controllers.extreme:BeaconLocalizer",
            "random": "tasks.controllers.common:RandomPolicy",
        }),
        workspace="surface",
    ),
    TaskRecord(
        name="SampleCollect",
        entry_point="tasks.sample_collect:SampleCollectEnv",
        max_episode_steps=600,
        policies=MappingProxyType({
            "scripted": "tasks.controllers.sample:SampleCollector",
            "random": "tasks.controllers.common:RandomPolicy",
        }),
        workspace="surface",
    ),
    TaskRecord(
        name="OrbitalCapture",
        entry_point="tasks.orbital_capture:OrbitalCaptureEnv",
        max_episode_steps=300,
        policies=MappingProxyType({
            "scripted": "tasks.controllers.orbital:OrbitalCaptureController",
            "random": "tasks.controllers.common:RandomPolicy",
        }),
        workspace="free-floating",
    ),
    *(
        TaskRecord(
            name=name,
            entry_point=f"tasks.touch:{name}Env",
            max_episode_steps=steps,
            policies=MappingProxyType({
                "scripted": "tasks.controllers.touch:TouchController",
                "scripted-no-touch": "tasks.controllers.touch:NoTouchController",
                "random": "tasks.controllers.common:RandomPolicy",
            }),
            family="touch",
        )
        for name, steps in (("DoorOpen", 500), ("DrawerOpen", 500), ("LeverTurn", 500),
                            ("FragileGrasp", 450))
    ),
    *(
        TaskRecord(
            name=f"Cloth{name}",
            entry_point=f"tasks.cloth:Cloth{name}Env",
            max_episode_steps=240,
            policies=MappingProxyType({
                "scripted": f"tasks.controllers.cloth:Cloth{name}Controller",
                "random": "tasks.controllers.common:RandomPolicy",
            }),
            family="touch",
            workspace="surface",
        )
        for name in ("Flatten", "Fold", "Lift")
    ),
)

_BY_ID = {t.id: t for t in TASKS}


def register_all() -> None:
    """Register every task with Gymnasium (idempotent)."""
    for t in TASKS:
        if t.id not in gym.registry:
            gym.register(id=t.id, entry_point=t.entry_point, max_episode_steps=t.max_episode_steps)


def get_task(task_id: str) -> TaskRecord:
    """Record of a registered task, with a helpful error."""
    try:
        return _BY_ID[task_id]
    except KeyError:
        raise ValueError(f"task: unknown id {task_id!r}; accepted ids are {sorted(_BY_ID)}") from None


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def make_policy(task_id: str, name: str, env: gym.Env) -> Policy:
    """Instantiate the named reference policy of a task for ``env``."""
    rec = get_task(task_id)
    if name not in rec.policies:
        raise ValueError(
            f"policy: task {task_id!r} has no policy {name!r}; accepted: {sorted(rec.policies)}"
        )
    cls = _load(rec.policies[name])
    return cls.for_env(env) if hasattr(cls, "for_env") else cls()
