"""The experimaestro ecosystem from PyPI runs on xpm_nb (``XPM_NB_EXPERIMAESTRO=1``).

Real datamaestro 1.16.1 and xpm-mlboard 0.3.1 in a venv of their own, where
the reference (their dependency) is installed too. A toy project in the
shape of the official demo (tests/ecosystem/toy_project) runs by the CLI on
both systems: same job folders, same analysis.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.ecovenv import env
from support.toyproject import NOTEBOOK_CELLS, PROJECT, analyze, job_folders, run_dir, run_toy


def _python(eco, code: str, standin: bool) -> str:
    proc = subprocess.run([eco, "-c", code], env=env(standin), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_standin_is_opt_in_where_the_reference_is_installed(eco):
    code = "import experimaestro, xpm_nb; print(experimaestro.Config is xpm_nb.Config)"
    assert _python(eco, code, standin=True) == "True"
    assert _python(eco, code, standin=False) == "False"


def test_ecosystem_classes_are_xpm_nb_configs(eco):
    code = """
import xpm_nb
from datamaestro.data.ml import Supervised
from datamaestro.data import Base
from xpm_mlboard import TensorboardService
from xpm_nb.services import ProcessWebService
print(issubclass(Base, xpm_nb.Config), issubclass(Supervised, xpm_nb.Config),
      issubclass(TensorboardService, ProcessWebService))
"""
    assert _python(eco, code, standin=True) == "True True True"


def _datamaestro_tests(eco) -> Path:
    return Path(_python(eco, "import datamaestro, pathlib; "
                        "print(pathlib.Path(datamaestro.__file__).parent / 'test')", standin=False))


def test_datamaestro_own_test_suite_passes_on_xpm_nb(eco, tmp_path):
    tests = _datamaestro_tests(eco)
    proc = subprocess.run(
        [eco, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tests.parent),
         str(tests)],
        env=env(True, DATAMAESTRO_DIR=str(tmp_path / "dm")), capture_output=True, text=True,
        timeout=900, cwd=tmp_path)
    tail = proc.stdout[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail


@pytest.fixture(scope="module")
def toy_runs(eco, tmp_path_factory):
    """The toy project run by each system's CLI (the reference, then xpm_nb)."""
    ref = run_toy(eco, False, tmp_path_factory.mktemp("ref"))
    # the YAML path without its .yaml suffix, as the reference accepts
    ours = run_toy(eco, True, tmp_path_factory.mktemp("ours"), yaml="params-ci")
    return ref, ours


def test_toy_project_makes_the_same_job_folders(toy_runs):
    ref, ours = toy_runs
    folders = job_folders(ours)
    assert len(folders) == 4  # 2 learning rates x (learn, evaluate)
    assert folders == job_folders(ref)


def test_toy_project_jobs_compute_what_the_reference_computes(toy_runs):
    ref, ours = toy_runs
    evaluations = sorted((ours / "jobs").glob("toyxp.learn.evaluate/*"))
    assert len(evaluations) == 2
    for job in evaluations:
        mine = json.loads((job / "results.json").read_text())
        theirs = json.loads((ref / "jobs" / job.parent.name / job.name / "results.json").read_text())
        # same dataset (prepared before the tasks ran), same learnt model (loaded
        # into the evaluation by init_tasks): the same figures
        assert mine == pytest.approx(theirs)
        assert mine["a"] != 0.5  # the learnt slope, not the initial value
    # pre_experiment (small_points.py) ran before the dataset was made
    train = next((ours.parent / "dm").rglob("train.csv"))
    assert len(train.read_text().splitlines()) == 30


def test_toy_project_tensorboard_service_links_the_runs(toy_runs):
    _, ours = toy_runs
    links = sorted((run_dir(ours) / "results" / "runs").glob("*"))
    names = {p.name for p in links if p.is_symlink()}
    assert names == {"init=0.5_lr=0.01", "init=0.5_lr=0.001"}
    sidecars = {p.name for p in links if p.name.endswith(".tags.json")}
    assert sidecars == {f"{n}.tags.json" for n in names}


def test_toy_project_analysis_reads_back_the_same_runs(eco, toy_runs):
    ref, ours = toy_runs
    mine = analyze(eco, True, run_dir(ours))
    theirs = analyze(eco, False, run_dir(ref))
    strip = [{k: v for k, v in row.items() if k != "tags"} for row in theirs["jobs"]]
    assert [{k: v for k, v in row.items() if k != "tags"} for row in mine["jobs"]] == strip
    assert {row["task"] for row in mine["jobs"]} == {"Learn", "Evaluate"}
    # The reference's load_xp_info gives the tasks without their tags; ours keeps them.
    learn = [row for row in mine["jobs"] if row["task"] == "Learn"]
    assert sorted(row["tags"]["lr"] for row in learn) == [0.001, 0.01]


def test_toy_project_from_a_notebook_makes_the_same_job_folders(eco, toy_runs, tmp_path,
                                                                monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    ref, _ = toy_runs
    kernels = tmp_path / "share" / "jupyter" / "kernels" / "eco"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [eco, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ecosystem", "language": "python",
        "env": {"DATAMAESTRO_DIR": str(tmp_path / "dm"), "TOYXP_POINTS": "30"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    monkeypatch.delenv("XPM_NB_EXPERIMAESTRO", raising=False)  # the first cell turns it on
    workdir = tmp_path / "xp"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c.format(project=str(PROJECT), workdir=str(workdir)))
                for c in NOTEBOOK_CELLS]
    nbclient.NotebookClient(nb, timeout=300, kernel_name="eco").execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert nb.cells[-1].outputs[-1].text.strip() == "[0.001, 0.01]"
    assert job_folders(workdir) == job_folders(ref)


TENSORBOARD = """
import json, os, sys, urllib.request
from pathlib import Path
from experimaestro import experiment
from experimaestro.scheduler.services import ServiceState
from xpm_mlboard import TensorboardService

workdir = Path(sys.argv[1])
with experiment(workdir, "board") as xp:
    board = xp.add_service(TensorboardService(xp.resultspath / "runs"))
    url = board.get_url()
    with urllib.request.urlopen(url, timeout=30) as response:
        status = response.status
    pid = board.process.pid
    running = board.state is ServiceState.RUNNING
alive = True
try:
    os.kill(pid, 0)
except ProcessLookupError:
    alive = False
print(json.dumps({"url": url, "status": status, "running": running, "alive_after": alive,
                  "state_after": board.state.name}))
"""


def test_xpm_mlboard_tensorboard_service_runs_and_stops(eco, tmp_path):
    proc = subprocess.run([eco, "-c", TENSORBOARD, str(tmp_path / "xp")], env=env(True),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["url"].startswith("http://localhost:")
    assert result["status"] == 200 and result["running"]
    assert not result["alive_after"] and result["state_after"] == "STOPPED"


def test_the_experimaestro_command_runs_our_cli(eco):
    command = str(Path(eco).parent / "experimaestro")  # the reference's console script
    ours = subprocess.run([command, "--help"], env=env(True), capture_output=True, text=True,
                          timeout=120)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run([command, "--help"], env=env(False), capture_output=True,
                            text=True, timeout=120)
    assert "xpm-nb" in ours.stdout and "xpm-nb" not in theirs.stdout


def test_xpm_mlboard_own_test_suite_passes_on_xpm_nb(eco, tmp_path):
    from support.ecovenv import mlboard_tests

    tests = mlboard_tests()
    assert any(tests.glob("test_*.py")), f"no tests in {tests}"
    proc = subprocess.run([eco, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                           str(tests), str(tests)], env=env(True), capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    tail = proc.stdout[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail
