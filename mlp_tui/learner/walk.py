"""Where each tensor lives in a learner's objects, found without calling anything.

A learner's model is plain objects (``MLP`` with a ``layers`` list of ``Linear`` holding
``W`` and ``b``); its tensors get their names from the path that reaches them:
``layers[0].W``. The walk reads instance dictionaries, lists, tuples and dicts only: no
properties, no methods, so nothing of theirs runs while it looks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

MAX_DEPTH = 6  # an MLP is model.layers[i].W: three steps; deeper is not a network's shape

Step = tuple[str, object]  # ("attr", name) or ("item", index or key)


@dataclass(frozen=True)
class Path:
    """A way from a root object to a value: ``layers[0].W`` is attr layers, item 0, attr W."""

    steps: tuple[Step, ...]

    def __str__(self) -> str:
        text = ""
        for kind, key in self.steps:
            if kind == "attr":
                text += f".{key}" if text else str(key)
            else:
                text += f"[{key!r}]" if isinstance(key, str) else f"[{key}]"
        return text

    def get(self, root: object) -> object:
        value = root
        for kind, key in self.steps:
            value = vars(value)[key] if kind == "attr" else value[key]  # type: ignore[index]
        return value

    def set(self, root: object, value: object) -> None:
        parent = Path(self.steps[:-1]).get(root)
        kind, key = self.steps[-1]
        if kind == "attr":
            setattr(parent, key, value)  # type: ignore[arg-type]
        else:
            parent[key] = value  # type: ignore[index]


def _children(value: object) -> Iterator[tuple[Step, object]]:
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield ("item", i), item
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str | int):
                yield ("item", key), item
    elif not isinstance(value, torch.Tensor | type) and hasattr(value, "__dict__"):
        if type(value).__module__.startswith(("torch", "builtins")):
            return  # a torch object (a Module, an optimizer) is not a learner's own
        for key, item in vars(value).items():
            yield ("attr", key), item


def walk(root: object, depth: int = MAX_DEPTH) -> Iterator[tuple[Path, object]]:
    """Every value reachable from ``root`` (each object once, first path wins), in the order
    the learner wrote them: attributes in assignment order, list items in list order."""
    seen = {id(root)}
    stack: list[tuple[Path, object]] = [(Path(()), root)]
    while stack:
        path, value = stack.pop()
        if path.steps:
            yield path, value
        if len(path.steps) >= depth:
            continue
        children = [
            (Path((*path.steps, step)), child)
            for step, child in _children(value)
            if id(child) not in seen
        ]
        seen.update(id(child) for _, child in children)
        stack.extend(reversed(children))  # depth first, in order


def tensors(root: object) -> list[tuple[Path, torch.Tensor]]:
    """Every tensor reachable from ``root``, with the path it was first found at."""
    return [(path, value) for path, value in walk(root) if isinstance(value, torch.Tensor)]
