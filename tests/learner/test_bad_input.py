"""A file that does not fit: one line naming the file and what is missing, exit status 2;
their own traceback (their frames only) when their code raised."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlp_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]

GOOD_PARTS = """
import torch
class Lin:
    def __init__(self):
        self.W = torch.zeros(2, 2).requires_grad_()
    def __call__(self, x):
        return x @ self.W
    def parameters(self):
        return [self.W]
class Opt:
    def __init__(self, params):
        self.params = params
    def zero_grad(self):
        pass
    def step(self):
        pass
x = torch.randn(8, 2)
y = torch.randint(0, 2, (8,))
def loss_fn(pred, target):
    return pred.logsumexp(1).mean()
"""


def run_debug(capsys, path: Path) -> tuple[int, list[str]]:
    status = main(["debug", str(path), "--run", "--steps", "1"])
    return status, capsys.readouterr().err.splitlines()


def test_a_missing_file(capsys, tmp_path):
    status, err = run_debug(capsys, tmp_path / "nope.py")
    assert status == 2 and err == [f"mlp-tui: {tmp_path / 'nope.py'}: no such file"]


def test_a_syntax_error_names_the_line(capsys, write):
    path = write("broken.py", "import torch\nmodel = (\n")
    status, err = run_debug(capsys, path)
    assert status == 2 and len(err) == 1
    assert err[0].startswith(f"mlp-tui: {path}:2: syntax error")


def test_raising_while_loading_shows_their_frames_only(capsys, write):
    path = write(
        "raises.py",
        """
        def helper():
            return 1 / 0

        value = helper()
        """,
    )
    status, err = run_debug(capsys, path)
    assert status == 2
    assert err[0] == f"mlp-tui: {path}: raised while loading: ZeroDivisionError: division by zero"
    trace = "\n".join(err[1:])
    assert f'File "{path}", line 5, in <module>' in trace
    assert f'File "{path}", line 3, in helper' in trace
    assert "mlp_tui" not in trace and "importlib" not in trace


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        (
            "del loss_fn\nmodel = Lin()\noptimizer = Opt([model.W])\ndata = (x, y)\n",
            "no `loss_fn` defined",
        ),
        ("loss_fn = None\n", "no `model`, `loss_fn`, `optimizer`, `data` defined"),
        (
            "model = 3\noptimizer = Opt([])\ndata = (x, y)\n",
            "model is a int, not callable",
        ),
        (
            "model = Lin()\noptimizer = object()\ndata = (x, y)\n",
            "optimizer (object) has no zero_grad() method",
        ),
        (
            "model = Lin()\noptimizer = Opt([model.W])\ndata = (x, y[:3])\n",
            "data's x has 8 rows and y has 3",
        ),
        (
            "model = Lin()\noptimizer = Opt([model.W])\ndata = x\n",
            "data must be (x, y) tensors or a function returning them",
        ),
        (
            "model = Lin()\nloss_fn = 'mse'\noptimizer = Opt([model.W])\ndata = (x, y)\n",
            "loss_fn is a str, not callable",
        ),
    ],
)
def test_a_misfit_is_one_line_naming_the_file_and_what_is_missing(capsys, write, tail, says):
    path = write("net.py", GOOD_PARTS + tail)
    status, err = run_debug(capsys, path)
    assert status == 2 and len(err) == 1
    assert err[0].startswith(f"mlp-tui: {path}: ") and says in err[0]


def test_make_raising_shows_their_frames(capsys, write):
    path = write("net.py", GOOD_PARTS + "def make():\n    return build_it()\n")
    status, err = run_debug(capsys, path)
    assert status == 2
    assert err[0] == f"mlp-tui: {path}: make() raised: NameError: name 'build_it' is not defined"
    assert f'File "{path}"' in err[1]


def test_a_bad_breakpoint_and_accuracy_without_classes(capsys, write):
    path = write(
        "net.py",
        GOOD_PARTS.replace("torch.randint(0, 2, (8,))", "torch.randn(8, 2)")
        + "model = Lin()\noptimizer = Opt([model.W])\ndata = (x, y)\n",
    )
    assert main(["debug", str(path), "--break", "loss <", "--run"]) == 2
    assert capsys.readouterr().err.startswith("mlp-tui: --break: cannot read condition")
    assert main(["debug", str(path), "--break", "accuracy >= 0.9", "--run"]) == 2
    assert "accuracy needs class labels" in capsys.readouterr().err


def test_the_command_exits_2_from_a_shell(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "debug", str(tmp_path / "missing.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == f"mlp-tui: {tmp_path / 'missing.py'}: no such file\n"
