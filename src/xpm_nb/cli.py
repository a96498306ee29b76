"""The ``xpm-nb`` command line (argparse: starts in a few tens of milliseconds).

::

    xpm-nb run-experiment CONFIG[.yaml] [KEY=VALUE ...] [--workdir DIR | --workspace ID]
                          [--xpm-config-dir DIR] [--run-mode MODE] [--web] [--port N]
    xpm-nb jobs list  [--workdir DIR] [--state S] [--task T] [--tag K=V] [--filter EXPR]
    xpm-nb jobs kill  ... [--perform]
    xpm-nb jobs clean ... [--perform]
    xpm-nb experiments list [--workdir DIR]

The workspace is ``--workdir`` or ``$XPM_NB_WORKDIR`` (``run-experiment`` also
reads the reference's ``settings.yaml``: ``--workspace ID``, ``triggers:``, see
``xpm_nb.experiments.settings``). ``run-experiment`` takes every flag of the
reference's; those that drive parts xpm_nb does not have are accepted and do
nothing (their help says why). ``kill`` and ``clean``
only list what they would do unless given ``--perform`` (as the reference).
Exit codes: 0 success, 1 failed jobs, 2 bad input (the message names the file
and line).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

# Characters never printed as they are: C0/C1 controls (ANSI escapes), DEL,
# line and paragraph separators, bidirectional overrides, and lone surrogates
# (a file name that is not UTF-8), which stdout could not encode.
_UNSAFE = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7f, *range(0x80, 0xa0)]}
_UNSAFE.update({c: f"\\u{c:04x}" for c in (0x2028, 0x2029, 0x200e, 0x200f, 0x061c,
                                               *range(0x202a, 0x202f), *range(0x2066, 0x206a))})


def _printable(value) -> str:
    """``value`` as text safe to print on a terminal (names and tags come from the
    workspace: they could hold escape sequences); backslash escapes instead."""
    text = str(value)
    if text.isprintable() and text.isascii():
        return text
    text = text.translate(_UNSAFE)
    if any("\ud800" <= c <= "\udfff" for c in text):
        text = "".join(f"\\x{ord(c) - 0xdc00:02x}" if "\udc80" <= c <= "\udcff"
                       else f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c
                       for c in text)
    return text


def _print_notes() -> None:
    """The workspace files that were not read (bad input), as warnings on stderr."""
    from .results.safeio import take_notes

    for message in take_notes():
        print(f"xpm-nb: warning: {_printable(message)}", file=sys.stderr)


def _workspace(args):
    from .errors import WorkspaceError
    from .scheduler.workspace import Workspace

    workdir = args.workdir or os.environ.get("XPM_NB_WORKDIR")
    if not workdir:
        msg = "no workspace: give --workdir DIR (or set XPM_NB_WORKDIR)"
        raise WorkspaceError(msg)
    ws = Workspace(Path(workdir))
    if not Workspace.is_workspace(ws.path):
        msg = f"{ws.path} is not a workspace (no .__experimaestro__ marker, no jobs/ folder)"
        raise WorkspaceError(msg)
    return ws


# --- run-experiment ----------------------------------------------------------


def _run_experiment(args) -> int:
    from .errors import JobFailedError
    from .experiments.build import to_plain
    from .experiments.cli import load_experiment, run_experiment
    from .scheduler.workspace import RunMode

    overrides = list(args.overrides) + list(args.conf or [])
    if args.xpm_config_dir is not None:
        from .launcherfinder.registry import set_config_dir

        set_config_dir(args.xpm_config_dir)
    for flag, why in _ignored_flags(args):
        print(f"xpm-nb: note: {flag} does nothing here: {why}", file=sys.stderr)
    if args.show:
        import yaml

        loaded = load_experiment(args.yaml_file, overrides, pre_yaml=args.pre_yaml,
                                 post_yaml=args.post_yaml, file=args.file,
                                 module_name=args.module_name)
        print(yaml.safe_dump(to_plain(loaded.configuration), sort_keys=False), end="")
        return 0
    run_mode = args.run_mode
    host, port, token, wait_for_quit = args.host, args.port, args.token, args.wait_for_quit
    if args.web and run_mode in (None, RunMode.NORMAL):  # as the reference: settings.yaml's server
        from .experiments.settings import get_settings

        server = get_settings().server
        host = host or server.host
        port = port if port is not None else (server.port or 0)
        token = token or server.token
        wait_for_quit = True  # the page stays up after the jobs end, until quit from it
    try:
        helper = run_experiment(
            args.yaml_file, *overrides, workdir=args.workdir, workspace=args.workspace,
            run_mode=run_mode, host=host, port=port, token=token, env=dict(args.env or []),
            pre_yaml=args.pre_yaml, post_yaml=args.post_yaml, file=args.file,
            module_name=args.module_name, wait_for_quit=wait_for_quit)
    except JobFailedError as exc:
        print(f"xpm-nb: {exc}", file=sys.stderr)
        return 1
    xp = helper.xp
    counts: dict[str, int] = {}
    for job in xp.jobs:
        counts[job.state.value] = counts.get(job.state.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no jobs"
    print(f"xpm-nb: experiment {xp.name!r} finished ({summary}); run folder {xp.run_path}")
    return 0


_RUN_MODES = {"normal": "normal", "generate_only": "generate", "generate": "generate",
              "dry_run": "dry-run", "dry-run": "dry-run", "prepare": "prepare"}


def _run_mode(text: str):
    """The reference's ``--run-mode`` names (any case), and our values (dry-run, generate)."""
    from .scheduler.workspace import RunMode

    value = _RUN_MODES.get(text.lower())
    if value is None:
        names = ", ".join(n for n in _RUN_MODES if "-" not in n and n != "generate")
        msg = f"invalid run mode {text!r}: use one of {names}"
        raise argparse.ArgumentTypeError(msg)
    return RunMode(value)


# Flags of the reference's run-experiment that drive parts xpm_nb does not have.
_NO_OPS = {
    "no_db": ("--no-db", "the reference's own flag is a no-op too (no database; state is in "
                         "the workspace's files)"),
    "no_progress": ("--no-progress", "it filters the reference's console event stream, "
                                     "which xpm_nb does not have"),
    "events_viewer": ("--events-viewer", "no console event stream: use --web or the "
                                         "notebook widgets"),
    "events_format": ("--events-format", "no console event stream"),
    "console": ("--console", "no terminal UI: use --web (monitoring page) or a notebook"),
    "watcher": ("--watcher", "jobs are followed by polling their files and pidfd waits, "
                             "not a file-system watcher"),
    "polling_interval": ("--polling-interval", "the polling period is fixed (0.25 s locally, "
                                               "1 s remotely)"),
}


def _ignored_flags(args) -> list[tuple[str, str]]:
    """The no-op flags given that the user may expect something from (printed as a note)."""
    return [_NO_OPS[name] for name in ("events_viewer", "console")
            if getattr(args, name, None)]


# --- jobs ------------------------------------------------------------------------


def _select(args):
    from .experiments.jobfilter import parse_filter
    from .experiments.workspace_jobs import workspace_jobs

    ws = _workspace(args)
    predicate = parse_filter(args.filter or "")
    states = {s.strip().lower() for item in (args.state or []) for s in item.split(",") if s}
    states = {"error" if s in ("failed", "failure") else s for s in states}
    tags = []
    for item in args.tag or []:
        key, sep, value = item.partition("=")
        if not sep:
            from .errors import InvalidArgumentError

            msg = f"--tag {item!r}: expected KEY=VALUE (e.g. --tag model=bm25)"
            raise InvalidArgumentError(msg)
        tags.append((key, value))
    out = []
    for job in workspace_jobs(ws, args.experiment):
        if states and job.state not in states:
            continue
        if args.task and not any(
            fnmatch.fnmatchcase(job.task, pattern) or pattern.lower() in job.task
            for pattern in args.task
        ):
            continue
        if any(str(job.tags.get(k)) != v for k, v in tags):
            continue
        if not predicate(job.record()):
            continue
        out.append(job)
    if args.count:
        out = out[: args.count]
    return ws, out


def _show(job, args, action: str | None = None) -> str:
    where = str(job.path) if args.fullpath else job.name
    line = f"{job.state.upper():<11} {_printable(where)}"
    if args.tags and job.tags:
        line += "  " + " ".join(f"{_printable(k)}={_printable(v)}"
                                for k, v in sorted(job.tags.items()))
    if job.reason and job.state == "error":
        line += f"  ({_printable(job.reason)})"
    if action:
        line += f"  -> {_printable(action)}"
    return line


def _jobs(args) -> int:
    from .experiments.workspace_jobs import clean_job, kill_job

    ws, jobs = _select(args)
    _print_notes()
    command = args.jobs_command
    if args.json and command == "list":
        print(json.dumps([j.record() for j in jobs], default=str, indent=1))
        return 0
    if command == "list":
        for job in jobs:
            print(_show(job, args))
        return 0
    if command == "kill":
        jobs = [j for j in jobs if j.state == "running"]
        act = kill_job
    else:
        jobs = [j for j in jobs if j.state in ("done", "error")]
        act = lambda job: clean_job(job, ws)  # noqa: E731
    verb = "kill" if command == "kill" else "clean"
    for job in jobs:
        result = act(job) if args.perform else None
        print(_show(job, args, result))
    if not args.perform and jobs:
        print(f"({len(jobs)} job(s) would be {verb}ed: run again with --perform to do it)",
              file=sys.stderr)
    if not jobs:
        print(f"no job to {verb}", file=sys.stderr)
    return 0


# --- experiments -------------------------------------------------------------


def _experiments(args) -> int:
    from .experiments.workspace_jobs import workspace_experiments

    ws = _workspace(args)
    experiments = workspace_experiments(ws)
    _print_notes()
    if args.json:
        print(json.dumps([{"name": e.name, "current": e.current, "status": e.status,
                           "runs": e.runs, "jobs": e.jobs, "hostname": e.hostname,
                           "last_updated": e.last_updated} for e in experiments], indent=1))
        return 0
    for e in experiments:
        try:
            when = (time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_updated))
                    if e.last_updated else "-")
        except (OverflowError, ValueError, OSError):  # a time out of range
            when = "-"
        print(f"{_printable(e.name):<30} {_printable(e.status or '-'):<8} "
              f"run {_printable(e.current or '-'):<18} "
              f"{len(e.jobs):>4} job(s)  {e.runs} run(s)  updated {when}")
    if not experiments:
        print(f"no experiment in {ws.path}", file=sys.stderr)
    return 0


# --- parser ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpm-nb", description="Run experiments and manage the jobs of a workspace.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run-experiment", help="run an experiment described by a YAML file",
                         description="Run the run(helper, configuration) function of the "
                                     "experiment described by YAML_FILE.")
    run.add_argument("yaml_file", metavar="YAML_FILE",
                     help="the experiment's YAML file (.yaml may be left out)")
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                     help="override a configuration value (VALUE is read as YAML)")
    run.add_argument("-c", "--conf", action="append", metavar="KEY=VALUE",
                     help="override a configuration value (same as a positional KEY=VALUE)")
    run.add_argument("--workdir", help="the workspace folder (default: the workspace of "
                     "settings.yaml whose triggers match the experiment id, else "
                     "$XPM_NB_WORKDIR, else the first workspace of settings.yaml)")
    run.add_argument("--workspace", metavar="ID",
                     help="a workspace id of settings.yaml (--workdir then replaces its path)")
    run.add_argument("--xpm-config-dir", metavar="DIR",
                     help="the folder of settings.yaml, launchers.py and launchers.yaml "
                          "(default: ~/.config/xpm_nb, then ~/.config/experimaestro)")
    run.add_argument("--pre-yaml", action="append", default=[], metavar="FILE",
                     help="a YAML file merged before the main one")
    run.add_argument("--post-yaml", action="append", default=[], metavar="FILE",
                     help="a YAML file merged after the main one")
    run.add_argument("--file", help="the Python file holding run() (instead of `file:`)")
    run.add_argument("--module-name", help="the module holding run() (instead of `module:`)")
    run.add_argument("--run-mode", type=_run_mode, metavar="{normal,generate_only,dry_run,prepare}",
                     help="normal: run the jobs; dry_run: only list them; generate_only: write "
                          "their folders (params.json) without running them; prepare: only "
                          "run the Prepare configurations")
    run.add_argument("--env", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="an environment variable for the jobs")
    run.add_argument("--port", type=int, help="serve the monitoring page on this port (0: any)")
    run.add_argument("--host", help="address of the monitoring page (default 127.0.0.1)")
    run.add_argument("--token", help="token of the monitoring page (default: a random one)")
    run.add_argument("--wait-for-quit", action="store_true",
                     help="keep the monitoring page up after the jobs end, until quit from it")
    run.add_argument("--show", action="store_true", help="print the configuration and exit")
    run.add_argument("--web", action="store_true",
                     help="serve the monitoring page at the host, port and token of "
                          "settings.yaml's server: (any free port if none), kept up after the "
                          "jobs end until quit from it")
    run.add_argument("--debug", action="store_true",
                     help="debug logging, and tracebacks on errors (as XPM_NB_DEBUG=1)")
    for name, (flag, why) in _NO_OPS.items():
        if name == "events_format":
            run.add_argument(flag, choices=["text", "json"], help=f"no-op: {why}")
        elif name == "watcher":
            run.add_argument(flag, choices=["auto", "polling", "inotify", "fsevents", "kqueue",
                                            "windows"], help=f"no-op: {why}")
        elif name == "polling_interval":
            run.add_argument(flag, type=float, metavar="SECONDS", help=f"no-op: {why}")
        else:
            run.add_argument(flag, action="store_true", help=f"no-op: {why}")
    run.set_defaults(handler=_run_experiment)

    jobs = sub.add_parser("jobs", help="list, kill and clean the jobs of a workspace",
                          description="Jobs of a workspace, selected by state, task, tags or a "
                                      "filter expression such as "
                                      "'model = \"bm25\" and @state = \"running\"'.")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    for name, text in (("list", "list jobs (most recent first)"),
                       ("kill", "kill running jobs"),
                       ("clean", "delete the folders of finished jobs")):
        p = jobs_sub.add_parser(name, help=text, description=text)
        p.add_argument("--workdir", help="the workspace (default: $XPM_NB_WORKDIR)")
        p.add_argument("--state", action="append", metavar="STATE",
                       help="only jobs in this state (done, error, running, unscheduled, ...)")
        p.add_argument("--task", action="append", metavar="PATTERN",
                       help="only jobs whose task id matches (glob, or a part of it)")
        p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="only jobs with this tag")
        p.add_argument("--filter", metavar="EXPR", help="a filter expression (see above)")
        p.add_argument("--experiment", help="only jobs of this experiment's current run")
        p.add_argument("--tags", action="store_true", help="show the tags")
        p.add_argument("--fullpath", action="store_true", help="show the job folders")
        p.add_argument("-c", "--count", type=int, help="at most N jobs")
        if name == "list":
            p.add_argument("--json", action="store_true", help="JSON output")
        else:
            p.add_argument("--perform", action="store_true",
                           help=f"really {name} (otherwise only list)")
            p.set_defaults(json=False)
        p.set_defaults(handler=_jobs)

    xps = sub.add_parser("experiments", help="experiments of a workspace")
    xps_sub = xps.add_subparsers(dest="experiments_command", required=True, metavar="ACTION")
    p = xps_sub.add_parser("list", help="list the experiments and their current run")
    p.add_argument("--workdir", help="the workspace (default: $XPM_NB_WORKDIR)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(handler=_experiments)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xpm-nb``; returns the exit code."""
    parser = _parser()
    # KEY=VALUE overrides may come after options (argparse cannot intermix them itself).
    args, extra = parser.parse_known_args(argv)
    unknown = [e for e in extra if e.startswith("-") or args.command != "run-experiment"]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    from .errors import XPMError

    debug = bool(os.environ.get("XPM_NB_DEBUG") or getattr(args, "debug", False))
    if getattr(args, "debug", False):
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except XPMError as exc:
        if debug:
            raise
        print(f"xpm-nb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xpm-nb: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the workspace's folders themselves (permissions, a lost mount)
        if debug:
            raise
        print(f"xpm-nb: error: {_printable(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
