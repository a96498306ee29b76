"""Fault 8: a workspace as untrusted input (issue #18).

Reading a workspace (``results()``, ``xpm-nb jobs list``, ``xpm-nb experiments
list``) runs none of its code by default, never blocks on a FIFO nor reads a
link to ``/dev/zero`` without end, and one bad job (a file of the wrong kind,
wrong JSON types, ids leaving the workspace) is reported and skipped, not a
traceback for the whole listing.

The workspaces are made by hand (no job process runs: the tests are about
reading). Every read runs in a subprocess with a timeout and a memory limit,
so that a regression fails the test instead of hanging it or exhausting the
machine's memory.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from relhelpers import isolated_env  # noqa: F401 - autouse fixture

from support.paths import pythonpath

TASKS = textwrap.dedent(
    """
    from xpm_nb import Config, Param, Task

    class Model(Config):
        hidden: Param[int]

    class Scored(Task):
        model: Param[Model]
        x: Param[int]

        def execute(self):
            pass

        def results(self):
            return {"score": 2.0 * self.x}
    """
)

TASK_ID = "wsin_tasks.scored"
NAME = "scored"  # of the marker files


class _Payload:
    """Unpickling it creates the marker file: proof that workspace code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _env(code: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath(code, base=env.get("PYTHONPATH", ""))
    env.pop("XPM_NB_DEBUG", None)
    return env


def _limit_memory() -> None:  # in the child: a read of /dev/zero ends in MemoryError
    limit = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _run(args: list[str], code: Path, cwd: Path, timeout: float = 60):
    try:
        return subprocess.run(args, capture_output=True, text=True, env=_env(code), cwd=cwd,
                              timeout=timeout, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(map(str, args[-4:]))} did not finish in {timeout} s (hung)")


RESULTS = textwrap.dedent(
    """
    import json, sys, warnings
    import wsin_tasks  # the user's task classes: imported, as in a notebook
    import xpm_nb
    ws, task_results = sys.argv[1], json.loads(sys.argv[2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = xpm_nb.results(ws, task_results=task_results).reset_index()
    def v(value):  # NaN (a missing value) as None
        return None if value != value else value
    print(json.dumps({
        "rows": {str(r["x"]): {"state": r["state"], "score": v(r.get("score")),
                               "progress": v(r["progress"])}
                 for r in df.to_dict("records")},
        "columns": list(df.columns),
        "warnings": [str(w.message) for w in caught],
    }, default=str))
    """
)


def _results(ws: Path, code: Path, task_results=None) -> dict:
    script = code / "read_results.py"
    script.write_text(RESULTS)
    proc = _run([sys.executable, str(script), str(ws), json.dumps(task_results)], code, ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def _cli(ws: Path, code: Path, *args: str) -> subprocess.CompletedProcess:
    proc = _run([sys.executable, "-m", "xpm_nb.cli", *args, "--workdir", str(ws)], code, ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def code(tmp_path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "wsin_tasks.py").write_text(TASKS)
    return folder


def _make_job(ws: Path, run: Path, x: int, state: str = "done") -> Path:
    """A job folder of ``Scored(x=x)`` in ``state`` (done, error) with an event file,
    its status.json and a jobs.jsonl line in ``run``."""
    job_id = f"{x:064x}"
    folder = ws / "jobs" / TASK_ID / job_id
    (folder / ".experimaestro" / "events").mkdir(parents=True)
    objects = [
        {"id": 0, "module": "wsin_tasks", "type": "Model", "typename": "wsin_tasks.model",
         "fields": {"hidden": 1}},
        {"id": 1, "module": "wsin_tasks", "type": "Scored", "typename": TASK_ID,
         "fields": {"model": {"type": "python", "value": 0}, "x": x}, "task": 1},
    ]
    (folder / "params.json").write_text(json.dumps(
        {"workspace": str(ws), "version": 3, "objects": objects}))
    events = [
        {"event_type": "JobStateChangedEvent", "state": "running", "timestamp": 1000.0 + x},
        {"event_type": "JobMetricsEvent", "metrics": {"loss": 0.5}, "step": 1,
         "timestamp": 1001.0 + x},
        {"event_type": "JobStateChangedEvent", "state": state, "timestamp": 1002.0 + x},
    ]
    (folder / ".experimaestro" / "events" / "event-0.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events))
    (folder / ".experimaestro" / "status.json").write_text(json.dumps(
        {"state": state, "submitted_time": 999.0 + x, "tags": {"x": x}}))
    if state == "done":
        (folder / f"{NAME}.done").touch()
    else:
        (folder / f"{NAME}.failed").write_text(json.dumps({"code": 1, "reason": "diverged"}))
    with open(run / "jobs.jsonl", "a") as f:
        f.write(json.dumps({"job_id": job_id, "task_id": TASK_ID, "tags": {"x": x},
                            "timestamp": 999.0 + x}) + "\n")
    return folder


def _make_ws(tmp_path: Path, xs=(1, 2), failed=(3,), experiment="grid") -> tuple[Path, Path]:
    ws = tmp_path / "ws"
    run = ws / "experiments" / experiment / "20260101-000000"
    run.mkdir(parents=True, exist_ok=True)
    (ws / ".__experimaestro__").touch()
    current = ws / "experiments" / experiment / "current"
    if not current.is_symlink():
        current.symlink_to(run.name)
    (run / "status.json").write_text(json.dumps({"status": "done", "hostname": "h",
                                                 "last_updated": 1000.0}))
    for x in xs:
        _make_job(ws, run, x)
    for x in failed:
        _make_job(ws, run, x, "error")
    return ws, run


def _job(ws: Path, x: int) -> Path:
    return ws / "jobs" / TASK_ID / f"{x:064x}"


# --- 1. no code from the workspace ---------------------------------------------------


class TestNoWorkspaceCode:
    def _plant(self, ws: Path, code: Path, tmp_path: Path) -> tuple[Path, Path]:
        """Job 1 (done) gets a classes.pkl that writes a marker when unpickled and a
        params.json naming a module (importable here) that writes another on import."""
        pickled, imported = tmp_path / "pickle-ran", tmp_path / "import-ran"
        (code / "planted_wsin.py").write_text(textwrap.dedent(f"""
            open({str(imported)!r}, "w").write("pwned")
            from xpm_nb import Config
            class Thing(Config):
                pass
            """))
        folder = _job(ws, 1)
        (folder / "classes.pkl").write_bytes(pickle.dumps({"x:y": _Payload(pickled)}))
        params = json.loads((folder / "params.json").read_text())
        params["objects"].insert(0, {"id": 99, "module": "planted_wsin", "type": "Thing",
                                     "typename": "planted_wsin.thing", "fields": {}})
        (folder / "params.json").write_text(json.dumps(params))
        return pickled, imported

    def test_default_results_and_listings_run_no_workspace_code(self, tmp_path, code):
        """results() (default), `xpm-nb jobs list` (text, JSON) and `experiments list`
        neither unpickle classes.pkl nor import a module params.json names; results()
        still gives the values of the clean job (its classes are imported here) and
        says which module the other one needs."""
        ws, _ = _make_ws(tmp_path)
        pickled, imported = self._plant(ws, code, tmp_path)
        out = _results(ws, code)
        assert not pickled.exists(), "results() unpickled the workspace's classes.pkl"
        assert not imported.exists(), "results() imported a module the workspace names"
        assert out["rows"]["2"]["score"] == 4.0  # a clean job: values by default
        assert out["rows"]["1"]["state"] == "done" and out["rows"]["1"]["score"] is None
        assert any("planted_wsin" in w and "task_results=True" in w for w in out["warnings"])
        for args in (["jobs", "list"], ["jobs", "list", "--json"], ["experiments", "list"]):
            _cli(ws, code, *args)
        assert not pickled.exists() and not imported.exists()

    def test_task_results_true_imports_but_never_unpickles(self, tmp_path, code):
        """task_results=True (a workspace the caller trusts) imports the modules
        params.json names, but never unpickles classes.pkl."""
        ws, _ = _make_ws(tmp_path)
        pickled, imported = self._plant(ws, code, tmp_path)
        out = _results(ws, code, task_results=True)
        assert not pickled.exists(), "classes.pkl was unpickled"
        assert imported.exists()  # documented: True runs the modules params.json names
        assert out["rows"]["1"]["score"] == 2.0 and out["rows"]["2"]["score"] == 4.0

    def test_payload_is_live(self, tmp_path, code):
        """Control: the planted pickle does run when unpickled (the tests above can fail)."""
        ws, _ = _make_ws(tmp_path)
        pickled, _ = self._plant(ws, code, tmp_path)
        pickle.loads((_job(ws, 1) / "classes.pkl").read_bytes())
        assert pickled.exists()


# --- 9. FIFOs and links to /dev/zero ----------------------------------------------------

# file -> (path in the workspace, the job it belongs to (None: the run), what is read)
TARGETS = {
    "events": lambda ws, run: _job(ws, 1) / ".experimaestro" / "events" / "event-0.jsonl",
    "job status.json": lambda ws, run: _job(ws, 1) / ".experimaestro" / "status.json",
    ".failed": lambda ws, run: _job(ws, 3) / f"{NAME}.failed",
    "pid file": lambda ws, run: _job(ws, 4) / f"{NAME}.pid",
    "params.json": lambda ws, run: _job(ws, 1) / "params.json",
    "run status.json": lambda ws, run: run / "status.json",
    "jobs.jsonl": lambda ws, run: run / "jobs.jsonl",
    "run lock": lambda ws, run: run / "lock",
}


def _replace(path: Path, kind: str) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "devzero"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_special_file_in_place_of_a_workspace_file(tmp_path, code, target, kind):
    """A FIFO (whose open would wait for a writer) or a link to /dev/zero (endless) in
    place of a file: results() (default and task_results=True), `xpm-nb jobs list` and
    `experiments list` finish, name the file, and list the other jobs."""
    if kind == "devzero" and not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    ws, run = _make_ws(tmp_path)
    _make_job(ws, run, 4)
    (_job(ws, 4) / f"{NAME}.done").unlink()  # job 4: not done, reads its pid file
    (run / "status.json").write_text(json.dumps({"status": "running"}))  # reads the lock
    (run / "lock").touch()
    path = TARGETS[target](ws, run)
    _replace(path, kind)
    try:
        _check_special(ws, run, code, target, path)
    finally:
        path.unlink()  # the suite's teardown reads pid files: no FIFO left for it


def _check_special(ws: Path, run: Path, code: Path, target: str, path: Path) -> None:
    for task_results in (None, True):
        out = _results(ws, code, task_results)
        if target == "jobs.jsonl":
            assert out["rows"] == {}  # the run's list of jobs is its jobs.jsonl
        else:
            assert out["rows"]["2"]["state"] == "done" and out["rows"]["2"]["score"] == 4.0
            assert out["rows"]["3"]["state"] == "error"
        if target in ("events", ".failed", "pid file", "run status.json", "jobs.jsonl") or (
                target == "params.json" and task_results):
            assert any(str(path) in w for w in out["warnings"]), out["warnings"]
    listing = _cli(ws, code, "jobs", "list")
    assert f"{TASK_ID}/{2:064x}" in listing.stdout
    if target in (".failed", "pid file", "job status.json", "jobs.jsonl"):
        assert str(path) in listing.stderr and "Fix" in listing.stderr
    if target == ".failed":
        assert f"ERROR       {TASK_ID}/{3:064x}" in listing.stdout
    experiments = _cli(ws, code, "experiments", "list")
    assert "grid" in experiments.stdout
    if target in ("run status.json", "jobs.jsonl"):
        assert str(path) in experiments.stderr


# --- bad input: wrong types, non-UTF-8, ids leaving the workspace, control characters ---


def _corrupt(ws: Path, run: Path, tmp_path: Path) -> None:
    """Job 1's files hold values of the wrong JSON types; the run's jobs.jsonl has
    lines of wrong types, non-UTF-8 bytes, ids with ../ and a tag with ANSI escapes."""
    job = _job(ws, 1)
    (job / ".experimaestro" / "status.json").write_text(json.dumps(
        {"submitted_time": "yesterday", "tags": [1, 2], "started_time": {"a": 1},
         "state": 5}))
    (job / ".experimaestro" / "events" / "event-0.jsonl").write_text("\n".join(json.dumps(e) for e in [
        {"event_type": "JobStateChangedEvent", "state": "running", "timestamp": "noon"},
        {"event_type": "JobProgressEvent", "progress": "half"},
        {"event_type": "JobMetricsEvent", "metrics": {"loss": "low", "acc": 0.5},
         "step": "one"},
        {"event_type": "JobMetricsEvent", "metrics": [1, 2]},
        {"event_type": "JobStateChangedEvent", "state": "done", "timestamp": 10 ** 30},
    ]) + "\n")
    _job(ws, 3).joinpath(f"{NAME}.failed").write_bytes(b'{"reason": ["a", {"b": 1}]}')
    outside = tmp_path / "outside"
    (outside / "x").mkdir(parents=True)
    (outside / "x" / f"{NAME}.done").touch()
    lines = [
        b'{"job_id": 5, "task_id": "wsin_tasks.scored"}',
        b'["not", "an", "object"]',
        b'{"job_id": "\xff\xfe", "task_id": "\xc3"}',
        b'{"job_id": "../../../outside/x", "task_id": "wsin_tasks.scored", "tags": {"x": 9}}',
        b'{"job_id": "x", "task_id": "..", "tags": {"x": 10}}',
        json.dumps({"job_id": f"{2:064x}", "task_id": TASK_ID,
                    "tags": {"x": 2, "evil": "\x1b[31mred\x1b[0m\x07", "lst": [1, 2]},
                    "timestamp": "soon"}).encode(),
        b'{"torn": ',
    ]
    with open(run / "jobs.jsonl", "ab") as f:
        f.write(b"\n".join(lines) + b"\n")


def test_corrupt_values_give_rows_not_tracebacks(tmp_path, code):
    """Wrong JSON types, non-UTF-8 lines, a torn line, a huge number, ids with ../:
    every listing finishes; the bad values are left out, each job keeps its row, and
    no job outside the workspace is listed."""
    ws, run = _make_ws(tmp_path)
    _corrupt(ws, run, tmp_path)
    out = _results(ws, code)
    assert set(out["rows"]) == {"1", "2", "3"}  # not ../outside, not the '..' task
    assert out["rows"]["1"]["state"] == "done" and out["rows"]["1"]["progress"] == 1.0
    assert out["rows"]["3"]["state"] == "error"
    assert any("../../../outside/x" in w and "never followed" in w for w in out["warnings"])
    listing = _cli(ws, code, "jobs", "list", "--tags")
    assert "\x1b" not in listing.stdout and "\x07" not in listing.stdout
    assert "\\x1b[31mred" in listing.stdout
    assert "outside" not in listing.stdout
    as_json = json.loads(_cli(ws, code, "jobs", "list", "--json").stdout)
    assert len(as_json) == 3
    failed = [j for j in as_json if j["state"] == "error"][0]
    assert isinstance(failed["reason"], str)
    _cli(ws, code, "experiments", "list")
    _cli(ws, code, "experiments", "list", "--json")


def test_control_characters_in_names_are_escaped(tmp_path, code):
    """An experiment folder named with ANSI escapes and a non-UTF-8 byte: listed with
    backslash escapes (no escape sequence reaches the terminal, no encoding error)."""
    ws, _ = _make_ws(tmp_path)
    evil = os.fsencode(ws / "experiments") + b"/red\x1b[31m\xff"
    os.makedirs(evil)
    proc = _cli(ws, code, "experiments", "list")
    assert "\x1b" not in proc.stdout
    assert "red\\x1b[31m\\xff" in proc.stdout


def test_status_files_of_the_wrong_shape_in_experiments_list(tmp_path, code):
    """A run status.json whose status is an object and whose time is out of range."""
    ws, run = _make_ws(tmp_path)
    (run / "status.json").write_text(json.dumps({"status": {"a": 1}, "hostname": [1],
                                                 "last_updated": 1e300}))
    proc = _cli(ws, code, "experiments", "list")
    assert "grid" in proc.stdout
    data = json.loads(_cli(ws, code, "experiments", "list", "--json").stdout)
    assert data[0]["status"] == '{"a": 1}'


def test_huge_status_file_is_not_read(tmp_path, code):
    """A 64 MiB status.json (sparse): not read, named on stderr; the job still listed."""
    ws, _ = _make_ws(tmp_path)
    status = _job(ws, 1) / ".experimaestro" / "status.json"
    with open(status, "wb") as f:
        f.truncate(64 << 20)
    listing = _cli(ws, code, "jobs", "list")
    assert str(status) in listing.stderr and "bytes" in listing.stderr
    assert f"DONE        {TASK_ID}/{1:064x}" in listing.stdout


def test_unreadable_jobs_folder_is_named(tmp_path, code):
    """A task folder that cannot be listed: a warning naming it; the others listed."""
    if os.geteuid() == 0:
        pytest.skip("root lists every folder")
    ws, _ = _make_ws(tmp_path)
    locked = ws / "jobs" / "other.task"
    locked.mkdir()
    locked.chmod(0)
    try:
        listing = _cli(ws, code, "jobs", "list")
        assert str(locked) in listing.stderr
        assert f"{TASK_ID}/{2:064x}" in listing.stdout
    finally:
        locked.chmod(0o755)
