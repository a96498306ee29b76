"""``xpm_nb.browse(ws)``: the experiments and runs of a workspace, and any past run opened.

Nothing is re-run: everything is read from the folders
(:mod:`~xpm_nb.widgets.past_runs`), runs written by xpm_nb and by the
reference alike. ``experiments`` (a synced list) is the list the view shows;
a run opened from it (``{"type": "open", "experiment", "run_id"}``) becomes
``run`` (its header, counts and a generation number ``gen``), and its jobs a
:class:`~xpm_nb.widgets.rows.JobTableState` of :class:`PastJob` rows: the view
(``js/browse.js``) mounts the job table, the curves panel and the configuration
view of ``js/`` on adapter models that send the tables' own requests (``sync``,
``log``, ``compare``, ``curves_sync``) stamped with ``gen``; the answers carry it
back, so an answer for a run no longer shown is dropped. ``{"type": "config",
"k"}`` asks for a job's configuration (its ``params.json`` as a tree),
``poll`` (sent every few seconds while the run has unfinished jobs) reads the
run's folders again and answers with a table ``patch`` of the rows that
changed (a job another kernel runs goes on: it ends done, its curves grow) and
the run's new counts; ``refresh`` reads the whole workspace again, ``close``
goes back to the list.
Cancel and resubmit are refused: a past run is read only.
"""

from __future__ import annotations

import html
import time
import uuid
from typing import Any

import anywidget
import traitlets

from ..errors import InvalidArgumentError, XPMError
from .assets import bundle
from .metrics import CurveFeed, read_history
from .past_runs import (
    compare_trees,
    list_experiments,
    params_tree,
    read_run,
    workspace_path,
)
from .rows import MAX_LOG_LINES, JobTableState

__all__ = ["WorkspaceBrowser", "browse"]


class WorkspaceBrowser(anywidget.AnyWidget):
    """The experiments and runs of a workspace; a run opens in a read-only job table."""

    _esm = bundle("browse")

    _xpm_id = traitlets.Unicode("").tag(sync=True)
    workspace = traitlets.Unicode("").tag(sync=True)
    experiments = traitlets.List(traitlets.Dict()).tag(sync=True)
    scanned = traitlets.Float(0.0).tag(sync=True)  # when the list was read (epoch seconds)
    # The run shown ({} for the list): experiment, run_id, status, counts, gen, ...
    run = traitlets.Dict().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    # The curves panel's settings (the toolbar writes them back, as MetricsView's).
    curves_color_by = traitlets.Unicode("").tag(sync=True)
    curves_group_by = traitlets.Unicode("").tag(sync=True)
    curves_log_scale = traitlets.Bool(False).tag(sync=True)
    curves_smoothing = traitlets.Float(0.0).tag(sync=True)

    def __init__(self, ws=None, **kwargs):
        self.path = workspace_path(ws)
        self.jobs: list = []
        self.table = JobTableState()
        self._feed: CurveFeed | None = None
        self._gen = 0
        model_id = kwargs.pop("model_id", None) or uuid.uuid4().hex
        super().__init__(workspace=str(self.path), experiments=list_experiments(self.path),
                         scanned=time.time(), model_id=model_id, _xpm_id=model_id, **kwargs)
        self.on_msg(self._on_message)

    # --- the list and the open run ------------------------------------------------

    def refresh(self) -> None:
        """Read the workspace again (and the open run's jobs)."""
        self.experiments = list_experiments(self.path)
        self.scanned = time.time()
        if self.run:
            self.open_run(self.run["experiment"], self.run["run_id"])

    def open_run(self, experiment: str, run_id: str | None = None) -> list:
        """Show run ``run_id`` of ``experiment`` (its current run when None); its jobs."""
        entry = next((x for x in self.experiments if x["name"] == experiment), None)
        if entry is None:
            names = ", ".join(x["name"] for x in self.experiments) or "none"
            msg = (f"browse: no experiment {experiment!r} in {self.path} (experiments: {names}). "
                   "Fix: give one of these names as open_run(experiment=...), or call refresh() "
                   "first")
            raise InvalidArgumentError(msg)
        runs = entry["runs"]
        info = next((r for r in runs if r["run_id"] == run_id), None) if run_id else next(
            (r for r in runs if r["current"]), runs[0] if runs else None)
        if info is None:
            ids = ", ".join(r["run_id"] for r in runs) or "none"
            msg = (f"browse: experiment {experiment!r} has no run {run_id!r} (runs: {ids}). "
                   "Fix: give one of these run ids as open_run(run_id=...)")
            raise InvalidArgumentError(msg)
        jobs = read_run(self.path, experiment, info["run_id"])
        if self._feed is not None:
            self._feed.close()
        self._feed = None
        self.jobs = jobs
        self.table = JobTableState(jobs)
        self.table.baseline()  # the counts are those of the rows "sent": all of them
        self._gen += 1
        counts = self.table.counts()
        self.error = ""
        self.run = {**info, "gen": self._gen, "counts": {k: v for k, v in counts.items() if v},
                    "n_jobs": len(jobs), "tag_names": self.table.tag_names,
                    "metric_names": self.table.metric_names, "read": time.time()}
        return jobs

    def close_run(self) -> None:
        """Back to the list."""
        if self._feed is not None:
            self._feed.close()
        self._feed = None
        self.jobs, self.table = [], JobTableState()
        self.run = {}

    def poll(self) -> dict | None:
        """Read the open run's folders again; the table patch of what changed (also sent)."""
        if not self.run:
            return None
        newer = read_run(self.path, self.run["experiment"], self.run["run_id"])
        known = {job.identifier: job for job in self.jobs}
        changed = []
        for job in newer:
            old = known.get(job.identifier)
            if old is None:  # submitted since (a run still going on)
                self.jobs.append(job)
                self.table.add(job)
                changed.append(job)
            elif old.update_from(job):
                self.table.mark(old)
                changed.append(old)
        gen = {"gen": self._gen}
        patch = self.table.patch()
        if patch is not None:
            self.send({**patch, **gen})
        if self._feed is not None and changed:
            for job in changed:
                if self._feed.state.key(job) is None:
                    self._feed.watch(job)
                self._feed.state.set_history(job, read_history(job))
            curves = self._feed.state.patch()
            if curves is not None:
                self.send({**curves, "type": "curves_patch", **gen})
        if patch is not None:
            counts = self.table.counts()
            self.run = {**self.run, "counts": {k: v for k, v in counts.items() if v},
                        "n_jobs": len(self.jobs), "tag_names": self.table.tag_names,
                        "metric_names": self.table.metric_names, "read": time.time()}
        return patch

    # --- the view's requests -----------------------------------------------------------

    def _on_message(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "open":
                self.open_run(str(content.get("experiment")), content.get("run_id") or None)
            elif kind == "close":
                self.close_run()
            elif kind == "refresh":
                self.refresh()
            elif kind == "poll" and content.get("gen") == self._gen:
                self.poll()
            elif content.get("gen") == self._gen and self.run:
                self._run_request(kind, content)
        except XPMError as exc:
            self.error = str(exc)

    def _run_request(self, kind: Any, content: dict) -> None:
        gen = {"gen": self._gen}
        if kind == "curves_sync":
            if self._feed is None:  # the histories are read at the first look
                self._feed = CurveFeed(self.jobs, lambda: None, lambda: None)
            self.send({**self._feed.state.snapshot_for_view(), "type": "curves_snapshot", **gen})
        elif kind == "config":
            job = self.table.job(content.get("k"))
            self.send({"type": "config", "k": content.get("k"), "tree": params_tree(job),
                       "identifier": job.identifier, **gen})
        elif kind == "compare":
            keys = content.get("keys")
            reply: dict[str, Any] = {"type": "compare", "keys": keys, **gen}
            if isinstance(keys, list) and len(keys) >= 2:
                reply.update(compare_trees([self.table.job(k) for k in keys]))
            else:
                reply["error"] = f"compare takes at least 2 jobs, got {keys!r}"
            self.send(reply)
        elif kind in ("cancel", "resubmit"):
            self.send({"type": "action", "action": kind, "k": content.get("k"), "ok": False,
                       "message": "read only: a past run's jobs are not cancelled or "
                                  "resubmitted from here (run the experiment again)", **gen})
        elif kind == "log":
            content = {**content, "lines": min(int(content.get("lines") or 40), MAX_LOG_LINES)}
            reply = self.table.handle(content)
            if reply is not None:
                self.send({**reply, **gen})
        else:
            reply = self.table.handle(content)  # sync: every row
            if reply is not None:
                self.send({**reply, **gen})

    # --- rich display --------------------------------------------------------------------

    def _repr_html_(self) -> str:
        return browser_html(str(self.path), self.experiments)

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, tuple):
            data, meta = data
        else:
            meta = {}
        data = dict(data or {})
        data.setdefault("text/html", self._repr_html_())
        data["text/plain"] = browser_text(str(self.path), self.experiments)
        return data, meta


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "?"


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: kv[0])) or "no job"


def browser_text(path: str, experiments: list[dict]) -> str:
    lines = [f"Workspace {path}: {len(experiments)} experiment(s)"]
    for x in experiments:
        lines.append(f"  {x['name']}: {x['n_runs']} run(s), last {_when(x['last'])}, "
                     f"{x['status']}, {_counts_text(x['counts'])}")
    return "\n".join(lines)


def browser_html(path: str, experiments: list[dict]) -> str:
    """The static fallback: every experiment and its runs (no widget front-end needed)."""
    e = html.escape
    parts = [f'<div class="xpm-browse-static"><b>Workspace</b> <code>{e(path)}</code>: '
             f"{len(experiments)} experiment(s)"]
    for x in experiments:
        rows = "".join(
            f"<tr><td><code>{e(r['run_id'])}</code>{' (current)' if r['current'] else ''}</td>"
            f"<td>{e(_when(r['started']))}</td><td>{e(str(r['status']))}</td>"
            f"<td>{r['n_jobs']}</td><td>{e(_counts_text(r['counts']))}</td></tr>"
            for r in x["runs"])
        parts.append(
            f"<details><summary><b>{e(x['name'])}</b>: {x['n_runs']} run(s), last "
            f"{e(_when(x['last']))}, {e(str(x['status']))}, {e(_counts_text(x['counts']))}"
            "</summary><table><thead><tr><th>run</th><th>started</th><th>status</th>"
            f"<th>jobs</th><th>states</th></tr></thead><tbody>{rows}</tbody></table></details>")
    parts.append("</div>")
    return "".join(parts)


def browse(ws=None) -> WorkspaceBrowser:
    """The workspace browser of ``ws`` (a path, a Workspace, or None: the current/default one).

    Lists the experiments and their runs; a run opens in a job table (states as
    the folders say now: a job another kernel runs shows running), with its
    curves, logs and each job's configuration, without re-running anything.
    """
    return WorkspaceBrowser(ws)
