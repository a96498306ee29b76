"""Tasks used by the reliability suite (importable by the job processes).

Each task appends one line per run to a shared log with a single ``write`` on
a file opened in append mode (atomic for short lines), so a test counts runs
across processes by counting lines.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from xpm_nb import Meta, Param, PathGenerator, Task, field


def append_line(log: Path, line: str) -> None:
    """One ``write`` of one line: lines of concurrent processes never interleave."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class Append(Task):
    """Logs ``<value> <pid> <start> <end>`` once per run."""

    value: Param[int]
    log: Meta[Path]
    sleep: Meta[float] = field(default=0.0)

    def execute(self):
        start = time.time()
        time.sleep(self.sleep)
        append_line(self.log, f"{self.value} {os.getpid()} {start} {time.time()}")


class Gate(Task):
    """Logs its start, runs until ``release`` exists, logs its end.

    Gives up after ``limit`` seconds (exit code 70), so that a failed test never
    leaves it running.
    """

    name: Param[str]
    log: Meta[Path]
    release: Meta[Path]
    limit: Meta[float] = field(default=300.0)

    def execute(self):
        append_line(self.log, f"start {self.name} {os.getpid()} {time.time()}")
        deadline = time.monotonic() + self.limit
        while not self.release.exists():
            if time.monotonic() > deadline:
                raise SystemExit(70)
            time.sleep(0.02)
        append_line(self.log, f"end {self.name} {os.getpid()} {time.time()}")


class Nop(Task):
    """A trivial task for load tests."""

    i: Param[int]

    def execute(self):
        pass


class KilledAtDone(Task):
    """Writes a big output, then is SIGKILLed exactly between writing its ``.done``
    marker's temporary file and renaming it (os.replace is patched in the process)."""

    size: Param[int]
    out: Meta[Path] = field(default_factory=PathGenerator("big.bin"))

    def execute(self):
        with open(self.out, "wb") as f:
            f.write(os.urandom(1024) * (self.size // 1024))
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if str(dst).endswith(".done"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace


class SizedWrite(Task):
    """Writes as many bytes as ``size_file`` says into its folder (fills a disk)."""

    name: Param[str]
    size_file: Meta[Path]
    out: Meta[Path] = field(default_factory=PathGenerator("data.bin"))

    def execute(self):
        size = int(self.size_file.read_text())
        with open(self.out, "wb") as f:
            f.write(b"x" * size)
