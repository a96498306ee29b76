"""Compare (issue 19): the fields that differ between the configurations of a few
jobs, by nested path, through the job table's ``compare`` request."""

from __future__ import annotations

from widget_tasks import Model, Steps

from xpm_nb import tag
from xpm_nb.scheduler.jobs import Job
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets.compare import compare_jobs, flatten
from xpm_nb.widgets.rows import JobTableState


def _jobs(tmp_path):
    workspace = Workspace(WorkspaceSettings(tmp_path / "ws"))
    configs = [
        Steps.C(model=Model.C(hidden=tag(8)), outer=2),
        Steps.C(model=Model.C(hidden=tag(16)), outer=2),
        Steps.C(model=Model.C(hidden=tag(16), activation="gelu"), outer=3),
    ]
    return [Job(c, workspace=workspace) for c in configs]


def test_flatten_gives_nested_paths(tmp_path):
    flat = flatten(_jobs(tmp_path)[2].config)
    assert flat["model"] == "<Model>"
    assert flat["model.hidden"] == "16"
    assert flat["model.activation"] == "'gelu'"
    assert flat["outer"] == "3"


def test_only_differing_fields(tmp_path):
    jobs = _jobs(tmp_path)
    result = compare_jobs(jobs[:2])
    assert [f["path"] for f in result["fields"]] == ["model.hidden"]
    assert result["fields"][0]["values"] == ["8", "16"]
    result = compare_jobs(jobs)
    fields = {f["path"]: f["values"] for f in result["fields"]}
    assert fields["model.hidden"] == ["8", "16", "16"]
    assert fields["outer"] == ["2", "2", "3"]
    # A field set in one job only (activation: its default, unset elsewhere).
    assert fields["model.activation"][2] == "'gelu'"
    assert "inner" not in fields and result["same"] >= 1


def test_compare_request(tmp_path):
    jobs = _jobs(tmp_path)
    table = JobTableState(jobs)
    reply = table.handle({"type": "compare", "keys": [0, 2]})
    assert reply["type"] == "compare" and reply["keys"] == [0, 2]
    assert {f["path"] for f in reply["fields"]} >= {"model.hidden", "outer"}
    assert "error" in table.handle({"type": "compare", "keys": [0]})
    assert "error" in table.handle({"type": "compare", "keys": [0, 99]})
