"""The scheduler: one asyncio task per job, on the caller's event loop.

In a notebook the loop is the kernel's own, so nothing blocks a cell; in a
script it is a private loop run while the script waits. A job's coroutine
waits for its dependencies, checks the job folder (a done job is never run
again; a job another process runs is followed, not started twice), takes its
tokens, launches the process and polls it, then reads the marker files.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from ..errors import XPMError
from ..launchers import ProcessExit, ProcessHandle, ProcessState
from ..launchers.pidwait import wait_exit
from ..run import EXIT_GRACEFUL_TIMEOUT
from .follow import JobFollower
from .jobs import Job, JobState, pid_alive
from .tokens import TokenDependency

__all__ = ["Scheduler"]

POLL_MIN, POLL_MAX = 0.01, 0.25  # seconds between two polls of a process


class Scheduler:
    """Runs jobs on an event loop; one per experiment."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.jobs: dict[str, Job] = {}
        self.listeners: list = []

    def submit(self, job: Job) -> Job:
        """Schedule ``job`` (or return the job already scheduled for its folder)."""
        key = str(job.path)
        existing = self.jobs.get(key)
        if existing is not None:
            return existing
        self.jobs[key] = job
        job.scheduler = self
        self._start(job)
        return job

    def _start(self, job: Job) -> None:
        job._future = self.loop.create_future()
        job._cancelled = False
        job._needed = asyncio.Event()  # set when a dependent needs a transient job
        job._launching = False  # its process is being started (cancel waits for the handle)
        self._set_state(job, JobState.WAITING)
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
        if job.state.finished or job._future is None or job._future.done():
            return False
        job._cancelled = True
        job.failure_reason = "cancelled"
        started = job.state in (JobState.RUNNING, JobState.SCHEDULED) or job.process is not None
        if started and self.kill(job):
            return True  # the job's coroutine sees the process end and records it
        if job._launching:
            return True  # killed as soon as its launch returns a handle
        job._task.cancel()
        return True

    def resubmit(self, job: Job) -> Job:
        """Run a failed (or cancelled) job again, with its failed dependencies first."""
        if job.state is JobState.DONE:
            msg = (f"job {job.locator} is done: it is not run again. Fix: delete its folder "
                   f"{job.path} to recompute it")
            raise XPMError(msg)
        if not job.state.finished:
            return job  # still waiting or running: nothing to do
        for dep in job.dependencies:
            if dep.state is JobState.ERROR:
                self.resubmit(dep)
        job.failure_reason = None
        job.exit_code = None
        job.started_time = job.ended_time = None
        job.retry_count = 0
        job.progress = []
        self._start(job)
        return job

    async def _run(self, job: Job) -> None:
        try:
            await self._run_job(job)
        except asyncio.CancelledError:
            if job._future.done():  # finished already (a transient job not needed)
                return
            job.failure_reason = job.failure_reason or "cancelled"
            try:
                if await job.io(job.has_folder):
                    await job.io(job.mark_failed, None, job.failure_reason)
            except (OSError, XPMError):
                pass  # the host is gone: the driver still knows it failed
            self._finish(job, JobState.ERROR)
            if not job._cancelled:
                raise
        except Exception as exc:  # noqa: BLE001 - the job fails, the scheduler goes on
            job.failure_reason = f"scheduler error: {type(exc).__name__}: {exc}"
            self._finish(job, JobState.ERROR)
        finally:
            if not job._future.done():  # whatever went wrong, waiters hear of the end
                job._future.set_result(job.state)

    def _finish(self, job: Job, state: JobState) -> None:
        job.ended_time = job.ended_time or time.time()
        try:
            self._set_state(job, state)
            try:
                if job.has_folder():
                    job.write_status()
            except (OSError, XPMError):
                pass  # the status file is a convenience; the markers are the truth
        finally:
            # Waiters must always hear of the end, even when the host is gone.
            if not job._future.done():
                job._future.set_result(state)
        if state is JobState.DONE:
            self._remove_transient_dependencies(job)

    # --- transient jobs ---------------------------------------------------

    def _remove_transient_dependencies(self, job: Job) -> None:
        """Delete the folders of ``REMOVE`` transient jobs all of whose dependents are done."""
        import shutil

        from .workspace import TransientMode

        for dep in job.dependencies:
            if dep.transient is not TransientMode.REMOVE or dep.state is not JobState.DONE:
                continue
            dependents = [j for j in self.jobs.values() if dep in j.dependencies]
            if all(j.state is JobState.DONE for j in dependents):
                if dep.connector.is_local:
                    shutil.rmtree(dep.path, ignore_errors=True)
                else:
                    dep.connector.rmtree(dep.path)

    def is_awaited(self, job: Job) -> bool:
        """Whether waiting for the experiment waits for ``job`` (unneeded transient ones not)."""
        from .workspace import TransientMode

        return job.transient is TransientMode.NONE or job._needed.is_set()

    def drop_unneeded(self) -> None:
        """End the transient jobs no job needed: they are not run (state unscheduled)."""
        for job in list(self.jobs.values()):
            if not job._future.done() and not self.is_awaited(job):
                job.failure_reason = None
                self._finish(job, JobState.UNSCHEDULED)
                job._task.cancel()

    async def _run_job(self, job: Job) -> None:
        for dep in job.dependencies:
            dep._needed.set()
        for dep in job.dependencies:
            await asyncio.shield(dep._future)
            if dep.state is not JobState.DONE:
                job.failure_reason = (
                    f"dependency failed: {dep.locator} ({dep.failure_reason}); log: {dep.stderr}"
                )
                self._finish(job, JobState.ERROR)
                return
        state, _ = await job.io(job.disk_state)
        if state is JobState.DONE:
            self._finish(job, JobState.DONE)
            return
        running_elsewhere = state is JobState.RUNNING  # another process runs it: followed
        if not self.is_awaited(job):
            await job._needed.wait()  # a transient job runs only for a dependent
        from .workspace import RunMode

        if job.run_mode in (RunMode.DRY_RUN, RunMode.GENERATE_ONLY):
            if job.run_mode is RunMode.GENERATE_ONLY:
                await job.io(job.prepare)
            self._finish(job, JobState.UNSCHEDULED)
            return
        self._set_state(job, JobState.READY)
        tokens = [d for d in job.config.__xpm__.dependencies if isinstance(d, TokenDependency)]
        # A slot (the launcher's bound on jobs running at once), then the tokens,
        # before anything slow: jobs reach it in submission order, and run in it.
        slots_of = getattr(job.launcher, "slots", None)
        slots = slots_of() if slots_of is not None and not running_elsewhere else None
        await self._acquire_resources(job, tokens, slots)
        try:
            await self._run_in_slot(job, tokens)
        finally:
            if slots is not None:
                slots.release()

    async def _run_in_slot(self, job: Job, tokens: list[TokenDependency]) -> None:
        try:
            if job.connector.is_local:
                # Writing params.json walks the configuration: off the loop.
                await asyncio.to_thread(job.prepare)
            else:
                await job.io(job.prepare)
        except BaseException:
            await self._release_tokens(job, tokens)
            raise
        stopped = self.loop.create_future()
        follower = self.loop.create_task(JobFollower(job, self._notify).run(stopped))
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
        state, info = await job.io(job.disk_state)
        if state is JobState.DONE:  # even when cancelled too late: the folder says done
            self._finish(job, JobState.DONE)
            return
        if job._cancelled:
            job.exit_code = info.get("code", code)
            job.failure_reason = "cancelled"
            await job.io(job.mark_failed, job.exit_code, "cancelled")
            self._finish(job, JobState.ERROR)
            return
        job.exit_code = info.get("code", code)
        job.failure_reason = info.get("reason") or f"exit code {code}"
        self._finish(job, JobState.ERROR)

    async def _acquire_resources(self, job: Job, tokens: list[TokenDependency],
                                 slots) -> None:
        """A slot, then all of the job's tokens at once.

        Tokens are shared with other processes (a GPU), slots are this
        process's: a job never holds a token while it queues for a slot, and a
        job waiting for a token gives its slot back between tries.
        """
        delay = POLL_MIN
        while True:
            if slots is not None:
                await slots.acquire()
            try:
                if await self._try_tokens(job, tokens):
                    return
            except BaseException:
                if slots is not None:
                    slots.release()
                raise
            if slots is not None:
                slots.release()
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
                env = dict(job.environ)  # a copy: these entries are per launch
                env["XPM_NB_WORKSPACE"] = str(job.workspace.path)
                env["XPM_NB_JOB_NAME"] = job.name
                if job.workspace.python_path:
                    env["PYTHONPATH"] = os.pathsep.join(
                        [*job.workspace.python_path,
                         os.environ.get("PYTHONPATH", "") if connector.is_local else ""]
                    )
                job._launching = True
                try:
                    handle = await job.launcher.launch_async(job, env)
                finally:
                    job._launching = False
                job.process = handle
                if job._cancelled:  # cancelled while it was being started
                    try:
                        handle.kill()
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
                job.started_time = job.started_time or time.time()
                self._set_state(job, JobState.RUNNING)
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
        handle = job.process
        if handle is None:
            pid = (job.process_state_dict() or {}).get("pid")
            if pid is None:
                return False
            handle = _follow_pid(job, int(pid))
        try:
            handle.kill()
        except (ProcessLookupError, PermissionError, OSError):
            return False
        job.failure_reason = "cancelled"
        return True

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
