"""Time spans of jobs, as their own logs record them.

Tests that bound how many jobs run at once (``max_jobs``, tokens, slots) or
when they ran read what each job wrote and count here: the jobs' own clocks,
not the scheduler's view of them. Two log shapes: ``start end`` lines (the
scheduler tests' tasks), and JSON lines ``{"i", "event": "start"|"end", "t",
"start" (on an end)}`` appended in one write each (the notebooks' tasks).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["events", "max_overlap", "per_task", "spans_by_task"]


def events(log: Path, kind: str | None = None) -> list[dict]:
    """The JSON lines of ``log`` (none if it does not exist yet), of one ``kind`` if given."""
    if not Path(log).exists():
        return []
    lines = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    return [e for e in lines if kind is None or e["event"] == kind]


def per_task(log: Path, kind: str) -> dict[int, int]:
    """Task index -> how many ``kind`` events it logged."""
    out: dict[int, int] = {}
    for e in events(log, kind):
        out[e["i"]] = out.get(e["i"], 0) + 1
    return out


def spans_by_task(log: Path) -> dict[int, list[tuple[float, float]]]:
    """Task index -> the ``(start, end)`` of each run it ended."""
    out: dict[int, list[tuple[float, float]]] = {}
    for e in events(log, "end"):
        out.setdefault(e["i"], []).append((e["start"], e["t"]))
    return out


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """How many of the ``(start, end)`` spans were open at once, at most (an end
    and a start at the same instant do not overlap)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    return most
