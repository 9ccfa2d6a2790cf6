"""The cached-skeleton capture and the retain_grad collector against the long way round.

Two identical networks train side by side, step by step: one captured the long way
(``capture_graph`` without a cache, a Python hook per node), the other from the skeleton
cache with ``retain_node_grads``. Their graphs must be equal in everything a pane shows.
"""

from __future__ import annotations

import gc
import math
import weakref

import pytest
import torch

from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
from mlp_tui.scratch import (
    MLP,
    SGD,
    Linear,
    ReLU,
    Tanh,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from mlp_tui.trace.graph import (
    Recorder,
    SkeletonCache,
    attach_grad_hooks,
    capture_graph,
    retain_node_grads,
)

FIELDS = (
    "id",
    "kind",
    "label",
    "stage",
    "shape",
    "inputs",
    "forward_order",
    "name",
    "saved",
    "no_grad_names",
    "leaf",
)


def _net(hidden=(4,), activation=Tanh, loss="mse", seed=0, n=16, in_dim=2, out_dim=1):
    torch.manual_seed(seed)
    model = MLP(in_dim, list(hidden), out_dim, activation, "xavier")
    g = torch.Generator().manual_seed(4321)
    x = torch.randn(n, in_dim, generator=g)
    if loss == "ce":
        y = torch.randint(0, out_dim, (n,), generator=g)
        loss_fn = cross_entropy
    elif loss == "bce":
        y = torch.randint(0, 2, (n, out_dim), generator=g).float()
        loss_fn = binary_cross_entropy_with_logits
    else:
        y = torch.randn(n, out_dim, generator=g)
        loss_fn = mse_loss
    return model, loss_fn, x, y


def _record(model, loss_fn, x, y):
    """Forward and loss under a recorder, staged and named the way the session does."""
    named = model.named_parameters()
    names = {id(p): n for n, p in named}
    recorder = Recorder(names | {id(x): "x", id(y): "y"})
    for name, p in named:
        if not p.is_leaf:
            recorder.adopt(p, name, "made before training, not a leaf")
    h, k = x, 0
    with recorder:
        for layer in model.layers:
            recorder.stage = f"{type(layer).__name__} {k}"
            h = layer(h)
            if isinstance(layer, Linear):
                recorder.name(h, f"z{k}")
            else:
                recorder.name(h, f"h{k}")
                k += 1
    recorder.name(h, "ŷ")
    with recorder:
        recorder.stage = "loss"
        loss = loss_fn(h, y)
    recorder.name(loss, "loss")
    storage = {p.data_ptr(): n for n, p in named} | {x.data_ptr(): "x", y.data_ptr(): "y"}
    return recorder, h, loss, names, storage


def assert_same_graph(a, b, grad_norm_rel: float = 0.0) -> None:
    """Equal in everything shown; ``grad_norm_rel``: how far a gradient's norm may differ
    (a retained gradient is a contiguous copy, and a norm's rounding follows the layout)."""
    assert len(a.nodes) == len(b.nodes)
    for m, n in zip(a.nodes, b.nodes, strict=True):
        where = (m.kind, m.label)
        for f in FIELDS:
            assert getattr(m, f) == getattr(n, f), (f, *where)
        for f in ("value", "grad"):
            u, v = getattr(m, f), getattr(n, f)
            assert (u is None) == (v is None), (f, *where)
            if u is not None:
                assert u.shape == v.shape and torch.equal(u, v), (f, *where)
        assert m.value_norm == n.value_norm or (
            math.isnan(m.value_norm) and math.isnan(n.value_norm)
        )
        assert (m.grad_norm is None) == (n.grad_norm is None), where
        if m.grad_norm is not None:
            assert m.grad_norm == pytest.approx(n.grad_norm, rel=grad_norm_rel, abs=0), where


def _train_side_by_side(steps: int, cache: SkeletonCache, forward_graph: bool = False, **net):
    """Three identical networks, step by step: captured the long way with a hook per node,
    from the skeleton with a hook per node, and from the skeleton with retained gradients.
    Returns the last graphs, the long way's and the skeleton's."""
    nets = [_net(**net) for _ in range(3)]
    optimizers = [SGD(model.parameters(), lr=0.1) for model, _, _, _ in nets]
    retain = not all(p.is_leaf for p in nets[0][0].parameters())
    for _ in range(steps):
        for optimizer in optimizers:
            optimizer.zero_grad()
        recorded = [_record(*parts) for parts in nets]
        caches = (None, cache, cache)
        if forward_graph:  # the graph after forward, under the prediction
            forward = [
                capture_graph(pred, r, names, storage, c)[0]
                for (r, pred, _, names, storage), c in zip(recorded, caches, strict=True)
            ]
            assert_same_graph(forward[0], forward[1])
            assert_same_graph(forward[0], forward[2])
        captured = [
            capture_graph(loss, r, names, storage, c)
            for (r, _, loss, names, storage), c in zip(recorded, caches, strict=True)
        ]
        graphs = [graph for graph, _ in captured]
        assert_same_graph(graphs[0], graphs[1])
        assert_same_graph(graphs[0], graphs[2])
        names = recorded[0][3]
        skip = {n.id for n in graphs[0].nodes if n.is_leaf and n.leaf in names.values()}
        grads = [
            attach_grad_hooks(captured[0][1], skip=skip),
            attach_grad_hooks(captured[1][1], skip=skip),
            retain_node_grads(captured[2][1], skip=skip),
        ]
        for _, _, loss, _, _ in recorded:
            loss.backward(retain_graph=retain)
        assert grads[0].keys() == grads[1].keys() == grads[2].keys()
        for i in grads[0]:
            assert torch.equal(grads[0][i], grads[1][i]), (i, graphs[0].nodes[i].kind)
            assert torch.equal(grads[0][i], grads[2][i]), (i, graphs[0].nodes[i].kind)
        graphs = [graph.with_grads(g) for graph, g in zip(graphs, grads, strict=True)]
        assert_same_graph(graphs[0], graphs[1])
        assert_same_graph(graphs[0], graphs[2], grad_norm_rel=1e-6)
        for optimizer in optimizers:
            optimizer.step()
    return graphs[0], graphs[1]


@pytest.mark.parametrize(
    "net",
    [
        {"hidden": (4,), "activation": Tanh, "loss": "mse"},
        {"hidden": (16, 16), "activation": Tanh, "loss": "bce"},
        {"hidden": (8, 8), "activation": ReLU, "loss": "ce", "in_dim": 5, "out_dim": 3},
    ],
    ids=["mse", "bce", "cross-entropy"],
)
def test_cached_capture_equals_the_uncached_one_over_several_steps(net):
    cache = SkeletonCache()
    g1, _ = _train_side_by_side(5, cache, forward_graph=True, **net)
    assert len(cache) == 2  # the forward graph's and the loss graph's
    assert (cache.misses, cache.hits) == (2, 2 * (2 * 5) - 2)  # each made once, then reused
    assert any(n.saved for n in g1.nodes)
    assert all(n.grad is not None for n in g1.nodes if not n.is_leaf)


def test_a_different_architecture_does_not_reuse_a_stale_skeleton():
    cache = SkeletonCache()
    _train_side_by_side(2, cache, hidden=(4,))  # two cached captures a step
    assert (cache.misses, cache.hits, len(cache)) == (1, 3, 1)
    # the same operations in the same order, with other shapes: a new skeleton
    g1, g2 = _train_side_by_side(2, cache, hidden=(8,))
    assert (cache.misses, cache.hits, len(cache)) == (2, 6, 2)
    assert _shapes(g2) == _shapes(g1) and (8,) in _shapes(g2)
    # other activations: other operations
    _train_side_by_side(2, cache, hidden=(8,), activation=ReLU)
    assert len(cache) == 3
    # other data shapes, other batch
    _train_side_by_side(2, cache, hidden=(8,), n=7)
    assert len(cache) == 4
    # another model of the same architecture: the skeleton fits it, values are its own
    g1, g2 = _train_side_by_side(2, cache, hidden=(8,), seed=3)
    assert (cache.misses, len(cache)) == (4, 4)
    assert_same_graph(g1, g2)


def _shapes(graph) -> set[tuple[int, ...]]:
    return {n.shape for n in graph.nodes}


def test_a_leaf_named_differently_is_not_taken_from_the_skeleton():
    """The leaves' names come from the ``names`` argument, which the signature does not
    see: a skeleton whose leaves no longer match is not used."""
    model, loss_fn, x, y = _net()
    cache = SkeletonCache()
    r, _, loss, names, storage = _record(model, loss_fn, x, y)
    capture_graph(loss, r, names, storage, cache)
    r, _, loss, names, storage = _record(model, loss_fn, x, y)
    renamed = {k: f"p_{v}" for k, v in names.items()}
    cached, _ = capture_graph(loss, r, renamed, storage, cache)
    r, _, loss, names, storage = _record(model, loss_fn, x, y)
    expected, _ = capture_graph(loss, r, renamed, storage)
    assert_same_graph(cached, expected)
    assert {n.leaf for n in cached.leaves()} == {"p_W0", "p_b0", "p_W1", "p_b1"}
    assert (cache.hits, cache.misses) == (0, 2)


def test_a_recording_with_an_adopted_tensor_is_not_cached_and_hooks_the_hidden_leaves():
    """Non-leaf parameters (the classic mistake) hang on a graph made once, outside the
    recording: their nodes have no output of this step to retain, so they get hooks."""
    m1, f1, x, y = _net()
    m2, f2, _, _ = _net()
    for m in (m1, m2):
        torch.manual_seed(1)  # the same hidden leaves in both
        make_parameters_non_leaf(m)
    cache = SkeletonCache()
    for _ in range(2):
        r1, _, loss1, names1, storage1 = _record(m1, f1, x, y)
        r2, _, loss2, names2, storage2 = _record(m2, f2, x, y)
        assert r2.signature(loss2) is None
        g1, live1 = capture_graph(loss1, r1, names1, storage1)
        g2, live2 = capture_graph(loss2, r2, names2, storage2, cache)
        assert_same_graph(g1, g2)
        grads1 = attach_grad_hooks(live1)
        grads2 = retain_node_grads(live2)
        loss1.backward(retain_graph=True)
        loss2.backward(retain_graph=True)
        assert grads1.keys() == grads2.keys() == set(range(len(g1.nodes)))
        for i in grads1:
            assert torch.equal(grads1[i], grads2[i]), g1.nodes[i].kind
    assert len(cache) == 0
    hidden = [n for n in g1.nodes if n.label == "hidden leaf"]
    assert hidden and all(n.id in grads2 for n in hidden)


def test_retained_gradients_do_not_keep_the_step_alive():
    """The root's hook must not hold the loss (which holds the root): the step's graph and
    tensors go when the caller drops them."""
    model, loss_fn, x, y = _net()
    cache = SkeletonCache()
    losses = []
    for _ in range(3):
        r, _, loss, names, storage = _record(model, loss_fn, x, y)
        graph, live = capture_graph(loss, r, names, storage, cache)
        grads = retain_node_grads(live)
        loss.backward()
        assert grads.keys() == set(range(len(graph.nodes)))
        losses.append(weakref.ref(loss))
        del r, loss, graph, live, grads
    gc.collect()
    assert all(ref() is None for ref in losses)


def test_the_cache_keeps_only_the_most_recent_skeletons():
    cache = SkeletonCache(size=2)
    for hidden in ((2,), (3,), (4,)):
        model, loss_fn, x, y = _net(hidden=hidden)
        r, _, loss, names, storage = _record(model, loss_fn, x, y)
        capture_graph(loss, r, names, storage, cache)
    assert len(cache) == 2
    model, loss_fn, x, y = _net(hidden=(2,))  # the oldest went: captured the long way again
    r, _, loss, names, storage = _record(model, loss_fn, x, y)
    capture_graph(loss, r, names, storage, cache)
    assert (cache.hits, cache.misses) == (0, 4) and len(cache) == 2


def test_a_changed_constant_or_keyword_gets_its_own_skeleton():
    """Constants and keyword arguments show in expressions and saved values: a loss whose
    constant changes between steps is captured anew, never with the old text."""
    model, _, x, y = _net()
    cache = SkeletonCache()
    for scale, low in ((0.5, 0.0), (0.25, 0.0), (0.25, -1.0), (0.5, 0.0)):

        def loss_fn(pred, target, scale=scale, low=low):
            return ((pred * scale).clamp(min=low) - target).pow(2).mean()

        r, _, loss, names, storage = _record(model, loss_fn, x, y)
        cached, _ = capture_graph(loss, r, names, storage, cache)
        r, _, loss, names, storage = _record(model, loss_fn, x, y)
        expected, _ = capture_graph(loss, r, names, storage)
        assert_same_graph(cached, expected)
        assert any(f"× {scale:g}" in n.label for n in cached.nodes)
    assert (cache.misses, cache.hits, len(cache)) == (3, 1, 3)
