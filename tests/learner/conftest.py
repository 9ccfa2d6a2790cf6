"""Learner files: the examples shipped in examples/, and small ones written per test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def write(tmp_path):
    """``write(name, source) -> path``: a learner's file, dedented, in a fresh folder."""

    def make(name: str, source: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return make
