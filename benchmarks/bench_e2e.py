"""End to end: N trivial tasks submitted and finished on the local launcher.

    python benchmarks/bench_e2e.py --package xpm_nb --n 100
    <ref-venv>/bin/python benchmarks/bench_e2e.py --package experimaestro --n 100 --json

Each measurement starts a fresh *driver* process (this script with
``--driver``) that imports the package, opens an experiment on a new
workspace, submits N tasks whose ``execute`` does nothing (each a different
identifier), and leaves the experiment's ``with`` block once every job is
done. Both packages run the same workload (``bench_tasks.py``'s ``Nop``) with
their own direct launcher (one process per job). Figures:

* ``wall_s``: from opening the experiment to the end of its ``with`` block
  (the import of the package is not in it: see ``bench_import.py``);
* ``per_task_ms``: ``wall_s * cores / N``, the core-time a task costs beyond
  its (empty) work: what it costs to submit, start, run and reap a job. With
  ``cores`` = ``len(os.sched_getaffinity(0))``. Compare with the floor of
  ``bench_floor.py`` (a bare process importing the task's module);
* ``submit_ms``: time of the N ``submit()`` calls, per task;
* ``driver_cpu_s``: user + system CPU of the driver process during the run
  (its own threads, not its children);
* ``jobs_cpu_s``: user + system CPU of the job processes (children the driver
  reaped), during the run;
* ``peak_rss_mb``: peak resident memory of the driver process (``ru_maxrss``);
* ``cpu_per_task_ms``: (driver + jobs CPU) / N;
* ``floor_per_task_ms``, ``floor_cpu_ms``: the floor of ``bench_floor.py``
  (one bare process importing the task module: median wall, mean CPU of
  ``--floor-n`` in a row), measured right after each run so that both see
  the same load; ``vs_floor``: ``per_task_ms`` / ``floor_per_task_ms`` (aim:
  <= 2) and ``vs_floor_cpu``: ``cpu_per_task_ms`` / ``floor_cpu_ms`` (the same
  in CPU time, less sensitive to the machine's load).

The median of ``--repeat`` measurements is reported.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    children_cpu_s,
    cores,
    cpu_s,
    metric_values,
    peak_rss_mb,
    print_json,
    repeated_result,
    run_json,
    task_env,
)


def job_errors(root: Path, limit: int = 3) -> str:
    """The stderr of a few failed jobs of the workspace ``root/ws`` (to explain a failed run)."""
    texts = []
    for failed in sorted((root / "ws").glob("jobs/*/*/*.failed"))[:limit]:
        err = failed.with_suffix(".err")
        text = err.read_text(errors="replace")[-2000:] if err.exists() else "(no .err)"
        texts.append(f"\n--- {failed}: {failed.read_text(errors='replace')}\n{text}")
    return "".join(texts)


# --- the driver (a fresh process per measurement) ---------------------------------


def drive(package: str, n: int, workdir: Path) -> dict:
    """Run N trivial tasks; return the figures of this process."""
    import importlib

    pkg = importlib.import_module(package)
    from bench_tasks import Nop

    driver_cpu0, jobs_cpu0 = cpu_s(), children_cpu_s()
    start = time.perf_counter()
    with pkg.experiment(workdir, "bench", no_environmental_impact=True):
        for i in range(n):
            Nop.C(i=i).submit()
        submitted = time.perf_counter()
    end = time.perf_counter()
    driver_cpu1, jobs_cpu1, peak_rss = cpu_s(), children_cpu_s(), peak_rss_mb()
    done = len(list(workdir.glob("jobs/*/*/nop.done")))
    if done != n:
        msg = f"{package}: {done} of {n} jobs done in {workdir}"
        raise RuntimeError(msg)
    return {
        "wall_s": end - start,
        "submit_s": submitted - start,
        "driver_cpu_s": driver_cpu1 - driver_cpu0,
        "jobs_cpu_s": jobs_cpu1 - jobs_cpu0,
        "peak_rss_mb": peak_rss,
    }


# --- the measuring side ------------------------------------------------------------


def measure_once(package: str, n: int, floor_n: int = 10, keep: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix="xpm-bench-e2e-"))
    try:
        cmd = [
            sys.executable,
            __file__,
            "--driver",
            "--package",
            package,
            "--n",
            str(n),
            "--workdir",
            str(root / "ws"),
        ]
        figures = run_json(
            cmd,
            env=task_env(package),
            cwd=root,
            timeout=3600,
            explain=lambda: job_errors(root),
        )
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    figures["per_task_ms"] = figures["wall_s"] * cores() / n * 1000
    figures["submit_ms"] = figures["submit_s"] / n * 1000
    figures["cpu_per_task_ms"] = (figures["driver_cpu_s"] + figures["jobs_cpu_s"]) / n * 1000
    if floor_n:
        # The floor measured right after, so that both see the same load.
        from bench_floor import floor_once

        floor = floor_once(package, floor_n)
        figures["floor_per_task_ms"] = floor["per_task_ms"]
        figures["vs_floor"] = figures["per_task_ms"] / floor["per_task_ms"]
        figures["floor_cpu_ms"] = floor["cpu_ms"]
        figures["vs_floor_cpu"] = figures["cpu_per_task_ms"] / floor["cpu_ms"]
    return figures


KEYS = {
    "wall_s": "s",
    "per_task_ms": "ms",
    "submit_ms": "ms",
    "driver_cpu_s": "s",
    "jobs_cpu_s": "s",
    "peak_rss_mb": "MiB",
    "cpu_per_task_ms": "ms",
    "floor_per_task_ms": "ms",
    "vs_floor": "x",
    "floor_cpu_ms": "ms",
    "vs_floor_cpu": "x",
}


def run(package: str, n: int, repeat: int, floor_n: int) -> dict:
    return repeated_result("e2e", package, KEYS, lambda: measure_once(package, n, floor_n),
                           repeat, n=n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="xpm_nb", choices=["xpm_nb", "experimaestro"])
    parser.add_argument("--n", type=int, default=100, help="number of tasks (100)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements; median kept (3)")
    parser.add_argument(
        "--floor-n",
        type=int,
        default=10,
        help="after each measurement, the floor over this many processes (10; 0: none)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.driver:
        print_json(drive(args.package, args.n, args.workdir))
        return 0
    result = run(args.package, args.n, args.repeat, args.floor_n)
    if args.json:
        print_json(result)
        return 0
    m = metric_values(result)
    print(
        f"{args.package} {result['version']}: {args.n} trivial tasks on {result['cores']} cores, "
        f"median of {args.repeat}: wall {m['wall_s']:.2f} s, per task {m['per_task_ms']:.1f} ms "
        f"(submit {m['submit_ms']:.2f} ms), driver CPU {m['driver_cpu_s']:.2f} s, "
        f"jobs CPU {m['jobs_cpu_s']:.2f} s, driver peak RSS {m['peak_rss_mb']:.0f} MiB"
        + (
            f"; floor {m['floor_per_task_ms']:.1f} ms per task (overhead / floor "
            f"{m['vs_floor']:.2f})"
            if "vs_floor" in m
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
