"""Task-independent baseline policies."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def state_vector(obs: Any) -> np.ndarray:
    """The state vector of an observation (the ``state`` entry of a dict observation)."""
    if isinstance(obs, dict):
        return np.asarray(obs["state"], dtype=np.float64)
    return np.asarray(obs, dtype=np.float64)


class RandomPolicy:
    """Uniform random actions from the action space, seeded per episode."""

    def __init__(self, action_space: gym.spaces.Box):
        self.action_space = action_space
        self._rng = np.random.default_rng(0)

    @classmethod
    def for_env(cls, env: gym.Env) -> RandomPolicy:
        """Policy for ``env``'s action space."""
        return cls(env.action_space)  # type: ignore[arg-type]

    def reset(self, seed: int) -> None:
        """Reseed the action generator."""
        self._rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """One uniform random action."""
        del obs
        low, high = self.action_space.low, self.action_space.high
        return self._rng.uniform(low, high).astype(self.action_space.dtype)
