"""The git state of the experiment's code is recorded; dirty_git decides what a dirty tree does."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pytest

from support.integration import need
from xpm_nb.errors import DirtyGitError
from xpm_nb.experiments import run_experiment
from xpm_nb.gitstate import git_info

from .helpers import run_cli


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def repo(project):
    need(shutil.which("git") is not None, "git is not installed")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "the experiment")
    return project


def _environment(workdir, name="cli-test"):
    run = (workdir / "experiments" / name / "current").resolve()
    return json.loads((run / "environment.json").read_text())


def test_clean_tree_is_recorded(repo, workdir, caplog):
    with caplog.at_level(logging.WARNING, logger="xpm_nb.gitstate"):
        run_experiment(repo / "exp.yaml", "seeds=[1]", workdir=workdir)
    assert not [r for r in caplog.records if r.name == "xpm_nb.gitstate"]
    (project,) = _environment(workdir)["projects"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True).stdout.strip()
    assert project["path"] == str(repo.resolve())
    assert project["commit"] == head and project["branch"] == "main"
    assert project["dirty"] is False and project["message"] == "the experiment"


def test_dirty_tree_warns_by_default(repo, workdir, caplog):
    with (repo / "experiment.py").open("a") as f:
        f.write("\n# an uncommitted change\n")
    with caplog.at_level(logging.WARNING, logger="xpm_nb.gitstate"):
        run_experiment(repo / "exp.yaml", "seeds=[1]", workdir=workdir)
    (record,) = [r for r in caplog.records if r.name == "xpm_nb.gitstate"]
    assert "uncommitted changes" in record.getMessage()
    assert "experiment.py" in record.getMessage()
    (project,) = _environment(workdir)["projects"]
    assert project["dirty"] is True and project["changed_files"] == ["experiment.py"]


def test_dirty_tree_with_error_stops_before_running(repo, workdir):
    (repo / "exp.yaml").write_text((repo / "exp.yaml").read_text() + "dirty_git: error\n")
    with pytest.raises(DirtyGitError, match="exp.yaml"):
        run_experiment(repo / "exp.yaml", "seeds=[1]", workdir=workdir)
    assert not list(workdir.glob("jobs/*/*"))
    proc = run_cli("run-experiment", repo / "exp.yaml", "--workdir", workdir)
    assert proc.returncode == 2 and "uncommitted changes" in proc.stderr
    assert "Fix: commit them" in proc.stderr


def test_dirty_tree_ignored(repo, workdir, caplog):
    (repo / "experiment.py").write_text((repo / "experiment.py").read_text() + "\n# change\n")
    with caplog.at_level(logging.WARNING, logger="xpm_nb.gitstate"):
        run_experiment(repo / "exp.yaml", "seeds=[1]", "dirty_git=ignore", workdir=workdir)
    assert not [r for r in caplog.records if r.name == "xpm_nb.gitstate"]
    assert _environment(workdir)["projects"][0]["dirty"] is True  # recorded, not reported


def test_outside_a_repository(tmp_path):
    assert git_info(tmp_path) is None
