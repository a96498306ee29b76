"""What the benchmark scripts share: process timing, statistics, JSON results.

The scripts import it as ``_common`` (Python puts a script's folder first on
``sys.path``). Standard library only, and cheap to import: the scripts also
run with the reference's interpreter (experimaestro's virtual environment,
where xpm_nb is not installed), and a driver process importing this module
counts it in its peak RSS.

The JSON a script prints for ``benchmarks/run.py`` (one object on its last
stdout line)::

    {"benchmark": ..., "package": ..., "version": ..., "python": ..., <fields>,
     "metrics": {"<key>": {"value": <median>, "unit": ..., "runs": [...]}, ...}}

``benchmark_result`` builds it, ``median_metrics`` its ``metrics``
(``repeated_result``: both, over repeated measurements),
``print_json`` prints it, ``run_json`` runs a child process and reads it back.

The widget benchmarks count what widgets send with ``RecordingComms`` (the
comm messages, and the size of each as JSON) and ``comm_traffic``; the loop
benchmarks time the stalls of the loop they run on with ``StallProbe``.

The tasks the benchmarks run are in ``bench_tasks.py`` (``TASK_MODULE``);
``task_env`` makes it importable by a driver and its jobs.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

# --- the machine and the package ---------------------------------------------------


def cores() -> int:
    """CPUs this process may run on (``len(os.sched_getaffinity(0))``)."""
    return len(os.sched_getaffinity(0))


def package_version(package: str) -> str:
    """The installed distribution's version of ``package``, or ``"?"``."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


# --- the task module ----------------------------------------------------------------

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
TASK_MODULE = "bench_tasks"  # benchmarks/bench_tasks.py


def task_env(package: str) -> dict[str, str]:
    """This process's environment for a driver and its jobs: ``TASK_MODULE``
    importable, written with ``package`` (``XPM_BENCH_PKG``).

    ``PYTHONPATH``: this folder, then, for xpm_nb, the xpm_nb this script runs
    with (e.g. the checkout's ``src/``), for the reference the caller's ``PYTHONPATH``.
    """
    env = dict(os.environ, XPM_BENCH_PKG=package)
    paths = [BENCHMARKS]
    if package == "xpm_nb":
        import xpm_nb  # on use: the reference's interpreter does not have it

        paths.append(os.path.dirname(os.path.dirname(os.path.realpath(xpm_nb.__file__))))
    elif env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


# --- timing processes --------------------------------------------------------------


def cpu_s() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_s() -> float:
    """User + system CPU seconds of the child processes reaped so far.

    Take it before and after: the difference is what the children reaped in
    between cost.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (``VmRSS`` of ``/proc/self/status``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def command_wall_s(cmd: Sequence[str], env: Optional[Mapping[str, str]] = None) -> float:
    """Wall time in seconds of running ``cmd`` to its end (stdout discarded).

    A non-zero exit raises ``subprocess.CalledProcessError``.
    """
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


# --- statistics --------------------------------------------------------------------


def medians(samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The median of each key over ``samples`` (one dict of figures per run).

    Keys are those of the first sample, in its order.
    """
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def median_metrics(
    samples: Sequence[Mapping[str, float]], units: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """``metrics`` of a result: ``{key: {"value": median, "unit": ..., "runs": [...]}}``.

    One entry per key of ``units`` (in its order) that the samples have
    (keys missing from the first sample are left out).
    """
    return {
        key: {
            "value": statistics.median(s[key] for s in samples),
            "unit": unit,
            "runs": [s[key] for s in samples],
        }
        for key, unit in units.items()
        if key in samples[0]
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of ``sorted_values``, rounding the rank down.

    ``percentile(v, 0.99)`` is the p99 the loop benchmarks report.
    """
    return sorted_values[int(fraction * (len(sorted_values) - 1))]


def metric_values(result: Mapping[str, Any]) -> dict[str, float]:
    """``{key: value}`` of a result's metrics (for the scripts' text output)."""
    return {key: m["value"] for key, m in result["metrics"].items()}


# --- JSON results ------------------------------------------------------------------


def benchmark_result(
    benchmark: str, package: str, version: str, metrics: dict, **fields: Any
) -> dict[str, Any]:
    """The JSON object a script prints (see the module's docstring).

    ``fields`` (run parameters such as ``n``, ``cores``, ``repeat``) come
    between ``python`` and ``metrics``, in the order given.
    """
    return {
        "benchmark": benchmark,
        "package": package,
        "version": version,
        "python": platform.python_version(),
        **fields,
        "metrics": metrics,
    }


def repeated_result(
    benchmark: str,
    package: str,
    units: Mapping[str, str],
    measure: Callable[[], Mapping[str, float]],
    repeat: int,
    **fields: Any,
) -> dict[str, Any]:
    """The result of ``repeat`` calls of ``measure()``: their medians (``median_metrics``
    with ``units``), the installed version of ``package``, then ``fields``, ``cores`` and
    ``repeat`` as run parameters (in this order)."""
    samples = [measure() for _ in range(repeat)]
    return benchmark_result(
        benchmark,
        package,
        package_version(package),
        median_metrics(samples, units),
        **fields,
        cores=cores(),
        repeat=repeat,
    )


def print_json(obj: Any) -> None:
    """Print ``obj`` as one line of JSON (what ``run_json`` and run.py read)."""
    print(json.dumps(obj))


def last_json_line(stdout: str) -> Any:
    """The JSON value on the last line of a child's stdout.

    Raises ``ValueError`` (``json.JSONDecodeError`` is one) if there is none.
    """
    lines = stdout.strip().splitlines()
    if not lines:
        raise ValueError("no output: expected a line of JSON on stdout")
    return json.loads(lines[-1])


def run_json(
    cmd: Sequence[str],
    *,
    what: str = "driver",
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[os.PathLike | str] = None,
    timeout: Optional[float] = None,
    stderr_tail: Optional[int] = 4000,
    explain: Optional[Callable[[], str]] = None,
) -> Any:
    """Run ``cmd`` to its end and return the JSON of its last stdout line.

    A non-zero exit raises ``RuntimeError("<what> failed (<code>):\\n<stderr>")``
    with the last ``stderr_tail`` characters of stderr (all of it if None),
    followed by ``explain()`` when given (e.g. the logs of failed jobs).
    A timeout raises ``subprocess.TimeoutExpired``.
    """
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        stderr = proc.stderr[-stderr_tail:] if stderr_tail else proc.stderr
        extra = explain() if explain is not None else ""
        msg = f"{what} failed ({proc.returncode}):\n{stderr}{extra}"
        raise RuntimeError(msg)
    return last_json_line(proc.stdout)


# --- widgets: their messages, the loop's stalls --------------------------------------


class RecordingComms:
    """While entered, every comm a widget opens records what it sends instead of sending it.

    Each comm's ``sent`` holds ``(perf_counter time, msg_type, data, size)``. By default
    the data are kept as their compact JSON text (``size``: its length), encoded when sent,
    on the sending thread, as a kernel's session does: its cost is counted where the kernel
    pays it, and the process does not keep the messages' objects (a kernel does not: a
    heap grown by them would slow the garbage collector's full passes, stalling every
    thread). ``comm_updates`` decodes them. With ``encode=False`` the data objects are
    kept as they are and ``size`` is None.
    """

    def __init__(self, encode: bool = True):
        from comm.base_comm import BaseComm  # the widgets' dependency: imported on use

        class Recording(BaseComm):
            def __init__(inner, *args, **kwargs):
                inner.sent = []
                super().__init__(*args, **kwargs)

            def publish_msg(inner, msg_type, data=None, metadata=None, buffers=None, **keys):
                if encode:
                    data = json.dumps(data, separators=(",", ":"), default=str)
                inner.sent.append((time.perf_counter(), msg_type, data, len(data) if encode else None))

        self.cls = Recording

    def __enter__(self):
        import comm

        self._old = comm.create_comm
        comm.create_comm = lambda *a, **k: self.cls(*a, **k)
        return self

    def __exit__(self, *exc):
        import comm

        comm.create_comm = self._old


def comm_updates(widget, first: int = 0) -> list[dict]:
    """The ``comm_msg`` data ``widget`` sent from its ``first`` recorded message on."""
    return [json.loads(data) if isinstance(data, str) else data
            for _, kind, data, _ in widget.comm.sent[first:] if kind == "comm_msg"]


def comm_traffic(widget, first: int, elapsed: float) -> dict[str, float]:
    """``{"messages_per_s", "kb_per_s"}`` of ``widget``'s ``comm_msg`` from its ``first``
    recorded message on, over ``elapsed`` seconds."""
    sizes = [size or 0 for _, kind, _, size in widget.comm.sent[first:] if kind == "comm_msg"]
    return {"messages_per_s": len(sizes) / elapsed, "kb_per_s": sum(sizes) / elapsed / 1e3}


class StallProbe:
    """How late a ``period`` sleep wakes up on the loop it runs on: its stalls.

    ``start()`` on the loop, ``await stop()``; ``ticks`` holds the ``(due, woke)``
    times (``time.perf_counter``: the same clock in every process) of every
    wake-up, ``lateness`` how late each was, ``stalls`` those late by more than a
    millisecond. ``summary(prefix)`` gives ``{prefix}max_stall_ms`` and
    ``{prefix}p99_stall_ms`` (0 when never late).

    Phases: ``mark(name)`` starts one (it lasts until the next mark);
    ``summary(phase=name)`` counts the part of each stall inside it (a stall
    spanning a submitting cell and the jobs' first steps is split between them).
    ``on_tick`` is called after each wake-up (e.g. to sample memory).
    """

    def __init__(self, period: float = 0.005, on_tick: Optional[Callable[[], None]] = None):
        self.period = period
        self.on_tick = on_tick
        self.ticks: list[tuple[float, float]] = []
        self.phases: list[tuple[str, float]] = []
        self._task = None

    async def _tick(self) -> None:
        import asyncio  # on use: a driver importing this module does not pay for it

        while True:
            due = time.perf_counter() + self.period
            await asyncio.sleep(self.period)
            self.ticks.append((due, time.perf_counter()))
            if self.on_tick is not None:
                self.on_tick()

    @property
    def lateness(self) -> list[float]:
        return [woke - due for due, woke in self.ticks]

    @property
    def stalls(self) -> list[tuple[float, float]]:
        return [(due, woke) for due, woke in self.ticks if woke - due > 0.001]

    def start(self) -> None:
        import asyncio

        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        import asyncio

        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    def mark(self, phase: str) -> None:
        """``phase`` begins now (and the previous one ends)."""
        self.phases.append((phase, time.perf_counter()))

    def summary(self, prefix: str = "", phase: Optional[str] = None) -> dict[str, float]:
        if phase is None:
            late = sorted(max(0.0, woke - due) for due, woke in self.ticks) or [0.0]
        else:
            bounds = [t for _, t in self.phases] + [float("inf")]
            i = [name for name, _ in self.phases].index(phase)
            start, end = bounds[i], bounds[i + 1]
            late = sorted(max(0.0, min(woke, end) - max(due, start))
                          for due, woke in self.ticks if woke > start and due < end) or [0.0]
        return {f"{prefix}max_stall_ms": late[-1] * 1000,
                f"{prefix}p99_stall_ms": percentile(late, 0.99) * 1000}


_WITNESS = """
import asyncio, json, sys, threading, time
sys.path.insert(0, sys.argv[1])
from _common import StallProbe
async def main():
    probe = StallProbe(float(sys.argv[2]))
    probe.start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await probe.stop()
    print(json.dumps({"summary": probe.summary(), "stalls": probe.stalls}), flush=True)
asyncio.run(main())
"""


class StallWitness:
    """The same probe in an idle process beside the measured one: the lateness the
    machine alone (other processes, the OS) causes meanwhile. ``with`` it around the
    measure; then ``summary`` and ``stalls`` are the witness's."""

    def __init__(self, period: float = 0.005):
        self.period = period
        self.summary: dict[str, float] = {}
        self.stalls: list[tuple[float, float]] = []

    def __enter__(self):
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WITNESS, os.path.dirname(os.path.abspath(__file__)), str(self.period)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc):
        out, _ = self._proc.communicate("stop\n", timeout=60)
        result = json.loads(out.strip().splitlines()[-1])
        self.summary = result["summary"]
        self.stalls = [tuple(s) for s in result["stalls"]]


def own_stall_ms(stalls, witness_stalls) -> float:
    """The longest part of a stall (``(due, woke)``) not covered by a stall of the witness
    at the same time: the lateness the measured process's own code caused, in ms."""
    worst = 0.0
    for start, end in stalls:
        covered = sum(max(0.0, min(end, w_end) - max(start, w_start)) for w_start, w_end in witness_stalls)
        worst = max(worst, (end - start) - covered)
    return worst * 1000
