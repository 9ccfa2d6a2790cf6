"""``mlp-tui new NAME``: a commented starter scenario that passes ``mlp-tui check`` as written.

The starter is a complete, working scenario (two moons, a small ReLU net, plain SGD) with
every section present and every other key shown commented out beside its default, so a
learner edits a file that runs instead of assembling one from the reference. The full
format is in docs/scenarios.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlp_tui.scenarios.spec import ScenarioError, os_problem

MAX_NAME_BYTES = 255  # the longest file name Linux, macOS and Windows file systems take

TEMPLATE = '''\
# {name}: a scenario for mlp-tui. Open it with `mlp-tui {file}`; check it with
# `mlp-tui check {file}`; train it headless with `mlp-tui run {file}`.
#
# A scenario is data, not code: TOML that says what to learn, with which net, how to train
# it, and where to stop and look. Every key is checked, and an unknown key is an error.
# Lines starting with # are comments; the commented-out keys show their defaults.
# The full reference, with every key and limit, is docs/scenarios.md.

[scenario]
title = "{title}"
summary = "One line for `mlp-tui list`: what this scenario shows."
# order = 1000      # position in a course (lower comes first)
lesson = """
Write the lesson here, in Markdown: what the data and the net are, which keys to press
(**n** next phase, **s** step, **c** run/pause, **b** back), where to look (the Graph,
.grad and Δ panes; the Loss, Tensor and Lesson tabs: **1**, **2**, **3**), what to
notice, and a question to think about.
"""

[data]
kind = "moons"      # xor | moons | circles | spiral | blobs | sine | csv
samples = 200       # how many points (1 to 1,000,000)
noise = 0.15        # standard deviation of the jitter (of the angle for spiral, of y for sine)
seed = 0            # the data's own seed
# classes = 3       # spiral and blobs only (2 to 100)
# standardize = false   # shift and scale each feature to mean 0, std 1
# test_fraction = 0.2   # hold a fifth of the rows out of training, to see how it generalises
#
# Data from a CSV file instead (path relative to this file):
# kind = "csv"
# path = "data/iris.csv"
# target = "species"          # the label column: names → classes, numbers → regression
# features = ["petal_length", "petal_width"]   # default: every other column
# standardize = true          # the default for CSV
# classes = ["setosa", "versicolor", "virginica"]   # names for a label column of 0, 1, 2

[model]
hidden = [16, 16]   # widths of the hidden layers; [] is a linear model
activation = "relu" # relu | tanh | sigmoid | leaky_relu | identity
init = "kaiming"    # reference (0.01 * randn) | xavier (for tanh, sigmoid) | kaiming (for relu)
# mistake = "none"  # "non_leaf" builds the parameters the wrong way, to show that bug

[loss]
# kind = ""         # mse | cross_entropy | bce; left out, it follows the data:
                    # mse for numbers, cross_entropy for classes

[optimizer]
kind = "sgd"        # sgd | rmsprop | adam | adamw; the other keys are its constructor's
lr = 0.2
# momentum = 0.0    # sgd and rmsprop
# weight_decay = 0.0
# betas = [0.9, 0.999]   # adam and adamw

[training]
steps = 300         # what `mlp-tui run` trains, and where the c key pauses (c again goes on)
batch_size = 0      # 0: the whole data set every step
seed = 0            # seeds the initial weights
zero_grad = true    # false: .grad accumulates across steps (the classic bug)

# Breakpoints stop a run so the learner can look. Each needs at least one of step, phase,
# when, nonfinite; all the parts given must hold. A `when` condition fires when it becomes
# true. Metrics: loss, accuracy, step, zeroed, grad_norm.W0, delta_norm.W0, update_ratio.W0,
# dead_fraction.h0 (parameters W0, b0, W1, ...; hidden layers h0, h1, ...).
[[breakpoints]]
when = "accuracy >= 0.9"
note = "90% accuracy. Press 1 to see the decision boundary in the Loss tab."

# [[breakpoints]]
# step = 1
# phase = "backward"  # zero_grad | forward | loss | backward | step
# note = "The first gradients: look at the .grad pane."
'''


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def write_template(path: Path) -> Path:
    """Write the starter scenario to ``path`` (``.toml`` added if missing) and return it.

    Refuses to overwrite: an existing file is a ``ScenarioError`` naming it.
    """
    path = Path(path)
    if not path.name or path.name in (".", "..") or path.name == ".toml":
        raise ScenarioError(path, "", "needs a file name, such as my_scenario")
    if "\0" in str(path):
        raise ScenarioError(path, "", "a file name cannot contain a NUL byte")
    if path.suffix != ".toml":
        path = path.with_name(path.name + ".toml")
    if len(os.fsencode(path.name)) > MAX_NAME_BYTES:
        raise ScenarioError(
            path, "", f"the file name is longer than {MAX_NAME_BYTES} bytes (with .toml)"
        )
    try:
        exists = path.exists()
    except OSError as err:
        raise ScenarioError(path, "", f"cannot write: {os_problem(err)}") from None
    if exists:
        raise ScenarioError(path, "", "already exists")
    name, file = _printable(path.stem), _printable(str(path))  # no newline into a comment
    title = name.replace("_", " ").replace("-", " ")
    title = title.replace("\\", "\\\\").replace('"', '\\"')  # a valid TOML basic string
    text = TEMPLATE.format(name=name, file=file, title=title)
    try:
        with path.open("x", encoding="utf-8") as f:  # "x": never clobber a file made meanwhile
            f.write(text)
    except FileExistsError:
        raise ScenarioError(path, "", "already exists") from None
    except OSError as err:
        raise ScenarioError(path, "", f"cannot write: {os_problem(err)}") from None
    return path
