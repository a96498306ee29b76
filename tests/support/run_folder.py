"""A run folder of a workspace written by hand, as xpm_nb leaves it on disk.

``WS/.__experimaestro__`` (the workspace marker), ``WS/experiments/<name>/<run_id>/``
and the ``current`` symlink to it: what the results reader and the listings find.
Imported as ``from support.run_folder import new_run_folder`` by tests, and by
``benchmarks/bench_results.py`` (which puts ``tests/`` on ``sys.path``). Standard
library only.
"""

from __future__ import annotations

from pathlib import Path


def new_run_folder(ws: Path, experiment: str, run_id: str = "20260101_000000") -> Path:
    """Create run ``run_id`` of ``experiment`` in workspace ``ws`` (made current); its path.

    The caller fills it (``jobs.jsonl``...). Fails if the run folder exists.
    """
    run = ws / "experiments" / experiment / run_id
    run.mkdir(parents=True)
    (ws / ".__experimaestro__").touch()
    (ws / "experiments" / experiment / "current").symlink_to(run.name)
    return run
