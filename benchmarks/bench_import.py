"""Import time of a package in a fresh interpreter.

    python benchmarks/bench_import.py --package xpm_nb --json
    <ref-venv>/bin/python benchmarks/bench_import.py --package experimaestro --json

Each run starts new processes with the interpreter running this script
(so the reference is timed in its own virtual environment) and measures:

* ``import_ms``: ``import <pkg>`` timed with ``time.perf_counter`` inside
  the child (the cleanest figure: no interpreter start-up in it);
* ``process_ms``: wall time of ``python -c "import <pkg>"`` minus that of
  ``python -c "pass"`` (includes what ``site`` does differently, e.g. ``.pth``
  hooks, and the interpreter tear-down of the loaded modules).

The median of ``--runs`` runs (default 7) is reported. ``--importtime`` also
prints the slowest modules according to ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _common import (
    benchmark_result,
    command_wall_s,
    median_metrics,
    package_version,
    print_json,
)

CHILD = (
    "import time; t = time.perf_counter(); import {pkg}; "
    "dt = time.perf_counter() - t; import sys; "
    "print(repr(dt), len(sys.modules))"
)


def one_run(package: str) -> dict:
    py = sys.executable
    out = subprocess.run(
        [py, "-c", CHILD.format(pkg=package)], check=True, capture_output=True, text=True
    ).stdout.split()
    inside, n_modules = float(out[0]), int(out[1])
    base = command_wall_s([py, "-c", "pass"])
    full = command_wall_s([py, "-c", f"import {package}"])
    return {"import_ms": inside * 1000, "process_ms": (full - base) * 1000, "modules": n_modules}


def slowest_modules(package: str, top: int = 15) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) of the slowest imports, per -X importtime."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {package}"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = (p.strip() for p in line[len("import time:") :].split("|"))
        if name == "site":  # what came before is interpreter start-up, not the package
            rows.clear()
            continue
        rows.append((int(cum_us), int(self_us), name))
    rows.sort(reverse=True)
    return rows[:top]


def run(package: str, runs: int) -> dict:
    samples = [one_run(package) for _ in range(runs)]
    metrics = median_metrics(samples, {"import_ms": "ms", "process_ms": "ms"})
    return benchmark_result(
        "import",
        package,
        package_version(package),
        metrics,
        runs=runs,
        modules=samples[-1]["modules"],
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="xpm_nb", choices=["xpm_nb", "experimaestro"])
    parser.add_argument("--runs", type=int, default=7, help="runs; the median is kept (7)")
    parser.add_argument("--importtime", action="store_true", help="show the slowest modules")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    result = run(args.package, args.runs)
    if args.importtime:
        result["slowest"] = slowest_modules(args.package)
    if args.json:
        print_json(result)
        return 0
    m = result["metrics"]
    print(
        f"{args.package} {result['version']} (Python {result['python']}), median of {args.runs}: "
        f"import {m['import_ms']['value']:.1f} ms, process {m['process_ms']['value']:.1f} ms, "
        f"{result['modules']} modules in sys.modules"
    )
    for cum, own, name in result.get("slowest", []):
        print(f"  {cum / 1000:8.1f} ms cumulative {own / 1000:8.1f} ms self  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
