"""The local machine: files, processes, file locks (fasteners) and tokens."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

import fasteners

from ..errors import WaitTimeoutError
from ..process import ProcessExit, ProcessHandle, ProcessState
from ..process.pidwait import PidWatch
from . import Connector
from .workers import Workers

__all__ = ["LocalConnector", "LocalProcess"]


class LocalConnector(Connector):
    """Connector for executing tasks on the local machine."""

    _instance: LocalConnector | None = None
    is_local = True

    def __init__(self, localpath: Path | None = None):
        default = os.environ.get("XPM_WORKDIR") or Path.home() / ".local/share/xpm_nb"
        self.localpath = Path(localpath or default)

    def __repr__(self) -> str:
        return "LocalConnector()"

    @classmethod
    def instance(cls) -> LocalConnector:
        if cls._instance is None:
            cls._instance = LocalConnector()
        return cls._instance

    @property
    def hostname(self) -> str:
        return socket.gethostname()

    async def call(self, fn, *args):
        """``fn(*args)`` on a worker thread: a slow disk (NFS) never stalls the loop."""
        return await _workers().submit(fn, *args)

    # --- locks and tokens -----------------------------------------------------

    def lock(self, path: Path, max_delay: int = -1):
        """A process lock on ``path`` (``with connector.lock(p): ...``)."""
        return _SyncLock(Path(path), max_delay)

    def async_lock(self, path: Path, max_delay: int = -1):
        """A lock usable with ``async with``; waits without blocking the loop."""
        return _AsyncLock(Path(path), max_delay)

    def createtoken(self, name: str, total: int):
        """A counted resource shared by all processes of this machine."""
        from ..tokens import CounterToken

        return CounterToken(name, self.localpath / "tokens" / f"{name}.token", total)

    # --- files (thin wrappers: no system call beyond the operation itself) ------

    def exists(self, path: Path) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: Path) -> bool:
        return os.path.isdir(path)

    def read_bytes(self, path: Path) -> bytes:
        # Non-blocking open and a regular-file check: a FIFO or a link to
        # /dev/zero planted in a workspace must not hang or exhaust a reader.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read()
        finally:
            os.close(fd)

    def write_atomic(self, path: Path, data: bytes | str) -> None:
        from ..core.params import atomic_write

        atomic_write(Path(path), data)

    def append(self, path: Path, data: bytes | str) -> None:
        with open(path, "ab") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)

    def mkdir(self, path: Path, parents: bool = True, exist_ok: bool = True) -> None:
        Path(path).mkdir(parents=parents, exist_ok=exist_ok)

    def unlink(self, path: Path, missing_ok: bool = True) -> None:
        Path(path).unlink(missing_ok=missing_ok)

    def rename(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def symlink(self, target: Path | str, link: Path) -> None:
        os.symlink(target, link)

    def rmtree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def listdir(self, path: Path) -> list[str]:
        return os.listdir(path)

    def size(self, path: Path) -> int | None:
        try:
            return os.stat(path).st_size
        except OSError:
            return None

    def read_range(self, path: Path, offset: int, length: int | None = None) -> bytes:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read() if length is None else f.read(length)
        except OSError:
            return b""

    def chmod(self, path: Path, mode: int) -> None:
        os.chmod(path, mode)

    def setExecutable(self, path: Path, flag: bool) -> None:  # noqa: N802 - reference name
        mode = os.stat(path).st_mode
        os.chmod(path, mode | 0o111 if flag else mode & ~0o111)

    # --- processes -------------------------------------------------------------

    def pid_alive(self, pid: int) -> bool:
        from ..layout import pid_alive

        return pid_alive(pid)

    def kill(self, pid: int, sig: int = signal.SIGTERM, group: bool = True) -> bool:
        try:
            if group:
                os.killpg(os.getpgid(pid), sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def start(self, command: Sequence[str], *, cwd: Path, env: dict[str, str],
              stdout: Path, stderr: Path) -> LocalProcess:
        full_env = dict(os.environ)
        full_env.update(env)
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            popen = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=full_env,
                # Its own session: the job outlives a kernel restart.
                start_new_session=True,
            )
        return LocalProcess(popen)

    def run_command_sync(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                         cwd: str | Path | None = None, timeout: float | None = None,
                         input: str | None = None) -> tuple[int, str, str]:
        full_env = {**os.environ, **(env or {})}
        try:
            r = subprocess.run(list(argv), input=input, capture_output=True, text=True,
                               cwd=cwd, env=full_env, timeout=timeout,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, "", f"{argv[0]} did not end within {timeout} s"
        except OSError as exc:
            return 127, "", f"cannot run {argv[0]}: {exc}"
        return r.returncode, r.stdout, r.stderr

    async def run_command(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                          cwd: str | Path | None = None, timeout: float | None = None,
                          input: str | None = None) -> tuple[int, str, str]:
        full_env = {**os.environ, **(env or {})}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=full_env)
        except OSError as exc:
            return 127, "", f"cannot run {argv[0]}: {exc}"
        data = input.encode() if input is not None else None
        try:
            out, err = await asyncio.wait_for(proc.communicate(data), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return 124, "", f"{argv[0]} did not end within {timeout} s"
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


_WORKERS: Workers | None = None


def _workers() -> Workers:
    global _WORKERS
    if _WORKERS is None:
        _WORKERS = Workers("xpm_nb-io", 8)
    return _WORKERS


def _forget_workers() -> None:  # a forked child has none of the parent's threads
    global _WORKERS
    _WORKERS = None


os.register_at_fork(after_in_child=_forget_workers)


class LocalProcess(ProcessHandle):
    """A local process started by :meth:`LocalConnector.start` or the direct launcher."""

    def __init__(self, popen: subprocess.Popen):
        self.popen = popen
        self.pid = popen.pid
        # Its end wakes the loop at once (pidfd) instead of after a poll's delay,
        # so the next queued job starts sooner. Watched now, before anything can
        # reap the pid.
        self._exit = PidWatch(popen.pid, ended=lambda: popen.poll() is not None)

    def poll(self) -> int | None:
        return self.popen.poll()

    async def recorded(self, job) -> None:
        """Return once the job's pid file (or a result) exists, or the process ended.

        The folder is looked at through the job's connector, off the loop.
        """
        paths, connector = job.paths, job.connector

        def seen() -> bool:
            return any(connector.exists(p) for p in (paths.pid, paths.done, paths.failed))

        delay = 0.01
        while not await connector.call(seen):
            if self.poll() is not None:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    async def wait(self, on_state=None) -> ProcessExit:
        if on_state is not None:
            on_state(ProcessState.RUNNING)
        await self._exit.wait()
        return ProcessExit(self.popen.wait())

    def kill(self) -> None:
        # The whole process group: the task's own children end too.
        os.killpg(os.getpgid(self.popen.pid), signal.SIGTERM)


class _SyncLock:
    def __init__(self, path: Path, max_delay: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = fasteners.InterProcessLock(str(path))
        self.timeout = None if max_delay < 0 else max_delay

    def __enter__(self):
        if not self.lock.acquire(blocking=True, timeout=self.timeout):
            msg = f"could not lock {self.lock.path} within {self.timeout} s"
            raise WaitTimeoutError(msg)
        return self

    def __exit__(self, *exc):
        self.lock.release()


class _AsyncLock:
    """A fasteners lock taken from a coroutine: every try (open, ``lockf``) and
    the release run on the worker threads, the waits between tries on the loop."""

    def __init__(self, path: Path, max_delay: int):
        self.path = path
        self.lock = fasteners.InterProcessLock(str(path))
        self.max_delay = max_delay

    def _try(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.lock.acquire(blocking=False)

    async def __aenter__(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        delay = 0.005
        while not await self._try_off_loop():
            if 0 <= self.max_delay < loop.time() - start:
                msg = f"could not lock {self.lock.path} within {self.max_delay} s"
                raise WaitTimeoutError(msg)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        return self

    async def _try_off_loop(self) -> bool:
        attempt = _workers().submit(self._try)
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # Cancelled while a try runs: a lock it takes is given back at once.
            attempt.add_done_callback(self._release_if_taken)
            raise

    def _release_if_taken(self, attempt: asyncio.Future) -> None:
        if not attempt.cancelled() and attempt.exception() is None and attempt.result():
            self.lock.release()

    async def __aexit__(self, *exc):
        await _workers().submit(self.lock.release)
