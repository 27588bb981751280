"""What the batch vector envs share: parsing ``reset``'s seed and ``reset_mask`` arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def reset_request(n: int, seed: int | Sequence[int | None] | None,
                  options: dict[str, Any] | None) -> tuple[list[int | None], np.ndarray, dict[str, Any]]:
    """Per-sub-environment seeds, the reset mask and the remaining options of a vector ``reset``.

    Args:
        n: Number of sub-environments.
        seed: None, an int ``s`` (sub-env ``i`` gets ``s + i``, as SyncVectorEnv), or one
            seed per sub-environment.
        options: Optional ``{"reset_mask": bool array (n,), ...}``.

    Returns:
        ``(seeds, mask, other_options)``.

    Raises:
        ValueError: A seed list of the wrong length, or a malformed ``reset_mask``.
    """
    if seed is None:
        seeds: list[int | None] = [None] * n
    elif isinstance(seed, int | np.integer):
        seeds = [int(seed) + i for i in range(n)]
    else:
        seeds = list(seed)
        if len(seeds) != n:
            raise ValueError(f"seed: got {len(seeds)} seeds; accepted: one per sub-environment ({n})")
    rest = dict(options or {})
    mask = np.ones(n, dtype=bool)
    if "reset_mask" in rest:
        mask = np.asarray(rest.pop("reset_mask"))
        if mask.shape != (n,) or mask.dtype != np.bool_ or not mask.any():
            raise ValueError(f"options['reset_mask']: accepted: a bool array of shape ({n},) "
                             "with at least one True")
    return seeds, mask, rest
