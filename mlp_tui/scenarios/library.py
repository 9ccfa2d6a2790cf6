"""The built-in scenarios shipped inside the package, and how a name becomes a file."""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path

from mlp_tui.scenarios.spec import ScenarioError, ScenarioSpec, load, os_problem

DEFAULT = "xor"


def library_dir() -> Path:
    return Path(str(files("mlp_tui.scenarios") / "library"))


def builtin_paths() -> list[Path]:
    return sorted(library_dir().glob("*.toml"))


def builtin_names() -> list[str]:
    return [p.stem for p in builtin_paths()]


def resolve(name_or_path: str | Path) -> Path:
    """A path to an existing file, or the name of a built-in scenario (``xor``)."""
    path = Path(name_or_path)
    try:
        if path.is_file():
            return path
    except OSError as err:  # a name too long for the file system, say
        raise ScenarioError(path, "", f"cannot read: {os_problem(err)}") from None
    if "\0" in str(path):
        raise ScenarioError(path, "", "no such file: the path contains a NUL byte")
    builtin = library_dir() / f"{path.name}.toml"
    if path.suffix == "" and len(path.parts) == 1 and builtin.is_file():
        return builtin
    names = builtin_names()
    close = difflib.get_close_matches(str(name_or_path), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ScenarioError(
        path, "", f"no such file or built-in scenario{hint}; built-ins: {', '.join(names)}"
    )


def course() -> list[ScenarioSpec]:
    """The built-in scenarios as a course: by their ``order``, then by name."""
    return sorted((load(p) for p in builtin_paths()), key=lambda s: (s.order, s.name))
