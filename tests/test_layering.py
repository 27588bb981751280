"""Imports point down the layers and never back up (ARCHITECTURE.md, STYLE.md 1).

``sims <- scenes <- tasks <- sim2real``; ``metrics`` stands alone (and never
imports MuJoCo, so it scores real-robot data too); ``embodisim`` sits on top
and nothing imports it. Every import counts, including ones inside functions
(a lazy upward import is still an upward dependency) and
``importlib.import_module("...")`` calls with a literal name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERED = ("sims", "scenes", "tasks", "sim2real", "metrics")

FORBIDDEN: dict[str, frozenset[str]] = {
    "sims": frozenset({"scenes", "tasks", "sim2real", "embodisim"}),
    "scenes": frozenset({"tasks", "sim2real", "embodisim"}),
    "tasks": frozenset({"sim2real", "embodisim"}),
    "sim2real": frozenset({"embodisim"}),
    "metrics": frozenset({"sims", "scenes", "tasks", "sim2real", "embodisim", "mujoco"}),
}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    package: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.package} must not import {self.imported}"


def _module_of(path: Path, root: Path) -> list[str]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Absolute names of every module imported by a file, with line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_of(path, root)
    package = here if path.name == "__init__.py" else here[:-1]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
        ):
            out.append((node.lineno, node.args[0].value))
    return out


def find_violations(root: Path) -> list[Violation]:
    """Every upward (or forbidden) import under the layered packages of ``root``."""
    found: list[Violation] = []
    for package in LAYERED:
        for path in sorted((root / package).rglob("*.py")):
            for line, name in imported_modules(path, root):
                top = name.split(".", 1)[0]
                if top in FORBIDDEN[package]:
                    found.append(Violation(str(path.relative_to(root)), line, package, name))
    return found


def test_repository_has_no_upward_import():
    violations = find_violations(ROOT)
    assert not violations, "upward imports:\n" + "\n".join(map(str, violations))


def test_every_layered_package_is_checked():
    for package in LAYERED:
        assert (ROOT / package / "__init__.py").is_file()
    # The checker really reads the files: metrics imports numpy, tasks.runner imports metrics.
    assert any(n == "numpy" for _, n in imported_modules(ROOT / "metrics" / "stats.py", ROOT))
    assert any(n.startswith("metrics") for _, n in imported_modules(ROOT / "tasks" / "runner.py", ROOT))


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.mark.parametrize(
    ("rel", "source", "imported"),
    [
        ("sims/bad.py", "import scenes.spec\n", "scenes.spec"),
        ("sims/sub/bad.py", "def f():\n    from tasks import runner\n", "tasks"),
        ("scenes/bad.py", "from embodisim.cli import main\n", "embodisim.cli"),
        (
            "tasks/bad.py",
            "import importlib\nimportlib.import_module('sim2real.dr')\n",
            "sim2real.dr",
        ),
        ("sim2real/bad.py", "import embodisim\n", "embodisim"),
        ("metrics/bad.py", "import mujoco.viewer\n", "mujoco.viewer"),
        ("metrics/bad2.py", "from sims import world\n", "sims"),
        ("metrics/sub/bad.py", "from ...tasks import suites\n", "tasks"),
    ],
)
def test_checker_catches_synthetic_violations(tmp_path: Path, rel: str, source: str, imported: str):
    for package in LAYERED:
        _write(tmp_path, f"{package}/__init__.py", "")
    _write(tmp_path, "sims/ok.py", "import numpy\nimport mujoco\n")
    _write(tmp_path, "tasks/ok.py", "import scenes\nimport sims.world\nfrom . import ok\n")
    _write(tmp_path, "sim2real/ok.py", "import tasks.runner\nimport metrics.stats\n")
    assert find_violations(tmp_path) == []
    _write(tmp_path, rel, source)
    found = find_violations(tmp_path)
    assert [(v.path, v.imported) for v in found] == [(rel, imported)]
