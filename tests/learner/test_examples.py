"""Every file in examples/ opens and steps, and `mlp-tui debug FILE --run --json` names the
mistake its comment promises (or pauses at the phase whose code raised)."""

from __future__ import annotations

import json

import pytest

from mlp_tui.cli import main
from tests.learner.conftest import EXAMPLES

# file -> (kinds of mistake named, phase whose code raises or None)
EXPECTED = {
    "correct_net.py": (set(), None),
    "torch_adam_net.py": (set(), None),
    "module_level_net.py": (set(), None),
    "mistake_non_leaf.py": ({"non_leaf"}, None),
    "mistake_step_rebinds.py": ({"step_noop"}, None),
    "mistake_step_attribute.py": ({"rebound"}, "backward"),
    "mistake_zero_grad.py": ({"accumulating"}, None),
    "mistake_parameters.py": ({"not_optimized", "accumulating"}, None),
    "mistake_last_activation.py": ({"activation_last"}, None),
    "mistake_broadcast.py": ({"broadcast"}, None),
    "mistake_w_shape.py": (set(), "forward"),
    "mistake_loss_not_scalar.py": ({"non_scalar_loss"}, "loss"),
}


def test_every_example_is_listed():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(EXPECTED)


def debug_json(capsys, name: str, steps: int = 5) -> tuple[int, list[dict]]:
    status = main(["debug", str(EXAMPLES / name), "--run", "--steps", str(steps), "--json"])
    lines = capsys.readouterr().out.splitlines()
    return status, [json.loads(line) for line in lines]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_json_names_the_mistake_of_each_example(capsys, name):
    kinds, raising = EXPECTED[name]
    status, records = debug_json(capsys, name)
    summary = records[-1]
    assert summary["summary"] is True
    assert {m["kind"] for m in summary["mistakes"]} == kinds
    if raising is None:
        assert status == 0 and "error" not in summary
        assert summary["steps"] == 5 and len(records) == 6  # one record per step
    else:
        assert status == 1
        assert summary["error"]["phase"] == raising
        error = summary["error"]
        assert "mlp_tui" not in error["traceback"]  # their frames only
        if raising != "backward":  # their code raised: it points at their file
            assert name in error["traceback"] + error["message"]


def test_the_w_shape_mistake_names_the_attribute_and_the_orientation(capsys):
    _, records = debug_json(capsys, "mistake_w_shape.py")
    message = records[-1]["error"]["message"]
    assert "layers[0].W is [16×2]" in message and "(in, out) = (2, 16)" in message


def test_mistakes_point_at_their_attributes(capsys):
    _, records = debug_json(capsys, "mistake_parameters.py")
    unoptimized = [m for m in records[-1]["mistakes"] if m["kind"] == "not_optimized"]
    assert [m["subject"] for m in unoptimized] == ["layers[0].b", "layers[2].b"]
    assert "model.parameters() does not return it" in unoptimized[0]["message"]
    _, records = debug_json(capsys, "mistake_step_attribute.py")
    rebound = {m["subject"] for m in records[-1]["mistakes"] if m["kind"] == "rebound"}
    assert rebound == {"layers[0].W", "layers[0].b", "layers[2].W", "layers[2].b"}


def test_the_correct_example_learns_and_stops_at_an_accuracy_breakpoint(capsys):
    status = main(
        [
            "debug",
            str(EXAMPLES / "correct_net.py"),
            "--break",
            "accuracy >= 0.9",
            "--run",
            "--steps",
            "400",
            "--json",
        ]
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    stop = records[-1]["stops"][0]  # a headless run lists its stops and goes on, as `run` does
    assert stop["reason"] == "breakpoint" and stop["note"] == "accuracy >= 0.9"
    accuracy = {r["step"]: r["accuracy"] for r in records[:-1]}
    first = min(step for step, value in accuracy.items() if value >= 0.9)
    assert stop["step"] == first < 400
