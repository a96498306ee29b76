"""How fields are declared: ``Param``, ``Meta``, ``Constant``, ``DataPath``,
``field``, parameter groups and partials.

``Param[T]`` is ``typing.Annotated[T, <hint>]``: type checkers see ``T``, and the
class machinery reads the hint to know how the field takes part in the
identifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as _dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

from ..errors import InvalidArgumentError, InvalidTypeError

if TYPE_CHECKING:
    from .types import TypeSpec

__all__ = [
    "Param",
    "Meta",
    "Option",
    "Constant",
    "DataPath",
    "OptionalDataPath",
    "field",
    "ParameterGroup",
    "param_group",
    "Partial",
    "partial",
    "Argument",
    "FieldHint",
    "help",
]

T = TypeVar("T")


class FieldHint:
    """The marker carried by ``Annotated[T, hint]``."""

    __slots__ = ("ignored", "constant", "is_data", "help")

    def __init__(self, *, ignored=False, constant=False, is_data=False, help=None):
        self.ignored = ignored
        self.constant = constant
        self.is_data = is_data
        self.help = help

    def __repr__(self) -> str:
        kind = "Constant" if self.constant else "DataPath" if self.is_data else (
            "Meta" if self.ignored else "Param"
        )
        return f"<{kind}>"


class help(FieldHint):  # noqa: A001 - the reference's name
    """``Annotated[int, help("...")]`` adds a help text to a field."""

    def __init__(self, text: str):
        super().__init__(help=text)


_PARAM = FieldHint()
_META = FieldHint(ignored=True)
_CONSTANT = FieldHint(constant=True)
_DATA = FieldHint(ignored=True, is_data=True)

Param = Annotated[T, _PARAM]
"""A parameter: part of the identifier."""

Meta = Annotated[T, _META]
"""A meta-parameter: not part of the identifier (paths, run-time options)."""

Option = Meta
"""Deprecated alias of :data:`Meta`."""

Constant = Annotated[T, _CONSTANT]
"""A read-only parameter that must have a default; part of the identifier."""

DataPath = Annotated[Path, _DATA]
"""A path to data copied along when the configuration is serialized."""

OptionalDataPath = Annotated[Optional[Path], _DATA]


class ParameterGroup:
    """A named group of parameters, for partial identifiers."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"param_group({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParameterGroup) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("ParameterGroup", self.name))


def param_group(name: str) -> ParameterGroup:
    """Create a parameter group for use with :func:`partial`."""
    if not isinstance(name, str) or not name:
        msg = f"param_group: the name must be a non-empty str (got {name!r})"
        raise InvalidArgumentError(msg)
    return ParameterGroup(name)


@dataclass
class Partial:
    """Which parameter groups a partial identifier leaves out.

    Rules, in order: a parameter in ``include_groups`` is kept; with
    ``exclude_all`` every other is left out; a parameter without a group is left
    out with ``exclude_no_group``; one in ``exclude_groups`` is left out.
    """

    exclude_groups: set = _dc_field(default_factory=set)
    include_groups: set = _dc_field(default_factory=set)
    exclude_no_group: bool = False
    exclude_all: bool = False
    name: Optional[str] = None

    def __post_init__(self):
        self.exclude_groups = set(self.exclude_groups)
        self.include_groups = set(self.include_groups)

    def __set_name__(self, owner, name):
        # `checkpoints = partial(...)` in a class body names the partial folder.
        if self.name is None:
            self.name = name

    def __hash__(self) -> int:
        return id(self)

    def is_excluded(self, groups: set) -> bool:
        if groups and (groups & self.include_groups):
            return False
        if self.exclude_all:
            return True
        if not groups and self.exclude_no_group:
            return True
        return bool(groups and (groups & self.exclude_groups))


def partial(
    *,
    exclude_groups: list | None = None,
    include_groups: list | None = None,
    exclude_no_group: bool = False,
    exclude_all: bool = False,
    exclude: list | None = None,
) -> Partial:
    """Create a partial: which groups a partial identifier leaves out.

    ``exclude`` is accepted as an alias of ``exclude_groups`` (the reference's
    PathGenerator example spells it so).
    """
    groups = list(exclude_groups or []) + list(exclude or [])
    return Partial(
        exclude_groups=set(groups),
        include_groups=set(include_groups or []),
        exclude_no_group=exclude_no_group,
        exclude_all=exclude_all,
    )


class field:  # noqa: N801 - the reference's name
    """Extra properties of a field: default, default factory, identifier rule, groups."""

    __slots__ = (
        "default",
        "default_factory",
        "ignore_default",
        "ignore_generated",
        "overrides",
        "groups",
        "has_default",
    )

    def __init__(
        self,
        *,
        default: Any = None,
        default_factory: Callable | None = None,
        ignore_default: bool | Any = None,
        ignore_generated: bool = False,
        overrides: bool = False,
        groups: list | None = None,
    ):
        if default is not None and default_factory is not None:
            msg = (
                "field(): default and default_factory are exclusive; "
                f"got default={default!r} and default_factory={default_factory!r}"
            )
            raise InvalidArgumentError(msg)
        if default is None and default_factory is None and ignore_default is not None:
            if not isinstance(ignore_default, bool):
                # Legacy spelling: field(ignore_default=value) means default=value.
                default, ignore_default = ignore_default, True
        elif ignore_default is not None and not isinstance(ignore_default, bool):
            msg = (
                "field(): ignore_default must be True or False when default or "
                f"default_factory is given (got {ignore_default!r})"
            )
            raise InvalidArgumentError(msg)
        if default_factory is not None and not callable(default_factory):
            msg = f"field(): default_factory must be callable (got {default_factory!r})"
            raise InvalidTypeError(msg)
        self.default = default
        self.default_factory = default_factory
        self.ignore_default = bool(ignore_default)
        self.ignore_generated = ignore_generated
        self.overrides = overrides
        self.groups = set(groups) if groups else set()
        self.has_default = default is not None or default_factory is not None

    def __repr__(self) -> str:
        return (
            f"field(default={self.default!r}, default_factory={self.default_factory!r}, "
            f"ignore_default={self.ignore_default})"
        )


class Argument:
    """A declared field of a configuration class.

    ``required``: neither optional nor with a default; ``default``: the value
    compared for ``ignore_default``; ``factory``: called at construction
    (``Param``) or at seal time (``Meta``, generators).
    """

    __slots__ = (
        "name",
        "type",
        "optional",
        "required",
        "ignored",
        "constant",
        "is_data",
        "default",
        "has_default",
        "factory",
        "factory_at_seal",
        "generator",
        "ignore_default",
        "ignore_generated",
        "groups",
        "help",
        "owner",
        "name_bytes",
        "overrides",
    )

    def __init__(
        self,
        name: str,
        type: TypeSpec,
        *,
        optional: bool = False,
        hint: FieldHint = _PARAM,
        declared: Any = None,
        owner: type | None = None,
        help: str | None = None,
    ):
        from .pathgen import Generator
        from .types import PathSpec

        self.name = name
        self.type = type
        self.optional = optional
        # As in the reference (PathType.ignore): a field typed Path is left out
        # of the identifier even when declared Param[Path].
        self.ignored = hint.ignored or isinstance(type, PathSpec)
        self.constant = hint.constant
        self.is_data = hint.is_data
        self.help = help or hint.help
        self.owner = owner
        self.default = None
        self.has_default = False
        self.factory = None
        self.factory_at_seal = False
        self.generator = None
        self.ignore_default = False
        self.ignore_generated = False
        self.groups: set = set()
        self.overrides = False
        # `03 name 05`: the bytes that open this field in an identifier.
        self.name_bytes = b"\x03" + name.encode("utf-8") + b"\x05"

        if isinstance(declared, field):
            self.groups = declared.groups
            self.ignore_generated = declared.ignore_generated
            self.overrides = declared.overrides
            if declared.default is not None:
                self.default = declared.default
                self.has_default = True
                self.ignore_default = declared.ignore_default
            elif declared.default_factory is not None:
                self.factory = declared.default_factory
                self.has_default = True
                if isinstance(declared.default_factory, Generator):
                    self.generator = declared.default_factory
                    self.factory_at_seal = True
                elif self.ignored:
                    self.factory_at_seal = True
                else:
                    # The default a Param value is compared with (ignore_default).
                    self.default = declared.default_factory()
                    self.ignore_default = declared.ignore_default
        elif isinstance(declared, Generator):
            self.generator = declared
            self.factory = declared
            self.factory_at_seal = True
            self.has_default = True
        elif declared is not None:
            # A bare class default: deprecated; the default is left out of the
            # identifier when the value equals it.
            self.default = declared
            self.has_default = True
            self.ignore_default = True

        partial = getattr(self.generator, "partial", None)
        if partial is not None and partial.name is None:
            # An inline partial(...) is named after the field it generates.
            partial.name = name
        self.required = not optional and not self.has_default
        if self.constant and not self.has_default:
            from ..errors import DeclarationError

            msg = (
                f"{_owner_name(owner)}.{name}: a Constant needs a default value, "
                f"e.g. `{name}: Constant[str] = \"1.0\"`"
            )
            raise DeclarationError(msg)

    def __repr__(self) -> str:
        kind = "Constant" if self.constant else "Meta" if self.ignored else "Param"
        return f"{kind}[{self.name}: {self.type}]"

    def isoutput(self) -> bool:
        return self.generator is not None and self.generator.isoutput()


def _owner_name(owner) -> str:
    return owner.__qualname__ if owner is not None else "<config>"
