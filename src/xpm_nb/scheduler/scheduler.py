"""The scheduler: one asyncio task per job, on the scheduler's own loop.

That loop runs in a daemon thread (``loopthread.py``), so jobs go on while a
notebook cell blocks. A job's coroutine waits for its dependencies, checks
the job folder (a done job is never run again; a job another process runs is
followed, not started twice), takes a slot and its tokens, launches the
process and waits for it, then reads the marker files. Every file access
goes through the job's connector, off the loop (``job.io``).

Thread rules: ``submit`` may be called from any thread (it hands the job to
the loop); ``cancel``/``resubmit``/``kill`` run on the loop (called from
elsewhere, they wait for it); each job's ``_done`` is a thread-safe
``concurrent.futures.Future`` that waiters block on or await.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import threading
import time

from ..core.prepare import prepare_error
from ..errors import StateError, XPMError
from ..layout import parse_time, pid_alive
from ..process import ProcessExit, ProcessHandle, ProcessState
from ..process.pidwait import wait_exit
from ..run import EXIT_GRACEFUL_TIMEOUT
from ..tokens import TokenDependency
from .follow import JobFollower
from .jobs import Job, JobState
from .loopthread import call_on_loop, on_scheduler_thread, scheduler_loop

__all__ = ["Scheduler"]

logger = logging.getLogger("xpm_nb.scheduler")

POLL_MIN, POLL_MAX = 0.01, 0.25  # seconds between two polls of a process


class Scheduler:
    """Runs jobs on the scheduler's loop; one per experiment."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self.loop = loop or scheduler_loop()
        self.jobs: dict[str, Job] = {}
        self.listeners: list = []
        self._lock = threading.Lock()  # jobs are added from the caller's thread
        self._intake = asyncio.Lock()  # FIFO: see _run_job

    def submit(self, job: Job, on_start=None) -> Job:
        """Schedule ``job`` (or return the job already scheduled for its folder).

        Returns at once, from any thread: the job's coroutine starts on the loop,
        and first runs ``on_start(job)`` (the run's record) on the job's I/O thread.
        """
        key = str(job.path)
        with self._lock:
            existing = self.jobs.get(key)
            if existing is None:
                self.jobs[key] = job
        if existing is not None:
            return call_on_loop(self._merge, existing, job)
        job.scheduler = self
        job._on_start = on_start
        self._arm(job)
        self._set_state(job, JobState.WAITING)
        if on_scheduler_thread():
            self._start(job)
        else:
            self.loop.call_soon_threadsafe(self._start, job)
        return job

    def _merge(self, existing: Job, job: Job) -> Job:
        """A second submission of a job's folder, as the reference merges it: the most
        lasting transient mode wins (none > transient > remove), the larger
        ``max_retries``; a job only dry-run (or generate-only) so far is now run. A job
        that ended unscheduled (dry run, or a transient one no job needed), or failed,
        runs again."""
        from .workspace import RunMode, TransientMode

        order = [TransientMode.NONE, TransientMode.TRANSIENT, TransientMode.REMOVE]
        was_transient = existing.transient is not TransientMode.NONE
        if order.index(job.transient) < order.index(existing.transient):
            existing.transient = job.transient
        existing.max_retries = max(existing.max_retries, job.max_retries)
        now_real = job.run_mode is RunMode.NORMAL and existing.run_mode is not RunMode.NORMAL
        if now_real:
            existing.run_mode = RunMode.NORMAL  # a job not yet at its run-mode check runs
        now_needed = was_transient and existing.transient is TransientMode.NONE
        if now_needed:
            existing._needed.set()
        if ((now_real or now_needed) and existing._done.done()
                and existing.state is JobState.UNSCHEDULED):
            self._arm(existing)
            self._set_state(existing, JobState.WAITING)
            self._start(existing)
        elif existing.state is JobState.ERROR and job.run_mode is RunMode.NORMAL:
            # As the reference: submitted again after it failed, it runs again, with
            # the new submission's configuration (a class fixed and redefined in a
            # cell is what the job process gets).
            existing.config = job.config
            existing.dependencies = job.dependencies
            existing.prepares = job.prepares
            existing.import_roots = job.import_roots
            self._resubmit(existing)
        return existing

    @staticmethod
    def _arm(job: Job) -> None:
        """A new run of ``job``: what waiters wait on, from any thread."""
        job._done = concurrent.futures.Future()
        job._cancelled = False
        job._needed = asyncio.Event()  # set when a dependent needs a transient job
        job._launching = False  # its process is being started (cancel waits for the handle)
        job._task = None

    def _start(self, job: Job) -> None:
        if job._done.done():  # ended before its coroutine started (dropped transient)
            return
        job._task = self.loop.create_task(self._run(job), name=f"xpm_nb job {job.locator}")

    def _set_state(self, job: Job, state: JobState) -> None:
        job.set_scheduler_state(state)
        self._notify(job)

    def _notify(self, job: Job) -> None:
        """Tell the scheduler's listeners (widgets, servers) that ``job`` changed."""
        for listener in list(self.listeners):
            listener(job)

    # --- acting on jobs ---------------------------------------------------

    def cancel(self, job: Job) -> bool:
        """Cancel a job: a waiting one never starts, a running one is killed.

        The job ends in the ERROR state with the reason "cancelled", written in
        its ``.failed`` marker when it has a folder; jobs depending on it fail.
        Returns False when the job was already finished.
        """
        return call_on_loop(self._cancel, job)

    def _cancel(self, job: Job) -> bool:
        if job.state.finished or job._done is None or job._done.done():
            return False
        job._cancelled = True
        job.failure_reason = "cancelled"
        started = job.state in (JobState.RUNNING, JobState.SCHEDULED) or job.process is not None
        if job._launching:
            return True  # killed as soon as its launch returns a handle
        if started:
            # Killing may take a round trip (SSH, scancel): off the loop. The job's
            # coroutine sees the process end and records it; if nothing was there
            # to kill, the coroutine itself is stopped.
            self.loop.create_task(self._kill_or_stop(job))
            return True
        job._task.cancel()
        return True

    async def _kill_or_stop(self, job: Job) -> None:
        if not await self._kill_async(job) and not job._done.done() and job._task is not None:
            job._task.cancel()

    def resubmit(self, job: Job) -> Job:
        """Run a failed (or cancelled) job again, with its failed dependencies first."""
        return call_on_loop(self._resubmit, job)

    def _resubmit(self, job: Job) -> Job:
        if job.state is JobState.DONE:
            msg = (f"job {job.locator} is done: it is not run again. Fix: delete its folder "
                   f"{job.path} to recompute it")
            raise StateError(msg)
        if not job.state.finished:
            return job  # still waiting or running: nothing to do
        for dep in job.dependencies:
            if dep.state is JobState.ERROR:
                self._resubmit(dep)
        job.failure_reason = None
        job.dependency_failed = False
        job.exit_code = None
        job.started_time = job.ended_time = None
        job.retry_count = 0
        job._fresh_retries = True  # failures recorded on disk no longer count
        job.progress = []
        self._arm(job)
        self._set_state(job, JobState.WAITING)
        self._start(job)
        return job

    async def _run(self, job: Job) -> None:
        try:
            await self._run_job(job)
        except asyncio.CancelledError:
            if job._done.done():  # finished already (a transient job not needed)
                return
            job.failure_reason = job.failure_reason or "cancelled"
            try:
                if await job.io(job.has_folder):
                    await job.io(job.mark_failed, None, job.failure_reason)
            except (OSError, XPMError):
                pass  # the host is gone: the driver still knows it failed
            await self._finish(job, JobState.ERROR)
            if not job._cancelled:
                raise
        except Exception as exc:  # noqa: BLE001 - the job fails, the scheduler goes on
            job.failure_reason = f"scheduler error: {type(exc).__name__}: {exc}"
            await self._finish(job, JobState.ERROR)
        finally:
            if not job._done.done():  # whatever went wrong, waiters hear of the end
                job._done.set_result(job.state)

    async def _finish(self, job: Job, state: JobState) -> None:
        job.ended_time = job.ended_time or time.time()
        try:
            self._set_state(job, state)
            try:
                await job.io(job.write_status_if_folder)
                if state is JobState.DONE:  # before waiters hear of the end
                    await self._remove_transient_dependencies(job)
            except (OSError, XPMError):
                pass  # the status file is a convenience; the markers are the truth
        finally:
            # Waiters must always hear of the end, even when the host is gone.
            if not job._done.done():
                job._done.set_result(state)

    def _end_unscheduled(self, job: Job) -> None:
        """End a job that never ran and has no folder to record it in."""
        job.ended_time = job.ended_time or time.time()
        self._set_state(job, JobState.UNSCHEDULED)
        if not job._done.done():
            job._done.set_result(JobState.UNSCHEDULED)

    # --- transient jobs ---------------------------------------------------

    async def _remove_transient_dependencies(self, job: Job) -> None:
        """Delete the folders of ``REMOVE`` transient jobs all of whose dependents are done."""
        from .workspace import TransientMode

        for dep in job.dependencies:
            if dep.transient is not TransientMode.REMOVE or dep.state is not JobState.DONE:
                continue
            dependents = [j for j in list(self.jobs.values()) if dep in j.dependencies]
            if all(j.state is JobState.DONE for j in dependents):
                await dep.io(dep.connector.rmtree, dep.path)

    def is_awaited(self, job: Job) -> bool:
        """Whether waiting for the experiment waits for ``job`` (unneeded transient ones not)."""
        from .workspace import TransientMode

        return job.transient is TransientMode.NONE or job._needed.is_set()

    def drop_unneeded(self) -> None:
        """End the transient jobs no job needed: they are not run (state unscheduled)."""
        call_on_loop(self._drop_unneeded)

    def _drop_unneeded(self) -> None:
        for job in list(self.jobs.values()):
            if not job._done.done() and not self.is_awaited(job):
                job.failure_reason = None
                self._end_unscheduled(job)
                if job._task is not None:
                    job._task.cancel()

    async def _run_job(self, job: Job) -> None:
        on_start, job._on_start = getattr(job, "_on_start", None), None
        if on_start is not None:
            async with self._intake:  # jobs.jsonl lines in submission order
                try:
                    await job.io(on_start, job)
                except (OSError, XPMError) as exc:  # the run's record only: the job goes on
                    logger.warning("job %s: cannot record it in the run: %s", job.locator, exc)
        from .workspace import RunMode

        for dep in job.dependencies:
            dep._needed.set()
        waited = job.dependencies
        queue_after = getattr(job.launcher, "queue_after", None)
        if queue_after is not None and job.run_mode is RunMode.NORMAL:
            # Hook: a cluster launcher (SLURM) may have the cluster wait for some
            # dependencies (--dependency=afterok); it returns those left to us.
            waited = await queue_after(job)
        for dep in waited:
            await _ended(dep)
            if dep.state is JobState.UNSCHEDULED and job.run_mode is not RunMode.NORMAL:
                continue  # dry run / generate only: not run, like its dependency
            if dep.state is not JobState.DONE:
                job.failure_reason = (
                    f"dependency failed: {dep.locator} ({dep.failure_reason}); log: {dep.stderr}"
                )
                job.dependency_failed = True
                await self._finish(job, JobState.ERROR)
                return
        # One job at a time reads its folder (a fair lock): with no await between
        # here and the slot, jobs queue for their slot in submission order.
        async with self._intake:
            state, info = await job.io(job.disk_state)
        if state is JobState.DONE and await _output_valid(job) is False:
            # The marker only caches the answer (a Prepare's output is elsewhere).
            await job.io(job.connector.unlink, job.paths.done)
            state, info = None, {}
        if state is JobState.DONE:
            # Done earlier: show when it ran, from its folder's record.
            job.started_time, job.ended_time = await job.io(job.recorded_times)
            await self._finish(job, JobState.DONE)
            return
        if state is JobState.ERROR and _is_resumable(job) and await self._out_of_retries(job, info):
            return
        running_elsewhere = state is JobState.RUNNING  # another process runs it: followed
        if running_elsewhere:
            job.started_time = parse_time(info.get("started"))  # its real start
        if not self.is_awaited(job):
            await job._needed.wait()  # a transient job runs only for a dependent
        if job.run_mode is RunMode.GENERATE_ONLY:
            await job.io(job.prepare)
        # Read again: a real submission of the same job meanwhile (_merge) runs it.
        if job.run_mode in (RunMode.DRY_RUN, RunMode.GENERATE_ONLY):
            await self._finish(job, JobState.UNSCHEDULED)
            return
        if not running_elsewhere and await _output_valid(job) is True:
            await job.io(job.mark_done)  # its output is there already: adopted, not run
            await self._finish(job, JobState.DONE)
            return
        if job.prepares and not await self._prepare(job):
            return
        self._set_state(job, JobState.READY)
        tokens = [d for d in job.config.__xpm__.dependencies if isinstance(d, TokenDependency)]
        # A slot (the launcher's bound on jobs running at once), then the tokens,
        # before anything slow: jobs reach it in submission order, and run in it.
        slots_of = getattr(job.launcher, "slots", None)
        slots = slots_of() if slots_of is not None else None
        followed = slots is not None and running_elsewhere
        if followed:
            # Already running (started by a kernel now dead, or by another
            # process): it counts against the host's slots, without waiting.
            slots.follow(job)
        try:
            await self._acquire_resources(job, tokens, None if running_elsewhere else slots)
        except BaseException:
            if followed:
                slots.release(job)
            raise
        try:
            await self._run_in_slot(job, tokens, slots)
        finally:
            if slots is not None and not job._slot_released:
                slots.release(job)

    async def _out_of_retries(self, job: Job, info: dict) -> bool:
        """A failed resumable task counts its failed runs across experiments
        (``retry_count`` of ``status.json``, as the reference); as the reference,
        it is not run again once they reach ``max_retries`` (a larger
        ``max_retries``, or ``job.resubmit()``, runs it). Unlike the reference, a
        job that never ran (a dependency or a preparation failed) counts nothing:
        it did not use up a retry."""
        if job._fresh_retries:  # job.resubmit(): the count starts over
            job._fresh_retries = False
            return False
        job.retry_count = await job.io(job.recorded_retry_count)
        if job.retry_count < job.max_retries:
            return False
        job.exit_code = info.get("code")
        job.failure_reason = (
            f"{info.get('reason') or 'failed'}; not run again: it failed {job.retry_count} "
            f"time(s) and max_retries is {job.max_retries}. Fix: submit it with a larger "
            "max_retries, or call job.resubmit()")
        logger.warning("job %s: %s", job.locator, job.failure_reason)
        await self._finish(job, JobState.ERROR)
        return True

    async def _prepare(self, job: Job) -> bool:
        """Run the preparations of the Prepare configs the job uses (off the loop,
        at once); False (the job failed) if one fails."""
        results = await asyncio.gather(
            *(asyncio.to_thread(p.ensure) for p in job.prepares), return_exceptions=True)
        for preparation, result in zip(job.prepares, results):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancelled: the job's coroutine handles it
                job.failure_reason = prepare_error(preparation, result)
                await self._finish(job, JobState.ERROR)
                return False
        return True

    async def _run_in_slot(self, job: Job, tokens: list[TokenDependency], slots) -> None:
        job._slot_released = False
        try:
            await job.io(job.prepare_folder)  # params.json: at launch (_launch_and_wait)
        except BaseException:
            await self._release_tokens(job, tokens)
            raise
        stopped = self.loop.create_future()
        job._running = asyncio.Event()  # set by _wait_process when the job runs
        follower = self.loop.create_task(self._follow(job, stopped))
        try:
            while True:
                code = await self._launch_and_wait(job)
                if (
                    (code == EXIT_GRACEFUL_TIMEOUT or _timed_out(job))
                    and job.retry_count < job.max_retries
                    and _is_resumable(job)
                ):
                    job.retry_count += 1
                    continue
                break
        finally:
            stopped.set_result(None)
            try:
                await self._release_tokens(job, tokens)
            finally:
                await follower
        if slots is not None:  # free before the end is announced: "ended" means "slot free"
            job._slot_released = True
            released = slots.release(job)  # None for an unlimited pool
            if released is not None:
                await released
        state, info = await job.io(job.disk_state)
        if state is JobState.DONE:  # even when cancelled too late: the folder says done
            await self._finish(job, JobState.DONE)
            return
        if _is_resumable(job):  # every failed run counts (see _out_of_retries)
            job.retry_count += 1
        if job._cancelled:
            job.exit_code = info.get("code", code)
            job.failure_reason = "cancelled"
            await job.io(job.mark_failed, job.exit_code, "cancelled")
            await self._finish(job, JobState.ERROR)
            return
        job.exit_code = info.get("code", code)
        job.failure_reason = info.get("reason") or f"exit code {code}"
        # the launcher gave it up for a failed dependency (SLURM's afterok)
        job.dependency_failed = bool(getattr(job.last_exit, "dependency_failed", False))
        await self._finish(job, JobState.ERROR)

    async def _follow(self, job: Job, stopped: asyncio.Future) -> None:
        """Follow the job's event files from when it runs (or ends): a job queued on a
        cluster writes none, and 1,000 queued SLURM jobs read 4 times a second each
        would keep a core busy."""
        running = self.loop.create_task(job._running.wait())
        try:
            await asyncio.wait([running, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            running.cancel()
        await JobFollower(job, self._notify).run(stopped)

    async def _acquire_resources(self, job: Job, tokens: list[TokenDependency],
                                 slots) -> None:
        """A slot, then all of the job's tokens at once.

        Tokens and slots are both shared by the processes of the host: a job
        never holds a token while it queues for a slot, and a job waiting for a
        token gives its slot back between tries.
        """
        delay = POLL_MIN
        while True:
            if slots is not None:
                await slots.acquire(job)
            try:
                if await self._try_tokens(job, tokens):
                    return
            except BaseException:
                if slots is not None:
                    slots.release(job)
                raise
            if slots is not None:
                slots.release(job)
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    async def _try_tokens(self, job: Job, tokens: list[TokenDependency]) -> bool:
        """All of the job's tokens, or none: holding one while waiting for another
        could deadlock two processes that want both."""
        held: list[TokenDependency] = []
        try:
            for dep in tokens:
                if not await job.io(dep.token.try_acquire, str(job.path), dep.count):
                    await self._release_tokens(job, held)
                    return False
                held.append(dep)
        except BaseException:
            await self._release_tokens(job, held)
            raise
        return True

    async def _release_tokens(self, job: Job, tokens: list[TokenDependency]) -> None:
        for dep in tokens:
            await job.io(dep.token.release, str(job.path))

    async def _launch_and_wait(self, job: Job) -> int | None:
        connector = job.connector  # the host of the job folder
        job.last_exit = None
        async with connector.async_lock(job.paths.launch_lock):
            state, info = await job.io(job.disk_state)
            if state is JobState.DONE:
                return 0
            handle = None
            if state is not JobState.ERROR:
                # A job this launcher started before (a SLURM job queued before a
                # kernel restart) is followed, not submitted twice.
                handle = await job.launcher.attach(job)
            if handle is None and state is JobState.RUNNING:
                handle = _follow_pid(job, int(info["pid"]))  # another process runs it
            if handle is None:
                await job.io(job.clear_failure)
                # Written at every launch (never for a job done or running elsewhere).
                await job.io(job.prepare, True)  # walks the configuration: off the loop
                env = dict(job.environ)  # a copy: these entries are per launch
                env["XPM_NB_WORKSPACE"] = str(job.workspace.path)
                env["XPM_NB_JOB_NAME"] = job.name
                if os.environ.get("XPM_NB_EXPERIMAESTRO"):  # the stand-in (xpm_nb.compat)
                    env["XPM_NB_EXPERIMAESTRO"] = os.environ["XPM_NB_EXPERIMAESTRO"]
                python_path = _python_path(job, connector)
                if python_path:
                    env["PYTHONPATH"] = python_path
                job._launching = True
                try:
                    handle = await job.launcher.launch_async(job, env)
                finally:
                    job._launching = False
                job.process = handle
                if job._cancelled:  # cancelled while it was being started
                    try:
                        await job.io(handle.kill)
                    except OSError:  # ProcessLookupError: it has ended already
                        pass
                # Hold the launch lock until the start is on disk (the job's pid
                # file, a SLURM job record), so that no other process starts it.
                await handle.recorded(job)
            job.process = handle
        return await self._wait_process(job, handle)

    async def _wait_process(self, job: Job, handle: ProcessHandle) -> int | None:
        def on_state(state: ProcessState) -> None:
            if state is ProcessState.RUNNING:
                job.started_time = job.started_time or getattr(handle, "started_at", None) or time.time()
                self._set_state(job, JobState.RUNNING)
                if getattr(job, "_running", None) is not None:
                    job._running.set()  # its follower starts reading its files
            elif state is ProcessState.SCHEDULED:
                self._set_state(job, JobState.SCHEDULED)

        try:
            result = await handle.wait(on_state)
        finally:
            job.process = None
        job.last_exit = result
        code = result.code
        state, info = await job.io(job.disk_state)
        if state not in (JobState.DONE, JobState.ERROR):
            # No marker: the process could not write one (killed, timed out).
            if result.reason:
                reason = result.reason
            elif code is not None and code < 0:
                reason = f"killed by signal {signal.Signals(-code).name}"
            elif code is None:
                reason = "the job process disappeared without a result"
            else:
                reason = f"exit code {code} without a result marker"
            await job.io(job.mark_failed, code, reason)
            return code if code is not None else -1
        if state is JobState.ERROR:
            if result.by_launcher and result.reason:
                # The launcher ended it (time limit, scancel): its reason is the truer one.
                await job.io(job.mark_failed, info.get("code", code), result.reason)
            return info.get("code", code)
        return 0

    def kill(self, job: Job) -> bool:
        """Stop a started job: its process group, or its SLURM job (``scancel``)."""
        return call_on_loop(self._cancel, job)

    async def _kill_async(self, job: Job) -> bool:
        handle = job.process
        if handle is None:
            pid = ((await job.io(job.process_state_dict)) or {}).get("pid")
            if pid is None:
                return False
            handle = _follow_pid(job, int(pid))
        try:
            await job.io(handle.kill)
        except (ProcessLookupError, PermissionError, OSError):
            return False
        job.failure_reason = "cancelled"
        return True

async def _ended(job: Job) -> None:
    """Wait for the current run of ``job`` to end (a resubmission starts a new run)."""
    while True:
        done = job._done
        # shield: cancelling this waiter must not cancel the job's own future
        await asyncio.shield(asyncio.wrap_future(done))
        if job._done is done:
            return


async def _output_valid(job: Job) -> bool | None:
    """The task's own ``__xpm_output_valid__()`` (off the loop), None without one
    or when it fails."""
    check = getattr(job.config, "__xpm_output_valid__", None)
    if check is None:
        return None
    try:
        return bool(await asyncio.to_thread(check))
    except Exception:  # noqa: BLE001 - the job then runs as if nothing were known
        logger.exception("job %s: checking its output failed", job.locator)
        return None


def _is_resumable(job: Job) -> bool:
    from ..core.objects import ResumableTask

    return isinstance(job.config, ResumableTask)


def _timed_out(job: Job) -> bool:
    """Whether the job's last run was ended by its launcher's time limit (SLURM TIMEOUT)."""
    last = getattr(job, "last_exit", None)
    return last is not None and last.timeout


def _follow_pid(job: Job, pid: int) -> ProcessHandle:
    """A handle on the job's process known by its pid file, on the job's host."""
    connector = job.connector
    return _PidHandle(pid) if connector.is_local else connector.follow_pid(pid)


class _PidHandle(ProcessHandle):
    """A job process started by another scheduler, followed by its pid."""

    def __init__(self, pid: int):
        self.pid = pid

    def poll(self) -> int | None:
        return None if pid_alive(self.pid) else -1

    async def wait(self, on_state=None) -> ProcessExit:
        if on_state is not None:
            on_state(ProcessState.RUNNING)
        await wait_exit(self.pid)  # pidfd: woken at its end (polled where there is none)
        return ProcessExit(None)  # not our child: its exit code is unknown

    def kill(self) -> None:
        os.killpg(os.getpgid(self.pid), signal.SIGTERM)


def _python_path(job, connector) -> str:
    """The job's PYTHONPATH: the workspace's entries, then (on this host) the
    folders its classes were imported from and the driver's own PYTHONPATH."""
    entries = list(job.workspace.python_path)
    if connector.is_local:
        entries += [r for r in job.import_roots if r not in entries]
        if os.environ.get("PYTHONPATH"):
            entries.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(entries)
