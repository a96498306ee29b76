"""The job table's first render needs no kernel reply: every row is in the comm's opening message.

Then come numbered patches; a view that missed one asks for a snapshot
(``sync``) and gets one carrying the number of the last patch it includes.
The scheduler marks and flushes from its own thread while the kernel's thread
answers the views, and a real kernel shows it: rows reach the front-end while
a later cell blocks.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from widget_helpers import comms, importable_tasks, replay, snapshot_rows, until  # noqa: F401 - fixtures
from widget_tasks import Fail

from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets import ConfigView, JobTable
from xpm_nb.widgets.rows import JobTableState, decode_table, encode_table

pytestmark = pytest.mark.usefixtures("comms")


def unrun_jobs(path, n: int, tags: bool = True) -> list[Job]:
    from xpm_nb import tag

    workspace = Workspace(WorkspaceSettings(path))
    return [Job(Fail.C(code=tag(i) if tags else i), workspace=workspace) for i in range(n)]


def message_bytes(data) -> int:
    """The size of a comm message's JSON, as the kernel's session writes it."""
    return len(json.dumps(data, ensure_ascii=False).encode())


def test_the_opening_message_holds_every_row(tmp_path):
    jobs = unrun_jobs(tmp_path / "ws", 10)
    jobs[3].state = JobState.RUNNING
    table = JobTable(jobs)
    state = table.comm.opening_state()
    snapshot = state["snapshot"]
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 0 and snapshot["n"] == 10
    rows = snapshot_rows(snapshot)
    assert [r["id"] for r in rows] == [j.identifier for j in jobs]
    assert rows[3]["state"] == "running" and rows[0]["state"] == "unscheduled"
    assert rows[2]["tags"] == {"code": 2} and rows[2]["path"] == str(jobs[2].path)
    assert state["_xpm_id"] == table.model_id == table.comm.comm_id
    assert state["n_jobs"] == 10 and state["counts"]["running"] == 1
    # Nothing else was needed: no custom message, no update.
    assert [m for m, _ in table.comm.messages] == ["comm_open"]
    table.close()


def test_a_state_request_gets_the_rows_of_now(tmp_path):
    """A reloaded page (``request_states``) or a re-display (``send_state``) gets a fresh snapshot."""
    jobs = unrun_jobs(tmp_path / "ws", 3)
    table = JobTable(jobs)
    jobs[1].state = JobState.DONE
    table._on_job(jobs[1])
    table.flush()
    fresh = table.get_state()["snapshot"]
    assert fresh["seq"] == 1 and snapshot_rows(fresh)[1]["state"] == "done"
    table.send_state()
    assert replay(table.comm.table_messages())[1]["state"] == "done"
    table.close()


def test_patches_are_numbered_and_a_sync_says_where_it_is(tmp_path):
    jobs = unrun_jobs(tmp_path / "ws", 4)
    table = JobTable(jobs)
    for i, state in enumerate((JobState.WAITING, JobState.RUNNING, JobState.DONE)):
        jobs[i].state = state
        table._on_job(jobs[i])
        table.flush()
    patches = [u["patch"] for u in table.comm.updates() if "patch" in u]
    assert [p["seq"] for p in patches] == [1, 2, 3]
    assert [[r["k"] for r in p["rows"]] for p in patches] == [[0], [1], [2]]
    # A view that missed patch 2 asks again: the answer includes patch 3.
    table.comm.from_frontend({"type": "sync"})
    answer = table.comm.custom("snapshot")[-1]
    assert answer["seq"] == 3
    assert [r["state"] for r in snapshot_rows(answer)] == ["waiting", "running", "done", "unscheduled"]
    # Making a snapshot changes nothing to the stream: the next patch holds the next change only.
    jobs[3].state = JobState.ERROR
    table._on_job(jobs[3])
    table.flush()
    last = [u["patch"] for u in table.comm.updates() if "patch" in u][-1]
    assert last["seq"] == 4 and [r["k"] for r in last["rows"]] == [3]
    table.close()


def test_ten_thousand_jobs_open_in_one_message_of_about_a_megabyte(tmp_path):
    """The measure: the opening message of a 10,000-job table, its size and the time to build it."""
    n = 10_000
    jobs = unrun_jobs(tmp_path / "ws", n)
    t0 = time.perf_counter()
    table = JobTable(jobs)
    build = time.perf_counter() - t0
    (msg_type, data), = table.comm.messages
    assert msg_type == "comm_open"
    size = message_bytes(data)
    rows = snapshot_rows(data["state"]["snapshot"])
    assert len(rows) == n and rows[1234]["id"] == jobs[1234].identifier
    plain = message_bytes(JobTableState(jobs).snapshot())  # the same rows as objects
    print(f"\n10,000 jobs: opening message {size / 1e6:.2f} MB (rows as objects: "
          f"{plain / 1e6:.2f} MB), widget built in {build:.2f} s")
    assert size < 1.5e6 and size < plain / 3
    # One change afterwards is one row.
    jobs[1234].state = JobState.DONE
    table._on_job(jobs[1234])
    table.flush()
    (update,) = table.comm.updates()
    assert [r["k"] for r in update["patch"]["rows"]] == [1234]
    assert message_bytes(update) < 2000
    table.close()


def test_compact_table_round_trip(tmp_path):
    jobs = unrun_jobs(tmp_path / "ws", 5)
    jobs[1].state = JobState.ERROR
    state = JobTableState(jobs)
    rows = state.snapshot()["rows"]
    rows[2]["path"] = "/elsewhere/job"  # not under the usual root
    rows[3]["tags"] = {"other": 1}  # not the table's tag names
    rows[4].update(started=rows[4]["submitted"] + 1.5, ended=rows[4]["submitted"] + 3.25,
                   progress=[[0.5, "epochs"]], reason="boom", code=2, retries=1)
    back = decode_table(encode_table(rows, ["code"]), ["code"])
    for a, b in zip(rows, back):
        for key in ("submitted", "started", "ended"):
            assert (a[key] is None) == (b[key] is None)
            if a[key] is not None:
                assert abs(a[key] - b[key]) < 1e-3
                a[key] = b[key]
        assert a == b


def test_marks_from_another_thread_lose_nothing(tmp_path):
    """The scheduler's thread marks while this one flushes and answers syncs."""
    jobs = unrun_jobs(tmp_path / "ws", 200, tags=False)
    table = JobTable(jobs)
    states = (JobState.WAITING, JobState.READY, JobState.RUNNING, JobState.DONE)
    stop = threading.Event()

    def scheduler_thread():
        for state in states:
            for job in jobs:
                job.state = state
                table._on_job(job)
        stop.set()

    worker = threading.Thread(target=scheduler_thread)
    worker.start()
    while not stop.is_set():
        table.flush()
        table.comm.from_frontend({"type": "sync"})
    worker.join()
    table.flush()
    rows = replay(table.comm.table_messages())
    assert {r["state"] for r in rows.values()} == {"done"} and len(rows) == 200
    seqs = [m["seq"] for m in table.comm.table_messages() if m["type"] == "patch"]
    assert seqs == list(range(1, len(seqs) + 1))
    table.close()


def test_config_view_opens_with_its_job(tmp_path):
    (job,) = unrun_jobs(tmp_path / "ws", 1)
    job.state = JobState.RUNNING
    view = ConfigView(job.config, job=job)
    state = view.comm.opening_state()
    assert state["job"]["state"] == "running" and state["job"]["id"] == job.identifier
    assert state["_xpm_id"] == view.model_id
    assert [m for m, _ in view.comm.messages] == ["comm_open"]
    view.close()


# --- a real kernel: the table is complete while later cells run -------------------------

SUBMIT_CELL = """
import sys, time
sys.path[:0] = {paths!r}
from xpm_nb import experiment, tag
from xpm_nb.launchers.direct import DirectLauncher
from widget_tasks import Steps, Model
xp = experiment({workdir!r}, "busy", launcher=DirectLauncher(max_jobs=10))
for i in range(10):
    Steps.C(model=Model.C(hidden=tag(i)), outer=1, inner=1, pause=0.01).submit()
xp
"""

BLOCKING_CELL = """
deadline = time.time() + 120
while not {gate!r} or not __import__("os").path.exists({gate!r}):
    time.sleep(0.05)
    if time.time() > deadline:
        break
"""


def test_a_real_kernel_opens_the_table_complete_and_patches_it_while_a_cell_blocks(
        tmp_path, workdir):
    """The scenario of "Run All": the experiment cell, then a cell that blocks.

    The table's comm opens with all 10 jobs; while the next cell blocks, the
    patches keep coming (sent from the scheduler's thread) until all 10 are done.
    """
    from pathlib import Path

    from support.kernel import real_kernel

    here = Path(__file__).resolve().parent
    gate = tmp_path / "gate"
    with real_kernel(tmp_path) as kernel:
        client = kernel.client
        kernel.run("import xpm_nb.display; xpm_nb.display.register()")
        paths = [str(here), str(here.parent / "scheduler")]
        client.execute(SUBMIT_CELL.format(paths=paths, workdir=str(workdir)))
        blocking = client.execute(BLOCKING_CELL.format(gate=str(gate)))
        opening = None
        rows: dict[int, dict] = {}
        busy_since = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                msg = client.get_iopub_msg(timeout=1)
            except Exception:  # noqa: BLE001 - queue.Empty
                continue
            kind, content = msg["msg_type"], msg["content"]
            parent = msg["parent_header"].get("msg_id")
            if kind == "status" and parent == blocking and content["execution_state"] == "busy":
                busy_since = time.monotonic()
            if kind == "comm_open" and content["data"]["state"].get("_anywidget_id", "").endswith(
                    "ExperimentView"):
                opening = content["data"]["state"]
                rows = {r["k"]: r for r in snapshot_rows(opening["snapshot"])}
            elif kind == "comm_msg" and opening is not None and content["comm_id"] == opening["_xpm_id"]:
                update = content["data"].get("state", {})
                for row in update.get("patch", {}).get("rows", []):
                    # A row the view has comes with its changed fields only: merged.
                    rows[row["k"]] = row if "id" in row else {**rows[row["k"]], **row}
                if update.get("snapshot"):
                    rows = {r["k"]: r for r in snapshot_rows(update["snapshot"])}
            if rows and all(r["state"] == "done" for r in rows.values()) and busy_since:
                break
        assert opening is not None, "no experiment view was opened"
        assert len(snapshot_rows(opening["snapshot"])) == 10  # complete from the start
        assert busy_since is not None, "the blocking cell never started"
        # Every job finished while the blocking cell still ran: updates came meanwhile.
        assert len(rows) == 10 and {r["state"] for r in rows.values()} == {"done"}, rows
        gate.touch()
        reply = client.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != blocking:
            reply = client.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok"


def test_showing_the_experiment_again_records_its_final_rows(tmp_path, workdir):
    """nbclient (``store_widget_state``) records only the messages of the cell it
    runs: showing ``xp`` again at the end sends a fresh snapshot in that cell,
    so the saved state holds the final rows, not those of the opening."""
    from pathlib import Path

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    here = Path(__file__).resolve().parent
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import xpm_nb.display; xpm_nb.display.register()"),
        nbformat.v4.new_code_cell(SUBMIT_CELL.format(
            paths=[str(here), str(here.parent / "scheduler")], workdir=str(workdir))),
        nbformat.v4.new_code_cell("for job in xp.jobs:\n    job.wait()\nxp"),
    ]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (view,) = [s["state"] for s in states.values()
               if s["state"].get("_anywidget_id", "").endswith("ExperimentView")]
    rows = snapshot_rows(view["snapshot"])
    assert len(rows) == 10 and {r["state"] for r in rows} == {"done"}
