"""The README's tour, run as its cells in a real kernel, with one failed run in the grid.

A grid with a few failed runs is normal: ``await xp`` must not stop the
analysis cell, and the failed run is a row of the frame with its state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.kernel import real_kernel

pytest.importorskip("jupyter_client")

README = Path(__file__).resolve().parents[2] / "README.md"


def _tour_cells() -> list[str]:
    text = README.read_text()
    section = text[text.index("## A short tour"):]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return blocks[:2]  # the grid, then the analysis


def test_tour_analysis_cell_runs_with_a_failed_run(tmp_path):
    grid, analysis = _tour_cells()
    assert "await xp" in analysis and "results(xp)" in analysis
    failing = """
class Diverging(Train):
    def execute(self):
        raise FloatingPointError("loss is nan")

Diverging.C(model=Model.C(hidden=128), lr=0.1).tag("hidden", 128).tag("lr", 0.1).submit()
"""
    # The analysis cell as written; its last expression's value is printed after it.
    *body, last = analysis.strip().splitlines()
    analysis_cell = "\n".join([*body, f"_last = {last}"])
    report = """
import json
print("REPORT", json.dumps({"min_loss": {int(k): v for k, v in _last.items()},
                            "states": df["state"].value_counts().to_dict(),
                            "failed": xp.failed}))
"""
    with real_kernel(tmp_path) as kernel:
        kernel.run(grid)
        kernel.run(failing)
        out = kernel.run(analysis_cell)  # fails the test if the cell raises
        report_out = kernel.run(report)
        kernel.run("xp.close()")
    assert "loss is nan" in out and "diverging.err" in out  # the failure, with its log
    data = json.loads(report_out.split("REPORT", 1)[1])
    assert data["failed"] is True
    assert data["states"] == {"done": 4, "error": 1}
    assert set(data["min_loss"]) == {"32", "64", "128"}
    assert all(data["min_loss"][str(h)] > 0 for h in (32, 64))
