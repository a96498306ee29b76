"""Files planted in a job folder (a FIFO, a link to /dev/zero) never hang the scheduler.

Every read of a job folder goes through the connector; locally it opens
without blocking and reads regular files only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    # A regression would hang (FIFO) or eat memory (/dev/zero): a subprocess with
    # a timeout and a memory limit turns either into a failure.
    prelude = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def test_fifo_and_dev_zero_markers_read_as_bad_not_hang(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    os.mkfifo(job / "x.failed")
    os.symlink("/dev/zero", job / "x.pid")
    proc = _run(f"""
        from pathlib import Path
        from xpm_nb.scheduler.jobs import JobPaths, read_disk_state
        paths = JobPaths(Path({str(job)!r}), "x")
        print(read_disk_state(paths))
        Path({str(job)!r}, "x.failed").unlink()
        print(read_disk_state(paths))
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.strip().splitlines()
    assert "ERROR" in first and "unreadable" in first
    assert second == "(None, {})"
