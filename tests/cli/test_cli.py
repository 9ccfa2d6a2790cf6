"""The ``mlp-tui`` command as a user (or a script) runs it.

``cli.main`` is the command: most tests call it in-process, in the folder a user would be
in, with its output captured, once per module in a fixture (each test then reads the result
it needs). Real processes are kept for what only a process shows: the console script, a
reader closing the pipe, and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlp_tui import cli
from mlp_tui.scenarios import course, open_scenario

EXIT_BAD_INPUT = 2
# The subprocesses run in temporary folders: put this checkout first on their path, so they
# run the code under test, not whichever copy of the package is installed.
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

BAD_KEY = """
[data]
kind = "moons"
[model]
hidden = [16]
activaton = "relu"
"""
BAD_CSV = """
[data]
kind = "csv"
path = "data/broken.csv"
target = "y"
"""
GOOD = """
[scenario]
title = "Good"
summary = "A small good scenario."
[data]
kind = "xor"
samples = 20
[model]
hidden = [3]
"""


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def mlp_tui(*args: str, cwd: Path) -> Result:
    """``mlp-tui ARGS`` run in ``cwd``: its exit status and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(list(args))
            except SystemExit as exit_:  # argparse's own refusals
                status = exit_.code
    finally:
        os.chdir(before)
    return Result(tuple(args), status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "bad_key.toml").write_text(BAD_KEY, encoding="utf-8")
    (folder / "good.toml").write_text(GOOD, encoding="utf-8")
    (folder / "bad_csv.toml").write_text(BAD_CSV, encoding="utf-8")
    (folder / "data").mkdir()
    (folder / "data" / "broken.csv").write_text("a,b,y\n1,2,x\n3,oops,z\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def ran(work) -> dict[str, Result]:
    """Every command the tests read, run once."""
    single = {
        "list": ("list",),
        "json_a": ("run", "xor", "--json", "--steps", "5"),
        "json_b": ("run", "xor", "--json", "--steps", "5"),
        "summary": ("run", "xor"),
        "dot": ("graph", "xor", "--format", "dot"),
        "text": ("graph", "xor", "--format", "text"),
        "bare": ("graph", "xor", "--format", "dot", "--bare"),
        "check_bad": ("check", "bad_key.toml"),
        "check_mixed": ("check", "good.toml", "bad_csv.toml"),
        "run_missing": ("run", "no_such_file.toml"),
        "graph_typo": ("graph", "xr"),
        "run_zero_steps": ("run", "xor", "--steps", "0"),
        "diverges": ("run", "lr-too-high", "--json"),
    }

    results = {name: mlp_tui(*args, cwd=work) for name, args in single.items()}
    results["new"] = mlp_tui("new", "starter", cwd=work)
    results["new_check"] = mlp_tui("check", "starter.toml", cwd=work)
    results["new_again"] = mlp_tui("new", "starter.toml", cwd=work)
    return results


def one_error_line(result: Result) -> str:
    """Bad input: exit status 2, nothing on stdout, exactly one line on stderr, no traceback."""
    assert result.returncode == EXIT_BAD_INPUT, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlp-tui: ")
    return lines[0]


# ------------------------------------------------------------------------ list


def test_list_shows_the_course_in_order_with_summaries(ran):
    result = ran["list"]
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    specs = course()
    assert len(lines) == len(specs) >= 12
    for number, (line, spec) in enumerate(zip(lines, specs, strict=True), 1):
        match = re.match(r"\s*(\d+)\. (\S+)\s+(.*) — (.*)$", line)
        assert match, line
        assert int(match[1]) == number and match[2] == spec.name
        assert match[3] == spec.title and match[4] == spec.summary
    assert lines[0].split()[1] == "xor"  # the course starts with the default


# ------------------------------------------------------------------------ run --json


def test_run_json_is_one_object_per_step_then_a_summary(ran):
    result = ran["json_a"]
    assert result.returncode == 0 and result.stderr == ""
    records = [json.loads(line) for line in result.stdout.splitlines()]
    steps, summary = records[:-1], records[-1]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5]
    for r in steps:
        assert set(r) == {"step", "loss", "accuracy", "correct", "grad_norm", "delta_norm"}
        assert isinstance(r["loss"], float) and r["accuracy"] == r["correct"] / 200  # exact
        assert list(r["grad_norm"]) == ["W0", "b0", "W1", "b1"]
        assert list(r["delta_norm"]) == ["W0", "b0", "W1", "b1"]
        # plain SGD: ‖Δ‖ = lr·‖g‖, with xor's lr of 0.5
        for name, g in r["grad_norm"].items():
            assert r["delta_norm"][name] == pytest.approx(0.5 * g, rel=1e-5)
    assert set(summary) == {"summary", "steps", "final_loss", "accuracy", "correct"}
    assert summary["summary"] is True and summary["steps"] == 5
    assert summary["final_loss"] < steps[0]["loss"]


def test_run_json_matches_the_session_in_process(ran):
    records = [json.loads(line) for line in ran["json_a"].stdout.splitlines()]
    session = open_scenario("xor").session
    seen = []
    session.run(5, on_step=seen.append, replay=False)
    assert [r["loss"] for r in records[:-1]] == [m.loss for m in seen]  # bit for bit
    assert [r["grad_norm"] for r in records[:-1]] == [m.grad_norm for m in seen]
    loss, accuracy = session.evaluate()
    assert records[-1]["final_loss"] == loss and records[-1]["accuracy"] == float(accuracy)


def test_run_json_twice_is_byte_identical(ran):
    assert ran["json_a"].stdout == ran["json_b"].stdout
    assert ran["json_a"].stdout.count("\n") == 6


def test_run_json_of_a_diverging_scenario_reports_the_stops(ran):
    result = ran["diverges"]
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    summary = records[-1]
    # Step 7's loss is inf: the run stops after that phase. Six steps were completed,
    # one record each, and the summary counts those.
    assert [r["step"] for r in records[:-1]] == [1, 2, 3, 4, 5, 6]
    assert summary["steps"] == 6
    assert [(s["step"], s["phase"], s["reason"]) for s in summary["stops"]] == [
        (2, "step", "breakpoint"),
        (7, "loss", "nonfinite"),
    ]


def test_run_json_is_strict_json_even_when_the_loss_is_nan(ran):
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    for line in ran["diverges"].stdout.splitlines():
        json.loads(line, parse_constant=refuse)


# ------------------------------------------------------------------------ run, for people


def test_run_without_a_terminal_prints_a_summary(ran):
    result = ran["summary"]
    assert result.returncode == 0 and result.stderr == ""
    assert "\r" not in result.stdout  # no progress bar when stdout is not a terminal
    lines = result.stdout.splitlines()
    assert re.match(r"XOR with tanh: 300 steps in [\d.]+ s \([\d,]+ steps/s\)$", lines[0])
    assert re.match(r"  loss on all 200 samples: [\d.e-]+   accuracy: 100\.0%$", lines[1])
    assert lines[2].startswith("  step 34 after loss (breakpoint): Accuracy just reached 90%")


def test_run_refuses_zero_steps(ran):
    assert "--steps" in one_error_line(ran["run_zero_steps"])


# ------------------------------------------------------------------------ graph


def test_graph_dot_is_graphviz_source(ran):
    result = ran["dot"]
    assert result.returncode == 0 and result.stderr == ""
    dot = result.stdout
    assert dot.startswith('digraph "xor" {\n') and dot.endswith("}\n")
    assert dot.count("{") == dot.count("}")
    assert "MmBackward0" in dot and "W0" in dot and "AccumulateGrad" in dot
    declared = set(re.findall(r"^  (n\d+) \[label=", dot, flags=re.MULTILINE))
    edges = re.findall(r"^  (n\d+) -> (n\d+);$", dot, flags=re.MULTILINE)
    assert declared and edges
    assert all(a in declared and b in declared for a, b in edges)
    body = dot.splitlines()[1:-1]
    assert all(line.endswith(";") for line in body)


def test_graph_dot_labels_break_lines(ran):
    assert "\\\\n" not in ran["dot"].stdout  # DOT's line break is \n, not \\n


def test_graph_dot_names_each_node_and_gives_its_value_and_gradient(ran):
    dot = ran["dot"].stdout
    labels = re.findall(r'\[label="([^"]*)"', dot)
    assert any(label.startswith("#6 z0 = #5 + b0\\nAddBackward0 [200×4]") for label in labels)
    assert any(label.startswith("#18 loss = mean(#17)\\nMeanBackward0 []") for label in labels)
    assert all("‖∇‖" in label and "value" in label for label in labels)  # after backward


def test_graph_bare_dot_is_the_structure_alone(ran):
    result = ran["bare"]
    assert result.returncode == 0 and result.stderr == ""
    labels = re.findall(r'\[label="([^"]*)"', result.stdout)
    assert len(labels) == len(re.findall(r'\[label="', ran["dot"].stdout))
    assert not any("‖∇‖" in label or "value" in label or "=" in label for label in labels)
    assert not any(name in result.stdout for name in ("W0", "z0", "loss"))


def test_graph_text_is_the_tape_the_graph_pane_draws(ran):
    """The same text as the pane's tape with room for every column (tests/ui checks the
    pane against the session's graph)."""
    from mlp_tui.scenarios import open_scenario
    from mlp_tui.trace.graph import tape_layout

    result = ran["text"]
    assert result.returncode == 0 and result.stderr == ""
    session = open_scenario("xor").session
    for _ in range(4):
        report = session.next_phase()
    rows = tape_layout(report.graph.tape_lines())
    assert result.stdout.splitlines() == [row.text for row in rows]
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["#", "name", "=", "expression", "node", "shape", "‖∇‖"]
    assert lines[-1].split()[:5] == ["18", "loss", "=", "mean(#17)", "MeanBackward0"]
    leaves = [line.split()[1] for line in lines if "AccumulateGrad" in line]
    assert leaves == ["W0", "b0", "W1", "b1"]


def test_graph_of_a_typo_suggests_the_built_in(ran):
    line = one_error_line(ran["graph_typo"])
    assert "xr: no such file or built-in scenario (did you mean 'xor'?)" in line


# ------------------------------------------------------------------------ check


def test_check_a_bad_key_is_one_line_naming_file_and_key(ran):
    line = one_error_line(ran["check_bad"])
    assert line == (
        "mlp-tui: bad_key.toml: model.activaton: unknown key (did you mean 'activation'?);"
        " allowed: hidden, activation, init, mistake (see docs/scenarios.md#model)"
    )
    assert ran["check_bad"].stdout == ""


def test_check_reports_each_file_and_fails_if_any_is_bad(ran):
    result = ran["check_mixed"]
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stdout.startswith("ok  good.toml: Good (20 samples, 2-3-2 net,")
    line = one_error_line(result)
    assert line == (
        "mlp-tui: bad_csv.toml: data.path: row 3, column 'b': not a number: 'oops'"
        " (see docs/scenarios.md#data)"
    )


def test_run_a_missing_file_is_one_line(ran):
    line = one_error_line(ran["run_missing"])
    assert line.startswith("mlp-tui: no_such_file.toml: no such file or built-in scenario")
    assert ran["run_missing"].stdout == ""


# ------------------------------------------------------------------------ new


def test_new_writes_a_starter_that_passes_check(ran, work):
    made = ran["new"]
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("wrote starter.toml")
    text = (work / "starter.toml").read_text(encoding="utf-8")
    assert text.startswith("#") and "docs/scenarios.md" in text
    for section in ("[scenario]", "[data]", "[model]", "[loss]", "[optimizer]", "[training]"):
        assert section in text
    assert "[[breakpoints]]" in text
    checked = ran["new_check"]
    assert checked.returncode == 0 and checked.stderr == ""
    assert checked.stdout.startswith("ok  starter.toml: starter (200 samples, 2-16-16-2 net,")


def test_new_refuses_to_overwrite(ran, work):
    line = one_error_line(ran["new_again"])
    assert line == "mlp-tui: starter.toml: already exists"
    assert (work / "starter.toml").read_text(encoding="utf-8").startswith("# starter:")


def streaming_run(steps: int, cwd: Path) -> subprocess.Popen:
    """``mlp-tui run xor --json`` still running, its JSON Lines read as they come."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlp_tui", "run", "xor", "--steps", str(steps), "--json"],
        cwd=cwd,
        env=ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_console_script_is_installed_and_runs(tmp_path):
    """`mlp-tui` itself, the entry point the README's install puts beside the interpreter."""
    script = Path(sys.executable).with_name("mlp-tui")
    assert script.exists(), "install the package as the README says: pip install -e ."
    done = subprocess.run(
        [str(script), "list"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stderr == ""
    assert [line.split()[1] for line in done.stdout.splitlines()] == [s.name for s in course()]


def test_run_json_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    """`mlp-tui run xor --json | head -1`: no traceback when the reader closes the pipe."""
    process = streaming_run(100_000, tmp_path)
    first = json.loads(process.stdout.readline())
    assert first["step"] == 1
    process.stdout.close()  # what `head -1` does once it has its line
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 141  # 128 + SIGPIPE, as for any Unix tool
    assert stderr == ""


def test_ctrl_c_stops_a_run_at_a_step_end_and_still_prints_the_summary(tmp_path):
    process = streaming_run(10_000_000, tmp_path)
    # Well into training (the interrupt handler is in place); the run may be stopped right
    # after the 50th record or a few later, so every line read counts.
    first = [process.stdout.readline() for _ in range(50)]
    process.send_signal(signal.SIGINT)
    # Read on through the same buffered reader: communicate() would skip what it holds.
    rest, stderr = process.stdout.read(), process.stderr.read()
    process.wait(timeout=180)
    lines = [json.loads(line) for line in [*first, *rest.splitlines()]]
    summary = lines[-1]
    assert process.returncode == 130  # 128 + SIGINT
    assert stderr == ""
    assert summary["summary"] and summary["interrupted"]
    assert 50 <= summary["steps"] < 10_000_000
    assert lines[-2]["step"] == summary["steps"]  # the step in flight was finished, not cut
