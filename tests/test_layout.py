"""``xpm_nb.layout``: the one reading of a job folder's records, and the jobs.jsonl rule."""

from __future__ import annotations

import json
import os
import socket

from xpm_nb.layout import (
    ERROR,
    RUNNING,
    JobPaths,
    RunPaths,
    WorkspacePaths,
    folder_state,
    parse_jobs_lines,
    parse_pid_file,
    pid_content,
    pid_is_live,
)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _state(paths: JobPaths):
    return folder_state(paths, os.path.exists, _read,
                        lambda info: pid_is_live(info, socket.gethostname(), lambda pid: True))


def test_names_match_the_shared_layout(tmp_path):
    ws = WorkspacePaths(tmp_path)
    job = ws.job_paths("pkg.mod.train", "ab" * 32)
    assert job.path == tmp_path / "jobs" / "pkg.mod.train" / ("ab" * 32)
    assert (job.done.name, job.failed.name, job.pid.name) == ("train.done", "train.failed",
                                                               "train.pid")
    assert job.events == job.path / ".experimaestro" / "events" / "event-0.jsonl"
    assert job.workspace == tmp_path
    run = ws.experiment("grid").run("20260101_000000")
    assert run.jobs_jsonl == tmp_path / "experiments" / "grid" / "20260101_000000" / "jobs.jsonl"
    assert RunPaths(run.path).workspace == tmp_path and run.experiment == "grid"


def test_damaged_markers_give_a_state_not_an_error(tmp_path):
    paths = JobPaths(tmp_path, "train")
    assert _state(paths) == (None, {})
    paths.failed.write_bytes(b"\xff not json")
    assert _state(paths) == (ERROR, {"reason": "failed (unreadable .failed file)"})
    paths.failed.write_text(json.dumps({"code": 2, "reason": ["a", 1]}))
    assert _state(paths) == (ERROR, {"code": 2, "reason": '["a", 1]'})
    paths.failed.unlink()
    paths.pid.write_text(pid_content())
    state, info = _state(paths)
    assert state == RUNNING and info["pid"] == os.getpid()


def test_pid_file_parser():
    assert parse_pid_file(b'{"pid": "42", "host": "h"}') == {"pid": 42, "host": "h"}
    for bad in (None, b"", b"[1]", b'{"pid": 4.5}', b'{"pid": true}', b"\xff"):
        assert parse_pid_file(bad) is None, bad
    # A pid another host runs is trusted; a pid out of range is never "live".
    assert pid_is_live({"pid": 7, "host": "other"}, "me", lambda pid: False) == 7
    assert pid_is_live({"pid": 0}, "me", lambda pid: True) is None


def test_jobs_jsonl_rule():
    """Complete lines only; corrupt lines and ids that leave the workspace skipped."""
    notes = []
    good = {"job_id": "a" * 64, "task_id": "m.t", "tags": {"x": 1}, "timestamp": 5}
    blob = b"\n".join([
        json.dumps(good).encode(),
        b'{"torn": ',
        b'["not", "an", "object"]',
        b'{"job_id": "../x", "task_id": "m.t"}',
        json.dumps({**good, "job_id": "b" * 64, "tags": [1], "timestamp": "noon"}).encode(),
        b'{"job_id": "c", "task_id": "m.t"',  # the last line, still being written
    ])
    jobs, read = parse_jobs_lines(blob, "jobs.jsonl", notes.append)
    assert [(j.job_id, j.tags, j.timestamp) for j in jobs] == [("a" * 64, {"x": 1}, 5.0),
                                                                ("b" * 64, {}, None)]
    assert read == blob.rfind(b"\n") + 1
    assert len(notes) == 1 and "'../x'" in notes[0] and "never followed" in notes[0]
