"""tensor_stats / norms against torch's own reductions, computed one tensor at a time."""

from __future__ import annotations

import math

import pytest
import torch

from mlp_tui.trace.stats import dead_fraction, norms, saturated_fraction, tensor_stats

NAN, INF = math.nan, math.inf


def _same(actual: float, expected: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    """Equal as numbers, with NaN equal to NaN and infinities equal only to themselves."""
    if math.isnan(expected):
        return math.isnan(actual)
    if math.isinf(expected):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_)


def _torch_stats(t: torch.Tensor) -> dict[str, float]:
    """What torch says about a non-empty tensor, each figure by its own reduction."""
    d = t.detach().to(torch.float64).reshape(-1)
    return {
        "numel": d.numel(),
        "norm": torch.linalg.vector_norm(d).item(),
        "mean": d.mean().item(),
        "std": d.std(correction=0).item(),
        "min": d.min().item(),
        "max": d.max().item(),
        "zero_fraction": (d == 0).to(torch.float64).mean().item(),
        "nonfinite": int((~d.isfinite()).sum().item()),
    }


def _check(stats, t: torch.Tensor, rel: float = 1e-9) -> None:
    expected = _torch_stats(t)
    assert stats.numel == expected["numel"]
    assert stats.nonfinite == expected["nonfinite"]
    assert stats.finite == (expected["nonfinite"] == 0)
    for key in ("norm", "mean", "std", "min", "max", "zero_fraction"):
        assert _same(getattr(stats, key), expected[key], rel=rel), (
            key,
            getattr(stats, key),
            expected[key],
        )


def _tensors() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    with_zeros = torch.randn(6, 5, generator=g)
    with_zeros[with_zeros.abs() < 0.5] = 0.0
    return [
        torch.randn(3, 4, generator=g),  # a weight
        torch.tensor([0.25]),  # a one-element bias
        torch.zeros(5),  # all zeros
        with_zeros,  # some zeros
        torch.randn(2, 3, 4, generator=g, dtype=torch.float64),  # 3-d, float64
        torch.full((7,), -3.5),  # constant: std exactly 0
        torch.tensor([1.0, NAN, INF, -INF, 0.0, 2.0]),  # NaN and both infinities
        torch.tensor([1.0, INF, 2.0]),  # +inf only: mean inf, std NaN
        torch.tensor([-INF, 3.0]),  # -inf only
        torch.tensor([NAN]),
        torch.arange(10, dtype=torch.float32).reshape(2, 5),
    ]


def test_each_tensor_matches_torch_reductions():
    tensors = _tensors()
    stats = tensor_stats(tensors)
    assert len(stats) == len(tensors)
    for s, t in zip(stats, tensors, strict=True):
        _check(s, t)


def test_each_tensor_alone_gives_the_same_figures_as_in_a_batch():
    tensors = _tensors()
    together = tensor_stats(tensors)
    for s, t in zip(together, tensors, strict=True):
        (alone,) = tensor_stats([t])
        _check(alone, t)
        for key in ("norm", "mean", "std", "min", "max", "zero_fraction"):
            assert _same(getattr(alone, key), getattr(s, key)), key


@pytest.mark.filterwarnings("ignore:std\\(\\)")
def test_one_element_bias_has_std_zero_not_nan():
    (s,) = tensor_stats([torch.tensor([0.7])])
    assert s.std == 0.0
    assert not math.isnan(s.std)
    assert s.mean == pytest.approx(0.7)
    assert s.norm == pytest.approx(0.7)
    # torch.std with the default (Bessel) correction would be NaN here
    assert math.isnan(torch.tensor([0.7]).std().item())


def test_nan_and_inf_are_counted():
    t = torch.tensor([[1.0, NAN], [INF, -INF], [0.0, 0.0]])
    (s,) = tensor_stats([t])
    assert s.nonfinite == 3
    assert not s.finite
    assert s.numel == 6
    assert s.zero_fraction == pytest.approx(2 / 6)
    assert math.isnan(s.norm) and math.isnan(s.mean) and math.isnan(s.std)


@pytest.mark.filterwarnings("ignore:std\\(\\)")
@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0)])
def test_empty_tensor_does_not_disturb_its_neighbours(shape):
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, generator=g), torch.randn(2, 3, generator=g)
    empty = torch.empty(shape)
    sa, se, sb = tensor_stats([a, empty, b])
    _check(sa, a)
    _check(sb, b)
    assert se.numel == 0
    assert se.norm == 0.0 == torch.linalg.vector_norm(empty).item()
    assert se.nonfinite == 0
    assert se.finite
    assert math.isnan(se.mean) and math.isnan(empty.mean().item())
    assert math.isnan(se.std) and math.isnan(empty.std(correction=0).item())
    assert se.zero_fraction == 0.0 or math.isnan(se.zero_fraction)


def test_only_empty_tensors_and_no_tensors():
    (s,) = tensor_stats([torch.empty(0)])
    assert s.numel == 0 and s.norm == 0.0 and s.nonfinite == 0
    assert tensor_stats([]) == []


def test_integer_and_bool_tensors_are_described_as_numbers():
    ints = torch.tensor([0, 3, -4, 0])
    (s,) = tensor_stats([ints])
    _check(s, ints)
    assert s.norm == 5.0
    assert s.zero_fraction == 0.5


@pytest.mark.parametrize(
    ("offset", "spread", "dtype"),
    [
        (1e4, 1e-2, torch.float32),  # activations/weights far from 0 with a small spread
        (1e8, 1.0, torch.float64),
    ],
)
def test_std_is_accurate_far_from_zero(offset, spread, dtype):
    """The population std of values with a large common offset: E[x²] − E[x]² cancels
    catastrophically; torch (two-pass/Welford) does not."""
    g = torch.Generator().manual_seed(11)
    t = (offset + spread * torch.randn(1000, generator=g, dtype=torch.float64)).to(dtype)
    (s,) = tensor_stats([t])
    expected = t.to(torch.float64).std(correction=0).item()
    assert s.std == pytest.approx(expected, rel=1e-6)


def test_norms_match_vector_norm():
    g = torch.Generator().manual_seed(5)
    tensors = [torch.randn(3, 4, generator=g), torch.tensor([-2.0]), torch.zeros(6)]
    out = norms(tensors)
    expected = [torch.linalg.vector_norm(t.double()).item() for t in tensors]
    assert out == pytest.approx(expected, rel=1e-6)  # taken in float32
    assert out[1] == 2.0 and out[2] == 0.0
    assert norms([]) == []


def test_a_float32_norm_that_overflows_is_taken_again_in_float64():
    big = torch.full((4,), 3e38)  # every element finite; the sum of squares is not, in float32
    assert torch.linalg.vector_norm(big).item() == INF
    assert norms([big]) == pytest.approx([6e38], rel=1e-6)


def test_norms_do_not_track_gradients():
    w = torch.randn(3, 3, requires_grad=True)
    out = norms([w * 2])
    assert isinstance(out[0], float)
    assert out[0] == pytest.approx(2 * torch.linalg.vector_norm(w).item(), rel=1e-6)


def test_norms_of_nonfinite_tensors():
    out = norms([torch.tensor([1.0, INF]), torch.tensor([NAN, 1.0])])
    assert out[0] == INF
    assert math.isnan(out[1])


def test_dead_and_saturated_fraction():
    h = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert dead_fraction(h) == pytest.approx(2 / 4)  # columns 0 and 3 are zero everywhere
    t = torch.tensor([[-1.0, 0.0], [0.999, 0.5]])
    assert saturated_fraction(t, -1.0, 1.0) == pytest.approx(2 / 4)
