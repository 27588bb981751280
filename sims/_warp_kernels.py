"""Warp kernels of the GPU path (imported only by :mod:`sims.warp_backend`, only when warp exists).

MuJoCo Warp holds ``qpos``/``qfrc_applied`` as ``(nworld, n)`` float32 arrays; these
kernels run one thread per world on the device between MuJoCo Warp steps, so that
per-substep task forces stay on the device (and inside a captured CUDA graph).
"""

from __future__ import annotations

import warp as wp


@wp.kernel
def joint_detent(
    qpos: wp.array2d(dtype=wp.float32),
    qfrc_applied: wp.array2d(dtype=wp.float32),
    qadr: wp.array(dtype=wp.int32),
    dadr: wp.array(dtype=wp.int32),
    stiffness: wp.array(dtype=wp.float32),
    travel: wp.array(dtype=wp.float32),
    engaged: wp.array(dtype=wp.int32),
):
    """Detent force of one joint per world, as ``tasks.touch.articulated.Articulation.apply_latch``.

    While ``engaged[w]``: ``qfrc_applied = -stiffness q`` for ``q < travel``, else 0;
    released (not engaged): 0. A world with ``qadr < 0`` has no detent joint.
    """
    w = wp.tid()
    a = qadr[w]
    if a < 0:
        return
    f = wp.float32(0.0)
    if engaged[w] != 0:
        q = qpos[w, a]
        if q < travel[w]:
            f = -stiffness[w] * q
    qfrc_applied[w, dadr[w]] = f
