"""Building a result frame of 100,000 jobs on disk (``xpm_nb.results``).

    python benchmarks/bench_results.py                 # 100,000 jobs, 3 runs
    python benchmarks/bench_results.py --jobs 10000 --runs 5 --json

A workspace of ``--jobs`` finished job folders is written once and kept under
``--root`` (default: ``~/.cache/xpm_nb/bench-results``); each has what a job
run by xpm_nb leaves: ``params.json``, ``<name>.done`` (1% ``<name>.failed``),
``.experimaestro/status.json`` and an event file (state changes, 5 steps of
two metrics, progress); the run's ``jobs.jsonl`` gives each job three tags.

Each figure is measured in a fresh process (pandas imported before the clock
starts; the files are in the OS page cache after the first run), in wall time
and in CPU time (that process's and its helper processes', which split a
large first scan between the cores):

* ``first_s``: ``results(ws, "bench")`` with no cache of ours (every event
  file read and parsed);
* ``first_stdlib_json_s``: the same with the standard ``json`` parser, when
  the optional ``orjson`` is installed;
* ``disk_cache_s``: a new process, after a first one wrote the summaries of
  the finished jobs to the disk cache (one ``stat`` of ``.done`` per job);
* ``rebuild_s``: a second ``results()`` in the same process (a notebook
  re-running its cell).

Prints a markdown line with the figures (and JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))  # support.run_folder (after the script's own folder)
from support.run_folder import new_run_folder  # noqa: E402

FORMAT = 1  # bump when the generated layout changes
TARGET_S = 2.0

CHILD = """
import json, os, sys, time
import pandas  # imported before the clock: a notebook has it loaded already
import xpm_nb
from xpm_nb.results import eventscan
if {stdlib!r}:
    eventscan._fast_loads = json.loads
def cpu():  # this process and its helper processes (waited for)
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
start, cpu0 = time.perf_counter(), cpu()
df = xpm_nb.results({ws!r}, "bench")
first, first_cpu = time.perf_counter() - start, cpu() - cpu0
start, cpu0 = time.perf_counter(), cpu()
again = xpm_nb.results({ws!r}, "bench")
rebuild, rebuild_cpu = time.perf_counter() - start, cpu() - cpu0
assert len(df) == len(again) == {jobs}, len(df)
assert df.index.names == ["model", "lr", "seed"]
print(json.dumps({{"first": first, "first_cpu": first_cpu, "rebuild": rebuild,
                   "rebuild_cpu": rebuild_cpu, "rows": len(df),
                   "orjson": eventscan._fast_loads is not json.loads}}))
"""


def generate(root: Path, jobs: int) -> Path:
    """The benchmark workspace (written once, then reused)."""
    ws = root / f"ws-{jobs}-v{FORMAT}"
    marker = ws / ".bench-complete"
    if marker.exists():
        return ws
    if ws.exists():
        shutil.rmtree(ws)
    start = time.perf_counter()
    task_id, name = "bench.train", "train"
    run = new_run_folder(ws, "bench")
    lines = []
    for i in range(jobs):
        job_id = hashlib.sha256(f"job {i}".encode()).hexdigest()
        path = ws / "jobs" / task_id / job_id
        (path / ".experimaestro" / "events").mkdir(parents=True)
        tags = {"model": f"m{i % 5}", "lr": [0.1, 0.01, 0.001][i % 3], "seed": i // 15}
        params = {"workspace": str(ws), "version": 3, "objects": [{
            "id": 1, "module": "bench", "type": "Train", "typename": task_id,
            "identifier": job_id, "fields": {"lr": tags["lr"], "seed": tags["seed"]}}]}
        (path / "params.json").write_text(json.dumps(params))
        t0 = 1.7e9 + i
        failed = i % 100 == 99
        if failed:
            (path / f"{name}.failed").write_text(json.dumps({"code": 1, "reason": "boom"}))
        else:
            (path / f"{name}.done").touch()
        state = "error" if failed else "done"
        status = {"job_id": job_id, "task_id": task_id, "state": state, "submitted_time": t0,
                  "started_time": t0 + 1, "ended_time": t0 + 7, "tags": tags}
        (path / ".experimaestro" / "status.json").write_text(json.dumps(status))
        base = {"job_id": job_id, "task_id": task_id}
        events = [{**base, "state": "running", "event_type": "JobStateChangedEvent",
                   "timestamp": t0 + 1}]
        for step in range(5):
            events.append({"step": step, "metrics": {"loss": 1 / (step + 1 + i % 7),
                                                     "accuracy": step / 5},
                           "event_type": "JobMetricsEvent", **base, "timestamp": t0 + 2 + step})
            events.append({"level": 0, "progress": (step + 1) / 5, "desc": None,
                           "event_type": "JobProgressEvent", **base, "timestamp": t0 + 2 + step})
        events.append({**base, "state": state, "exit_code": int(failed),
                       "failure_reason": "boom" if failed else None,
                       "event_type": "JobStateChangedEvent", "timestamp": t0 + 7})
        (path / ".experimaestro" / "events" / "event-0.jsonl").write_text(
            "".join(json.dumps(e) + "\n" for e in events))
        lines.append(json.dumps({"job_id": job_id, "task_id": task_id, "tags": tags,
                                 "timestamp": t0}))
    (run / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    marker.touch()
    print(f"generated {jobs:,} job folders in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    return ws


def child(ws: Path, jobs: int, cache: str, stdlib: bool = False) -> dict:
    env = dict(os.environ, XPM_NB_CACHE_DIR=cache)
    code = CHILD.format(ws=str(ws), jobs=jobs, stdlib=stdlib)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(ws: Path, jobs: int, runs: int) -> dict:
    figures: dict[str, list[float]] = {}

    def note(key: str, result: dict, which: str) -> None:
        figures.setdefault(f"{key}_s", []).append(result[which])
        figures.setdefault(f"{key}_cpu_s", []).append(result[f"{which}_cpu"])

    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="xpm-bench-cache-") as cache:
            cold = child(ws, jobs, cache)  # writes the disk cache
            note("first", cold, "first")
            note("rebuild", cold, "rebuild")
            note("disk_cache", child(ws, jobs, cache), "first")
        if cold["orjson"]:
            note("first_stdlib_json", child(ws, jobs, "", stdlib=True), "first")
    return {k: {"value": statistics.median(v), "runs": v} for k, v in figures.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="xpm_nb", choices=["xpm_nb"],
                        help="only xpm_nb: the reference has no result frames")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--root", type=Path,
                        default=Path.home() / ".cache" / "xpm_nb" / "bench-results")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    import xpm_nb

    ws = generate(args.root, args.jobs)
    metrics = measure(ws, args.jobs, args.runs)
    m = {k: v["value"] for k, v in metrics.items()}
    m_min = {k: min(v["runs"]) for k, v in metrics.items()}

    def fig(key: str) -> str:
        return f"{m[key + '_s']:.2f} s (CPU {m[key + '_cpu_s']:.2f} s)"

    stdlib = (f"; first build with stdlib json {fig('first_stdlib_json')}"
              if "first_stdlib_json_s" in m else " (orjson not installed)")
    verdict = ", ".join(f"{name} {'met' if m[key] < TARGET_S else 'missed'}" for name, key in
                        (("first build", "first_s"), ("with disk cache", "disk_cache_s"),
                         ("rebuild", "rebuild_s")))
    print(f"| results frame, {args.jobs:,} jobs on disk (median of {args.runs}, wall and CPU; "
          f"min: first {m_min['first_s']:.2f} s, disk cache {m_min['disk_cache_s']:.2f} s, "
          f"rebuild {m_min['rebuild_s']:.2f} s) | "
          f"first build {fig('first')}{stdlib}; new process with disk cache "
          f"{fig('disk_cache')}; rebuild {fig('rebuild')} | "
          f"target < {TARGET_S:.0f} s: {verdict} |")
    if args.json:
        print(json.dumps({"version": xpm_nb.__version__, "metrics": metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
