"""A job's times come from its own folder, not from when a driver looked at it.

After a kernel restart, a job still running from the dead kernel is
followed: it shows when it really started (its pid file), not the re-attach
time; a job found done shows when it ran (its ``status.json``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from support.paths import tasks_importable
from support.waiting import wait_until
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from slot_tasks import GatedSpan  # noqa: E402


def test_followed_job_keeps_its_real_start(workdir, tmp_path):
    log, gate = tmp_path / "spans.log", tmp_path / "gate"
    driver = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from xpm_nb import experiment
        from slot_tasks import GatedSpan
        xp = experiment({str(workdir)!r}, "first")
        t = GatedSpan.C(index=1, log=Path({str(log)!r}), gate=Path({str(gate)!r}))
        t.submit()
        job = t.__xpm__.job
        while job.state.value != "running":
            time.sleep(0.02)
        print("running", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert driver.stdout.readline().strip() == "running"
        time.sleep(1.0)
        killed_at = time.time()
        os.killpg(driver.pid, signal.SIGKILL)  # the kernel dies; its job goes on
        driver.wait(30)
        time.sleep(1.0)
        with experiment(workdir, "second") as xp:
            task = GatedSpan.C(index=1, log=log, gate=gate)
            task.submit()
            job = task.__xpm__.job
            wait_until(lambda: job.state is JobState.RUNNING, 60, "the job followed")
            followed_start = job.started_time
            gate.touch()
        [line] = log.read_text().splitlines()
        _, real_start, real_end = (float(x) for x in line.split())
    finally:
        gate.touch()
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert job.state is JobState.DONE and xp.jobs == [job]
    assert followed_start is not None and followed_start < killed_at - 1.0
    assert abs(followed_start - real_start) < 1.0  # its own start, not the re-attach
    assert job.ended_time >= real_end - 0.5


def test_job_found_done_shows_when_it_ran(workdir, tmp_path):
    log, gate = tmp_path / "spans.log", tmp_path / "gate"
    gate.touch()
    with experiment(workdir, "first"):
        first = GatedSpan.C(index=2, log=log, gate=gate)
        first.submit()
    ran = first.__xpm__.job
    time.sleep(1.0)
    with experiment(workdir, "again"):
        again = GatedSpan.C(index=2, log=log, gate=gate)
        again.submit()
    job = again.__xpm__.job
    assert job.state is JobState.DONE and len(log.read_text().splitlines()) == 1
    assert job.started_time == pytest.approx(ran.started_time, abs=1e-3)
    assert job.ended_time == pytest.approx(ran.ended_time, abs=1e-3)
    assert job.ended_time < time.time() - 0.9  # when it ran, not when it was found
