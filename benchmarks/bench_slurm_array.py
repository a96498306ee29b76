"""N trivial jobs through a real single-node SLURM cluster, four ways side by side.

    python benchmarks/bench_slurm_array.py --n 1000          # all four (about 15 min)
    python benchmarks/bench_slurm_array.py --n 200 --only xpm_nb-arrays --only bare-array
    python benchmarks/bench_slurm_array.py --n 1000 --only xpm_nb-arrays --diagnose

Starts the tests' SLURM cluster (``tests/infra/slurm.py``: slurmctld, slurmd
and munged on 127.0.0.1, a node with this machine's CPUs), then runs, each
in a fresh driver process on a new workspace:

* ``xpm_nb-arrays``: xpm_nb's ``SlurmLauncher`` (default: jobs launched
  together go as one ``sbatch --array``);
* ``xpm_nb-single``: the same with ``arrays=False`` (one ``sbatch`` per job);
* ``experimaestro``: the reference (2.7.0, its own venv, see
  ``tests/support/refvenv.py``) and its ``SlurmLauncher``;
* ``bare-array``: the floor, one ``sbatch --array=0-<N-1>`` whose tasks are a
  bare ``python -c "import <task module>"`` (as ``bench_floor.py``), its end
  seen by ``squeue`` every ``--interval`` s.

Every SLURM command goes through wrappers (``binpath``) that log each call,
so the figures count them the same way for all four. Figures:

* ``wall_s``: from the first submission to every job done (the driver's
  experiment left; the bare array: squeue shows none of its tasks);
* ``submit_s``: the ``submit()`` calls (a notebook cell's time);
* ``sbatch``, ``squeue``, ``sacct``, ``other_cmds``: SLURM commands run (the
  cluster has no accounting: the reference's ``sacct``, its only way to see
  jobs end, is answered from ``squeue -t all`` by a shim, still counted as sacct);
* ``driver_cpu_s``: user + system CPU of the driver process (its threads);
  ``cmd_cpu_s``: of the commands it ran (its reaped children); ``ticker_cpu_s``
  (xpm_nb): of its main thread after the submitting cell, which only runs the
  kernel ticker (the measurement's own cost, included in ``driver_cpu_s``);
* ``peak_rss_mb``: the driver's peak resident memory;
* ``kernel_stall_ms`` / ``sched_stall_ms`` (xpm_nb): the longest lateness of
  a 10 ms ticker on the driver's main asyncio loop (a kernel's) and on the
  scheduler's loop, from the end of the submitting cell (which holds the loop by
  nature: ``submit_s``) to the end; ``*_p99_ms``, ``*_stalls_over_20ms`` and
  ``*_worst`` (the 8 longest: [s from the first submit(), ms]);
* ``witness_stall_ms`` / ``witness_p99_ms``: the same ticker in an idle process
  meanwhile (what the OS and the machine's load alone cause);
* ``--diagnose`` (xpm_nb): ``slow_worst``, the asyncio callbacks that ran over
  10 ms ([s, wall ms, thread CPU ms, thread, callback]: CPU near wall is the
  callback's own work, far below it waited for a CPU or the GIL), and
  ``gc_collections``, the garbage collector's full (generation 2) and long
  collections ([s, generation, ms]), which hold the GIL: every thread waits;
* ``--gc-freeze`` (xpm_nb, an experiment): ``gc.freeze()`` in the driver after the
  submitting cell, so that full collections skip the objects made until then;
* ``vs_bare``: ``wall_s`` / the bare array's (aim: arrays <= 1.3).

One measurement per variant (``--repeat`` for more; the 1,000-job run is
heavy: a few minutes per variant on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    BENCHMARKS,
    TASK_MODULE,
    children_cpu_s,
    cores,
    cpu_s,
    peak_rss_mb,
    percentile,
    print_json,
    run_json,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VARIANTS = ("xpm_nb-arrays", "xpm_nb-single", "experimaestro", "bare-array")
COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol")


# --- the driver (a fresh process per variant) --------------------------------------


SPIKE = 0.02  # s: a stall longer than this is listed with its time (the 20 ms target)


class Ticker:
    """How late a coroutine sleeping ``step`` seconds wakes up (a loop's stalls)."""

    def __init__(self, step: float = 0.01):
        self.step, self.lateness, self.running = step, [], True
        self.spikes: list[tuple[float, float]] = []  # (perf_counter at wake-up, lateness)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.running:
            t0 = loop.time()
            await asyncio.sleep(self.step)
            late = loop.time() - t0 - self.step
            self.lateness.append(late)
            if late > SPIKE:
                self.spikes.append((time.perf_counter(), late))

    def reset(self) -> None:
        self.lateness, self.spikes = [], []

    def figures(self, prefix: str, start: float) -> dict:
        values = sorted(self.lateness) or [0.0]
        return {f"{prefix}_stall_ms": values[-1] * 1000,
                f"{prefix}_p99_ms": percentile(values, 0.99) * 1000,
                f"{prefix}_stalls_over_20ms": len(self.spikes),
                # The longest ones: when (s from the first submit()) and how long (ms).
                f"{prefix}_worst": [[round(t - start, 2), round(late * 1000, 1)] for t, late
                                    in sorted(self.spikes, key=lambda s: -s[1])[:8]]}


# An idle process running the same ticker meanwhile: what the OS alone causes. It stops
# when its stop file appears and writes its figures to its output file.
WITNESS = """
import os, sys, time
stop, out = sys.argv[1], sys.argv[2]
step, late_all = 0.01, []
while not os.path.exists(stop):
    t0 = time.monotonic()
    time.sleep(step)
    late_all.append(time.monotonic() - t0 - step)
late_all.sort()
with open(out + ".tmp", "w") as f:
    f.write(f"{late_all[-1] * 1000} {late_all[int(0.99 * (len(late_all) - 1))] * 1000}")
os.rename(out + ".tmp", out)
"""


class Witness:
    def __init__(self, folder: Path):
        self.stop, self.out = folder / "witness.stop", folder / "witness.out"
        self.proc = subprocess.Popen([sys.executable, "-c", WITNESS, str(self.stop),
                                      str(self.out)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def figures(self) -> dict:
        self.stop.touch()
        deadline = time.monotonic() + 30
        while not self.out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.out.exists():
            self.proc.kill()
            return {}
        worst, p99 = (float(x) for x in self.out.read_text().split())
        return {"witness_stall_ms": worst, "witness_p99_ms": p99}


class SlowCallbacks:
    """``--diagnose``: every asyncio callback (any loop, any thread) that runs longer than
    ``threshold`` s, with its thread's CPU meanwhile (CPU near wall: the callback's own
    work; far below: it waited for the GIL or a CPU); and the garbage collector's full
    collections and long ones."""

    def __init__(self, threshold: float = 0.01):
        self.threshold, self.slow, self.collections = threshold, [], []
        self._gc_start = 0.0

    def _on_gc(self, phase: str, info: dict) -> None:
        # A collection holds the GIL throughout: every thread (the kernel's too) waits.
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif info["generation"] == 2 or time.perf_counter() - self._gc_start > self.threshold:
            self.collections.append((round(self._gc_start - self.start, 2),
                                     info["generation"],
                                     round((time.perf_counter() - self._gc_start) * 1000, 1)))

    def install(self, start: float) -> None:
        import asyncio.events
        import gc
        import threading

        self.start = start
        gc.callbacks.append(self._on_gc)
        run, me = asyncio.events.Handle._run, self

        def timed(handle):
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return run(handle)
            finally:
                wall = time.perf_counter() - w0
                if wall > me.threshold:
                    me.slow.append((round(w0 - start, 2), round(wall * 1000, 1),
                                    round((time.thread_time() - c0) * 1000, 1),
                                    threading.current_thread().name, _describe(handle)))

        asyncio.events.Handle._run = timed

    def figures(self) -> dict:
        return {"slow_callbacks": len(self.slow),
                "slow_worst": sorted(self.slow, key=lambda s: -s[1])[:25],
                # (s from the first submit(), generation, ms): full ones and long ones
                "gc_collections": self.collections}


def _describe(handle) -> str:
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        where = f" at line {frame.f_lineno}" if frame is not None else ""
        return f"task {getattr(coro, '__qualname__', coro)}{where}"
    return getattr(callback, "__qualname__", repr(callback))[:120]


def ours_launcher(mode: str, conf: str, binpath: str, interval: float):
    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

    return SlurmLauncher(options=SlurmOptions(partition="debug"), interval=interval,
                         launcherenv={"SLURM_CONF": conf}, binpath=binpath,
                         arrays=mode == "xpm_nb-arrays")


async def drive_ours(mode: str, n: int, workdir: Path, conf: str, binpath: str,
                     interval: float, diagnose: bool = False, gc_freeze: bool = False) -> dict:
    from bench_tasks import Nop

    import xpm_nb
    from xpm_nb.scheduler.loopthread import scheduler_loop

    launcher = ours_launcher(mode, conf, binpath, interval)
    xpm_nb.experiment  # noqa: B018 - imported now (lazily else), as the reference's is
    kernel, sched = Ticker(), Ticker()
    kernel_task = asyncio.ensure_future(kernel.run())
    sched_future = asyncio.run_coroutine_threadsafe(sched.run(), scheduler_loop())
    witness = Witness(workdir.parent)
    slow = SlowCallbacks()
    cpu0, cmd0 = cpu_s(), children_cpu_s()
    start = time.perf_counter()
    if diagnose:
        slow.install(start)
    xp = xpm_nb.experiment(workdir, "bench", launcher=launcher)
    for i in range(n):  # the cell: the loop is blocked meanwhile by nature
        Nop.C(i=i).submit()
    submitted = time.perf_counter()
    if gc_freeze:  # what the collector scans from now on: the objects made after the cell
        import gc

        gc.freeze()
    kernel.reset()
    sched.reset()
    main0 = time.thread_time()
    await xp
    end = time.perf_counter()
    ticker_cpu = time.thread_time() - main0  # the main thread only ran the ticker meanwhile
    kernel.running = sched.running = False
    await kernel_task
    await asyncio.wrap_future(sched_future)
    xp.close()
    others = witness.figures()
    if diagnose:
        others.update(slow.figures())
    return {"wall_s": end - start, "submit_s": submitted - start,
            "driver_cpu_s": cpu_s() - cpu0, "cmd_cpu_s": children_cpu_s() - cmd0,
            "ticker_cpu_s": ticker_cpu, "peak_rss_mb": peak_rss_mb(),
            **kernel.figures("kernel", start), **sched.figures("sched", start), **others}


def drive_reference(n: int, workdir: Path, conf: str, binpath: str, interval: float) -> dict:
    from bench_tasks import Nop
    from experimaestro import experiment
    from experimaestro.launchers.slurm import SlurmLauncher, SlurmOptions

    # Its launcherenv replaces the environment of sbatch (and so of the jobs): all of it.
    launcher = SlurmLauncher(options=SlurmOptions(partition="debug"), interval=interval,
                             launcherenv={**os.environ, "SLURM_CONF": conf}, binpath=binpath)
    cpu0, cmd0 = cpu_s(), children_cpu_s()
    start = time.perf_counter()
    with experiment(workdir, "bench", launcher=launcher):
        for i in range(n):
            Nop.C(i=i).submit(launcher=launcher)
        submitted = time.perf_counter()
    end = time.perf_counter()
    return {"wall_s": end - start, "submit_s": submitted - start,
            "driver_cpu_s": cpu_s() - cpu0, "cmd_cpu_s": children_cpu_s() - cmd0,
            "peak_rss_mb": peak_rss_mb()}


def drive(args) -> dict:
    workdir = Path(args.workdir)
    if args.variant == "experimaestro":
        figures = drive_reference(args.n, workdir, args.conf, args.binpath, args.interval)
    else:
        figures = asyncio.run(drive_ours(args.variant, args.n, workdir, args.conf,
                                         args.binpath, args.interval, args.diagnose,
                                         args.gc_freeze))
    done = len(list(workdir.glob("jobs/*/*/nop.done")))
    if done != args.n:
        msg = f"{args.variant}: {done} of {args.n} jobs done in {workdir}"
        raise RuntimeError(msg)
    return figures


# --- the bare array (the floor) ------------------------------------------------------


def bare_array(n: int, root: Path, env: dict, binpath: str, interval: float) -> dict:
    """One ``sbatch --array`` of a bare task, followed by squeue until it is gone."""
    logs = root / "bare"
    logs.mkdir()
    python = shutil.which("python3") if not sys.executable else sys.executable
    cpu0, cmd0 = cpu_s(), children_cpu_s()
    start = time.perf_counter()
    r = subprocess.run([f"{binpath}/sbatch", "--parsable", f"--array=0-{n - 1}",
                        "--partition=debug", f"--output={logs}/%a.out",
                        f"--error={logs}/%a.err", f"--chdir={logs}",
                        "--wrap", f"{python} -c 'import {TASK_MODULE}'"],
                       env=env, capture_output=True, text=True, check=True)
    submitted = time.perf_counter()
    arrayid = r.stdout.strip().split(";")[0]
    while True:
        r = subprocess.run([f"{binpath}/squeue", "-h", "-j", arrayid, "-o", "%i"], env=env,
                           capture_output=True, text=True)
        if r.returncode == 0 and not r.stdout.strip():
            break
        time.sleep(interval)
    end = time.perf_counter()
    failed = [p for p in logs.glob("*.err") if p.stat().st_size]
    if failed:
        raise RuntimeError(f"bare array: {len(failed)} tasks wrote errors, e.g. "
                           f"{failed[0].read_text()[-500:]}")
    return {"wall_s": end - start, "submit_s": submitted - start,
            "driver_cpu_s": cpu_s() - cpu0, "cmd_cpu_s": children_cpu_s() - cmd0,
            "peak_rss_mb": peak_rss_mb()}


# --- the measuring side ----------------------------------------------------------------


# The test cluster has no accounting database: the reference, which follows its jobs with
# sacct only, gets the same lines from squeue (finished jobs stay there MinJobAge = 600 s).
SACCT_SHIM = "exec {squeue} -h -t all -o '%i|%T|%S|%e|'"


def write_wrappers(folder: Path, log: Path, sacct_shim: bool) -> Path:
    """``folder/<command>`` logging each call to ``log``, then running the real one."""
    folder.mkdir(parents=True)
    for name in COMMANDS:
        real = shutil.which(name) or f"/usr/bin/{name}"
        run = f'exec {real} "$@"'
        if name == "sacct" and sacct_shim:
            run = SACCT_SHIM.format(squeue=shutil.which("squeue") or "/usr/bin/squeue")
        path = folder / name
        path.write_text(f'#!/bin/sh\necho {name} >> "{log}"\n{run}\n')
        path.chmod(0o755)
    return folder


def count_calls(log: Path) -> dict:
    names = log.read_text().split() if log.exists() else []
    out = {name: names.count(name) for name in ("sbatch", "squeue", "sacct")}
    out["other_cmds"] = len(names) - sum(out.values())
    return out


def child_env(variant: str, cluster_env: dict) -> dict:
    """The cluster's environment, ``bench_tasks`` importable (``_common.task_env``'s, but
    the checkout's ``src/`` for xpm_nb and nothing else on the path for the reference)."""
    env = dict(cluster_env)
    env["XPM_BENCH_PKG"] = "experimaestro" if variant == "experimaestro" else "xpm_nb"
    paths = [BENCHMARKS]
    if variant != "experimaestro":
        paths.append(str(ROOT / "src"))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def wait_idle(cluster, timeout: float = 600) -> None:
    """No job left in the queue (a previous variant's stragglers)."""
    deadline = time.monotonic() + timeout
    while cluster.run("squeue", "-h", "-o", "%i").stdout.strip():
        if time.monotonic() > deadline:
            raise RuntimeError("the cluster's queue did not empty")
        time.sleep(0.5)


def measure(variant: str, n: int, cluster, interval: float, ref_python: str | None,
            diagnose: bool = False, gc_freeze: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"xpm-bench-slurm-{variant}-"))
    try:
        log = root / "calls.log"
        binpath = str(write_wrappers(root / "bin", log, variant == "experimaestro"))
        env = child_env(variant, cluster.env)
        wait_idle(cluster)
        if variant == "bare-array":
            figures = bare_array(n, root, env, binpath, interval)
        else:
            python = ref_python if variant == "experimaestro" else sys.executable
            cmd = [python, __file__, "--driver", "--variant", variant, "--n", str(n),
                   "--workdir", str(root / "ws"), "--conf", str(cluster.conf_path),
                   "--binpath", binpath, "--interval", str(interval)]
            if diagnose and variant != "experimaestro":
                cmd.append("--diagnose")
            if gc_freeze and variant != "experimaestro":
                cmd.append("--gc-freeze")
            figures = run_json(cmd, env=env, cwd=root, timeout=7200)
        figures.update(count_calls(log))
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def reference_python() -> str | None:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.refvenv import ref_python

    python = ref_python()
    return str(python) if python else None


def table(results: dict, n: int) -> str:
    keys = ("wall_s", "vs_bare", "submit_s", "sbatch", "squeue", "sacct", "other_cmds",
            "driver_cpu_s", "ticker_cpu_s", "cmd_cpu_s", "peak_rss_mb", "kernel_stall_ms",
            "sched_stall_ms", "witness_stall_ms")
    lines = [f"| {n} jobs | " + " | ".join(keys) + " |",
             "|---|" + "---|" * len(keys)]
    for variant, figures in results.items():
        cells = []
        for key in keys:
            value = figures.get(key)
            cells.append("-" if value is None else f"{value:,.2f}" if isinstance(
                value, float) else f"{value:,}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--only", action="append", choices=VARIANTS)
    parser.add_argument("--interval", type=float, default=0.5,
                        help="s between two polls (launchers and the bare array's squeue)")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    parser.add_argument("--diagnose", action="store_true",
                        help="xpm_nb: list the asyncio callbacks that ran over 10 ms (slower)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="xpm_nb: gc.freeze() in the driver after the submitting cell "
                             "(an experiment: full collections then skip the older objects)")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="xpm_nb-arrays", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--conf", help=argparse.SUPPRESS)
    parser.add_argument("--binpath", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        print_json(drive(args))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from infra.slurm import SlurmCluster

    variants = args.only or list(VARIANTS)
    ref = reference_python() if "experimaestro" in variants else None
    if "experimaestro" in variants and ref is None:
        print("experimaestro: no reference venv, skipped", file=sys.stderr)
        variants.remove("experimaestro")
    results: dict[str, dict] = {}
    with SlurmCluster() as cluster:
        for variant in variants:
            t0 = time.monotonic()
            results[variant] = measure(variant, args.n, cluster, args.interval, ref,
                                       args.diagnose, args.gc_freeze)
            if not args.json:
                print(f"{variant}: {json.dumps(results[variant])} "
                      f"({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    bare = results.get("bare-array", {}).get("wall_s")
    for figures in results.values():
        if bare:
            figures["vs_bare"] = figures["wall_s"] / bare
    if not args.json:
        print(table(results, args.n))
    print_json({"benchmark": "slurm_array", "n": args.n, "cores": cores(),
                "interval": args.interval, "variants": results})


if __name__ == "__main__":
    main()
