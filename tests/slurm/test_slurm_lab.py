"""SLURM job arrays seen from a real JupyterLab (headless Chromium) on the real test cluster.

A notebook submits a grid of held tasks to a ``SlurmLauncher`` (one ``sbatch
--array``); the test restarts the kernel from the Kernel menu mid-array and runs
all again (the new kernel finds each array task by its ``<array>_<index>`` id,
no ``sbatch`` again), and runs a grid while the next cell blocks in
``time.sleep`` (the tasks run and the job table turns them done meanwhile).

Ground truth: the jobs' own log (one JSON line per start and end, with the ids
SLURM gave the process), the ``slurm.json`` of each job folder, and every SLURM
command the kernels ran, logged by wrappers the launcher runs (``binpath``).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.jupyterlab import JupyterLabServer
from support.labserver import folder, serving
from support.labui import LabUI, output_text, sleep_cell, slept
from support.spans import events, per_task

COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol")
ARRAY_ID = re.compile(r"^(\d+)_(\d+)$")


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    yield from serving(tmp_path_factory.mktemp("lab-slurm"))


def logging_wrappers(folder: Path) -> Path:
    """``folder/bin/<command>``: append the command's name to ``folder/calls.log``, then
    run the real one. The notebook's launcher uses them as its ``binpath``."""
    bin_dir, log = folder / "bin", folder / "calls.log"
    bin_dir.mkdir()
    for name in COMMANDS:
        real = shutil.which(name) or f"/usr/bin/{name}"
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexec {real} "$@"\n')
        path.chmod(0o755)
    return bin_dir


def calls(folder: Path, name: str) -> int:
    log = folder / "calls.log"
    return log.read_text().split().count(name) if log.exists() else 0


#: Held tasks on the cluster; each logs its start and end with the ids SLURM gave it.
HEADER = '''
import json, os, time
from pathlib import Path
from typing import Optional
from xpm_nb import Meta, Param, Task, experiment
from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

LOG = Path({log!r})
RELEASE = Path({release!r})


class Held(Task):
    i: Param[int]
    seconds: Meta[float] = 0.5
    hold: Meta[Optional[Path]] = None  # the test's switch: wait for this file first

    def _log(self, event, **more):
        env = os.environ
        line = json.dumps({{"i": self.i, "event": event, "t": time.time(), "pid": os.getpid(),
                           "array": env.get("SLURM_ARRAY_JOB_ID"),
                           "index": env.get("SLURM_ARRAY_TASK_ID"), **more}}) + "\\n"
        with open(LOG, "a") as f:  # one write: lines of concurrent jobs do not mix
            f.write(line)

    def execute(self):
        start = time.time()
        self._log("start")
        while self.hold is not None and not self.hold.exists() and time.time() < start + 300:
            time.sleep(0.05)
        time.sleep(self.seconds)
        self._log("end", start=start)


cluster = SlurmLauncher(options=SlurmOptions(partition="debug", time="0:10:00"), interval=0.5,
                        launcherenv={{"SLURM_CONF": {conf!r}}}, binpath={binpath!r})
'''


def grid_cells(d: Path, conf: Path, n: int, task_args: str) -> list[str]:
    """The notebook's first cells: the task and the launcher (its log ``d/jobs.jsonl``,
    its SLURM commands logged in ``d``), then ``n`` tasks ``Held.C(i=i, <task_args>)``
    submitted to an experiment in ``d/ws``."""
    header = HEADER.format(log=str(d / "jobs.jsonl"), release=str(d / "release"),
                           conf=str(conf), binpath=str(logging_wrappers(d)))
    return [header,
            f"xp = experiment({str(d / 'ws')!r}, 'grid', launcher=cluster)\n"
            f"tasks = [Held.C(i=i, {task_args}).submit() for i in range({n})]\n"
            "xp"]


def slurm_ids(ws: Path) -> list[str]:
    """The SLURM ids the job folders of workspace ``ws`` record."""
    return sorted(json.loads(p.read_text())["jobid"] for p in ws.glob("jobs/**/slurm.json"))


def one_array(ids: list[str], n: int) -> str:
    """``ids`` are the ``n`` tasks ``<array>_<k>`` of one array: its id."""
    parts = [ARRAY_ID.match(i) for i in ids]
    assert len(ids) == n and all(parts), f"expected {n} array task ids, got {ids}"
    arrays = {m.group(1) for m in parts if m}
    assert len(arrays) == 1, f"one array expected, got {ids}"
    assert len({m.group(2) for m in parts if m}) == n, ids
    return arrays.pop()


def ran_as(log: Path) -> dict[int, str]:
    """Task -> the ``<array>_<index>`` id its process ran as (its own start log)."""
    return {e["i"]: f"{e['array']}_{e['index']}" for e in events(log, "start")}


def rows(ui: LabUI, state: str | None = None) -> int:
    sel = ".xpm-jt-row" + (f'[data-state="{state}"]' if state else "")
    return ui.page.locator(sel).count()


def row_states(ui: LabUI) -> list[str | None]:
    return [r.get_attribute("data-state") for r in ui.page.locator(".xpm-jt-row").all()]


# ---------------------------------------------------------------------------


def test_kernel_restart_mid_array_reattaches(slurm_cluster, lab_server, ui: LabUI) -> None:
    """Kernel > Restart while an array of 8 held tasks is on the cluster (some running,
    the others pending), then Run All again: the new kernel follows the same array
    tasks (no sbatch), each task ran once, all end done and the table shows them so."""
    d = folder(lab_server, "restart")
    ws, log = d / "ws", d / "jobs.jsonl"
    n = 8
    cells = [
        *grid_cells(d, slurm_cluster.conf_path, n, "hold=RELEASE"),
        "xp.wait()\n"
        "print('FINAL', [t.__xpm__.job.state.value for t in tasks])\n"
        "print('STARTED', json.dumps({t.i: t.__xpm__.job.started_time for t in tasks}))",
    ]
    nb = lab_server.write_notebook("restart/array.ipynb", cells)
    ui.open_by_url(nb)
    ui.run_all()
    # Mid-array: all 8 tasks queued as one array, some running (held), none ended.
    ui.wait(lambda: len(slurm_ids(ws)) == n and per_task(log, "start"), timeout=90,
            what="the array queued and a task running")
    ids = slurm_ids(ws)
    array = one_array(ids, n)
    assert calls(d, "sbatch") == 1
    before = per_task(log, "start")
    assert 0 < len(before) < n and not events(log, "end"), events(log)
    ui.wait(lambda: rows(ui, "running") >= 1, timeout=30, what="a running row")
    ui.shot("slurm-restart-before")

    ui.restart_kernel()
    ui.lab.wait_idle(timeout=60)
    ui.shot("slurm-restart-after-restart")
    # The dead kernel's array is still on the cluster, all its tasks.
    r = slurm_cluster.run("squeue", "-h", "-r", "-j", array, "-o", "%i|%T")
    on_cluster = dict(line.split("|") for line in r.stdout.split())
    assert sorted(on_cluster) == ids, r.stdout
    assert "RUNNING" in on_cluster.values(), on_cluster

    before_run = ui.begin_run_all()
    # The new kernel's table shows the 8 jobs on SLURM (scheduled or running) while
    # the wait cell runs; a new sbatch would come within the launcher's batch window.
    ui.wait(lambda: ui.cell_running(2) and rows(ui) == n
            and all(s in ("scheduled", "running") for s in row_states(ui)),
            timeout=60, what="the new kernel following the 8 tasks")
    time.sleep(3.0)
    ui.shot("slurm-restart-rerun-reattached")
    assert calls(d, "sbatch") == 1, "tasks submitted again after the restart"
    assert slurm_ids(ws) == ids
    assert not events(log, "end")
    (d / "release").write_text("go")
    code = ui.finish_run_all(before_run, timeout=180)
    ui.shot("slurm-restart-after-rerun")
    ui.assert_no_errors()
    assert f"FINAL {['done'] * n}" in output_text(code[-1]), output_text(code[-1])
    ui.wait_js(f"() => document.querySelectorAll('.xpm-jt-row[data-state=\"done\"]').length"
               f" === {n}", timeout=15)
    ui.shot("slurm-restart-done")

    assert calls(d, "sbatch") == 1  # the first kernel's array, nothing else
    assert per_task(log, "start") == {i: 1 for i in range(n)}, events(log)
    assert per_task(log, "end") == {i: 1 for i in range(n)}, events(log)
    assert sorted(ran_as(log).values()) == ids  # each ran as the array task its folder records
    assert len(list(ws.glob("jobs/*/*/held.done"))) == n
    # The new kernel's start times: their pid file's (their process starts just
    # before their own log line), not when the new kernel found them (the tasks
    # running since before the restart) or saw them running (the others); or, for
    # a task SLURM said running before its process wrote that file, when it did.
    shown = json.loads(output_text(code[-1]).split("STARTED", 1)[1].strip().splitlines()[0])
    for e in events(log, "start"):
        late = e["t"] - shown[str(e["i"])]
        assert 0 <= late < 5, (e, shown)


def test_array_runs_while_a_cell_sleeps(slurm_cluster, lab_server, ui: LabUI) -> None:
    """A cell submits a grid (one array) and the next blocks in ``time.sleep(30)``: the
    array tasks start and end during the sleep, and the job table shows them done
    while the sleeping cell still shows ``[*]``."""
    d = folder(lab_server, "sleep")
    ws, log = d / "ws", d / "jobs.jsonl"
    n = 6
    cells = [
        *grid_cells(d, slurm_cluster.conf_path, n, "seconds=1.0"),
        sleep_cell(30),
        "xp.wait()\n"
        "print('AFTER', [t.__xpm__.job.state.value for t in tasks].count('done'))",
    ]
    nb = lab_server.write_notebook("sleep/array_sleep.ipynb", cells)
    ui.open_by_url(nb)
    ui.page.set_viewport_size({"width": 1280, "height": 1300})  # the table and the sleeping cell
    ui.run_all()
    assert ui.done_while_cell_runs(2, n, "slurm-sleep", timeout=60), \
        "the table showed the tasks done only after the sleeping cell"

    ui.lab.wait_idle(timeout=90)
    code = ui.code_cells()
    assert all(c["count"] is not None for c in code), [c["prompt"] for c in code]
    ui.assert_no_errors()
    sleep_start, sleep_end = slept(code[2])
    ids = slurm_ids(ws)
    one_array(ids, n)
    assert calls(d, "sbatch") == 1
    starts, ends = events(log, "start"), events(log, "end")
    assert per_task(log, "start") == per_task(log, "end") == {i: 1 for i in range(n)}, \
        events(log)
    assert sorted(ran_as(log).values()) == ids
    # Submitted by the cell before; queued, run and ended on SLURM while the next slept.
    assert all(sleep_start < e["t"] for e in starts), (sleep_start, starts)
    assert all(e["t"] < sleep_end for e in ends), (sleep_end, ends)
    assert f"AFTER {n}" in output_text(code[3])
    ui.shot("slurm-sleep-end")
