"""Reporting from inside a task: ``progress()``, ``tqdm`` and ``log_metrics()``.

Each call appends one JSON line to the job's event file; the notebook process
reads the new lines of running jobs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["progress", "tqdm", "log_metrics"]

_events: Path | None = None
_base: dict = {}
_last: dict[int, float] = {}
_MIN_INTERVAL = 0.1  # seconds between two progress lines of the same level


def _setup(events: Path, base: dict) -> None:
    global _events, _base
    _events, _base = events, dict(base)


def _write(record: dict) -> None:
    if _events is None:
        return
    record.update(_base)
    record["timestamp"] = time.time()
    with _events.open("a") as f:
        f.write(json.dumps(record) + "\n")


def progress(value: float, level: int = 0, desc: str | None = None, console: bool = False):
    """Report the task's progress (0 to 1) at a nesting level."""
    now = time.time()
    if value < 1 and now - _last.get(level, 0.0) < _MIN_INTERVAL:
        return
    _last[level] = now
    if console:
        print(f"[{level}] {desc or ''} {value:.1%}", flush=True)
    _write({"level": level, "progress": float(value), "desc": desc,
            "event_type": "JobProgressEvent"})


def log_metrics(step: int | None = None, **values: float) -> None:
    """Record metric values (for result frames): ``log_metrics(step=3, loss=0.1)``."""
    _write({"step": step, "metrics": {k: float(v) for k, v in values.items()},
            "event_type": "JobMetricsEvent"})


def tqdm(iterable=None, **kwargs):
    """A ``tqdm`` progress bar that also reports to the job's event file."""
    from tqdm.auto import tqdm as _tqdm

    class xpm_tqdm(_tqdm):  # noqa: N801
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            # Nesting level: how many bars were open when this one started.
            self._xpm_level = max(0, len(self._instances) - 1)

        def __iter__(self):
            count = 0
            for item in super().__iter__():
                yield item
                count += 1
                if self.total:
                    progress(count / self.total, level=self._xpm_level, desc=self.desc)

        def update(self, n=1):
            result = super().update(n)
            if self.total:
                progress(self.n / self.total, level=self._xpm_level, desc=self.desc)
            return result

    if iterable is not None:
        return xpm_tqdm(iterable, **kwargs)
    return xpm_tqdm(**kwargs)
