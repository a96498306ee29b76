"""The bulk scan of job folders, alone and split between helper processes."""

from __future__ import annotations

import json
import math
import os
import sys
import time

import pandas as pd
import pytest

import xpm_nb
from support.run_folder import new_run_folder
from xpm_nb.results import clear_caches, eventscan, scan
from xpm_nb.results.eventscan import scan_jobs, scan_parallel, state_tuple

TASK = "grid.train"
KINDS = ("done", "done-nan", "done-no-events", "done-not-final", "failed", "never-ran",
         "done-retried", "queued", "failed-no-events")
# Jobs without event file; "queued" has no folder (made when the job starts).
NO_EVENTS = ("done-no-events", "never-ran", "queued", "failed-no-events")


def _write_workspace(ws, n: int) -> None:
    """A workspace of ``n`` job folders as xpm_nb leaves them, of every kind in KINDS."""
    run = new_run_folder(ws, "grid")
    lines = []
    for i in range(n):
        kind, job_id = KINDS[i % len(KINDS)], f"{i:064x}"
        path = ws / "jobs" / TASK / job_id
        lines.append(json.dumps({"job_id": job_id, "task_id": TASK,
                                 "tags": {"i": i, "kind": kind}, "timestamp": 90.0 + i}))
        if kind == "queued":
            continue
        (path / ".experimaestro" / "events").mkdir(parents=True)
        base = {"job_id": job_id, "task_id": TASK}
        events = [{**base, "event_type": "JobStateChangedEvent", "state": "running",
                   "timestamp": 100.0 + i}]
        if kind == "done-retried":  # a first run that failed, then a second one
            events += [{**base, "event_type": "JobStateChangedEvent", "state": "error",
                        "timestamp": 101.0 + i},
                       {**base, "event_type": "JobStateChangedEvent", "state": "running",
                        "timestamp": 102.0 + i}]
        loss = float("nan") if kind == "done-nan" else 1 / (i + 1)
        events += [{**base, "event_type": "JobMetricsEvent", "step": 1,
                    "metrics": {"loss": loss}, "timestamp": 103.0 + i},
                   {**base, "event_type": "JobMetricsEvent", "step": 2,
                    "metrics": {"accuracy": i / n}, "timestamp": 104.0 + i},
                   {**base, "event_type": "JobProgressEvent", "level": 0, "progress": 0.5,
                    "timestamp": 104.0 + i}]
        if kind != "done-not-final":
            state = "error" if kind == "failed" else "done"
            events.append({**base, "event_type": "JobStateChangedEvent", "state": state,
                           "timestamp": 110.0 + i})
        if kind not in NO_EVENTS:
            (path / ".experimaestro" / "events" / "event-0.jsonl").write_text(
                "".join(json.dumps(e) + "\n" for e in events))
        if kind.startswith("failed"):
            (path / "train.failed").write_text(json.dumps({"code": 1, "reason": "boom"}))
        elif kind.startswith("done"):
            (path / "train.done").touch()
    (run / "jobs.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("scan-ws")
    _write_workspace(ws, 140)
    return ws


def _jobs(ws, n: int = 140) -> list[tuple[str, str]]:
    """Every job of the workspace, with or without a folder (a queued job)."""
    folder = ws / "jobs" / TASK
    return [(str(folder / f"{i:064x}"), "train.done") for i in range(n)]


def _plain(results: list) -> list:
    """Answers with the event states as tuples (helpers send tuples); NaN made comparable."""
    out = []
    for result in results:
        if result is not None and isinstance(result[2], eventscan.EventState):
            result = (*result[:2], state_tuple(result[2]))
        out.append(json.loads(json.dumps(result), parse_constant=str))
    return out


@pytest.fixture
def split(monkeypatch):
    """Force the split between this process and two helpers, even for a few jobs."""
    monkeypatch.setattr(eventscan, "PARALLEL_MIN", 1)
    monkeypatch.setattr(eventscan, "_HELPER_START", 0)
    monkeypatch.setattr(eventscan, "helpers_available", lambda: 2)


def test_scan_reads_markers_and_event_files(workspace):
    results = scan_jobs(_jobs(workspace))
    by_kind = {}
    for (path, _), result in zip(_jobs(workspace), results):
        by_kind.setdefault(KINDS[int(path.rsplit("/", 1)[1], 16) % len(KINDS)], result)
    assert by_kind["failed"] is None and by_kind["never-ran"] is None  # no .done
    assert by_kind["queued"] is None and by_kind["failed-no-events"] is None
    assert by_kind["done-no-events"][2] is None
    done = by_kind["done"][2]
    assert done.final and done.metrics.keys() == {"loss", "accuracy"} and done.step == 2
    assert not by_kind["done-not-final"][2].final
    assert math.isnan(by_kind["done-nan"][2].metrics["loss"])
    retried = by_kind["done-retried"][2]
    assert retried.final and retried.started == retried.ended - 8  # the second run's start


def test_helpers_give_the_same_answers(workspace, split):
    jobs = _jobs(workspace)
    assert _plain(scan_parallel(jobs)) == _plain(scan_jobs(jobs))


def test_a_failing_helper_share_is_scanned_here(workspace, split, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # helpers exit 1 at once
    jobs = _jobs(workspace)
    assert _plain(scan_parallel(jobs)) == _plain(scan_jobs(jobs))


def test_helpers_use_the_stdlib_parser_when_told(workspace, split, monkeypatch):
    monkeypatch.setattr(eventscan, "_fast_loads", json.loads)
    jobs = _jobs(workspace)
    assert _plain(scan_parallel(jobs)) == _plain(scan_jobs(jobs))


def test_frame_is_the_same_with_helpers_and_disk_cache(workspace, split, monkeypatch):
    """Split scan, serial scan, the disk cache (a new process) and a rebuild agree."""
    with monkeypatch.context() as m:
        m.setenv("XPM_NB_CACHE_DIR", "")  # no disk cache: each frame reads the files
        split_frame = xpm_nb.results(workspace, "grid")
        clear_caches()
        m.setattr(eventscan, "PARALLEL_MIN", 10**9)
        serial = xpm_nb.results(workspace, "grid")
    clear_caches()
    first = xpm_nb.results(workspace, "grid")  # writes the disk cache
    clear_caches()  # only the disk cache is left, as in a new kernel
    cached = xpm_nb.results(workspace, "grid")
    rebuilt = xpm_nb.results(workspace, "grid")
    for frame in (split_frame, first, cached, rebuilt):
        pd.testing.assert_frame_equal(frame, serial)
    rows = serial.reset_index().drop_duplicates("kind").set_index("kind")
    assert rows.loc["failed", "state"] == "error" and rows.loc["failed", "failure"] == "boom"
    assert rows.loc["never-ran", "state"] == "unscheduled"
    assert rows.loc["queued", "state"] == "unscheduled"
    assert rows.loc["failed-no-events", "failure"] == "boom"
    assert rows.loc["done-no-events", "state"] == "done"
    assert rows.loc["done", "progress"] == 1.0 and rows.loc["done", "duration"] == 10.0


def test_a_job_rewritten_after_the_cache_is_read_again(tmp_path):
    """A done job run again (new events, new .done) is re-read, not taken from a cache."""
    _write_workspace(tmp_path, 7)
    before = xpm_nb.results(tmp_path, "grid").reset_index().set_index("kind")
    folder = tmp_path / "jobs" / TASK / f"{0:064x}"  # kind "done"
    events = folder / ".experimaestro" / "events" / "event-0.jsonl"
    base = {"job_id": f"{0:064x}", "task_id": TASK}
    events.write_text("".join(json.dumps(e) + "\n" for e in (
        {**base, "event_type": "JobStateChangedEvent", "state": "running", "timestamp": 500.0},
        {**base, "event_type": "JobMetricsEvent", "step": 9, "metrics": {"loss": 0.25},
         "timestamp": 501.0},
        {**base, "event_type": "JobStateChangedEvent", "state": "done", "timestamp": 502.0})))
    marker = folder / "train.done"
    st = marker.stat()
    os.utime(marker, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    for fresh_process in (False, True):
        if fresh_process:
            clear_caches()  # a new kernel: only the disk cache is left
        row = xpm_nb.results(tmp_path, "grid").reset_index().set_index("kind").loc["done"]
        assert row["loss"] == 0.25 and row["duration"] == 2.0
        assert before.loc["done", "loss"] == 1.0


def test_a_failed_job_changed_on_disk_is_read_again(tmp_path):
    """A failed job's row is kept while its .failed marker is unchanged, not longer."""
    _write_workspace(tmp_path, 7)

    def row():
        return xpm_nb.results(tmp_path, "grid").reset_index().set_index("kind").loc["failed"]

    assert (row()["state"], row()["failure"]) == ("error", "boom")  # second call: kept
    folder = tmp_path / "jobs" / TASK / f"{4:064x}"  # kind "failed"
    marker = folder / "train.failed"
    marker.write_text(json.dumps({"code": 2, "reason": "out of memory"}))
    st = marker.stat()
    os.utime(marker, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert row()["failure"] == "out of memory"
    marker.unlink()  # run again, and done this time
    events = folder / ".experimaestro" / "events" / "event-0.jsonl"
    with events.open("a") as f:
        for state, ts in (("running", 600.0), ("done", 605.0)):
            f.write(json.dumps({"event_type": "JobStateChangedEvent", "state": state,
                                "timestamp": ts}) + "\n")
    (folder / "train.done").touch()
    assert (row()["state"], row()["duration"]) == ("done", 5.0)


def test_helpers_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("XPM_NB_RESULTS_HELPERS", "0")
    assert eventscan.helpers_available() == 0
    monkeypatch.setenv("XPM_NB_RESULTS_HELPERS", "1")
    assert eventscan.helpers_available() == min(1, len(os.sched_getaffinity(0)) - 1)


def test_disk_cache_is_written_by_a_process_that_exits_at_once(workspace, tmp_path):
    """The cache file is written after the frame is returned; exiting writes it too."""
    import subprocess

    cache = tmp_path / "cache"
    code = f"import xpm_nb; print(len(xpm_nb.results({str(workspace)!r}, 'grid')))"
    env = dict(os.environ, XPM_NB_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    assert out.stdout.strip() == "140"
    files = list(cache.glob("*.marshal"))
    assert len(files) == 1
    import marshal

    entries = marshal.loads(files[0].read_bytes())["entries"]
    done_final = sum(1 for i in range(140) if KINDS[i % len(KINDS)] in (
        "done", "done-nan", "done-retried"))
    assert len(entries) == done_final  # every finished job with a complete event file


def _age(ws, seconds: float = 3600) -> None:
    """Every file and folder of ``ws`` modified ``seconds`` ago (jobs that settled)."""
    when = time.time() - seconds
    for folder, dirs, files in os.walk(ws):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (when, when))


def _count_scans(monkeypatch) -> list[int]:
    """The number of jobs of each call to the bulk scan (helper processes included)."""
    calls: list[int] = []
    real = scan.scan_parts

    def counting(jobs):
        calls.append(len(jobs))
        return real(jobs)

    monkeypatch.setattr(scan, "scan_parts", counting)
    return calls


def test_a_rebuild_does_not_scan_jobs_without_events_again(tmp_path, monkeypatch):
    """Queued jobs and finished jobs without event file are kept, not scanned again;
    a queued job that starts and logs a metric shows it on the next build."""
    _write_workspace(tmp_path, 3 * len(KINDS))
    _age(tmp_path)
    calls = _count_scans(monkeypatch)
    first = xpm_nb.results(tmp_path, "grid")
    assert calls == [3 * len(KINDS)]
    again = xpm_nb.results(tmp_path, "grid")
    assert calls == [3 * len(KINDS)]  # no second scan: every job was kept
    pd.testing.assert_frame_equal(again, first)
    clear_caches()  # the same rows, read again from scratch
    pd.testing.assert_frame_equal(xpm_nb.results(tmp_path, "grid"), first)

    calls.clear()
    queued = KINDS.index("queued")
    folder = tmp_path / "jobs" / TASK / f"{queued:064x}"
    (folder / ".experimaestro" / "events").mkdir(parents=True)  # the job starts
    base = {"job_id": f"{queued:064x}", "task_id": TASK}
    events = folder / ".experimaestro" / "events" / "event-0.jsonl"
    with events.open("w") as f:
        for event in ({**base, "event_type": "JobStateChangedEvent", "state": "running",
                       "timestamp": 700.0},
                      {**base, "event_type": "JobMetricsEvent", "step": 3,
                       "metrics": {"loss": 0.125}, "timestamp": 701.0}):
            f.write(json.dumps(event) + "\n")

    def row():
        return xpm_nb.results(tmp_path, "grid").reset_index().set_index("i").loc[queued]

    assert row()["loss"] == 0.125
    assert calls == [1]  # only the job that changed
    with events.open("a") as f:
        f.write(json.dumps({**base, "event_type": "JobStateChangedEvent", "state": "done",
                            "timestamp": 704.0}) + "\n")
    (folder / "train.done").touch()
    assert (row()["state"], row()["duration"], row()["loss"]) == ("done", 4.0, 0.125)


def test_a_job_without_events_changed_in_place_is_read_again(tmp_path):
    """A kept job without event file is read again when a marker is rewritten in
    place (the folder's own mtime does not change then)."""
    _write_workspace(tmp_path, len(KINDS))
    _age(tmp_path)

    def rows():
        return xpm_nb.results(tmp_path, "grid").reset_index().set_index("kind")

    before = rows()
    assert rows().loc["failed-no-events", "failure"] == "boom"  # second build: kept
    folder = tmp_path / "jobs" / TASK / f"{KINDS.index('failed-no-events'):064x}"
    (folder / "train.failed").write_text(json.dumps({"code": 2, "reason": "out of memory"}))
    done = tmp_path / "jobs" / TASK / f"{KINDS.index('done-no-events'):064x}" / "train.done"
    os.utime(done, (1000.0, 1000.0))
    after = rows()
    assert after.loc["failed-no-events", "failure"] == "out of memory"
    assert after.loc["done-no-events", "ended"].timestamp() == 1000.0
    assert before.loc["done-no-events", "ended"] != after.loc["done-no-events", "ended"]


def test_a_job_with_a_process_is_not_kept(tmp_path, monkeypatch):
    """A job without event file whose .pid names a process is read on each build
    (the process may end without any file changing)."""
    _write_workspace(tmp_path, len(KINDS))
    folder = tmp_path / "jobs" / TASK / f"{KINDS.index('never-ran'):064x}"
    (folder / "train.pid").write_text(json.dumps({"pid": os.getpid()}))  # alive: this one
    _age(tmp_path)
    calls = _count_scans(monkeypatch)
    frame = xpm_nb.results(tmp_path, "grid").reset_index().set_index("kind")
    assert frame.loc["never-ran", "state"] == "running"
    xpm_nb.results(tmp_path, "grid")
    assert calls == [len(KINDS), 1]  # every job, then only the one with a process
