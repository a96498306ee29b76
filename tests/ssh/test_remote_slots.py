"""Job slots of an SSH host (the real sshd): counted in a file of that host."""

from __future__ import annotations

import asyncio
import json
import socket
from types import SimpleNamespace

from remote_tasks import Emit
from ssh_helpers import ssh_url

from xpm_nb import experiment
from xpm_nb.launchers.direct import DirectLauncher
from xpm_nb.launchers.slots import JobSlots
from xpm_nb.scheduler.jobs import JobState


def _slot_file(remote_root):
    """The host's slot file (the sshd runs on this machine: same host name)."""
    return remote_root / "share" / "slots" / f"{socket.gethostname()}.json"


def _runs(log) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def test_remote_pool_counts_on_the_host(connector, remote_root, guard):
    """acquire / follow / release through the connection's agent, in the host's file."""
    connector._localpath = str(remote_root / "share")
    jobs = [SimpleNamespace(path=remote_root / "jobs" / name) for name in "abc"]

    async def main():
        one, two = JobSlots(1, connector=connector), JobSlots(2, connector=connector)
        await one.acquire(jobs[0])
        await asyncio.wait_for(two.follow(jobs[1]), 60)  # full for both: recorded at once
        assert one.running() == two.running() == 2
        blocked = asyncio.create_task(two.acquire(jobs[2]))
        await asyncio.sleep(0.5)
        assert not blocked.done()
        await one.release(jobs[0])
        await asyncio.wait_for(blocked, 60)
        await two.release(jobs[1])
        await two.release(jobs[2])
        return one.running()

    with guard:
        assert asyncio.run(main()) == 0
    assert json.loads(_slot_file(remote_root).read_text()) == {}


def test_remote_max_jobs_runs_one_job_at_a_time(connector, remote_root, guard):
    ws, log = remote_root / "ws", remote_root / "log.txt"
    connector._localpath = str(remote_root / "share")
    with guard:
        launcher = DirectLauncher(connector, max_jobs=1)
        with experiment(ssh_url(connector, ws), "slots", launcher=launcher) as xp:
            for value in (1, 2, 3):
                Emit.C(value=value, log=log, sleep=0.5).submit()
    assert all(j.state is JobState.DONE for j in xp.jobs)
    runs = sorted(_runs(log), key=lambda r: float(r[3]))
    assert sorted(r[0] for r in runs) == ["1", "2", "3"]
    assert all(float(a[4]) <= float(b[3]) for a, b in zip(runs, runs[1:]))  # one at a time
    assert json.loads(_slot_file(remote_root).read_text()) == {}
