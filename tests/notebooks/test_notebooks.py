"""Every demo notebook runs end to end (nbclient) and shows what it should.

Each notebook ends with cells tagged ``check`` that assert on its results
(frames' shapes and values, files on disk); this test also checks the saved
outputs: the rich displays (widget + HTML fallback) and the widgets' state.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"


def execute(name: str, tmp_path: Path, env: dict[str, str] | None = None):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    old = dict(os.environ)
    os.environ["XPM_NB_WORKSPACE"] = str(tmp_path / "workspace")
    os.environ.update(env or {})
    try:
        client = nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", store_widget_state=True,
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def outputs(nb, source_start: str) -> list[dict]:
    """The outputs of the code cell whose source starts with ``source_start``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(source_start):
            return cell.outputs
    raise AssertionError(f"no cell starting with {source_start!r}")


def rich(nb, source_start: str) -> dict:
    results = [o for o in outputs(nb, source_start) if o.output_type == "execute_result"]
    assert results, f"cell {source_start!r} displayed nothing"
    return results[-1]["data"]


def widget_states(nb) -> list[dict]:
    state = nb.metadata.get("widgets", {}).get(STATE_MIME, {}).get("state", {})
    return [m["state"] for m in state.values()]


def check_cells_ran(nb) -> None:
    checks = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert checks, "the notebook has no check cell"
    for cell in checks:
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"]


def test_01_quickstart(tmp_path):
    nb = execute("01-quickstart.ipynb", tmp_path)
    check_cells_ran(nb)
    tree = rich(nb, "fit = Fit.C(")
    assert WIDGET_MIME in tree  # the live config view
    assert "degree" in tree["text/html"] and "identifier" in tree["text/plain"]
    frame = rich(nb, "df = xpm_nb.results(xp)")
    assert "<table" in frame["text/html"] and "mse" in frame["text/html"]
    # The job's view, shown after `await fit`, holds its final state.
    jobs = [s["job"] for s in widget_states(nb) if s.get("job")]
    assert jobs and jobs[-1]["state"] == "done", jobs


def test_02_grid_and_analysis(tmp_path):
    nb = execute("02-grid-and-analysis.ipynb", tmp_path)
    check_cells_ran(nb)
    plots = [o for o in outputs(nb, "ax = summary.plot") if "image/png" in o.get("data", {})]
    assert plots, "the plot was not rendered"
    views = [s for s in widget_states(nb) if s.get("name") == "grid"]
    assert views and views[-1]["counts"].get("done") == 20, views[-1]["counts"]


def test_03_resumable_and_failures(tmp_path):
    nb = execute("03-resumable-and-failures.ipynb", tmp_path)
    check_cells_ran(nb)
    job_view = rich(nb, "failed = bad.__xpm__.job")
    assert "ZeroDivisionError" in job_view["text/html"]
    printed = "".join(o.get("text", "") for o in outputs(nb, "print(failed.failure_reason)"))
    assert "cannot divide 1.0 by zero" in printed


def test_04_clusters(tmp_path, slurm_cluster, sshd_running):
    """Against the test cluster and sshd (started by the fixtures): every part runs."""
    from infra.sshd import HOST_ALIAS

    remote = tmp_path / "remote-workspace"
    remote.mkdir()
    nb = execute("04-clusters.ipynb", tmp_path, env={
        "SLURM_CONF": str(slurm_cluster.conf_path),
        "XPM_NB_SSH_HOST": HOST_ALIAS,
        "XPM_NB_SSH_CONFIG": str(sshd_running.ssh_config),
        "XPM_NB_SSH_WORKSPACE": str(remote),
    })
    check_cells_ran(nb)
    printed = "".join(o.get("text", "") for o in outputs(nb, "print(ran)"))
    assert "'finder': True, 'slurm': True, 'ssh': True" in printed
    assert list(remote.glob("jobs/__main__.square/*/square.done"))  # ran over there
