"""The scheduler's own loop, seen from JupyterLab: jobs go on while cells block,
queued cells after a blocking ``with experiment`` run, and job slots hold
across a kernel restart made from the Kernel menu.

Each notebook is written by the test, opened by URL, run with Run > Run All
Cells; the jobs write their own start and end times to a file (one JSON line
each, appended in one write), which is the ground truth for timing checks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from infra.jupyterlab import JupyterLabServer
from support.labserver import folder, serving
from support.labui import LabUI, output_text, sleep_cell, slept
from support.spans import events, max_overlap, per_task, spans_by_task


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    yield from serving(tmp_path_factory.mktemp("lab-scheduler"))


#: A task that sleeps and records its time span (and the pid) in ``log``.
SLEEPER = '''
import json, os, time
from pathlib import Path
from typing import Optional
from xpm_nb import Meta, Param, Task, experiment
from xpm_nb.launchers.direct import DirectLauncher

LOG = Path({log!r})


class Sleep(Task):
    i: Param[int]
    seconds: Meta[float] = 2.0
    hold: Meta[Optional[Path]] = None  # the test's switch: wait for this file first

    def execute(self):
        start = time.time()
        line = json.dumps({{"i": self.i, "event": "start", "t": start, "pid": os.getpid()}}) + "\\n"
        with open(LOG, "a") as f:
            f.write(line)
        while self.hold is not None and not self.hold.exists() and time.time() < start + 120:
            time.sleep(0.05)
        time.sleep(self.seconds)
        line = json.dumps({{"i": self.i, "event": "end", "start": start, "t": time.time(),
                           "pid": os.getpid()}}) + "\\n"
        with open(LOG, "a") as f:
            f.write(line)
'''


# ---------------------------------------------------------------------------


def test_queued_cells_after_blocking_with_experiment_run(lab_server, ui: LabUI) -> None:
    """``with experiment(...)`` blocks its cell until the jobs end; the cells
    queued behind it by Run All all run (no nested loop swallows one)."""
    d = folder(lab_server, "with-block")
    log = d / "times.jsonl"
    cells = [
        SLEEPER.format(log=str(log)),
        "with experiment(Path('ws').absolute(), 'x', launcher=DirectLauncher(max_jobs=2)) as xp:\n"
        "    tasks = [Sleep.C(i=i, seconds=0.5) for i in range(3)]\n"
        "    for t in tasks:\n"
        "        t.submit()\n"
        "states = [t.__xpm__.job.state.value for t in tasks]\n"
        "print('with block ended:', states)",
        "a = 1\nprint('a', a)",
        "b = a + 1\nb",
        "import time\ntime.sleep(0.3)\nc = b + 1\nprint('c', c)",
        "d = [c] * 3\nlen(d)",
        "print('LAST CELL RAN', a + b + c, states)",
    ]
    nb = lab_server.write_notebook("with-block/with_block.ipynb", cells)
    ui.open_by_url(nb)
    code = ui.run_all_and_wait(timeout=90)
    ui.shot("with-block-after-run-all")
    ui.assert_no_errors()
    assert [c["count"] for c in code] == list(range(1, len(cells) + 1)), [c["prompt"] for c in code]
    assert "with block ended: ['done', 'done', 'done']" in output_text(code[1])
    assert "LAST CELL RAN 6 ['done', 'done', 'done']" in output_text(code[-1])
    assert sorted(spans_by_task(log)) == [0, 1, 2]


def test_jobs_run_and_widget_updates_while_a_cell_sleeps(lab_server, ui: LabUI) -> None:
    """10 jobs of 2 s on 2 slots all finish while a cell blocks in ``time.sleep(20)``,
    and the job table in the page shows them done while that cell still runs."""
    d = folder(lab_server, "sleep-cell")
    log = d / "times.jsonl"
    n = 10
    cells = [
        SLEEPER.format(log=str(log)),
        "xp = experiment(Path('ws').absolute(), 'block', launcher=DirectLauncher(max_jobs=2))\n"
        f"tasks = [Sleep.C(i=i).submit() for i in range({n})]\n"
        "xp",
        sleep_cell(20),
        "xp.wait()\n"
        "print('AFTER', [t.__xpm__.job.state.value for t in tasks].count('done'))",
    ]
    nb = lab_server.write_notebook("sleep-cell/sleep_cell.ipynb", cells)
    ui.open_by_url(nb)
    ui.page.set_viewport_size({"width": 1280, "height": 1300})  # the table and the sleeping cell
    ui.run_all()
    assert ui.done_while_cell_runs(2, n, "sleep-cell", timeout=40), \
        "the table showed the jobs done only after the sleeping cell ended"

    ui.lab.wait_idle(timeout=60)
    code = ui.code_cells()
    assert all(c["count"] is not None for c in code), [c["prompt"] for c in code]
    ui.assert_no_errors()
    sleep_start, sleep_end = slept(code[2])
    sp = spans_by_task(log)
    assert sorted(sp) == list(range(n)), sp
    assert all(len(v) == 1 for v in sp.values()), sp
    ends = [e for v in sp.values() for _, e in v]
    assert max(ends) < sleep_end, (max(ends), sleep_end)
    # Most of the jobs started while the cell slept: the scheduler was not waiting for it.
    assert sum(1 for v in sp.values() for s, _ in v if s > sleep_start) >= n - 2
    assert max_overlap([s for v in sp.values() for s in v]) <= 2
    assert f"AFTER {n}" in output_text(code[3])
    ui.shot("sleep-cell-end")


def test_kernel_restart_mid_grid_keeps_slots(lab_server, ui: LabUI) -> None:
    """Kernel > Restart while a grid of 6 jobs runs on 2 slots, then Run All again:
    never more than 2 jobs at once across both kernels (the dead kernel's jobs,
    still running, hold their slots), each job ran once, all done."""
    d = folder(lab_server, "restart")
    log = d / "times.jsonl"
    release = d / "release"
    n = 6
    cells = [
        SLEEPER.format(log=str(log)),
        "xp = experiment(Path('ws').absolute(), 'grid', launcher=DirectLauncher(max_jobs=2))\n"
        # 3-3.5 s each; the first two also wait for the test's release file, so
        # they are still running when the new kernel submits the grid again.
        f"tasks = [Sleep.C(i=i, seconds=3 + (i % 2) * 0.5, hold=RELEASE if i < 2 else None).submit()"
        f" for i in range({n})]\n"
        "xp",
        "xp.wait()\n"
        "states = [t.__xpm__.job.state.value for t in tasks]\n"
        "print('FINAL', states, 'retries', [t.__xpm__.job.retry_count for t in tasks])",
    ]
    cells[0] += f"\nRELEASE = Path({str(release)!r})\n"
    nb = lab_server.write_notebook("restart/grid.ipynb", cells)
    ui.open_by_url(nb)
    ui.run_all()
    # Wait until the first jobs run (two started, none ended): mid-grid.
    ui.wait(lambda: sum(per_task(log, "start").values()) >= 2, timeout=30,
            what=lambda: f"two jobs started: {events(log)}")
    ui.shot("restart-before")
    before = events(log)
    t_restart = time.time()
    ui.restart_kernel()
    ui.lab.wait_idle(timeout=60)
    t_idle = time.time()
    ui.shot("restart-after-restart")
    before_run = ui.begin_run_all()
    # The grid is submitted again (the wait cell runs) while jobs 0 and 1 of the
    # dead kernel still hold their slots: nothing else may start.
    ui.wait(lambda: ui.code_cells()[2]["prompt"] == "[*]:", timeout=60, what="the wait cell running")
    time.sleep(2.0)
    ui.shot("restart-rerun-waiting-for-slots")
    started = per_task(log, "start")
    assert started == {0: 1, 1: 1}, f"jobs started while the dead kernel's jobs held both slots: {started}"
    release.write_text("go")
    t_release = time.time()
    code = ui.finish_run_all(before_run, timeout=120)
    ui.shot("restart-after-rerun")
    ui.assert_no_errors()
    final = output_text(code[-1])
    assert "FINAL ['done', 'done', 'done', 'done', 'done', 'done']" in final, final
    page = ui.page
    page.wait_for_function(
        f"() => document.querySelectorAll('.xpm-jt-row[data-state=\"done\"]').length === {n}",
        timeout=10_000)

    logged = events(log)
    t0 = min(e["t"] for e in logged)
    print(f"restart at {t_restart - t0:.1f}s, new kernel idle at {t_idle - t0:.1f}s, "
          f"released at {t_release - t0:.1f}s; jobs: "
          + " ".join(f"{e['i']}{e['event'][0]}@{e['t'] - t0:.1f}" for e in logged))
    assert any(e["event"] == "start" for e in before) and len(before) < 2 * n, before
    assert per_task(log, "start") == {i: 1 for i in range(n)}, logged  # each job ran once
    sp = spans_by_task(log)
    assert {i: len(v) for i, v in sp.items()} == {i: 1 for i in range(n)}, logged
    most = max_overlap([s for v in sp.values() for s in v])
    assert most <= 2, f"{most} jobs ran at once across the two kernels: {json.dumps(logged)}"
    ws = d / "ws" / "jobs"
    assert len(list(ws.glob("*/*/sleep.done"))) == n
