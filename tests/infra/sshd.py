"""A real OpenSSH server on 127.0.0.1 with host and user keys of its own.

::

    server = SshServer().start()
    client = server.client()          # paramiko, RejectPolicy + known_hosts
    server.stop(); server.start()     # same port, same keys; sessions cut
    server.pause(); server.resume()   # SIGSTOP/SIGCONT: connections hang
    server.close()                    # stop and remove the folder

Attributes: ``host``, ``port``, ``user``, ``user_key`` (private key path),
``user_key_pub``, ``host_key``, ``known_hosts`` (a file with the
``[127.0.0.1]:PORT ssh-ed25519 ...`` line), ``ssh_config`` (a file with a
``Host xpmtest`` entry: ``ssh -F server.ssh_config xpmtest`` works), ``log``,
``base`` (the folder) and ``startup_seconds``.

Commands run over SSH get ``session_env`` (by default this process's PATH, so
``python`` there is the interpreter of the tests) through ``SetEnv``.
"""

from __future__ import annotations

import atexit
import getpass
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from . import (
    LOOPBACK,
    descendants,
    free_port,
    listening,
    pid_alive,
    read_pid,
    signal_pids,
    tail,
    terminate,
)

SSHD = "/usr/sbin/sshd"
HOST_ALIAS = "xpmtest"


def sshd_available() -> tuple[bool, str]:
    """Whether sshd and ssh-keygen are installed."""
    if not os.access(SSHD, os.X_OK):
        return False, f"{SSHD} not installed (apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return False, "ssh-keygen not installed (apt-get install openssh-client)"
    return True, "ok"


class SshError(RuntimeError):
    pass


class SshServer:
    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        port: int | None = None,
        session_env: dict[str, str] | None = None,
        start_timeout: float = 10.0,
        keep: bool | None = None,
    ) -> None:
        self._base_arg = Path(base_dir) if base_dir is not None else None
        self.host = LOOPBACK
        self.port = port
        self.user = getpass.getuser()
        if session_env is None:
            session_env = {"PATH": os.environ["PATH"]} if "PATH" in os.environ else {}
        self.session_env = dict(session_env)
        self.start_timeout = start_timeout
        self.keep = keep if keep is not None else os.environ.get("XPM_NB_KEEP_INFRA") == "1"
        self.base: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._paused = False
        self.startup_seconds: float | None = None

    # ----------------------------------------------------------------- setup
    def _setup(self) -> None:
        """First start only: folder, keys, configuration files."""
        if self._base_arg is not None:
            self._base_arg.mkdir(parents=True, exist_ok=True)
            self.base = self._base_arg
        else:
            self.base = Path(tempfile.mkdtemp(prefix="xpm-sshd-"))
        b = self.base
        self.host_key = b / "ssh_host_ed25519_key"
        self.user_key = b / "id_ed25519"
        self.user_key_pub = b / "id_ed25519.pub"
        self.authorized_keys = b / "authorized_keys"
        self.known_hosts = b / "known_hosts"
        self.ssh_config = b / "ssh_config"
        self.sshd_config = b / "sshd_config"
        self.pid_file = b / "sshd.pid"
        self.log = b / "sshd.log"
        for key, comment in ((self.host_key, "xpmtest-host"), (self.user_key, "xpmtest-user")):
            if not key.exists():
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
                    check=True,
                    capture_output=True,
                )
        if self.port is None:
            self.port = free_port()
        shutil.copyfile(self.user_key_pub, self.authorized_keys)
        host_pub = (b / "ssh_host_ed25519_key.pub").read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        self.ssh_config.write_text(
            f"Host {HOST_ALIAS}\n"
            f"    HostName {self.host}\n"
            f"    Port {self.port}\n"
            f"    User {self.user}\n"
            f"    IdentityFile {self.user_key}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {self.known_hosts}\n"
            f"    StrictHostKeyChecking yes\n"
            f"    BatchMode yes\n"
        )
        lines = [
            f"ListenAddress {self.host}",
            f"Port {self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "MaxStartups 100",
            "MaxSessions 100",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
        ]
        for k, v in self.session_env.items():
            lines.append(f'SetEnv {k}="{v}"')
        self.sshd_config.write_text("\n".join(lines) + "\n")
        atexit.register(self.close)

    # ----------------------------------------------------------- start / stop
    def start(self) -> SshServer:
        """Start sshd (again: same folder, port and keys)."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        ok, reason = sshd_available()
        if not ok:
            raise SshError(reason)
        t0 = time.monotonic()
        if self.base is None:
            self._setup()
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation folder
        with open(self.base / "sshd.out", "ab") as out:
            self._proc = subprocess.Popen(
                [SSHD, "-D", "-f", str(self.sshd_config), "-E", str(self.log)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._paused = False
        deadline = t0 + self.start_timeout
        while not listening(self.port, self.host):
            if self._proc.poll() is not None:
                raise SshError(self._failure(f"sshd exited with code {self._proc.returncode}"))
            if time.monotonic() > deadline:
                self.stop()
                raise SshError(self._failure(f"sshd not listening after {self.start_timeout} s"))
            time.sleep(0.01)
        self.startup_seconds = time.monotonic() - t0
        return self

    def _failure(self, what: str) -> str:
        return (
            f"sshd failed on {self.host}:{self.port}: {what} (folder {self.base})\n"
            f"--- {self.log}:\n{tail(self.log)}\n"
            f"--- {self.base / 'sshd.out'}:\n{tail(self.base / 'sshd.out')}"
        )

    def pid(self) -> int | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return read_pid(self.pid_file) if self.base is not None else None

    def running(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def kill_sessions(self) -> None:
        """Cut every open connection (kills sshd's children); keep listening."""
        pid = self.pid()
        if pid is None:
            return
        kids = descendants(pid)
        if self._paused:
            signal_pids(kids, signal.SIGCONT)
        terminate(kids, timeout=2.0)

    def stop(self) -> None:
        """Stop listening and cut every connection. start() brings it back. Idempotent."""
        if self.base is None:
            return
        pid = self.pid()  # read before sshd removes its pid file
        if pid is not None:
            kids = descendants(pid)
            if self._paused:
                signal_pids([pid, *kids], signal.SIGCONT)
            terminate([pid], timeout=3.0)
            terminate(kids, timeout=2.0)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        self._paused = False

    def pause(self) -> None:
        """Freeze sshd and its sessions (SIGSTOP): connections hang, nothing is refused."""
        pid = self.pid()
        if pid is None:
            return
        signal_pids([pid, *descendants(pid)], signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        pid = self.pid()
        if pid is not None:
            # Children forked while paused cannot exist: the parent was stopped.
            signal_pids([pid, *descendants(pid)], signal.SIGCONT)
        self._paused = False

    def close(self) -> None:
        """Stop and remove the folder (unless ``keep``). Idempotent."""
        self.stop()
        try:
            atexit.unregister(self.close)
        except Exception:  # pragma: no cover
            pass
        if self.base is not None and self._base_arg is None and not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- client
    def client(self, *, known_hosts: Path | str | None = None, timeout: float = 10.0):
        """A connected ``paramiko.SSHClient`` (user key, RejectPolicy, our known_hosts)."""
        import paramiko

        c = paramiko.SSHClient()
        c.load_host_keys(str(known_hosts if known_hosts is not None else self.known_hosts))
        c.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            c.connect(
                self.host,
                port=self.port,
                username=self.user,
                key_filename=str(self.user_key),
                look_for_keys=False,
                allow_agent=False,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
            )
        except BaseException:
            c.close()
            raise
        return c

    def ssh_command(self, *remote: str) -> list[str]:
        """An OpenSSH client command line running ``remote`` on this server."""
        return ["ssh", "-F", str(self.ssh_config), HOST_ALIAS, *remote]
