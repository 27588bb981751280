"""Task-independent baseline policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


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
