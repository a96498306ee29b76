"""Utilities on configurations: deprecate, setmeta, sealed_set, cache, initializer."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import DeclarationError, InvalidTypeError
from .objects import Config, ConfigMixin, Task
from .xpmtype import get_type

__all__ = ["deprecate", "setmeta", "sealed_set", "cache", "initializer", "DeprecatedParam"]


@dataclass
class DeprecationInfo:
    original_identifier: str
    target: type
    replace: bool


class DeprecatedParam:
    """A deprecated field: setting it calls the method, which sets the new fields."""

    def __init__(self, method: Callable):
        self.method = method
        self.name = method.__name__

    def apply(self, config, value) -> None:
        self.method(config, value)


def _mark(cls: type, target: type | None, replace: bool) -> type:
    xpmtype = get_type(cls)
    if xpmtype.deprecation is not None:
        msg = f"{cls.__qualname__} is already deprecated"
        raise DeclarationError(msg)
    original = xpmtype.identifier
    if target is None:
        bases = [b for b in cls.__bases__ if issubclass(b, Config)]
        if len(cls.__bases__) != 1 or not bases:
            msg = (
                f"@deprecate on {cls.__qualname__}: a deprecated class without a target "
                "must have exactly one parent, the configuration that replaces it"
            )
            raise DeclarationError(msg)
        target = bases[0]
    # The deprecated class is identified (and stored) as its target.
    target_type = get_type(target)
    xpmtype.identifier = target_type.identifier
    xpmtype.identifier_bytes = target_type.identifier_bytes
    xpmtype.deprecation = DeprecationInfo(original, target, replace)
    return cls


def deprecate(config_or_target: Any = None, *, replace: bool = False):
    """Deprecate a configuration class, or a parameter (four patterns, see the docs)."""
    if inspect.isfunction(config_or_target):
        return DeprecatedParam(config_or_target)
    if inspect.isclass(config_or_target):
        bases = config_or_target.__bases__
        if (
            not replace
            and len(bases) == 1
            and bases[0] not in (Config, Task)
            and issubclass(bases[0], Config)
        ):
            return _mark(config_or_target, None, False)
        target = config_or_target
        return lambda cls: _mark(cls, target, replace)
    if config_or_target is None:
        return lambda cls: _mark(cls, None, replace)
    msg = f"deprecate: cannot deprecate {config_or_target!r} (expected a class or a method)"
    raise InvalidTypeError(msg)


def setmeta(config: ConfigMixin, flag: bool) -> ConfigMixin:
    """Force ``config`` to be (True) or not be (False) left out of its parent's identifier."""
    if not isinstance(config, ConfigMixin):
        msg = f"setmeta: expected a configuration, got {config!r}"
        raise InvalidTypeError(msg)
    config.__xpm__.meta = flag
    return config


def sealed_set(*elements) -> set:
    """A set of configurations, each sealed first (so hashable by identifier)."""
    result = set()
    for element in elements:
        if isinstance(element, ConfigMixin):
            try:
                element.seal()
            except Exception as exc:
                msg = f"sealed_set: cannot seal {element!r}: {exc}"
                raise InvalidTypeError(msg) from exc
        result.add(element)
    return result


def cache(name: str):
    """Cache a method's result in a file keyed by the configuration's identifier.

    The method receives the cache path (``<workspace>/config/<id>/<name>``) as
    its first argument after ``self``; it decides how to read and write it.
    """

    def decorator(method: Callable):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            from . import taskglobals

            config = self.xpmconfig if not isinstance(self, ConfigMixin) else self
            folder = taskglobals.config_cache_path() / config.__identifier__().hex()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            # The lock keeps two processes from computing the same cache at once.
            import fasteners

            with fasteners.InterProcessLock(str(path) + ".lock"):
                return method(self, path, *args, **kwargs)

        return wrapper

    return decorator


def initializer(method: Callable):
    """Run a method once per object; later calls return the first result."""
    attr = f"__xpm_initialized_{method.__name__}"

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        d = self.__dict__
        if attr in d:
            return d[attr]
        result = method(self, *args, **kwargs)
        d[attr] = result
        return result

    return wrapper


