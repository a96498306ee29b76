"""Tags: values marked with ``tag()`` that name a run (``lr=0.1``)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidTypeError
from .objects import ConfigMixin, TaggedValue
from .walk import iter_children

__all__ = ["tag", "tags", "tagspath", "TagDict"]


class TagDict(dict):
    """Tag name -> value."""


def tag(value: Any) -> TaggedValue:
    """Mark a field value as a tag: ``Model.C(lr=tag(0.1))`` tags ``lr=0.1``."""
    if isinstance(value, TaggedValue):
        return value
    if value is not None and not isinstance(value, (str, int, float, bool)):
        msg = (
            f"tag(): a tag value must be a str, int, float or bool "
            f"(got {value!r}, a {type(value).__qualname__})"
        )
        raise InvalidTypeError(msg)
    return TaggedValue(value)


def tags(value) -> TagDict:
    """All tags of a configuration and of the configurations below it."""
    result = TagDict()
    _collect(value, result, set())
    return result


def _collect(config, result: dict, visited: set) -> None:
    if id(config) in visited:
        return
    visited.add(id(config))
    d = config.__dict__
    for name in config.__xpmtype__.arguments:
        if name in d:
            for _, child in iter_children(d[name]):
                _collect(child, result, visited)
    # As in the reference: then the init tasks (their tags are the task's)...
    for init_task in config.__xpm__.init_tasks:
        _collect(init_task, result, visited)
    producer = config.__xpm__.task
    if producer is not None and producer is not config:
        # ... and, for an output, the tags of the task that produced it.
        _collect(producer, result, visited)
    # A config's own tags win over those of the configs below it.
    result.update(config.__xpm__.tags)


def _pathcomponent(value: Any) -> Any:
    """A string with its ``/`` replaced by ``-`` (as the reference does); others as they are."""
    return value.replace("/", "-") if isinstance(value, str) else value


def tagspath(value: ConfigMixin) -> str:
    """``key=value`` pairs of the tags, sorted by key, joined with ``_``.

    As in experimaestro, ``/`` in a key or a string value becomes ``-``: the
    result is one path component (``tag("../x")`` gives ``k=..-x``).
    """
    return "_".join(f"{_pathcomponent(k)}={_pathcomponent(v)}"
                    for k, v in sorted(tags(value).items()))
