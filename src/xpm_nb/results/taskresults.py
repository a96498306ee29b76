"""``Task.results()``: values a done task computes on demand, in the notebook process.

A task class may define ``results(self) -> dict`` (e.g. reading its output
files). For a done job it runs on the value object rebuilt from the job's
``params.json`` (or from the configuration of a job of this process). A done
job does not change, so the values are cached by the ``.done`` marker's time.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

from .sources import JobRecord

__all__ = ["task_results", "ResultsWarning"]


class ResultsWarning(UserWarning):
    """A job's ``results()`` could not be computed (its row gets no values)."""


_cache: dict[str, tuple[int | None, dict]] = {}


def _known_classes() -> dict[str, type]:
    """Task id -> class, for the task classes defined or imported in this process.

    A class redefined (a notebook cell run again) is found under the same id;
    the last definition wins.
    """
    from ..core.objects import Task

    known: dict[str, type] = {}
    stack, seen = [Task], set()
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            if not sub.__dict__.get("_xpm_config_type"):  # not a Model.XPMConfig class
                typeid = sub.__dict__.get("__xpmid__") or f"{sub.__module__}.{sub.__qualname__}"
                known[typeid.lower()] = sub
    return known


def any_to_compute(known: dict[str, type] | None, records) -> bool:
    """Whether some job may get ``results()`` values without ``force``: a task class
    imported here defines ``results``, or a job of this process is listed."""
    if known is None:
        known = _known_classes()
    if any(callable(getattr(c, "results", None)) for c in known.values()):
        return True
    return any(record.job is not None for record in records)


def task_results(pairs: list[tuple[JobRecord, int | None]], force: bool) -> list[dict | None]:
    """The ``results()`` of done jobs, given with their ``.done`` token.

    Without ``force``, only tasks whose class (imported here) defines ``results``;
    with it, every done job's configuration is loaded to find out.
    """
    known = _known_classes()
    if not force and not any_to_compute(known, (record for record, _ in pairs)):
        return [None] * len(pairs)  # no task here computes results: skip the loop
    out: list[dict | None] = []
    errors: list[str] = []
    for record, token in pairs:
        cached = _cache.get(record.path)
        if cached is not None and cached[0] == token and token is not None:
            out.append(cached[1])
            continue
        cls = type(record.job.config) if record.job is not None else known.get(record.task_id)
        if not force and (cls is None or not callable(getattr(cls, "results", None))):
            out.append(None)
            continue
        try:
            values = _evaluate(record)
        except Exception as exc:  # noqa: BLE001 - one bad job must not hide the others
            errors.append(f"{record.path}: {type(exc).__name__}: {exc}")
            out.append(None)
            continue
        if values is not None:
            _cache[record.path] = (token, values)
        out.append(values)
    if errors:
        shown = "\n".join(f"- {e}" for e in errors[:5])
        more = f"\n(and {len(errors) - 5} more)" if len(errors) > 5 else ""
        warnings.warn(f"results() failed for {len(errors)} job(s); their rows get no values:"
                      f"\n{shown}{more}", ResultsWarning, stacklevel=3)
    return out


def _evaluate(record: JobRecord) -> dict | None:
    if record.job is not None:
        config = record.job.config
    else:
        from ..core.params import read_params

        config = read_params(Path(record.path))
    method = getattr(type(config), "results", None)
    if not callable(method):
        return None
    values = config.instance().results()
    if not isinstance(values, Mapping):
        msg = (
            f"{type(config).__xpmtype__.cls.__qualname__}.results() returned "
            f"{type(values).__qualname__}, expected a dict of column name -> value"
        )
        raise TypeError(msg)
    return dict(values)
