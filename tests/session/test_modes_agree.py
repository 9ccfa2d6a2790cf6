"""The property behind "one truth": driving the same steps phase by phase (``n``), step by
step (``s``), or in runs (``c``, ``mlp-tui run``) gives the same parameters bit for bit and
the same stops (step, phase, reason), and so does a session that changes lr and zero_grad
at phase boundaries and goes back and forth, against one that makes the same changes
without ever going back.

Checked on every built-in scenario and on 200 small generated ones, seeded, including
learning rates that blow up.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from mlp_tui.scenarios import build, builtin_names, load, open_scenario
from mlp_tui.session.session import Session

RANDOM_SCENARIOS = 200
STEPS_BUILT_IN = 14
STEPS_GENERATED = 8


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # the non-leaf lesson reads .grad of non-leaves
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------------ the drivers


def _stop(report) -> tuple | None:
    s = report.stop
    return None if s is None else (report.step, str(report.phase), s.reason, s.message)


def by_phase(session: Session, steps: int) -> list:
    stops = []
    while session.completed_steps < steps:
        stops.append(_stop(session.next_phase()))
    return [s for s in stops if s]


def by_step(session: Session, steps: int) -> list:
    stops = []
    while session.completed_steps < steps:
        stops.append(_stop(session.step()))
    return [s for s in stops if s]


def by_run(session: Session, steps: int, streaming: bool = False, replay: bool = False) -> list:
    stops = []
    on_step = (lambda m: None) if streaming else None
    while session.completed_steps < steps:
        todo = steps - session.completed_steps
        stops.append(_stop(session.run(todo, on_step=on_step, replay=replay)))
    return [s for s in stops if s]


def by_mixture(session: Session, steps: int, rng: random.Random) -> list:
    """n, s and short runs in random turns, as a learner's hands would."""
    stops = []
    while session.completed_steps < steps:
        pick = rng.random()
        if pick < 0.4:
            report = session.next_phase()
        elif pick < 0.7:
            report = session.step()
        else:
            todo = min(rng.randint(1, 3), steps - session.completed_steps)
            report = session.run(todo, replay=rng.random() < 0.5)
        stops.append(_stop(report))
    return [s for s in stops if s]


DRIVERS: dict[str, Callable] = {
    "run (c)": by_run,
    "n": by_phase,
    "s": by_step,
    "run streaming (mlp-tui run)": lambda s, n: by_run(s, n, streaming=True),
    "run with replay": lambda s, n: by_run(s, n, replay=True),
}


def outcome(session: Session) -> tuple:
    return (
        [p.detach().clone() for p in session.params],
        [
            {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in st.items()}
            for st in session.optimizer.state
        ],
        list(session.losses),
    )


def bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's bit pattern: equal bits are equal values, NaN and inf included."""
    kind = {torch.float32: torch.int32, torch.float64: torch.int64}.get(t.dtype)
    return t if kind is None else t.contiguous().view(kind)


def same(x: torch.Tensor, y: torch.Tensor) -> bool:
    return x.shape == y.shape and x.dtype == y.dtype and torch.equal(bits(x), bits(y))


def assert_same(a: tuple, b: tuple, where: str) -> None:
    (pa, sa, la), (pb, sb, lb) = a, b
    assert all(same(x, y) for x, y in zip(pa, pb, strict=True)), where
    assert len(sa) == len(sb), where
    for x, y in zip(sa, sb, strict=True):
        assert x.keys() == y.keys(), where
        for k in x:
            if isinstance(x[k], torch.Tensor):
                assert same(x[k], y[k]), (where, k)
            else:
                assert x[k] == y[k], (where, k)
    assert la == lb or all(  # NaN losses compare unequal to themselves
        x == y or (x != x and y != y) for x, y in zip(la, lb, strict=True)
    ), where


def check_modes_agree(make: Callable[[], Session], steps: int, seed: int) -> None:
    reference = make()
    expected_stops = by_run(reference, steps)
    expected = outcome(reference)
    for name, drive in DRIVERS.items():
        session = make()
        assert drive(session, steps) == expected_stops, name
        assert_same(outcome(session), expected, name)
    session = make()
    assert by_mixture(session, steps, random.Random(seed)) == expected_stops, "mixture"
    assert_same(outcome(session), expected, "mixture")


# ------------------------------------------------------------------ switches and rewinds


def check_rewinds_are_exact(make: Callable[[], Session], steps: int, seed: int) -> None:
    """Set lr and zero_grad at random phase boundaries; one session also goes back 1 to 3
    phases now and then (and re-sets the same switches when it reaches a boundary again,
    as a learner repeating their keys would). Both end identical, and each boundary shows
    the same stop, however often it was reached."""
    rng = random.Random(seed)
    total = 5 * steps
    schedule: dict[int, list] = {}
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(total)
        change = ("lr", rng.choice([0.0, 1e-3, 0.05, 0.3, 2.0])) if rng.random() < 0.6 else None
        schedule.setdefault(at, []).append(change or ("zero_grad", rng.random() < 0.5))

    def apply(session: Session) -> None:
        for key, value in schedule.get(session._clock(), []):
            if key == "lr":
                session.lr = value
            else:
                session.zero_grad_enabled = value

    straight, wandering = make(), make()
    straight_stops: dict[int, tuple | None] = {}
    while straight._clock() < total:
        apply(straight)
        report = straight.next_phase()
        straight_stops[straight._clock()] = _stop(report)
    wandering_stops: dict[int, tuple | None] = {}
    while wandering._clock() < total:
        apply(wandering)
        if wandering._clock() > 0 and rng.random() < 0.25:
            for _ in range(rng.randint(1, min(3, wandering._clock()))):
                wandering.back()
            continue
        report = wandering.next_phase()
        wandering_stops[wandering._clock()] = _stop(report)
    assert wandering_stops == straight_stops
    assert_same(outcome(wandering), outcome(straight), "after rewinds")
    assert (wandering.lr, wandering.zero_grad_enabled) == (straight.lr, straight.zero_grad_enabled)


# ------------------------------------------------------------------ the scenarios


@pytest.mark.parametrize("name", sorted(builtin_names()))
def test_every_built_in_scenario_stops_alike_in_every_mode(name):
    def make() -> Session:
        session = open_scenario(name).session
        session.end_step = STEPS_BUILT_IN // 2  # the pause at the end of the steps, too
        return session

    check_modes_agree(make, STEPS_BUILT_IN, seed=len(name))
    check_rewinds_are_exact(make, 4, seed=len(name))


def generated_toml(rng: random.Random) -> str:
    """A small random scenario: data, net, optimizer, learning rates that may blow up,
    batches, zero_grad off, and breakpoints of every kind."""
    kind = rng.choice(["xor", "moons", "circles", "spiral", "blobs", "sine"])
    regression = kind == "sine"
    hidden = rng.choice([[], [3], [4], [4, 3]])
    optimizer = rng.choice(
        [
            'kind = "sgd"',
            'kind = "sgd"\nmomentum = 0.9',
            'kind = "sgd"\nmomentum = 0.5\nnesterov = true',
            'kind = "adam"',
            'kind = "adamw"\nweight_decay = 0.1',
            'kind = "rmsprop"',
            'kind = "rmsprop"\nmomentum = 0.5\ncentered = true',
        ]
    )
    lr = rng.choice([1e-3, 0.05, 0.5, 3.0, 1e4, 1e30, 1e39])
    steps = STEPS_GENERATED - rng.randint(0, 3)
    conditions = ["loss < 0.6", "loss > 1", f"grad_norm.W0 > {rng.choice([0.01, 0.5])}"]
    conditions += ["update_ratio.W0 > 0.05", "delta_norm.b0 < 1e-4", "zeroed == 0"]
    if hidden:
        conditions.append("dead_fraction.h0 >= 0.25")
    if not regression:
        conditions += [f"accuracy >= {rng.choice([0.5, 0.6, 0.75, 0.9])}"]
    breakpoints = []
    for _ in range(rng.randint(0, 3)):
        parts = []
        if rng.random() < 0.3:
            parts.append(f"step = {rng.randint(1, steps)}")
        if rng.random() < 0.3:
            phase = rng.choice(["zero_grad", "forward", "loss", "backward", "step"])
            parts.append(f'phase = "{phase}"')
        if rng.random() < 0.7 or not parts:
            parts.append(f'when = "{rng.choice(conditions)}"')
        if rng.random() < 0.15:
            parts.append("nonfinite = true")
        breakpoints.append("[[breakpoints]]\n" + "\n".join(parts))
    return "\n".join(
        [
            '[scenario]\ntitle = "generated"',
            f'[data]\nkind = "{kind}"\nsamples = {rng.choice([12, 24, 40])}\nseed = {rng.randint(0, 9)}',
            f"[model]\nhidden = {hidden}\n"
            f'activation = "{rng.choice(["relu", "tanh", "sigmoid", "leaky_relu"])}"',
            f"[optimizer]\n{optimizer}\nlr = {lr}",
            f"[training]\nsteps = {steps}\nbatch_size = {rng.choice([0, 0, 5, 8])}\n"
            f"seed = {rng.randint(0, 9)}\nzero_grad = {str(rng.random() < 0.8).lower()}",
            *breakpoints,
        ]
    )


def test_generated_scenarios_stop_alike_in_every_mode_and_rewind_exactly(tmp_path: Path):
    blown_up = stopped = 0
    for i in range(RANDOM_SCENARIOS):
        rng = random.Random(i)
        path = tmp_path / f"generated-{i}.toml"
        path.write_text(generated_toml(rng), encoding="utf-8")
        spec = load(path)

        def make(spec=spec) -> Session:
            return build(spec, history_bytes=1 << 20).session

        try:
            check_modes_agree(make, STEPS_GENERATED, seed=i)
            check_rewinds_are_exact(make, 3, seed=i)
        except AssertionError as err:
            raise AssertionError(f"{path.read_text()}\n---\n{err}") from err
        finished = make()
        stops = by_run(finished, STEPS_GENERATED)
        blown_up += any(s[2] == "nonfinite" for s in stops)
        stopped += any(s[2] == "breakpoint" for s in stops)
    # The generator covers what it means to: divergence, and breakpoints that fire.
    assert blown_up >= 20 and stopped >= 40, (blown_up, stopped)
