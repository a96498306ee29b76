"""From annotations to type specs that check and convert field values.

A ``TypeSpec`` answers one question: is this value acceptable for the field,
and as what? ``validate(value)`` returns the converted value or raises
``_Mismatch`` with what was expected; the caller (the config) turns it into a
``FieldTypeError`` naming the class and the field.
"""

from __future__ import annotations

import enum
import math
import numbers
import os
import re
import typing
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["TypeSpec", "type_spec", "SubmitHook", "describe_value"]

ConfigMixin = Task = None  # set on first use by ConfigSpec (circular import)


class _Mismatch(Exception):
    """Internal: the value does not fit; ``expected`` says what would."""

    def __init__(self, expected: str, value: Any, where: str = ""):
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.where = where  # e.g. "[2]" or "['key']" inside a container


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


def describe_value(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    name = type(value).__qualname__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{text} ({article} {name})"


class TypeSpec:
    """A field's type: checks and converts values."""

    name = "any"

    def validate(self, value: Any) -> Any:
        return value

    def __repr__(self) -> str:
        return self.name


class AnySpec(TypeSpec):
    name = "Any"


# Lossless conversions, as the reference makes them (pydantic's lax mode, checked
# against experimaestro 2.7.0): a str (or bytes) that spells a number, an integral
# float to an int, 0/1 or a yes/no word to a bool. Anything else is refused.
_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})
_INT64_FLOAT_LIMIT = 2.0**63


def _text(value) -> str | None:
    """The text of a str or bytes value (None for anything else or bad bytes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


class IntSpec(TypeSpec):
    name = "int"

    def validate(self, value):
        if type(value) is int:
            return value
        if isinstance(value, numbers.Integral):  # bool (True -> 1), numpy ints
            return int(value)
        if isinstance(value, numbers.Real):
            f = float(value)
            if math.isfinite(f) and f.is_integer() and abs(f) < _INT64_FLOAT_LIMIT:
                return int(f)
            raise _Mismatch("an int (or a float without a fractional part)", value)
        text = _text(value)
        if text is not None:
            text = text.strip()
            if text.isascii() and _INT_TEXT.fullmatch(text):
                return int(text.split(".", 1)[0].replace("_", ""))
            raise _Mismatch("an int (or a str spelling one, such as '5')", value)
        raise _Mismatch("an int", value)


class FloatSpec(TypeSpec):
    name = "float"

    def validate(self, value):
        if type(value) is float:
            return value
        if isinstance(value, numbers.Real):  # int, bool, numpy numbers
            try:
                return float(value)
            except OverflowError:
                raise _Mismatch("a float (an int too large for one)", value) from None
        text = _text(value)
        if text is not None:
            text = text.strip()
            if text.isascii():
                try:
                    return float(text)
                except ValueError:
                    pass
            raise _Mismatch("a float (or a str spelling one, such as '1e-3')", value)
        raise _Mismatch("a float (or an int)", value)


class BoolSpec(TypeSpec):
    name = "bool"

    def validate(self, value):
        if type(value) is bool:
            return value
        if type(value).__name__ == "bool_":  # numpy.bool_
            return bool(value)
        if isinstance(value, numbers.Real) and not isinstance(value, complex):
            if value == 0 or value == 1:
                return bool(value)
        else:
            text = _text(value)
            if text is not None:
                word = text.lower()
                if word in _TRUE_WORDS:
                    return True
                if word in _FALSE_WORDS:
                    return False
        raise _Mismatch(
            "a bool (True or False; also 0/1 or one of 'true', 'false', 'yes', 'no', "
            "'on', 'off', 't', 'f', 'y', 'n', '1', '0')",
            value,
        )


class StrSpec(TypeSpec):
    name = "str"

    def validate(self, value):
        if isinstance(value, str):
            if not value.isascii() and not _is_utf8(value):
                raise _Mismatch(_SURROGATE, value)
            return value
        raise _Mismatch("a str", value)


# A lone surrogate ("\udcff": a file name decoded with errors="surrogateescape") has
# no UTF-8 form, so no identifier (the reference fails there too): refuse it early.
_SURROGATE = (
    "a str that UTF-8 can encode, without a lone surrogate such as a file name decoded "
    "with errors='surrogateescape' holds (use a pathlib.Path field for file names, or "
    "decode with errors='replace')"
)


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class PathSpec(TypeSpec):
    name = "Path"

    def validate(self, value):
        if isinstance(value, Path):
            return value
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise _Mismatch("a path (pathlib.Path or str)", value)


class EnumSpec(TypeSpec):
    def __init__(self, cls: type[enum.Enum]):
        self.cls = cls
        self.name = cls.__qualname__

    def validate(self, value):
        if isinstance(value, self.cls):
            return value
        if isinstance(value, str) and value in self.cls.__members__:
            return self.cls[value]
        names = ", ".join(self.cls.__members__)
        raise _Mismatch(f"a member of {self.cls.__qualname__} ({names})", value)


class LiteralSpec(TypeSpec):
    def __init__(self, values: tuple):
        self.values = values
        self.name = f"Literal{list(values)}"

    def validate(self, value):
        if value in self.values:
            return value
        raise _Mismatch(f"one of {list(self.values)}", value)


class OptionalSpec(TypeSpec):
    """``Optional[T]`` inside a container (a field's own Optional is a flag)."""

    def __init__(self, inner: TypeSpec):
        self.inner = inner
        self.name = f"Optional[{inner}]"

    def validate(self, value):
        return None if value is None else self.inner.validate(value)


class UnionSpec(TypeSpec):
    def __init__(self, options: list[TypeSpec]):
        self.options = options
        self.name = " | ".join(map(repr, options))

    def validate(self, value):
        # Left to right, the first option that takes (or converts) the value, as
        # the reference: Union[int, str] makes '5' the int 5.
        for option in self.options:
            try:
                return option.validate(value)
            except _Mismatch:
                continue
        raise _Mismatch(f"one of {self.name}", value)


def _at(where: str, exc: _Mismatch) -> _Mismatch:
    exc.where = where + exc.where
    return exc


class ListSpec(TypeSpec):
    def __init__(self, inner: TypeSpec):
        self.inner = inner
        self.name = f"list[{inner}]"

    def validate(self, value):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch(f"a list of {self.inner}", value)
        inner = self.inner
        if isinstance(inner, AnySpec):
            return list(value)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(inner.validate(item))
            except _Mismatch as exc:
                raise _at(f"[{i}]", exc) from None
        return out


class TupleSpec(TypeSpec):
    """Tuples cannot be encoded in identifiers (as in the reference): say so early."""

    name = "tuple"

    def validate(self, value):
        raise _Mismatch("a list (identifiers cannot encode tuples: declare the field "
                        "as list[...] and pass a list)", value)


class SetSpec(TypeSpec):
    def __init__(self, inner: TypeSpec):
        self.inner = inner
        self.name = f"set[{inner}]"

    def validate(self, value):
        if not isinstance(value, (set, frozenset, list, tuple)):
            raise _Mismatch(f"a set of {self.inner}", value)
        out = set()
        for item in value:
            try:
                out.add(self.inner.validate(item))
            except _Mismatch as exc:
                raise _at("{...}", exc) from None
        return out


class DictSpec(TypeSpec):
    def __init__(self, key: TypeSpec, value: TypeSpec):
        self.key = key
        self.value = value
        self.name = f"dict[{key}, {value}]"

    def validate(self, value):
        if not isinstance(value, dict):
            raise _Mismatch(f"a dict[{self.key}, {self.value}]", value)
        out = {}
        for k, v in value.items():
            try:
                k2 = self.key.validate(k)
                out[k2] = self.value.validate(v)
            except _Mismatch as exc:
                raise _at(f"[{k!r}]", exc) from None
        return out


class ConfigSpec(TypeSpec):
    """A nested configuration; the class may be a forward reference."""

    def __init__(self, cls):
        self.cls = cls
        self.name = cls.__qualname__

    def validate(self, value):
        # Imported here once: objects imports this module (no import in the hot path).
        global ConfigMixin, Task
        if ConfigMixin is None:
            from .objects import ConfigMixin, Task

        if isinstance(value, ConfigMixin) and isinstance(value, self.cls):

            if isinstance(value, Task) and value.__xpm__.job is None:
                # As in the reference: a task is a parameter once submitted,
                # so that the job depending on it knows which job to wait for.
                msg = (
                    f"a submitted {self.name} task; this one was not submitted yet. "
                    "Fix: pass `task.submit()` (or its outputs) instead of the task itself"
                )
                raise _Mismatch(msg, value)
            return value
        if isinstance(value, self.cls):
            msg = (
                f"{_article(self.name)} {self.name} configuration; got an instance "
                "(built object), "
                f"pass its configuration (e.g. `{self.name}.C(...)`)"
            )
            raise _Mismatch(msg, value)
        raise _Mismatch(
            f"{_article(self.name)} {self.name} configuration (e.g. `{self.name}.C(...)`)", value
        )


class TypeVarSpec(TypeSpec):
    """A field typed by a type variable (``x: Param[T]`` in ``C(Config, Generic[T])``).

    As in the reference, any value fits (within the variable's bound); the
    fields of one configuration sharing a variable must agree (checked by the
    configuration, see ``objects._bind_typevar``).
    """

    def __init__(self, typevar: typing.TypeVar):
        self.typevar = typevar
        self.name = f"TypeVar({typevar})"

    def validate(self, value):
        bound = self.typevar.__bound__
        if bound is not None and isinstance(bound, type) and not isinstance(value, bound):
            raise _Mismatch(f"a value of {bound.__qualname__} (the bound of {self.typevar})",
                            value)
        return value


class GenericConfigSpec(ConfigSpec):
    """A subscripted generic configuration, ``Param[Holder[int]]``: a ``Holder``
    whose own type arguments (from its class bases) fit ``int``."""

    def __init__(self, alias):
        super().__init__(typing.get_origin(alias))
        self.alias = alias
        self.args = typing.get_args(alias)
        names = (getattr(a, "__qualname__", None) or repr(a) for a in self.args)
        self.name = f"{self.cls.__qualname__}[{', '.join(names)}]"

    def validate(self, value):
        value = super().validate(value)
        actual = _generic_args(type(value), self.cls)
        for expected, got in zip(self.args, actual or ()):
            if isinstance(expected, typing.TypeVar) or isinstance(got, typing.TypeVar):
                continue
            if not _type_arg_fits(got, expected):
                given = type(value).__xpmtype__.cls.__qualname__
                raise _Mismatch(f"a {self.name} configuration ({given} has the type "
                                f"argument {got!r}, which does not fit {expected!r})", value)
        return value


def _generic_args(cls: type, origin: type) -> tuple | None:
    """The type arguments ``cls`` gives to the generic class ``origin`` in its
    bases (``class B(A[int])`` -> ``(int,)``), None when it gives none."""
    for klass in cls.__mro__:
        for base in klass.__dict__.get("__orig_bases__", ()):
            if typing.get_origin(base) is origin:
                return typing.get_args(base)
    return None


def _type_arg_fits(actual, expected) -> bool:
    """Whether a type argument ``actual`` fits ``expected`` (subclass, Union member)."""
    if expected is typing.Any or actual is typing.Any:
        return True
    if isinstance(expected, type) and isinstance(actual, type):
        return issubclass(actual, expected)
    if typing.get_origin(expected) is typing.Union:
        return any(_type_arg_fits(actual, member) for member in typing.get_args(expected))
    if typing.get_origin(actual) is typing.Union:
        return all(_type_arg_fits(member, expected) for member in typing.get_args(actual))
    return actual == expected


_SIMPLE = {
    int: IntSpec(),
    float: FloatSpec(),
    bool: BoolSpec(),
    str: StrSpec(),
    Path: PathSpec(),
    typing.Any: AnySpec(),
    object: AnySpec(),
}


def type_spec(annotation: Any, where: str = "") -> TypeSpec:
    """Turn a (resolved) annotation into a TypeSpec."""
    from .objects import Config

    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    if isinstance(annotation, type):
        if issubclass(annotation, Config):
            return ConfigSpec(annotation)
        if issubclass(annotation, enum.Enum):
            return EnumSpec(annotation)
        if issubclass(annotation, os.PathLike):
            return _SIMPLE[Path]
        if annotation is tuple:
            return TupleSpec()
        if annotation is list:
            return ListSpec(AnySpec())
        if annotation in (set, frozenset):
            return SetSpec(AnySpec())
        if annotation is dict:
            return DictSpec(AnySpec(), AnySpec())
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_spec(args[0], where)
    if origin is tuple:
        return TupleSpec()
    if origin in (list, list, typing.Sequence) or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "List")
    ):
        inner = args[0] if args else Any
        return ListSpec(type_spec(inner, where))
    if origin in (set, frozenset):
        return SetSpec(type_spec(args[0] if args else Any, where))
    if origin is dict or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        k, v = args if args else (Any, Any)
        return DictSpec(type_spec(k, where), type_spec(v, where))
    if origin is typing.Literal:
        return LiteralSpec(args)
    if isinstance(origin, type) and issubclass(origin, Config):
        return GenericConfigSpec(annotation)
    if isinstance(annotation, typing.TypeVar):
        return TypeVarSpec(annotation)
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        non_none = [a for a in args if a is not type(None)]
        specs = [type_spec(a, where) for a in non_none]
        inner = specs[0] if len(specs) == 1 else UnionSpec(specs)
        return OptionalSpec(inner) if len(non_none) < len(args) else inner
    from ..errors import DeclarationError

    msg = f"{where}: cannot use the type {annotation!r} in a configuration field"
    raise DeclarationError(msg)


def split_optional(annotation: Any) -> tuple[Any, bool]:
    """``Optional[T]`` -> (T, True); anything else -> (annotation, False)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        args = typing.get_args(annotation)
        if type(None) in args:
            rest = tuple(a for a in args if a is not type(None))
            return (rest[0] if len(rest) == 1 else typing.Union[rest]), True
    return annotation, False


class SubmitHook(ABC):
    """Hook called before a job is submitted to the scheduler (e.g. to change its environment).

    Used as a class decorator (``@needs_java(11)`` on a task class): every job
    of that task (and of its subclasses) goes through ``process(job, launcher)``
    before it is scheduled. Hooks equal by ``spec()`` are applied once.
    """

    def __call__(self, cls):
        hooks = cls.__dict__.get("__xpm_submit_hooks__")
        if hooks is None:
            hooks = []
            cls.__xpm_submit_hooks__ = hooks
        if self not in hooks:
            hooks.append(self)
        return cls

    @abstractmethod
    def process(self, job, launcher):
        """Apply the hook for the job/launcher."""

    @abstractmethod
    def spec(self):
        """An identifier tuple for hashing/equality."""

    def __hash__(self) -> int:
        return hash((type(self), self.spec()))

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.spec() == other.spec()
