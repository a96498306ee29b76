"""``SshConnector``: a remote host's files over SFTP; its processes, locks and tokens
through a small agent started over SSH (``agent.py``); short commands (``sbatch``)
over SSH exec channels.

Every operation is retried across a dropped link (see ``session.py``), so a
job is never marked failed because the network was down. Locks die with the
agent of a dropped link: the connector remembers the locks its callers hold
and takes them again on the new agent before it serves any other request
(``agent()``); when the link drops while locks are held it reconnects at
once, without waiting for a call (an open but idle experiment makes none). Blocking paramiko
calls run on the connector's worker threads when the scheduler awaits
:meth:`SshConnector.call`, so the notebook's loop never waits on the network.
"""

from __future__ import annotations

import io
import logging
import shlex
import signal
import stat as stat_module
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import paramiko

from ...errors import ConnectorError
from .. import Connector
from ..workers import Workers
from .agent import Agent, AgentError
from .path import SshPath
from .session import SshSession, SshSettings

__all__ = ["SshConnector"]

logger = logging.getLogger("xpm_nb.ssh")

_P = Path | PurePosixPath | str

#: Seconds a held lock is waited for on a new agent after a reconnection (the previous
#: agent may take a moment to exit); longer means another process took it meanwhile.
RETAKE_GRACE = 5.0


def _s(path: _P) -> str:
    if isinstance(path, SshPath):
        return path.hostpath
    return str(path)


class SshConnector(Connector):
    """A remote host reached over SSH (paramiko).

    :param hostname: ``[user@]host[:port]`` or an alias of the SSH config file.
    :param ssh_config: the OpenSSH client configuration to read
        (default ``~/.ssh/config`` when it exists).
    :param known_hosts: known_hosts file(s); default: ``UserKnownHostsFile`` of
        the configuration, else ``~/.ssh/known_hosts``.
    :param identity_file: private key file(s); default: ``IdentityFile`` of the
        configuration, the agent's keys and ``~/.ssh/id_*``.
    :param accept_unknown_host: trust and save the key of a host that is in no
        known_hosts file (default: refuse, unless the configuration says
        ``StrictHostKeyChecking accept-new``).
    :param python: the remote Python that runs jobs and helpers (``xpm_nb``
        must be importable there).
    :param env: environment variables for every remote command and job.
    :param localpath: remote folder for tokens (default ``~/.local/share/xpm_nb``).
    :param op_timeout: seconds without an answer after which the link is
        considered hung, and re-established.
    :param reconnect_timeout: seconds to keep reconnecting before an operation
        fails (None: keep trying).
    """

    _cache: dict[tuple, SshConnector] = {}
    _cache_lock = threading.Lock()
    is_local = False

    def __init__(self, hostname: str, *, ssh_config: str | Path | None = None,
                 known_hosts: str | Path | list | None = None,
                 identity_file: str | Path | list | None = None,
                 accept_unknown_host: bool | None = None, python: str = "python3",
                 env: dict[str, str] | None = None, localpath: str | None = None,
                 connect_timeout: float | None = None, op_timeout: float = 30.0,
                 reconnect_timeout: float | None = None, workers: int = 4):
        self.spec = hostname
        self.settings = SshSettings.resolve(
            hostname, ssh_config=ssh_config, known_hosts=known_hosts,
            identity_file=identity_file, accept_unknown_host=accept_unknown_host,
            connect_timeout=connect_timeout)
        self.session = SshSession(self.settings, op_timeout=op_timeout,
                                  reconnect_timeout=reconnect_timeout)
        self.python = python
        self.env: dict[str, str] = dict(env or {})
        self._localpath = localpath
        self._workers = Workers(f"xpm_nb-ssh-{self.settings.hostname}", workers)
        self._hostname: str | None = None
        self._home: PurePosixPath | None = None
        self._has_proc: bool | None = None
        self._agent: Agent | None = None
        self._agent_lock = threading.Lock()
        # Locks our callers hold (host path -> RemoteLock), taken again after a
        # reconnection; changed under _agent_lock, so that none is missed.
        self._held: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"SshConnector({self.spec!r})"

    def __str__(self) -> str:
        return self.spec

    # --- getting connectors ---------------------------------------------------

    @staticmethod
    def get(hostname: str, **options: Any) -> SshConnector:
        """The connector of ``hostname``, shared by every caller with the same options.

        ``SshConnector.get(host)`` without options returns the connector
        created earlier for ``host`` (with whatever options it was given).
        """
        key = (hostname, tuple(sorted((k, repr(v)) for k, v in options.items())))
        cache = SshConnector._cache
        with SshConnector._cache_lock:
            found = cache.get(key)
            if found is None and not options:
                found = next((c for (h, _), c in cache.items() if h == hostname), None)
            if found is None:
                found = SshConnector(hostname, **options)
                cache[key] = found
            return found

    @staticmethod
    def fromPath(path: SshPath | str) -> SshConnector:  # noqa: N802 - reference name
        """The connector of an :class:`SshPath` (or ``ssh://`` URL)."""
        return SshConnector.get(SshPath(path).host)

    def path(self, path: _P) -> SshPath:
        """``path`` on this host as an :class:`SshPath` (to read a job's files)."""
        return SshPath(_s(path), host=self.spec)

    def close(self) -> None:
        """Close the connection (it is opened again on the next use)."""
        with self._agent_lock:
            if self._agent is not None:
                self._agent.close()
                self._agent = None
            self._held.clear()  # released with the agent
        self.session.close()

    # --- identity ---------------------------------------------------------------

    @property
    def hostname(self) -> str:
        if self._hostname is None:
            self._hostname = self.session.retrying("starting the agent", self.agent).hostname
        return self._hostname

    @property
    def home(self) -> PurePosixPath:
        if self._home is None:
            self._home = PurePosixPath(self._sftp("resolving ~", lambda s: s.normalize(".")))
        return self._home

    def absolute(self, path: _P) -> PurePosixPath:
        """``path`` on the host, relative paths taken from the remote home."""
        p = PurePosixPath(_s(path))
        if str(p).startswith("~"):
            p = self.home / str(p)[1:].lstrip("/")
        return p if p.is_absolute() else self.home / p

    def resolve(self, path: _P, basepath: _P | None = None) -> str:
        p = PurePosixPath(_s(path))
        if basepath is not None and not p.is_absolute():
            p = PurePosixPath(_s(basepath)) / p
        return str(self.absolute(p))

    @property
    def localpath(self) -> PurePosixPath:
        return self.absolute(self._localpath or ".local/share/xpm_nb")

    # --- plumbing ----------------------------------------------------------------

    def _sftp(self, what: str, fn: Callable[[Any], Any]) -> Any:
        return self.session.retrying(what, lambda: fn(self.session.sftp()))

    def _exec(self, command: str, *, input: bytes | None = None,
              timeout: float | None = None) -> tuple[int, str, str]:
        """Run a shell command (retried: only for commands safe to run twice)."""
        code, out, err = self.session.retrying(
            f"running {command[:60]!r}",
            lambda: self.session.exec(command, input=input, timeout=timeout))
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a worker thread (blocking SSH I/O off the loop)."""
        return await self._workers.submit(fn, *args)

    def _env_prefix(self, env: dict[str, str] | None) -> str:
        merged = {**self.env, **(env or {})}
        if not merged:
            return ""
        return "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in merged.items()) + " "

    # --- locks and tokens ---------------------------------------------------------

    def lock(self, path: _P, max_delay: int = -1):
        """A lock on ``path`` held by the agent on the host (``fcntl.lockf``, as
        ``fasteners`` does: local schedulers of that host see it)."""
        from .locks import RemoteLock

        return RemoteLock(self, self.absolute(path), max_delay)

    def async_lock(self, path: _P, max_delay: int = -1):
        from .locks import RemoteLock

        return RemoteLock(self, self.absolute(path), max_delay)

    def createtoken(self, name: str, total: int):
        """A counted token in ``localpath/tokens`` on the host, shared with its local
        schedulers (same file and format as ``LocalConnector``'s tokens)."""
        from .locks import RemoteToken

        return RemoteToken(self, name, self.localpath / "tokens" / f"{name}.token", total)

    def agent(self) -> Agent:
        """The agent of the current connection (started on first use, again after a drop).

        A new agent first retires the previous one and takes the held locks
        again (:meth:`_retake_locks`), before any caller can use it.
        """
        with self._agent_lock:  # one agent, whatever the number of threads asking
            old = self._agent
            if old is None or old.closed or old.generation != self.session.generation:
                if old is not None:
                    old.close()
                self.session.client()  # (re)connect first: the agent belongs to this link
                agent = Agent(self.session, self.python)
                try:
                    if old is not None:
                        # A hung link may have left it running with our locks: end it.
                        agent.request("retire", timeout=self.session.op_timeout,
                                      pid=old.pid, name=old.name)
                    self._retake_locks(agent)
                except BaseException:
                    agent.close(wait=0)  # the link dropped again: the next try starts over
                    raise
                agent.on_lost = self._agent_lost
                self._agent = agent
            return self._agent

    def _retake_locks(self, agent: Agent) -> None:
        """Take the held locks on a new ``agent`` (under ``_agent_lock``).

        A lock another process took while the link was down is not waited for
        more than :data:`RETAKE_GRACE` seconds: it is marked ``lost``, with a warning.
        """
        for path, lock in list(self._held.items()):
            try:
                agent.request("lock", timeout=self.session.op_timeout + RETAKE_GRACE,
                              path=path, max_delay=RETAKE_GRACE)
            except AgentError as exc:
                del self._held[path]
                lock.lost = True
                logger.warning("%s: the lock %s, held before the SSH link dropped, could not "
                               "be taken again (%s): another process took it meanwhile; "
                               "it is lost", self.spec, path, exc)

    def _hold(self, lock, agent: Agent) -> None:
        """Remember ``lock``, just taken by ``agent`` (EOFError if that agent is gone)."""
        with self._agent_lock:
            if agent is not self._agent or agent.closed:
                # Taken on a dropped link: the new agent does not have it; take it again.
                raise EOFError(f"the link dropped while locking {lock.path}")
            self._held[str(lock.path)] = lock

    def _forget(self, lock) -> None:
        """``lock`` is being released: not to be taken again after a reconnection."""
        with self._agent_lock:
            if self._held.get(str(lock.path)) is lock:
                del self._held[str(lock.path)]

    def _agent_lost(self, agent: Agent) -> None:
        """The link dropped under ``agent`` (its reader thread): if locks are held,
        reconnect now and take them again, rather than at the next call."""
        if self._held:
            threading.Thread(target=self._restore_locks, daemon=True,
                             name=f"xpm_nb-ssh-relock-{self.settings.hostname}").start()

    def _restore_locks(self) -> None:
        try:
            # Stops when no lock is held any more (released, or the connector closed).
            self.session.retrying("taking the held locks again",
                                  lambda: self.agent() if self._held else None)
        except Exception as exc:  # noqa: BLE001 - a thread of its own: report, do not raise
            logger.warning("%s: the locks held before the SSH link dropped are not held "
                           "again yet (%s); the next call reconnects", self.spec, exc)

    def agent_request(self, what: str, op: str, timeout: float | None = None,
                      **fields: Any) -> dict:
        """An agent request, sent again on a new connection if the link drops."""
        try:
            return self.session.retrying(
                what, lambda: self.agent().request(op, timeout=timeout, **fields))
        except AgentError as exc:
            raise ConnectorError(f"{self.spec}: {what}: {exc}") from None

    def keeper_pid(self) -> int:
        """A remote process that lives as long as this connection (the agent)."""
        return self.session.retrying("starting the agent", self.agent).pid

    # --- files ----------------------------------------------------------------------

    def exists(self, path: _P) -> bool:
        def op(sftp):
            try:
                sftp.stat(_s(path))
            except FileNotFoundError:
                return False
            return True

        return self._sftp(f"checking {path}", op)

    def stat(self, path: _P):
        return self._sftp(f"reading {path}", lambda s: s.stat(_s(path)))

    def _mode(self, path: _P) -> int | None:
        try:
            return self.stat(path).st_mode
        except FileNotFoundError:
            return None

    def is_dir(self, path: _P) -> bool:
        mode = self._mode(path)
        return mode is not None and stat_module.S_ISDIR(mode)

    def is_file(self, path: _P) -> bool:
        mode = self._mode(path)
        return mode is not None and stat_module.S_ISREG(mode)

    def read_bytes(self, path: _P) -> bytes:
        def op(sftp):
            with sftp.open(_s(path), "rb") as f:
                return f.read()

        return self._sftp(f"reading {path}", op)

    def write_atomic(self, path: _P, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        target = PurePosixPath(_s(path))
        tmp = str(target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"))

        def op(sftp):
            with sftp.open(tmp, "wb") as f:
                f.set_pipelined(True)
                f.write(data)
            try:
                sftp.posix_rename(tmp, str(target))
            except BaseException:
                try:
                    sftp.remove(tmp)
                except OSError:
                    pass
                raise

        self._sftp(f"writing {target}", op)

    def append(self, path: _P, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")

        def op(sftp):
            with sftp.open(_s(path), "ab") as f:
                f.write(data)

        self._sftp(f"appending to {path}", op)

    def mkdir(self, path: _P, parents: bool = True, exist_ok: bool = True) -> None:
        target = PurePosixPath(_s(path))

        def make(sftp, p: PurePosixPath, top: bool) -> None:
            try:
                sftp.mkdir(str(p))
                return
            except FileNotFoundError:
                if not parents or p.parent == p:
                    raise
            except OSError:
                # SFTP says only "Failure": the folder may exist already.
                try:
                    mode = sftp.stat(str(p)).st_mode
                except FileNotFoundError:
                    if not parents or p.parent == p:
                        raise
                else:
                    if stat_module.S_ISDIR(mode) and (exist_ok or not top):
                        return
                    raise FileExistsError(f"{p} exists on {self.spec}") from None
            make(sftp, p.parent, False)
            make(sftp, p, top)

        self._sftp(f"creating {target}", lambda s: make(s, target, True))

    def unlink(self, path: _P, missing_ok: bool = True) -> None:
        def op(sftp):
            try:
                sftp.remove(_s(path))
            except FileNotFoundError:
                if not missing_ok:
                    raise

        self._sftp(f"removing {path}", op)

    def rename(self, src: _P, dst: _P) -> None:
        self._sftp(f"renaming {src}", lambda s: s.posix_rename(_s(src), _s(dst)))

    def symlink(self, target: _P, link: _P) -> None:
        def op(sftp):
            try:
                sftp.symlink(_s(target), _s(link))
            except FileNotFoundError:
                raise
            except OSError as exc:  # SFTP says only "Failure"
                try:
                    sftp.lstat(_s(link))
                except FileNotFoundError:
                    raise exc from None
                raise FileExistsError(f"{link} exists on {self.spec}") from None

        self._sftp(f"linking {link}", op)

    def rmtree(self, path: _P) -> None:
        target = self.absolute(path)
        if len(target.parts) < 3:  # never / or /home
            msg = f"refusing to remove {target} on {self.spec}: too close to the root"
            raise ConnectorError(msg)
        code, _, err = self._exec(f"rm -rf -- {shlex.quote(str(target))}")
        if code != 0:
            raise OSError(f"rm -rf {target} on {self.spec} failed: {err.strip()}")

    def listdir(self, path: _P) -> list[str]:
        return self._sftp(f"listing {path}", lambda s: s.listdir(_s(path)))

    def size(self, path: _P) -> int | None:
        try:
            return self.stat(path).st_size
        except FileNotFoundError:
            return None

    def read_range(self, path: _P, offset: int, length: int | None = None) -> bytes:
        def op(sftp):
            try:
                f = sftp.open(_s(path), "rb")
            except FileNotFoundError:
                return b""
            with f:
                f.seek(offset)
                return f.read() if length is None else f.read(length)

        return self._sftp(f"reading {path}", op)

    def read_optional(self, path: _P) -> bytes | None:
        """The file's content, or None if it does not exist (one round trip less)."""
        def op(sftp):
            try:
                f = sftp.open(_s(path), "rb")
            except FileNotFoundError:
                return None
            with f:
                return f.read()

        return self._sftp(f"reading {path}", op)

    def open(self, path: _P, mode: str = "r", encoding: str | None = None):
        """A file object on a remote file (text unless ``"b"`` is in ``mode``)."""
        raw_mode = mode.replace("t", "").replace("b", "")
        f = self._sftp(f"opening {path}", lambda s: s.open(_s(path), raw_mode + "b"))
        if "b" in mode:
            return f
        return io.TextIOWrapper(f, encoding=encoding or "utf-8")

    def chmod(self, path: _P, mode: int) -> None:
        self._sftp(f"chmod {path}", lambda s: s.chmod(_s(path), mode))

    def setExecutable(self, path: _P, flag: bool) -> None:  # noqa: N802 - reference name
        def op(sftp):
            mode = sftp.stat(_s(path)).st_mode
            sftp.chmod(_s(path), mode | 0o111 if flag else mode & ~0o111)

        self._sftp(f"chmod {path}", op)

    # --- processes ----------------------------------------------------------------

    def pid_alive(self, pid: int) -> bool:
        if self._has_proc is None:
            self._has_proc = self.exists("/proc/1")
        if self._has_proc:
            return self.exists(f"/proc/{int(pid)}")
        code, _, _ = self._exec(f"kill -0 {int(pid)}")
        return code == 0

    def kill(self, pid: int, sig: int = signal.SIGTERM, group: bool = True) -> bool:
        answer = self.agent_request(f"signalling {pid}", "kill", timeout=self.session.op_timeout,
                                    pid=int(pid), signal=int(sig), group=group)
        return bool(answer["result"])

    def start(self, command: Sequence[str], *, cwd: _P, env: dict[str, str],
              stdout: _P, stderr: _P, exit_file: _P | None = None):
        """Start ``command`` detached on the host (a new session, by the agent).

        A wrapper shell writes its pid to ``<exit_file>.pid`` and, when the
        command ends, its exit code to ``exit_file`` (default: beside
        ``stdout``). If the link drops during the start, the pid file tells
        whether the process runs, so that it is never started twice.
        """
        from .process import SshProcess

        if exit_file is None:
            exit_file = (f"/tmp/xpm_nb-{uuid.uuid4().hex}.code" if _s(stdout) == "/dev/null"
                         else _s(stdout) + ".code")
        exit_file = PurePosixPath(_s(exit_file))
        pid_file = exit_file.with_name(exit_file.name + ".pid")
        # The wrapper starts the command, then traps TERM/INT so that a group kill
        # ends the command but not the wrapper, which records the exit code.
        # (``wait`` returns early when a trapped signal comes: wait again.)
        script = ('out=$1 err=$2 code=$3; shift 3; echo $$ >"$code.pid"; '
                  '"$@" >>"$out" 2>>"$err" </dev/null & child=$!; trap : TERM INT; '
                  'wait $child; status=$?; '
                  'while kill -0 $child 2>/dev/null; do wait $child; status=$?; done; '
                  'echo $status >"$code.tmp"; mv -f "$code.tmp" "$code"')
        fields = {"argv": ["sh", "-c", script, "sh", _s(stdout), _s(stderr), str(exit_file),
                           *map(str, command)],
                  "cwd": _s(cwd), "env": {**self.env, **{k: str(v) for k, v in env.items()}}}
        self.mkdir(exit_file.parent, parents=True, exist_ok=True)
        self.unlink(exit_file)
        self.unlink(pid_file)
        while True:
            agent = self.session.retrying("starting the agent", self.agent)
            try:
                pid = agent.request("start", timeout=self.session.op_timeout, **fields)["pid"]
            except AgentError as exc:
                msg = (f"{self.spec}: could not start {' '.join(map(str, command))} in {cwd}: "
                       f"{exc}")
                raise ConnectorError(msg) from None
            except (OSError, EOFError, paramiko.SSHException):
                self.session.drop(agent.generation)
                pid = self._started_pid(pid_file)  # started before the link dropped?
                if pid is None:
                    continue  # it did not start: start it on the new link
            return SshProcess(self, int(pid), exit_file)

    def _started_pid(self, pid_file: PurePosixPath, wait: float = 5.0) -> int | None:
        """After a start cut by the link: the wrapper's pid if it started."""
        deadline = time.monotonic() + wait
        while True:
            data = self.read_optional(pid_file)  # reconnects first
            if data and data.strip().isdigit():
                return int(data.strip())
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    def run_command_sync(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                         cwd: str | Path | None = None, timeout: float | None = None,
                         input: str | None = None) -> tuple[int, str, str]:
        """Run a short command on the host: ``(returncode, stdout, stderr)``.

        The link is re-established before the command starts; if it drops
        while the command runs, the result is ``255`` (as OpenSSH's client),
        since running it again might not be safe (``sbatch``).
        """
        line = " ".join(shlex.quote(str(a)) for a in argv)
        if cwd is not None:
            line = f"cd {shlex.quote(_s(cwd))} && {self._env_prefix(env)}{line}"
        else:
            line = f"{self._env_prefix(env)}{line}"
        self.session.retrying("connecting", self.session.client)
        try:
            code, out, err = self.session.exec(
                line, input=input.encode() if input is not None else None, timeout=timeout)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            return 255, "", f"SSH link to {self.spec} lost while running {argv[0]}: {exc}"
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def follow_pid(self, pid: int):
        """A handle on a job process of the host started by someone else (its pid file)."""
        from .process import SshPidProcess

        return SshPidProcess(self, int(pid))
