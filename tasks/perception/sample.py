"""Rock-sample detection from a downward-looking lander camera.

The sample is a light-toned rock (albedo ~0.45, e.g. a highland anorthosite
fragment; lunar anorthosite normal albedo 0.3-0.5, Lunar Sourcebook ch. 10) on
darker regolith. The ground's brightness is not uniform over the frame: a
floodlight makes a hot spot and a fall-off towards the corners, slopes face the
sun at different angles, and shadows cut the frame into lit and dark parts.
A single frame-wide threshold therefore misses the sample where the ground
around it is bright and fires where it is dark. The detector compares each
pixel with its *local* background instead: the ``background_percentile``
percentile of the ``background_window`` x ``background_window`` neighbourhood
(the sample covers ~10 of its 121 pixels, so the percentile is the ground's;
taking an upper percentile rather than the median keeps the lit side of a
shadow edge, whose window is half dark, from standing out as "bright"). A pixel
belongs to the sample when it is brighter than ``1 + contrast`` times that
background and above the background by ``noise_sigmas`` times the frame's
robust noise level (median absolute deviation of the residual). Among the blobs
of a plausible size, extent and compactness (a rock is round; slivers of lit
terrain along facet and shadow edges are not) that do not touch the frame edge,
the one with the largest summed excess over the background wins; its area
centroid (not brightness-weighted: under a low sun that would pull it towards
the lit side of the rock) gives the viewing ray. The ray, not a 3-D
point, is the measurement: the ground height under the sample is unknown on
sloped terrain, and the grasp controller descends along the ray until it
touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tasks.perception.camera import CameraModel, decode_sqrt8

_EIGHT = np.ones((3, 3), dtype=bool)
_MAD_TO_SIGMA = 1.4826  # [-] Gaussian sigma per median absolute deviation


@dataclass(frozen=True)
class SampleDetection:
    """Centroid and viewing ray of the sample in the camera's parent-body frame."""

    u: float  # [px]
    v: float  # [px]
    pixels: int  # blob size [px]
    ray: tuple[float, float, float]  # unit direction from the optical centre, body frame


@dataclass(frozen=True)
class SampleDetector:
    """Local-contrast bright-blob detector (thresholds are tunable knobs)."""

    contrast: float = 0.15  # [-] sample pixel: brighter than (1 + this) x the local background
    background_window: int = 11  # [px] side of the local-background neighbourhood
    background_percentile: float = 75.0  # [%] of that neighbourhood taken as the background
    noise_sigmas: float = 5.0  # [-] excess over the background in robust noise sigmas
    min_signal: float = 0.002  # [-] luminance floor (fraction of full scale) against noise
    min_pixels: int = 3  # smallest blob [px]
    # largest blob [px]: a 4.4 cm sample seen from ~0.9 m by a 64 px, 45 deg camera covers
    # ~10 px (measured 4-11 over the ground conditions); the (white) arm passing through the
    # view and lit terrain facets inside shadows make larger blobs
    max_pixels: int = 30
    max_extent: int = 7  # [px] longest side of the blob's bounding box (sample ~4 px across)
    # [-] blob pixels / bounding-box pixels: a round rock fills >= 0.62 of its box (measured),
    # slivers of lit terrain along facet and shadow edges fill less
    min_fill: float = 0.6
    track_radius: float = 4.0  # [px] a tracked sample moves less than this between frames

    def __post_init__(self) -> None:
        """Validate the knobs."""
        if not self.contrast > 0:
            raise ValueError(f"SampleDetector.contrast={self.contrast!r}; expected > 0")
        if self.background_window < 3 or self.background_window % 2 == 0:
            raise ValueError(
                f"SampleDetector.background_window={self.background_window!r}; expected an "
                "odd number of pixels >= 3 (several sample diameters, e.g. 11)"
            )
        if not 50.0 <= self.background_percentile < 100.0:
            raise ValueError(
                f"SampleDetector.background_percentile={self.background_percentile!r}; "
                "expected [50, 100) (the ground must be the majority of the window)"
            )

    def excess(self, image: NDArray[np.uint8]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Luminance excess over the local background and the candidate-pixel mask.

        Args:
            image: Companded colour frame ``(H, W, 3)``.

        Returns:
            ``(excess, mask)``: ``lum - background`` per pixel and the pixels that pass
            the contrast, noise and signal-floor tests.
        """
        lum = decode_sqrt8(image).sum(axis=-1)
        bg = ndimage.percentile_filter(lum, self.background_percentile,
                                       size=self.background_window, mode="reflect")
        resid = lum - ndimage.median_filter(lum, size=self.background_window, mode="reflect")
        sigma = _MAD_TO_SIGMA * float(np.median(np.abs(resid - np.median(resid))))
        exc = lum - bg
        mask = ((lum > (1.0 + self.contrast) * bg) & (exc > self.noise_sigmas * sigma)
                & (lum > self.min_signal))
        return exc, mask

    def detect(self, image: NDArray[np.uint8], calib: CameraModel,
               prior_uv: tuple[float, float] | None = None) -> SampleDetection | None:
        """Find the sample in a companded colour frame ``(H, W, 3)``; ``None`` if absent.

        With ``prior_uv`` (the last detection) the plausible blob nearest to it within
        ``track_radius`` px is taken - the arm entering the view makes other blobs.
        """
        exc, mask = self.excess(image)
        labels, n = ndimage.label(mask, structure=_EIGHT)
        if n == 0:
            return None
        idx = np.arange(1, n + 1)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        boxes = ndimage.find_objects(labels)
        extent = np.array([max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
        area = np.array([(b[0].stop - b[0].start) * (b[1].stop - b[1].start) for b in boxes])
        h, w = labels.shape
        # a blob cut by the frame edge has an unknown shape and centroid
        inner = np.array([b[0].start > 0 and b[1].start > 0 and b[0].stop < h and b[1].stop < w
                          for b in boxes])
        ok = ((sizes >= self.min_pixels) & (sizes <= self.max_pixels)
              & (extent <= self.max_extent) & (sizes >= self.min_fill * area) & inner)
        if not ok.any():
            return None
        score = np.asarray(ndimage.sum_labels(np.where(mask, exc, 0.0), labels, idx))
        # area centroid: weighting by brightness pulls it towards the sunlit side of the rock
        cms = np.array(ndimage.center_of_mass(mask, labels, idx)).reshape(-1, 2)
        if prior_uv is not None:
            dist = np.hypot(cms[:, 1] + 0.5 - prior_uv[0], cms[:, 0] + 0.5 - prior_uv[1])
            dist = np.where(ok, dist, np.inf)
            if dist.min() > self.track_radius:
                return None
            k = int(np.argmin(dist))
        else:
            k = int(np.argmax(np.where(ok, score, -np.inf)))
        v, u = float(cms[k, 0]) + 0.5, float(cms[k, 1]) + 0.5
        ray = calib.rays_body(np.array([u]), np.array([v]))[0]
        return SampleDetection(u, v, int(sizes[k]), (float(ray[0]), float(ray[1]), float(ray[2])))
