"""Policy factory used by the runner (``make_policy(task_id, name, env)``)."""

from __future__ import annotations

from tasks.registry import Policy, make_policy

__all__ = ["Policy", "make_policy"]
