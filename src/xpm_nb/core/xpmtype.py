"""What xpm_nb knows about a configuration class: its type id and its fields.

Built lazily, on first use, so that forward references (``Param["Other"]``)
to classes defined later in a module or in a later notebook cell resolve.
"""

from __future__ import annotations

import inspect
import logging
import sys
import typing
from typing import Any

from ..errors import DeclarationError, InvalidTypeError
from .arguments import Argument, FieldHint
from .types import split_optional, type_spec

__all__ = ["Identifier", "ObjectType", "get_type", "class_registry"]

# Every Config subclass by qualified name and by name (latest wins): the last
# resort to resolve forward references to classes defined in a function body
# or a notebook cell.
class_registry: dict[str, type] = {}

_TYPES: dict[type, ObjectType] = {}

logger = logging.getLogger("xpm_nb.core")

# (class, field) overrides already warned about: a class's type is built for
# each of its subclasses too, and the reference warns once per declaration.
_WARNED_OVERRIDES: set[tuple[type, str]] = set()


class Identifier:
    """A type name (``__xpmid__``), lowercased; attributes extend it with a dot.

    ``ns = Identifier("my.lib")`` then ``__xpmid__ = ns.models.bert`` names a
    class ``my.lib.models.bert``. (The content hash of a configuration is
    :class:`xpm_nb.core.identifier.ConfigIdentifier`.)
    """

    __slots__ = ("name",)

    def __init__(self, name: str):
        if not isinstance(name, str):
            msg = f"Identifier: the name must be a str (got {name!r}), e.g. Identifier('my.lib')"
            raise InvalidTypeError(msg)
        self.name = name.lower()

    def __call__(self, key: str) -> Identifier:
        return Identifier(f"{self.name}.{key}")

    def __getattr__(self, key: str) -> Identifier:
        if key.startswith("__"):  # copy/pickle probes are not name parts
            raise AttributeError(key)
        return self(key)

    __getitem__ = __call__

    def __eq__(self, other) -> bool:
        return isinstance(other, Identifier) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):
        return (Identifier, (self.name,))

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


def _declared_typeid(cls: type) -> str | None:
    """The type id ``__xpmid__`` gives, as the reference reads it: an
    :class:`Identifier` (inherited ones too), a classmethod returning the name,
    or a str set on the class itself."""
    xpmid = getattr(cls, "__xpmid__", None)
    if isinstance(xpmid, Identifier):
        return xpmid.name
    if inspect.ismethod(xpmid):
        return str(xpmid())
    own = cls.__dict__.get("__xpmid__")
    return own if isinstance(own, str) else None


class ObjectType:
    """The fields and identity of one configuration class."""

    def __init__(self, cls: type):
        self.cls = cls
        typeid = _declared_typeid(cls) or f"{cls.__module__}.{cls.__qualname__}"
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
                argument = Argument(
                    name,
                    type_spec(inner, where),
                    optional=optional,
                    hint=hint,
                    declared=declared,
                    owner=klass,
                )
                parent = self.arguments.get(name)
                if parent is not None and parent.owner is not klass:
                    _check_override(klass, argument, parent)
                self.arguments[name] = argument
            for name, value in klass.__dict__.items():
                if isinstance(value, DeprecatedParam):
                    self.deprecated_params[name] = value


def _check_override(klass: type, child: Argument, parent: Argument) -> None:
    """A field redeclared in a subclass: its type must fit the parent's (a
    subclass for configurations, the same kind of type otherwise), and, as the
    reference, a warning asks for ``field(overrides=True)`` when not given."""
    from .types import ConfigSpec, GenericConfigSpec

    where = f"{klass.__qualname__}.{child.name}"
    parent_owner = parent.owner.__qualname__ if parent.owner is not None else "a parent class"
    fix = (f"Fix: declare {child.name} with the type of {parent_owner}.{child.name} "
           f"({parent.type}) or a subtype of it, or rename the field")
    ctype, ptype = child.type, parent.type
    if type(ctype) is not type(ptype):
        msg = (f"{where}: Parameter '{child.name}' type {ctype} is not compatible with parent "
               f"type {ptype} (declared in {parent_owner}). Override types must be the same "
               f"type or a subtype. {fix}")
        raise DeclarationError(msg)
    if isinstance(ctype, GenericConfigSpec):
        _check_generic_override(where, child.name, ctype, ptype, fix)
    elif isinstance(ctype, ConfigSpec) and not issubclass(ctype.cls, ptype.cls):
        msg = (f"{where}: Parameter '{child.name}' type {ctype.cls.__qualname__} is not a "
               f"subtype of parent type {ptype.cls.__qualname__}. Override types must be "
               f"subtypes of the parent type. {fix}")
        raise DeclarationError(msg)
    if not child.overrides and (klass, child.name) not in _WARNED_OVERRIDES:
        _WARNED_OVERRIDES.add((klass, child.name))
        logger.warning(
            "Parameter '%s' in %s overrides parent parameter from %s. "
            "Use field(overrides=True) to suppress this warning.",
            child.name, klass.__qualname__, parent_owner,
        )


def _check_generic_override(where: str, name: str, child, parent, fix: str) -> None:
    """``Holder[B]`` may override ``Holder[A]`` when each argument of B fits A's."""
    from .objects import Config

    if child.cls is not parent.cls or len(child.args) != len(parent.args):
        msg = (f"{where}: Parameter '{name}': generic type {child} is not compatible with "
               f"parent type {parent}. Override types must have the same generic origin. {fix}")
        raise DeclarationError(msg)
    for carg, parg in zip(child.args, parent.args):
        if isinstance(carg, type) and isinstance(parg, type) and issubclass(parg, Config):
            if not issubclass(carg, parg):
                msg = (f"{where}: Parameter '{name}': type argument {carg.__qualname__} is "
                       f"not a subtype of parent type argument {parg.__qualname__}. "
                       f"Override generic type arguments must be subtypes. {fix}")
                raise DeclarationError(msg)
        elif carg != parg:
            msg = (f"{where}: Parameter '{name}': type argument {carg!r} does not match "
                   f"parent type argument {parg!r}. {fix}")
            raise DeclarationError(msg)


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
