"""The run lock of an experiment on a remote workspace: held on the host (by the
connection's agent) while the experiment is open, taken again after the link is
cut and re-established, released at close."""

from __future__ import annotations

import logging
import subprocess
import sys

from ssh_helpers import no_guard, ssh_url

from support.locks import held_elsewhere, listed_status
from support.waiting import wait_until
from xpm_nb import experiment
from xpm_nb.connectors.ssh import connector as ssh_connector

# A process of the host that takes the lock (waiting for it) and keeps it until stdin ends.
TAKER = """
import sys, fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
lock.acquire()
print("taken", flush=True)
sys.stdin.read()
"""


def _gone(pid: int) -> bool:
    """The process has exited (a zombie holds no lock)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _assert_released(lock, ws) -> None:
    """After close: the lock is free on the host and the run listed done."""
    with no_guard():
        assert not held_elsewhere(lock)
        assert listed_status(ws) == "done"


def test_the_run_lock_is_held_on_the_host_while_open(connector, remote_root, guard):
    ws = remote_root / "ws"
    with guard:
        xp = experiment(ssh_url(connector, ws), "remote-lock", project_paths=[])
        try:
            lock = ws / "experiments" / "remote-lock" / xp.run_path.name / "lock"
            with no_guard():
                assert held_elsewhere(lock)
                assert listed_status(ws) == "running"
        finally:
            xp.close()
        _assert_released(lock, ws)


def test_the_run_lock_is_taken_again_after_the_link_is_cut(
        connector, sshd_running, remote_root, guard):
    """The agent dies with the cut link; the connector reconnects by itself (the open
    experiment makes no call) and its new agent holds the run lock again."""
    ws = remote_root / "ws"
    with guard:
        xp = experiment(ssh_url(connector, ws), "cut-lock", project_paths=[])
        try:
            lock = ws / "experiments" / "cut-lock" / xp.run_path.name / "lock"
            old_agent = connector.keeper_pid()
            generation = connector.session.generation
            sshd_running.kill_sessions()  # the agent goes with its session
            wait_until(lambda: _gone(old_agent), 120, "the old agent to end", step=0.05)
            # No call of ours: the connector notices the drop and reconnects itself.
            wait_until(lambda: connector.session.generation > generation, 120, "the reconnection",
                       step=0.05)
            # Served once the new agent holds the locks again.
            assert connector.keeper_pid() != old_agent
            with no_guard():
                assert held_elsewhere(lock)
                assert listed_status(ws) == "running"
        finally:
            xp.close()
        _assert_released(lock, ws)


def test_a_lock_taken_by_another_process_meanwhile_is_lost(
        connector, sshd_running, remote_root, guard, monkeypatch, caplog):
    """While the link is down a process of the host takes the lock: the new agent does
    not wait for it for ever, the lock is marked lost, and releasing it leaves the
    other process's lock alone."""
    monkeypatch.setattr(ssh_connector, "RETAKE_GRACE", 0.5)
    path = remote_root / "job" / "launch.lock"
    with guard:
        lock = connector.lock(path)
        lock.acquire()
        with no_guard():
            assert held_elsewhere(path)
        sshd_running.stop()  # every connection cut (the agent with it), none accepted
        taker = subprocess.Popen([sys.executable, "-c", TAKER, str(path)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert taker.stdout.readline().strip() == "taken"
            sshd_running.start()
            with caplog.at_level(logging.WARNING, logger="xpm_nb.ssh"):
                connector.keeper_pid()  # a new agent: it tried to take the lock again
            assert lock.lost
            assert any("another process took it meanwhile" in r.getMessage()
                       for r in caplog.records)
            lock.release()
            with no_guard():
                assert held_elsewhere(path)  # still the other process's
        finally:
            taker.communicate("", timeout=60)
        with no_guard():
            assert not held_elsewhere(path)
        # Taken again normally afterwards.
        with connector.lock(path) as again:
            assert not again.lost
            with no_guard():
                assert held_elsewhere(path)
