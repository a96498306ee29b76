"""``xpm_nb.browse(ws)``: experiments and runs read from a workspace's folders, no scheduler.

Workspaces are written by real runs in other processes: xpm_nb experiments
(two runs, a failing job, metrics), the reference experimaestro 2.7.0 (its
own virtual environment), and an xpm_nb experiment still running (a job held
by a gate file) while the browser reads it. The browser's comm records what a
front-end gets; the requests are delivered as a front-end sends them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from widget_helpers import comms, snapshot_rows  # noqa: F401 - comms: a fixture

import xpm_nb
from support.integration import need
from support.refvenv import ref_python, run_script
from xpm_nb.errors import WorkspaceError
from xpm_nb.widgets.browse import WorkspaceBrowser, browse

pytestmark = pytest.mark.usefixtures("comms")

TASKS = '''
import importlib, os, sys, time
from pathlib import Path
from typing import Optional
pkg = importlib.import_module(os.environ.get("XPM_INTEROP_PKG", "xpm_nb"))
Config, Task, Param, Meta = pkg.Config, pkg.Task, pkg.Param, pkg.Meta


class Prep(Task):
    size: Param[int]

    def execute(self):
        print("prep", self.size, file=sys.stderr, flush=True)


class Learn(Task):
    data: Param[Prep]
    lr: Param[float]
    gate: Meta[Optional[Path]] = None

    def execute(self):
        if os.environ["XPM_INTEROP_PKG"] == "xpm_nb":
            from xpm_nb import log_metrics
            for step in range(3):
                log_metrics(step=step, loss=1.0 / (1 + step * abs(self.lr)))
        while self.gate is not None and not self.gate.exists():
            time.sleep(0.05)
        if self.lr < 0:
            raise RuntimeError("negative rate")
        print("learned", self.lr, flush=True)
'''

DRIVER = '''
import importlib, os, sys
from pathlib import Path
pkg = importlib.import_module(os.environ["XPM_INTEROP_PKG"])
from bwtasks import Prep, Learn
ws, name = Path(sys.argv[1]), sys.argv[2]
rates = [float(r) for r in sys.argv[3].split(",")]
gate = Path(sys.argv[4]) if len(sys.argv) > 4 else None
with pkg.experiment(ws, name) as xp:
    prep = Prep.C(size=pkg.tag(3)).submit()
    for lr in rates:
        Learn.C(data=prep, lr=pkg.tag(lr), gate=gate).submit()
'''


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browse-scripts")
    (folder / "bwtasks.py").write_text(TASKS)
    (folder / "driver.py").write_text(DRIVER)
    return folder


def _ours(scripts: Path, ws: Path, name: str, rates: str, *gate: Path) -> subprocess.Popen:
    env = {**os.environ, "XPM_INTEROP_PKG": "xpm_nb",
           "PYTHONPATH": os.pathsep.join([str(scripts), str(Path(xpm_nb.__file__).parents[1])])}
    return subprocess.Popen([sys.executable, str(scripts / "driver.py"), str(ws), name, rates,
                             *map(str, gate)], env=env, cwd=scripts,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def our_ws(scripts, tmp_path_factory) -> Path:
    """Two runs of ``train`` (the second also fails a job), one of ``other``."""
    ws = tmp_path_factory.mktemp("browse-ours") / "ws"
    for name, rates in (("train", "0.5,0.1"), ("other", "0.2"), ("train", "0.5,0.1,-1")):
        proc = _ours(scripts, ws, name, rates)
        out, _ = proc.communicate(timeout=240)
        time.sleep(1.1)  # run ids are to the second
        assert name == "train" and rates.endswith("-1") or proc.returncode == 0, out
    return ws


def _send(widget, content: dict) -> None:
    widget.comm.from_frontend(content)  # the recording comm (the comms fixture)


def _rows(widget, gen: int) -> list[dict]:
    snaps = [m for m in widget.comm.custom("snapshot") if m.get("gen") == gen]
    assert snaps, "no snapshot for the run"
    return snapshot_rows(snaps[-1])


def test_lists_experiments_and_runs_of_our_workspace(our_ws):
    widget = browse(our_ws)
    state = widget.comm.opening_state()
    assert state["workspace"] == str(our_ws)
    by_name = {x["name"]: x for x in state["experiments"]}
    assert set(by_name) == {"train", "other"}
    assert [x["name"] for x in state["experiments"]] == ["train", "other"]  # last run first
    train = by_name["train"]
    assert train["n_runs"] == 2 and len(train["runs"]) == 2
    newest, oldest = train["runs"]
    assert newest["current"] and not oldest["current"]
    assert newest["started"] > oldest["started"]
    assert newest["counts"] == {"done": 3, "error": 1} and newest["n_jobs"] == 4
    assert oldest["counts"] == {"done": 3}
    assert train["counts"] == newest["counts"] and train["last"] == newest["started"]
    assert by_name["other"]["counts"] == {"done": 2}
    assert newest["status"] in ("done", "failed")
    # The static fallback lists the same.
    html = widget._repr_html_()
    assert "train" in html and oldest["run_id"] in html and "3 done" in html
    bundle, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle
    assert "train: 2 run(s)" in bundle["text/plain"]


def test_opens_a_past_run_rows_logs_curves_config(our_ws):
    widget = WorkspaceBrowser(str(our_ws))
    run_id = [x for x in widget.experiments if x["name"] == "train"][0]["runs"][0]["run_id"]
    _send(widget, {"type": "open", "experiment": "train", "run_id": run_id})
    assert widget.error == ""
    run = widget.run
    assert run["run_id"] == run_id and run["gen"] == 1 and run["counts"] == {"done": 3, "error": 1}
    _send(widget, {"type": "sync", "gen": 1})
    rows = _rows(widget, 1)
    assert sorted(r["name"] for r in rows) == ["Learn", "Learn", "Learn", "Prep"]
    by_lr = {r["tags"].get("lr"): r for r in rows}
    assert by_lr[0.5]["state"] == "done" and by_lr[-1.0]["state"] == "error"
    assert by_lr[0.5]["metrics"] == {"loss": pytest.approx(0.5)} and by_lr[0.5]["step"] == 2
    prep = next(r for r in rows if r["name"] == "Prep")
    assert by_lr[0.1]["deps"] == [prep["k"]]  # from params.json: the graph and "depends on"
    assert by_lr[-1.0]["started"] and by_lr[-1.0]["ended"]
    # Logs: the table's own request.
    _send(widget, {"type": "log", "k": by_lr[-1.0]["k"], "stream": "err", "gen": 1})
    log = widget.comm.custom("log")[-1]
    assert "negative rate" in log["text"] and log["gen"] == 1
    # Curves: every point of every job, from the event files.
    _send(widget, {"type": "curves_sync", "gen": 1})
    curves = widget.comm.custom("curves_snapshot")[-1]
    assert curves["metric_names"] == ["loss"]
    xs, ys = curves["curves"][str(by_lr[0.1]["k"])]["loss"]
    assert xs == [0, 1, 2] and ys[0] == 1.0
    # Configuration: params.json as a tree (the Prep it uses, nested).
    _send(widget, {"type": "config", "k": by_lr[0.1]["k"], "gen": 1})
    config = widget.comm.custom("config")[-1]
    fields = {f["name"]: f for f in config["tree"]["fields"]}
    assert config["tree"]["cls"] == "Learn" and fields["lr"]["value"] == "0.1"
    assert fields["data"]["config"]["cls"] == "Prep" and fields["lr"]["tag"]
    # Compare two jobs: only lr differs.
    _send(widget, {"type": "compare", "keys": [by_lr[0.5]["k"], by_lr[0.1]["k"]], "gen": 1})
    assert [f["path"] for f in widget.comm.custom("compare")[-1]["fields"]] == ["lr"]
    # Read only: a cancel is refused, with why.
    _send(widget, {"type": "cancel", "k": 0, "gen": 1})
    action = widget.comm.custom("action")[-1]
    assert action["ok"] is False and "read only" in action["message"]
    # A request for a run no longer shown is ignored; back to the list.
    n = len(widget.comm.custom())
    _send(widget, {"type": "sync", "gen": 99})
    assert len(widget.comm.custom()) == n
    _send(widget, {"type": "close"})
    assert widget.run == {}


def test_reads_a_workspace_written_by_the_reference(scripts, tmp_path):
    python = ref_python()
    need(python is not None, "reference venv (experimaestro 2.7.0) unavailable")
    ws = tmp_path / "refws"
    run_script(scripts / "driver.py", ws, "refxp", "0.5,0.1", package="experimaestro",
               path=[scripts], cwd=scripts)
    widget = browse(ws)
    (xp,) = widget.experiments
    assert xp["name"] == "refxp" and xp["n_runs"] == 1 and xp["status"] == "done"
    assert xp["counts"] == {"done": 3}
    widget.open_run("refxp")
    assert widget.run["counts"] == {"done": 3}
    _send(widget, {"type": "sync", "gen": widget.run["gen"]})
    rows = _rows(widget, widget.run["gen"])
    assert {r["name"] for r in rows} == {"Prep", "Learn"}
    assert {r["state"] for r in rows} == {"done"}
    assert {r["tags"].get("lr") for r in rows} == {None, 0.5, 0.1}
    learn = next(r for r in rows if r["name"] == "Learn")
    assert learn["deps"] and learn["started"] and learn["ended"]  # ISO times of the reference
    _send(widget, {"type": "log", "k": learn["k"], "stream": "out", "gen": widget.run["gen"]})
    assert "learned" in widget.comm.custom("log")[-1]["text"]
    _send(widget, {"type": "config", "k": learn["k"], "gen": widget.run["gen"]})
    tree = widget.comm.custom("config")[-1]["tree"]
    assert tree["cls"] == "Learn" and tree["id"] == learn["id"]


def test_a_job_running_in_another_process_shows_running(scripts, tmp_path):
    ws, gate = tmp_path / "ws", tmp_path / "gate"
    proc = _ours(scripts, ws, "live", "0.3", gate)
    try:
        deadline = time.time() + 120
        while not list(ws.glob("jobs/bwtasks.learn/*/learn.pid")):
            assert time.time() < deadline and proc.poll() is None, "the job never started"
            time.sleep(0.1)
        widget = browse(ws)
        (xp,) = widget.experiments
        assert xp["status"] == "running" and xp["counts"] == {"done": 1, "running": 1}
        widget.open_run("live")
        _send(widget, {"type": "sync", "gen": 1})
        states = {r["name"]: r["state"] for r in _rows(widget, 1)}
        assert states == {"Prep": "done", "Learn": "running"}
        _send(widget, {"type": "curves_sync", "gen": 1})
        gate.touch()
        proc.communicate(timeout=120)
        # A poll (the view's, while jobs are unfinished): the row that changed, new counts.
        n = len(widget.comm.custom("patch"))
        _send(widget, {"type": "poll", "gen": 1})
        (patch,) = widget.comm.custom("patch")[n:]
        learn = next(r for r in _rows(widget, 1) if r["name"] == "Learn")
        assert patch["gen"] == 1 and [r["k"] for r in patch["rows"]] == [learn["k"]]
        assert patch["rows"][0]["state"] == "done"
        assert widget.run["gen"] == 1 and widget.run["counts"] == {"done": 2}
        curves = widget.comm.custom("curves_patch")[-1]
        assert curves["set"][str(learn["k"])]["loss"][0] == [0, 1, 2]
        n = len(widget.comm.custom("patch"))
        _send(widget, {"type": "poll", "gen": 1})  # nothing changed: nothing sent
        assert len(widget.comm.custom("patch")) == n
        _send(widget, {"type": "refresh"})
        assert widget.run["gen"] == 2 and widget.run["counts"] == {"done": 2}
        assert widget.experiments[0]["status"] == "done"
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()


def test_errors_name_the_path_and_the_fix(tmp_path):
    with pytest.raises(WorkspaceError, match=r"not a workspace.*Fix: give the folder passed to experiment"):
        browse(tmp_path)
    with pytest.raises(WorkspaceError, match=r"no such folder.*Fix"):
        browse(tmp_path / "missing")
    (tmp_path / "jobs").mkdir()
    widget = browse(tmp_path)
    assert widget.experiments == [] and "0 experiment(s)" in widget._repr_html_()
    with pytest.raises(xpm_nb.errors.XPMError, match="no experiment 'nope'.*Fix"):
        widget.open_run("nope")


def test_top_level_export():
    assert xpm_nb.browse is browse
    from xpm_nb.widgets import WorkspaceBrowser as exported

    assert exported is WorkspaceBrowser
