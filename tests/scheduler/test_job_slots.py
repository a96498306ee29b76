"""Job slots: a job starts only while the host runs fewer than ``max_jobs`` jobs.

Slots are counted per host (one file of holders, ``launchers/slots.py``): the
tests run real drivers (``python -c`` processes) and real job processes, and
check the limit by the jobs' own recorded time spans.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from support.failures import failed_experiment
from support.paths import tasks_importable
from support.spans import max_overlap
from support.waiting import job_ended, wait_until, wait_until_async
from xpm_nb import experiment
from xpm_nb.errors import XPMError
from xpm_nb.launchers.direct import DirectLauncher
from xpm_nb.launchers.slots import (
    MAX_JOBS_ENV,
    SLOTS_DIR_ENV,
    JobSlots,
    default_max_jobs,
    host_slots,
)
from xpm_nb.scheduler.jobs import JobState, pid_alive

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from slot_tasks import GatedSpan  # noqa: E402
from tasks import Span  # noqa: E402

HERE = Path(__file__).parent



@pytest.fixture(autouse=True)
def slots_folder(tmp_path, monkeypatch) -> Path:
    """The host's slot file of each test in a folder of its own (inherited by drivers)."""
    folder = tmp_path / "slots"
    monkeypatch.setenv(SLOTS_DIR_ENV, str(folder))
    return folder


def _spans(log: Path) -> list[tuple[int, float, float]]:
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(int(i), float(start), float(end)) for i, start, end in rows]


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
    assert max_overlap([(s, e) for _, s, e in spans]) <= 2
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
    assert max_overlap([(s, e) for _, s, e in spans]) == 1
    assert max(counts) == 1


def test_job_waiting_for_a_slot_is_ready_and_cancellable(workdir, tmp_path):
    """A job queued behind a full pool is READY; cancelling it never starts it."""
    log = tmp_path / "spans.log"
    with experiment(workdir, "cancel-queued", launcher=DirectLauncher(max_jobs=1)) as xp:
        first = Span.C(index=0, log=log, sleep=1.0).submit()
        queued = Span.C(index=1, log=log, sleep=0.0).submit()
        first_job, queued_job = first.__xpm__.job, queued.__xpm__.job
        wait_until(lambda: first_job.state is JobState.RUNNING, 60, "the first job to run")
        assert queued_job.state is JobState.READY
        assert xp.scheduler.cancel(queued_job)
    failed_experiment(xp, match="cancelled")  # logged, not raised
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
    from xpm_nb.connectors.local import LocalConnector

    log = tmp_path / "spans.log"
    token = LocalConnector(tmp_path / "connector").createtoken("gpu", 1)
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
        wait_until(lambda: first_job.state is JobState.RUNNING, 60, "the first job to run")
        time.sleep(0.3)  # the queued ones poll meanwhile
        assert queued_job.state is JobState.READY and cancelled_job.state is JobState.READY
        assert token.used() == 0  # nobody holds the token while queued for the slot
        assert xp.scheduler.cancel(cancelled_job)
    failed_experiment(xp, match="cancelled")  # logged, not raised
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
    with experiment(workdir, "token-slot", launcher=DirectLauncher(max_jobs=1)):
        blocked = Span.C(index=0, log=log, sleep=0.0)
        blocked.add_dependencies(token.dependency(1))
        blocked_job = blocked.submit().__xpm__.job
        others = [Span.C(index=i, log=log, sleep=0.0).submit().__xpm__.job for i in (1, 2)]
        for job in others:
            job_ended(job)
        assert blocked_job.state is JobState.READY  # still waiting for its token
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
    log = tmp_path / "spans.log"
    with experiment(workdir, "cancel-launch") as xp:
        launcher = _SlowStartLauncher(max_jobs=1)
        victim = Span.C(index=0, log=log, sleep=30.0).submit(launcher=launcher)
        after = Span.C(index=1, log=log, sleep=0.0).submit(launcher=launcher)
        job, after_job = victim.__xpm__.job, after.__xpm__.job
        assert launcher.started.wait(30), "the launch to begin"
        assert job._launching and job.process is None
        assert xp.scheduler.cancel(job)
        job_ended(job, 30)
    failed_experiment(xp, match="cancelled")  # logged, not raised
    assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
    assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
    assert not job.paths.done.exists() and not job.paths.pid.exists()
    (handle, _after_handle) = launcher.handles  # the victim's process did start...
    assert not pid_alive(handle.pid)  # ...and was killed, not left behind the scheduler's back
    assert [i for i, _, _ in _spans(log)] == [1]  # the victim never did its work
    assert after_job.state is JobState.DONE


# --- slots per host: helpers ---------------------------------------------------------


def _driver(body: str, **env: str) -> subprocess.Popen:
    """A driver process (as another notebook or a script) running ``body``."""
    script = f"import sys\nsys.path.insert(0, {str(HERE)!r})\n" + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **env})


def _watch_then_open(gate: Path, running: list, waiting: list, size: int) -> tuple[dict, object]:
    """A thread that, once the ``running`` jobs run and the ``waiting`` ones asked for a
    slot, gives the latter a second to start (were there a slot), notes what it sees,
    then opens ``gate``. Public API only: it reads the jobs' states while the
    experiment (its loop, wherever it runs) schedules them."""
    import threading

    seen: dict = {}

    def watch():
        try:
            wait_until(lambda: all(j.state is JobState.RUNNING for j in running)
                       and all(j.state not in (JobState.UNSCHEDULED, JobState.WAITING)
                               for j in waiting),
                       what="the followed jobs running, the others ready")
            time.sleep(1.0)
            seen["states"] = [j.state for j in waiting]
            seen["started"] = [_job_pid(j.path) is not None for j in waiting]
            seen["running"] = host_slots(size).running()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            seen["error"] = exc
        finally:
            gate.touch()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return seen, thread


def _stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def _folder(workdir: Path, config) -> Path:
    """The job folder of a (not submitted) configuration."""
    return workdir / "jobs" / type(config).__xpmtype__.identifier / config.__identifier__().hex()


def _job_pid(folder: Path) -> int | None:
    """The pid its job process wrote (None before it did)."""
    for pid_file in folder.glob("*.pid"):
        try:
            return int(json.loads(pid_file.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None
    return None


def _holders(slots_folder: Path) -> dict:
    try:
        return json.loads((slots_folder / f"{socket.gethostname()}.json").read_text())
    except FileNotFoundError:
        return {}


def _a_job(tmp_path: Path, name: str) -> SimpleNamespace:
    """What a pool needs of a job: its folder."""
    folder = tmp_path / "jobs" / name
    folder.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(path=folder)


# --- the pool itself -------------------------------------------------------------------


def test_pool_grants_slots_in_the_order_asked(tmp_path, slots_folder):
    """Jobs of one process queued on a full pool get their slot in the order they asked."""
    jobs = {name: _a_job(tmp_path, name) for name in "abcde"}

    async def main():
        pool = JobSlots(1)
        await pool.acquire(jobs["a"])
        granted: list[str] = []

        async def take(name):
            await pool.acquire(jobs[name])
            granted.append(name)

        waiting = []
        for name in "bcde":
            waiting.append(asyncio.create_task(take(name)))
            await asyncio.sleep(0.05)  # asked one after the other
        assert granted == [] and pool.running() == 1
        holder = "a"
        for count in range(1, 5):
            await pool.release(jobs[holder])
            await wait_until_async(lambda n=count: len(granted) == n, 60, f"grant {count}")
            holder = granted[-1]
            assert pool.running() == 1
        await pool.release(jobs[holder])
        await asyncio.gather(*waiting)
        return granted

    assert asyncio.run(main()) == ["b", "c", "d", "e"]
    assert _holders(slots_folder) == {}


def test_follow_counts_without_waiting_and_release_frees(tmp_path, slots_folder):
    """``follow`` records a running job on a full pool at once; it counts until
    released; ``release`` frees the slot for the next in line."""
    a, b, c, d = (_a_job(tmp_path, name) for name in "abcd")

    async def main():
        pool = JobSlots(2)
        await pool.acquire(a)
        await pool.acquire(b)
        await asyncio.wait_for(pool.follow(c), 60)  # full: does not wait for room
        assert pool.running() == 3
        assert set(_holders(slots_folder)) == {str(a.path), str(b.path), str(c.path)}
        late = asyncio.create_task(pool.acquire(d))
        await pool.release(a)
        await asyncio.sleep(0.5)  # polled a few times meanwhile
        assert not late.done() and pool.running() == 2  # b and the followed c: full
        await pool.release(c)
        await asyncio.wait_for(late, 60)
        assert set(_holders(slots_folder)) == {str(b.path), str(d.path)}
        await pool.release(b)
        await pool.release(d)
        assert pool.running() == 0
        await pool.follow(c)  # a followed job already recorded (by another pool) ...
        await pool.follow(c)  # ... is recorded once
        assert pool.running() == 1

    asyncio.run(main())


def test_pools_of_different_sizes_share_the_host_count(tmp_path):
    """Two pools (two kernels' ``max_jobs``) check one count, each against its size."""
    jobs = [_a_job(tmp_path, str(i)) for i in range(4)]

    async def main():
        two, three = JobSlots(2), JobSlots(3)
        await two.acquire(jobs[0])
        await three.acquire(jobs[1])
        assert two.running() == three.running() == 2
        blocked = asyncio.create_task(two.acquire(jobs[2]))
        await asyncio.wait_for(three.acquire(jobs[3]), 60)  # 2 < 3: room for three
        await asyncio.sleep(0.3)
        assert not blocked.done()
        await three.release(jobs[1])
        await asyncio.sleep(0.3)
        assert not blocked.done()  # 2 still run: none for a pool of two
        await three.release(jobs[3])
        await asyncio.wait_for(blocked, 60)
        assert two.running() == 2

    asyncio.run(main())


def test_a_cancelled_wait_leaves_no_holder(tmp_path, slots_folder):
    a, b = _a_job(tmp_path, "a"), _a_job(tmp_path, "b")

    async def main():
        pool = JobSlots(1)
        await pool.acquire(a)
        waiting = asyncio.create_task(pool.acquire(b))
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await pool.release(a)
        assert pool.running() == 0

    asyncio.run(main())
    assert _holders(slots_folder) == {}


def test_unlimited_pool_does_nothing(tmp_path, slots_folder, monkeypatch):
    job = _a_job(tmp_path, "a")
    monkeypatch.delenv(MAX_JOBS_ENV, raising=False)

    async def main():
        pool = JobSlots(None)
        for _ in range(3):
            await pool.acquire(job)
        assert pool.follow(job) is None and pool.release(job) is None
        return pool.running()

    assert asyncio.run(main()) == 0
    assert not slots_folder.exists()
    assert DirectLauncher().slots() is not None  # the cores: limited by default


def test_the_host_file_and_its_environment_variable(tmp_path, slots_folder, monkeypatch):
    """Launchers of one size share one pool per host file; the file follows the variable."""
    assert host_slots(2) is DirectLauncher(max_jobs=2).slots() is DirectLauncher(max_jobs=2).slots()
    name = f"{socket.gethostname()}.json"  # per host: a home folder may be a cluster's
    assert host_slots(2).path == slots_folder / name
    monkeypatch.setenv(SLOTS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert DirectLauncher(max_jobs=2).slots().path == tmp_path / "elsewhere" / name
    monkeypatch.delenv(SLOTS_DIR_ENV)
    from xpm_nb.connectors.local import LocalConnector

    mine = LocalConnector(tmp_path / "mine")  # next to its tokens
    assert DirectLauncher(mine, max_jobs=2).slots().path == tmp_path / "mine" / "slots" / name
    monkeypatch.setenv(MAX_JOBS_ENV, "0")
    assert DirectLauncher().slots() is None  # no limit: nothing to count


_HOLD = """
import asyncio
from types import SimpleNamespace
from pathlib import Path
from xpm_nb.launchers.slots import JobSlots

async def main():
    await JobSlots(1).acquire(SimpleNamespace(path=Path({folder!r})))
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_another_process_holder_counts_while_it_or_its_job_lives(tmp_path, slots_folder):
    """A holder of another process counts while that process lives; once killed, while
    its job's process (the pid file of its folder) still runs; then it is dropped."""
    held = _a_job(tmp_path, "held")
    other = _driver(_HOLD.format(folder=str(held.path)))
    job_process = subprocess.Popen(["sleep", "3600"])
    try:
        wait_until(lambda: str(held.path) in _holders(slots_folder), what="the other holder",
                   processes=[other])
        pool = JobSlots(1)
        assert pool.running() == 1
        # Its job runs (pid file as the job process writes it), then its driver is killed.
        (held.path / "job.pid").write_text(json.dumps(
            {"type": "local", "pid": job_process.pid, "host": socket.gethostname()}))
        other.send_signal(signal.SIGKILL)
        other.wait(30)
        assert pool.running() == 1  # the driver is gone, its job is not: still counted

        async def blocked_then_granted():
            mine = _a_job(tmp_path, "mine")
            waiting = asyncio.create_task(pool.acquire(mine))
            await asyncio.sleep(0.5)
            was_blocked = not waiting.done()
            job_process.kill()  # its job ends too: the holder is dead
            job_process.wait(30)
            await asyncio.wait_for(waiting, 60)
            return was_blocked

        assert asyncio.run(blocked_then_granted())
        assert set(_holders(slots_folder)) == {str(tmp_path / "jobs" / "mine")}  # dropped
    finally:
        _stop(other, job_process)


# --- slots per host, end to end: drivers, kill -9, restart ------------------------------


_TWO_DRIVERS = """
import time
from pathlib import Path
from xpm_nb import experiment
from xpm_nb.launchers.direct import DirectLauncher
from tasks import Span

Path({ready!r}).touch()
while not Path({go!r}).exists():
    time.sleep(0.01)
with experiment({workdir!r}, "driver", launcher=DirectLauncher(max_jobs=2)):
    for i in {indices!r}:
        Span.C(index=i, log={log!r}, sleep=1.5).submit()
"""


def test_two_drivers_of_one_host_share_its_slots(tmp_path):
    """Two drivers (two notebooks) with ``max_jobs=2`` each, three jobs each, started
    together: never more than two jobs run at once on the machine."""
    log, go = tmp_path / "spans.log", tmp_path / "go"
    drivers, ready = [], []
    try:
        for name, indices in (("a", [0, 1, 2]), ("b", [10, 11, 12])):
            ready.append(tmp_path / f"ready-{name}")
            (tmp_path / name).mkdir()
            drivers.append(_driver(_TWO_DRIVERS.format(
                ready=str(ready[-1]), go=str(go), workdir=str(tmp_path / name),
                indices=indices, log=str(log))))
        wait_until(lambda: all(r.exists() for r in ready), what="both drivers", processes=drivers)
        go.touch()  # both submit now
        for driver in drivers:
            assert driver.wait(120) == 0
    finally:
        _stop(*drivers)
    spans = _spans(log)
    assert sorted(i for i, _, _ in spans) == [0, 1, 2, 10, 11, 12]  # each ran once
    assert max_overlap([(s, e) for _, s, e in spans]) <= 2


_FIRST_KERNEL = """
from xpm_nb import experiment
from xpm_nb.launchers.direct import DirectLauncher
from slot_tasks import GatedSpan

with experiment({workdir!r}, "first", launcher=DirectLauncher(max_jobs=2)):
    for i in (0, 1):
        GatedSpan.C(index=i, log={log!r}, gate={gate!r}).submit()
"""


def test_a_killed_kernels_running_jobs_keep_their_slots(workdir, tmp_path):
    """Kernel restart: a driver killed with kill -9 leaves its two jobs running; the
    new kernel (``max_jobs=2``) follows them and starts nothing else until they end."""
    log, gate = tmp_path / "spans.log", tmp_path / "gate"
    first = _driver(_FIRST_KERNEL.format(workdir=str(workdir), log=str(log), gate=str(gate)))
    probes = [GatedSpan.C(index=i, log=log, gate=gate) for i in (0, 1)]
    folders = [_folder(workdir, probe) for probe in probes]
    try:
        wait_until(lambda: all(_job_pid(f) for f in folders), what="the first kernel's jobs",
                   processes=[first])
        first.send_signal(signal.SIGKILL)  # the kernel dies, its jobs run on
        first.wait(30)
        assert all(pid_alive(_job_pid(f)) for f in folders)
        assert host_slots(2).running() == 2  # their driver is dead: they still count

        with experiment(workdir, "second", launcher=DirectLauncher(max_jobs=2)):
            followed = [GatedSpan.C(index=i, log=log, gate=gate).submit().__xpm__.job
                        for i in (0, 1)]
            new = [Span.C(index=i, log=log, sleep=0.2).submit().__xpm__.job for i in (2, 3)]
            seen, watcher = _watch_then_open(gate, followed, new, 2)
        watcher.join(120)
    finally:
        gate.touch()
        _stop(first)
    assert "error" not in seen, seen.get("error")
    assert seen["states"] == [JobState.READY, JobState.READY]  # no slot while 0 and 1 run
    assert seen["started"] == [False, False] and seen["running"] == 2
    assert all(j.state is JobState.DONE for j in followed + new)
    spans = _spans(log)
    assert sorted(i for i, _, _ in spans) == [0, 1, 2, 3]
    assert max_overlap([(s, e) for _, s, e in spans]) <= 2
    # Every slot given back (the release may follow the job's end by a moment).
    wait_until(lambda: host_slots(2).running() == 0, 60, "the slots given back")


def test_a_dead_holder_is_dropped(workdir, tmp_path, slots_folder):
    """A driver killed with its job (both gone): its slot is free for the next driver."""
    log, gate = tmp_path / "spans.log", tmp_path / "gate"
    first = _driver(_FIRST_KERNEL.format(workdir=str(workdir), log=str(log), gate=str(gate)))
    folders = [_folder(workdir, GatedSpan.C(index=i, log=log, gate=gate)) for i in (0, 1)]
    try:
        wait_until(lambda: all(_job_pid(f) for f in folders), what="the first kernel's jobs",
                   processes=[first])
        assert set(_holders(slots_folder)) == {str(f) for f in folders}
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        for folder in folders:
            pid = _job_pid(folder)
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda p=pid: not pid_alive(p), what="the job's end")
    finally:
        gate.touch()  # ends the jobs were the test to fail before killing them
        _stop(first)
    assert host_slots(2).running() == 0
    with experiment(workdir, "after", launcher=DirectLauncher(max_jobs=1)):
        after = Span.C(index=5, log=log, sleep=0.0).submit()
    assert after.__xpm__.job.state is JobState.DONE
    # Rewritten without the dead holders (the release may follow the job's end by a moment).
    wait_until(lambda: _holders(slots_folder) == {}, 60, "the slot file emptied")


def test_a_job_another_process_runs_is_followed_and_takes_a_slot(workdir, tmp_path):
    """A job already running elsewhere, started by a driver that took no slot (no
    limit), is followed at once, shown running, and takes one of this host's slots:
    with ``max_jobs=1`` the next job waits for it."""
    log, gate = tmp_path / "spans.log", tmp_path / "gate"
    other = _driver(f"""
        from xpm_nb import experiment
        from slot_tasks import GatedSpan
        with experiment({str(workdir)!r}, "elsewhere"):
            GatedSpan.C(index=0, log={str(log)!r}, gate={str(gate)!r}).submit()
    """, **{MAX_JOBS_ENV: "0"})
    try:
        folder = _folder(workdir, GatedSpan.C(index=0, log=log, gate=gate))
        wait_until(lambda: _job_pid(folder), what="the other driver's job", processes=[other])
        assert host_slots(1).running() == 0  # started without a slot
        with experiment(workdir, "here", launcher=DirectLauncher(max_jobs=1)):
            followed = GatedSpan.C(index=0, log=log, gate=gate).submit().__xpm__.job
            mine = Span.C(index=1, log=log, sleep=0.0).submit().__xpm__.job
            seen, watcher = _watch_then_open(gate, [followed], [mine], 1)
        watcher.join(120)
        assert other.wait(60) == 0
    finally:
        gate.touch()
        _stop(other)
    assert "error" not in seen, seen.get("error")
    assert seen["states"] == [JobState.READY] and seen["started"] == [False]
    assert seen["running"] == 1  # the followed job, recorded by this driver
    assert followed.state is JobState.DONE and mine.state is JobState.DONE
    spans = dict((i, (start, end)) for i, start, end in _spans(log))
    assert sorted(spans) == [0, 1]  # each ran once
    assert spans[1][0] >= spans[0][1]  # mine started after the followed one ended
