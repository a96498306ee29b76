"""Job slots: a local launcher runs at most ``max_jobs`` jobs at once."""

from __future__ import annotations

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


def test_cancelling_a_job_queued_for_a_slot_gives_its_token_back(workdir, tmp_path):
    """Tokens come before the slot: a queued job holds its token until cancelled."""
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
            first_job, queued_job = first.__xpm__.job, queued.__xpm__.job

            async def until_running():
                while first_job.state is not JobState.RUNNING:
                    await asyncio.sleep(0.02)

            xp.loop.run_until_complete(until_running())
            assert queued_job.state is JobState.READY and token.used() == 1
            assert xp.scheduler.cancel(queued_job)
            xp.loop.run_until_complete(asyncio.sleep(0.05))
            assert token.used() == 0
    assert first_job.state is JobState.DONE and queued_job.failure_reason == "cancelled"
