"""The task graph in the job table's rows (issue 19): each row names the rows
it depends on (``deps``, their keys), in the snapshot's compact form too, and a
patch carries them only when they change."""

from __future__ import annotations

from widget_tasks import Fail

from xpm_nb import tag
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets.rows import JobTableState, decode_table, encode_table, job_row


def _jobs(tmp_path, n=4):
    workspace = Workspace(WorkspaceSettings(tmp_path / "ws"))
    jobs = [Job(Fail.C(code=tag(i)), workspace=workspace) for i in range(n)]
    for job in jobs[1:]:
        job.dependencies = [jobs[0]]
    jobs[-1].dependencies = [jobs[1], jobs[0]]
    return jobs


def test_rows_name_their_dependencies_by_key(tmp_path):
    jobs = _jobs(tmp_path)
    table = JobTableState(jobs)
    snapshot = table.snapshot()
    assert [row["deps"] for row in snapshot["rows"]] == [[], [0], [0], [0, 1]]
    # The compact form keeps them (and leaves out the empty ones).
    compact = table.compact_snapshot()["table"]
    assert len(compact["rows"][0]) < 15 and compact["rows"][3][-1] == [0, 1]
    rows = decode_table(compact, table.tag_names, table.metric_names)
    assert [row["deps"] for row in rows] == [[], [0], [0], [0, 1]]
    again = encode_table(rows, table.tag_names, table.metric_names)
    assert again["rows"] == compact["rows"]
    # A dependency outside the table is left out; without keys, no dependencies.
    assert JobTableState(jobs[1:]).snapshot()["rows"][2]["deps"] == [0]
    assert job_row(jobs[3], 3)["deps"] == []


def test_patches_carry_dependencies_only_when_they_change(tmp_path):
    jobs = _jobs(tmp_path)
    table = JobTableState(jobs)
    table.baseline()
    jobs[2].state = JobState.RUNNING
    table.mark(jobs[2])
    patch = table.patch()
    assert patch["rows"] == [{"k": 2, "state": "running"}]
    jobs[2].dependencies = [jobs[0], jobs[1]]
    table.mark(jobs[2])
    assert table.patch()["rows"] == [{"k": 2, "deps": [0, 1]}]
    # A new job: the whole row, with its dependencies.
    extra = Job(Fail.C(code=tag(9)), workspace=jobs[0].workspace)
    extra.dependencies = [jobs[3]]
    table.add(extra)
    [row] = table.patch()["rows"]
    assert row["k"] == 4 and row["deps"] == [3]
