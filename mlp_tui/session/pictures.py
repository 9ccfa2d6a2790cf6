"""What a model computes over its input space, as data a plot draws: the decision boundary
of a classifier (predictions over a grid) or the fit ŷ(x) of a 1-D regression.

Data with more than two features is drawn as a slice: over the two features that tell the
classes apart best (``telling_features``), the others held at their mean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mlp_tui.session.report import Boundary, Fit

Model = Callable[[torch.Tensor], torch.Tensor]


def telling_features(x: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """The two features (in column order) whose class means lie furthest apart for their
    spread within the classes (Fisher's ratio, per feature): iris's petal length and width.
    ``x`` (samples, features), ``labels`` (samples,) class indices."""
    x = x.double()
    between = torch.zeros(x.shape[1], dtype=torch.float64)
    within = torch.zeros(x.shape[1], dtype=torch.float64)
    for k in labels.unique():
        rows = x[labels == k]  # (count, features)
        between += len(rows) * (rows.mean(dim=0) - x.mean(dim=0)) ** 2
        within += ((rows - rows.mean(dim=0)) ** 2).sum(dim=0)
    score = between / within.clamp_min(1e-12)  # (features,)
    first, second = score.topk(2).indices.tolist()
    return (first, second) if first < second else (second, first)


def fit(model: Model, x: torch.Tensor, y: torch.Tensor, points: int) -> Fit:
    """ŷ at ``points`` evenly spaced inputs over the data's range (5% wider each side);
    ``x`` (samples, 1), ``y`` (samples, 1)."""
    lo, hi = x.min().item(), x.max().item()
    pad = 0.05 * (hi - lo)
    xs = torch.linspace(lo - pad, hi + pad, max(points, 2))  # (points,)
    return Fit(xs, model(xs[:, None])[:, 0], x[:, 0], y[:, 0])


def boundary(
    model: Model,
    x: torch.Tensor,
    y: torch.Tensor,
    classification: bool,
    columns: int,
    rows: int,
    features: tuple[int, int] = (0, 1),
) -> Boundary:
    """The model's answer over a ``rows`` × ``columns`` grid spanning the data (10% wider
    each side) in the two ``features``; any other feature is held at its mean."""
    i, j = features
    lo, hi = x.min(dim=0).values, x.max(dim=0).values  # (features,), (features,)
    pad = 0.1 * (hi - lo)
    xs = torch.linspace(lo[i] - pad[i], hi[i] + pad[i], columns)
    ys = torch.linspace(lo[j] - pad[j], hi[j] + pad[j], rows)
    plane = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)  # (rows, cols, 2)
    grid = x.mean(dim=0).repeat(rows * columns, 1)  # (rows*cols, features)
    grid[:, i], grid[:, j] = plane[..., 0].reshape(-1), plane[..., 1].reshape(-1)
    out = model(grid)  # (rows*cols, outputs)
    if classification:
        values = out.argmax(dim=1) if out.shape[1] > 1 else (out[:, 0] > 0).long()
        labels = y.reshape(len(y), -1)[:, 0].long()
    else:
        values, labels = out[:, 0], y[:, 0]
    # The data never changes: a 2-D boundary shares it rather than copying it each time.
    points = x if x.shape[1] == 2 else x[:, [i, j]]
    grid_values = values.reshape(rows, columns)
    return Boundary(xs, ys, grid_values, points, labels, classification, features, x.shape[1])
