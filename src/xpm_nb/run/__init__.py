"""The job process: ``python -m xpm_nb.run <job folder>``.

Imports only the core and the task's own modules: this is where the per-task
overhead is won. Steps: take the job lock, write the pid file, rebuild the
configuration from ``params.json``, configure logging (INFO to stderr, as the
reference's job script, unless the task's modules configured it at import), run
the init tasks and the task, then write
``<name>.done`` or ``<name>.failed`` (temp file then rename) and remove the pid.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

__all__ = ["run_job", "main"]

EXIT_GRACEFUL_TIMEOUT = 3  # exit code of a resumable task that stopped to be retried
EXIT_NOT_RECORDED = 4  # the task ended but its result marker could not be written


class Terminated(BaseException):
    """SIGTERM (a cancel, or a cluster's notice) turned into an exception: the job
    then records its end (``.failed``, no pid file) instead of vanishing."""


def _on_sigterm(signum, frame):
    raise Terminated("terminated by SIGTERM")


def _event(events: Path, record: dict) -> None:
    record.setdefault("timestamp", time.time())
    with events.open("a") as f:
        f.write(json.dumps(record) + "\n")


def run_job(job_path: Path) -> int:
    import fasteners

    from ..core import taskglobals
    from ..core.params import atomic_write, read_params
    from ..errors import GracefulTimeout
    from ..layout import JobPaths, failed_content, pid_content

    job_path = Path(job_path).absolute()
    name = os.environ.get("XPM_NB_JOB_NAME") or _name_from_params(job_path)
    paths = JobPaths(job_path, name)
    paths.meta.mkdir(exist_ok=True)
    paths.events.parent.mkdir(parents=True, exist_ok=True)

    lock = fasteners.InterProcessLock(str(paths.lock))
    if not lock.acquire(blocking=False):
        # Another process runs this job (its pid file may be unreadable, so the
        # scheduler started us): wait for it, then take its result rather than
        # give up and be recorded as failed while the job still runs.
        print(f"xpm_nb: {paths.lock} is held by another process running this job; "
              "waiting for it to end", file=sys.stderr, flush=True)
        lock.acquire(blocking=True)
    try:
        if paths.done.exists():
            return 0
        if paths.failed.exists():
            paths.failed.unlink()
        # "started": a driver that follows this run (after a kernel restart) shows
        # its real start time. "starttime" (ticks since boot) and "boot_id": who
        # this process is, so that a reader never takes another process given the
        # same pid later (a stale pid file) for this job.
        atomic_write(paths.pid, pid_content())
        job_id, task_id = job_path.name, job_path.parent.name
        base = {"job_id": job_id, "task_id": task_id}
        _event(paths.events, {**base, "state": "running", "event_type": "JobStateChangedEvent"})
        workspace = Path(os.environ.get("XPM_NB_WORKSPACE", paths.workspace))
        deadline = os.environ.get("XPM_NB_DEADLINE")
        taskglobals.set_job(job_path, workspace, float(deadline) if deadline else None)
        from . import progress

        progress._setup(paths.events, base)
        code, reason = 0, None
        signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            functions = _register_sources(job_path)
            config = read_params(job_path)
            _name_code(functions)
            from ..core.instance import build_instance

            # One object per configuration for the task and its init tasks: an
            # init task that loads weights into the task's model changes that model.
            objects: dict = {}
            task = build_instance(config, objects=objects)
            # After the task's modules are imported (a configuration they made
            # stands), before any of its code runs.
            _configure_logging()
            for init in config.__xpm__.init_tasks:
                build_instance(init, objects=objects).execute()
            task.execute()
        except GracefulTimeout as exc:
            code, reason = EXIT_GRACEFUL_TIMEOUT, f"graceful timeout: {exc}"
            traceback.print_exc()
        except Terminated as exc:
            code, reason = 128 + signal.SIGTERM, str(exc)
        except BaseException as exc:  # noqa: BLE001 - every failure must be recorded
            code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
            reason = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        state = "done" if code == 0 else "error"
        try:
            if code == 0:
                atomic_write(paths.done, b"")
            else:
                atomic_write(paths.failed, failed_content(code, reason))
        except OSError as exc:
            # A read-only folder, a full disk: the job is not marked done (so it will
            # run again), and the log says why rather than ending in a traceback.
            print(f"xpm_nb: cannot record the job's result ({state}) in {job_path}: {exc}. "
                  "Fix the folder (permissions, disk space), then submit the job again",
                  file=sys.stderr)
            return code or EXIT_NOT_RECORDED
        try:
            _event(paths.events, {**base, "state": state, "exit_code": code,
                                  "failure_reason": reason,
                                  "event_type": "JobStateChangedEvent"})
        except OSError:
            pass  # the marker is the truth; the event is only a notification
        return code
    finally:
        try:
            paths.pid.unlink()
        except OSError:
            pass  # gone already, or a read-only folder: readers see a dead pid
        lock.release()


# The reference's job script (experimaestro.scriptbuilder) sets this up.
LOG_FORMAT = "%(levelname)s:%(process)d:%(asctime)s [%(name)s] %(message)s"
LOG_DATEFMT = "%y-%m-%d %H:%M:%S"


def _register_sources(job_path: Path) -> dict:
    """Put the source of the shipped classes (a notebook cell's) in :mod:`linecache`.

    A class defined in a cell runs here from ``classes.pkl``, where cloudpickle
    named its code's file ``<dynamic-code>``: a traceback would show no line of
    it. Returns ``"qualname:first line"`` -> file name, for :func:`_name_code`.
    """
    import linecache

    from ..core.params import CLASSES_FILE, SOURCES_FILE

    path = job_path / SOURCES_FILE
    if not (job_path / CLASSES_FILE).exists() or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    files, functions = data.get("files"), data.get("functions")
    for name, text in (files.items() if isinstance(files, dict) else ()):
        if isinstance(name, str) and isinstance(text, str) and not os.path.exists(name):
            # mtime None: linecache.checkcache keeps the entry (as IPython's cells).
            linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    return functions if isinstance(functions, dict) else {}


def _name_code(functions: dict) -> None:
    """Give the shipped classes' code its file name back (see :func:`_register_sources`)."""
    if not functions:
        return
    from types import CodeType

    from ..core.xpmtype import extra_namespace

    def rename(code: CodeType, name: str) -> CodeType:
        consts = tuple(rename(c, name) if isinstance(c, CodeType) else c for c in code.co_consts)
        return code.replace(co_filename=name, co_consts=consts)

    for cls in list(extra_namespace.values()):
        for klass in getattr(cls, "__mro__", ()):
            for value in vars(klass).values():
                func = getattr(value, "__func__", value)
                for f in (func, getattr(value, "fget", None), getattr(value, "fset", None)):
                    code = getattr(f, "__code__", None)
                    if code is None or code.co_filename != "<dynamic-code>":
                        continue
                    name = functions.get(f"{f.__qualname__}:{code.co_firstlineno}")
                    if isinstance(name, str):
                        try:
                            f.__code__ = rename(code, name)
                        except (TypeError, ValueError):
                            pass


def _configure_logging() -> None:
    """INFO and above to stderr (the job's ``.err``), in the reference's format, so
    that a task's ``logging.info(...)`` is kept. A no-op when the root logger already
    has a handler: a configuration the task's module made at import stands."""
    import logging

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt=LOG_DATEFMT)


def _name_from_params(job_path: Path) -> str:
    from ..layout import job_name

    return job_name(job_path.parent.name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m xpm_nb.run JOB_FOLDER", file=sys.stderr)
        return 2
    return run_job(Path(argv[0]))
