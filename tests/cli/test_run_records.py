"""``mlp-tui run --json``: one record per completed step, a summary that counts what was
written, and every stop listed (up to a cap, with a count of the rest). In-process:
``cli.main`` is the command; a subprocess would prove nothing more here."""

from __future__ import annotations

import json
from pathlib import Path

from mlp_tui import cli

SMALL = """
[scenario]
title = "small"
[data]
kind = "{kind}"
samples = 40
[model]
hidden = [4]
[optimizer]
kind = "sgd"
lr = {lr}
[training]
steps = {steps}
"""


def run_json(tmp_path: Path, capsys, text: str, *extra: str) -> list[dict]:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["run", str(path), "--json", *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_two_phase_breakpoints_write_each_step_once_and_list_both_stops(tmp_path, capsys):
    text = SMALL.format(kind="xor", lr=0.1, steps=10)
    text += '[[breakpoints]]\nphase = "zero_grad"\nstep = 3\n'
    text += '[[breakpoints]]\nphase = "loss"\nstep = 3\n'
    records = run_json(tmp_path, capsys, text)
    steps, summary = records[:-1], records[-1]
    assert [r["step"] for r in steps] == list(range(1, 11))  # each once, none partial
    assert all(r["grad_norm"] and r["delta_norm"] for r in steps)
    assert summary["steps"] == 10 == len(steps)
    assert [(s["step"], s["phase"]) for s in summary["stops"]] == [(3, "zero_grad"), (3, "loss")]


def test_a_stop_mid_step_counts_only_the_steps_completed(tmp_path, capsys):
    records = run_json(tmp_path, capsys, SMALL.format(kind="sine", lr=1e3, steps=50))
    steps, summary = records[:-1], records[-1]
    [stop] = summary["stops"]
    assert stop["reason"] == "nonfinite"
    completed = stop["step"] if stop["phase"] == "step" else stop["step"] - 1
    assert [r["step"] for r in steps] == list(range(1, completed + 1))
    assert summary["steps"] == completed


def test_stops_are_capped_with_a_count_of_the_rest(tmp_path, capsys):
    text = SMALL.format(kind="xor", lr=0.1, steps=250) + '[[breakpoints]]\nphase = "loss"\n'
    records = run_json(tmp_path, capsys, text)
    summary = records[-1]
    assert summary["steps"] == 250 == len(records) - 1
    assert len(summary["stops"]) == cli.MAX_STOPS_LISTED == 100
    assert [s["step"] for s in summary["stops"]] == list(range(1, 101))
    assert summary["stops_not_listed"] == 150
    assert len(json.dumps(summary)) < 20_000  # one bounded line, however long the run
