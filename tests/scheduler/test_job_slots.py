"""Job slots: a local launcher runs at most ``max_jobs`` jobs at once."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from xpm_nb import experiment
from xpm_nb.errors import XPMError
from xpm_nb.launchers.direct import DirectLauncher
from xpm_nb.launchers.slots import MAX_JOBS_ENV, default_max_jobs
from xpm_nb.scheduler.jobs import JobState

sys.path.insert(0, str(Path(__file__).parent))
from tasks import Span  # noqa: E402

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def _spans(log: Path) -> list[tuple[int, float, float]]:
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(int(i), float(start), float(end)) for i, start, end in rows]


def _max_overlap(spans) -> int:
    events = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans],
                    key=lambda x: (x[0], x[1]))
    running = best = 0
    for _, delta in events:
        running += delta
        best = max(best, running)
    return best


def _watch_running(xp) -> list[int]:
    """How many jobs the scheduler says are running, at each state change."""
    counts: list[int] = []

    def listener(_job):
        counts.append(sum(j.state is JobState.RUNNING for j in xp.scheduler.jobs.values()))

    xp.scheduler.listeners.append(listener)
    return counts


def test_launcher_max_jobs_bounds_running_jobs(workdir, tmp_path):
    """Six jobs on a launcher of two slots: never more than two run, all end done."""
    log = tmp_path / "spans.log"
    launcher = DirectLauncher(max_jobs=2)
    with experiment(workdir, "slots", launcher=launcher) as xp:
        counts = _watch_running(xp)
        outs = [Span.C(index=i, log=log, sleep=0.4).submit() for i in range(6)]
    assert all(o.__xpm__.job.state is JobState.DONE for o in outs)
    spans = _spans(log)
    assert sorted(i for i, _, _ in spans) == list(range(6))  # each ran once
    assert _max_overlap(spans) <= 2
    assert counts and max(counts) <= 2
    assert launcher.slots().size == 2


def test_host_pool_from_environment_runs_jobs_one_by_one_in_order(workdir, tmp_path,
                                                                   monkeypatch):
    """``XPM_NB_MAX_JOBS=1``: the default launchers run one job at a time, in order."""
    monkeypatch.setenv(MAX_JOBS_ENV, "1")
    log = tmp_path / "spans.log"
    with experiment(workdir, "one-by-one") as xp:
        counts = _watch_running(xp)
        for i in range(4):
            Span.C(index=i, log=log, sleep=0.1).submit()
    spans = _spans(log)
    assert [i for i, _, _ in spans] == [0, 1, 2, 3]
    assert _max_overlap(spans) == 1
    assert max(counts) == 1


def test_job_waiting_for_a_slot_is_ready_and_cancellable(workdir, tmp_path):
    """A job queued behind a full pool is READY; cancelling it never starts it."""
    log = tmp_path / "spans.log"
    with pytest.raises(Exception, match="cancelled"):  # noqa: PT012 - the experiment's exit raises
        with experiment(workdir, "cancel-queued", launcher=DirectLauncher(max_jobs=1)) as xp:
            first = Span.C(index=0, log=log, sleep=1.0).submit()
            queued = Span.C(index=1, log=log, sleep=0.0).submit()
            first_job, queued_job = first.__xpm__.job, queued.__xpm__.job

            async def until_running():
                import asyncio

                while first_job.state is not JobState.RUNNING:
                    await asyncio.sleep(0.02)

            xp.loop.run_until_complete(until_running())
            assert queued_job.state is JobState.READY
            assert xp.scheduler.cancel(queued_job)
    assert first_job.state is JobState.DONE
    assert queued_job.state is JobState.ERROR and queued_job.failure_reason == "cancelled"
    assert not queued_job.paths.pid.exists() and not queued_job.paths.done.exists()
    assert [i for i, _, _ in _spans(log)] == [0]


def test_bad_limits_are_refused_with_the_fix(monkeypatch):
    with pytest.raises(ValueError, match=r"max_jobs=0 .*Fix"):
        DirectLauncher(max_jobs=0)
    monkeypatch.setenv(MAX_JOBS_ENV, "many")
    with pytest.raises(XPMError, match=r"XPM_NB_MAX_JOBS='many'.*Fix"):
        default_max_jobs()
    monkeypatch.setenv(MAX_JOBS_ENV, "0")
    assert default_max_jobs() is None  # 0: no limit
    monkeypatch.delenv(MAX_JOBS_ENV)
    assert default_max_jobs() == len(os.sched_getaffinity(0))


def test_a_job_queued_for_a_slot_holds_no_token(workdir, tmp_path):
    """Tokens are shared with other processes: a job waits for its slot without holding
    one (it takes it with the slot), and cancelled there it leaves the token free."""
    import asyncio

    from xpm_nb.connectors.local import LocalConnector

    log = tmp_path / "spans.log"
    token = LocalConnector(tmp_path / "connector").createtoken("gpu", 1)
    with pytest.raises(Exception, match="cancelled"):  # noqa: PT012 - the experiment's exit raises
        with experiment(workdir, "token-queued", launcher=DirectLauncher(max_jobs=1)) as xp:
            first = Span.C(index=0, log=log, sleep=1.0).submit()
            queued = Span.C(index=1, log=log, sleep=0.0)
            queued.add_dependencies(token.dependency(1))
            queued = queued.submit()
            cancelled = Span.C(index=2, log=log, sleep=0.0)
            cancelled.add_dependencies(token.dependency(1))
            cancelled = cancelled.submit()
            first_job, queued_job = first.__xpm__.job, queued.__xpm__.job
            cancelled_job = cancelled.__xpm__.job

            async def until_running():
                while first_job.state is not JobState.RUNNING:
                    await asyncio.sleep(0.02)

            xp.loop.run_until_complete(until_running())
            xp.loop.run_until_complete(asyncio.sleep(0.3))  # the queued ones poll meanwhile
            assert queued_job.state is JobState.READY and cancelled_job.state is JobState.READY
            assert token.used() == 0  # nobody holds the token while queued for the slot
            assert xp.scheduler.cancel(cancelled_job)
    assert first_job.state is JobState.DONE and queued_job.state is JobState.DONE
    assert cancelled_job.failure_reason == "cancelled"
    assert token.used() == 0
    assert sorted(i for i, _, _ in _spans(log)) == [0, 1]


def test_a_job_waiting_for_a_token_gives_its_slot_to_others(workdir, tmp_path):
    """A job whose token another process holds does not keep the only slot: jobs behind
    it run meanwhile, and it runs once the token is free."""
    from xpm_nb.connectors.local import LocalConnector

    log = tmp_path / "spans.log"
    token = LocalConnector(tmp_path / "connector").createtoken("gpu", 1)
    assert token.try_acquire("held by another process", 1)
    with experiment(workdir, "token-slot", launcher=DirectLauncher(max_jobs=1)) as xp:
        blocked = Span.C(index=0, log=log, sleep=0.0)
        blocked.add_dependencies(token.dependency(1))
        blocked_job = blocked.submit().__xpm__.job
        others = [Span.C(index=i, log=log, sleep=0.0).submit().__xpm__.job for i in (1, 2)]

        async def until_others_done():
            import asyncio

            while not all(j.state.finished for j in others):
                await asyncio.sleep(0.02)
            return blocked_job.state

        blocked_then = xp.loop.run_until_complete(until_others_done())
        assert blocked_then is JobState.READY  # still waiting for its token
        token.release("held by another process")
    assert blocked_job.state is JobState.DONE
    assert [i for i, _, _ in _spans(log)] == [1, 2, 0]
    assert token.used() == 0


class _SlowStartLauncher(DirectLauncher):
    """A direct launcher whose process start (in a worker thread) takes a while, as a
    loaded machine's fork/exec does."""

    def __init__(self, **kwargs):
        import threading

        super().__init__(**kwargs)
        self.started = threading.Event()  # set when a launch begins
        self.handles = []  # the processes it started

    def launch(self, job, env):
        import time

        self.started.set()
        time.sleep(0.5)
        handle = super().launch(job, env)
        self.handles.append(handle)
        return handle


def test_cancel_while_the_process_is_being_started_kills_it(workdir, tmp_path):
    """Cancelled in the middle of its launch: the process that starts is killed (no orphan),
    the job is recorded cancelled, and the next job gets the slot only then."""
    import asyncio

    from xpm_nb.scheduler.jobs import pid_alive

    log = tmp_path / "spans.log"
    with pytest.raises(Exception, match="cancelled"):  # noqa: PT012 - the experiment's exit raises
        with experiment(workdir, "cancel-launch") as xp:
            launcher = _SlowStartLauncher(max_jobs=1)
            victim = Span.C(index=0, log=log, sleep=30.0).submit(launcher=launcher)
            after = Span.C(index=1, log=log, sleep=0.0).submit(launcher=launcher)
            job, after_job = victim.__xpm__.job, after.__xpm__.job
            xp.loop.run_until_complete(asyncio.to_thread(launcher.started.wait, 30))
            assert job._launching and job.process is None
            assert xp.scheduler.cancel(job)
            xp.loop.run_until_complete(asyncio.wait_for(asyncio.shield(job._future), 30))
    assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
    assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
    assert not job.paths.done.exists() and not job.paths.pid.exists()
    (handle, _after_handle) = launcher.handles  # the victim's process did start...
    assert not pid_alive(handle.pid)  # ...and was killed, not left behind the scheduler's back
    assert [i for i, _, _ in _spans(log)] == [1]  # the victim never did its work
    assert after_job.state is JobState.DONE


def test_a_job_another_process_runs_is_followed_without_a_slot(workdir, tmp_path):
    """A job already running elsewhere (another kernel, a killed driver's job) is followed
    at once, shown running, and does not hold one of this launcher's slots."""
    import asyncio
    import subprocess
    import textwrap
    import time

    log = tmp_path / "spans.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from xpm_nb import experiment
        from tasks import Span
        with experiment({str(workdir)!r}, "elsewhere"):
            Span.C(index=0, log={str(log)!r}, sleep=4.0).submit()
    """)
    other = subprocess.Popen([sys.executable, "-c", script])
    try:
        probe = Span.C(index=0, log=log, sleep=4.0)
        pid_file = workdir / "jobs" / "tasks.span" / probe.__identifier__().hex() / "span.pid"
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert time.monotonic() < deadline and other.poll() is None, "the other driver"
            time.sleep(0.05)
        with experiment(workdir, "here", launcher=DirectLauncher(max_jobs=1)) as xp:
            followed = Span.C(index=0, log=log, sleep=4.0).submit().__xpm__.job
            mine = Span.C(index=1, log=log, sleep=0.0).submit().__xpm__.job

            async def until_mine_done():
                while not mine.state.finished:
                    await asyncio.sleep(0.02)
                return followed.state

            followed_then = xp.loop.run_until_complete(until_mine_done())
            assert mine.state is JobState.DONE
            assert followed_then is JobState.RUNNING  # still running: it held no slot
        assert other.wait(60) == 0
    finally:
        if other.poll() is None:
            other.kill()
    assert followed.state is JobState.DONE
    assert sorted(i for i, _, _ in _spans(log)) == [0, 1]  # each ran once
