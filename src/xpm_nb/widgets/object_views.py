"""Static views (``text/html`` and ``text/plain``) of the other public objects.

Workspaces, launchers (and their options), connectors, tokens, launcher-finder
requirements and hosts, services and loaded experiment runs show as a small
card in a notebook: a title, a few facts, and tables. No widget runs: the
same HTML shows in nbconvert's output and on GitHub.

Each renderer turns its object into a :class:`Card` of *plain text* values;
:func:`card_html` alone writes HTML and escapes every value there (values
come from users: paths, tags, host names). :func:`render` finds the renderer
of an object by the names of the classes of its MRO, so this module imports
none of the displayed modules (``xpm_nb.display`` registers the same names
with IPython). Displaying never does network I/O, and work on a workspace is
bounded (:data:`MAX_JOB_FOLDERS`, :data:`MAX_EXPERIMENTS`).
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..layout import DONE_SUFFIX, FAILED_SUFFIX, PID_SUFFIX, JobPaths

__all__ = ["Card", "Table", "render", "card_html", "card_text", "RENDERERS", "MAX_ROWS",
           "MAX_JOB_FOLDERS", "MAX_EXPERIMENTS"]

MAX_ROWS = 200  # rows of one table (the rest counted)
MAX_JOB_FOLDERS = 5000  # job folders whose markers a workspace view looks at
MAX_EXPERIMENTS = 50  # experiments whose current run a workspace view reads

_E = html.escape
_STATE_COLORS = {"done": "#2f9e44", "failed": "#e03131", "error": "#e03131",
                 "running": "#1c7ed6", "crashed": "#e03131"}


@dataclass
class Table:
    """A table of plain-text cells (``note``: what was left out, if anything)."""

    caption: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Card:
    """What a view shows: a title, facts (name, value) and tables, all plain text."""

    kind: str
    title: str = ""
    status: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    link: str | None = None  # an http(s) URL shown as a link (a web service's)

    def add(self, name: str, value: Any) -> None:
        """Add a fact; None and empty values are left out."""
        if value is None or value == "" or value == [] or value == {}:
            return
        self.fields.append((name, str(value)))


# --- writing cards ------------------------------------------------------------------


def _cell(value: str) -> str:
    color = _STATE_COLORS.get(value)
    style = f" style='color:{color}'" if color else ""
    return f"<td{style}>{_E(value)}</td>"


def _table_html(table: Table) -> str:
    head = "".join(f"<th style='text-align:left'>{_E(h)}</th>" for h in table.headers)
    body = "".join(f"<tr>{''.join(_cell(c) for c in row)}</tr>" for row in table.rows)
    note = f"<div><small>{_E(table.note)}</small></div>" if table.note else ""
    caption = f"<div><b>{_E(table.caption)}</b></div>" if table.caption else ""
    return (f"{caption}<table class='xpm-object-table' style='font-size:12px'>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}")


def card_html(card: Card) -> str:
    """The card as HTML; every value is escaped."""
    status = ""
    if card.status:
        color = _STATE_COLORS.get(card.status.lower(), "inherit")
        status = f" <span style='color:{color}'>({_E(card.status)})</span>"
    title = f" <code>{_E(card.title)}</code>" if card.title else ""
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{_E(k)}</th>"
        f"<td style='text-align:left'>{_E(v)}</td></tr>"
        for k, v in card.fields
    )
    if card.link:
        rows += (f"<tr><th style='text-align:left;padding-right:1em'>open</th><td>"
                 f"<a href='{_E(card.link)}' target='_blank' rel='noopener'>{_E(card.link)}</a>"
                 "</td></tr>")
    facts = f"<table style='font-size:12px'>{rows}</table>" if rows else ""
    tables = "".join(_table_html(t) for t in card.tables)
    return (f"<div class='xpm-object-static' data-kind='{_E(card.kind)}'>"
            f"<b>{_E(card.kind)}</b>{title}{status}{facts}{tables}</div>")


def card_text(card: Card) -> str:
    """The card as plain text (terminal IPython)."""
    head = card.kind + (f" {card.title}" if card.title else "")
    head += f" ({card.status})" if card.status else ""
    lines = [head]
    width = max((len(k) for k, _ in card.fields), default=0)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in card.fields]
    for table in card.tables:
        lines.append(f"{table.caption}:" if table.caption else "")
        widths = [len(h) for h in table.headers]
        for row in table.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row)]
        for row in [table.headers, *table.rows]:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if table.note:
            lines.append(f"  {table.note}")
    return "\n".join(lines)


def _capped(rows: list[list[str]], what: str) -> tuple[list[list[str]], str]:
    if len(rows) <= MAX_ROWS:
        return rows, ""
    return rows[:MAX_ROWS], f"… and {len(rows) - MAX_ROWS} more {what}"


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


# --- workspace ----------------------------------------------------------------------


NO_RESULT = "no result"  # no marker: not run yet, waiting, or its process died


def _marker_state(job_dir: os.DirEntry) -> str:
    """done / failed / running / no result, from the names in the job folder (one listing).

    Only a folder with a pid file and no result reads a file: whether its process lives.
    """
    pid_name = None
    failed = False
    try:
        with os.scandir(job_dir.path) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(DONE_SUFFIX):
                    return "done"
                if name.endswith(FAILED_SUFFIX):
                    failed = True
                elif name.endswith(PID_SUFFIX):
                    pid_name = name[: -len(PID_SUFFIX)]
    except OSError:
        return NO_RESULT
    if failed:
        return "failed"
    if pid_name is None:
        return NO_RESULT
    from ..scheduler.jobs import JobState, read_disk_state

    state, _ = read_disk_state(JobPaths(Path(job_dir.path), pid_name))
    return "running" if state is JobState.RUNNING else NO_RESULT


def _job_counts(jobs_path: Path) -> tuple[dict[str, int], bool]:
    """Job folders per marker state, looking at :data:`MAX_JOB_FOLDERS` at most."""
    counts: dict[str, int] = {}
    seen = 0
    try:
        with os.scandir(jobs_path) as tasks:
            task_dirs = [t for t in tasks if t.is_dir()]
    except OSError:
        return counts, False
    for task_dir in task_dirs:
        try:
            with os.scandir(task_dir.path) as jobs:
                job_dirs = [j for j in jobs if j.is_dir()]
        except OSError:  # removed meanwhile (a cleanup)
            continue
        for job_dir in job_dirs:
            if seen >= MAX_JOB_FOLDERS:
                return counts, True
            seen += 1
            state = _marker_state(job_dir)
            counts[state] = counts.get(state, 0) + 1
    return counts, False


def workspace_card(ws) -> Card:
    card = Card("Workspace", str(ws.path))
    from ..launchers.base import connector_label  # late: see the module (no displayed module)

    connector = ws.connector  # the local one unless the settings name a host
    card.add("host", connector_label(connector))
    if ws.run_mode is not None and ws.run_mode.name != "NORMAL":
        card.add("run mode", ws.run_mode.name.lower())
    if ws.launcher is not None:
        card.add("launcher", repr(ws.launcher))
    if not getattr(connector, "is_local", False):
        card.add("jobs", "not counted (remote workspace: no network call to display it)")
        return card
    if not ws.path.is_dir():
        card.status = "not created yet"
        return card
    counts, truncated = _job_counts(ws.jobspath)
    total = sum(counts.values())
    order = ["done", "failed", "running", NO_RESULT]
    summary = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
    card.add("jobs", f"{total}{'+' if truncated else ''}" + (f": {summary}" if summary else ""))
    if truncated:
        card.add("note", f"counted the first {MAX_JOB_FOLDERS} job folders only")
    card.tables += _experiments_tables(ws)
    return card


def _experiments_tables(ws) -> list[Table]:
    try:
        names = sorted(p.name for p in ws.experimentspath.iterdir() if p.is_dir())
    except OSError:
        return []
    if not names:
        return []
    if len(names) > MAX_EXPERIMENTS:
        rows = [[n] for n in names[:MAX_EXPERIMENTS]]
        note = f"… and {len(names) - MAX_EXPERIMENTS} more (too many to read their runs)"
        return [Table(f"experiments ({len(names)})", ["name"], rows, note)]
    from ..experiments.workspace_jobs import workspace_experiments

    rows = [[x.name, x.status or "", x.current or "", str(x.runs), str(len(x.jobs)),
             x.hostname or "", _when(x.last_updated)] for x in workspace_experiments(ws)]
    return [Table(f"experiments ({len(rows)})", ["name", "last run", "run id", "runs", "jobs",
                                              "host", "updated"], rows)]


# --- launchers and connectors -----------------------------------------------------


def described_card(obj) -> Card:
    """A launcher (or its options) as it describes itself (``describe()``: see
    ``xpm_nb.launchers.base``): no launcher's details are known here."""
    description = obj.describe()
    card = Card(description.kind)
    for name, value in description.fields:
        card.add(name, value)
    for caption, headers, rows in description.tables:
        card.tables.append(Table(caption, list(headers), [list(map(str, r)) for r in rows]))
    return card


def local_connector_card(connector) -> Card:
    from ..launchers.base import connector_label  # late: see the module (no displayed module)

    card = Card("LocalConnector")
    card.add("host", connector_label(connector))
    card.add("tokens folder", connector.localpath / "tokens")
    return card


def ssh_connector_card(connector) -> Card:
    """Host, user, port and link state, read from memory (no network call)."""
    s = connector.settings
    session = connector.session
    link = getattr(session, "_link_alive", None)
    connected = bool(link()) if link is not None else False
    if connected:
        status = "connected"
    elif session.connected_once:
        status = "disconnected"
    else:
        status = "not connected yet"
    card = Card("SshConnector", connector.spec, status)
    card.add("host", s.hostname)
    card.add("user", s.user)
    card.add("port", s.port)
    card.add("remote hostname", getattr(connector, "_hostname", None))
    card.add("proxy command", s.proxy_command)
    card.add("python", connector.python)
    if session.reconnections:
        card.add("reconnections", session.reconnections)
    card.add("environment", ", ".join(sorted(connector.env)))
    return card


def token_card(token) -> Card:
    holders = token._holders()  # live holders only (dead ones do not count)
    used = sum(count for count, _ in holders.values())
    card = Card("CounterToken", token.name, f"{used}/{token.total} used")
    card.add("total", token.total)
    card.add("used", used)
    card.add("file", token.path)
    if holders:
        rows = [[key, str(count), str(pid)] for key, (count, pid) in holders.items()]
        rows, note = _capped(rows, "holders")
        card.tables.append(Table("holders", ["job", "units", "pid"], rows, note))
    return card


# --- launcher finder ----------------------------------------------------------------


def _size(n: int) -> str:
    from ..launcherfinder.specs import _size as size

    return size(n) if n else ""


def _duration(seconds: int) -> str:
    from ..launcherfinder.specs import _duration as duration

    return duration(seconds) if seconds else ""


def requirement_card(requirement) -> Card:
    """A requirement as its alternatives, in order of preference."""
    card = Card(type(requirement).__name__, repr(requirement))
    rows = [[str(n), _duration(r.duration), _size(r.cpu.memory), str(r.cpu.cores or ""),
             _accelerators(r.accelerators)]
            for n, r in enumerate(requirement.requirements, 1)]
    card.tables.append(Table("alternatives (first preferred)",
                             ["#", "duration", "memory", "cores", "accelerators"], rows))
    return card


def _accelerator(a) -> str:
    text = str(a)
    if a.model:
        text += f" {a.model}"
    if a.min_memory:
        text += f" (min request {_size(a.min_memory)})"
    return text


def _accelerators(accelerators) -> str:
    """``2 × cuda(mem=80GiB) A100, gpu()``: identical devices counted once."""
    counts: dict[str, int] = {}
    for a in accelerators:
        text = _accelerator(a)
        counts[text] = counts.get(text, 0) + 1
    return ", ".join(f"{n} × {t}" if n > 1 else t for t, n in counts.items())


def _host_fields(card: Card, spec) -> None:
    cpu = spec.cpu
    card.add("cores", cpu.cores or None)
    card.add("memory", _size(cpu.memory))
    card.add("memory per cpu", _size(cpu.mem_per_cpu))
    card.add("cpus per gpu", cpu.cpu_per_gpu or None)
    card.add("accelerators", _accelerators(spec.accelerators))
    card.add("max duration", _duration(spec.max_duration))
    card.add("min gpus", spec.min_gpu or None)
    card.add("priority", spec.priority or None)


def host_spec_card(spec) -> Card:
    card = Card("HostSpecification")
    _host_fields(card, spec)
    return card


def host_card(host) -> Card:
    card = Card("Host", host.name)
    _host_fields(card, host.spec)
    card.add("launcher options", ", ".join(f"{k}={v}" for k, v in host.options.items()))
    return card


def _host_rows(hosts) -> list[list[str]]:
    return [[h.name, str(h.spec.cpu.cores or ""), _size(h.spec.cpu.memory),
             _accelerators(h.spec.accelerators),
             _duration(h.spec.max_duration), str(h.spec.priority or ""),
             ", ".join(f"{k}={v}" for k, v in h.options.items())] for h in hosts]


_HOST_HEADERS = ["host", "cores", "memory", "accelerators", "max duration", "priority",
                 "options"]


def launcher_entry_card(entry) -> Card:
    card = Card("LauncherEntry", entry.name)
    card.add("launcher", repr(entry.launcher))
    card.add("tags", ", ".join(sorted(entry.tags)))
    card.tables.append(Table("hosts", _HOST_HEADERS, _host_rows(entry.hosts)))
    return card


def registry_card(registry) -> Card:
    card = Card("LauncherRegistry", str(registry.path or ""))
    if registry.function is not None:
        card.add("find_launcher", getattr(registry.function, "__qualname__", repr(registry.function)))
    rows = []
    for entry in registry.entries:
        for host in _host_rows(entry.hosts) or [[""] * len(_HOST_HEADERS)]:
            rows.append([entry.name, repr(entry.launcher), ", ".join(sorted(entry.tags)), *host])
    if rows:
        rows, note = _capped(rows, "hosts")
        card.tables.append(Table(f"launchers ({len(registry.entries)})",
                                 ["launcher", "type", "tags", *_HOST_HEADERS], rows, note))
    return card


# --- services and experiment runs -----------------------------------------------------


def service_card(service) -> Card:
    card = Card(type(service).__name__, service.id, service.state.name.lower())
    card.add("description", service.description())
    card.add("error", service.error)
    url = getattr(service, "url", None)
    if url:
        from ..services import proxied_url

        shown = proxied_url(url)
        card.add("url", url)
        if shown.startswith(("http://", "https://", "/")):  # never a javascript: link
            card.link = shown
    card.add("experiment", service.experiment_id)
    card.add("logs", service.log_directory)
    return card


def loaded_experiment_card(info) -> Card:
    """``load_xp_info``'s result: the run's jobs (their task and tags) and actions."""
    card = Card("ExperimentInfo", "", f"{len(info.jobs)} jobs, {len(info.actions)} actions")
    for caption, objects in (("jobs", info.jobs), ("actions", info.actions)):
        if not objects:
            continue
        rows = []
        for identifier, config in objects.items():
            xpmtype = getattr(type(config), "__xpmtype__", None)
            kind = getattr(xpmtype, "identifier", type(config).__qualname__)
            tags = config.tags() if callable(getattr(config, "tags", None)) else {}
            rows.append([str(identifier)[:12], kind,
                         " ".join(f"{k}={v}" for k, v in sorted(tags.items()))])
        rows, note = _capped(rows, caption)
        card.tables.append(Table(caption, ["id", "type", "tags"], rows, note))
    return card


def experiment_summary_card(info) -> Card:
    """An experiment of ``workspace_experiments``: its current run."""
    card = Card("Experiment", info.name, info.status or "")
    card.add("folder", info.path)
    card.add("current run", info.current)
    card.add("runs", info.runs)
    card.add("jobs", len(info.jobs))
    card.add("host", info.hostname)
    card.add("updated", _when(info.last_updated))
    return card


# --- lookup -------------------------------------------------------------------------

#: (module, class name) -> renderer; subclasses match through their MRO.
RENDERERS: dict[tuple[str, str], Callable[[Any], Card]] = {
    ("xpm_nb.scheduler.workspace", "Workspace"): workspace_card,
    ("xpm_nb.launchers.base", "Described"): described_card,  # launchers, their options
    ("xpm_nb.connectors.local", "LocalConnector"): local_connector_card,
    ("xpm_nb.connectors.ssh.connector", "SshConnector"): ssh_connector_card,
    ("xpm_nb.tokens", "CounterToken"): token_card,
    ("xpm_nb.launcherfinder.specs", "HostRequirement"): requirement_card,
    ("xpm_nb.launcherfinder.specs", "HostSpecification"): host_spec_card,
    ("xpm_nb.launcherfinder.registry", "Host"): host_card,
    ("xpm_nb.launcherfinder.registry", "LauncherEntry"): launcher_entry_card,
    ("xpm_nb.launcherfinder.registry", "LauncherRegistry"): registry_card,
    ("xpm_nb.services", "Service"): service_card,
    ("xpm_nb.core.serialization", "ExperimentInfo"): loaded_experiment_card,
    ("xpm_nb.experiments.workspace_jobs", "ExperimentInfo"): experiment_summary_card,
}


def renderer_of(obj) -> Callable[[Any], Card] | None:
    for cls in type(obj).__mro__:
        found = RENDERERS.get((cls.__module__, cls.__name__))
        if found is not None:
            return found
    return None


def render(obj) -> tuple[str, str] | None:
    """``(html, text)`` of ``obj``, or None when it has no view here."""
    renderer = renderer_of(obj)
    if renderer is None:
        return None
    card = renderer(obj)
    return card_html(card), card_text(card)
