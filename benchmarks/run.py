"""Run every benchmark against xpm_nb and the reference, print a markdown table.

    python benchmarks/run.py                      # all benchmarks
    python benchmarks/run.py --only import        # a subset (repeatable)
    python benchmarks/run.py --output results.md  # also write the table to a file

xpm_nb runs with the interpreter running this script; the reference
(experimaestro 2.7.0) with the python of its own virtual environment, created
if needed by ``tests/support/refvenv.py``. Each benchmark script is started
once per run, alternating the packages (ours, reference, ours, reference...)
so that drifts of the machine's load hit both alike; the medians of the runs
are compared.

To add a benchmark: write ``benchmarks/bench_<name>.py`` taking
``--package xpm_nb|experimaestro --json`` plus an option for a single
measurement, printing ``{"version": ..., "metrics": {key: {"value": ...}}}``,
and add a :class:`Benchmark` entry to ``BENCHMARKS``.
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


def _at_least(factor: float):
    return lambda ours, ref: ref is not None and ours >= factor * ref


def _below(limit: float):
    return lambda ours, ref: ours < limit


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        name="identifiers",
        script="bench_identifiers.py",
        single_run_args=["--repeat", "1"],
        runs=5,
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
    # End-to-end task overhead (submit -> done) will be added here.
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
        nproc = str(len(os.sched_getaffinity(0)))
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
    }


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
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=bench.timeout, cwd=ROOT)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}"
        raise RuntimeError(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_benchmark(bench: Benchmark, pythons: dict[str, str], runs: int, verbose: bool) -> dict:
    """Alternate the packages run by run; return per-package lists of values."""
    values: dict[str, dict[str, list[float]]] = {p: {} for p in pythons}
    versions: dict[str, str] = {}
    for i in range(runs):
        for package, python in pythons.items():
            result = run_once(bench, package, python)
            versions[package] = result.get("version", "?")
            for key, m in result["metrics"].items():
                values[package].setdefault(key, []).append(m["value"])
            if verbose:
                shown = ", ".join(f"{k}={m['value']:.4g}" for k, m in result["metrics"].items())
                print(f"  [{bench.name} {i + 1}/{runs}] {package}: {shown}", file=sys.stderr)
    medians = {p: {k: statistics.median(v) for k, v in kv.items()} for p, kv in values.items()}
    return {"runs": runs, "values": values, "medians": medians, "versions": versions}


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
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [b.name for b in BENCHMARKS]
    parser.add_argument("--only", action="append", choices=names, help="run only this one")
    parser.add_argument("--runs", type=int, help="override the number of runs of each benchmark")
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
    results = {}
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        runs = args.runs or bench.runs
        if not args.quiet:
            print(f"{bench.name}: {runs} runs x {len(pythons)} packages", file=sys.stderr)
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
