"""``Task.results()``: values a done task computes on demand, in the notebook process.

A task class may define ``results(self) -> dict`` (e.g. reading its output
files). For a done job it runs on the configuration of a job of this process,
or on the value object rebuilt from the job's ``params.json``. A done job does
not change, so the values are cached by the ``.done`` marker's time.

What code runs (the workspace is untrusted input unless the caller says so):

* ``task_results=None`` (the default): jobs of this process, and jobs on disk
  whose task class, imported in this process, defines ``results``. Their
  ``params.json`` is rebuilt with the classes of modules **already imported**
  in this process only (looked up in the modules' namespaces): nothing is
  imported, ``classes.pkl`` is never read. A job naming a class of a module
  not imported is skipped (a ``ResultsWarning`` says which module to import).
* ``task_results=True``: every done job. This **runs code from the job
  folders: only for workspaces you trust**: the modules ``params.json`` names
  are imported (from ``sys.path``), and the task's ``results()`` runs. Even
  then ``classes.pkl`` (classes shipped by value, pickled) is never
  unpickled: a class defined in ``__main__`` or a notebook cell is used only
  if this process defines it (run its cell first).
* ``task_results=False``: no ``results()`` at all.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

from ..errors import InvalidTypeError, SerializationError
from ..layout import PARAMS_FILE
from .eventscan import BadFile, read_small
from .safeio import FIX
from .sources import JobRecord

PARAMS_LIMIT = 64 << 20  # bytes of a params.json read at most

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
                typeid = _typeid(sub)
                if typeid is not None:
                    known[typeid.lower()] = sub
    return known


def _typeid(cls: type) -> str | None:
    """The class's type id as jobs record it (an ``Identifier`` or classmethod
    ``__xpmid__`` included); None for a class whose type cannot be built."""
    from ..core.xpmtype import get_type

    try:
        return str(get_type(cls).identifier)
    except Exception:  # noqa: BLE001 - a broken user class is simply not known here
        return None


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

    Without ``force``, only tasks whose class (imported here) defines ``results``,
    rebuilt from classes already imported (nothing imported, nothing unpickled);
    with it, every done job's configuration is loaded (its modules imported).
    """
    known = _known_classes()
    if not force and not any_to_compute(known, (record for record, _ in pairs)):
        return [None] * len(pairs)  # no task here computes results: skip the loop
    out: list[dict | None] = []
    errors: list[str] = []
    missing: dict[str, int] = {}  # modules not imported -> jobs skipped for them
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
            values = _evaluate(record, imports=bool(force))
        except _NotImported as exc:
            missing[exc.module] = missing.get(exc.module, 0) + 1
            out.append(None)
            continue
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
    if missing:
        names = ", ".join(f"{m!r} ({n} job(s))" for m, n in sorted(missing.items())[:10])
        warnings.warn(
            f"results() skipped for {sum(missing.values())} done job(s): their params.json "
            f"names classes of modules not imported in this process: {names}. Fix: import "
            "them, or pass task_results=True for a workspace you trust (it imports the "
            "modules params.json names)", ResultsWarning, stacklevel=3)
    return out


class _NotImported(Exception):
    """A class of ``params.json`` whose module is not imported (default mode)."""

    def __init__(self, module: str, qualname: str):
        super().__init__(f"{module}.{qualname} is not imported in this process")
        self.module = module


class _Classes(dict):
    """The ``shipped`` classes given to ``from_objects``: classes of modules already
    imported, looked up in their namespaces (no ``__getattr__`` hook runs); never
    ``classes.pkl``. Without ``imports``, any other class raises
    :class:`_NotImported`; with it, ``from_objects`` imports its module."""

    def __init__(self, imports: bool):
        super().__init__()
        self.imports = imports

    def get(self, key, default=None):
        module, _, qualname = str(key).partition(":")
        obj = sys.modules.get(module)
        for part in qualname.split(".") if obj is not None else ():
            namespace = getattr(obj, "__dict__", None)  # a module's or a class's own
            obj = namespace.get(part) if isinstance(namespace, Mapping) else None
            if obj is None:
                break
        if obj is not None:
            return obj
        if not self.imports or module == "__main__":
            raise _NotImported(module, qualname)
        return default  # task_results=True: from_objects imports the module


def _read_params(job_path: Path, imports: bool):
    """The configuration of a job folder, from a bounded read of its ``params.json``."""
    from ..core.params import from_objects

    params = job_path / PARAMS_FILE
    try:
        raw = read_small(str(params), PARAMS_LIMIT)
    except BadFile as exc:
        msg = f"{params} {exc.what}: not read. {FIX}"
        raise SerializationError(msg) from None
    except OSError as exc:
        msg = f"{params}: cannot be read ({exc.strerror or exc})"
        raise SerializationError(msg) from None
    if raw is None:
        msg = f"{params} does not exist: {job_path} is not a job folder"
        raise SerializationError(msg)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        msg = f"{params} is not valid JSON ({exc}); the file is corrupt or truncated"
        raise SerializationError(msg) from None
    if not isinstance(data, dict):
        msg = (f"{params} holds a {type(data).__name__}, expected an object with 'objects': "
               "it is not a params.json")
        raise SerializationError(msg)
    workspace = data.get("workspace")
    if workspace is None:
        workspace = job_path.parent.parent.parent
    elif not isinstance(workspace, str) or "\x00" in workspace:
        msg = f"{params}: 'workspace' is {workspace!r}, expected a folder"
        raise SerializationError(msg)
    return from_objects(data.get("objects", []), job_path, Path(workspace), _Classes(imports),
                        params)


def _evaluate(record: JobRecord, imports: bool = False) -> dict | None:
    if record.job is not None:
        config = record.job.config
    else:
        config = _read_params(Path(record.path), imports)
    method = getattr(type(config), "results", None)
    if not callable(method):
        return None
    values = config.instance().results()
    if not isinstance(values, Mapping):
        msg = (
            f"{type(config).__xpmtype__.cls.__qualname__}.results() returned "
            f"{type(values).__qualname__}, expected a dict of column name -> value"
        )
        raise InvalidTypeError(msg)
    return dict(values)
