"""The toy project of the experimaestro ecosystem (tests/ecosystem/toy_project), run as
a notebook in JupyterLab, in headless Chromium, through the menus.

The kernel is the ecosystem venv's python (datamaestro, xpm-mlboard and the
reference installed from PyPI), registered as a user does it:
``python -m ipykernel install --user --name eco --env XPM_NB_EXPERIMAESTRO 1``
into the lab server's own data folder. So ``import experimaestro`` loads
xpm_nb through the ``.pth`` hook, at interpreter start, before IPython exists:
the path where the views once came out as plain text.

Run All three times in one folder (the same kernel, then after Kernel >
Restart Kernel…): no error, the reference's job folders, the jobs run once,
the reference's results and analysis, and the experiment shown as a widget.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.jupyterlab import JupyterLabServer
from support.ecovenv import eco_python
from support.integration import need
from support.labserver import need_browser_parts, serving
from support.labui import LabUI, output_text
from support.toyproject import PROJECT, PROJECT_CELLS, analyze, job_folders, run_dir, run_toy

KERNEL = "eco"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: What ``import experimaestro`` resolved to, as the kernel sees it.
STANDIN_CHECK = (
    "import inspect, json, experimaestro, xpm_nb\n"
    "print(json.dumps({'name': experimaestro.__name__,\n"
    "    'loader': type(experimaestro.__spec__.loader).__module__,\n"
    "    'config_file': inspect.getfile(experimaestro.Config),\n"
    "    'is_xpm_nb': experimaestro.Config is xpm_nb.Config}))"
)


@pytest.fixture(scope="module")
def eco() -> str:
    python = eco_python()
    need(python is not None, "ecosystem venv (datamaestro, xpm-mlboard from PyPI) unavailable")
    return str(python)


@pytest.fixture(scope="module")
def reference(eco: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy project run by the reference's CLI: its workdir."""
    return run_toy(eco, False, tmp_path_factory.mktemp("eco-reference"))


def install_kernel(eco: str, data_dir: Path, dm: Path) -> Path:
    """``ipykernel install --user`` of the venv's python into the lab's data folder."""
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data_dir)}
    cmd = [eco, "-m", "ipykernel", "install", "--user", "--name", KERNEL,
           "--display-name", "Python (ecosystem)", "--env", "XPM_NB_EXPERIMAESTRO", "1",
           "--env", "DATAMAESTRO_DIR", str(dm), "--env", "TOYXP_POINTS", "30"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    spec = data_dir / "kernels" / KERNEL / "kernel.json"
    assert json.loads(spec.read_text())["argv"][0] == eco, spec.read_text()
    return spec


@pytest.fixture(scope="module")
def lab_server(eco: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    need_browser_parts()
    base = tmp_path_factory.mktemp("lab-ecosystem")
    install_kernel(eco, base / "lab" / "data", base / "dm")
    yield from serving(base)


def write_notebook(path: Path, workdir: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    cells = [c.format(project=str(PROJECT), workdir=str(workdir)) for c in PROJECT_CELLS]
    nb.cells = [nbformat.v4.new_code_cell(c) for c in [*cells, STANDIN_CHECK, "xp"]]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python (ecosystem)",
                                 "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def check_run(ui: LabUI, label: str) -> list[dict]:
    cells = ui.code_cells()
    ui.assert_no_errors(label)
    assert [i for i, c in enumerate(cells) if c["count"] is None] == [], label
    assert output_text(cells[2]).strip() == "[0.001, 0.01]", f"{label}: {output_text(cells[2])}"
    standin = json.loads(output_text(cells[3]).strip().splitlines()[-1])
    assert standin["name"] == "experimaestro" and standin["is_xpm_nb"], standin
    assert standin["loader"].startswith("xpm_nb.compat"), standin
    assert "/xpm_nb/" in standin["config_file"], standin  # not the reference's package
    return cells


def check_widget(ui: LabUI, cells: list[dict], label: str) -> None:
    """``xp`` shows the live experiment view (a widget, not its text fallback), jobs done."""
    outputs = cells[-1]["outputs"]
    assert any(WIDGET_MIME in o.get("data", {}) for o in outputs), f"{label}: {outputs}"
    cell = ui.page.locator(".jp-Notebook .jp-CodeCell").last
    view = cell.locator(".jp-OutputArea-output .xpm-xp")
    view.first.wait_for(state="visible", timeout=30_000)
    # the widget, not the text/html or text/plain fallback of the same bundle
    assert cell.locator(".xpm-experiment-static, [data-mime-type='text/html'], "
                        "[data-mime-type='text/plain']").count() == 0, label
    assert view.count() == 1, label
    done = view.locator(".xpm-jt-row[data-state='done']")
    ui.wait(lambda: done.count() == 4, timeout=30, what=f"{label}: 4 done rows in the view")
    assert view.locator(".xpm-jt-row").count() == 4, label
    view.first.scroll_into_view_if_needed()


def job_files(workdir: Path) -> dict[str, int]:
    """Every file of the job folders with its modification time: a rerun job changes them."""
    return {str(p.relative_to(workdir)): p.stat().st_mtime_ns
            for p in (workdir / "jobs").glob("*/*/*") if p.is_file()}


def test_toy_project_runs_in_jupyterlab_like_the_reference(eco, reference, lab_server,
                                                             ui: LabUI) -> None:
    assert lab_server.root_dir is not None
    folder = lab_server.root_dir / "toy"
    workdir = folder / "ws"
    notebook = write_notebook(folder / "toy.ipynb", workdir)
    t0 = time.monotonic()
    ui.open_by_url(notebook)
    assert ui.lab.state()["kernel"] == KERNEL

    timings = {}
    cells = ui.run_all_and_wait(timeout=300)
    timings["open + run 1"] = time.monotonic() - t0
    check_run(ui, "first run")
    check_widget(ui, cells, "first run")
    ui.shot("ecosystem-run1")
    folders = job_folders(workdir)
    assert len(folders) == 4  # 2 learning rates x (learn, evaluate)
    assert folders == job_folders(reference)
    done = sorted(workdir.glob("jobs/*/*/*.done"))
    assert len(done) == 4, done
    files = job_files(workdir)
    assert {Path(f).suffix for f in files} >= {".done", ".out", ".json"}, files

    t1 = time.monotonic()
    cells = ui.run_all_and_wait(timeout=300)
    timings["run 2 (same kernel)"] = time.monotonic() - t1
    check_run(ui, "second run, same kernel")
    check_widget(ui, cells, "second run, same kernel")
    assert job_folders(workdir) == folders
    assert job_files(workdir) == files, "a done job ran again"

    t2 = time.monotonic()
    ui.restart_kernel()
    cells = ui.run_all_and_wait(timeout=300)
    timings["run 3 (restarted kernel)"] = time.monotonic() - t2
    check_run(ui, "after Kernel > Restart")
    check_widget(ui, cells, "after Kernel > Restart")
    ui.shot("ecosystem-run3")
    assert job_folders(workdir) == folders
    assert job_files(workdir) == files, "a done job ran again after the restart"

    # The same figures as the reference: the same dataset, the same learnt models.
    evaluations = sorted((workdir / "jobs").glob("toyxp.learn.evaluate/*"))
    assert len(evaluations) == 2
    for job in evaluations:
        mine = json.loads((job / "results.json").read_text())
        theirs = json.loads((reference / "jobs" / job.parent.name / job.name /
                             "results.json").read_text())
        assert mine == pytest.approx(theirs)
        assert mine["a"] != 0.5  # the learnt slope, not the initial value
    # The project's analysis (load_xp_info) reads back the reference's jobs.
    mine = analyze(eco, True, run_dir(workdir, "toyxp_nb"))
    theirs = analyze(eco, False, run_dir(reference))

    def untagged(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "tags"} for row in rows]

    assert untagged(mine["jobs"]) == untagged(theirs["jobs"])
    assert len(mine["jobs"]) == 4
    print(", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
