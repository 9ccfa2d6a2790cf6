"""A Session over a seeded problem (the `problem` fixture in tests/conftest.py)."""

from __future__ import annotations

import pytest

from mlp_tui.scratch import SGD, mse_loss
from mlp_tui.session.session import Session


@pytest.fixture
def session_for():
    """``session_for(model, x, y, optimizer=..., **session_kwargs) -> Session``."""

    def make(model, x, y, *, optimizer=None, **kwargs) -> Session:
        optimizer = optimizer or SGD(model.parameters(), lr=0.1)
        return Session(model, mse_loss, optimizer, x, y, **kwargs)

    return make
