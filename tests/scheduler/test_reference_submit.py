"""Submission as the reference does it: a workspace's run mode, ``__submit__``,
``WorkspaceSettings(id, path)`` (what datamaestro's own tests use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xpm_nb import Config, Meta, Param, PathGenerator, RunMode, Task, Workspace, field
from xpm_nb.scheduler.workspace import WorkspaceSettings


class Sample(Config):
    name: Param[str]
    local_path: Meta[Path] = Path("/nowhere")


class Shuffle(Task):
    samples: Param[list[Sample]]
    seed: Param[int]
    output_dir: Meta[Path] = field(default_factory=PathGenerator("shuffled"))

    def __submit__(self, dep, add_action, **kwargs):
        first = self.samples[0]
        return dep(Sample.C(name=first.name, local_path=self.output_dir))


def test_workspace_settings_accepts_the_reference_order(tmp_path):
    assert WorkspaceSettings(tmp_path).path == tmp_path  # ours: the path alone
    both = WorkspaceSettings("main", tmp_path / "a")
    assert (both.id, both.path) == ("main", tmp_path / "a")
    keyword = WorkspaceSettings("main", path=tmp_path / "b")
    assert (keyword.id, keyword.path) == ("main", tmp_path / "b")
    with pytest.raises(TypeError, match="positional.*Fix: pass the others by keyword"):
        WorkspaceSettings("a", tmp_path, {})
    with pytest.raises(TypeError, match="no path"):
        WorkspaceSettings(id="x")


def test_submit_to_a_dry_run_workspace_without_experiment(tmp_path):
    workspace = Workspace(WorkspaceSettings("w", path=tmp_path), run_mode=RunMode.DRY_RUN)
    task = Shuffle.C(samples=[Sample.C(name="a")], seed=1)
    result = task.submit(workspace=workspace)  # the workspace's mode: a dry run
    assert isinstance(result, Sample)
    assert result.local_path == task.__xpm__.job.path / "shuffled"
    assert str(result.local_path).startswith(str(tmp_path))
    assert not (tmp_path / "jobs").exists()  # nothing written


def test_submit_hook_gives_the_task_outputs(workdir):
    import xpm_nb

    with xpm_nb.experiment(workdir, "hook", run_mode=RunMode.DRY_RUN):
        task = Shuffle.C(samples=[Sample.C(name="b")], seed=2)
        out = task.submit()
    assert out.name == "b" and out.local_path.name == "shuffled"
    assert out.__xpm__.task is task  # marked as the task's output (a dependency)


def test_max_retries_defaults_to_the_workspace_setting(tmp_path):
    from xpm_nb.scheduler.jobs import Job

    settings = WorkspaceSettings("w", tmp_path, max_retries=7)
    workspace = Workspace(settings)
    task = Shuffle.C(samples=[Sample.C(name="c")], seed=3)
    assert Job(task, workspace=workspace).max_retries == 7
    assert Job(task, workspace=workspace, max_retries=1).max_retries == 1
    assert Job(task, workspace=Workspace(WorkspaceSettings(tmp_path))).max_retries == 3
