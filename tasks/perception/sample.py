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
the one with the largest summed contrast (excess over the background, relative to
the background plus a quarter of the frame's median: a sky-lit rock in a terrain
shadow beats a lit terrain bump) wins; its area
centroid (not brightness-weighted: under a low sun that would pull it towards
the lit side of the rock) gives the viewing ray; given the sun's direction (a sun
sensor), :meth:`SampleDetector.refine` corrects it for the one-sided lighting of a
low sun by fitting a shading model of the known-size rock. The ray, not a 3-D
point, is the measurement: the ground height under the sample is unknown on
sloped terrain, and the grasp controller descends along the ray until it
touches.
"""

from __future__ import annotations

import functools
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
    # slivers of lit terrain along facet and shadow edges fill less; the lit crescent of a
    # rock under a low sun, lying diagonally in the pixel grid, fills 0.56-0.58 (measured)
    min_fill: float = 0.5
    track_radius: float = 4.0  # [px] a tracked sample moves less than this between frames
    # shading-model refinement (used when the sun direction is known, see ``refine``)
    sample_radii: tuple[float, float, float] = (0.022, 0.022, 0.016)  # [m] semi-axes (x, y, z)
    sample_range: float = 0.934  # [m] nominal optical-axis distance to the sample centre
    fit_half: int = 6  # [px] half side of the fitted patch (13 x 13 px)
    fit_search: int = 2  # [px] largest centre shift searched from the blob centroid
    fit_subpixel: int = 8  # [-] model supersampling: centre shifts searched in 1/this px
    fit_sunward_px: float = 0.25  # [px] a fit moving the centre further sunward is rejected

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
               prior_uv: tuple[float, float] | None = None,
               sun: NDArray[np.float64] | None = None) -> SampleDetection | None:
        """Find the sample in a companded colour frame ``(H, W, 3)``; ``None`` if absent.

        With ``prior_uv`` (the last detection) the plausible blob nearest to it within
        ``track_radius`` px is taken - the arm entering the view makes other blobs.
        With ``sun`` (unit vector toward the sun in the camera's parent-body frame, e.g.
        from a sun sensor) the blob's centre is refined by :meth:`refine`.
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
        # contrast, not absolute excess: a light rock in a terrain shadow, lit by the sky
        # only, is several times its dark surround; lit terrain bumps are a fraction above
        lum = decode_sqrt8(image).sum(axis=-1)
        bg = lum - exc
        floor = max(0.25 * float(np.median(lum)), self.min_signal)
        score = np.asarray(ndimage.sum_labels(np.where(mask, exc / (bg + floor), 0.0), labels,
                                              idx))
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
        if sun is not None:
            u, v = self.refine(image, calib, u, v, sun, labels == k + 1)
        ray = calib.rays_body(np.array([u]), np.array([v]))[0]
        return SampleDetection(u, v, int(sizes[k]), (float(ray[0]), float(ray[1]), float(ray[2])))

    def _model(self, calib: CameraModel, u0: float, v0: float, sun: NDArray[np.float64],
               n_fine: int, x0: float) -> NDArray[np.float64]:
        """Supersampled shading bases of the sample centred on pixel point ``(u0, v0)``.

        Returns ``(4, n_fine, n_fine)``: the sample's shadow on the ground, sunlit sample (``max(n.s, 0)``),
        sample seen head-on (``max(-n.d, 0)``: floodlight beside the camera, sky), sample
        coverage; fine cell ``(i, j)`` is centred ``x0 + (j + 0.5) / fit_subpixel`` px
        right of ``u0`` and the same below ``v0`` (``i``).
        """
        ss = self.fit_subpixel
        off = x0 + (np.arange(n_fine) + 0.5) / ss
        uu, vv = np.meshgrid(u0 + off, v0 + off)
        d = calib.rays_body(uu.ravel(), vv.ravel())
        o = np.asarray(calib.pos_body, dtype=np.float64)
        d0 = calib.rays_body(np.array([u0]), np.array([v0]))[0]
        axis = -calib.rotation[:, 2]  # optical axis (view direction) in the body frame
        centre = o + d0 * (self.sample_range / max(float(d0 @ axis), 1e-3))
        inv = 1.0 / np.asarray(self.sample_radii, dtype=np.float64)

        def hit(p: NDArray[np.float64], q: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
            # ray p + t q against the ellipsoid: |inv * (p + t q - centre)|^2 = 1
            a_ = ((q * inv) ** 2).sum(-1)
            b_ = 2.0 * ((q * inv) * ((p - centre) * inv)).sum(-1)
            c_ = (((p - centre) * inv) ** 2).sum(-1) - 1.0
            disc = b_ * b_ - 4.0 * a_ * c_
            t = (-b_ - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a_)
            return (disc > 0.0) & (t > 0.0), t

        on, t = hit(o[None, :], d)
        p = o + t[:, None] * d
        n = (p - centre) * inv * inv
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        lit = np.where(on, np.maximum(n @ sun, 0.0), 0.0)
        head = np.where(on, np.maximum(-(n * d).sum(-1), 0.0), 0.0)
        # ground: level plane under the sample, in its shadow where the sun ray hits it
        z_g = centre[2] - self.sample_radii[2]
        tg = (z_g - o[2]) / np.minimum(d[:, 2], -1e-6)
        g = o + tg[:, None] * d
        shade, _ = hit(g, np.broadcast_to(sun, g.shape))
        out = np.stack([(~on) & shade, lit, head, on]).astype(np.float64)
        return out.reshape(4, n_fine, n_fine)

    def refine(self, image: NDArray[np.uint8], calib: CameraModel, u: float, v: float,
               sun: NDArray[np.float64],
               blob: NDArray[np.bool_] | None = None) -> tuple[float, float]:
        """Sample centre ``(u, v)`` [px] from a shading-model fit around a blob centroid.

        Under a low sun only the sunward part of the rock is bright and its shadow falls
        away from the sun, so the bright blob's centroid lies up to ~0.4 radius (5-12 mm
        measured) sunward of the centre. A Lambertian model of the known-size sample lit
        from ``sun`` (its sunlit side, its head-on lit side for a floodlight or the sky,
        its coverage, the sunlit ground it does not shadow, a constant and a linear
        background gradient: the brightnesses enter linearly) is least-squares fitted to
        the ``2 fit_half + 1`` px square patch for every centre on a
        ``1 / fit_subpixel`` px grid within ``fit_search`` px of the centroid; the
        best-fitting centre wins. Clipped pixels are left out. Without sunlight (sun
        below the horizon) or when the fit does not find a lit sample, the centroid stays.

        Args:
            image: Companded colour frame ``(H, W, 3)``.
            calib: The camera's calibration.
            u: Blob centroid, column [px].
            v: Blob centroid, row [px].
            sun: Unit vector toward the sun in the camera's parent-body frame.
            blob: The detected blob's pixels ``(H, W)``: bright pixels more than two
                pixels from it (the arm, lit rocks) are left out of the fit.

        Returns:
            The refined ``(u, v)`` [px].
        """
        sun = np.asarray(sun, dtype=np.float64)
        if not sun[2] > 0.0:
            return u, v
        h_, w_ = image.shape[:2]
        hp, ws, ss = self.fit_half, self.fit_search, self.fit_subpixel
        pc, pr = int(np.floor(u)), int(np.floor(v))
        if pr - hp < 0 or pc - hp < 0 or pr + hp >= h_ or pc + hp >= w_:
            return u, v
        patch = image[pr - hp:pr + hp + 1, pc - hp:pc + hp + 1]
        lum = decode_sqrt8(patch).sum(axis=-1)
        good = (patch < 255).all(axis=-1)
        if blob is not None:
            near = ndimage.binary_dilation(blob, _EIGHT, iterations=2)
            near = near[pr - hp:pr + hp + 1, pc - hp:pc + hp + 1]
            good &= near | (lum <= (1.0 + self.contrast) * float(np.median(lum)))
        good = good.ravel()
        box = _pixel_model(self, calib, pc, pr, (float(sun[0]), float(sun[1]), float(sun[2])))
        yy, xx = np.mgrid[-hp:hp + 1, -hp:hp + 1]
        extra = np.stack([np.ones(lum.size), xx.ravel() / hp, yy.ravel() / hp], -1)[good]
        y = lum.ravel()[good]
        start = (np.arange(2 * hp + 1) + ws) * ss  # fine start index of each pixel, no shift

        def fit(sv: NDArray[np.int64], su: NDArray[np.int64]) -> NDArray[np.float64]:
            # residual of the linear least-squares fit for centre shifts (sv, su) [fine cells]
            ri = start[None, :] - sv[:, None]
            ci = start[None, :] - su[:, None]
            tb = box[:, ri[:, :, None], ci[:, None, :]].reshape(4, len(sv), -1)
            tb = tb[:, :, good].transpose(1, 2, 0)
            basis = np.concatenate([tb, np.broadcast_to(extra, (len(sv), *extra.shape))], -1)
            bt = np.swapaxes(basis, -1, -2)
            ata = bt @ basis + 1e-6 * np.eye(basis.shape[-1])
            aty = bt @ y
            beta = np.linalg.solve(ata, aty[..., None])[..., 0]
            rss = float(y @ y) - (beta * aty).sum(-1)
            # the sample's lit sides must come out brighter, not darker, than their surround
            return np.where(beta[:, 1:3].sum(-1) > 0.0, rss, np.inf)

        # coarse search on a half-pixel grid, then the fine grid around its best
        half = ss // 2
        g = np.arange(-ws * ss, ws * ss + 1, half)
        sv, su = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
        rss = fit(sv, su)
        if not np.isfinite(rss).any():  # no lit sample fits: keep the centroid
            return u, v
        k = int(np.argmin(rss))
        f = np.arange(-half + 1, half)
        fv, fu = (a.ravel() for a in np.meshgrid(sv[k] + f, su[k] + f, indexing="ij"))
        keep = (np.abs(fv) <= ws * ss) & (np.abs(fu) <= ws * ss)
        fv, fu = fv[keep], fu[keep]
        k = int(np.argmin(fit(fv, fu)))
        uf, vf = pc + 0.5 + fu[k] / ss, pr + 0.5 + fv[k] / ss
        # the lit blob lies sunward of the centre, never the other way: a fit that moves
        # the centre sunward has latched onto something else (a dust-dimmed sun, a shadow)
        s_cam = calib.rotation.T @ sun
        s_img = np.array([s_cam[0], -s_cam[1]])
        if float(np.hypot(*s_img)) > 1e-6:
            toward = ((uf - u) * s_img[0] + (vf - v) * s_img[1]) / float(np.hypot(*s_img))
            if toward > self.fit_sunward_px:
                return u, v
        return uf, vf


@functools.lru_cache(maxsize=64)
def _pixel_model(det: SampleDetector, calib: CameraModel, pc: int, pr: int,
                 sun: tuple[float, float, float]) -> NDArray[np.float64]:
    """Pixel means of ``det``'s shading model about pixel ``(pc, pr)`` for every fine shift.

    ``(4, n, n)``, read-only: entry ``[:, i, j]`` is the mean over the ``fit_subpixel``-square
    of fine cells starting at ``(i, j)`` (a box filter via cumulative sums). Cached: the
    camera and the sun sensor's reading are fixed within an episode and the blob's pixel
    rarely moves, so the supersampled ray casting runs once per pixel, not once per frame.
    """
    hp, ws, ss = det.fit_half, det.fit_search, det.fit_subpixel
    big = hp + ws + 0.5  # [px] half side of the supersampled model
    n_fine = int(round(2 * big * ss))
    fine = det._model(calib, pc + 0.5, pr + 0.5, np.array(sun), n_fine, -big)
    c = np.zeros((4, n_fine + 1, n_fine + 1))
    c[:, 1:, 1:] = fine.cumsum(1).cumsum(2)
    box = (c[:, ss:, ss:] - c[:, :-ss, ss:] - c[:, ss:, :-ss] + c[:, :-ss, :-ss]) / ss**2
    box.flags.writeable = False
    return box
