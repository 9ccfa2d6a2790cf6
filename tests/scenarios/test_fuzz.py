"""Fuzzing ``mlp-tui check`` (and a few ``run``s) with mutated built-in scenarios.

Each example takes a built-in scenario, changes it (a value of another type, a huge or
negative number, an unknown key, a deleted key or section, control characters, deep
nesting, a broken byte or two in the text) and runs ``check`` in-process. The only outcomes
allowed: exit 0 with an "ok" line, or exit 2 with one or more printable lines, each naming
the file. Never a traceback, never a second line inside one message. A few of the files
that pass ``check`` are also trained for 2 steps with ``run --json``.

Bounded for CI: ``MLP_TUI_FUZZ_EXAMPLES`` examples (200 by default, about 5 s here),
the same ones every run (derandomized) unless ``MLP_TUI_FUZZ_RANDOM=1``; no example
database is written.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_tui import cli
from mlp_tui.scenarios.datasets import KINDS
from mlp_tui.scenarios.library import builtin_paths, library_dir
from mlp_tui.scenarios.spec import ACTIVATIONS, LOSSES, MISTAKES, OPTIMIZERS
from mlp_tui.scratch import INITS
from mlp_tui.session.phases import PHASES

SEEDS = {path.name: tomllib.loads(path.read_text(encoding="utf-8")) for path in builtin_paths()}
EXAMPLES = int(os.environ.get("MLP_TUI_FUZZ_EXAMPLES", "200"))
RUNS = {"done": 0}
MAX_RUNS = 8  # ``run --steps 2 --json`` for at most this many files that pass check


# --------------------------------------------------------------------- writing TOML


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value >= 0 and value.bit_length() > 4000:  # decimal would be over Python's limit
            return hex(value)
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(type(value))


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but DEL must be escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def to_toml(document: dict[str, Any]) -> str:
    lines = []
    for section, table in document.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_string(section)}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
        else:  # a section that is not a table, or [[breakpoints]] written inline
            lines.insert(0, f"{toml_string(section)} = {toml_value(table)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------- mutations

CONTROL = st.sampled_from(["\n", "\r", "\x1b[2J", "\x1b]0;pwned\x07", "\x00", "\x7f", "\u202e"])
HUGE = st.sampled_from(
    [2**63, 2**64, -(2**64), 10**400, 16**5000 - 1, 10**4000, -(10**300), 2**1023 * 3]
)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-10, 10_000),
    st.integers(),
    HUGE,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=5), CONTROL, st.text(max_size=5)),
)


def nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
    st.integers(1, 120).map(nested),
)
KEYS = st.one_of(
    st.sampled_from(
        ["samples", "hidden", "lr", "seed", "kind", "path", "target", "steps", "batch_size"]
    ),
    st.text(max_size=12),
    st.builds(lambda a, c: a + c, st.text(max_size=4), CONTROL),
)


NAMES = st.sampled_from(
    [*KINDS, "csv", *ACTIVATIONS, *INITS, *LOSSES, *OPTIMIZERS, *MISTAKES]
    + [p.value for p in PHASES]
    + ["loss < 0.1", "accuracy >= 0.9", "grad_norm.W0 > 1e9", "dead_fraction.h0 >= 0.5"]
)


def near(draw, value: Any) -> Any:
    """A value of the same type as ``value``, often still valid: the edits a learner makes."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return draw(
            st.one_of(
                st.integers(-2, max(2 * value, 10)) if value < 2**40 else st.integers(-2, 10), HUGE
            )
        )
    if isinstance(value, float):
        return draw(st.floats(-1, abs(value) * 2 + 1, allow_nan=False) | st.just(float("inf")))
    if isinstance(value, str):
        return draw(NAMES | st.builds(lambda c: value + c, CONTROL))
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return draw(st.lists(st.integers(0, 9000) | st.integers(1, 64), max_size=4))
    return draw(VALUES)


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    document = json.loads(json.dumps(SEEDS[name]))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        sections = list(document)
        action = draw(
            st.sampled_from(
                ["near"] * 6 + ["set", "set", "delete", "add", "section", "drop_section"]
            )
        )
        if action == "section" or not sections:
            document[draw(KEYS)] = draw(VALUES)
            continue
        section = draw(st.sampled_from(sections))
        table = document[section]
        if isinstance(table, list) and table and all(isinstance(t, dict) for t in table):
            table = draw(st.sampled_from(table))  # one of the [[breakpoints]]
        if action == "drop_section":
            del document[section]
        elif not isinstance(table, dict):
            document[section] = draw(VALUES)
        elif action == "delete" and table:
            del table[draw(st.sampled_from(sorted(table)))]
        elif action == "add":
            table[draw(KEYS)] = draw(VALUES)
        elif table:
            key = draw(st.sampled_from(sorted(table)))
            table[key] = near(draw, table[key]) if action == "near" else draw(VALUES)
    text = to_toml(document).encode("utf-8")
    raw = draw(st.sampled_from(["none"] * 8 + ["bom", "byte", "cut", "deep"]))
    if raw == "bom":
        text = b"\xef\xbb\xbf" + text
    elif raw == "byte":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=3)) + text[at:]
    elif raw == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif raw == "deep":
        depth = draw(st.sampled_from([60, 900, 5000]))
        text += b"\n[deep]\nx = " + b"[" * depth + b"]" * depth + b"\n"
    return name, text


# --------------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(library_dir() / "data", folder / "data")  # iris.toml reads data/iris.csv
    return folder


@pytest.mark.filterwarnings("ignore:The .grad attribute")  # non-leaf.toml shows that bug
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("MLP_TUI_FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # capsys: read out before and after each example
    ],
)
@given(case=mutated())
def test_check_of_a_mutated_scenario_is_ok_or_clean_lines(case, work, capsys):
    name, text = case
    path = work / name
    path.write_bytes(text)
    capsys.readouterr()
    status = cli.main(["check", str(path)])
    out, err = capsys.readouterr()
    assert status in (0, cli.EXIT_BAD_INPUT), (status, out, err)
    if status == 0:
        assert err == "" and out.startswith(f"ok  {path}: ") and out.count("\n") == 1, out
        assert out[:-1].isprintable()
        maybe_run(path, capsys)
        return
    assert out == ""
    lines = err.splitlines()
    assert lines and err.endswith("\n")
    for line in lines:
        assert line.startswith(f"mlp-tui: {path}"), line
        assert line.isprintable() and "Traceback" not in line, repr(line)


def maybe_run(path: Path, capsys) -> None:
    """Train a small file that passed check for 2 steps: JSON Lines, then a summary."""
    from mlp_tui.scenarios import load

    spec = load(path)
    small = spec.data.kind == "csv" or spec.data.samples <= 5000
    if RUNS["done"] >= MAX_RUNS or not small or sum(spec.model.hidden) > 512:
        return
    RUNS["done"] += 1
    status = cli.main(["run", str(path), "--steps", "2", "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and err == "", (status, err)
    records = [json.loads(line) for line in out.splitlines()]
    assert records[-1]["summary"] and records[-1]["steps"] >= 1
