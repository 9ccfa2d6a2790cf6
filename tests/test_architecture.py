"""Layering: the engine never needs the UI, and each layer imports only the ones below it.

scratch  <  trace  <  session  <  scenarios, learner  <  ui  <  web  <  cli
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlp_tui"
HEADLESS = ("scratch", "trace", "session", "scenarios", "learner")

# What each layer must not import, directly or lazily (inside a function, under TYPE_CHECKING).
FORBIDDEN = {
    "scratch": ("trace", "session", "scenarios", "learner", "ui", "web", "cli"),
    "trace": ("session", "scenarios", "learner", "ui", "web", "cli"),
    "session": ("scenarios", "learner", "ui", "web", "cli"),
    "scenarios": ("learner", "ui", "web", "cli"),
    # a learner's network and a scenario: side by side
    "learner": ("scenarios", "ui", "web", "cli"),
    "ui": ("cli", "web"),
    "web": ("cli",),
}

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
imported = []
for name in {packages!r}:
    package = importlib.import_module(name)
    imported.append(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
textual = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({{"imported": imported, "textual": textual}}))
"""


def test_headless_packages_import_without_textual():
    code = _IMPORT_ALL.format(packages=[f"mlp_tui.{p}" for p in HEADLESS])
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["textual"] == [], "textual imported by: the headless packages"
    imported = set(result["imported"])
    # every module file on disk was imported
    for package in HEADLESS:
        for path in (PACKAGE / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            assert name in imported, name
    assert {"mlp_tui.scratch.nn", "mlp_tui.trace.graph", "mlp_tui.session.session"} <= imported


def _resolve(source: str, package: list[str]) -> list[tuple[int, str]]:
    """Every module ``source`` imports, anywhere in it, as an absolute dotted name.
    ``package`` is the dotted path of the package the file lives in."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            # `from mlp_tui import ui` imports a subpackage by name
            out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return out


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return _resolve(path.read_text(encoding="utf-8"), parts[:-1])


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_from_the_layers_above(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files
    offending = []
    for path in files:
        for lineno, module in _imports(path):
            for above in FORBIDDEN[layer]:
                target = f"mlp_tui.{above}"
                if module == target or module.startswith(target + "."):
                    offending.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    assert offending == []


def test_import_resolution_catches_relative_and_lazy_imports():
    """The checker itself: relative, lazy and `from package import module` forms resolve."""
    source = (
        "from ..session import session\n"
        "def f():\n"
        "    import mlp_tui.ui.app\n"
        "from mlp_tui import scenarios\n"
        "from . import stats\n"
    )
    modules = [m for _, m in _resolve(source, ["mlp_tui", "trace"])]
    assert "mlp_tui.session" in modules
    assert "mlp_tui.session.session" in modules
    assert "mlp_tui.ui.app" in modules
    assert "mlp_tui.scenarios" in modules
    assert "mlp_tui.trace.stats" in modules


def test_the_app_module_paints_before_torch_is_imported():
    """`import torch` takes ~1-2 s; the app's module must not pull it in, or the first
    frame waits for it (the session's thread imports it once the screen is up)."""
    import subprocess
    import sys

    code = "import sys, mlp_tui.cli, mlp_tui.ui.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_the_package_for_debug_imports_neither_torch_nor_textual():
    """``import mlp_tui`` (for ``mlp_tui.debug``) stays cheap: torch and Textual load only
    when ``debug()`` is called."""
    code = "import sys, mlp_tui; print('torch' in sys.modules, 'textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False False"
