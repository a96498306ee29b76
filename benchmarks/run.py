"""Run every benchmark against xpm_nb and the reference, print a markdown table.

    python benchmarks/run.py                      # all benchmarks (20-45 min)
    python benchmarks/run.py --quick              # fewer runs (about 6 min)
    python benchmarks/run.py --only import        # a subset (repeatable)
    python benchmarks/run.py --output results.md  # also write the table to a file

xpm_nb runs with the interpreter running this script; the reference
(experimaestro 2.7.0) with the python of its own virtual environment, created
if needed by ``tests/support/refvenv.py``. Each benchmark script is started
once per run, alternating the packages (ours, reference, ours, reference...)
so that drifts of the machine's load hit both alike; the medians of the runs
are compared. Ours runs from this checkout (``src/`` first on ``PYTHONPATH``)
and, for both, Python's bytecode cache is on (as for an installed package:
pip compiles at install) even where ``PYTHONDONTWRITEBYTECODE`` is set; the
cache goes to ``~/.cache/xpm_nb/bench-pycache``, not into the source tree.

To add a benchmark: write ``benchmarks/bench_<name>.py`` taking
``--package xpm_nb|experimaestro --json`` plus an option for a single
measurement, printing ``{"version": ..., "metrics": {key: {"value": ...}}}``
(``_common.benchmark_result`` and ``print_json``), and add a :class:`Benchmark`
entry to ``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from _common import cores, run_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OURS, REF = "xpm_nb", "experimaestro"


@dataclass
class Metric:
    key: str  # key in the script's "metrics"
    label: str
    unit: str
    higher_is_better: bool
    fmt: str = "{:,.0f}"
    target: Optional[Callable[[float, Optional[float]], bool]] = None  # (ours, ref) -> met?
    target_text: str = ""


@dataclass
class Benchmark:
    name: str
    script: str  # file in benchmarks/
    single_run_args: list[str]  # arguments making the script measure once
    runs: int
    metrics: list[Metric] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)
    timeout: float = 1800
    quick_runs: Optional[int] = None  # runs with --quick (default: runs)
    packages: tuple[str, ...] = ("xpm_nb", "experimaestro")  # who runs it


def _at_least(factor: float):
    return lambda ours, ref: ref is not None and ours >= factor * ref


def _below(limit: float):
    return lambda ours, ref: ours < limit


def _at_most_fraction(fraction: float):
    return lambda ours, ref: ref is not None and ours <= fraction * ref


def _e2e(n: int, runs: int, quick_runs: int) -> Benchmark:
    """N trivial tasks end to end on the direct launcher (bench_e2e.py)."""
    per_task = Metric(
        "per_task_ms",
        f"{n} trivial tasks: per-task overhead (wall x cores / N)",
        "ms",
        False,
        fmt="{:.1f}",
        target=_at_most_fraction(0.25),
        target_text="<= 1/4 ref",
    )
    return Benchmark(
        name=f"e2e-{n}",
        script="bench_e2e.py",
        single_run_args=["--repeat", "1"],
        extra_args=["--n", str(n)],
        runs=runs,
        quick_runs=quick_runs,
        metrics=[
            Metric("wall_s", f"{n} trivial tasks: wall time", "s", False, fmt="{:.2f}"),
            per_task,
            Metric("submit_ms", f"{n} trivial tasks: submit() per task", "ms", False, fmt="{:.2f}"),
            Metric("driver_cpu_s", f"{n} trivial tasks: driver CPU", "s", False, fmt="{:.2f}"),
            Metric(
                "jobs_cpu_s", f"{n} trivial tasks: job processes' CPU", "s", False, fmt="{:.2f}"
            ),
            Metric(
                "peak_rss_mb", f"{n} trivial tasks: driver peak RSS", "MiB", False, fmt="{:.0f}"
            ),
            Metric(
                "cpu_per_task_ms",
                f"{n} trivial tasks: CPU per task (driver + jobs) / N",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric(
                "floor_per_task_ms",
                f"{n} trivial tasks: floor measured right after (one bare process)",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric(
                "vs_floor",
                f"{n} trivial tasks: per-task overhead / floor",
                "x",
                False,
                fmt="{:.2f}",
                target=lambda ours, ref: ours <= 2,
                target_text="<= 2",
            ),
            Metric(
                "vs_floor_cpu",
                f"{n} trivial tasks: CPU per task / floor's CPU per process",
                "x",
                False,
                fmt="{:.2f}",
            ),
        ],
    )


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        name="identifiers",
        script="bench_identifiers.py",
        single_run_args=["--repeat", "1"],
        runs=5,
        quick_runs=2,
        metrics=[
            Metric("construct", "3-level configs: construction only", "trees/s", True),
            Metric(
                "identify",
                "3-level configs: identifier only (unsealed)",
                "trees/s",
                True,
                target=_at_least(5),
                target_text=">= 5x ref",
            ),
            Metric(
                "both",
                "3-level configs: construction + identifier",
                "trees/s",
                True,
                target=_at_least(5),
                target_text=">= 5x ref",
            ),
        ],
    ),
    Benchmark(
        name="import",
        script="bench_import.py",
        single_run_args=["--runs", "1"],
        runs=7,
        quick_runs=3,
        metrics=[
            Metric(
                "import_ms",
                "`import <pkg>` (in-process timer)",
                "ms",
                False,
                fmt="{:.1f}",
                target=_below(80),
                target_text="< 80 ms",
            ),
            Metric(
                "process_ms",
                "`python -c 'import <pkg>'` - `python -c pass`",
                "ms",
                False,
                fmt="{:.1f}",
            ),
        ],
    ),
    _e2e(10, runs=5, quick_runs=2),
    _e2e(100, runs=3, quick_runs=1),
    _e2e(500, runs=3, quick_runs=1),
    Benchmark(
        name="floor",
        script="bench_floor.py",
        single_run_args=["--repeat", "1"],
        extra_args=["--n", "100"],
        runs=3,
        quick_runs=1,
        metrics=[
            Metric(
                "per_task_ms",
                "floor per task: one bare process importing the task module",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric("cpu_ms", "floor: CPU of one such process", "ms", False, fmt="{:.1f}"),
            Metric(
                "parallel_per_task_ms",
                "floor: 100 such processes started at once (wall x cores / N)",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric("bare_ms", "`python -c pass` (interpreter alone)", "ms", False, fmt="{:.1f}"),
        ],
    ),
    Benchmark(
        name="loop_stall",
        script="bench_loop_stall.py",
        single_run_args=["--repeat", "1"],
        extra_args=["--n", "100"],
        runs=5,
        quick_runs=2,
        packages=(OURS,),
        metrics=[
            Metric(
                "max_stall_ms",
                "notebook loop: longest stall while 100 jobs run",
                "ms",
                False,
                fmt="{:.1f}",
                target=_below(20),
                target_text="< 20 ms",
            ),
            Metric(
                "p99_stall_ms",
                "notebook loop: p99 lateness of a 2 ms ticker",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric(
                "os_max_stall_ms",
                "an idle process meanwhile (what the OS alone causes): longest stall",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric(
                "os_p99_stall_ms",
                "an idle process meanwhile: p99 lateness",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric(
                "submit_cell_ms",
                "notebook loop: the cell submitting 100 tasks",
                "ms",
                False,
                fmt="{:.0f}",
            ),
        ],
    ),
    Benchmark(
        name="busy_kernel",
        script="bench_busy_kernel.py",
        single_run_args=["--repeat", "1"],
        runs=1,
        packages=(OURS,),
        metrics=[
            Metric(
                "done_during_block",
                "10 jobs of 2 s (max_jobs=2): done while the main thread blocks 20 s",
                "jobs",
                True,
                fmt="{:.0f}",
                target=lambda ours, ref: ours >= 10,
                target_text="all 10",
            ),
            Metric(
                "busy_stall_ms",
                "scheduler loop: longest stall meanwhile",
                "ms",
                False,
                fmt="{:.1f}",
                target=_below(20),
                target_text="< 20 ms",
            ),
            Metric(
                "remote_stall_ms",
                "scheduler loop: longest stall, remote jobs, SSH link cut 10 s",
                "ms",
                False,
                fmt="{:.1f}",
            ),
            Metric(
                "remote_own_stall_ms",
                "the same, its own part (not when the driver's loop stalled too)",
                "ms",
                False,
                fmt="{:.1f}",
                target=_below(20),
                target_text="< 20 ms",
            ),
            Metric(
                "control_stall_ms",
                "the driver's own loop meanwhile (OS and other threads alone)",
                "ms",
                False,
                fmt="{:.1f}",
            ),
        ],
    ),
]


def load_refvenv():
    """tests/support/refvenv.py, loaded by path (tests/ is not a package)."""
    path = ROOT / "tests" / "support" / "refvenv.py"
    spec = importlib.util.spec_from_file_location("_xpm_nb_refvenv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine_info(ref_python: Optional[str]) -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "?"
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(cores())
    ref_version = None
    if ref_python:
        ref_version = subprocess.run(
            [ref_python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": nproc,
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ref_python": ref_version,
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def pycache_dir() -> Path:
    return Path.home() / ".cache" / "xpm_nb" / "bench-pycache"


def bench_env(package: str) -> dict[str, str]:
    """Environment of a benchmark script (and of the processes it starts)."""
    env = dict(os.environ)
    # Bytecode cached as for an installed package, outside the source tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache_dir())
    if package == OURS:
        # This checkout's xpm_nb, whatever the editable install points to.
        src = str(ROOT / "src")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def warm_bytecode(pythons: dict[str, str]) -> None:
    """Compile xpm_nb into the cache once, so that no measured run pays for it."""
    subprocess.run(
        [pythons[OURS], "-m", "compileall", "-q", str(ROOT / "src" / "xpm_nb")],
        env=bench_env(OURS),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def run_once(bench: Benchmark, package: str, python: str) -> dict:
    cmd = [
        python,
        str(HERE / bench.script),
        "--package",
        package,
        "--json",
        *bench.single_run_args,
        *bench.extra_args,
    ]
    return run_json(
        cmd,
        what=" ".join(cmd),
        env=bench_env(package),
        cwd=ROOT,
        timeout=bench.timeout,
        stderr_tail=None,  # the whole of it (run_benchmark keeps the end)
    )


def run_benchmark(bench: Benchmark, pythons: dict[str, str], runs: int, verbose: bool) -> dict:
    """Alternate the packages run by run; return per-package lists of values."""
    pythons = {p: py for p, py in pythons.items() if p in bench.packages}
    values: dict[str, dict[str, list[float]]] = {p: {} for p in pythons}
    versions: dict[str, str] = {}
    failures: list[str] = []
    for i in range(runs):
        for package, python in pythons.items():
            result = None
            for _attempt in range(2):  # one retry: the machine (and the checkout) are shared
                try:
                    result = run_once(bench, package, python)
                    break
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                    failures.append(f"{package} run {i + 1}: {str(exc).strip()[-1500:]}")
                    print(
                        f"  [{bench.name} {i + 1}/{runs}] {package} FAILED:\n{failures[-1]}",
                        file=sys.stderr,
                    )
            if result is None:
                continue
            versions[package] = result.get("version", "?")
            for key, m in result["metrics"].items():
                values[package].setdefault(key, []).append(m["value"])
            if verbose:
                shown = ", ".join(f"{k}={m['value']:.4g}" for k, m in result["metrics"].items())
                print(f"  [{bench.name} {i + 1}/{runs}] {package}: {shown}", file=sys.stderr)
    medians = {p: {k: statistics.median(v) for k, v in kv.items()} for p, kv in values.items()}
    done = min((len(v) for kv in values.values() for v in kv.values()), default=0)
    return {
        "runs": done,
        "values": values,
        "medians": medians,
        "versions": versions,
        "failures": failures,
    }


def markdown(info: dict, results: dict[str, dict]) -> str:
    lines = [
        "# xpm_nb benchmarks",
        "",
        f"- Date: {info['date']}",
        f"- Machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['platform']}",
        f"- Python: {info['python']} (xpm_nb)"
        + (f", {info['ref_python']} (reference venv)" if info.get("ref_python") else ""),
    ]
    versions = {}
    for res in results.values():
        versions.update(res["versions"])
    if versions:
        lines.append("- Versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    lines += [
        "- Figures: medians over runs alternating the packages; ratio = xpm_nb / experimaestro",
        "- Per-task overhead: wall time x cores / N for N tasks that do nothing (the core-time "
        "a job costs); the floor: the same for bare processes importing the task's module",
        f"- Load average when starting (1, 5, 15 min): {info.get('load', '?')} "
        "(the machine is shared: compare ratios)",
        "",
        "| Benchmark | Metric | Unit | xpm_nb | experimaestro | Ratio | Target |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for bench in BENCHMARKS:
        res = results.get(bench.name)
        if res is None:
            continue
        for metric in bench.metrics:
            ours = res["medians"].get(OURS, {}).get(metric.key)
            ref = res["medians"].get(REF, {}).get(metric.key)
            ours_s = metric.fmt.format(ours) if ours is not None else "n/a"
            ref_s = metric.fmt.format(ref) if ref is not None else "n/a"
            ratio = f"{ours / ref:.2f}" if ours is not None and ref else "n/a"
            target = ""
            if metric.target is not None and ours is not None:
                ok = metric.target(ours, ref)
                target = f"{metric.target_text} {'ok' if ok else 'MISSED'}"
            better = "higher" if metric.higher_is_better else "lower"
            lines.append(
                f"| {bench.name} (n={res['runs']}) | {metric.label} | {metric.unit} "
                f"({better} is better) | {ours_s} | {ref_s} | {ratio} | {target} |"
            )
    failed = [name for name, res in results.items() if res.get("failures")]
    if failed:
        lines.append("")
        lines.append(
            "Runs that failed (and were retried or left out): "
            + ", ".join(f"{name} ({len(results[name]['failures'])})" for name in failed)
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [b.name for b in BENCHMARKS]
    parser.add_argument("--only", action="append", choices=names, help="run only this one")
    parser.add_argument("--runs", type=int, help="override the number of runs of each benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer runs of each benchmark")
    parser.add_argument("--ref-python", help="python of an environment with experimaestro 2.7.0")
    parser.add_argument("--no-ref", action="store_true", help="run xpm_nb only")
    parser.add_argument("--output", type=Path, help="also write the markdown table there")
    parser.add_argument("--json-output", type=Path, help="write all raw figures there (JSON)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    pythons = {OURS: sys.executable}
    if not args.no_ref:
        ref = args.ref_python
        if ref is None:
            print("Ensuring the reference venv (experimaestro 2.7.0)...", file=sys.stderr)
            path = load_refvenv().ref_python()
            ref = str(path) if path is not None else None
        if ref is None:
            print("WARNING: no reference venv; running xpm_nb only", file=sys.stderr)
        else:
            pythons[REF] = ref

    info = machine_info(pythons.get(REF))
    warm_bytecode(pythons)
    results = {}
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        runs = args.runs or (bench.quick_runs if args.quick and bench.quick_runs else bench.runs)
        if not args.quiet:
            n_packages = len([p for p in pythons if p in bench.packages])
            print(f"{bench.name}: {runs} runs x {n_packages} packages", file=sys.stderr)
        results[bench.name] = run_benchmark(bench, pythons, runs, verbose=not args.quiet)

    table = markdown(info, results)
    print(table)
    if args.output:
        args.output.write_text(table)
    if args.json_output:
        args.json_output.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
