"""Rewind on a learner's network: exact for a make() file and for module-level objects
within the history it copied (their optimizer's state found in its attributes), and a
plain message where the history does not reach."""

from __future__ import annotations

import pytest
import torch

from mlp_tui.learner import open_file
from mlp_tui.session.session import SessionError
from tests.learner.conftest import EXAMPLES


def values(report) -> list[torch.Tensor]:
    return [p.value for p in report.parameters]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", ["correct_net.py", "module_level_net.py"])
def test_back_then_forward_again_gives_the_same_numbers(name):
    session = open_file(EXAMPLES / name).session
    session.run(10)
    ten = values(session.report())
    eleven = values(session.step())
    for _ in range(10):  # two steps back, phase by phase
        session.back()
    assert session.report().step == 9 and session.report().phase == "step"
    session.step()
    assert same(values(session.report()), ten)
    assert same(values(session.step()), eleven)  # their velocities were put back too


def test_module_level_objects_say_where_the_history_ends():
    session = open_file(EXAMPLES / "module_level_net.py").session
    session.history.budget_bytes = 0  # keeps only the newest checkpoint
    session.run(20)
    session.step()
    with pytest.raises(SessionError, match="cannot go back to step 20: the history keeps"):
        for _ in range(10):
            session.back()


def test_the_module_level_optimizer_rule_is_unknown_and_says_so():
    report = open_file(EXAMPLES / "module_level_net.py").session.step()
    assert {d.rule for d in report.deltas} == {"rule of Momentum unknown"}
    assert all(d.follows_rule is None for d in report.deltas)


def test_a_rebuild_from_make_gives_the_first_state_again():
    built = open_file(EXAMPLES / "correct_net.py")
    first = values(built.session.report())
    built.session.run(5)
    again = built.rebuild()
    assert again is not None and again.session is not built.session
    assert same(values(again.session.report()), first)
    assert open_file(EXAMPLES / "module_level_net.py").rebuild() is None
