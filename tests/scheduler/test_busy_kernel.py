"""Jobs go on while the notebook is busy, and waiting never re-enters a loop.

The scheduler runs on its own loop in a daemon thread: a cell that blocks
(``time.sleep`` standing in for loading data or fitting a model in the
kernel) does not stop jobs from starting and ending. Cells are sent to a real
ipykernel one after the other without waiting for replies, as JupyterLab's
"Run All" does, so later cells queue behind a running one.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

from support.kernel import real_kernel

pytest.importorskip("jupyter_client")

SPANS_TASK = """
import json, time
from pathlib import Path
from xpm_nb import Meta, Param, Task, experiment
from xpm_nb.launchers.direct import DirectLauncher

class Span(Task):
    index: Param[int]
    log: Meta[Path]
    seconds: Meta[float] = 1.0
    fail: Meta[bool] = False
    def execute(self):
        start = time.time()
        time.sleep(self.seconds)
        if self.fail:
            raise ValueError("asked to fail")
        with open(self.log, "a") as f:
            f.write(json.dumps([self.index, start, time.time()]) + "\\n")
"""


def _run_all(kernel, cells: list[str], timeout: float = 180) -> list[dict]:
    """Send every cell at once (like "Run All"), then collect each reply and output."""
    client = kernel.client
    ids = [client.execute(textwrap.dedent(c)) for c in cells]
    outputs: dict[str, list[str]] = {i: [] for i in ids}
    replies: dict[str, dict] = {}
    while len(replies) < len(ids):
        msg = client.get_shell_msg(timeout=timeout)
        parent = msg["parent_header"].get("msg_id")
        if parent in outputs:
            replies[parent] = msg["content"]
    # Drain iopub for the streams of each cell.
    while True:
        try:
            msg = client.get_iopub_msg(timeout=1)
        except Exception:  # noqa: BLE001 - queue.Empty: nothing left
            break
        parent = msg["parent_header"].get("msg_id")
        if parent in outputs:
            if msg["msg_type"] == "stream":
                outputs[parent].append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                outputs[parent].append("\n".join(msg["content"]["traceback"]))
    return [{"status": replies[i]["status"], "out": "".join(outputs[i])} for i in ids]


def test_jobs_run_and_end_while_a_cell_blocks(workdir, tmp_path):
    """10 jobs of 1 s on 2 slots all finish during a blocking 20 s cell."""
    log = tmp_path / "spans.log"
    with real_kernel(tmp_path) as kernel:
        results = _run_all(kernel, [
            SPANS_TASK,
            f"""
            xp = experiment({str(workdir)!r}, "busy", launcher=DirectLauncher(max_jobs=2))
            tasks = [Span.C(index=i, log=Path({str(log)!r})) for i in range(10)]
            for t in tasks:
                t.submit()
            """,
            """
            blocked_from = time.time()
            time.sleep(20)  # the kernel's thread and loop are busy here
            blocked_until = time.time()
            states = [t.__xpm__.job.state.value for t in tasks]
            print(json.dumps([blocked_from, blocked_until, states]))
            """,
            "xp.close()",
        ])
    assert [r["status"] for r in results] == ["ok"] * 4, results
    blocked_from, blocked_until, states = json.loads(results[2]["out"].strip().splitlines()[-1])
    assert states == ["done"] * 10
    spans = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(i for i, _, _ in spans) == list(range(10))
    # Jobs started and ended while the cell blocked, not only before it.
    assert sum(1 for _, start, _ in spans if start > blocked_from) >= 6
    assert max(end for _, _, end in spans) < blocked_until
    # ... and never more than the two slots at once.
    events = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 2


def test_run_all_with_experiment_block_and_queued_cells(workdir, tmp_path):
    """``with experiment(...)`` in a cell, then more cells queued behind it: all run."""
    log = tmp_path / "spans.log"
    with real_kernel(tmp_path) as kernel:
        results = _run_all(kernel, [
            SPANS_TASK,
            f"""
            with experiment({str(workdir)!r}, "with-block") as xp:
                first = [Span.C(index=i, log=Path({str(log)!r}), seconds=0.2).submit()
                         for i in range(3)]
            print("left the block", xp.failed)
            """,
            f"""
            xp2 = experiment({str(workdir)!r}, "after")
            t = Span.C(index=10, log=Path({str(log)!r}), seconds=0.2)
            t.submit()
            t.__xpm__.job.wait()
            print("job.wait", t.__xpm__.job.state.value)
            """,
            """
            await t
            await xp2
            xp2.wait()
            print("await", t.__xpm__.job.state.value)
            xp2.close()
            """,
        ])
    assert [r["status"] for r in results] == ["ok"] * 4, results
    assert "left the block False" in results[1]["out"]
    assert "job.wait done" in results[2]["out"]
    assert "await done" in results[3]["out"]


def test_failed_runs_do_not_stop_the_analysis_cells(workdir, tmp_path):
    """``await xp`` / ``xp.wait()`` with failed jobs: logged, ``xp.failed``, no exception;
    ``raise_if_failed()`` raises for those who want it."""
    log = tmp_path / "spans.log"
    with real_kernel(tmp_path) as kernel:
        results = _run_all(kernel, [
            SPANS_TASK,
            f"""
            xp = experiment({str(workdir)!r}, "grid")
            for i in range(4):
                Span.C(index=i, log=Path({str(log)!r}), seconds=0.1, fail=(i == 2)).submit()
            await xp
            xp.wait()
            print("failed:", xp.failed, len(xp.failed_jobs()))
            """,
            """
            try:
                xp.raise_if_failed()
            except Exception as exc:
                print("raised", type(exc).__name__, "asked to fail" in str(exc))
            xp.close()
            """,
        ])
    assert [r["status"] for r in results] == ["ok"] * 3, results
    assert "failed: True 1" in results[1]["out"]
    # The failure is shown in the cell, with the job's log.
    assert "asked to fail" in results[1]["out"] and "span.err" in results[1]["out"]
    assert "raised FailedExperiment True" in results[2]["out"]


def test_wait_and_await_inside_a_running_asyncio_loop(workdir, tmp_path):
    """A script whose code runs in ``asyncio.run``: blocking waits and awaits both work."""
    script = tmp_path / "inloop.py"
    script.write_text(SPANS_TASK + textwrap.dedent(f"""
        import asyncio

        async def main():
            log = Path({str(tmp_path / "spans.log")!r})
            with experiment({str(workdir)!r}, "in-loop") as xp:
                a = Span.C(index=1, log=log, seconds=0.1)
                a.submit()
                a.__xpm__.job.wait()          # blocks this loop's thread, jobs go on
                b = Span.C(index=2, log=log, seconds=0.1)
                b.submit()
                await b                        # awaited on this loop
                c = Span.C(index=3, log=log, seconds=0.1, fail=True)
                c.submit()
            print("states", [t.__xpm__.job.state.value for t in (a, b, c)], xp.failed)

        asyncio.run(main())
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "states ['done', 'done', 'error'] True" in proc.stdout
    assert "asked to fail" in proc.stderr  # the failed job is logged with its log


def test_blocking_wait_on_the_scheduler_thread_is_refused(workdir):
    """A blocking wait from the scheduler's own thread would wait forever: a clear error."""
    from xpm_nb import experiment
    from xpm_nb.errors import XPMError
    from xpm_nb.scheduler.loopthread import run_on_loop

    with experiment(workdir, "self-wait") as xp:
        async def inside():
            try:
                xp.wait()
            except XPMError as exc:
                return str(exc)
            return "no error"

        message = run_on_loop(inside()).result(30)
    assert "scheduler's thread" in message and "Fix" in message
    assert asyncio.iscoroutinefunction(inside)
