"""2,000 queued jobs in one experiment: the notebook loop's responsiveness and memory.

    python benchmarks/bench_load.py --n 2000 --run 100 [--widgets] [--json]

The scenario runs in a fresh process, inside a running asyncio loop (as in a
notebook kernel), with a ticker coroutine that sleeps ``--tick`` ms again and
again and records how late it wakes up, and a sampler of the process's RSS
(``/proc/self/status``):

1. an experiment is opened (with ``--widgets``, its live ``ExperimentView``
   too) and a gate job takes both units of a token of 2;
2. a "cell" submits ``--n`` trivial jobs that each need one unit of the token:
   they are all queued (ready, waiting for the token) behind the gate;
3. queue phase: ``--window`` seconds with every job queued;
4. all but ``--run`` of the queued jobs are cancelled, the gate is released,
   and the ``--run`` jobs run through the token (2 at a time) to the end.

Figures: ``submit_ms_per_job`` (the submitting cell holds the loop: reported,
not a stall), ``start_s`` and ``start_max_stall_ms`` (from the cell's end until
every job is queued: each job's coroutine checks its folder and writes its
params.json), ``queue_max_stall_ms`` / ``queue_p99_stall_ms`` (ticker lateness
while the jobs wait for the token), ``cancel_cell_ms`` (the cell cancelling
them), ``cancel_ms`` / ``cancel_max_stall_ms`` (until every cancelled job is
recorded), ``run_max_stall_ms`` / ``run_p99_stall_ms`` (while the jobs run),
``run_jobs_per_s``,
``rss_base_mb`` (experiment open, nothing submitted), ``rss_queued_mb``
(everything queued), ``rss_per_job_kb`` (their difference per job),
``rss_end_mb``. The run checks its own correctness (each job once, the
cancelled ones never run) and fails otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    StallProbe,
    benchmark_result,
    cores,
    median_metrics,
    package_version,
    print_json,
    rss_mb,
    run_json,
    task_env,
)


class PeakRss:
    """The highest RSS sampled (at each wake-up of the loop's probe)."""

    def __init__(self):
        self.mb = 0.0

    def sample(self) -> None:
        self.mb = max(self.mb, rss_mb())


async def ended(jobs) -> None:
    """Await, on this loop, the end of every job's run (``job._done`` is a thread-safe
    future: the scheduler runs on its own loop, in its own thread)."""
    await asyncio.gather(*(asyncio.wrap_future(j._done) for j in jobs))


async def scenario(n: int, run: int, window: float, tick: float, widgets: bool,
                   root: Path) -> dict:
    from bench_tasks import Gate, LoggedNop

    from xpm_nb import experiment
    from xpm_nb.connectors.local import LocalConnector
    from xpm_nb.scheduler.jobs import JobState

    rss_peak = PeakRss()
    probe = StallProbe(tick, on_tick=rss_peak.sample)
    probe.start()
    log, release = root / "runs.log", root / "release"
    xp = experiment(root / "ws", "load", project_paths=[])
    view = None
    if widgets:
        from xpm_nb.widgets import view as widget_view

        view = widget_view(xp)
    token = LocalConnector(root / "connector").createtoken("slots", 2)
    gate = Gate.C(release=release)
    gate.add_dependencies(token.dependency(2))
    gate.submit()
    gate_job = gate.__xpm__.job
    while gate_job.state is not JobState.RUNNING:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    rss_base = rss_mb()

    probe.mark("submit")
    start = time.perf_counter()
    tasks = []
    for i in range(n):
        task = LoggedNop.C(i=i, log=log)
        task.add_dependencies(token.dependency(1))
        task.submit()
        tasks.append(task)
    submit_s = time.perf_counter() - start

    probe.mark("start")  # the jobs' coroutines take their first steps
    queued = [t.__xpm__.job for t in tasks]
    start = time.perf_counter()
    while any(j.state is not JobState.READY for j in queued):
        await asyncio.sleep(0.01)
    start_s = time.perf_counter() - start

    probe.mark("queue")
    await asyncio.sleep(window)
    states = {j.state for j in queued}
    rss_queued = rss_mb()

    probe.mark("cancel")
    start = time.perf_counter()
    for job in queued[run:]:
        job.cancel()
    cancel_cell_s = time.perf_counter() - start
    await ended(queued[run:])
    cancel_s = time.perf_counter() - start

    probe.mark("run")
    release.touch()
    start = time.perf_counter()
    await ended([*queued, gate_job])
    run_s = time.perf_counter() - start
    probe.mark("end")
    xp.close()
    await probe.stop()

    ran = [int(x) for x in log.read_text().split()] if log.exists() else []
    if sorted(ran) != list(range(run)):
        msg = f"wrong runs: {len(ran)} lines, expected each of 0..{run - 1} once"
        raise RuntimeError(msg)
    if states != {JobState.READY}:
        msg = f"queued jobs were not all waiting for the token: {states}"
        raise RuntimeError(msg)
    if any(j.state is not JobState.ERROR for j in queued[run:]):
        raise RuntimeError("a cancelled job did not end cancelled")
    stalls = {phase: probe.summary(phase=phase) for phase in ("start", "queue", "cancel", "run")}
    return {
        "submit_ms_per_job": submit_s / n * 1000,
        "start_s": start_s,
        "start_max_stall_ms": stalls["start"]["max_stall_ms"],
        "queue_max_stall_ms": stalls["queue"]["max_stall_ms"],
        "queue_p99_stall_ms": stalls["queue"]["p99_stall_ms"],
        "cancel_cell_ms": cancel_cell_s * 1000,
        "cancel_ms": cancel_s * 1000,
        "cancel_max_stall_ms": stalls["cancel"]["max_stall_ms"],
        "run_max_stall_ms": stalls["run"]["max_stall_ms"],
        "run_p99_stall_ms": stalls["run"]["p99_stall_ms"],
        "run_jobs_per_s": run / run_s,
        "rss_base_mb": rss_base,
        "rss_queued_mb": rss_queued,
        "rss_per_job_kb": (rss_queued - rss_base) * 1024 / n,
        "rss_end_mb": rss_mb(),
        "rss_peak_mb": rss_peak.mb,
        "widgets": bool(view is not None),
    }


def measure_once(args) -> dict:
    root = Path(tempfile.mkdtemp(prefix="xpm-bench-load-"))
    try:
        cmd = [sys.executable, __file__, "--driver", "--root", str(root), "--n", str(args.n),
               "--run", str(args.run), "--window", str(args.window), "--tick", str(args.tick)]
        if args.widgets:
            cmd.append("--widgets")
        if args.no_token_cache:
            cmd.append("--no-token-cache")
        return run_json(cmd, env=task_env("xpm_nb"), timeout=3600)
    finally:
        shutil.rmtree(root, ignore_errors=True)


UNITS = {"submit_ms_per_job": "ms", "start_s": "s", "start_max_stall_ms": "ms",
         "queue_max_stall_ms": "ms", "queue_p99_stall_ms": "ms", "cancel_cell_ms": "ms",
         "cancel_ms": "ms", "cancel_max_stall_ms": "ms", "run_max_stall_ms": "ms", "run_p99_stall_ms": "ms",
         "run_jobs_per_s": "jobs/s", "rss_base_mb": "MiB", "rss_queued_mb": "MiB",
         "rss_per_job_kb": "KiB", "rss_end_mb": "MiB", "rss_peak_mb": "MiB"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="xpm_nb", choices=["xpm_nb"])
    parser.add_argument("--n", type=int, default=2000, help="queued jobs (2000)")
    parser.add_argument("--run", type=int, default=100,
                        help="of which run to the end, the rest cancelled (100)")
    parser.add_argument("--window", type=float, default=10.0,
                        help="seconds with every job queued (10)")
    parser.add_argument("--tick", type=float, default=0.01, help="ticker period, s (0.01)")
    parser.add_argument("--widgets", action="store_true",
                        help="with the experiment's live widget (ExperimentView)")
    parser.add_argument("--no-token-cache", action="store_true",
                        help="re-read the token file at every poll (tokens.RECHECK = 0)")
    parser.add_argument("--repeat", type=int, default=1, help="measurements; median kept (1)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.driver:
        if args.no_token_cache:
            from xpm_nb.scheduler import tokens

            tokens.RECHECK = 0.0
        figures = asyncio.run(scenario(args.n, args.run, args.window, args.tick, args.widgets,
                                       args.root))
        print_json(figures)
        return 0
    samples = [measure_once(args) for _ in range(args.repeat)]
    metrics = median_metrics(samples, UNITS)
    result = benchmark_result("load", "xpm_nb", package_version("xpm_nb"), metrics,
                              cores=cores(), n=args.n, run=args.run, window_s=args.window,
                              widgets=args.widgets, token_cache=not args.no_token_cache,
                              repeat=args.repeat)
    if args.json:
        print_json(result)
        return 0
    print(f"xpm_nb {result['version']}: {args.n} queued jobs ({args.run} run, the rest "
          f"cancelled) on {result['cores']} cores{', widgets open' if args.widgets else ''}, "
          f"median of {args.repeat}:")
    for key, m in metrics.items():
        print(f"  {key:<20} {m['value']:10.2f} {m['unit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
