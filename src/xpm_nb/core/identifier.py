"""Configuration identifiers: the byte format of ``shared/specs/identifiers.md``.

An identifier is the SHA-256 of a tagged byte stream. The encoders below
append ``bytes`` pieces to a list that is hashed once per configuration;
exact-type dispatch comes first because it is the hot path, and the
``isinstance`` chain after it keeps the spec's order for subclasses (bool and
IntEnum as ints, str-valued enums as strs, numpy floats as floats...).
"""

from __future__ import annotations

import enum
import struct
from hashlib import sha256

from ..errors import IdentifierError, MissingFieldError
from .objects import ConfigMixin, InstanceConfig

__all__ = ["ConfigIdentifier", "Identifier", "identifier", "partial_identifier"]

_pack_q = struct.Struct(">q").pack
_pack_d = struct.Struct(">d").pack

OBJECT = b"\x00"
INT = b"\x01"
FLOAT = b"\x02"
STR = b"\x03"
NAME = b"\x05"
NONE = b"\x06"
LIST = b"\x07"
TASK = b"\x08"
DICT = b"\x09"
ENUM = b"\x0a"
CYCLE = b"\x0b"
INIT_TASKS = b"\x0c"
INSTANCE = b"\x0d"
SET = b"\x0e"


class ConfigIdentifier:
    """The content hash of a configuration: ``all`` (32 bytes), ``hex()``.

    (``xpm_nb.Identifier`` is the reference's type-name identifier, the
    value of ``__xpmid__``: see ``core/xpmtype.py``.)
    """

    __slots__ = ("main", "has_loops")

    def __init__(self, main: bytes, has_loops: bool = False):
        self.main = main
        self.has_loops = has_loops

    @property
    def all(self) -> bytes:
        return self.main

    def hex(self) -> str:
        return self.main.hex()

    def state_dict(self) -> str:
        return self.main.hex()

    @staticmethod
    def from_state_dict(data) -> ConfigIdentifier:
        if isinstance(data, dict):
            data = data["main"]
        return ConfigIdentifier(bytes.fromhex(data))

    def __eq__(self, other) -> bool:
        return isinstance(other, ConfigIdentifier) and other.main == self.main

    def __hash__(self) -> int:
        return hash(self.main)

    def __repr__(self) -> str:
        return self.main.hex()

    __str__ = __repr__


# The reference's name for the content hash in this module
# (``experimaestro.core.identifier.Identifier``).
Identifier = ConfigIdentifier


class _Path:
    """Traversal state: the stack of configs being digested, loop flags, instances."""

    __slots__ = ("index", "loops", "instances")

    def __init__(self):
        self.index: dict[int, int] = {}
        self.loops: list[bool] = []
        self.instances: dict[bytes, list[int]] = {}


def identifier(config) -> ConfigIdentifier:
    """The identifier of ``config`` (cached once the config is sealed)."""
    info = config.__xpm__
    cached = info._identifier
    if cached is not None:
        return cached
    path = _Path()
    main, loops = _compute(config, path, None)
    ident = ConfigIdentifier(main, loops)
    if info.sealed:
        info._identifier = ident
    return ident


def partial_identifier(config, partial) -> ConfigIdentifier:
    """The identifier of ``config`` leaving out the parameter groups ``partial`` excludes."""
    path = _Path()
    main, loops = _compute(config, path, partial)
    return ConfigIdentifier(main, loops)


def _compute(config, path: _Path, partial) -> tuple[bytes, bool]:
    key = id(config)
    path.index[key] = len(path.loops)
    path.loops.append(False)
    try:
        out = []
        _own(config, out, path, partial)
        return sha256(b"".join(out)).digest(), path.loops[-1]
    finally:
        path.loops.pop()
        del path.index[key]


def _own(config, out: list, path: _Path, partial) -> None:
    """The content of a config's own digest."""
    xpmtype = config.__xpmtype__
    if xpmtype.deprecation is not None and hasattr(config, "__convert__"):
        # A deprecated config is identified as what it converts to.
        return _own(config.__convert__(), out, path, partial)
    info = config.__xpm__
    out.append(OBJECT)
    task = info.task
    if task is not None and task is not config:
        out.append(TASK)
        _config(task, out, path)
    out.append(xpmtype.identifier_bytes)
    d = config.__dict__
    for arg in xpmtype.sorted_arguments:
        if partial is not None and partial.is_excluded(arg.groups):
            continue
        name = arg.name
        if arg.ignored:
            value = d.get(name)
            if not isinstance(value, ConfigMixin) or value.__xpm__.meta is not False:
                continue
        if arg.generator is not None:
            continue
        try:
            value = d[name]
        except KeyError:
            if arg.factory is not None and arg.default is not None:
                value = arg.default
            elif arg.required:
                cls = xpmtype.cls.__qualname__
                msg = (
                    f"{cls}.{name} is not set, so the identifier of {cls} cannot be "
                    f"computed. Fix: set it, e.g. {cls}.C({name}=...)"
                )
                raise MissingFieldError(msg) from None
            else:
                value = None
        if not arg.constant:
            if value is None and arg.default is None and not arg.required:
                continue
            if (
                arg.ignore_default
                and arg.default is not None
                and arg.default == _remove_meta(value)
            ):
                continue
        if isinstance(value, ConfigMixin) and value.__xpm__.meta:
            continue
        out.append(arg.name_bytes)
        try:
            _value(value, out, path)
        except IdentifierError as exc:
            msg = _where(f"{xpmtype.cls.__qualname__}.{name}", exc)
            raise IdentifierError(msg) from None
    if info.init_tasks:
        out.append(INIT_TASKS)
        for init_task in info.init_tasks:
            _config(init_task, out, path)


def _config(value, out: list, path: _Path) -> None:
    """A nested config: its digest (or a cycle reference), then its instance rank."""
    out.append(OBJECT)
    index = path.index.get(id(value))
    if index is not None:
        loops = path.loops
        for i in range(index, len(loops)):
            loops[i] = True
        out.append(CYCLE)
        out.append(_pack_q(len(loops) - index))
        return
    info = value.__xpm__
    cached = info._identifier
    if info.sealed and cached is not None and not cached.has_loops:
        digest = cached.main
    else:
        digest = _compute(value, path, None)[0]
    out.append(digest)
    if isinstance(value, InstanceConfig):
        seen = path.instances.get(digest)
        if seen is None:
            path.instances[digest] = [id(value)]
        else:
            if id(value) not in seen:
                seen.append(id(value))
            rank = seen.index(id(value))
            if rank > 0:
                out.append(INSTANCE)
                out.append(_pack_q(rank))


def _where(prefix: str, exc: IdentifierError) -> str:
    """Prefix an error's field path; a nested config's own path follows after ' -> '."""
    text = str(exc)
    if text.startswith((":", "[")):
        return prefix + text
    return f"{prefix} -> {text}"


def _is_meta(value) -> bool:
    return isinstance(value, ConfigMixin) and bool(value.__xpm__.meta)


def _remove_meta(value):
    if isinstance(value, list):
        return [v for v in value if not _is_meta(v)]
    if isinstance(value, set):
        return {v for v in value if not _is_meta(v)}
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not _is_meta(v)}
    return value


def _int(value: int, out: list) -> None:
    try:
        out.append(INT + _pack_q(value))
    except struct.error:
        msg = f": the int {value} is out of the 64-bit range the identifier can encode"
        raise IdentifierError(msg) from None


def _value(value, out: list, path: _Path) -> None:  # noqa: C901 - one dispatch table
    t = type(value)
    if t is str:
        out.append(STR)
        try:
            out.append(value.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate in a field typed Any
            raise IdentifierError(_unencodable(value)) from None
    elif t is int:
        _int(value, out)
    elif t is float:
        out.append(FLOAT + _pack_d(value))
    elif value is None:
        out.append(NONE)
    elif t is bool:
        out.append(INT + _pack_q(int(value)))
    elif isinstance(value, ConfigMixin) and t.__dict__.get("_xpm_config_type"):
        _config(value, out, path)
    elif t is list:
        _list(value, out, path)
    else:
        _value_slow(value, out, path)


def _list(value, out, path) -> None:
    items = [v for v in value if not _is_meta(v)]
    out.append(LIST + _pack_d(len(items)))
    for i, item in enumerate(items):
        try:
            _value(item, out, path)
        except IdentifierError as exc:
            raise IdentifierError(_where(f"[{i}]", exc)) from None


def _value_slow(value, out: list, path: _Path) -> None:
    # The spec's order of tests, for subclasses of the basic types.
    if isinstance(value, float):
        out.append(FLOAT + _pack_d(value))
    elif isinstance(value, int):
        _int(int(value), out)
    elif isinstance(value, str):
        out.append(STR)
        try:
            out.append(str.encode(value, "utf-8"))
        except UnicodeEncodeError:
            raise IdentifierError(_unencodable(value)) from None
    elif isinstance(value, list):
        _list(value, out, path)
    elif isinstance(value, (set, frozenset)):
        items = [v for v in value if not _is_meta(v)]
        out.append(SET + _pack_d(len(items)))
        for item in sorted(items, key=_standalone_digest):
            _value(item, out, path)
    elif isinstance(value, enum.Enum):
        k = type(value)
        out.append(ENUM)
        out.append(f"{k.__module__}.{k.__qualname__}:{value.name}".encode())
    elif isinstance(value, dict):
        out.append(DICT)
        items = [(k, v) for k, v in value.items() if not _is_meta(v)]
        try:
            items.sort(key=lambda kv: kv[0])
        except TypeError:  # the spec orders entries by key: keys must compare
            kinds = sorted({type(k).__qualname__ for k, _ in items})
            msg = (f": the keys of a dict must be comparable to be ordered (the identifier "
                   f"sorts them), got keys of types {', '.join(kinds)} in {value!r}; "
                   "use keys of one type (e.g. all str)")
            raise IdentifierError(msg) from None
        for k, v in items:
            _value(k, out, path)
            try:
                _value(v, out, path)
            except IdentifierError as exc:
                raise IdentifierError(_where(f"[{k!r}]", exc)) from None
    elif isinstance(value, ConfigMixin):
        _config(value, out, path)
    else:
        msg = (
            f": the identifier cannot encode {value!r} (a {type(value).__qualname__}); "
            "use None, a bool, int, float, str, list, set, dict, Enum or a Config"
        )
        raise IdentifierError(msg)


def _unencodable(value: str) -> str:
    return (
        f": the str {value!r} holds a lone surrogate, which UTF-8 cannot encode. Fix: use "
        "a pathlib.Path for file names, or decode with errors='replace'"
    )


def _standalone_digest(value) -> bytes:
    """Sort key of a set element: the digest of its encoding alone."""
    out: list = []
    _value(value, out, _Path())
    return sha256(b"".join(out)).digest()
