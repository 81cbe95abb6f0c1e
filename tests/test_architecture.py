"""The import graph the README's layout describes: core ← projects ← labeling ← assist ← review ← exports, labelsite on top
composing them all, and no import tucked into a function to dodge a cycle."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "projects", "labeling", "assist", "review", "exports", "labelsite")


def _first_party(node) -> list[str]:
    """The first-party modules an import statement names (none for other nodes)."""
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [node.module]
    elif isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        return []
    return [name for name in names if name.split(".")[0] in PACKAGES]


def _sources(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:  # migrations are frozen history
            yield path, ast.parse(path.read_text(), filename=str(path))


def test_the_apps_depend_one_way():
    """pyproject.toml's import-linter contract holds (what `make lint` and CI check)."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_first_party_import_hides_in_a_function():
    """Except in AppConfig.ready: Django allows models only once every app is loaded, so ready() is where an app
    imports the modules that touch them."""
    found = []
    for package in PACKAGES:
        for path, tree in _sources(package):
            for function in ast.walk(tree):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if path.name == "apps.py" and function.name == "ready":
                    continue
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                    for node in ast.walk(function)
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for name in _first_party(node)
                ]
    assert not found, "Import these at module level (break the cycle it dodged, if any):\n" + "\n".join(found)
