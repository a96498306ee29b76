"""Identifier throughput: build three-level configurations and identify them.

The same script runs against either package::

    python benchmarks/bench_identifiers.py --package xpm_nb --json
    <ref-venv>/bin/python benchmarks/bench_identifiers.py --package experimaestro --json

Each configuration tree has three levels:

* ``Leaf``: 5 fields (int, float, str, bool, list of ints);
* ``Middle``: 4 scalar fields + a ``Leaf``;
* ``Root``: 4 scalar fields + a ``Middle``.

Values depend on the tree's index, so every configuration (at every level)
differs. Nothing is sealed, so every ``__identifier__()`` call computes the
identifiers of the root and of the configurations below it afresh.

Three phases are timed separately, as rates of trees (= root identifiers)
per second:

* ``construct``: building the trees only;
* ``identify``: ``root.__identifier__()`` on trees already built;
* ``both``: building a tree and identifying it.

Each phase is repeated ``--repeat`` times (default 5) and the median reported.
"""

# No `from __future__ import annotations`: the classes are declared inside a
# function, so their annotations must be real objects, not strings.
import argparse
import functools
import gc
import importlib
import statistics
import sys
import time

from _common import benchmark_result, print_json


def define_classes(name: str):
    """The three configuration classes, declared with ``pkg.Config``/``pkg.Param``."""
    pkg = importlib.import_module(name)
    Config, Param = pkg.Config, pkg.Param

    class Leaf(Config):
        __xpmid__ = "bench.identifiers.Leaf"
        count: Param[int]
        rate: Param[float]
        label: Param[str]
        enabled: Param[bool]
        sizes: Param[list[int]]

    class Middle(Config):
        __xpmid__ = "bench.identifiers.Middle"
        depth: Param[int]
        dropout: Param[float]
        name: Param[str]
        shared: Param[bool]
        leaf: Param[Leaf]

    class Root(Config):
        __xpmid__ = "bench.identifiers.Root"
        seed: Param[int]
        lr: Param[float]
        optimizer: Param[str]
        verbose: Param[bool]
        middle: Param[Middle]

    return pkg, Root, Middle, Leaf


def make_builder(Root, Middle, Leaf):
    RootC, MiddleC, LeafC = Root.C, Middle.C, Leaf.C

    def build(k: int):
        leaf = LeafC(
            count=k,
            rate=k * 0.25 + 0.1,
            label=f"leaf-{k}",
            enabled=k % 2 == 0,
            sizes=[k % 7, k % 11, k],
        )
        middle = MiddleC(
            depth=k % 13 + 1,
            dropout=(k % 100) / 100.0,
            name=f"middle-{k}",
            shared=k % 3 == 0,
            leaf=leaf,
        )
        return RootC(
            seed=k,
            lr=1.0 / (k + 1),
            optimizer=("adam", "sgd", "adamw")[k % 3],
            verbose=k % 5 == 0,
            middle=middle,
        )

    return build


def _timed(fn):
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(name: str, n: int, repeat: int, check: bool = True) -> dict:
    pkg, Root, Middle, Leaf = define_classes(name)
    build = make_builder(Root, Middle, Leaf)
    indices = range(n)

    def construct():
        return [build(k) for k in indices]

    def identify(trees):
        return [t.__identifier__() for t in trees]

    def both():
        return [build(k).__identifier__() for k in indices]

    # Warm-up: first calls may import modules lazily or fill caches.
    warm = [build(k) for k in range(200)]
    identify(warm)
    identify(warm)

    times: dict[str, list[float]] = {"construct": [], "identify": [], "both": []}
    for _ in range(repeat):
        dt, trees = _timed(construct)
        times["construct"].append(dt)
        dt, ids = _timed(functools.partial(identify, trees))
        times["identify"].append(dt)
        if check:
            # Every tree differs, and a second computation gives the same result.
            hexes = [i.all.hex() for i in ids]
            assert len(set(hexes)) == n, "identifiers are not all distinct"
            assert trees[n // 2].__identifier__().all.hex() == hexes[n // 2]
        del trees, ids
        dt, ids = _timed(both)
        times["both"].append(dt)
        del ids

    metrics = {}
    for phase, values in times.items():
        med = statistics.median(values)
        metrics[phase] = {
            "value": n / med,
            "unit": "trees/s",
            "median_s": med,
            "runs_s": values,
        }
    version = getattr(pkg, "__version__", "?")  # the imported module's own
    return benchmark_result("identifiers", name, version, metrics, n=n, repeat=repeat)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="xpm_nb", choices=["xpm_nb", "experimaestro"])
    parser.add_argument("-n", type=int, default=10_000, help="trees per run (10000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median is kept (5)")
    parser.add_argument("--no-check", action="store_true", help="skip the distinctness check")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    result = run(args.package, args.n, args.repeat, check=not args.no_check)
    if args.json:
        print_json(result)
    else:
        print(
            f"{result['package']} {result['version']} (Python {result['python']}), "
            f"{args.n} trees x 3 configs, median of {args.repeat}"
        )
        for phase, m in result["metrics"].items():
            print(f"  {phase:10s} {m['value']:12,.0f} trees/s  ({m['median_s'] * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
