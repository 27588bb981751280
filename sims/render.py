"""A headless MuJoCo renderer that is created once, reused, and closed properly.

Backend selection is MuJoCo's own: the ``MUJOCO_GL`` environment variable must be
set *before* ``import mujoco`` (MuJoCo reads it at import time). Use
``MUJOCO_GL=osmesa`` on a CPU-only machine (software rasteriser, libosmesa6) and
``MUJOCO_GL=egl`` on a machine with a GPU. This module never sets it: it only
reports the backend in use and turns a failed context creation into an error that
says what to set.

Speed on a software rasteriser is dominated by the shadow map (MuJoCo's default is
4096 x 4096, i.e. 16.7 M texels rasterised per frame for a 64 x 64 image) and by
multisampling. :class:`HeadlessRenderer` therefore builds its GL context with a
shadow map sized to the image and no multisampling, without changing the caller's
model: the two ``model.vis.quality`` values are set only while the context is
created and restored afterwards. The automatic size is the next power of two
>= 2 x the image side, at least 256 (64 px -> 256, 256 px -> 512, 640 px -> 2048).
Measured on a plane + box scene at 64 x 64 (OSMesa): shadow maps of 128...4096 texels
give the same shadowed area within 1 % and differ from each other only in ~30
dithered edge pixels, which do not shrink with map size; 256 renders ~20x faster
than MuJoCo's defaults.

Where the time goes once that is done (OSMesa/llvmpipe 22.3, one core,
``LP_NUM_THREADS=0``, CPU ms per 64 x 64 frame; ``benchmarks/bench_camera.py``):
the classic renderer draws every geom once without shadows, and with a
shadow-casting light twice more (depth pass from the light over the whole scene,
then a lit pass with the shadow map), so the cost is set by the number of triangles,
not by the image size (64 and 128 px cost about the same). A 96 x 96 heightfield
(18k triangles) takes ~3 ms per pass; shadows add ~10-12 ms to a ~3 ms
shadow-free frame; 4x MSAA adds ~3-4 ms more; ``update_scene`` and the readback
are < 0.05 ms. Python overhead of ``mujoco.Renderer`` is ~0.03 ms. Faster
software rendering therefore needs fewer triangles (a coarser render mesh), fewer
shadow casters or no MSAA, each of which changes the image; a GPU (``MUJOCO_GL=egl``)
removes the cost instead.
"""

from __future__ import annotations

import atexit
import os
import weakref
from types import TracebackType

import mujoco
import numpy as np
from numpy.typing import NDArray

__all__ = ["HeadlessRenderer", "gl_backend"]

# Renderers still open at interpreter exit are closed by an atexit hook, while the GL
# libraries are still importable; otherwise their destructors print ctypes errors.
_OPEN: weakref.WeakSet[HeadlessRenderer] = weakref.WeakSet()


@atexit.register
def _close_open_renderers() -> None:
    for renderer in list(_OPEN):
        renderer.close()


# What a physical camera sees: no debug overlays (rangefinder rays, site markers of
# groups other than 0-2 stay at MuJoCo's defaults).
_CAMERA_OPTION = mujoco.MjvOption()
_CAMERA_OPTION.flags[mujoco.mjtVisFlag.mjVIS_RANGEFINDER] = 0


def gl_backend() -> str:
    """Return the OpenGL backend MuJoCo uses in this process.

    Returns:
        The lower-cased value of ``MUJOCO_GL`` (``"osmesa"``, ``"egl"``, ``"glfw"``...),
        or ``"glfw"`` when it is unset (MuJoCo's default on Linux).
    """
    return os.environ.get("MUJOCO_GL", "").strip().lower() or "glfw"


class HeadlessRenderer:
    """Own one ``mujoco.Renderer`` at a fixed size, render RGB frames, close cleanly.

    Use it as a context manager or call :meth:`close`; closing twice is harmless.

    Args:
        model: Compiled model; its offscreen buffer must be at least ``width`` x
            ``height`` (``model.vis.global_.offwidth/offheight``, default 640 x 480).
        width: Image width [px].
        height: Image height [px].
        shadows: Render shadows cast by lights with ``castshadow``.
        shadow_size: Side of the shadow map [texels] for this context; ``None`` picks
            it from the image size (see module doc). Pass
            ``model.vis.quality.shadowsize`` to keep the model's value.
        offsamples: Multisample count for this context (0 = off). ``None`` keeps the
            model's value.
        max_geom: Capacity of the abstract scene.

    Raises:
        ValueError: On a non-positive size or one larger than the offscreen buffer.
        RuntimeError: If no GL context can be created (with the remedy).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        width: int,
        height: int,
        *,
        shadows: bool = True,
        shadow_size: int | None = None,
        offsamples: int | None = 0,
        max_geom: int = 2000,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(
                f"HeadlessRenderer size = {width} x {height} px must be positive; "
                "pass the camera image width and height in pixels."
            )
        if shadow_size is None:
            shadow_size = max(256, 1 << (2 * max(width, height) - 1).bit_length())
        if shadow_size < 16:
            raise ValueError(
                f"HeadlessRenderer.shadow_size = {shadow_size} is below 16 texels; "
                "use None (automatic) or a power of two such as 256."
            )
        self._renderer: mujoco.Renderer | None = None
        self._model = model
        self.width = int(width)
        self.height = int(height)
        saved = (model.vis.quality.shadowsize, model.vis.quality.offsamples)
        try:
            model.vis.quality.shadowsize = int(shadow_size)
            if offsamples is not None:
                model.vis.quality.offsamples = int(offsamples)
            try:
                self._renderer = mujoco.Renderer(model, self.height, self.width, max_geom=max_geom)
            except ValueError:
                raise
            except Exception as err:  # GL/driver errors come in several exception types
                raise RuntimeError(
                    f"could not create a MuJoCo GL context with MUJOCO_GL={gl_backend()!r}: "
                    f"{err}. Set MUJOCO_GL=osmesa (CPU, needs libosmesa6) or MUJOCO_GL=egl "
                    "(GPU) in the environment before Python imports mujoco."
                ) from err
        finally:
            model.vis.quality.shadowsize, model.vis.quality.offsamples = saved
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = bool(shadows)
        self._rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)
        _OPEN.add(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._renderer is None

    @property
    def model(self) -> mujoco.MjModel:
        """The model this renderer draws."""
        return self._model

    def render_rgb(
        self,
        data: mujoco.MjData,
        camera: int | str,
        *,
        out: NDArray[np.uint8] | None = None,
    ) -> NDArray[np.uint8]:
        """Render the scene seen by ``camera`` as an ``(height, width, 3)`` uint8 image.

        Args:
            data: State to draw; its kinematics (``xpos``, ``xmat``, camera and light
                poses) must be current, e.g. after ``mj_forward`` or ``mj_step``.
            camera: Camera name or id.
            out: Optional destination; by default an internal buffer is reused, so copy
                the result if you keep it past the next call.

        Returns:
            The rendered image (``out`` or the internal buffer).

        Raises:
            RuntimeError: If the renderer was closed.
        """
        if self._renderer is None:
            raise RuntimeError("HeadlessRenderer.render_rgb called after close(); make a new one.")
        self._renderer.update_scene(data, camera, scene_option=_CAMERA_OPTION)
        buf = self._rgb if out is None else out
        self._renderer.render(out=buf)
        return buf

    def close(self) -> None:
        """Free the GL context; safe to call more than once."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        _OPEN.discard(self)

    def __enter__(self) -> HeadlessRenderer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_renderer", None) is not None:
            self.close()
