"""Metrics in the widgets: 200 jobs logging 10 metrics each, 5 steps a second.

    python benchmarks/bench_metrics_widgets.py            # markdown lines
    python benchmarks/bench_metrics_widgets.py --json     # {"version", "metrics"} as benchmarks/run.py reads

Kernel side (no browser): a ``JobTable`` (what the experiment view shows)
and a ``MetricsView`` over ``--jobs`` real ``Job`` objects attached to a
``Scheduler`` on a running asyncio loop. For ``--seconds`` seconds each job
gets ``--rate`` metric events a second of ``--metrics`` values, applied as the
scheduler's follower applies them (``MetricsLog.apply``, which calls the
chart's watcher, then the scheduler's listeners). Measured per widget: comm
messages a second (the coalescer caps them at 10), bytes a second (the JSON
of the messages), and the cost of one flush. Messages go to a comm that
records them (the hook a kernel replaces), so no socket time is counted.

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

from _common import print_json

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


class _Comm:
    """Records the messages widgets send (as a kernel's comm would transmit them)."""

    def __init__(self):
        from comm.base_comm import BaseComm

        class Recording(BaseComm):
            def __init__(inner, *args, **kwargs):
                inner.sent = []
                super().__init__(*args, **kwargs)

            def publish_msg(inner, msg_type, data=None, metadata=None, buffers=None, **keys):
                inner.sent.append((time.perf_counter(), msg_type, data))

        self.cls = Recording

    def __enter__(self):
        import comm

        self._old = comm.create_comm
        comm.create_comm = lambda *a, **k: self.cls(*a, **k)
        return self

    def __exit__(self, *exc):
        import comm

        comm.create_comm = self._old


def _timed(coalescer, costs: list[float]) -> None:
    flush = coalescer.flush

    def timed():
        start = time.perf_counter()
        flush()
        costs.append(time.perf_counter() - start)

    coalescer.flush = timed


def _traffic(widget, first: int, elapsed: float) -> dict:
    sent = [d for _, kind, d in widget.comm.sent[first:] if kind == "comm_msg"]
    size = sum(len(json.dumps(d, separators=(",", ":"))) for d in sent)
    return {"messages_per_s": len(sent) / elapsed, "kb_per_s": size / elapsed / 1e3}


def kernel_side(jobs, seconds: float, rate: float, n_metrics: int) -> dict:
    from xpm_nb.scheduler.follow import metrics_log
    from xpm_nb.scheduler.scheduler import Scheduler
    from xpm_nb.widgets import JobTable, MetricsView

    async def run():
        loop = asyncio.get_running_loop()
        scheduler = Scheduler(loop)
        for job in jobs:
            job.scheduler = scheduler
        with _Comm():
            table = JobTable(jobs, scheduler=scheduler)
            chart = MetricsView(jobs, group="lr")
        opening = chart._snapshot()  # what a view gets first: then every patch, live
        costs = {"table": [], "chart": []}
        _timed(table._coalescer, costs["table"])
        _timed(chart._coalescer, costs["chart"])
        firsts = {"table": len(table.comm.sent), "chart": len(chart.comm.sent)}
        names = [f"metric_{i}" for i in range(n_metrics)]
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
        out = {"events_per_s": events / elapsed, "apply_us": apply_time / max(1, events) * 1e6}
        for name, widget in (("table", table), ("chart", chart)):
            for key, value in _traffic(widget, firsts[name], elapsed).items():
                out[f"{name}_{key}"] = value
            out[f"{name}_flush_ms"] = statistics.median(costs[name]) * 1000 if costs[name] else 0.0
        patches = [d["state"]["patch"] for _, kind, d in chart.comm.sent[firsts["chart"]:]
                   if kind == "comm_msg" and d.get("method") == "update" and "patch" in d["state"]]
        out["points_per_curve"] = events / len(jobs)
        out["snapshot_mb"] = len(json.dumps(chart._snapshot(), separators=(",", ":"))) / 1e6
        final = chart._snapshot()
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
    model.change('patch', p);
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
          f"snapshot at the end {m['snapshot_mb']:.1f} MB |")
    if not args.no_browser:
        print(f"| Chromium, charts of {args.jobs} runs x {args.metrics} metrics "
              f"({m['paths']:.0f} paths) | live redraw {m['redraw_ms']:.0f} ms (worst "
              f"{m['redraw_max_ms']:.0f} ms, {m['redraws']:.0f} redraws), {m['long_frames']:.0f} "
              f"long tasks; a view opened at the end: {m['first_render_ms']:.0f} ms, grouped by "
              f"a tag {m['grouped_render_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
