"""embodisim: MuJoCo + Gymnasium simulation suite for extreme environments and touch.

This package is the thin front door: the ``embodisim`` command line and a few
re-exports. Nothing inside the suite imports it.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

# MuJoCo picks its OpenGL backend when it is first imported (importing ``tasks`` below
# imports it): default to headless OSMesa unless the caller chose (e.g. egl on a GPU).
os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

try:
    __version__ = version("embodisim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

import tasks as _tasks  # registers embodisim/<Name>-v0 with Gymnasium

del _tasks

from tasks.vector import make_vec  # noqa: E402  (after registration)

__all__ = ["__version__", "make_vec"]
