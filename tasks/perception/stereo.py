"""Colour-blob stereo and a constant-velocity tracker of the triangulated point.

Each view gives the centroid of the largest blob whose chromaticity is within
``tolerance`` of the target's (``rgb / sum(rgb)``); the two viewing rays are
intersected in the least-squares sense (midpoint of their common perpendicular;
Hartley & Zisserman, Multiple View Geometry, 2nd ed., sec. 12.2). Cameras must be
attached to the same body (their calibration gives rays in that body's frame).

Why the centroid is not intensity-weighted. A sphere lit from
one side (the sun) is bright on that side and dark on the other, so an
intensity-weighted centroid sits between the disc's centre and its lit side:
with the sun 30 deg above the horizon a 6 cm sphere's weighted centroid moved
~1 px towards the sun in both views, which the triangulation turned into a
1-2 cm bias (lateral and in depth). Counting every pixel of the target's colour
equally (the dim side included, as long as some light reaches it) gives the
centre of the disc; the default also weights each edge pixel by the fraction of it
the object covers (unmixed from the local background colour), which removes the
half-pixel jitter of a binary mask and its pull towards a coloured background
(flat-coloured ball, 5 positions at 0.67 m: largest error 0.9 mm instead of 3 mm).
``weighting="intensity"`` keeps the old behaviour.

Geometry conventions (checked against rendered spheres at known positions in
``tests/test_orbital.py``): MuJoCo's ``fovy`` is the full vertical field of view,
so ``f = (H / 2) / tan(fovy / 2)`` pixels; rendered images have row 0 at the top
(``mujoco.Renderer`` flips OpenGL's bottom-up rows), so ``v`` grows downwards and
the camera's ``+y`` axis points up; a pixel ``(i, j)`` covers
``[j, j + 1) x [i, i + 1)``, its centre is ``(j + 0.5, i + 0.5)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tasks.perception.camera import CameraModel, decode_sqrt8

_EIGHT = np.ones((3, 3), dtype=bool)
# 99.9 % quantile of chi-square with 3 degrees of freedom: innovation gate of the tracker
_CHI2_3_999 = 16.27


def colour_centroid(image: NDArray[np.uint8], rgb: Sequence[float], tolerance: float = 0.12,
                    min_signal: float = 0.003, min_pixels: int = 2,
                    weighting: str = "coverage") -> tuple[float, float] | None:
    """``(u, v)`` [px] of the largest blob of chromaticity near ``rgb``, or ``None``.

    Args:
        image: Square-root companded 8-bit colour frame ``(H, W, 3)``.
        rgb: Target colour (any scale; only its chromaticity is used).
        tolerance: Largest per-channel chromaticity difference of a target pixel (1).
        min_signal: Smallest decoded ``R + G + B`` (fraction of full scale) of a pixel
            whose chromaticity is trusted.
        min_pixels: Smallest blob [px].
        weighting: ``"coverage"`` (interior pixels count 1, edge pixels the fraction of
            them the object covers, see :func:`_coverage`), ``"area"`` (every blob pixel
            counts 1) - both give the disc centre, unbiased by shading - or
            ``"intensity"`` (weighted by ``R + G + B``: biased towards the lit side).

    Returns:
        Image coordinates, pixel centres at ``+0.5``; ``None`` when no blob is found.

    Raises:
        ValueError: On an unknown ``weighting``.
    """
    if weighting not in ("area", "intensity", "coverage"):
        raise ValueError(
            f"weighting: got {weighting!r}; accepted: 'area', 'intensity' or 'coverage'"
        )
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
    blob = labels == k
    if weighting == "coverage":
        weights = _coverage(x, blob)
    else:
        weights = blob.astype(np.float64) if weighting == "area" else s * blob
    v, u = ndimage.center_of_mass(weights)
    return float(u) + 0.5, float(v) + 0.5


def _local_mean(values: NDArray[np.float64], where: NDArray[np.bool_], size: int
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean colour of the ``where`` pixels in a ``size`` x ``size`` window, and their count."""
    count = ndimage.uniform_filter(where.astype(np.float64), size, mode="constant")
    total = np.stack([ndimage.uniform_filter(values[..., c] * where, size, mode="constant")
                      for c in range(values.shape[-1])], axis=-1)
    return total / np.maximum(count, 1e-12)[..., None], count


def _coverage(x: NDArray[np.float64], blob: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Fraction of each pixel covered by the blob's object (linear colour unmixing).

    Interior pixels (the blob eroded by one pixel) count 1. A pixel on the blob's edge
    (within one pixel inside or outside it) is a mix ``x = a t + (1 - a) b`` of the
    object's colour ``t`` (mean of the nearby interior pixels) and the background ``b``
    (mean of the nearby pixels two pixels outside the blob); ``a`` is the least-squares
    mix. Over a dark background a partly covered pixel keeps the object's chromaticity
    and enters a chromaticity mask whole, over a coloured one it drops out: without
    unmixing the edge pixels the centroid shifts towards the coloured background.
    """
    inner = ndimage.binary_erosion(blob, _EIGHT)
    if not inner.any():
        return blob.astype(np.float64)
    near = ndimage.binary_dilation(blob, _EIGHT)
    outer = ndimage.binary_dilation(near, _EIGHT, iterations=2) & ~near
    edge = near & ~inner
    t, _ = _local_mean(x, inner, 5)
    b, nb = _local_mean(x, outer, 5)
    b = np.where((nb > 0)[..., None], b, 0.0)
    d = t - b
    a = np.einsum("ijc,ijc->ij", x - b, d) / np.maximum(np.einsum("ijc,ijc->ij", d, d), 1e-12)
    w = inner.astype(np.float64)
    w[edge] = np.clip(a[edge], 0.0, 1.0)
    return w


def intersect_rays(origins: Sequence[NDArray[np.float64]], dirs: Sequence[NDArray[np.float64]]
                   ) -> tuple[NDArray[np.float64], float] | None:
    """Midpoint of the common perpendicular of two rays and the rays' gap [m].

    Returns ``None`` for (near) parallel rays.
    """
    p1, p2 = (np.asarray(o, dtype=np.float64) for o in origins)
    d1, d2 = (np.asarray(d, dtype=np.float64) for d in dirs)
    w = p1 - p2
    b = float(d1 @ d2)
    denom = 1.0 - b * b
    if denom < 1e-9:
        return None
    t1 = (b * float(d2 @ w) - float(d1 @ w)) / denom
    t2 = (float(d2 @ w) - b * float(d1 @ w)) / denom
    q1, q2 = p1 + t1 * d1, p2 + t2 * d2
    return 0.5 * (q1 + q2), float(np.linalg.norm(q1 - q2))


def triangulate(images: Sequence[NDArray[np.uint8]], calibs: Sequence[CameraModel],
                rgb: Sequence[float], max_gap: float = np.inf,
                weighting: str = "coverage") -> NDArray[np.float64] | None:
    """Target position in the cameras' body frame [m] from two views, or ``None``.

    Args:
        images: The two frames.
        calibs: Their calibrations (same parent body).
        rgb: Target colour.
        max_gap: Largest distance between the two viewing rays [m]; a larger gap means
            the two blobs are not the same point (a mismatch), and no fix is returned.
        weighting: Centroid weighting, see :func:`colour_centroid`.
    """
    origins, dirs = [], []
    for img, cal in zip(images, calibs, strict=True):
        c = colour_centroid(img, rgb, weighting=weighting)
        if c is None:
            return None
        origins.append(np.asarray(cal.pos_body))
        dirs.append(cal.rays_body(np.array([c[0]]), np.array([c[1]]))[0])
    hit = intersect_rays(origins, dirs)
    if hit is None or hit[1] > max_gap:
        return None
    return hit[0]


@dataclass
class StereoTracker:
    """Constant-velocity Kalman filter on 3-D stereo fixes (one independent filter per axis).

    State per axis ``[p, v]``; process noise is a white acceleration of spectral
    density ``accel_psd`` (Bar-Shalom, Li & Kirubarajan, Estimation with Applications
    to Tracking and Navigation, 2001, sec. 6.2.2: ``Q = q [[dt^3/3, dt^2/2],
    [dt^2/2, dt]]``); fixes whose normalised innovation exceeds the 99.9 % chi-square
    gate are rejected, and ``max_rejects`` rejections in a row restart the filter
    on the next fix (the target was grabbed and moved, or the track was wrong).

    Args:
        fix_sigma: Standard deviation of one stereo fix per axis [m].
        accel_psd: Acceleration noise spectral density [m^2/s^3].
        init_speed_sigma: Standard deviation of the velocity at the first fix [m/s].
        max_rejects: Consecutive gated-out fixes before a restart.
    """

    fix_sigma: float = 0.002
    accel_psd: float = 1e-3
    init_speed_sigma: float = 0.05
    max_rejects: int = 3

    def __post_init__(self) -> None:
        """Validate the noise levels and start empty."""
        for name in ("fix_sigma", "accel_psd", "init_speed_sigma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"StereoTracker.{name} = {getattr(self, name)!r}; expected > 0")
        self.reset()

    def reset(self) -> None:
        """Forget the track."""
        self.x = np.zeros((3, 2))  # per axis [position, velocity]
        self.P = np.zeros((3, 2, 2))
        self.t: float | None = None
        self.rejects = 0

    @property
    def valid(self) -> bool:
        """Whether the filter holds a track."""
        return self.t is not None

    @property
    def position(self) -> NDArray[np.float64]:
        """Filtered position at the last update [m] (copy)."""
        return self.x[:, 0].copy()

    @property
    def velocity(self) -> NDArray[np.float64]:
        """Filtered velocity [m/s] (copy)."""
        return self.x[:, 1].copy()

    def predict(self, t: float) -> NDArray[np.float64]:
        """Position extrapolated to time ``t`` [s] (the state is not changed)."""
        if self.t is None:
            return self.position
        return self.x[:, 0] + self.x[:, 1] * (t - self.t)

    def _propagate(self, t: float) -> None:
        assert self.t is not None
        dt = t - self.t
        if dt <= 0:
            return
        f = np.array([[1.0, dt], [0.0, 1.0]])
        q = self.accel_psd * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
        self.x = self.x @ f.T
        self.P = f @ self.P @ f.T + q
        self.t = t

    def update(self, t: float, fix: NDArray[np.float64] | None) -> bool:
        """Propagate to ``t`` [s] and fuse ``fix`` [m] (``None``: prediction only).

        Returns:
            Whether the fix was accepted.
        """
        r = self.fix_sigma**2
        if fix is None:
            if self.t is not None:
                self._propagate(t)
            return False
        z = np.asarray(fix, dtype=np.float64).reshape(3)
        if self.t is None or self.rejects >= self.max_rejects:
            self.x = np.stack([z, np.zeros(3)], axis=-1)
            self.P = np.tile(np.diag([r, self.init_speed_sigma**2]), (3, 1, 1))
            self.t, self.rejects = float(t), 0
            return True
        self._propagate(t)
        s = self.P[:, 0, 0] + r  # innovation variance per axis
        innov = z - self.x[:, 0]
        if float(np.sum(innov**2 / s)) > _CHI2_3_999:
            self.rejects += 1
            return False
        self.rejects = 0
        k = self.P[:, :, 0] / s[:, None]  # gain per axis (2,)
        self.x = self.x + k * innov[:, None]
        self.P = self.P - k[:, :, None] * self.P[:, 0:1, :]
        return True
