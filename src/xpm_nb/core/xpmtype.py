"""What xpm_nb knows about a configuration class: its type id and its fields.

Built lazily, on first use, so that forward references (``Param["Other"]``)
to classes defined later in a module or in a later notebook cell resolve.
"""

from __future__ import annotations

import sys
import typing
from typing import Any

from ..errors import DeclarationError
from .arguments import Argument, FieldHint
from .types import split_optional, type_spec

__all__ = ["ObjectType", "get_type", "class_registry"]

# Every Config subclass by qualified name and by name (latest wins): the last
# resort to resolve forward references to classes defined in a function body
# or a notebook cell.
class_registry: dict[str, type] = {}

_TYPES: dict[type, ObjectType] = {}


class ObjectType:
    """The fields and identity of one configuration class."""

    def __init__(self, cls: type):
        self.cls = cls
        typeid = cls.__dict__.get("__xpmid__") or f"{cls.__module__}.{cls.__qualname__}"
        self.typeid: str = typeid
        # The type id is lowercased in identifiers and job folder names.
        self.identifier: str = typeid.lower()
        self.identifier_bytes: bytes = self.identifier.encode("utf-8")
        self.arguments: dict[str, Argument] = {}
        self.deprecated_params: dict[str, Any] = {}
        self.value_type: type = cls
        self.deprecation = None  # set by @deprecate
        self._resolve()
        self.sorted_arguments = sorted(self.arguments.values(), key=lambda a: a.name)
        # Construction fast path: fields set from defaults when not given.
        self.defaulted = [
            a for a in self.arguments.values() if a.has_default and not a.factory_at_seal
        ]
        self.seal_factories = [a for a in self.arguments.values() if a.factory_at_seal]
        self.optionals = [a for a in self.arguments.values() if a.optional and not a.has_default]
        self._config_type: type | None = None

    @property
    def name(self) -> str:
        return self.typeid

    def __repr__(self) -> str:
        return f"ObjectType({self.typeid})"

    @property
    def config_type(self) -> type:
        """The class of configuration objects (``cls.XPMConfig``)."""
        if self._config_type is None:
            from .objects import make_config_type

            self._config_type = make_config_type(self)
        return self._config_type

    @property
    def task(self) -> bool:
        from .objects import Task

        return issubclass(self.cls, Task)

    def _resolve(self) -> None:
        from .decorators import DeprecatedParam
        from .objects import Config

        cls = self.cls
        for klass in reversed(cls.__mro__):
            if not (isinstance(klass, type) and issubclass(klass, Config)) or klass is Config:
                continue
            annotations = klass.__dict__.get("__annotations__", {})
            for name, annotation in annotations.items():
                resolved = _resolve_annotation(klass, name, annotation)
                if resolved is None:
                    continue
                inner, hint = resolved
                inner, optional = split_optional(inner)
                where = f"{klass.__qualname__}.{name}"
                declared = klass.__dict__.get(name)
                if declared is None and name in self.arguments and name not in klass.__dict__:
                    # Re-annotated without a new default: keep the parent's default.
                    parent = self.arguments[name]
                    declared = parent.default if parent.has_default else None
                self.arguments[name] = Argument(
                    name,
                    type_spec(inner, where),
                    optional=optional,
                    hint=hint,
                    declared=declared,
                    owner=klass,
                )
            for name, value in klass.__dict__.items():
                if isinstance(value, DeprecatedParam):
                    self.deprecated_params[name] = value


def _resolve_annotation(klass: type, name: str, annotation: Any):
    """Returns (inner type, hint) for a field annotation, None for other annotations."""
    if isinstance(annotation, str):
        if not any(k in annotation for k in ("Param", "Meta", "Constant", "DataPath", "Option")):
            return None
        annotation = _eval(klass, name, annotation)
    elif not _has_hint(annotation):
        return None
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    args = typing.get_args(annotation)
    hints = [a for a in args[1:] if isinstance(a, FieldHint)]
    if not hints:
        return None
    inner = args[0]
    if _has_forward_ref(inner):
        inner = _eval(klass, name, inner)
    hint = hints[0]
    for extra in hints[1:]:
        if extra.help:
            hint = FieldHint(
                ignored=hint.ignored, constant=hint.constant, is_data=hint.is_data, help=extra.help
            )
    return inner, hint


def _has_hint(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Annotated and any(
        isinstance(a, FieldHint) for a in typing.get_args(annotation)[1:]
    )


def _has_forward_ref(tp: Any) -> bool:
    if isinstance(tp, (str, typing.ForwardRef)):
        return True
    return any(_has_forward_ref(a) for a in typing.get_args(tp))


# Names that string annotations may use when the defining module is not
# available (a class shipped by value to a job process): our field markers,
# typing's names, Path, and classes shipped along with it.
extra_namespace: dict[str, Any] = {}


def _fallback_namespace() -> dict[str, Any]:
    import pathlib

    from . import arguments

    ns: dict[str, Any] = {n: getattr(typing, n) for n in typing.__all__}
    ns.update({n: getattr(arguments, n) for n in arguments.__all__})
    ns["Path"] = pathlib.Path
    ns.update(extra_namespace)
    return ns


def _eval(klass: type, name: str, annotation: Any) -> Any:
    module = sys.modules.get(klass.__module__)
    globalns = _fallback_namespace()
    globalns.update(class_registry_by_name())
    if module is not None and getattr(module, "__name__", None) != "xpm_nb.run.__main__":
        globalns.update(vars(module))
    localns = {}
    localns.update({klass.__name__: klass})
    localns.update(vars(klass))
    if isinstance(annotation, str):
        annotation = typing.ForwardRef(annotation)
    try:
        return typing._eval_type(annotation, globalns, localns)  # noqa: SLF001
    except NameError as exc:
        msg = (
            f"{klass.__qualname__}.{name}: cannot resolve the annotation {annotation!r} "
            f"({exc}). Define the referenced class before first using "
            f"{klass.__qualname__}, or import it in module {klass.__module__}"
        )
        raise DeclarationError(msg) from exc


def class_registry_by_name() -> dict[str, type]:
    return class_registry


def get_type(cls: type) -> ObjectType:
    """The ObjectType of a Config class, built on first use."""
    xpmtype = _TYPES.get(cls)
    if xpmtype is None:
        xpmtype = ObjectType(cls)
        _TYPES[cls] = xpmtype
    return xpmtype


def forget_type(cls: type) -> None:
    """Drop a cached type (a class redefined in a notebook cell gets a new one)."""
    _TYPES.pop(cls, None)
