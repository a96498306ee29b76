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
