"""embodisim: MuJoCo + Gymnasium simulation suite for extreme environments and touch.

This package is the thin front door: the ``embodisim`` command line and a few
re-exports. Nothing inside the suite imports it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("embodisim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

import tasks as _tasks  # registers embodisim/<Name>-v0 with Gymnasium

del _tasks

from tasks.vector import make_vec  # noqa: E402  (after registration)

__all__ = ["__version__", "make_vec"]
