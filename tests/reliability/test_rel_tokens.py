"""Fault 3: tokens under load, and holders that crash."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

from relhelpers import (
    Driver,
    assert_workspace_consistent,
    isolated_env,  # noqa: F401 - autouse fixture
    log_lines,
    wait_until,
)

from support.spans import max_overlap
from xpm_nb.scheduler.jobs import pid_alive

TOKEN_DRIVER = """
from reltasks import Append, Gate
from xpm_nb import experiment
from xpm_nb.connectors.local import LocalConnector
ws, log, tokens, name = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
total, values = int(sys.argv[5]), json.loads(sys.argv[6])
release = Path(sys.argv[7]) if len(sys.argv) > 7 else None
token = LocalConnector(tokens).createtoken("gpu", total)
with experiment(ws, name) as xp:
    xp.scheduler.listeners.append(
        lambda job: print("state", job.name, job.state.value, flush=True))
    tasks = []
    for v in values:
        task = (Gate.C(name=str(v), log=log, release=release) if release
                else Append.C(value=v, log=log, sleep=0.05))
        task.add_dependencies(token.dependency(1))
        task.submit()
        tasks.append(task)
print(json.dumps([t.__xpm__.job.state.value for t in tasks]), flush=True)
"""



class _TokenSampler(threading.Thread):
    """Reads the token file again and again: the units its holders claim."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.peak = 0
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                holders = json.loads(self.path.read_text())
            except (OSError, ValueError):
                holders = {}
            self.peak = max(self.peak, sum(v[0] for v in holders.values()))
            self.samples += 1
            self.stop.wait(0.005)


def test_fifty_jobs_two_drivers_token_of_three(workdir, tmp_path):
    """50 jobs of two drivers share a token of 3: never more than 3 hold it, all run once."""
    log, tokens = tmp_path / "runs.log", tmp_path / "tokens"
    sampler = _TokenSampler(tokens / "tokens" / "gpu.token")
    sampler.start()
    drivers = [Driver(TOKEN_DRIVER, str(workdir), str(log), str(tokens), f"xp{i}", "3",
                      json.dumps(list(range(i * 25, i * 25 + 25)))) for i in range(2)]
    try:
        results = [json.loads(d.finish(timeout=240)[-1]) for d in drivers]
    finally:
        sampler.stop.set()
        sampler.join()
    assert results == [["done"] * 25] * 2, "a job was starved or failed"
    lines = log_lines(log)
    assert sorted(int(x[0]) for x in lines) == list(range(50)), "a job ran twice or never"
    spans = [(float(x[2]), float(x[3])) for x in lines]
    assert max_overlap(spans) <= 3
    assert sampler.samples > 0 and 1 <= sampler.peak <= 3
    assert json.loads((tokens / "tokens" / "gpu.token").read_text()) == {}
    assert_workspace_consistent(workdir)


class TestCrashedHolder:
    def _holder_running(self, workdir, tmp_path):
        """Driver A's gate job holds a token of 1; driver B's job waits for it."""
        log, tokens, release = tmp_path / "runs.log", tmp_path / "tokens", tmp_path / "release"
        holder = Driver(TOKEN_DRIVER, str(workdir), str(log), str(tokens), "holder", "1", "[1]",
                        str(release))
        holder.wait_for_line("state gate running")
        wait_until(lambda: log_lines(log), 60, "the gate's task running")
        gate_pid = int(json.loads(next(workdir.glob("jobs/*/*/gate.pid")).read_text())["pid"])
        waiter = Driver(TOKEN_DRIVER, str(workdir), str(log), str(tokens), "waiter", "1",
                        "[2]")
        waiter.wait_for_line("state append ready")  # it waits for the token
        return holder, waiter, gate_pid, log, release

    def test_driver_killed_while_its_job_runs_keeps_the_token_until_the_job_ends(
            self, workdir, tmp_path):
        """kill -9 of the driver whose job holds the token: the job still uses the
        resource, so the token stays held until it ends; then the waiter runs."""
        holder, waiter, gate_pid, log, release = self._holder_running(workdir, tmp_path)
        holder.kill()
        assert pid_alive(gate_pid)
        # The waiter keeps waiting while the orphaned job runs (checked over several of
        # its token polls: a failure here is an over-commit, never a slow machine).
        time.sleep(1.5)
        assert [x[0] for x in log_lines(log)] == ["start"], "token given while its job runs"
        release.touch()
        assert json.loads(waiter.finish()[-1]) == ["done"]
        lines = log_lines(log)
        assert [x[0] for x in lines] == ["start", "end", "2"]
        assert float(lines[2][2]) >= float(lines[1][3]), "the waiter ran before the gate ended"
        assert_workspace_consistent(workdir)

    def test_crashed_driver_and_job_release_the_token(self, workdir, tmp_path):
        """kill -9 of the holding driver and of its job: the token goes to the waiter."""
        holder, waiter, gate_pid, log, release = self._holder_running(workdir, tmp_path)
        holder.kill()
        os.kill(gate_pid, signal.SIGKILL)
        assert json.loads(waiter.finish()[-1]) == ["done"]
        assert [x[0] for x in log_lines(log)] == ["start", "2"]
        assert_workspace_consistent(workdir, stale_pid_ok=True)
