"""Metrics in the widgets: 200 jobs logging 10 metrics each, 5 steps a second.

    python benchmarks/bench_metrics_widgets.py            # markdown lines
    python benchmarks/bench_metrics_widgets.py --json     # {"version", "metrics"} as benchmarks/run.py reads

Kernel side (no browser): a ``JobTable`` (what the experiment view shows)
and a ``MetricsView`` over ``--jobs`` real ``Job`` objects attached to a
``Scheduler`` on the scheduler's loop (its own thread, as in a kernel). For
``--seconds`` seconds each job gets ``--rate`` metric events a second of
``--metrics`` values, applied on that loop as the scheduler's follower applies
them (``MetricsLog.apply``, which calls the chart's watcher, then the
scheduler's listeners). Measured per widget: comm messages a second (the
coalescer caps them at 10), bytes a second (the JSON of the messages, encoded
on the sending thread as a kernel's session does), and the cost of one flush
(median and worst). Messages go to a comm that records them (the hook a
kernel replaces), so no socket time is counted. Meanwhile the caller's loop
(the kernel's: where cells and comm messages run) has a probe that sleeps
5 ms again and again: ``kernel_max_stall_ms`` is its longest lateness (the
target: under 20 ms); ``witness_max_stall_ms`` the same probe's in an idle
process meanwhile (what the machine alone causes), ``kernel_own_max_stall_ms``
the longest part of a stall not matched by one of the witness, and
``idle_max_stall_ms`` the caller's probe over one second before the load.

Browser side: Debian's Chromium (headless, via playwright) loads
``js/metrics_view.js`` in a plain page with an in-page model, gets the
chart's opening snapshot, then the recorded patches again at their pace (10
a second), one curve per run (not grouped: the most paths); measured: the
median and worst redraw of the charts (``data-draw-ms``: every chart whose
metric changed, all of them here; redraws are at most 4 a second), the long
tasks (> 50 ms) seen, and the render of a view opened at the end (its
snapshot holds every point: parse and first draw), one curve per run and
grouped by a tag.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import (
    RecordingComms,
    StallProbe,
    StallWitness,
    comm_traffic,
    comm_updates,
    own_stall_ms,
    print_json,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

N_JOBS = 200
N_METRICS = 10
RATE = 5.0  # steps a second per job


def make_jobs(path: Path, n: int):
    from xpm_nb import Param, Task, tag
    from xpm_nb.scheduler.jobs import Job, JobState
    from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

    class Train(Task):
        __xpmid__ = "bench.metrics.Train"
        lr: Param[float]
        seed: Param[int]

    workspace = Workspace(WorkspaceSettings(path))
    jobs = []
    for i in range(n):
        job = Job(Train.C(lr=tag(10 ** -(i % 4)), seed=tag(i)), workspace=workspace)
        job.state = JobState.RUNNING
        job.started_time = time.time()
        jobs.append(job)
    return jobs


def _timed(coalescer, costs: list[float]) -> None:
    flush = coalescer.flush

    def timed():
        start = time.perf_counter()
        flush()
        costs.append(time.perf_counter() - start)

    coalescer.flush = timed


def kernel_side(jobs, seconds: float, rate: float, n_metrics: int) -> dict:
    """The load on the scheduler's loop (its own thread, as in a kernel); the widgets made
    and the stalls measured on the caller's loop (the kernel's)."""
    from xpm_nb.scheduler.follow import metrics_log
    from xpm_nb.scheduler.loopthread import scheduler_loop
    from xpm_nb.scheduler.scheduler import Scheduler
    from xpm_nb.widgets import JobTable, MetricsView

    names = [f"metric_{i}" for i in range(n_metrics)]

    async def load(scheduler) -> dict:
        """``rate`` metric events a second per job, applied as the scheduler's follower does."""
        loop = asyncio.get_running_loop()
        events = 0
        tick = 0.01  # the events of each 10 ms come together, as from the followers' polls
        start = loop.time()
        end = start + seconds
        apply_time = 0.0
        while loop.time() < end:
            due = int((loop.time() - start + tick) * rate * len(jobs)) - events
            for _ in range(max(0, due)):
                job = jobs[events % len(jobs)]
                step = events // len(jobs)
                record = {"event_type": "JobMetricsEvent", "step": step, "timestamp": time.time(),
                          "metrics": {n: 1.0 / (1 + step) + i for i, n in enumerate(names)}}
                t0 = time.perf_counter()
                metrics_log(job).apply(job, record, step)
                for listener in scheduler.listeners:
                    listener(job)
                apply_time += time.perf_counter() - t0
                events += 1
            await asyncio.sleep(tick)
        elapsed = loop.time() - start
        await asyncio.sleep(0.3)  # the last flushes
        return {"events": events, "elapsed": elapsed, "apply_time": apply_time}

    async def run():
        scheduler = Scheduler(scheduler_loop())
        for job in jobs:
            job.scheduler = scheduler
        # The caller's loop alone first: how late its probe is without the load (the OS).
        idle = StallProbe()
        idle.start()
        await asyncio.sleep(1.0)
        await idle.stop()
        with RecordingComms():
            table = JobTable(jobs, scheduler=scheduler)
            chart = MetricsView(jobs, group="lr")
        opening = chart._snapshot()  # what a view gets first: then every patch, live
        costs = {"table": [], "chart": []}
        _timed(table._coalescer, costs["table"])
        _timed(chart._coalescer, costs["chart"])
        firsts = {"table": len(table.comm.sent), "chart": len(chart.comm.sent)}
        probe = StallProbe()
        with StallWitness() as witness:
            probe.start()
            done = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(load(scheduler), scheduler.loop))
            await probe.stop()
        events, elapsed = done["events"], done["elapsed"]
        out = {"events_per_s": events / elapsed, "apply_us": done["apply_time"] / max(1, events) * 1e6,
               **probe.summary("kernel_"), "kernel_own_max_stall_ms": own_stall_ms(probe.stalls, witness.stalls),
               **{f"witness_{k}": v for k, v in witness.summary.items()}, **idle.summary("idle_")}
        for name, widget in (("table", table), ("chart", chart)):
            for key, value in comm_traffic(widget, firsts[name], elapsed).items():
                out[f"{name}_{key}"] = value
            out[f"{name}_flush_ms"] = statistics.median(costs[name]) * 1000 if costs[name] else 0.0
            out[f"{name}_flush_max_ms"] = max(costs[name]) * 1000 if costs[name] else 0.0
        patches = [d["content"] for d in comm_updates(chart, firsts["chart"])
                   if d.get("method") == "custom" and d["content"].get("type") == "patch"]
        out["points_per_curve"] = events / len(jobs)
        final = chart._snapshot()
        out["snapshot_mb"] = len(json.dumps(final, separators=(",", ":"))) / 1e6
        table.close()
        chart.close()
        return out, (opening, final), patches

    return asyncio.run(run())


PAGE = """<!doctype html><meta charset="utf-8"><title>bench</title>
<body style="margin:16px;width:1200px"><div id="charts"></div>
<script type="module">
import view from "/metrics_view.js";
class Model {
  constructor(data) { this.data = data; this.handlers = {}; this.sent = []; }
  get(key) { return this.data[key]; }
  set(key, value) { this.data[key] = value; }
  save_changes() {}
  on(event, cb) { (this.handlers[event] ||= []).push(cb); }
  off(event, cb) { this.handlers[event] = (this.handlers[event] || []).filter((f) => f !== cb); }
  send(message) { this.sent.push(message); }
  change(key, value) { this.data[key] = value; for (const cb of this.handlers["change:" + key] || []) cb(); }
  emit(message) { for (const cb of this.handlers["msg:custom"] || []) cb(message, []); }
}
window.start = (snapshot, group = "") => {
  const el = document.createElement("div");
  document.getElementById("charts").appendChild(el);
  window.model = new Model({ title: "", tag_names: ["lr", "seed"], snapshot, patch: {},
    color_by: "", group_by: group, log_scale: false, smoothing: 0 });
  view.render({ model: window.model, el });
  return el;
};
window.long = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.long.push(e.duration); })
  .observe({ type: "longtask", buffered: true });
window.ready = true;
</script>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def browser_side(snapshots: tuple[dict, dict], patches: list[dict]) -> dict:
    from playwright.sync_api import sync_playwright

    from infra.jupyterlab import CHROMIUM, CHROMIUM_ARGS
    from xpm_nb.widgets.assets import asset_dir

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        for path in asset_dir().glob("*.js"):
            (site / path.name).write_text(path.read_text())
        (site / "index.html").write_text(PAGE)
        handler = functools.partial(_QuietHandler, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("() => window.ready === true")
                result = page.evaluate(_MEASURE, [snapshots[0], patches, snapshots[1]])
                browser.close()
        finally:
            server.shutdown()
    return result


_MEASURE = """async ([snapshot, patches, final]) => {
  const root = () => document.querySelector('.xpm-mc');
  start(snapshot);
  // The patches at their pace: the curves grow as they did in the kernel.
  const draws = [];
  window.long = [];
  let seen = Number(root().dataset.draws);
  for (const p of patches) {
    model.emit(p);
    await new Promise((r) => setTimeout(r, 100));
    const n = Number(root().dataset.draws);
    if (n !== seen) { draws.push(Number(root().dataset.drawMs)); seen = n; }
  }
  draws.sort((a, b) => a - b);
  const paths = document.querySelectorAll('.xpm-mc path').length;
  // A view opened at the end (every point in its snapshot): parse + first draw.
  const text = JSON.stringify(final);
  document.getElementById('charts').innerHTML = '';
  let t0 = performance.now();
  const el = start(JSON.parse(text));
  const first = performance.now() - t0;
  el.remove();
  t0 = performance.now();
  start(JSON.parse(text), "lr");
  const grouped = performance.now() - t0;
  return { first_render_ms: first, grouped_render_ms: grouped, redraw_ms: draws[Math.floor(draws.length / 2)] || 0,
           redraw_max_ms: draws[draws.length - 1] || 0, redraws: draws.length,
           long_frames: window.long.length, paths };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=N_JOBS)
    parser.add_argument("--metrics", type=int, default=N_METRICS)
    parser.add_argument("--rate", type=float, default=RATE, help="steps a second per job")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import xpm_nb

    with tempfile.TemporaryDirectory() as tmp:
        jobs = make_jobs(Path(tmp) / "ws", args.jobs)
        metrics, snapshots, patches = kernel_side(jobs, args.seconds, args.rate, args.metrics)
    if not args.no_browser:
        metrics.update(browser_side(snapshots, patches))
    if args.json:
        print_json({"version": xpm_nb.__version__,
                    "metrics": {k: {"value": v} for k, v in metrics.items()}})
        return
    m = metrics
    print(f"| metrics, {args.jobs} jobs x {args.metrics} metrics, {m['events_per_s']:,.0f} "
          f"events/s | job table: {m['table_messages_per_s']:.1f} messages/s, "
          f"{m['table_kb_per_s']:,.0f} kB/s (flush {m['table_flush_ms']:.1f} ms); "
          f"chart: {m['chart_messages_per_s']:.1f} messages/s, {m['chart_kb_per_s']:,.0f} kB/s "
          f"(flush {m['chart_flush_ms']:.1f} ms); {m['apply_us']:.0f} µs per event; chart "
          f"snapshot at the end {m['snapshot_mb']:.1f} MB; kernel loop stall "
          f"{m['kernel_max_stall_ms']:.1f} ms max, {m['kernel_p99_stall_ms']:.1f} ms p99, its own part "
          f"{m['kernel_own_max_stall_ms']:.1f} ms max (an idle process meanwhile: "
          f"{m['witness_max_stall_ms']:.1f} ms max) |")
    if not args.no_browser:
        print(f"| Chromium, charts of {args.jobs} runs x {args.metrics} metrics "
              f"({m['paths']:.0f} paths) | live redraw {m['redraw_ms']:.0f} ms (worst "
              f"{m['redraw_max_ms']:.0f} ms, {m['redraws']:.0f} redraws), {m['long_frames']:.0f} "
              f"long tasks; a view opened at the end: {m['first_render_ms']:.0f} ms, grouped by "
              f"a tag {m['grouped_render_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
