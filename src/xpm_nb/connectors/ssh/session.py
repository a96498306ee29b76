"""One SSH connection to a host (paramiko): settings, host keys, reconnection.

Settings come from ``~/.ssh/config`` (or the file given), then the
connector's options: host name, port, user, identity files, known hosts
files, ``StrictHostKeyChecking``, ``ProxyCommand``, ``ConnectTimeout``.

Host keys are checked against the known_hosts files (the user's, the ones
``UserKnownHostsFile`` names, the ones given): an unknown host is refused
with its fingerprint and the fix, unless ``accept_unknown_host=True`` (or
``StrictHostKeyChecking accept-new|no``), which saves its key. A changed
key is always refused.

Every operation goes through :meth:`SshSession.retrying`: when the link
drops (or hangs past ``op_timeout``) it reconnects with a growing delay and
tries again, for ``reconnect_timeout`` seconds (None: until it succeeds).
The first connection is not retried: a wrong host or key fails at once.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import paramiko

from ...errors import ConnectorError, HostKeyError
from ..blocking import note

__all__ = ["SshSettings", "SshSession", "fingerprint"]

logger = logging.getLogger("xpm_nb.ssh")

T = TypeVar("T")

# Errors that mean "the link is down or hung", never "the remote file is wrong".
_LINK_ERRORS = (EOFError, paramiko.SSHException, ConnectionError, TimeoutError, socket.timeout,
                BrokenPipeError)
# Errors of the remote file system, reported as they are.
_FILE_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                NotADirectoryError)


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as OpenSSH prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _known_hosts_name(hostname: str, port: int) -> str:
    return hostname if port == 22 else f"[{hostname}]:{port}"


@dataclass
class SshSettings:
    """Everything needed to open the connection, resolved once."""

    alias: str
    hostname: str
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    identity_files: list[str] = field(default_factory=list)
    known_hosts_files: list[str] = field(default_factory=list)
    accept_unknown_host: bool = False
    identities_only: bool = False
    proxy_command: str | None = None
    connect_timeout: float = 10.0
    keepalive: int = 15

    @classmethod
    def resolve(cls, spec: str, *, ssh_config: str | Path | None = None,
                known_hosts: str | Path | list | None = None,
                identity_file: str | Path | list | None = None,
                accept_unknown_host: bool | None = None,
                connect_timeout: float | None = None) -> SshSettings:
        """Settings of ``[user@]host[:port]`` (host may be an ssh_config alias)."""
        user, _, hostport = spec.rpartition("@")
        host, port = hostport, None
        if hostport.startswith("["):  # [ipv6]:port
            host, _, rest = hostport[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        elif hostport.count(":") == 1:
            host, port = hostport.split(":")
        if not host:
            msg = f"SSH host {spec!r}: no host name. Fix: 'host', 'user@host' or 'user@host:port'"
            raise ConnectorError(msg)
        config = _read_config(ssh_config)
        entry = config.lookup(host) if config is not None else {"hostname": host}
        settings = cls(alias=spec, hostname=entry.get("hostname", host))
        try:
            settings.port = int(port or entry.get("port", 22))
        except ValueError:
            msg = f"SSH host {spec!r}: port {port or entry.get('port')!r} is not a number"
            raise ConnectorError(msg) from None
        settings.user = user or entry.get("user") or getpass.getuser()
        files = _as_list(identity_file) or entry.get("identityfile", [])
        settings.identity_files = [os.path.expanduser(f) for f in files]
        settings.identities_only = entry.get("identitiesonly", "no").lower() == "yes"
        hosts = _as_list(known_hosts)
        if not hosts:
            hosts = entry.get("userknownhostsfile", "~/.ssh/known_hosts").split()
        settings.known_hosts_files = [os.path.expanduser(f) for f in hosts]
        if accept_unknown_host is None:
            strict = entry.get("stricthostkeychecking", "yes").lower()
            accept_unknown_host = strict in ("no", "off", "accept-new")
        settings.accept_unknown_host = accept_unknown_host
        settings.proxy_command = entry.get("proxycommand")
        if connect_timeout is None and "connecttimeout" in entry:
            connect_timeout = float(entry["connecttimeout"])
        if connect_timeout is not None:
            settings.connect_timeout = connect_timeout
        if "serveraliveinterval" in entry:
            settings.keepalive = int(entry["serveraliveinterval"])
        return settings

    @property
    def where(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _read_config(path: str | Path | None) -> paramiko.SSHConfig | None:
    if path is None:
        default = Path("~/.ssh/config").expanduser()
        if not default.exists():
            return None
        path = default
    path = Path(path).expanduser()
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except FileNotFoundError:
        msg = f"SSH config file {path} does not exist. Fix: give an existing file (ssh_config=...)"
        raise ConnectorError(msg) from None


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown hosts with the fix in the message, or accept and save them."""

    def __init__(self, settings: SshSettings):
        self.settings = settings

    def missing_host_key(self, client, hostname, key):
        s = self.settings
        name = _known_hosts_name(s.hostname, s.port)
        if not s.accept_unknown_host:
            files = ", ".join(s.known_hosts_files) or "(none)"
            msg = (
                f"SSH host {name} ({s.alias}) is unknown: its {key.get_name()} key "
                f"{fingerprint(key)} is in none of the known_hosts files ({files}). "
                f"Fix: check the fingerprint with the host's administrator, then add it "
                f"(`ssh-keyscan -p {s.port} {s.hostname} >> ~/.ssh/known_hosts`) or connect "
                f"once with accept_unknown_host=True to trust and save it"
            )
            raise HostKeyError(msg)
        client.get_host_keys().add(name, key.get_name(), key)
        target = Path(s.known_hosts_files[0] if s.known_hosts_files else "~/.ssh/known_hosts")
        target = target.expanduser()
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = paramiko.hostkeys.HostKeyEntry([name], key).to_line()
        with open(target, "a") as f:
            f.write(line)
        logger.warning("accepted the unknown SSH host key of %s (%s), saved in %s",
                       name, fingerprint(key), target)


class SshSession:
    """A (re)connectable paramiko client, an SFTP channel per thread."""

    def __init__(self, settings: SshSettings, *, op_timeout: float = 30.0,
                 reconnect_timeout: float | None = None, max_backoff: float = 10.0):
        self.settings = settings
        self.op_timeout = op_timeout
        self.reconnect_timeout = reconnect_timeout
        self.max_backoff = max_backoff
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.RLock()
        self._local = threading.local()
        self.generation = 0  # +1 at every new connection
        self.connected_once = False
        self.reconnections = 0
        self._down_since: float | None = None
        self.on_reconnect: list[Callable[[], None]] = []

    # --- connecting -----------------------------------------------------------

    def client(self) -> paramiko.SSHClient:
        """The connected client (connecting if needed)."""
        note("connecting")
        c = self._client
        if c is not None:
            t = c.get_transport()
            if t is not None and t.is_active():
                return c
        with self._lock:
            c = self._client
            if c is not None:
                t = c.get_transport()
                if t is not None and t.is_active():
                    return c
                self._close_client()
            self._client = self._connect()
            self.generation += 1
            if self.connected_once:
                self.reconnections += 1
            self.connected_once = True
            callbacks = list(self.on_reconnect) if self.generation > 1 else []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a callback never breaks the link
                logger.exception("SSH reconnection callback failed")
        return self._client

    def _connect(self) -> paramiko.SSHClient:
        s = self.settings
        client = paramiko.SSHClient()
        for path in s.known_hosts_files:
            if os.path.exists(path):
                try:
                    client.load_host_keys(path)
                except (OSError, paramiko.SSHException) as exc:
                    msg = f"cannot read the known_hosts file {path}: {exc}"
                    raise ConnectorError(msg) from None
        client.set_missing_host_key_policy(_HostKeyPolicy(s))
        sock = paramiko.ProxyCommand(s.proxy_command) if s.proxy_command else None
        try:
            client.connect(
                s.hostname, port=s.port, username=s.user,
                key_filename=s.identity_files or None,
                look_for_keys=not s.identities_only,
                allow_agent=not s.identities_only,
                timeout=s.connect_timeout, banner_timeout=s.connect_timeout,
                auth_timeout=s.connect_timeout, sock=sock,
            )
        except HostKeyError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            name = _known_hosts_name(s.hostname, s.port)
            msg = (
                f"SSH host {name} ({s.alias}) presented a {exc.key.get_name()} key "
                f"{fingerprint(exc.key)} that differs from the known one "
                f"{fingerprint(exc.expected_key)}: someone may be intercepting the "
                f"connection. Fix: if the host was reinstalled, remove the old key "
                f"(`ssh-keygen -R '{name}'`) and check the new one"
            )
            raise HostKeyError(msg) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            keys = ", ".join(s.identity_files) or "the agent's and ~/.ssh/id_* keys"
            msg = (f"SSH authentication to {s.where} failed ({exc}); tried {keys}. "
                   "Fix: add your public key to the host's authorized_keys, load it in "
                   "ssh-agent, or give identity_file=...")
            raise ConnectorError(msg) from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            client.close()
            raise _LinkDown(f"cannot connect to {s.where}: {type(exc).__name__}: {exc}") from exc
        transport = client.get_transport()
        if transport is not None and s.keepalive:
            transport.set_keepalive(s.keepalive)
        return client

    def _close_client(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - closing a dead link
                pass
            self._client = None

    def drop(self, generation: int) -> None:
        """Forget connection ``generation`` (it failed); the next use reconnects."""
        with self._lock:
            if self.generation == generation:
                self._close_client()

    def close(self) -> None:
        with self._lock:
            self._close_client()

    # --- channels ---------------------------------------------------------------

    def sftp(self) -> paramiko.SFTPClient:
        """This thread's SFTP client on the current connection."""
        client = self.client()
        local = self._local
        if getattr(local, "generation", None) != self.generation or local.sftp is None:
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(self.op_timeout)
            local.sftp, local.generation = sftp, self.generation
        return local.sftp

    # --- retrying ------------------------------------------------------------------

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()``, reconnecting and trying again while the link is down."""
        note(what)
        delay = 0.1
        start = None
        while True:
            generation = self.generation
            try:
                result = fn()
            except _LinkDown as exc:
                if not self.connected_once:  # never connected: a wrong host, not an outage
                    raise ConnectorError(str(exc)) from exc.__cause__
                error: BaseException = exc
            except (ConnectorError, *_FILE_ERRORS):
                raise
            except (*_LINK_ERRORS, OSError) as exc:
                if not isinstance(exc, _LINK_ERRORS) and self._link_alive():
                    raise  # a remote I/O error on a working link
                if isinstance(exc, paramiko.ChannelException) and self._link_alive():
                    # The server refused one more channel (MaxSessions): wait, keep the link.
                    time.sleep(delay)
                    delay = min(delay * 2, self.max_backoff)
                    continue
                error = exc
            else:
                if self._down_since is not None:
                    logger.warning("SSH link to %s is back after %.1f s",
                                   self.settings.where, time.monotonic() - self._down_since)
                    self._down_since = None
                return result
            self.drop(generation)
            now = time.monotonic()
            if start is None:
                start = now
                if self._down_since is None:
                    self._down_since = now
                    logger.warning("SSH link to %s lost (%s: %s) while %s; reconnecting",
                                   self.settings.where, type(error).__name__, error, what)
            if self.reconnect_timeout is not None and now - start > self.reconnect_timeout:
                msg = (f"SSH link to {self.settings.where} down for more than "
                       f"{self.reconnect_timeout} s while {what}: {error}")
                raise ConnectorError(msg) from error
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    def _link_alive(self) -> bool:
        c = self._client
        t = c.get_transport() if c is not None else None
        return t is not None and t.is_active()

    # --- commands --------------------------------------------------------------

    def exec(self, command: str, *, input: bytes | None = None,
             timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run ``command`` in the remote shell: (exit status, stdout, stderr). Not retried."""
        note(f"running {command[:60]!r}")
        channel = self.client().get_transport().open_session(timeout=self.op_timeout)
        try:
            channel.settimeout(timeout if timeout is not None else self.op_timeout)
            channel.exec_command(command)
            if input:
                channel.sendall(input)
            channel.shutdown_write()
            out, err = _read_all(channel)
            return channel.recv_exit_status(), out, err
        finally:
            channel.close()

    def open_channel(self, command: str) -> paramiko.Channel:
        """A channel running ``command``, left open (for lock helpers)."""
        channel = self.client().get_transport().open_session(timeout=self.op_timeout)
        channel.exec_command(command)
        return channel


def _read_all(channel: paramiko.Channel) -> tuple[bytes, bytes]:
    """stdout to its end, then stderr (short commands: stderr fits in the window)."""
    out, err = [], []
    while data := channel.recv(65536):
        out.append(data)
    while data := channel.recv_stderr(65536):
        err.append(data)
    return b"".join(out), b"".join(err)


class _LinkDown(ConnectorError):
    """The host could not be reached (retried once connected before)."""
