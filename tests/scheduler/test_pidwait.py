"""Waiting for a local process to end (pidfd, or polling where there is none)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from xpm_nb.launchers.pidwait import PidWatch, wait_exit
from xpm_nb.scheduler.jobs import pid_alive


def _pidfd_works() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


PIDFD = _pidfd_works()  # True on Linux >= 5.3: the end is told, not polled


def run(coro):
    """Run ``coro``; a wait that never ends fails instead of hanging the suite."""
    return asyncio.run(asyncio.wait_for(coro, 60))


def _freed_pid() -> int:
    """The pid of a child that has ended and been reaped: it names no process."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_own_child_that_exits():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    try:
        told = run(wait_exit(child.pid))
        assert child.poll() == 0  # ended (a zombie until this reaps it)
        assert told is PIDFD
    finally:
        child.kill()
        child.wait()


def test_pid_of_no_process_returns_at_once():
    pid = _freed_pid()
    # Without polling when there are pidfds: pidfd_open says the pid is gone.
    assert run(wait_exit(pid)) is PIDFD


def test_process_of_another_parent():
    """A process started by a shell that has exited: not our child."""
    out = subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True)
    pid = int(out.stdout)
    assert pid_alive(pid)

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(wait_exit(pid))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # sleep 30 is still running
        os.kill(pid, signal.SIGTERM)
        return await waiting

    try:
        assert run(scenario()) is PIDFD
        assert not pid_alive(pid)
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_polls_without_pidfd(monkeypatch):
    """Where there is no pidfd, the process is polled until it ends."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    try:
        watch = PidWatch(child.pid, ended=lambda: child.poll() is not None)
        assert run(watch.wait()) is False  # found by polling
        assert child.returncode == 0
        # The default check (the pid is no live process) ends too.
        assert run(wait_exit(child.pid)) is False
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not PIDFD, reason="no pidfd on this system")
def test_pidfd_opened_before_the_child_is_reaped():
    """The watch made at start still tells the end after the child was reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    watch = PidWatch(child.pid)
    child.wait()  # reaped: the pid could now name another process
    assert run(watch.wait()) is True
