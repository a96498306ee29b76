"""The floor of a job: a bare Python process that imports only the task's module.

    python benchmarks/bench_floor.py --package xpm_nb --n 100
    <ref-venv>/bin/python benchmarks/bench_floor.py --package experimaestro --json

No job runner could run a task for less than starting
``python -c "import bench_tasks"`` (the benchmarks' task module,
``bench_tasks.py``, which imports the package). The floor of N tasks is that cost times N, over
the cores, so the floor *per task* (with the ``wall x cores / N`` definition
of ``bench_e2e.py``'s ``per_task_ms``) is the cost of one process. Figures:

* ``per_task_ms``: the median wall time of one such process, run alone
  (``--alone`` times in a row): the floor of ``per_task_ms``, which should
  stay within twice of it;
* ``cpu_ms``: user + system CPU of one such process (mean over the same runs;
  less sensitive to the load of a shared machine than wall times);
* ``parallel_per_task_ms``: N such processes started at once, as a direct
  launcher starts its jobs: their wall time x cores / N (contention
  included);
* ``bare_ms``: the median wall time of ``python -c pass`` (the interpreter alone).

The median of ``--repeat`` measurements is reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import (
    TASK_MODULE,
    children_cpu_s,
    command_wall_s,
    cores,
    metric_values,
    print_json,
    repeated_result,
    task_env,
)


def floor_once(package: str, alone: int = 10) -> dict:
    """The floor per task: wall (median) and CPU (mean) of ``alone`` processes in a row."""
    env = task_env(package)
    cmd = [sys.executable, "-c", f"import {TASK_MODULE}"]
    command_wall_s(cmd, env)  # warm the file cache (and the bytecode cache, if enabled)
    cpu = children_cpu_s()
    walls = [command_wall_s(cmd, env) for _ in range(alone)]
    cpu = children_cpu_s() - cpu
    return {"per_task_ms": statistics.median(walls) * 1000, "cpu_ms": cpu / alone * 1000}


def measure_once(package: str, n: int, alone: int = 10) -> dict:
    figures = floor_once(package, alone)
    env = task_env(package)
    cmd = [sys.executable, "-c", f"import {TASK_MODULE}"]
    command_wall_s(cmd, env)
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL) for _ in range(n)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if any(codes):
        msg = f"{cmd} failed: exit codes {sorted(set(codes))}"
        raise RuntimeError(msg)
    bare_cmd = [sys.executable, "-c", "pass"]
    bare = statistics.median(command_wall_s(bare_cmd, env) for _ in range(5))
    figures.update(parallel_per_task_ms=wall * cores() / n * 1000, bare_ms=bare * 1000)
    return figures


KEYS = {"per_task_ms": "ms", "cpu_ms": "ms", "parallel_per_task_ms": "ms", "bare_ms": "ms"}


def run(package: str, n: int, repeat: int, alone: int) -> dict:
    return repeated_result("floor", package, KEYS, lambda: measure_once(package, n, alone),
                           repeat, n=n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="xpm_nb", choices=["xpm_nb", "experimaestro"])
    parser.add_argument("--n", type=int, default=100, help="processes started at once (100)")
    parser.add_argument("--alone", type=int, default=10, help="processes run one by one (10)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements; median kept (3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    result = run(args.package, args.n, args.repeat, args.alone)
    if args.json:
        print_json(result)
        return 0
    m = metric_values(result)
    print(
        f"{args.package} {result['version']}: floor on {result['cores']} cores, median of "
        f"{args.repeat}: per task {m['per_task_ms']:.1f} ms (one process; CPU "
        f"{m['cpu_ms']:.1f} ms), {args.n} at once {m['parallel_per_task_ms']:.1f} ms per task, "
        f"bare interpreter {m['bare_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
