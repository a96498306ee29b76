"""A job's pid file: what the job process writes, the one parser, and who it names.

``<name>.pid`` is ``{"type": "local", "pid", "host"}`` (the reference's); ours
adds ``"started"`` (seconds) and the process's identity, ``"starttime"``
(field 22 of ``/proc/<pid>/stat``: clock ticks since boot) and ``"boot_id"``.
A pid is reused once its process is gone: a stale pid file (a machine crash, a
``kill -9`` of the job) may name an unrelated live process, so a reader trusts
"running", or signals the pid, only when the live process still has that
identity. Pid files without identity fields (the reference's) keep the plain
check (a live pid).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable

__all__ = ["pid_content", "parse_pid_file", "pid_is_live", "pid_alive", "boot_id",
           "process_starttime", "process_identity", "same_process"]


def pid_content(pid: int | None = None) -> str:
    """The pid file of process ``pid`` (default: this one), as the job process writes it."""
    pid = os.getpid() if pid is None else pid
    return json.dumps({"type": "local", "pid": pid, "host": socket.gethostname(),
                       "started": time.time(), **process_identity(pid)})


def parse_pid_file(data) -> dict | None:
    """The content of a pid file (bytes or text) with ``"pid"`` an int; None when
    there is no file (``data`` None), it is not a JSON object, or names no pid (a
    digit string is taken as its number)."""
    if data is None:
        return None
    try:
        info = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep
        return None
    if not isinstance(info, dict):
        return None
    pid = info.get("pid")
    if type(pid) is str and pid.isdigit():
        pid = int(pid)
    if type(pid) is not int:
        return None
    info["pid"] = pid
    return info


def pid_is_live(info, hostname: str, alive: Callable[[int], bool], local: bool = True
                ) -> int | None:
    """The pid a pid file's content names if that process runs, else None.

    ``hostname``/``alive``: the host that reads (its name, its check of a pid).
    For a pid file of another host, the pid (it cannot be checked from here).
    ``local``: the reader is this machine, so the process's identity is checked
    too (a reused pid gives None).
    """
    if not isinstance(info, dict):
        return None
    pid = info.get("pid")
    if type(pid) is not int or not 0 < pid < 2**31:
        return None
    if info.get("host", hostname) != hostname:
        return pid
    if not alive(pid):
        return None
    if local and not same_process(info, pid):
        return None  # the pid was reused: the pid file is stale
    return pid


def pid_alive(pid: int) -> bool:
    """Whether local process ``pid`` lives (a zombie does not)."""
    if not 0 < pid < 2**31:  # 0 and -1 would name our own group / every process
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


_BOOT_ID: str | None = None


def boot_id() -> str | None:
    """This machine's boot id (a new one at each boot), None where there is none."""
    global _BOOT_ID
    if _BOOT_ID is None:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                _BOOT_ID = f.read().strip()
        except OSError:
            _BOOT_ID = ""
    return _BOOT_ID or None


def process_starttime(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (None: unknown)."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of stat(5); fields[0] is field 3
    except (OSError, IndexError, ValueError, OverflowError):
        return None


def process_identity(pid: int | None = None) -> dict:
    """The identity fields a pid file records for process ``pid`` (default: this one)."""
    identity: dict = {}
    start = process_starttime(os.getpid() if pid is None else pid)
    if start is not None:
        identity["starttime"] = start
    boot = boot_id()
    if boot:
        identity["boot_id"] = boot
    return identity


def _process_start_epoch(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (None: unknown)."""
    start = process_starttime(pid)
    if start is None:
        return None
    try:
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return btime + start / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def same_process(info: dict, pid: int) -> bool:
    """Whether live local process ``pid`` is the one its pid file ``info`` recorded.

    Compared: the boot id, the start time in ticks (xpm_nb's pid files); for pid
    files with only a "started" time, a process started after it cannot have
    written it. Without identity fields (the reference's) or without /proc: True.
    """
    recorded_boot = info.get("boot_id")
    if isinstance(recorded_boot, str) and recorded_boot:
        boot = boot_id()
        if boot and boot != recorded_boot:
            return False  # written before the last boot
    recorded = info.get("starttime")
    if recorded is not None:
        if type(recorded) is not int:
            return False  # a damaged identity is no identity
        start = process_starttime(pid)
        return start is None or start == recorded
    started = info.get("started")
    if isinstance(started, (int, float)) and not isinstance(started, bool):
        begun = _process_start_epoch(pid)
        # The writer existed before it wrote "started" (2 s of slack: btime is rounded).
        return begun is None or begun <= started + 2
    return True
