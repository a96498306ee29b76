"""Every demo notebook, run twice from JupyterLab's menus as a person would.

The notebooks are copied into one folder of the server (so their
``workspace`` folder is shared by the two runs: the second run finds the jobs
done). For each: open it (from the file browser, or by URL), Run > Run All
Cells, check that every code cell ran and no cell shows an error, File > Save
(the file on disk then holds the outputs), Kernel > Restart Kernel… and run
all again. ``04-clusters`` runs against the test SLURM cluster and sshd, as
``tests/notebooks/test_notebooks.py`` does.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.jupyterlab import ROOT, JupyterLabServer
from support.labserver import open_ui, start_lab
from support.labui import LabUI, output_text

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def nb_server(tmp_path_factory: pytest.TempPathFactory, slurm_cluster, sshd_server
              ) -> Iterator[JupyterLabServer]:
    """One JupyterLab for the module; its kernels see the test cluster and sshd."""
    from infra.sshd import HOST_ALIAS

    base = tmp_path_factory.mktemp("lab-notebooks")
    remote = base / "remote-workspace"
    remote.mkdir()
    server = start_lab(base, {
        "SLURM_CONF": str(slurm_cluster.conf_path),
        "XPM_NB_SSH_HOST": HOST_ALIAS,
        "XPM_NB_SSH_CONFIG": str(sshd_server.ssh_config),
        "XPM_NB_SSH_WORKSPACE": str(remote),
    })
    assert server.root_dir is not None
    folder = server.root_dir / "demo"
    folder.mkdir()
    for nb in NOTEBOOKS:
        shutil.copy(nb, folder / nb.name)
    server.remote_workspace = remote  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ui(request, nb_server, tmp_path, shots_dir, sshd_running) -> Iterator[LabUI]:
    yield from open_ui(request, nb_server, tmp_path, shots_dir)


def check_run(ui: LabUI, cells: list[dict], label: str) -> None:
    ui.assert_no_errors(label)  # none raised, and no error output rendered
    unrun = [i for i, c in enumerate(cells) if c["count"] is None]
    assert not unrun, f"{label}: code cells {unrun} did not run"
    # What a person sees: every prompt a number.
    prompts = [c["prompt"] for c in cells]
    assert all(p.startswith("[") and p[1:-2].isdigit() for p in prompts), prompts


def saved_outputs(path: Path) -> list[dict]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_notebook_runs_twice_from_the_menus(name: str, nb_server, ui: LabUI) -> None:
    path = nb_server.root_dir / "demo" / name
    stem = path.stem
    t0 = time.monotonic()
    if name.startswith("01"):
        ui.open_from_file_browser(path)  # as a person finds it
    else:
        ui.open_by_url(path)
    t_open = time.monotonic() - t0

    cells = ui.run_all_and_wait()
    check_run(ui, cells, f"{name}, first run")
    ui.shot(f"{stem}-run1", full_page=False)
    ui.save()
    on_disk = saved_outputs(path)
    assert on_disk, "File > Save wrote no outputs"
    assert not [o for o in on_disk if o.output_type == "error"]
    t_first = time.monotonic() - t0 - t_open

    ui.restart_kernel()
    ui.lab.wait_idle()
    cells = ui.run_all_and_wait()
    check_run(ui, cells, f"{name}, second run (same workspace)")
    ui.save()
    ui.shot(f"{stem}-run2")
    t_second = time.monotonic() - t0 - t_open - t_first

    text = "\n".join(output_text(c) for c in cells)
    if name.startswith("03"):
        # The second run finds the training done and says so; the failure still shows.
        assert "already done in this workspace" in text, text[-2000:]
        assert "cannot divide 1.0 by zero" in text
        assert "failed: True" in text
    if name.startswith("04"):
        assert "'finder': True, 'slurm': True, 'ssh': True" in text, text[-2000:]
    print(f"{name}: open {t_open:.1f}s, run 1 {t_first:.1f}s, run 2 {t_second:.1f}s")
