"""What differs between the configurations of a few jobs (the job table's "compare").

:func:`flatten` gives each set field of a configuration tree a path
(``encoder.layers``, ``models[1].hidden``, ``data["train"].path``) and a short
text; a nested configuration's path also holds its class, so a different class
shows as a difference of its own. :func:`compare_jobs` keeps the paths whose
values are not the same for every job. Generated paths (a job's own folder)
always differ and are left out. Imports no widget library.
"""

from __future__ import annotations

from typing import Any

from ..core.objects import ConfigMixin
from .config_tree import _short_repr

__all__ = ["flatten", "compare_jobs", "MAX_COMPARED", "MAX_FIELDS"]

MAX_COMPARED = 12  # jobs compared at once
MAX_FIELDS = 2000  # paths of one configuration (a huge tree is cut there)


def _item_path(prefix: str, key: Any) -> str:
    return f"{prefix}[{key!r}]" if isinstance(key, str) else f"{prefix}[{key}]"


def flatten(config: ConfigMixin) -> dict[str, str]:
    """Path -> short text of every set field of ``config``'s tree."""
    out: dict[str, str] = {}
    seen: set[int] = set()

    def value(path: str, v: Any) -> None:
        if len(out) >= MAX_FIELDS:
            return
        if isinstance(v, ConfigMixin):
            out[path] = f"<{type(v).__xpmtype__.cls.__qualname__}>"
            if id(v) in seen:
                return
            seen.add(id(v))
            walk(v, path)
        elif isinstance(v, (list, tuple)) and any(isinstance(x, ConfigMixin) for x in v):
            out[path] = f"{type(v).__name__} of {len(v)}"
            for i, x in enumerate(v):
                value(_item_path(path, i), x)
        elif isinstance(v, dict) and any(isinstance(x, ConfigMixin) for x in v.values()):
            out[path] = f"dict of {len(v)}"
            for k, x in v.items():
                value(_item_path(path, k), x)
        else:
            out[path] = _short_repr(v)

    def walk(cfg: ConfigMixin, prefix: str) -> None:
        d = cfg.__dict__
        for argument in cfg.__xpmtype__.arguments.values():
            if argument.generator is not None or argument.name not in d:
                continue
            value(f"{prefix}.{argument.name}" if prefix else argument.name, d[argument.name])

    seen.add(id(config))
    walk(config, "")
    return out


def compare_jobs(jobs: list) -> dict:
    """``{"fields": [{"path", "values"}], "same": n, "total": n}``: the paths that differ
    (a value per job, None where a job has no such field), in the first job's order."""
    flat = [flatten(job.config) for job in jobs]
    paths: list[str] = []
    known: set[str] = set()
    for f in flat:
        for path in f:
            if path not in known:
                known.add(path)
                paths.append(path)
    fields = []
    for path in paths:
        values = [f.get(path) for f in flat]
        if any(v != values[0] for v in values[1:]):
            fields.append({"path": path, "values": values})
    return {"fields": fields, "same": len(paths) - len(fields), "total": len(paths)}
