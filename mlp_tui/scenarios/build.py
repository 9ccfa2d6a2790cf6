"""From a validated spec to a ready ``Session``: data, model, loss, optimizer, in that order.

Sizes are checked against the machine's limits before any tensor is allocated, and the
model is built right after seeding torch, so a seed always gives the same weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from mlp_tui.scenarios.datasets import Dataset, DatasetError, load_csv, make_dataset, standardize
from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
from mlp_tui.scenarios.spec import (
    MAX_DATA_VALUES,
    MAX_PARAMETERS,
    OPTIMIZERS,
    ScenarioError,
    ScenarioSpec,
)
from mlp_tui.scratch import (
    MLP,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from mlp_tui.session.session import Session

ACTIVATION_CLASSES = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}
LOSS_FUNCTIONS = {
    "mse": mse_loss,
    "cross_entropy": cross_entropy,
    "bce": binary_cross_entropy_with_logits,
}


@dataclass(frozen=True)
class Built:
    spec: ScenarioSpec
    data: Dataset  # as the model sees it (targets shaped for the loss)
    loss: str  # the loss actually used, after "" was resolved
    session: Session


def _correct_classes(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many rows' largest logit is the label: a count, so accuracy stays exact."""
    return (logits.argmax(dim=1) == y).sum()  # (batch, classes) vs (batch,) -> ()


def _correct_binary(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many logits fall on their label's side of 0."""
    return ((logits > 0).to(y.dtype) == y).sum()  # (batch, 1) vs (batch, 1) -> ()


def _csv_shape(path: Path) -> tuple[int, int]:
    """(rows, columns) of a CSV from its header and a count of lines: no parsing."""
    with path.open("rb") as f:
        columns = f.readline().count(b",") + 1
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return rows, columns


def check_sizes(spec: ScenarioSpec) -> None:
    """Refuse data or a model too large for this machine before anything is read or built.

    The model's input width is known up front (2 for the plane data sets, 1 for sine, the
    header for a CSV); its output is at least one unit, so the count is a lower bound."""
    d = spec.data
    if d.kind == "csv":
        if not d.path.is_file():
            return  # load_csv says so, naming the key
        rows, inputs = _csv_shape(d.path)
        values = rows * inputs
    else:
        inputs = 1 if d.kind == "sine" else 2
        values = d.samples * inputs
    if values > MAX_DATA_VALUES:
        raise ScenarioError(
            spec.path, "data", f"{values:,} values is more than {MAX_DATA_VALUES:,}"
        )
    count = parameter_count([inputs, *spec.model.hidden, 1])
    if count > MAX_PARAMETERS:
        raise ScenarioError(
            spec.path,
            "model.hidden",
            f"at least {count:,} parameters is more than this debugger's {MAX_PARAMETERS:,}",
        )


def load_data(spec: ScenarioSpec) -> Dataset:
    d = spec.data
    check_sizes(spec)
    try:
        if d.kind == "csv":
            data = load_csv(d.path, target=d.target, features=list(d.features or []) or None)
        else:
            data = make_dataset(
                d.kind, samples=d.samples, noise=d.noise, seed=d.seed, classes=d.classes
            )
    except DatasetError as err:
        raise ScenarioError(spec.path, err.key, str(err)) from None
    if data.x.numel() > MAX_DATA_VALUES:
        raise ScenarioError(
            spec.path, "data", f"{data.x.numel():,} values is more than {MAX_DATA_VALUES:,}"
        )
    return standardize(data) if d.standardize else data


def _resolve_loss(spec: ScenarioSpec, data: Dataset) -> str:
    loss = spec.loss or ("mse" if data.task == "regression" else "cross_entropy")
    if loss == "mse" and data.task != "regression":
        raise ScenarioError(
            spec.path, "loss.kind", "mse needs a numeric target; this data has classes"
        )
    if loss != "mse" and data.task == "regression":
        raise ScenarioError(
            spec.path, "loss.kind", f"{loss} needs classes; this data is regression"
        )
    if loss == "bce" and data.num_classes != 2:
        raise ScenarioError(
            spec.path, "loss.kind", f"bce needs 2 classes, the data has {data.num_classes}"
        )
    return loss


def parameter_count(dims: list[int]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(dims))


def build(spec: ScenarioSpec, history_bytes: int = 256 * 2**20) -> Built:
    """Data, model, loss and optimizer for a scenario, wrapped in a fresh ``Session``."""
    data = load_data(spec)
    loss = _resolve_loss(spec, data)
    if loss == "mse":  # a CSV's task is known only now: its breakpoints may not use accuracy
        for i, bp in enumerate(spec.breakpoints):
            if bp.condition is not None and bp.condition.metric == "accuracy":
                raise ScenarioError(
                    spec.path,
                    f"breakpoints[{i}].when",
                    "unknown metric 'accuracy' for a regression",
                )
    output_dim = 1 if loss == "bce" else data.output_dim
    dims = [data.input_dim, *spec.model.hidden, output_dim]
    if parameter_count(dims) > MAX_PARAMETERS:
        raise ScenarioError(
            spec.path,
            "model.hidden",
            f"{parameter_count(dims):,} parameters is more than this debugger's {MAX_PARAMETERS:,}",
        )
    y = data.y.float()[:, None] if loss == "bce" else data.y  # (samples, 1) targets in {0, 1}
    torch.manual_seed(spec.training.seed)
    activation = ACTIVATION_CLASSES[spec.model.activation]
    model = MLP(data.input_dim, list(spec.model.hidden), output_dim, activation, spec.model.init)
    if spec.model.mistake == "non_leaf":
        make_parameters_non_leaf(model)
    optimizer = OPTIMIZERS[spec.optimizer.kind](model.parameters(), **spec.optimizer.options)
    correct: Callable | None = {"cross_entropy": _correct_classes, "bce": _correct_binary}.get(loss)
    session = Session(
        model,
        LOSS_FUNCTIONS[loss],
        optimizer,
        data.x,
        y,
        batch_size=spec.training.batch_size,
        seed=spec.training.seed,
        zero_grad=spec.training.zero_grad,
        breakpoints=spec.breakpoints,
        correct=correct,
        end_step=spec.training.steps,
        history_bytes=history_bytes,
    )
    return Built(spec, data, loss, session)
