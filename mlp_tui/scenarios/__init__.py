"""Scenario files: validated TOML → data, model, loss, optimizer, breakpoints → a Session."""

from mlp_tui.scenarios.build import Built, build
from mlp_tui.scenarios.library import DEFAULT, builtin_names, course, resolve
from mlp_tui.scenarios.spec import ScenarioError, ScenarioSpec, load

__all__ = [
    "DEFAULT",
    "Built",
    "ScenarioError",
    "ScenarioSpec",
    "build",
    "builtin_names",
    "course",
    "load",
    "open_scenario",
    "resolve",
]


def open_scenario(name_or_path: str) -> Built:
    """Resolve, load, validate and build: the one call the CLI and the UI make."""
    return build(load(resolve(name_or_path)))
