"""No blocking call on the scheduler's loop, local or remote (issue, point 3).

The scheduler runs every job's coroutine on one loop, in a daemon thread
(``scheduler/loopthread.py``); widgets flush on it too. A blocking SSH round
trip there would freeze every job's scheduling for as long as the link is
slow, or for as long as it is cut. So every job-folder operation, process
poll, kill and SLURM command is awaited on the connector's worker threads.

Two checks hold it, on 20 remote jobs (a DirectLauncher on an SshConnector
workspace, the real sshd of ``tests/infra/sshd.py``) that run and end, then on
jobs running while sshd is stopped for 10 s (every connection cut, new ones
refused; the jobs end meanwhile and are seen done once the link is back):

- :class:`BlockingCallGuard` records every blocking SSH call made *on the
  scheduler's thread*: our connector's own calls (the debug hook of
  ``connectors/blocking.py``, which every SSH operation passes through) and,
  below it, paramiko's waiting points (SFTP requests, channel reads/writes,
  opening channels), whoever calls them, plus local file opens. The test
  fails listing them, with where they were made.
- :class:`StallProbe` tickers, one on the scheduler's loop and one on the
  test's own loop, measure how late a ``call_later`` callback runs: the
  loop's longest stall. The scheduler loop's own stalls (the parts during
  which the test's loop, which runs none of the scheduler's code, was not
  stalled too) are asserted under 20 ms; every stall of either loop under
  1 s. (On the 2-core CI machine, loaded by other test suites, both loops
  are late together by 15-45 ms now and then: the OS runs other processes.)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
import traceback

import paramiko
import pytest
from remote_tasks import Emit
from ssh_helpers import ssh_url

from support.waiting import wait_until_async
from xpm_nb import experiment
from xpm_nb.connectors.blocking import watching
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.loopthread import on_scheduler_thread, scheduler_loop

#: The issue's bound on the loop's longest stall (both loops).
MAX_STALL = 0.020
TICK = 0.002  # s between two probe callbacks
NOTED = 0.002  # s: later than this, a callback's lateness is kept (from, to)
CATCH_UP = 0.050  # s after a process-wide stall (see unexplained())
CEILING = 1.0  # s: no stall of either loop, whatever the load (a blocked retry: seconds)
JOBS = 20
CUT = 10.0  # s the link stays cut

# --- the guard ----------------------------------------------------------------------------

# paramiko's methods that wait on the network (a cut link: up to op_timeout, forever
# for a hung one). Patched while a guard is active, on the classes, so that calls made
# by any code (ours or a library's) are seen.
_PARAMIKO = [
    (paramiko.SFTPClient, "_request"),
    (paramiko.SFTPClient, "_read_response"),
    (paramiko.Channel, "recv"),
    (paramiko.Channel, "recv_stderr"),
    (paramiko.Channel, "recv_exit_status"),
    (paramiko.Channel, "send"),
    (paramiko.Channel, "sendall"),
    (paramiko.Channel, "exec_command"),
    (paramiko.Transport, "open_channel"),
    (paramiko.SSHClient, "connect"),
]
_LOCAL_EVENTS = {"open", "os.listdir", "os.scandir", "os.mkdir", "os.rename", "os.replace",
                 "os.remove", "subprocess.Popen"}
_active: list[BlockingCallGuard] = []


def _audit(event: str, args: tuple) -> None:
    if _active and event in _LOCAL_EVENTS and on_scheduler_thread():
        for guard in list(_active):
            guard.record(f"local {event} {args[0]!r}"[:120])


sys.addaudithook(_audit)  # cannot be removed: inert while no guard is active


class BlockingCallGuard:
    """Records the blocking calls made on the scheduler's thread while active."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []  # (what, where)
        self.total = 0  # blocking SSH calls seen on any thread (the guard works)
        self._saved: list[tuple[type, str, object]] = []
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()

    def record(self, what: str) -> None:
        where = "".join(traceback.format_stack(limit=8)[:-2])
        with self._lock:
            self.calls.append((what, where))

    def _seen(self, what: str) -> None:
        with self._lock:
            self.total += 1
        if on_scheduler_thread():
            self.record(what)

    def __enter__(self) -> BlockingCallGuard:
        self._stack.enter_context(watching(self._seen))
        for cls, name in _PARAMIKO:
            original = cls.__dict__[name]
            self._saved.append((cls, name, original))

            def patched(*args, _original=original, _what=f"paramiko {cls.__name__}.{name}",
                        **kwargs):
                self._seen(_what)
                return _original(*args, **kwargs)

            setattr(cls, name, patched)
        _active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _active.remove(self)
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()
        self._stack.close()

    def check(self) -> None:
        assert self.total > 0, "the guard saw no SSH call at all: it is not wired"
        if self.calls:
            lines = [f"{len(self.calls)} blocking call(s) on the scheduler's thread:"]
            for what, where in self.calls[:15]:
                lines.append(f"- {what}\n{where}")
            pytest.fail("\n".join(lines))


# --- the probes ---------------------------------------------------------------------------


class StallProbe:
    """A ``call_later`` ticker on ``loop``: how late its callbacks run (the loop's stalls)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str):
        self.loop = loop
        self.name = name
        self.worst = 0.0
        self.ticks = 0
        self.stalls: list[tuple[float, float]] = []  # (from, to) of each late callback
        self._handle = None
        self._due = 0.0
        self._running = False

    def _tick(self) -> None:
        if not self._running:
            return
        now = self.loop.time()
        late = now - self._due
        self.worst = max(self.worst, late)
        if late > NOTED:
            self.stalls.append((self._due, now))
        self.ticks += 1
        self._due = self.loop.time() + TICK
        self._handle = self.loop.call_at(self._due, self._tick)

    def _start(self) -> None:
        self._running = True
        self._due = self.loop.time() + TICK
        self._handle = self.loop.call_at(self._due, self._tick)

    def _stop(self) -> None:
        self._running = False
        if self._handle is not None:
            self._handle.cancel()

    def start(self) -> StallProbe:
        self.loop.call_soon_threadsafe(self._start)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop)

    def reset(self) -> tuple[float, int]:
        worst, ticks = self.worst, self.ticks
        self.worst, self.ticks = 0.0, 0
        return worst, ticks


def _idle(frame) -> bool:
    """Whether the loop's thread is in its idle wait (``select``, reading its wake-up
    pipe): ready to run callbacks, waiting for the OS to run it or for the GIL."""
    return frame.f_code.co_name in ("select", "_read_from_self", "poll", "control")


class StackSampler:
    """While the scheduler's probe is late by more than ``MAX_STALL``, samples the
    scheduler thread's stack every 5 ms: what it was doing (running our code, or
    waiting in ``select``/for the GIL) when a stall is reported."""

    def __init__(self, probe: StallProbe):
        self.probe = probe
        self.samples: dict[str, int] = {}
        self.busy: list[float] = []  # loop times at which it ran code (not the idle wait)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stall sampler")

    def _run(self) -> None:
        from xpm_nb.scheduler import loopthread

        while not self._stop.wait(0.005):
            probe, thread = self.probe, loopthread._thread
            if not probe._running or thread is None:
                continue
            if probe.loop.time() - probe._due < MAX_STALL:
                continue
            frame = sys._current_frames().get(thread.ident)
            if frame is None:
                continue
            if not _idle(frame):
                self.busy.append(probe.loop.time())
            stack = traceback.extract_stack(frame)[-4:]
            key = " < ".join(f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})"
                             for f in reversed(stack))
            self.samples[key] = self.samples.get(key, 0) + 1

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def top(self, n: int = 5) -> list[tuple[str, int]]:
        return sorted(self.samples.items(), key=lambda kv: -kv[1])[:n]


def unexplained(stalls: list[tuple[float, float]], control: list[tuple[float, float]],
                busy: list[float] | None = None) -> float:
    """The longest part of a stall of one loop during which the control loop was not
    stalled too.

    The control loop (the test's own, in the same process) runs none of the
    scheduler's code: while it is late too, the whole process was not running
    (the OS gave the 2 cores to other processes: job processes, other test
    suites on the machine) or another thread held the GIL. A blocking call on
    the scheduler's loop stalls that loop alone: it is the part left. With
    ``busy`` (times at which :class:`StackSampler` saw the scheduler's thread
    run code), a stall during which the thread was only seen in its idle wait
    is not counted: it was ready, and waited for the OS or the GIL. When the
    process gets the cores back after such a stall, its threads take the GIL
    in turns (5 ms each): the scheduler's loop may resume up to ``CATCH_UP``
    after the control loop did (40 ms measured after a 200 ms outage).
    """
    worst = 0.0
    for start, end in stalls:
        if busy is not None and not any(start <= t <= end for t in busy):
            continue  # sampled only in its idle wait: the OS or the GIL kept it waiting
        covered = sum(max(0.0, min(end, c_end + CATCH_UP) - max(start, c_start))
                      for c_start, c_end in control)
        worst = max(worst, (end - start) - covered)
    return worst


# --- the test -----------------------------------------------------------------------------


def _niced_python(folder) -> str:
    """A wrapper running the jobs' Python at the lowest CPU priority (``nice -n 19``).

    What is measured is this process's loops, not the fairness of the OS among
    20 job processes starting at once on 2 cores: without it, a loop that runs
    nothing at all (a bare ``call_later`` ticker in a process of its own) is
    late by 15 to 130 ms while they start (measured on the 2-core CI machine).
    """
    wrapper = folder / "python-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n 19 {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_the_loops_stay_free_while_remote_jobs_end_and_while_the_link_is_cut(
        connector, sshd_running, remote_root, tmp_path, guard, capsys):
    from xpm_nb.launchers.direct import DirectLauncher

    ws, log = remote_root / "ws", remote_root / "log.txt"
    measured: dict[str, float] = {}
    launcher = DirectLauncher(connector, python=_niced_python(tmp_path))

    async def main():
        xp = experiment(ssh_url(connector, ws), "free", launcher=launcher)
        # Connected, workspace made: what is measured is the jobs, not the first login.
        await asyncio.to_thread(connector.exists, str(ws))
        sched = StallProbe(scheduler_loop(), "scheduler").start()
        here = StallProbe(asyncio.get_running_loop(), "test").start()
        with BlockingCallGuard() as calls, StackSampler(sched) as sampler:
            # 1. Twenty remote jobs start, run and end (each end: markers, status, logs).
            first = [Emit.C(value=i, log=log, sleep=0.5).submit() for i in range(JOBS)]
            del first
            jobs = list(xp.jobs)
            await xp
            assert [j.state for j in jobs] == [JobState.DONE] * JOBS, \
                [(j.state, j.failure_reason) for j in jobs]
            measured["scheduler, 20 jobs end"], ticks_a = sched.reset()
            measured["test loop, 20 jobs end"], _ = here.reset()
            # 2. Jobs running while the link is cut for 10 s: they end meanwhile.
            for i in range(4):
                Emit.C(value=100 + i, log=log, sleep=3.0).submit()
            cut_jobs = [j for j in xp.jobs if j not in jobs]
            await wait_until_async(
                lambda: all(j.state is JobState.RUNNING for j in cut_jobs), 120,
                "the jobs to run")
            sched.reset(), here.reset()
            await asyncio.to_thread(sshd_running.stop)
            start = time.monotonic()
            await asyncio.sleep(CUT)
            states_during = {j.state for j in cut_jobs}
            measured["scheduler, link cut"], ticks_b = sched.reset()
            measured["test loop, link cut"], _ = here.reset()
            await asyncio.to_thread(sshd_running.start)
            measured["cut seconds"] = time.monotonic() - start
            await xp
            measured["scheduler, reconnection"], _ = sched.reset()
            measured["test loop, reconnection"], _ = here.reset()
        sched.stop()
        here.stop()
        xp.close()
        return calls, jobs + cut_jobs, states_during, ticks_a, ticks_b, sched, here, sampler

    with guard:
        calls, jobs, states_during, ticks_a, ticks_b, sched, here, sampler = \
            asyncio.run(main())
    own = unexplained(sched.stalls, here.stalls, sampler.busy)
    raw_own = unexplained(sched.stalls, here.stalls)
    with capsys.disabled():
        print("\nloop stalls (ms):", {k: round(v * 1000, 1) if "seconds" not in k else round(v, 1)
                                      for k, v in measured.items()},
              f"scheduler loop's own (not process-wide): {raw_own * 1000:.1f} ms,",
              f"of which running code: {own * 1000:.1f} ms;",
              f"probe ticks: {ticks_a} (jobs end), {ticks_b} (cut);",
              f"scheduler thread during stalls: {sampler.top(3)}", flush=True)
    calls.check()
    assert ticks_a > 100 and ticks_b > 1000, "the scheduler's probe did not run"
    assert states_during == {JobState.RUNNING}  # a cut link fails nothing
    assert all(j.state is JobState.DONE for j in jobs), \
        [(j.state, j.failure_reason) for j in jobs]
    assert connector.session.reconnections >= 1
    # The bound, on the scheduler loop's own stalls: those of the whole
    # process (seen by the test's loop at the same moment) are the machine's noise
    # (15-45 ms on the loaded 2-core machine, both loops together), not ours.
    assert own < MAX_STALL, (
        f"the scheduler's loop stalled {own * 1000:.1f} ms on its own (> "
        f"{MAX_STALL * 1000:.0f} ms); all: {measured}; the scheduler thread meanwhile "
        f"(samples): {sampler.top()}")
    # However loaded the machine, a blocking round trip (seconds while the link is cut)
    # would show: no stall of either loop comes near it.
    stalls = {k: v for k, v in measured.items() if "seconds" not in k}
    assert max(stalls.values()) < CEILING, stalls
