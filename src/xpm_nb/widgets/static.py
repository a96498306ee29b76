"""Static HTML and text of jobs and experiments: what shows where no widget runs.

nbconvert's HTML, GitHub and a terminal IPython get these (``text/html``,
``text/plain``) along with the widget view, built from the same rows as the
live table (:func:`~xpm_nb.widgets.rows.job_row`), so they show the same facts:
state and failure reason, tags, last value of each metric, progress, duration,
folder.
"""

from __future__ import annotations

import html
import math
import time

from .config_tree import SHORT_ID, config_tree, tree_html, tree_text
from .rows import STATES, count_key, job_row

__all__ = [
    "jobs_html",
    "jobs_text",
    "job_html",
    "job_text",
    "experiment_html",
    "experiment_text",
    "config_html",
    "config_text",
    "MAX_STATIC_ROWS",
]

MAX_STATIC_ROWS = 500  # rows written in a notebook's static output (the rest counted)

_E = html.escape
_STATE_COLORS = {"done": "#2f9e44", "error": "#e03131", "running": "#1c7ed6"}


def _duration(row: dict, now: float) -> str:
    start = row.get("started")
    if not start:
        return ""
    end = row.get("ended") or (None if row["state"] in ("done", "error") else now)
    if end is None:
        return ""
    seconds = max(0.0, end - start)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _progress_text(row: dict) -> str:
    levels = row.get("progress") or []
    if not levels and row["state"] == "done":
        return "100%"
    text = " / ".join(
        f"{(desc + ' ') if desc else ''}{fraction:.0%}" for fraction, desc in levels
    )
    # A failed or cancelled job keeps the progress it reached (rows.job_row).
    return f"{text} (stopped)" if text and row["state"] == "error" else text


def format_metric(value) -> str:
    """A metric value in at most 4 significant digits, as the live table shows it
    (``formatMetric`` in ``js/metrics.js``): "0.1235", "1.235e-05", "12350"."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        mantissa, exponent = f"{value:.3e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent):+d}"
    if float(value).is_integer():
        return str(int(value))
    return f"{float(f'{value:.4g}'):g}"


def _state_text(row: dict) -> str:
    if row["state"] == "error":
        return f"failed: {row['reason']}" if row.get("reason") else "failed"
    return row["state"]


def _rows(jobs) -> list[dict]:
    return [job_row(job, key) for key, job in enumerate(jobs)]


def _tag_names(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for row in rows:
        for name in row["tags"]:
            if name not in names:
                names.append(name)
    return names


def _metric_names(rows: list[dict]) -> list[str]:
    """The metrics of the rows, in the order they first appear (the live table's columns)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.get("metrics") or {}))
    return list(names)


def _metric_cell(row: dict, name: str) -> str:
    value = (row.get("metrics") or {}).get(name)
    if value is None:
        return "<td></td>"
    return (f"<td class='xpm-metric' title='{_E(repr(value))}' style='text-align:right;"
            f"font-family:monospace'>{_E(format_metric(value))}</td>")


def jobs_html(jobs, limit: int = MAX_STATIC_ROWS) -> str:
    """A ``<table>`` of jobs: state (and why it failed), task, tags, the last value of
    each metric, progress, duration."""
    rows = _rows(jobs)
    now = time.time()
    tags = _tag_names(rows)
    metrics = _metric_names(rows)
    head = "".join(
        f"<th style='text-align:left'>{_E(h)}</th>"
        for h in ["state", "task", *tags]
    ) + "".join(
        f"<th style='text-align:right' title='last value of metric {_E(m)}'>{_E(m)}</th>"
        for m in metrics
    ) + "".join(
        f"<th style='text-align:left'>{_E(h)}</th>"
        for h in ["progress", "duration", "identifier"]
    )
    body = []
    for row in rows[:limit]:
        color = _STATE_COLORS.get(row["state"], "inherit")
        cells = [
            f"<td style='color:{color}'>{_E(_state_text(row))}</td>",
            f"<td title='{_E(row['task'])}'>{_E(row['task'].rsplit('.', 1)[-1])}</td>",
            *(f"<td>{_E(str(row['tags'].get(t, '')))}</td>" for t in tags),
            *(_metric_cell(row, m) for m in metrics),
            f"<td>{_E(_progress_text(row))}</td>",
            f"<td>{_E(_duration(row, now))}</td>",
            f"<td><code title='{_E(row['path'])}'>{_E(row['id'][:SHORT_ID])}</code></td>",
        ]
        body.append(f"<tr data-state='{_E(row['state'])}'>{''.join(cells)}</tr>")
    more = ""
    if len(rows) > limit:
        more = f"<p>… and {len(rows) - limit} more jobs (the live widget shows them all)</p>"
    return (
        "<table class='xpm-jobs-static' style='font-size:12px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"
    )


def jobs_text(jobs, limit: int = MAX_STATIC_ROWS) -> str:
    rows = _rows(jobs)
    now = time.time()
    lines = []
    for row in rows[:limit]:
        tags = " ".join(f"{k}={v}" for k, v in row["tags"].items())
        metrics = " ".join(f"{k}={format_metric(v)}" for k, v in (row.get("metrics") or {}).items())
        parts = [_state_text(row), row["task"].rsplit(".", 1)[-1], row["id"][:SHORT_ID]]
        parts += [p for p in (tags, metrics, _progress_text(row), _duration(row, now)) if p]
        lines.append("  ".join(parts))
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit} more jobs")
    return "\n".join(lines)


def _counts(jobs) -> dict[str, int]:
    """Jobs by state; cancelled jobs apart from the failed ones (as the live views count)."""
    counts = dict.fromkeys((*STATES, "cancelled"), 0)
    for job in jobs:
        key = count_key({"state": job.state.value, "reason": job.failure_reason})
        counts[key] = counts.get(key, 0) + 1
    return {k: v for k, v in counts.items() if v}


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {'failed' if s == 'error' else s}" for s, n in counts.items()) or "no jobs"


def experiment_html(xp) -> str:
    jobs = xp.jobs
    counts = _counts_text(_counts(jobs))
    status = "closed" if xp.closed else "running"
    services = "".join(
        f"<li>{_E(str(sid))}: {_E(type(s).__name__)}</li>" for sid, s in xp.services.items()
    )
    return (
        f"<div class='xpm-experiment-static'><b>experiment {_E(xp.name)}</b> ({status}) "
        f"<code>{_E(str(xp.workspace.path))}</code><br>{len(jobs)} jobs: {_E(counts)}"
        + (f"<br>services:<ul>{services}</ul>" if services else "")
        + jobs_html(jobs)
        + "</div>"
    )


def experiment_text(xp) -> str:
    jobs = xp.jobs
    status = "closed" if xp.closed else "running"
    head = (
        f"experiment {xp.name} ({status}) in {xp.workspace.path}\n"
        f"{len(jobs)} jobs: {_counts_text(_counts(jobs))}"
    )
    if xp.services:
        head += "\nservices: " + ", ".join(str(s) for s in xp.services)
    table = jobs_text(jobs)
    return head + ("\n" + table if table else "")


def job_html(job) -> str:
    return config_html(job.config, job)


def job_text(job) -> str:
    return config_text(job.config, job)


def config_html(config, job=None) -> str:
    """The configuration's tree, and its job's row when it was submitted."""
    tree = config_tree(config)
    out = tree_html(tree)
    if job is not None:
        out = jobs_html([job]) + out
    return out


def config_text(config, job=None) -> str:
    text = tree_text(config_tree(config))
    if job is not None:
        text = f"job {jobs_text([job])}\n{text}"
    return text
