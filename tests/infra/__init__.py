"""Real components for the integration tests, started on loopback by the tests.

- :mod:`infra.slurm`: a single-node SLURM cluster (munged, slurmctld, slurmd).
- :mod:`infra.sshd`: an OpenSSH server with its own host and user keys.
- :mod:`infra.fixtures`: session-scoped pytest fixtures ``slurm_cluster`` and
  ``sshd_server`` (registered with ``pytest_plugins = ["infra.fixtures"]``).

Everything lives in a temporary folder of its own and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listening(port: int, host: str = LOOPBACK) -> bool:
    """Whether a TCP socket listens on host:port (read from /proc, no connection made)."""
    want = socket.inet_aton(host)[::-1].hex().upper() + f":{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":  # 0A = LISTEN
                    return True
    except OSError:
        pass
    return False


def tail(path: Path | str, lines: int = 40) -> str:
    """The last lines of a (log) file, or a note that it is missing."""
    p = Path(path)
    try:
        text = p.read_text(errors="replace")
    except OSError as e:
        return f"<{p}: {e.strerror}>"
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (children first-level first), from /proc."""
    cmap = _children_map()
    out: list[int] = []
    todo = list(cmap.get(pid, []))
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo.extend(cmap.get(p, []))
    return out


def signal_pids(pids: list[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive; returns those still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def terminate(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM the given processes, then SIGKILL whatever is left after ``timeout``."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    signal_pids(pids, signal.SIGTERM)
    left = wait_gone(pids, timeout)
    if left:
        signal_pids(left, signal.SIGKILL)
        wait_gone(left, 2.0)


def read_pid(path: Path | str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
