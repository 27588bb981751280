"""Colour-blob stereo: find a coloured target in two calibrated views and triangulate it.

Each view gives the intensity-weighted centroid of the largest blob whose
chromaticity is within ``tolerance`` of the target's (``rgb / sum(rgb)``); the two
viewing rays are intersected in the least-squares sense (midpoint of their
common perpendicular; Hartley & Zisserman, Multiple View Geometry, 2nd ed.,
sec. 12.2). Cameras must be attached to the same body (their calibration gives
rays in that body's frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tasks.perception.camera import CameraModel, decode_sqrt8

_EIGHT = np.ones((3, 3), dtype=bool)


def colour_centroid(image: NDArray[np.uint8], rgb: Sequence[float], tolerance: float = 0.12,
                    min_signal: float = 0.003, min_pixels: int = 2) -> tuple[float, float] | None:
    """``(u, v)`` [px] of the largest blob of chromaticity near ``rgb``, or ``None``."""
    x = decode_sqrt8(image)
    s = x.sum(axis=-1)
    ok = s > min_signal
    chroma = x / np.where(ok, s, 1.0)[..., None]
    target = np.asarray(rgb, dtype=np.float64) / float(np.sum(rgb))
    mask = ok & (np.abs(chroma - target).max(axis=-1) < tolerance)
    labels, n = ndimage.label(mask, structure=_EIGHT)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    k = int(np.argmax(sizes)) + 1
    if sizes[k - 1] < min_pixels:
        return None
    v, u = ndimage.center_of_mass(s, labels, k)
    return float(u) + 0.5, float(v) + 0.5


def triangulate(images: Sequence[NDArray[np.uint8]], calibs: Sequence[CameraModel],
                rgb: Sequence[float]) -> NDArray[np.float64] | None:
    """Target position in the cameras' body frame [m] from two views, or ``None``."""
    origins, dirs = [], []
    for img, cal in zip(images, calibs, strict=True):
        c = colour_centroid(img, rgb)
        if c is None:
            return None
        origins.append(np.asarray(cal.pos_body))
        dirs.append(cal.rays_body(np.array([c[0]]), np.array([c[1]]))[0])
    p1, p2 = origins
    d1, d2 = dirs
    w = p1 - p2
    b = float(d1 @ d2)
    denom = 1.0 - b * b
    if denom < 1e-9:
        return None
    t1 = (b * float(d2 @ w) - float(d1 @ w)) / denom
    t2 = (float(d2 @ w) - b * float(d1 @ w)) / denom
    return 0.5 * ((p1 + t1 * d1) + (p2 + t2 * d2))
