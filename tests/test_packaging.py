"""A wheel of the project carries what an installed mlp-tui needs besides code."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from mlp_tui.scenarios.library import builtin_paths

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_scenarios_their_data_the_stylesheet_and_the_page(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mlp_tui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for scenario in builtin_paths():
        assert f"mlp_tui/scenarios/library/{scenario.name}" in names
    assert "mlp_tui/scenarios/library/data/iris.csv" in names
    assert "mlp_tui/ui/app.tcss" in names
    assert "mlp_tui/web/templates/app_index.html" in names  # mlp-tui serve's offline page
    assert any(n.endswith("entry_points.txt") for n in names)
