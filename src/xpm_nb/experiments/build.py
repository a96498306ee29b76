"""Building a configuration object from merged YAML values, checking every key and type.

Errors name the ``file:line`` (or the override) where the offending value was
written, the key, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from pathlib import Path
from typing import Any

import attrs

from ..core.types import BoolSpec, FloatSpec, IntSpec, _Mismatch, describe_value
from ..errors import ExperimentFileError
from ..scheduler.workspace import experiment_name_problem
from .configuration import MISSING
from .yamlfile import KeyPath, Sources, close_match

__all__ = ["build_configuration", "configuration_fields", "to_plain"]


@dataclasses.dataclass
class _Field:
    name: str
    type: Any
    required: bool


def configuration_fields(cls: type) -> dict[str, _Field]:
    """The init fields of an attrs class or dataclass, with resolved types."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # noqa: BLE001 - a bad annotation in user code
        msg = f"cannot read the field types of {cls.__qualname__}: {exc}"
        raise ExperimentFileError(msg) from exc
    fields: dict[str, _Field] = {}
    if attrs.has(cls):
        for a in attrs.fields(cls):
            if a.init:
                name = a.alias or a.name
                fields[name] = _Field(name, hints.get(a.name, Any), a.default is attrs.NOTHING)
    else:
        for f in dataclasses.fields(cls):
            if f.init:
                required = (f.default is dataclasses.MISSING
                            and f.default_factory is dataclasses.MISSING)
                fields[f.name] = _Field(f.name, hints.get(f.name, Any), required)
    return fields


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and (attrs.has(tp) or dataclasses.is_dataclass(tp))


class _Builder:
    def __init__(self, sources: Sources):
        self.sources = sources

    def fail(self, path: KeyPath, message: str) -> ExperimentFileError:
        loc = self.sources.location(path)
        key = ".".join(path)
        return ExperimentFileError(f"{loc}: {key + ': ' if key else ''}{message}")

    def record(self, cls: type, values: Any, path: KeyPath, only: set[str] | None = None):
        if isinstance(values, cls):
            return values
        if not isinstance(values, dict):
            raise self.fail(path, f"expected a mapping for {cls.__qualname__}, got "
                                  f"{describe_value(values)}")
        fields = configuration_fields(cls)
        kwargs = {}
        for key, value in values.items():
            if only is not None and key not in only:
                continue
            field = fields.get(key)
            if field is None:
                names = sorted(fields)
                raise self.fail((*path, key), (
                    f"unknown key: {cls.__qualname__} has no field {key!r}."
                    f"{close_match(key, names)} Its fields are: {', '.join(names)}"))
            kwargs[key] = self.value(field.type, value, (*path, key))
        for name, field in fields.items():
            if only is not None and name not in only:
                continue
            if field.required and name not in kwargs:
                where = ".".join((*path, name))
                msg = (f"missing key {where!r} ({cls.__qualname__}.{name}: "
                       f"{_type_name(field.type)}). Fix: add `{name}: ...`")
                raise self.fail(path, msg)
        try:
            return cls(**kwargs)
        except Exception as exc:  # noqa: BLE001 - a validator of the user's class
            raise self.fail(path, f"{cls.__qualname__}(...) refused the values: {exc}") from exc

    def value(self, tp: Any, value: Any, path: KeyPath) -> Any:
        if tp is Any or tp is object:
            return value
        if _is_record(tp):
            return self.record(tp, value, path)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self.value(args[0], value, path)
        if origin is typing.Union or type(tp).__name__ == "UnionType":
            if value is None and type(None) in args:
                return None
            errors = []
            for option in (a for a in args if a is not type(None)):
                try:
                    return self.value(option, value, path)
                except ExperimentFileError as exc:
                    errors.append(exc)
            if len(errors) == 1:
                raise errors[0]
            raise self.wrong(tp, value, path)
        if origin is typing.Literal:
            if value in args:
                return value
            raise self.fail(path, f"expected one of {', '.join(map(repr, args))}, got "
                                  f"{describe_value(value)}")
        if origin in (list, tuple, set, frozenset) or (
            origin is not None and getattr(origin, "__name__", "") in ("Sequence", "List")
        ):
            if not isinstance(value, list):
                raise self.wrong(tp, value, path)
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(args) != len(value):
                    raise self.fail(path, f"expected {len(args)} items, got {len(value)}")
                return tuple(self.value(a, v, (*path, str(i)))
                             for i, (a, v) in enumerate(zip(args, value)))
            inner = args[0] if args else Any
            items = [self.value(inner, v, (*path, str(i))) for i, v in enumerate(value)]
            return items if origin not in (tuple, set, frozenset) else origin(items)
        if origin is dict or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
            if not isinstance(value, dict):
                raise self.wrong(tp, value, path)
            vt = args[1] if args else Any
            return {k: self.value(vt, v, (*path, str(k))) for k, v in value.items()}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self.enum(tp, value, path)
        if tp in (bool, int, float):
            # The same lossless conversions as configuration fields (the reference's):
            # PyYAML reads `lr: 1e-3` as a str, an override `lr=1e-4` too.
            try:
                return _SCALAR_SPECS[tp].validate(value)
            except _Mismatch:
                raise self.wrong(tp, value, path) from None
        if tp is str:
            if isinstance(value, str):
                return value
            if type(value) in (int, float):  # `id: 2024` is meant as a name
                return str(value)
            raise self.wrong(tp, value, path)
        if isinstance(tp, type) and issubclass(tp, Path):
            if isinstance(value, (str, Path)):
                return Path(value)
            raise self.wrong(tp, value, path)
        if isinstance(tp, type) and not isinstance(value, tp):
            raise self.wrong(tp, value, path)
        return value

    def enum(self, tp: type[enum.Enum], value: Any, path: KeyPath):
        if isinstance(value, tp):
            return value
        for member in tp:
            if value == member.value or (
                isinstance(value, str) and value.lower() == member.name.lower()
            ):
                return member
        choices = ", ".join(str(m.value) for m in tp)
        raise self.fail(path, f"expected one of {choices}, got {describe_value(value)}")

    def wrong(self, tp: Any, value: Any, path: KeyPath) -> ExperimentFileError:
        return self.fail(path, f"expected {_type_name(tp)}, got {describe_value(value)}")


_SCALAR_SPECS = {bool: BoolSpec(), int: IntSpec(), float: FloatSpec()}


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return {int: "an int", float: "a float", bool: "a bool (true or false)",
                str: "a string"}.get(tp, tp.__qualname__)
    return str(tp).replace("typing.", "")


def build_configuration(cls: type, sources: Sources, only: set[str] | None = None):
    """``cls(**values)`` after checking keys and types; ``only``: restrict to these keys."""
    builder = _Builder(sources)
    cfg = builder.record(cls, sources.values, (), only)
    if only is None or "id" in only:
        if getattr(cfg, "id", None) is MISSING:
            raise builder.fail((), "missing key 'id' (the experiment's name). Fix: add `id: my-experiment`")
        problem = experiment_name_problem(getattr(cfg, "id", None))
        if problem:
            raise builder.fail(("id",), problem)
    return cfg


def to_plain(value: Any) -> Any:
    """A configuration as YAML-ready plain data (enums by value, paths as strings)."""
    if _is_record(type(value)):
        return {name: to_plain(getattr(value, name)) for name in configuration_fields(type(value))
                if hasattr(value, name)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if value is MISSING:
        return None
    return value
