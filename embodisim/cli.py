"""The ``embodisim`` command line.

Each command group lives in its own ``embodisim/cmd_*.py`` module exposing
``register(subparsers)``; the module adds its sub-parser(s) and sets
``func`` on them. ``main`` dispatches to ``args.func(args)`` which returns
the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# One entry per command module; order is the order in ``embodisim --help``.
_COMMAND_MODULES: tuple[str, ...] = (
    "embodisim.cmd_scene",
    "embodisim.cmd_evaluate",
    "embodisim.cmd_library",
    "embodisim.cmd_tactile",
    "embodisim.cmd_bench",
    "embodisim.cmd_sim2real",
)


def _default_gl() -> None:
    """Pick a headless OpenGL backend before MuJoCo's renderer is imported."""
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser with every registered command."""
    from embodisim import __version__

    parser = argparse.ArgumentParser(
        prog="embodisim",
        description="Simulation suite for embodied AI: low gravity, low light, and touch.",
    )
    parser.add_argument("--version", action="version", version=f"embodisim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    _default_gl()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError) as exc:
        # Bad input: one clear line, no traceback (the message names the field).
        print(f"embodisim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (e.g. `embodisim reality list | head`): stop quietly, as the
        # Python docs on SIGPIPE advise, pointing stdout at devnull so the flush at exit is silent
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by it


if __name__ == "__main__":
    raise SystemExit(main())
