"""The tasks the benchmarks run (a task module, not a benchmark).

Written with the package named by ``XPM_BENCH_PKG`` (``xpm_nb`` unless told):
a benchmark comparing xpm_nb with the reference (experimaestro, in its own
virtual environment) runs the same module with each, so both get the same
task identifiers and job folders (the module's name is part of them). The
benchmarks put this folder on their driver's and job processes'
``PYTHONPATH`` (``_common.task_env``).

Importing it is the floor of a job (``bench_floor.py``): keep it small.
"""

import importlib
import os
import time
from pathlib import Path

pkg = importlib.import_module(os.environ.get("XPM_BENCH_PKG", "xpm_nb"))


class Nop(pkg.Task):
    """Does nothing: what it costs is the overhead of a job.

    ``bench_e2e.py``, ``bench_floor.py`` (its import), ``bench_loop_stall.py``,
    ``bench_slurm_array.py`` (xpm_nb and the reference).
    """

    i: pkg.Param[int]

    def execute(self):
        pass


class LoggedNop(pkg.Task):
    """Appends its ``i`` to ``log`` (one line per run: each job ran once, or not at all).

    ``bench_load.py``.
    """

    i: pkg.Param[int]
    log: pkg.Meta[Path]

    def execute(self):
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{self.i}\n".encode())
        os.close(fd)


class Gate(pkg.Task):
    """Runs until the file ``release`` exists (holds its token meanwhile).

    ``bench_load.py``.
    """

    release: pkg.Meta[Path]

    def execute(self):
        while not self.release.exists():
            time.sleep(0.02)


class Sleep(pkg.Task):
    """Sleeps ``seconds``.

    ``bench_busy_kernel.py``.
    """

    i: pkg.Param[int]
    seconds: pkg.Param[float]

    def execute(self):
        time.sleep(self.seconds)
