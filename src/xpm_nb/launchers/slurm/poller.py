"""Following SLURM jobs: one poller per launcher and event loop, a handle per job.

A :class:`SlurmPoller` asks ``squeue`` about every job it follows in one
command every ``interval`` seconds (and soon after a submission or a
``scancel``); jobs that ``squeue`` no longer knows are asked of ``sacct`` when
accounting is on. A :class:`SlurmJobHandle` combines that with the job's own
files, which it checks often (cheap): the pid file says the job started, the
``.done`` / ``.failed`` markers that it ended. So a job is SCHEDULED while
SLURM keeps it pending, RUNNING once started, and a job SLURM ended without a
marker (time limit, out of memory, ``scancel``) gets the reason SLURM gives.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable

from ...layout import parse_failed, parse_pid_file, parse_seconds
from ...process import ProcessExit, ProcessHandle, ProcessState
from .commands import (
    SQUEUE_FORMAT,
    CommandRunner,
    SlurmStatus,
    array_base,
    check_jobid,
    exit_of,
    parse_sacct,
    parse_squeue,
)

__all__ = ["SlurmPoller", "SlurmJobHandle", "NotSubmitted"]

logger = logging.getLogger(__name__)

COALESCE = 0.1  # s: jobs submitted together are polled by one squeue
FILE_POLL_MIN, FILE_POLL_MAX = 0.05, 1.0  # s between two looks at a job's files
REMOTE_FILE_POLL_MAX = 5.0  # the same through a remote connector (each look is a round trip)
# A job SLURM keeps pending wakes when its status changes; its files are looked at only
# this often meanwhile (1,000 queued array tasks must not mean 1,000 looks a second).
PENDING_POLL_MAX, REMOTE_PENDING_POLL_MAX = 10.0, 30.0
CHUNK = 200  # job ids per squeue command
# A job SLURM says ended without our marker: wait this long for the marker, in case
# the shared file system shows the compute node's files late (NFS attribute cache).
MARKER_GRACE = {"COMPLETED": 30.0, "FAILED": 5.0}
MISSING_ROUNDS = 2  # rounds a job must be unknown to SLURM before it is called gone
GONE_GRACE = 5.0
FINAL_WAIT = 10.0  # s: after the job's own .failed, how long to wait for SLURM's final state

_POLLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {key: poller}


class SlurmPoller:
    """One ``squeue`` (plus ``sacct`` for forgotten jobs) per round for all followed jobs."""

    def __init__(self, runner: CommandRunner, interval: float,
                 loop: asyncio.AbstractEventLoop, key=None):
        self.runner = runner
        self.interval = interval
        self.loop = loop
        self.key = key
        self.statuses: dict[str, SlurmStatus] = {}
        self.missing: dict[str, int] = {}  # job id -> rounds in a row SLURM did not know it
        self.error: str | None = None  # the last command failure (controller down...)
        self.rounds = 0
        # job id -> index of the last round whose squeue/sacct answered for it (a
        # status kept through a failed round is not news: see SlurmJobHandle._follow)
        self.seen_in_round: dict[str, int] = {}
        self._watchers: dict[str, int] = {}
        self._changes: dict[str, list[asyncio.Future]] = {}  # job id -> next_change waiters
        self._round: asyncio.Future = loop.create_future()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopped: asyncio.Task | None = None  # a task told to stop (track() replaces it)
        self._sacct: bool | None = None  # None: not tried yet; False: accounting is off

    @classmethod
    def get(cls, runner: CommandRunner, interval: float, key) -> SlurmPoller:
        """The poller of ``key`` on the running loop (created on first use)."""
        loop = asyncio.get_running_loop()
        pollers = _POLLERS.setdefault(loop, {})
        poller = pollers.get(key)
        if poller is None:
            poller = pollers[key] = cls(runner, interval, loop, key)
        return poller

    # --- following -----------------------------------------------------------

    def track(self, jobid: str) -> None:
        self._watchers[jobid] = self._watchers.get(jobid, 0) + 1
        self.kick()
        if self._task is None or self._task.done() or self._task is self._stopped:
            self._task = self.loop.create_task(self._run(), name="xpm_nb SLURM poller")

    def untrack(self, jobid: str) -> None:
        n = self._watchers.get(jobid, 0) - 1
        if n > 0:
            self._watchers[jobid] = n
            return
        self._watchers.pop(jobid, None)
        self.statuses.pop(jobid, None)
        self.missing.pop(jobid, None)
        self.seen_in_round.pop(jobid, None)
        if not self._watchers and self._task is not None:
            # Nothing left to follow: stop now (a script's loop may close right after).
            self._stopped = self._task
            self._task.cancel()

    def kick(self) -> None:
        """Poll soon (after a submission or a cancellation); on the poller's loop."""
        self._wake.set()

    def kick_threadsafe(self) -> None:
        """:meth:`kick` from any thread (a worker thread that ran ``scancel``)."""
        try:
            if asyncio.get_running_loop() is self.loop:
                self.kick()
                return
        except RuntimeError:
            pass
        try:
            self.loop.call_soon_threadsafe(self.kick)
        except RuntimeError:  # the loop is closed: nobody polls any more
            pass

    async def next_round(self, timeout: float) -> None:
        """Return after the next poll round, or after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(asyncio.shield(self._round), timeout)
        except asyncio.TimeoutError:
            pass

    async def next_change(self, jobid: str, timeout: float) -> None:
        """Return once a poll round saw ``jobid``'s status change (or SLURM stop knowing
        it, or a round fail), or after ``timeout`` seconds."""
        waiter = self.loop.create_future()
        self._changes.setdefault(jobid, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiters = self._changes.get(jobid)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._changes[jobid]

    def _changed(self, jobids) -> None:
        for jobid in jobids:
            for waiter in self._changes.pop(jobid, []):
                if not waiter.done():
                    waiter.set_result(None)

    async def _run(self) -> None:
        try:
            while self._watchers:
                await asyncio.sleep(COALESCE)
                self._wake.clear()
                before = dict(self.statuses)
                try:
                    await self.poll(list(self._watchers))
                except Exception as exc:  # noqa: BLE001 - the poller must go on
                    self.error = f"{type(exc).__name__}: {exc}"
                    logger.warning("SLURM poll failed: %s", self.error)
                if self.error is not None:
                    self._changed(list(self._changes))  # everyone looks at its files
                else:
                    self._changed([j for j in list(self._changes) if j in self.missing
                                   or _differ(before.get(j), self.statuses.get(j))])
                self.rounds += 1
                done, self._round = self._round, self.loop.create_future()
                done.set_result(None)
                if not self._watchers:
                    break
                try:
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                except asyncio.TimeoutError:
                    pass
        except asyncio.CancelledError:
            pass  # stopped by untrack() (nothing left to follow), or the loop ends
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            pollers = _POLLERS.get(self.loop)
            if pollers is not None and pollers.get(self.key) is self and not self._watchers:
                del pollers[self.key]

    async def poll(self, jobids: list[str]) -> None:
        """One round: ``squeue`` for all, ``sacct`` for those squeue no longer knows."""
        unknown: list[str] = []
        queries = squeue_queries(jobids)
        for i in range(0, len(queries), CHUNK):
            chunk = queries[i:i + CHUNK]
            asked = [j for _, ids in chunk for j in ids]
            r = await self.runner.run("squeue", "-h", "-t", "all",
                                      f"--jobs={','.join(q for q, _ in chunk)}",
                                      "-O", SQUEUE_FORMAT)
            if r.returncode != 0 and "Invalid job id" not in r.stderr:
                # The controller cannot be reached: keep what we knew, mark nothing failed.
                self.error = f"squeue exited {r.returncode}: {r.stderr.strip()}"
                logger.warning("%s", self.error)
                return
            answer = parse_squeue(r.stdout) if r.returncode == 0 else {}
            found = {j: answer[j] for j in asked if j in answer}  # not the array's other tasks
            self.statuses.update(found)
            self.seen_in_round.update(dict.fromkeys(found, self.rounds))
            unknown += [j for j in asked if j not in found]
        self.error = None
        if unknown and self._sacct is not False:
            r = await self.runner.run("sacct", "-n", "-P", "-X", f"--jobs={','.join(unknown)}",
                                      "-o", "JobID,State,ExitCode,Reason")
            if r.returncode == 0:
                self._sacct = True
                found = parse_sacct(r.stdout)
                self.statuses.update(found)
                self.seen_in_round.update(dict.fromkeys(found, self.rounds))
                unknown = [j for j in unknown if j not in found]
            elif "disabled" in r.stderr or "not running" in r.stderr.lower():
                self._sacct = False  # no accounting: the job folder's files must do
        for jobid in jobids:
            if jobid in unknown:
                self.missing[jobid] = self.missing.get(jobid, 0) + 1
            else:
                self.missing.pop(jobid, None)


def _differ(a: SlurmStatus | None, b: SlurmStatus | None) -> bool:
    """Whether a job's status changed in a way its handle acts on (not its time left)."""
    if a is None or b is None:
        return a is not b
    return (a.state, a.reason, a.exit_code) != (b.state, b.reason, b.exit_code)


def squeue_queries(jobids: list[str]) -> list[tuple[str, list[str]]]:
    """What to ask squeue for ``jobids``: an array's id once for several of its tasks
    (1,000 tasks: one id on the command line, not 1,000), else each id."""
    tasks: dict[str, list[str]] = {}
    for jobid in jobids:
        base = array_base(jobid)
        if base is not None:
            tasks.setdefault(base, []).append(jobid)
    queries, grouped = [], set()
    for jobid in jobids:
        base = array_base(jobid)
        if base is not None and len(tasks[base]) > 1:
            if base not in grouped:
                grouped.add(base)
                queries.append((base, tasks[base]))
        else:
            queries.append((jobid, [jobid]))
    return queries


def _read_or_none(connector, path) -> bytes | None:
    try:
        return connector.read_bytes(path)
    except (FileNotFoundError, OSError):
        return None


class NotSubmitted(ProcessHandle):
    """A job not submitted because it can no longer run (a dependency failed)."""

    def __init__(self, reason: str):
        self.reason = reason

    def poll(self) -> int | None:
        return -1

    def kill(self) -> None:
        return

    async def recorded(self, job) -> None:
        return

    async def wait(self, on_state=None) -> ProcessExit:
        return ProcessExit(None, self.reason, by_launcher=True, dependency_failed=True)


class SlurmJobHandle(ProcessHandle):
    """A SLURM job running a task: its state from the poller and the job folder."""

    def __init__(self, launcher, jobid: str, paths, after=()):
        self.launcher = launcher
        self.jobid = check_jobid(jobid, paths.slurm_record)
        self.paths = paths
        self.cancelled = False
        # (job, SLURM id) of the dependencies SLURM waits for (--dependency): when one
        # fails, SLURM keeps this job pending forever; we cancel it instead.
        self.after = list(after)
        self._never_since: float | None = None
        self._poller: SlurmPoller | None = None

    def __repr__(self) -> str:
        return f"SlurmJobHandle({self.jobid})"

    @property
    def poller(self) -> SlurmPoller:
        if self._poller is None:
            self._poller = self.launcher.poller()
        return self._poller

    @property
    def _connector(self):
        return self.launcher.connector

    @property
    def _local(self) -> bool:
        return getattr(self._connector, "is_local", True)

    def _exists(self, path) -> bool:
        return self._connector.exists(path)

    def _status(self) -> SlurmStatus | None:
        return self._poller.statuses.get(self.jobid) if self._poller is not None else None

    def poll(self) -> int | None:
        status = self._status()
        if status is not None and status.final:
            return exit_of(status).code
        return None

    def state(self) -> ProcessState:
        status = self._status()
        if status is not None and status.final:
            return ProcessState.FINISHED
        if self._exists(self.paths.pid) or (status is not None and not status.pending):
            return ProcessState.RUNNING
        return ProcessState.SCHEDULED

    async def recorded(self, job) -> None:
        return  # the launcher wrote the job record before returning the handle

    def kill(self) -> None:
        """``scancel`` the job (blocking: the scheduler calls it through ``job.io``)."""
        self.cancelled = True
        # "--": whatever the id, never an option (the id was checked when read).
        r = self.launcher.runner.run_sync("scancel", "--", self.jobid, timeout=30)
        if r.returncode != 0:
            logger.warning("scancel %s exited %s: %s", self.jobid, r.returncode, r.stderr.strip())
        if self._poller is not None:
            self._poller.kick_threadsafe()

    async def wait(self, on_state: Callable[[ProcessState], None] | None = None) -> ProcessExit:
        poller = self.poller
        poller.track(self.jobid)
        try:
            return await self._follow(poller, on_state)
        finally:
            poller.untrack(self.jobid)

    async def _follow(self, poller: SlurmPoller, on_state) -> ProcessExit:
        paths, jobid = self.paths, self.jobid
        last: ProcessState | None = None
        delay = FILE_POLL_MIN
        ended_at: float | None = None  # when SLURM said it ended (or forgot it) without a marker
        failed_at: float | None = None  # when the job's own .failed appeared
        failed_round = 0  # the poller's round count then
        pid_seen: tuple[bytes | None, int] | None = None  # (pid file, round) while pending
        while True:
            started, done, failed = await self._markers()
            status = poller.statuses.get(jobid)
            final = status is not None and status.final
            if not started and done:
                return ProcessExit(0)
            if not started and failed:
                # The job wrote its failure on its way out; SLURM's final word tells
                # whether SLURM ended it (time limit, scancel, memory).
                if failed_at is None:
                    failed_at, failed_round = time.monotonic(), poller.rounds
                answered_after = poller.seen_in_round.get(jobid, -1) > failed_round
                if status is not None and status.pending and answered_after:
                    # Pending in a squeue begun after the job ended: SLURM requeued it
                    # (node failure, preemption): it runs again; its .failed is not its end.
                    await self._io(self._connector.unlink, paths.failed)
                    failed_at = None
                    continue
                if final or time.monotonic() - failed_at >= FINAL_WAIT:
                    return await self._io(self._exit_after_marker, status)
                poller.kick()
            elif final or poller.missing.get(jobid, 0) >= MISSING_ROUNDS:
                ended_at = ended_at or time.monotonic()
                grace = MARKER_GRACE.get(status.state, 0.0) if final else GONE_GRACE
                if await self._io(self._died_here):
                    grace = 0.0  # its process is gone from this very host: no marker comes
                if not final and self.cancelled:
                    grace = 0.0  # a pending array task scancel'ed: SLURM forgets it at once
                if time.monotonic() - ended_at >= grace:
                    if final:
                        return exit_of(status, self.cancelled)
                    if self.cancelled:
                        return ProcessExit(None, "cancelled", by_launcher=True)
                    return ProcessExit(None, (
                        f"SLURM job {jobid} is no longer known to SLURM (squeue, sacct) and "
                        f"left no result in {paths.path}; see {paths.stderr}"))
            else:
                ended_at = None
                if not started and (stop := self._dependency_failed(status)) is not None:
                    await self._io(self.kill)
                    return stop
                if started and status is not None and status.pending:
                    # A pid file while SLURM says pending: the job was requeued after
                    # its process was killed (no marker). Once an answer begun after
                    # we saw this very pid file says pending, the file is stale.
                    content = await self._io(_read_or_none, self._connector, paths.pid)
                    if pid_seen is None or pid_seen[0] != content:
                        pid_seen = (content, poller.rounds)
                    elif poller.seen_in_round.get(jobid, -1) > pid_seen[1]:
                        started = False
                else:
                    pid_seen = None
                running = started or (status is not None and not status.pending)
                state = ProcessState.RUNNING if running else ProcessState.SCHEDULED
                if state is not last:
                    last = state
                    if started and state is ProcessState.RUNNING:
                        # Seen up to a poll late (the launcher's interval, or the
                        # pending job's file look): its start is its pid file's.
                        self.started_at = await self._io(self._pid_started)
                    if on_state is not None:
                        on_state(state)
            if (not started and not failed and ended_at is None and status is not None
                    and status.pending):
                await poller.next_change(jobid, delay)
                delay = min(delay * 1.5,
                            PENDING_POLL_MAX if self._local else REMOTE_PENDING_POLL_MAX)
            else:
                if delay > FILE_POLL_MAX:
                    delay = FILE_POLL_MIN  # it left the queue: look often again
                await poller.next_round(delay)
                delay = min(delay * 1.5,
                            FILE_POLL_MAX if self._local else REMOTE_FILE_POLL_MAX)

    def _dependency_failed(self, status: SlurmStatus | None) -> ProcessExit | None:
        """The end of a job that can no longer start: a dependency failed."""
        from .depends import failed_dependency  # late: depends is imported after us

        reason = failed_dependency(self.after)
        if reason is not None:
            return ProcessExit(None, reason, by_launcher=True, dependency_failed=True)
        if status is None or status.reason != "DependencyNeverSatisfied":
            self._never_since = None
            return None
        # SLURM gave up on a dependency we do not follow (or not yet heard of).
        self._never_since = self._never_since or time.monotonic()
        if time.monotonic() - self._never_since < FINAL_WAIT:
            return None
        return ProcessExit(None, (
            f"dependency failed: SLURM job {self.jobid} can never start "
            f"(DependencyNeverSatisfied: {' '.join(d for _, d in self.after) or 'a job'} "
            "it depends on did not end well)"), by_launcher=True, dependency_failed=True)

    async def _io(self, fn, *args):
        """``fn(*args)`` on the job folder's host, on the connector's worker threads."""
        return await self._connector.call(fn, *args)

    def _pid_started(self) -> float | None:
        """The start time the job's pid file records (None: no file, or no time in it)."""
        info = parse_pid_file(_read_or_none(self._connector, self.paths.pid))
        return parse_seconds(info.get("started")) if info is not None else None

    async def _markers(self) -> tuple[bool, bool, bool]:
        """Whether the pid, done and failed files exist (read off the loop on a remote host)."""
        paths = self.paths

        def look() -> tuple[bool, bool, bool]:
            if self._exists(paths.pid):
                return True, False, False
            done = self._exists(paths.done)
            return False, done, not done and self._exists(paths.failed)

        return await self._io(look)

    def _died_here(self) -> bool:
        """The job's pid file names a dead process of this host (killed before its marker)."""
        try:
            info = parse_pid_file(self._connector.read_optional(self.paths.pid))
        except OSError:
            return False
        if info is None or info.get("host") != self._connector.hostname:
            return False
        from ...scheduler.jobs import live_pid  # late: the scheduler imports the launchers

        # Dead, or its pid now another process's (a stale pid file).
        return live_pid(info, self._connector) is None

    def _exit_after_marker(self, status: SlurmStatus | None) -> ProcessExit:
        """The end of a job that wrote its ``.failed`` marker itself."""
        try:
            code = parse_failed(self._connector.read_optional(self.paths.failed)).get("code")
        except OSError:
            code = None
        code = code if isinstance(code, int) else None
        if status is not None and status.final:
            slurm = exit_of(status, self.cancelled)
            if slurm.by_launcher:
                return ProcessExit(code, slurm.reason, slurm.timeout, by_launcher=True)
        return ProcessExit(code)
