"""Held-out data (``[data] test_fraction``) and names from the data (a CSV's header and its
classes, or the scenario's ``[data] classes``): the split, what the session measures on the
held-out rows, and where the names go."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from mlp_tui import cli
from mlp_tui.scenarios import ScenarioError, build, load, open_scenario
from mlp_tui.scenarios.datasets import held_out_rows, load_csv, standardize
from mlp_tui.scenarios.library import library_dir
from mlp_tui.session.breakpoints import Breakpoint, parse_condition
from mlp_tui.session.report import Accuracy

IRIS_CSV = library_dir() / "data" / "iris.csv"

MOONS = """
[data]
kind = "moons"
samples = 120
noise = 0.2
seed = 3
test_fraction = {fraction}
[model]
hidden = [8]
[optimizer]
kind = "sgd"
lr = 0.3
[training]
steps = 20
batch_size = 32
seed = {seed}
"""


def moons(tmp_path: Path, fraction: float = 0.25, seed: int = 5) -> Path:
    path = tmp_path / f"moons-{fraction}-{seed}.toml"
    path.write_text(MOONS.format(fraction=fraction, seed=seed))
    return path


def rows_of(x: torch.Tensor) -> list[tuple[float, ...]]:
    return [tuple(row) for row in x.tolist()]


# ------------------------------------------------------------------ the split


def test_the_split_is_the_same_for_the_same_seed_and_disjoint_and_covers_the_data(tmp_path):
    first = build(load(moons(tmp_path)))
    again = build(load(moons(tmp_path)))
    assert first.test is not None and again.test is not None
    assert torch.equal(first.test.x, again.test.x) and torch.equal(first.data.x, again.data.x)
    # Disjoint, and together exactly the generated data set (moons is not standardised).
    whole = build(load(moons(tmp_path, fraction=0)))
    assert whole.test is None and len(whole.data.x) == 120
    train, test = rows_of(first.data.x), rows_of(first.test.x)
    assert not set(train) & set(test)
    assert sorted(train + test) == sorted(rows_of(whole.data.x))
    # A quarter of each class held out; both keep the file's (here: generated) order.
    assert torch.bincount(first.test.y).tolist() == [15, 15]
    order = {row: i for i, row in enumerate(rows_of(whole.data.x))}
    assert [order[r] for r in test] == sorted(order[r] for r in test)
    # Another seed, another split.
    other = build(load(moons(tmp_path, seed=6)))
    assert not torch.equal(other.test.x, first.test.x)


def test_standardising_uses_the_training_rows_only():
    built = open_scenario("iris")
    raw = load_csv(IRIS_CSV, target="species")
    rows = held_out_rows(raw, 0.2, built.spec.training.seed)
    keep = torch.ones(len(raw.x), dtype=torch.bool)
    keep[rows] = False
    train_x = raw.x[keep].double()
    mean, std = train_x.mean(dim=0), train_x.std(dim=0, correction=0)
    assert torch.equal(built.test.x, ((raw.x[rows].double() - mean) / std).float())
    train = dataclasses.replace(raw, x=raw.x[keep], y=raw.y[keep])
    assert torch.equal(built.data.x, standardize(train).x)
    assert torch.equal(built.test.y, raw.y[rows])


# ------------------------------------------------------------------ the session


def test_held_out_figures_are_exact_and_match_torch_on_the_held_out_rows():
    built = open_scenario("iris")
    session, test = built.session, built.test
    session.set_breakpoints([])
    session.run(30)
    for _ in range(3):  # zero_grad, forward, loss of step 31: the weights its forward used
        report = session.next_phase()
    net = session.model.to_torch()  # an independent torch.nn copy of the weights
    with torch.no_grad():
        logits = net(test.x)
    correct = int((logits.argmax(dim=1) == test.y).sum())
    assert report.test_accuracy == Accuracy(correct, 30)
    assert isinstance(report.test_accuracy, Accuracy) and report.test_accuracy.total == 30
    expected = torch.nn.functional.cross_entropy(logits, test.y).item()
    assert report.test_loss == pytest.approx(expected, rel=1e-6)
    assert report.test_losses.values[-1] == report.test_loss
    assert report.test_losses.last_step == 31
    assert session.evaluate(held_out=True) == (report.test_loss, report.test_accuracy)


def test_held_out_rows_do_not_move_training_by_a_bit(tmp_path):
    """The held-out forward runs without autograd and draws no random numbers: a session
    that measures it trains exactly as one that does not (minibatches use the RNG here)."""
    spec = load(moons(tmp_path))
    measured = build(spec).session
    built = build(spec)
    s = built.session
    plain = type(s)(
        s.model, s.loss_fn, s.optimizer, s.x, s.y, batch_size=32, seed=spec.training.seed
    )
    assert measured.held_out is not None and plain.held_out is None
    measured.run(20)
    plain.run(20)
    assert measured.losses == plain.losses
    for a, b in zip(measured.params, plain.params, strict=True):
        assert torch.equal(a, b)


def test_every_mode_records_the_same_held_out_losses(tmp_path):
    spec = load(moons(tmp_path))
    by_phase, by_run = build(spec).session, build(spec).session
    while by_phase.completed_steps < 6:
        report = by_phase.next_phase()
    assert by_run.run(6).test_losses == report.test_losses
    assert len(report.test_losses.values) == 6
    before = by_phase.back()  # back into step 6: its held-out loss is forgotten with it
    assert before.test_losses.last_step == 6 and before.phase.value == "backward"
    for _ in range(3):
        before = by_phase.back()
    assert before.test_losses.last_step == 5 and before.test_loss is None


def test_a_breakpoint_may_test_held_out_accuracy(tmp_path):
    built = open_scenario("iris")
    session = built.session
    session.set_breakpoints([Breakpoint(condition=parse_condition("test_accuracy >= 0.9"))])
    report = session.run(300)
    assert report.stop is not None and report.stop.reason == "breakpoint"
    assert report.test_accuracy >= 0.9 and report.phase.value == "loss"
    text = moons(tmp_path, fraction=0).read_text()
    path = tmp_path / "no-held-out.toml"
    path.write_text(text + '[[breakpoints]]\nwhen = "test_accuracy >= 0.9"\n')
    with pytest.raises(ScenarioError, match="unknown metric 'test_accuracy'"):
        load(path)


# ------------------------------------------------------------------ the file


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1", '"0.2"', "true", "nan"])
def test_a_bad_test_fraction_is_one_line_naming_the_key(tmp_path, value):
    path = tmp_path / "bad.toml"
    path.write_text(f'[data]\nkind = "xor"\ntest_fraction = {value}\n')
    with pytest.raises(ScenarioError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: data.test_fraction: must be in [0, 1)")


def numeric_iris(tmp_path: Path) -> Path:
    """iris.csv with its species written as 0, 1, 2."""
    names = ["setosa", "versicolor", "virginica"]
    lines = IRIS_CSV.read_text().splitlines()
    rows = [lines[0]] + [
        ",".join([*line.split(",")[:-1], str(names.index(line.split(",")[-1]))])
        for line in lines[1:]
        if line
    ]
    csv = tmp_path / "iris-numeric.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def test_names_come_from_the_csv_or_the_scenario_and_reach_the_report(tmp_path):
    csv = numeric_iris(tmp_path)
    path = tmp_path / "named.toml"
    path.write_text(
        f'[data]\nkind = "csv"\npath = "{csv.name}"\ntarget = "species"\n'
        'classes = ["Iris setosa", "Iris versicolor", "Iris virginica"]\n'
    )
    built = build(load(path))
    report = built.session.report()
    assert report.class_names == ("Iris setosa", "Iris versicolor", "Iris virginica")
    assert report.feature_names == (
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    )
    named = open_scenario("iris")  # the same flowers, their species named in the file
    assert torch.equal(built.data.y, load_csv(IRIS_CSV, target="species").y)
    assert named.session.report().class_names == ("setosa", "versicolor", "virginica")
    # Without classes, a numeric label is a regression target, and nothing names classes.
    path.write_text(f'[data]\nkind = "csv"\npath = "{csv.name}"\ntarget = "species"\n')
    assert build(load(path)).session.report().class_names is None


@pytest.mark.parametrize(
    ("classes", "problem"),
    [
        ('["only one"]', "data.classes: must be a list of 2 to 100 class names"),
        ('"setosa"', "data.classes: must be a list of 2 to 100 class names"),
        ('["a", "b", "a"]', "data.classes: names 'a' more than once"),
        ('["a", "b"]', "data.classes: row 102, column 'species': '2' is neither a class index"),
    ],
)
def test_bad_class_names_are_one_line_naming_the_key(tmp_path, classes, problem):
    csv = numeric_iris(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(
        f'[data]\nkind = "csv"\npath = "{csv.name}"\ntarget = "species"\nclasses = {classes}\n'
    )
    with pytest.raises(ScenarioError) as err:
        build(load(path))
    assert str(err.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ mlp-tui run --json


def test_run_json_reports_training_and_held_out_figures(capsys):
    assert cli.main(["run", "iris", "--json", "--steps", "3"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps, summary = records[:-1], records[-1]
    session = open_scenario("iris").session
    seen = []
    session.run(3, on_step=seen.append)
    for record, m in zip(steps, seen, strict=True):
        assert record["test_loss"] == m.test_loss
        assert record["test_accuracy"] == float(m.test_accuracy)
        assert record["test_correct"] == m.test_accuracy.correct
        assert record["correct"] == m.accuracy.correct
    loss, accuracy = session.evaluate(held_out=True)
    assert summary["test_loss"] == loss and summary["test_correct"] == accuracy.correct
    assert summary["test_accuracy"] == float(accuracy)
    assert summary["samples"] == 120 and summary["test_samples"] == 30
    assert summary["correct"] == session.evaluate()[1].correct
