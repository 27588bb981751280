"""Goal-beacon detection and ranging from one colour frame plus the IMU attitude.

The goal marker built by ``scenes.build`` is an orange pole (0.8 m) topped by an
orange sphere (radius 0.12 m): ``GOAL_BEACON_HEIGHT + 0.12 = 0.92 m`` tall, standing
on the ground at the goal. Orange (linear RGB 1.0, 0.45, 0.0) has almost no blue,
unlike regolith of any body in the catalog, dust fog or the black sky, so the
detector segments pixels by chromaticity ``(r, b) = (R, B) / (R + G + B)`` after a
noise floor on ``R + G + B``; the largest 8-connected blob is the beacon.

Ranging by known height, levelled with the IMU: for a vertical pole of height
``h`` whose top and bottom are seen at elevation angles ``a_t`` and ``a_b`` (rays
rotated into a gravity-levelled frame with the attitude quaternion), the
horizontal distance is ``D = h / (tan a_t - tan a_b)`` whatever the camera's
height above the ground. When the bottom is cut by the image edge or the pole is
not seen, the sphere's apparent width gives the range (``D ~ f d / w``); when the
top is cut (close range), the pole's width does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from scenes.build import GOAL_BEACON_HEIGHT
from tasks.perception.camera import CameraModel, decode_sqrt8

BEACON_SPHERE_RADIUS = 0.12  # [m] radius of the "goal_beacon" sphere (scenes.build)
BEACON_TOTAL_HEIGHT = GOAL_BEACON_HEIGHT + BEACON_SPHERE_RADIUS  # [m] ground to sphere top
BEACON_CENTRE_HEIGHT = GOAL_BEACON_HEIGHT / 2  # [m] the "goal" site centre above the ground
POLE_DIAMETER = 0.10  # [m] the "goal" site cylinder (radius 0.05 m, scenes.build)
CAMERA_HEIGHT_NOMINAL = 0.68  # [m] rover camera above flat ground at rest (sims.rover geometry)
_EIGHT = np.ones((3, 3), dtype=bool)
_MAD_TO_SIGMA = 1.4826  # [-] Gaussian sigma per median absolute deviation


@dataclass(frozen=True)
class BeaconDetection:
    """One detection in image and rover coordinates."""

    u: float  # [px] blob column centroid
    v_top: float  # [px] top edge of the blob
    v_bottom: float  # [px] bottom edge of the blob
    pixels: int  # blob size [px]
    distance: float  # [m] horizontal distance camera -> beacon
    goal_body: tuple[float, float, float]  # [m] beacon centre (goal site) in the rover frame
    method: str  # "height" | "sphere" | "pole"


@dataclass(frozen=True)
class BeaconDetector:
    """Chromaticity segmentation + known-height ranging (thresholds are tunable knobs)."""

    min_red: float = 0.56  # [-] r = R/(R+G+B) of a beacon pixel (orange: 0.69; Mars soil: 0.52)
    max_blue: float = 0.10  # [-] b = B/(R+G+B) (orange: 0.0; Mars soil 0.19; grey 0.33)
    min_signal: float = 0.003  # [-] R+G+B as a fraction of full scale: ~15x the read noise
    min_pixels: int = 2  # smallest blob accepted [px]
    smooth_sigma: float = 0.0  # [px] Gaussian pre-filter of the channels (0 = off)
    # [-] backlit pole pixel: darker than this x the ground (0 = off). Off: with the sky and
    # the regolith-scattered light of scenes.build a backlit pole shows its own colour, and
    # following dark columns picked up the pole's long shadow at low sun instead
    silhouette_contrast: float = 0.0
    max_sky_rows: int = 12  # [px] rows of black sky the pole may cross before the ground
    # [-] a far pole (0.1 m: under a pixel wide beyond ~5.5 m at 64 px) fails the colour test
    # in front of the ground but still tints its column: chromaticity r - b of the column's
    # pixels exceeds that of the ground 3-4 px to either side by this much (earth-reference
    # seed 1 at 6.6 m: +0.13 to +0.26 over four rows, ground +/-0.01), or by 4 ground noise
    # sigmas if more. Without it the sphere alone ranged 4.4 m (0 = off)
    tint_contrast: float = 0.08
    edge_bias_px: float = 0.6  # [px] blob extent overstatement from partial-coverage pixels
    # [-] a blob less tall than this x its sphere width is the sphere alone (pole unseen):
    # the whole beacon measures 2.2-4 sphere widths tall at 2-7 m (rendered frames, 64 px)
    sphere_only_ratio: float = 1.8
    # [px] sphere width overstatement: partial-coverage pixels widen a fully lit sphere by
    # ~0.6 px, but a side-lit sphere without ambient light loses its dark limb against the
    # black sky; on sphere-ranged frames of all ground conditions 0 gave the least error
    sphere_width_bias_px: float = 0.0

    def mask(self, image: NDArray[np.uint8]) -> NDArray[np.bool_]:
        """Beacon-coloured pixels of a companded frame ``(H, W, 3)``."""
        return self._mask(decode_sqrt8(image))

    def _mask(self, x: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Beacon-coloured pixels of a decoded frame (linear, fraction of full scale)."""
        if self.smooth_sigma > 0:
            x = ndimage.gaussian_filter(x, sigma=(self.smooth_sigma, self.smooth_sigma, 0))
        s = x.sum(axis=-1)
        ok = s > self.min_signal
        safe = np.where(ok, s, 1.0)
        return ok & (x[..., 0] / safe > self.min_red) & (x[..., 2] / safe < self.max_blue)

    def detect(
        self, image: NDArray[np.uint8], calib: CameraModel, body_quat: NDArray[np.float64]
    ) -> BeaconDetection | None:
        """Find and range the beacon.

        Args:
            image: Companded colour frame ``(H, W, 3)``.
            calib: Camera calibration (intrinsics, mount on the rover body).
            body_quat: Rover attitude (w, x, y, z) from the IMU, world from body.

        Returns:
            The detection, or ``None`` when no beacon-coloured blob is found.
        """
        x = decode_sqrt8(image)  # decoded once; every test below reads it
        lum = x.sum(axis=-1)
        m = self._mask(x)
        labels, n = ndimage.label(m, structure=_EIGHT)
        if n == 0:
            return None
        sizes = np.bincount(labels.ravel())[1:]
        k = int(np.argmax(sizes)) + 1
        if sizes[k - 1] < self.min_pixels:
            return None
        rows, cols = np.nonzero(labels == k)
        rows, cols = _beacon_runs(rows, cols)
        u = float(cols.mean()) + 0.5
        # merge beacon-coloured pieces in the same columns (pole split by aliasing)
        near = m & (np.abs(np.arange(m.shape[1]) + 0.5 - u) <= 1.5)[None, :]
        rows_all = np.nonzero(near.any(axis=1))[0]
        top_row = int(min(rows.min(), rows_all.min()))
        bottom_row = int(max(rows.max(), rows_all.max()))
        if self.silhouette_contrast > 0:
            bottom_row = self._extend_silhouette(lum, int(u), bottom_row)
        if self.tint_contrast > 0:
            bottom_row = self._extend_tint(x, lum, int(u), bottom_row)
        # MSAA-blended end pixels pass the colour test at partial coverage, so the blob
        # overstates the extent by ~0.65 px on average (measured on rendered frames with
        # known truth, 64 x 64, 4x MSAA): trim half of that at each end
        v_top = float(top_row) + 0.5 * self.edge_bias_px
        v_bottom = float(bottom_row + 1) - 0.5 * self.edge_bias_px
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, np.asarray(body_quat, dtype=np.float64))
        r_wb = rot.reshape(3, 3)
        rays = calib.rays_body(np.array([u, u, u]), np.array([v_top, v_bottom, 0.5 * (v_top + v_bottom)]))
        lev = rays @ r_wb.T  # levelled (world-aligned) directions
        horiz = np.linalg.norm(lev[:, :2], axis=1)
        tan_t, tan_b = lev[0, 2] / horiz[0], lev[1, 2] / horiz[1]
        top_clipped = top_row == 0
        bottom_clipped = bottom_row == calib.height - 1
        widths_all = np.bincount(rows - rows.min())
        # the sphere: the widest row among the top rows of the blob (partial-coverage
        # edge pixels widen it by about the same bias as the ends)
        n_top = max(2, int(0.3 * (rows.max() - rows.min() + 1)))
        sphere_w = float(widths_all[:n_top].max())
        # a blob much less tall than a pole is the sphere alone (pole unseen)
        sphere_only = (v_bottom - v_top) < self.sphere_only_ratio * sphere_w
        top_w = float(widths_all[: max(2, len(widths_all) // 3)].max())
        no_sphere = top_w < 1.5 * float(np.median(widths_all[widths_all > 0]))
        method = "height"
        if top_clipped or (bottom_clipped and no_sphere and len(widths_all) >= 6):
            # close range: only the pole is in view; its width (known) gives the range
            widths = np.bincount(rows - rows.min())
            width = float(np.median(widths[widths > 0]))
            dist = POLE_DIAMETER * calib.focal_px / max(width, 1.0)
            base_dz = dist * tan_b if not bottom_clipped else -CAMERA_HEIGHT_NOMINAL
            method = "pole"
        elif (bottom_clipped or sphere_only or tan_t - tan_b <= 1e-6
              or self._base_hidden(lum, int(u), bottom_row, sphere_w)):
            width = max(sphere_w - self.sphere_width_bias_px, 1.0)
            dist = 2.0 * BEACON_SPHERE_RADIUS * calib.focal_px / width
            base_dz = dist * tan_t - BEACON_TOTAL_HEIGHT + BEACON_SPHERE_RADIUS
            method = "sphere"
        else:
            dist = BEACON_TOTAL_HEIGHT / (tan_t - tan_b)
            base_dz = dist * tan_b
        az = lev[2, :2] / max(horiz[2], 1e-9)
        centre_world = np.array([dist * az[0], dist * az[1], base_dz + BEACON_CENTRE_HEIGHT])
        goal_body = np.asarray(calib.pos_body) + r_wb.T @ centre_world
        return BeaconDetection(
            u=u,
            v_top=v_top,
            v_bottom=v_bottom,
            pixels=int(sizes[k - 1]),
            distance=float(dist),
            goal_body=(float(goal_body[0]), float(goal_body[1]), float(goal_body[2])),
            method=method,
        )


    def _base_hidden(self, lum: NDArray[np.float64], u: int, bottom: int, width: float) -> bool:
        """Whether the pole ends at a skyline: black sky beside its lowest rows, ground below.

        A beacon standing behind a rise shows only its upper part above the nearer
        terrain's skyline; its base is hidden, so the height does not range it. Beside a
        visible base there is ground, never sky.
        """
        h, w = lum.shape
        off = int(math.ceil(0.5 * width)) + 2
        left, right = u - off, u + off
        if left < 0 or right >= w or bottom + 1 >= h or bottom < 3:
            return False
        rows = slice(bottom - 3, bottom)  # the bottom row itself may straddle the skyline
        sky = bool(np.all(lum[rows, left] <= self.min_signal)
                   and np.all(lum[rows, right] <= self.min_signal))
        ground = bool(lum[bottom + 1, left] > self.min_signal
                      and lum[bottom + 1, right] > self.min_signal)
        return sky and ground

    def _extend_tint(self, x: NDArray[np.float64], lum: NDArray[np.float64], u: int,
                     bottom: int) -> int:
        """Follow a sub-pixel pole down its column by its orange tint against the ground.

        A row belongs to the pole while the largest ``r - b`` chromaticity of columns
        ``u - 1 .. u + 1`` exceeds the median of columns ``u +/- 3, 4`` by
        ``tint_contrast`` (or 4 robust sigmas of those side pixels, if more); one row
        failing the test is bridged, rows of black sky are crossed as in
        :meth:`_extend_silhouette`.
        """
        h, w = lum.shape
        if u < 4 or u > w - 5:
            return bottom
        tint = (x[..., 0] - x[..., 2]) / np.maximum(lum, 1e-12)
        sides = [u - 4, u - 3, u + 3, u + 4]

        def sky(v: int) -> bool:
            return bool(np.all(lum[v, sides] <= self.min_signal))

        def pole(v: int) -> bool:
            side = tint[v, sides]
            ref = float(np.median(side))
            spread = _MAD_TO_SIGMA * float(np.median(np.abs(side - ref)))
            core = tint[v, u - 1:u + 2][lum[v, u - 1:u + 2] > self.min_signal]
            return bool(core.size) and float(core.max()) - ref > max(self.tint_contrast,
                                                                     4.0 * spread)

        return _follow_column(bottom, h, sky, pole, self.max_sky_rows)

    def _extend_silhouette(self, lum: NDArray[np.float64], u: int, bottom: int) -> int:
        """Follow the pole down as a dark line against the ground when it is backlit.

        With the sun behind the beacon only the sphere's lit limb is orange; the pole
        then shows as a column darker than the ground on both sides of it.
        """
        h, w = lum.shape
        if u < 3 or u > w - 4:
            return bottom

        def side(v: int) -> float:
            return 0.5 * (lum[v, u - 3] + lum[v, u + 3])

        return _follow_column(
            bottom, h,
            lambda v: side(v) <= self.min_signal,  # black sky on both sides: pole invisible
            lambda v: lum[v, u - 1:u + 2].min() < self.silhouette_contrast * side(v),
            self.max_sky_rows,
        )


def _follow_column(bottom: int, height: int, sky: Callable[[int], bool],
                   pole: Callable[[int], bool], max_sky_rows: int) -> int:
    """Last row of a pole followed down a column from row ``bottom``.

    Rows below ``bottom`` are visited in turn: a ``sky`` row (nothing to judge the pole
    against) is crossed, at most ``max_sky_rows`` of them in a row; a ``pole`` row
    extends the pole; one other row is bridged, a second one in a row ends the walk.
    """
    v, gap, skies, last = bottom + 1, 0, 0, bottom
    while v < height:
        if sky(v):
            skies += 1
            if skies > max_sky_rows:
                break
        elif pole(v):
            last, gap, skies = v, 0, 0
        else:
            gap += 1
            if gap > 1:
                break
        v += 1
    return last


def _beacon_runs(
    rows: NDArray[np.intp], cols: NDArray[np.intp]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Keep, in each row of a blob, the pixels of the beacon around its axis.

    Beacon-coloured clutter touching the beacon (a dim strip of ground at the horizon
    whose chromaticity is dominated by noise) widens single rows; the beacon itself is
    one contiguous run per row around its axis (the column most rows cover), never
    wider than its sphere (the widest of the top rows) plus a pixel each side.
    """
    axis = int(np.argmax(np.bincount(cols)))
    keep = np.zeros(rows.size, dtype=bool)
    for r in np.unique(rows):
        idx = np.nonzero(rows == r)[0]
        c = np.sort(cols[idx])
        # split the row into contiguous runs and keep the one closest to the axis
        breaks = np.nonzero(np.diff(c) > 1)[0]
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks, [c.size - 1]])
        gap = np.maximum(c[starts] - axis, 0) + np.maximum(axis - c[ends], 0)
        j = int(np.argmin(gap))
        lo, hi = c[starts[j]], c[ends[j]]
        keep[idx[(cols[idx] >= lo) & (cols[idx] <= hi)]] = True
    rows, cols = rows[keep], cols[keep]
    n_top = max(2, int(0.3 * (rows.max() - rows.min() + 1)))
    top = rows < rows.min() + n_top
    top_w = int(np.max(np.bincount(rows[top] - rows.min())))
    widths = np.bincount(rows - rows.min())
    # rows wider than the sphere plus two pixels carry clutter: cut them to the sphere
    wide = widths[rows - rows.min()] > top_w + 2
    near = ~wide | (np.abs(cols - axis) <= top_w // 2 + 1)
    return rows[near], cols[near]


def beacon_position_rover(detection: BeaconDetection | None) -> NDArray[np.float64]:
    """Goal vector in the rover frame [m], ``(3,)``; NaN when nothing was detected."""
    if detection is None:
        return np.full(3, math.nan)
    return np.asarray(detection.goal_body, dtype=np.float64)
