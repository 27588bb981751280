"""Rock-sample detection from a downward-looking lander camera.

The sample is a light-toned rock (albedo ~0.45, e.g. a highland anorthosite
fragment; lunar anorthosite normal albedo 0.3-0.5, Lunar Sourcebook ch. 10) on
darker regolith, so the detector keeps pixels brighter than ``contrast`` x the
median of the frame (a robust estimate of the regolith's brightness under the same
light), takes the largest 8-connected blob of a plausible size and returns its intensity-weighted
centroid as a viewing ray. The ray, not a 3-D point, is the measurement: the
ground height under the sample is unknown on sloped terrain, and the grasp
controller descends along the ray until it touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tasks.perception.camera import CameraModel, decode_sqrt8

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class SampleDetection:
    """Centroid and viewing ray of the sample in the camera's parent-body frame."""

    u: float  # [px]
    v: float  # [px]
    pixels: int  # blob size [px]
    ray: tuple[float, float, float]  # unit direction from the optical centre, body frame


@dataclass(frozen=True)
class SampleDetector:
    """Bright-blob detector (thresholds are tunable knobs)."""

    contrast: float = 2.0  # [-] sample pixel: brighter than this x the frame median
    min_signal: float = 0.002  # [-] luminance floor (fraction of full scale) against noise
    min_pixels: int = 2  # smallest blob [px]
    # largest blob [px]: a 4.4 cm sample seen from ~0.9 m by a 64 px, 45 deg camera covers
    # ~12 px; the (white) arm passing through the view makes far larger blobs
    max_pixels: int = 60
    track_radius: float = 4.0  # [px] a tracked sample moves less than this between frames

    def detect(self, image: NDArray[np.uint8], calib: CameraModel,
               prior_uv: tuple[float, float] | None = None) -> SampleDetection | None:
        """Find the sample in a companded colour frame ``(H, W, 3)``; ``None`` if absent.

        With ``prior_uv`` (the last detection) the plausible blob nearest to it within
        ``track_radius`` px is taken - the arm entering the view makes other blobs.
        """
        lum = decode_sqrt8(image).sum(axis=-1)
        ref = float(np.median(lum))
        mask = (lum > self.contrast * ref) & (lum > self.min_signal)
        labels, n = ndimage.label(mask, structure=_EIGHT)
        if n == 0:
            return None
        sizes = np.bincount(labels.ravel())[1:]
        ok = (sizes >= self.min_pixels) & (sizes <= self.max_pixels)
        if not ok.any():
            return None
        k = int(np.argmax(np.where(ok, sizes, 0))) + 1
        if prior_uv is not None:
            idx = np.nonzero(ok)[0] + 1
            cms = np.array(ndimage.center_of_mass(lum, labels, idx)).reshape(-1, 2)
            dist = np.hypot(cms[:, 1] + 0.5 - prior_uv[0], cms[:, 0] + 0.5 - prior_uv[1])
            if dist.min() <= self.track_radius:
                k = int(idx[int(np.argmin(dist))])
            else:
                return None
        v, u = ndimage.center_of_mass(lum, labels, k)
        u, v = float(u) + 0.5, float(v) + 0.5
        ray = calib.rays_body(np.array([u]), np.array([v]))[0]
        return SampleDetection(u, v, int(sizes[k - 1]), (float(ray[0]), float(ray[1]), float(ray[2])))
