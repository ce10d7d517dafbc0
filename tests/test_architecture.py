"""The import direction the README promises: ``core4site → dashboard → events → jobqueue →
accounts → core4api``, checked on the source so that a shortcut fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

ORDER = ["core4site", "dashboard", "events", "jobqueue", "accounts", "core4api"]


def imported_packages(package: str) -> dict[str, set[str]]:
    """Module path → the project packages it imports (migrations excluded)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names & set(ORDER)
    return found


@pytest.mark.parametrize("package", ORDER)
def test_imports_point_down_only(package):
    allowed = set(ORDER[ORDER.index(package) :])
    wrong = {
        module: sorted(names - allowed)
        for module, names in imported_packages(package).items()
        if names - allowed
    }
    assert not wrong, f"{package} may import only {sorted(allowed)}: {wrong}"


def test_the_worker_loop_stays_small():
    lines = (ROOT / "jobqueue" / "worker.py").read_text().count("\n")
    assert lines <= 350, f"jobqueue/worker.py has {lines} lines; move a concept out"


def test_the_layout_table_names_every_package():
    readme = Path(ROOT / "README.md").read_text()
    for package in ORDER:
        assert f"| `{package}/` |" in readme, package
