"""The notebook loop's longest stall while 100 jobs run (xpm_nb only).

    python benchmarks/bench_loop_stall.py --n 100

A notebook kernel runs cells and widget messages on one asyncio loop; xpm_nb's
scheduler runs on that same loop, so whatever it does synchronously (reading
job folders, starting processes, writing status files) delays everything
else. This benchmark reproduces it in a fresh process: inside a running loop
(as in a kernel), a ticker coroutine sleeps ``--tick`` ms again and again and
records how late it wakes up; a "cell" opens an experiment and submits N
trivial tasks (``bench_e2e.py``'s), and the loop then waits for them with
``await xp`` as a later cell would. Figures:

* ``max_stall_ms``: the longest lateness of the ticker while the jobs run
  (after the submitting cell returned, until every job is done);
* ``p99_stall_ms``: the 99th percentile of that lateness;
* ``os_max_stall_ms``, ``os_p99_stall_ms``: the same for a *witness*, the
  same ticker in another, idle process over the same time: what the OS alone
  causes (N job processes on few cores), which no scheduler can beat;
* ``submit_cell_ms``: how long the cell submitting the N tasks held the loop
  (a synchronous cell blocks the loop by nature: reported, not a stall);
* ``ticks``: number of ticker wake-ups measured; ``run_s``: how long the jobs ran.

The median of ``--repeat`` measurements is reported (each in a new process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    StallProbe,
    benchmark_result,
    cores,
    median_metrics,
    metric_values,
    package_version,
    print_json,
    run_json,
    task_env,
)
from bench_e2e import job_errors


def _summary(probe: StallProbe, prefix: str = "") -> dict:
    return {**probe.summary(prefix), f"{prefix}ticks": len(probe.ticks)}


async def _witness(period: float) -> dict:
    """The same ticker in an idle process: the lateness the OS alone causes.

    Started before the experiment; measures between the lines ``start`` and
    ``stop`` read on stdin.
    """
    probe = StallProbe(period)
    assert sys.stdin.readline().strip() == "start"
    probe.start()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "stop"
    await probe.stop()
    return _summary(probe, "os_")


async def _notebook(n: int, workdir: Path, period: float) -> dict:
    from bench_tasks import Nop

    import xpm_nb

    witness = subprocess.Popen(
        [sys.executable, __file__, "--witness", "--tick", str(period * 1000)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    # Cell 1: open the experiment and submit (synchronous code, like a cell).
    start = time.perf_counter()
    xp = xpm_nb.experiment(workdir, "stall")
    for i in range(n):
        Nop.C(i=i).submit()
    submit_cell = time.perf_counter() - start

    # Then the kernel is idle (a ticker stands for widgets and other cells)
    # while the jobs run; a later cell awaits them.
    probe = StallProbe(period)
    witness.stdin.write("start\n")
    witness.stdin.flush()
    start = time.perf_counter()
    probe.start()
    await xp
    await probe.stop()
    run_s = time.perf_counter() - start
    os_figures = json.loads(witness.communicate("stop\n", timeout=60)[0])
    xp.close()
    done = len(list(workdir.glob("jobs/*/*/nop.done")))
    if done != n:
        msg = f"{done} of {n} jobs done in {workdir}"
        raise RuntimeError(msg)
    return {
        **_summary(probe),
        **os_figures,
        "submit_cell_ms": submit_cell * 1000,
        "run_s": run_s,
    }


def measure_once(n: int, period: float) -> dict:
    root = Path(tempfile.mkdtemp(prefix="xpm-bench-stall-"))
    try:
        env = task_env("xpm_nb")
        cmd = [
            sys.executable,
            __file__,
            "--driver",
            "--n",
            str(n),
            "--tick",
            str(period * 1000),
            "--workdir",
            str(root / "ws"),
        ]
        return run_json(cmd, env=env, cwd=root, timeout=1800, explain=lambda: job_errors(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


KEYS = {
    "max_stall_ms": "ms",
    "p99_stall_ms": "ms",
    "ticks": "",
    "os_max_stall_ms": "ms",
    "os_p99_stall_ms": "ms",
    "submit_cell_ms": "ms",
    "run_s": "s",
}


def run(n: int, repeat: int, period: float) -> dict:
    samples = [measure_once(n, period) for _ in range(repeat)]
    return benchmark_result(
        "loop_stall", "xpm_nb", package_version("xpm_nb"), median_metrics(samples, KEYS),
        n=n, cores=cores(), repeat=repeat, tick_ms=period * 1000,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--package",
        default="xpm_nb",
        choices=["xpm_nb"],
        help="xpm_nb only (the reference has no scheduler on the caller's loop)",
    )
    parser.add_argument("--n", type=int, default=100, help="number of jobs (100)")
    parser.add_argument("--tick", type=float, default=2.0, help="ticker period in ms (2)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements; median kept (3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--witness", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.driver:
        print_json(asyncio.run(_notebook(args.n, args.workdir, args.tick / 1000)))
        return 0
    if args.witness:
        print_json(asyncio.run(_witness(args.tick / 1000)))
        return 0
    result = run(args.n, args.repeat, args.tick / 1000)
    if args.json:
        print_json(result)
        return 0
    m = metric_values(result)
    print(
        f"xpm_nb {result['version']}: {args.n} jobs, ticker every {args.tick:g} ms, median of "
        f"{args.repeat}: longest stall {m['max_stall_ms']:.1f} ms, p99 {m['p99_stall_ms']:.1f} ms "
        f"over {m['ticks']:.0f} ticks (an idle process meanwhile: {m['os_max_stall_ms']:.1f} ms, "
        f"p99 {m['os_p99_stall_ms']:.1f} ms); jobs ran {m['run_s']:.2f} s; the submitting cell "
        f"held the loop {m['submit_cell_ms']:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
