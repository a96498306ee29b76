"""Widget updates and rendering: 10,000 jobs.

    python benchmarks/bench_widgets.py            # markdown lines
    python benchmarks/bench_widgets.py --json     # {"version", "metrics"} as benchmarks/run.py reads

Kernel side (no browser): a ``JobTable`` over 10,000 real ``Job`` objects,
attached to a ``Scheduler`` on a running asyncio loop; for ``--storm``
seconds its listener gets ``--rate`` job changes a second (default 10,000:
every job changes state or progress once a second). Measured: update
messages sent a second (the coalescer caps them at 10), rows a second they
carry, the cost of one listener call and of one flush, and the size and
build time of the snapshot a new view asks for. Messages go to a comm that records them (the hook a
kernel replaces), so no socket time is counted.

Browser side: Debian's Chromium (headless, via playwright) loads
``js/job_table.js`` in a plain page with an in-page model (the contract at
the top of that file: the notebook widget and the monitoring page mount the
same module); the 10,000-row snapshot built above is delivered as JSON text.
Timed inside the page, each up to the second animation frame after it:
snapshot (parse + rows + first paint), a 100-row patch, a filter, a sort, a
scroll to the middle.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import RecordingComms, comm_updates, medians, print_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

N_JOBS = 10_000


def make_jobs(path: Path, n: int):
    from xpm_nb import Param, Task, tag
    from xpm_nb.scheduler.jobs import Job, JobState
    from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

    class Train(Task):
        __xpmid__ = "bench.widgets.Train"
        lr: Param[float]
        layers: Param[int]
        seed: Param[int]

    workspace = Workspace(WorkspaceSettings(path))
    rng = random.Random(0)
    states = list(JobState)
    jobs = []
    now = time.time()
    for i in range(n):
        config = Train.C(lr=tag(10 ** -(i % 4)), layers=tag(2 ** (i % 5)), seed=tag(i))
        job = Job(config, workspace=workspace)
        job.state = rng.choice(states)
        job.started_time = now - rng.uniform(1, 3600)
        if job.state.finished:
            job.ended_time = job.started_time + rng.uniform(1, 600)
        if job.state is JobState.ERROR:
            job.failure_reason = "RuntimeError: loss diverged"
        job.progress = [
            {"level": 0, "progress": rng.random(), "desc": "epochs"},
            {"level": 1, "progress": rng.random(), "desc": "batches"},
        ]
        jobs.append(job)
    return jobs


def kernel_side(jobs, storm: float, rate: float) -> tuple[dict, str]:
    from xpm_nb.scheduler.jobs import JobState
    from xpm_nb.scheduler.scheduler import Scheduler
    from xpm_nb.widgets import JobTable
    from xpm_nb.widgets.rows import JobTableState

    out: dict = {}
    t0 = time.perf_counter()
    snapshot = JobTableState(jobs).snapshot()
    out["snapshot_build_ms"] = (time.perf_counter() - t0) * 1000
    text = json.dumps(snapshot)
    out["snapshot_mb"] = len(text) / 1e6

    async def run():
        loop = asyncio.get_running_loop()
        scheduler = Scheduler(loop)
        with RecordingComms(encode=False):  # the flush alone, as its figures were measured
            table = JobTable(jobs, scheduler=scheduler)
        flush_costs: list[float] = []
        flush = table._coalescer.flush

        def timed_flush():
            start = time.perf_counter()
            flush()
            flush_costs.append(time.perf_counter() - start)

        table._coalescer.flush = timed_flush
        first = len(table.comm.sent)
        rng = random.Random(1)
        states = list(JobState)
        calls = 0
        listener_time = 0.0
        tick = 0.01  # the changes of each 10 ms come together, as from the scheduler's polls
        start_time = loop.time()
        end = start_time + storm
        while loop.time() < end:
            due = int((loop.time() - start_time + tick) * rate) - calls
            for _ in range(max(0, due)):
                job = jobs[rng.randrange(len(jobs))]
                job.state = rng.choice(states)
                job.progress = [{"level": 0, "progress": rng.random(), "desc": "epochs"}]
                start = time.perf_counter()
                for listener in scheduler.listeners:
                    listener(job)
                listener_time += time.perf_counter() - start
                calls += 1
            await asyncio.sleep(tick)
        elapsed = loop.time() - start_time
        await asyncio.sleep(0.25)  # the last flush
        sent = comm_updates(table, first)
        patches = [
            d["state"]["patch"]
            for d in sent
            if d.get("method") == "update" and "patch" in d["state"]
        ]
        rows = sum(len(p["rows"]) for p in patches)
        return {
            "changes_per_s": calls / elapsed,
            "update_messages_per_s": len(sent) / elapsed,
            "rows_per_s": rows / elapsed,
            "rows_per_message": rows / max(1, len(patches)),
            "listener_us": listener_time / max(1, calls) * 1e6,
            "flush_ms": statistics.median(flush_costs) * 1000 if flush_costs else 0.0,
        }

    out.update(asyncio.run(run()))
    return out, text


PAGE = """<!doctype html><meta charset="utf-8"><title>bench</title>
<body style="margin:16px;width:1200px"><div id="jobs"></div>
<script type="module">
import jobTable from "/job_table.js";
class Model {
  constructor(data) { this.data = data; this.handlers = {}; this.sent = []; }
  get(key) { return this.data[key]; }
  set(key, value) { this.data[key] = value; }
  save_changes() {}
  on(event, cb) { (this.handlers[event] ||= []).push(cb); }
  off(event, cb) { this.handlers[event] = (this.handlers[event] || []).filter((f) => f !== cb); }
  send(message) { this.sent.push(message); }
  emit(message) { for (const cb of this.handlers["msg:custom"] || []) cb(message, []); }
}
window.model = new Model({ title: "", tag_names: ["lr", "layers", "seed"] });
window.cleanup = jobTable.render({ model: window.model, el: document.getElementById("jobs") });
window.frames2 = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
window.ready = true;
</script>
"""


def browser_side(snapshot_text: str, repeat: int) -> dict:
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
                runs = [
                    _measure(browser, server.server_address[1], snapshot_text)
                    for _ in range(repeat)
                ]
                browser.close()
        finally:
            server.shutdown()
    return medians(runs)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _measure(browser, port: int, snapshot_text: str) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"http://127.0.0.1:{port}/index.html")
    page.wait_for_function("() => window.ready === true")
    result = page.evaluate(
        """async (text) => {
        const t = {};
        let t0 = performance.now();
        model.emit(JSON.parse(text));
        await frames2();
        t.snapshot_render_ms = performance.now() - t0;
        const rows = JSON.parse(text).rows.slice(0, 100).map((r) => ({...r, state: "done"}));
        t0 = performance.now();
        model.emit({type: "patch", rows, now: Date.now() / 1000});
        await frames2();
        t.patch_render_ms = performance.now() - t0;
        const input = document.querySelector(".xpm-jt-filter");
        t0 = performance.now();
        input.value = "lr=0.01";
        input.dispatchEvent(new Event("input"));
        await frames2();
        t.filter_ms = performance.now() - t0;
        t.filtered_rows = Number(document.querySelector(".xpm-jt-count").textContent.split(" ")[0].replace(/,/g, ""));
        input.value = "";
        input.dispatchEvent(new Event("input"));
        await frames2();
        t0 = performance.now();
        document.querySelector('.xpm-jt-head [data-col="progress"]').click();
        await frames2();
        t.sort_ms = performance.now() - t0;
        const body = document.querySelector(".xpm-jt-body");
        t0 = performance.now();
        body.scrollTop = body.scrollHeight / 2;
        body.dispatchEvent(new Event("scroll"));
        await frames2();
        t.scroll_ms = performance.now() - t0;
        t.dom_rows = document.querySelectorAll(".xpm-jt-row").length;
        return t;
    }""",
        snapshot_text,
    )
    page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=N_JOBS)
    parser.add_argument("--storm", type=float, default=3.0, help="seconds of job changes")
    parser.add_argument(
        "--rate",
        type=float,
        default=10_000,
        help="job changes a second during the storm (default: each job once a second)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="browser runs (median)")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--package",
        default="xpm_nb",
        choices=["xpm_nb"],
        help="only xpm_nb (the reference has no notebook widgets)",
    )
    args = parser.parse_args()

    import xpm_nb

    with tempfile.TemporaryDirectory() as tmp:
        jobs = make_jobs(Path(tmp) / "ws", args.jobs)
        kernel, snapshot_text = kernel_side(jobs, args.storm, args.rate)
    metrics = dict(kernel)
    if not args.no_browser:
        metrics.update(browser_side(snapshot_text, args.repeat))

    if args.json:
        print_json(
            {
                "version": xpm_nb.__version__,
                "metrics": {k: {"value": v} for k, v in metrics.items()},
            }
        )
        return
    m = metrics
    print(
        f"| widgets, {args.jobs:,} jobs, {m['changes_per_s']:,.0f} job changes/s | "
        f"{m['update_messages_per_s']:.1f} update messages/s "
        f"({m['rows_per_s']:,.0f} rows/s, {m['rows_per_message']:,.0f} rows a message; "
        f"listener {m['listener_us']:.1f} µs, flush {m['flush_ms']:.1f} ms) |"
    )
    print(
        f"| snapshot of {args.jobs:,} rows | {m['snapshot_build_ms']:.0f} ms to build, "
        f"{m['snapshot_mb']:.1f} MB of JSON |"
    )
    if not args.no_browser:
        print(
            f"| Chromium, table of {args.jobs:,} jobs | render {m['snapshot_render_ms']:.0f} ms, "
            f"100-row patch {m['patch_render_ms']:.0f} ms, filter {m['filter_ms']:.0f} ms, "
            f"sort {m['sort_ms']:.0f} ms, scroll {m['scroll_ms']:.0f} ms; "
            f"{m['dom_rows']:.0f} rows in the DOM |"
        )


if __name__ == "__main__":
    main()
