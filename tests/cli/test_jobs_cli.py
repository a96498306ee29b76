"""``xpm-nb jobs list|kill|clean`` and ``xpm-nb experiments list`` on a real workspace."""

from __future__ import annotations

import json
import subprocess

import pytest

from support.waiting import wait_until
from xpm_nb.scheduler.jobs import pid_alive

from .helpers import cli_command, cli_env, copy_project, jobs_json, run_cli


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A workspace with two done jobs (experiment cli-test) and a failed one (experiment other)."""
    base = tmp_path_factory.mktemp("jobs-cli")
    project = copy_project(base / "project")
    ws = base / "ws"
    ok = run_cli("run-experiment", project / "exp.yaml", "--workdir", ws)
    assert ok.returncode == 0, ok.stderr
    bad = run_cli("run-experiment", project / "exp.yaml", "id=other", "fail=true", "seeds=[9]",
                  "--workdir", ws)
    assert bad.returncode == 1, bad.stderr
    return project, ws


def _seeds(jobs: list[dict]) -> list[int]:
    return sorted(j["tags"]["seed"] for j in jobs)


class TestList:
    def test_all_jobs_with_states_and_tags(self, filled):
        _, ws = filled
        jobs = jobs_json(ws)
        assert _seeds(jobs) == [1, 2, 9]
        assert {j["state"] for j in jobs if j["tags"]["seed"] != 9} == {"done"}
        failed = [j for j in jobs if j["tags"]["seed"] == 9][0]
        assert failed["state"] == "error" and "asked to fail" in failed["reason"]
        assert failed["experiments"] == ["other"]

    def test_filter_by_state(self, filled):
        _, ws = filled
        assert _seeds(jobs_json(ws, "--state", "error")) == [9]
        assert _seeds(jobs_json(ws, "--state", "done")) == [1, 2]
        assert _seeds(jobs_json(ws, "--state", "failed,done")) == [1, 2, 9]
        assert jobs_json(ws, "--state", "running") == []

    def test_filter_by_task_and_tag(self, filled):
        _, ws = filled
        assert _seeds(jobs_json(ws, "--task", "experiment.train")) == [1, 2, 9]
        assert _seeds(jobs_json(ws, "--task", "*.train")) == [1, 2, 9]
        assert jobs_json(ws, "--task", "other.task") == []
        assert _seeds(jobs_json(ws, "--tag", "seed=2")) == [2]
        assert _seeds(jobs_json(ws, "--tag", "kind=cnn", "--tag", "seed=1")) == [1]

    def test_filter_expression(self, filled):
        _, ws = filled
        expr = 'kind = "cnn" and seed in [1, 9] and @state = "DONE"'
        assert _seeds(jobs_json(ws, "--filter", expr)) == [1]
        assert _seeds(jobs_json(ws, "--filter", "not (seed = 1) or @name ~ 'nomatch'")) == [2, 9]

    def test_filter_by_experiment(self, filled):
        _, ws = filled
        assert _seeds(jobs_json(ws, "--experiment", "cli-test")) == [1, 2]
        assert _seeds(jobs_json(ws, "--experiment", "other")) == [9]
        assert jobs_json(ws, "--experiment", "none") == []

    def test_text_output(self, filled):
        _, ws = filled
        proc = run_cli("jobs", "list", "--workdir", ws, "--tags", "--state", "error")
        assert proc.returncode == 0, proc.stderr
        (line,) = proc.stdout.splitlines()
        assert line.startswith("ERROR") and "experiment.train/" in line and "seed=9" in line
        assert "asked to fail" in line

    def test_bad_filter_points_at_the_error(self, filled):
        _, ws = filled
        proc = run_cli("jobs", "list", "--workdir", ws, "--filter", "seed = = 1")
        assert proc.returncode == 2
        assert "expected a value" in proc.stderr and "position 8" in proc.stderr

    def test_not_a_workspace(self, tmp_path):
        proc = run_cli("jobs", "list", "--workdir", tmp_path)
        assert proc.returncode == 2 and "is not a workspace" in proc.stderr


def test_experiments_list(filled):
    _, ws = filled
    proc = run_cli("experiments", "list", "--workdir", ws, "--json")
    assert proc.returncode == 0, proc.stderr
    xps = {x["name"]: x for x in json.loads(proc.stdout)}
    assert set(xps) == {"cli-test", "other"}
    assert xps["cli-test"]["status"] == "done" and len(xps["cli-test"]["jobs"]) == 2
    assert xps["other"]["status"] == "failed" and len(xps["other"]["jobs"]) == 1
    text = run_cli("experiments", "list", "--workdir", ws).stdout
    assert "cli-test" in text and "other" in text


def test_clean_lists_then_deletes_finished_jobs(project, workdir):
    assert run_cli("run-experiment", project / "exp.yaml", "--workdir", workdir).returncode == 0
    assert run_cli("run-experiment", project / "exp.yaml", "id=bad", "fail=true", "seeds=[9]",
                   "--workdir", workdir).returncode == 1
    (failed,) = jobs_json(workdir, "--state", "error")
    dry = run_cli("jobs", "clean", "--workdir", workdir, "--state", "error")
    assert dry.returncode == 0 and "--perform" in dry.stderr
    assert len(jobs_json(workdir)) == 3  # nothing deleted without --perform
    done = run_cli("jobs", "clean", "--workdir", workdir, "--state", "error", "--perform")
    assert done.returncode == 0 and "deleted" in done.stdout
    assert _seeds(jobs_json(workdir)) == [1, 2]
    assert not (workdir / "jobs" / failed["task"] / failed["id"]).exists()
    links = list((workdir / "experiments" / "bad").glob(f"*/jobs/{failed['task']}/{failed['id']}"))
    assert links == []


def test_kill_a_running_job(project, workdir):
    """A job of an experiment running in another process is killed and recorded as failed."""
    runner = subprocess.Popen(
        cli_command("run-experiment", project / "exp.yaml", "sleep=120", "seeds=[21]",
                    "--workdir", workdir),
        env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        (job,) = wait_until(lambda: (workdir / ".__experimaestro__").exists()
                            and jobs_json(workdir, "--state", "running"), 60, "a running job")
        pid = json.loads((workdir / "jobs" / job["task"] / job["id"] / "train.pid").read_text())["pid"]
        dry = run_cli("jobs", "kill", "--workdir", workdir, "--tag", "seed=21")
        assert dry.returncode == 0 and job["id"] in dry.stdout
        assert pid_alive(pid)  # only listed
        proc = run_cli("jobs", "kill", "--workdir", workdir, "--tag", "seed=21", "--perform")
        assert proc.returncode == 0, proc.stderr
        assert "killed" in proc.stdout
        assert not pid_alive(pid)
        _, err = runner.communicate(timeout=60)
        assert runner.returncode == 1, err
        (after,) = jobs_json(workdir)
        assert after["state"] == "error" and after["reason"]
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
