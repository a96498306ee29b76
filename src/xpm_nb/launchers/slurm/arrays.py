"""Job arrays: launch requests gathered for a moment, then one ``sbatch --array`` per group.

The scheduler starts jobs one by one (``launch_async`` per job, on its loop).
An :class:`ArrayBatcher` (one per loop and cluster) holds the requests until
none came for :data:`WINDOW` seconds (or :data:`MAX_WAIT`, or
:data:`ARRAY_MAX` requests), groups them by what SLURM must see identical
(options, interpreter, workspace, dependencies) and submits each group as one
array whose task ``k`` runs one job folder's own ``slurm.sh``. Each job keeps
its folder, markers and ``slurm.json`` (its id ``<array>_<k>``), exactly as a
single job: a new kernel re-attaches by that id.

Files of an array, in ``WS/.xpm_nb/slurm-arrays/<name>/``: ``array.sh`` (the
task id → job script table) and, per task, ``<k>.out``/``<k>.err`` links to
the job's own ``<name>.out``/``<name>.err`` (where SLURM itself writes, e.g.
"DUE TO TIME LIMIT").

An array the cluster refuses as such (``MaxArraySize``...) is submitted
again one job at a time, with a warning.

Dependencies (``depends.py``): a group whose jobs each wait for the task of
the same index in some arrays gets those indices and ``aftercorr`` (a grid of
evaluations after a grid of trainings: one ``sbatch``); other dependencies are
``afterok`` on the tasks, shared by the whole group.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shlex
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ...layout import WorkspacePaths
from .commands import array_base

__all__ = ["ArrayBatcher", "Request", "Submission", "plan", "array_spec", "dependency_args"]

logger = logging.getLogger(__name__)

WINDOW = 0.05  # s without a new request before the batch is submitted
MAX_WAIT = 2.0  # s at most the first request of a batch waits for others
ARRAY_MAX = 1000  # tasks per array: SLURM's default MaxArraySize (1001) allows indices 0-1000
# Jobs resumed per turn of the loop once their array is submitted: 1,000 at once would
# hold the loop (and the widgets' flushes) for a good fraction of a second.
RESUME_CHUNK = 50

_BATCHERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {cluster: batcher}


@dataclass(eq=False)
class Request:
    """One job to submit: its launcher (options), script environment, SLURM dependencies."""

    job: object
    env: dict
    launcher: object
    after: list  # [(dependency job, SLURM id)]
    future: asyncio.Future
    cancelled: bool = False


@dataclass
class Submission:
    """One sbatch: a single job (``indices`` None) or an array."""

    requests: list
    indices: list | None
    dependency: list = field(default_factory=list)  # ["--dependency=..."] or []


class ArrayBatcher:
    """The launch requests of one cluster on one loop, submitted in groups."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.pending: list[Request] = []
        self._task: asyncio.Task | None = None
        self._added = 0  # requests added so far (the window restarts on each)

    @classmethod
    def get(cls, cluster) -> ArrayBatcher:
        loop = asyncio.get_running_loop()
        batchers = _BATCHERS.setdefault(loop, {})
        batcher = batchers.get(cluster)
        if batcher is None:
            batcher = batchers[cluster] = cls(loop)
        return batcher

    async def launch(self, launcher, job, env: dict, after: list):
        """The job's handle once its group is submitted (cancel-safe: see below)."""
        req = Request(job, env, launcher, after, self.loop.create_future())
        self.pending.append(req)
        self._added += 1
        if self._task is None:
            self._task = self.loop.create_task(self._collect(), name="xpm_nb SLURM arrays")
        try:
            return await asyncio.shield(req.future)
        except asyncio.CancelledError:
            # Cancelled while queued: never submitted; while submitted: cancel it there.
            req.cancelled = True
            req.future.add_done_callback(_kill_when_submitted)
            raise

    async def _collect(self) -> None:
        started = self.loop.time()
        while True:
            seen = self._added
            await asyncio.sleep(WINDOW)
            full = len(self.pending) >= ARRAY_MAX
            if full or seen == self._added or self.loop.time() - started >= MAX_WAIT:
                break
        batch, self.pending = self.pending[:ARRAY_MAX], self.pending[ARRAY_MAX:]
        self._task = None
        if self.pending:  # more than an array's worth: the next batch starts now
            self._task = self.loop.create_task(self._collect(), name="xpm_nb SLURM arrays")
        live = [r for r in batch if not r.cancelled]
        try:
            await asyncio.gather(*(_submit(s) for s in plan(live)))
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it
            for r in live:
                if not r.future.done():
                    r.future.set_exception(exc)
            raise


def _kill_when_submitted(future: asyncio.Future) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    handle = future.result()
    task = asyncio.ensure_future(handle.launcher.connector.call(handle.kill))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # logged by kill


def _corr(ids: list[str]) -> tuple[frozenset, int] | None:
    """The arrays and the one index of ``ids`` when all are tasks of distinct arrays
    with the same index (``aftercorr``), else None."""
    if not ids:
        return None
    bases, indices = set(), set()
    for jobid in ids:
        base = array_base(jobid)
        if base is None or base in bases:
            return None
        bases.add(base)
        indices.add(int(jobid.partition("_")[2]))
    return (frozenset(bases), indices.pop()) if len(indices) == 1 else None


def plan(requests: list[Request]) -> list[Submission]:
    """The sbatch calls for ``requests``: one array per group of identical settings."""
    groups: dict[tuple, list[tuple[Request, int | None]]] = {}
    for req in requests:
        ids = [jobid for _, jobid in req.after]
        corr = _corr(ids)
        launcher = req.launcher
        key = (tuple(launcher.options.args()), launcher.python, launcher.array_limit,
               str(req.job.workspace.path),
               frozenset() if corr else frozenset(ids), corr[0] if corr else None)
        groups.setdefault(key, []).append((req, corr[1] if corr else None))
    out = []
    for key, members in groups.items():
        plain, corr = key[4], key[5]
        for part in _split(members):
            if len(part) == 1:  # a lone job: a plain SLURM job, afterok on its own ids
                req = part[0][0]
                out.append(Submission([req], None,
                                      dependency_args([j for _, j in req.after], None)))
                continue
            indices = [k for _, k in part] if corr else list(range(len(part)))
            out.append(Submission([r for r, _ in part], indices,
                                  dependency_args(sorted(plain), corr)))
    return out


def _split(members: list) -> list[list]:
    """Arrays of at most ARRAY_MAX tasks, each index once (aftercorr fixes the indices)."""
    parts: list[list] = []
    for member in members:
        k = member[1]
        for part in parts:
            if len(part) < ARRAY_MAX and (k is None or all(k != m[1] for m in part)):
                part.append(member)
                break
        else:
            parts.append([member])
    return parts


def dependency_args(plain, corr) -> list[str]:
    """``--dependency`` for ``afterok`` on ``plain`` ids and ``aftercorr`` on ``corr`` arrays."""
    parts = []
    if corr:
        parts.append("aftercorr:" + ":".join(sorted(corr, key=int)))
    if plain:
        parts.append("afterok:" + ":".join(plain))
    return [f"--dependency={','.join(parts)}"] if parts else []


def array_spec(indices: list[int], limit: int | None) -> str:
    """``[0, 1, 2, 5]`` → ``"0-2,5"`` (``%limit`` appended: tasks running at once)."""
    ranges, run = [], None
    for k in sorted(indices):
        if run is not None and k == run[1] + 1:
            run[1] = k
            continue
        if run is not None:
            ranges.append(run)
        run = [k, k]
    if run is not None:
        ranges.append(run)
    spec = ",".join(f"{a}-{b}" if b > a else str(a) for a, b in ranges)
    return f"{spec}%{limit}" if limit else spec


async def _submit(sub: Submission) -> None:
    first = sub.requests[0]
    launcher = first.launcher
    try:
        if sub.indices is None:
            handle = await launcher.submit_one(first.job, first.env, sub.dependency,
                                               first.after)
            first.future.set_result(handle)
            return
        try:
            handles = await _submit_array(launcher, sub)
        except ArrayRefused as exc:
            # The cluster takes no such array (MaxArraySize, arrays disabled): one by one.
            logger.warning("%s; submitting its %d jobs one by one", exc, len(sub.requests))
            await asyncio.gather(*(_submit(Submission([r], None, dependency_args(
                [j for _, j in r.after], None))) for r in sub.requests))
            return
    except Exception as exc:  # noqa: BLE001 - this group's jobs fail, others go on
        for req in sub.requests:
            if not req.future.done():
                req.future.set_exception(exc)
        return
    for i, (req, handle) in enumerate(zip(sub.requests, handles)):
        req.future.set_result(handle)
        if i % RESUME_CHUNK == RESUME_CHUNK - 1:
            await asyncio.sleep(0)  # let the loop run the jobs resumed so far


async def _submit_array(launcher, sub: Submission) -> list:
    connector = launcher.connector
    folder = (WorkspacePaths(sub.requests[0].job.workspace.path).slurm_arrays
              / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}")
    argv = await connector.call(_write_array, launcher, sub, folder)
    r = await launcher.runner.run("sbatch", *argv, cwd=str(folder))
    what = f"the array of {len(sub.requests)} jobs ({sub.requests[0].job.locator}, ...)"
    handles = await connector.call(_record_array, launcher, sub, argv, r, what)
    for req, handle in zip(sub.requests, handles):
        launcher.noted(req.job, handle)
    handles[0].poller.kick()
    return handles


def _write_array(launcher, sub: Submission, folder: Path) -> list[str]:
    """Each job's own script, then the array's: task k runs job k's (worker thread)."""
    connector = launcher.connector
    connector.mkdir(folder)
    cases = []
    for req, k in zip(sub.requests, sub.indices):
        script = req.launcher.scriptbuilder().write(req.job, req.env)
        for suffix, target in (("out", req.job.paths.stdout), ("err", req.job.paths.stderr)):
            connector.symlink(target, folder / f"{k}.{suffix}")
        cases.append(f"{k}) exec {shlex.quote(str(script))} ;;")
    text = "\n".join([
        "#!/bin/bash", f"# xpm_nb: an array of {len(cases)} jobs", "",
        'case "$SLURM_ARRAY_TASK_ID" in', *cases, "esac",
        'echo "xpm_nb: no job for array task $SLURM_ARRAY_TASK_ID" >&2', "exit 1", ""])
    path = folder / "array.sh"
    connector.write_atomic(path, text)
    connector.setExecutable(path, True)
    job = sub.requests[0].job
    return ["--parsable", f"--job-name=xpm-{job.name}-array",
            f"--output={folder}/%a.out", f"--error={folder}/%a.err", "--open-mode=append",
            f"--chdir={folder}", f"--array={array_spec(sub.indices, launcher.array_limit)}",
            *sub.dependency, *launcher.options.args(), str(path)]


class ArrayRefused(Exception):
    """sbatch refused an array as such (not its options)."""


def _record_array(launcher, sub: Submission, argv: list[str], r, what: str) -> list:
    """Each job's ``slurm.json`` with its task id (worker thread)."""
    if r.returncode != 0 and "array" in r.stderr.lower():
        raise ArrayRefused(f"sbatch refused {what}: {r.stderr.strip()}")
    arrayid = launcher.sbatch_jobid(r, what, argv)
    return [launcher.record(req.job, f"{arrayid}_{k}", argv, req.after,
                            array={"array": arrayid, "index": k})
            for req, k in zip(sub.requests, sub.indices)]
