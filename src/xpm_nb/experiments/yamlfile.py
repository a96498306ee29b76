"""Experiment YAML files: loaded with the line of every key, merged, overridden.

Every value remembers where it came from (``file:line``, or the command-line
override that set it), so that an unknown key, a value of the wrong type or a
bad override is reported at its place in the files the user wrote.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.types import describe_value
from ..errors import ExperimentFileError

__all__ = ["Location", "Sources", "load_sources", "apply_overrides", "parse_override"]

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Location:
    """Where a value was written: a file and line, or a command-line override."""

    file: str
    line: int | None = None
    override: str | None = None  # the KEY=VALUE text of an override

    def __str__(self) -> str:
        if self.override is not None:
            return f"{self.file} ({self.override!r})"
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Sources:
    """The merged values of the YAML files and overrides, and where each was set."""

    values: dict
    where: dict[KeyPath, Location]
    main: Path  # the experiment's YAML file (relative paths are relative to its folder)
    files: list[Path]  # every YAML file read, in merge order

    def location(self, path: KeyPath) -> Location:
        """Where ``path`` (or its closest parent) was set; the main file otherwise."""
        for n in range(len(path), 0, -1):
            loc = self.where.get(path[:n])
            if loc is not None:
                return loc
        return Location(str(self.main))


class _LocatedDict(dict):
    """A mapping from a YAML file that knows the line of each of its keys."""

    lines: dict


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that records key lines and refuses duplicate keys."""

    def construct_located_map(self, node: yaml.MappingNode):
        data = _LocatedDict()
        data.lines = {}
        yield data
        self.flatten_mapping(node)  # YAML merge keys (<<)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in data:
                msg = (f"{self.name}:{line}: duplicate key {key!r} (first at line "
                       f"{data.lines[key]}). Fix: keep one of them")
                raise ExperimentFileError(msg)
            data[key] = self.construct_object(value_node, deep=True)
            data.lines[key] = line


    def compose_document(self):
        node = super().compose_document()
        _check_expansion(node, self.name)
        return node


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_located_map)

MAX_NODES = 100_000
"""At most this many values in an experiment file once its aliases are expanded."""


def _check_expansion(root, name: str) -> None:
    """Refuse a file whose aliases (``*a``) expand to more than :data:`MAX_NODES`
    values (a "billion laughs" of a few hundred bytes) or to themselves (a cycle):
    reading it would never end. Nodes shared by aliases are counted each time."""
    sizes: dict[int, int] = {}  # node -> values once expanded (memo: linear time)
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            children = _children(node)
            size = 1 + sum(sizes[id(c)] for c in children)
            sizes[key] = size
            if size > MAX_NODES:
                line = node.start_mark.line + 1
                msg = (f"{name}:{line}: its aliases (*name) expand to more than {MAX_NODES} "
                       "values: refused (an alias bomb?). Fix: write the values out, or use "
                       "fewer nested aliases")
                raise ExperimentFileError(msg)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1
            msg = (f"{name}:{line}: an alias (*name) refers to a value that contains it "
                   "(a cycle): refused. Fix: remove the alias from inside its anchor")
            raise ExperimentFileError(msg)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _read_yaml(path: Path) -> tuple[dict, dict[KeyPath, Location]]:
    try:
        text = path.read_text()
    except OSError as exc:
        msg = f"{path}: cannot read the experiment file ({exc.strerror})"
        raise ExperimentFileError(msg) from None
    loader = None
    try:
        # The loader checks the characters as it is built: inside the try.
        loader = _LineLoader(text)
        loader.name = str(path)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        msg = f"{path}{line}: not valid YAML: {exc.problem or exc.context}"
        raise ExperimentFileError(msg) from None
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise ExperimentFileError(msg) from None
    except RecursionError:
        msg = f"{path}: values nested too deeply to be read. Fix: flatten the file"
        raise ExperimentFileError(msg) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        data = _LocatedDict()
        data.lines = {}
    if not isinstance(data, dict):
        msg = f"{path}:1: an experiment file is a mapping of keys (id: ..., file: ...), got a {type(data).__name__}"
        raise ExperimentFileError(msg)
    where: dict[KeyPath, Location] = {}
    return _plain(data, (), path, where), where


def _plain(value: Any, path: KeyPath, file: Path, where: dict) -> Any:
    """Plain dicts and lists, recording the line of each key in ``where``."""
    if isinstance(value, dict):
        lines = getattr(value, "lines", {})
        out = {}
        for key, item in value.items():
            sub = (*path, str(key))
            if key in lines:
                where[sub] = Location(str(file), lines[key])
            out[str(key) if not isinstance(key, str) else key] = _plain(item, sub, file, where)
        return out
    if isinstance(value, list):
        return [_plain(v, (*path, str(i)), file, where) for i, v in enumerate(value)]
    return value


def _merge(base: dict, base_where: dict, top: dict, top_where: dict, path: KeyPath = ()):
    """Deep-merge ``top`` into ``base`` (mappings merged, anything else replaced)."""
    for key, value in top.items():
        sub = (*path, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base_where[sub] = top_where.get(sub, base_where.get(sub))
            _merge(base[key], base_where, value, top_where, sub)
            continue
        for k in [k for k in base_where if k[: len(sub)] == sub]:
            del base_where[k]
        base[key] = value
        for k, loc in top_where.items():
            if k[: len(sub)] == sub:
                base_where[k] = loc


def _load_file(path: Path, stack: tuple[Path, ...], files: list[Path]):
    """A file merged over its ``parent`` and ``imports`` (in order)."""
    path = path.resolve()
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        msg = f"{stack[-1]}: YAML imports form a cycle: {chain}"
        raise ExperimentFileError(msg)
    values, where = _read_yaml(path)
    merged: dict = {}
    merged_where: dict = {}
    bases: list[tuple[Any, KeyPath]] = []
    parent = values.get("parent")
    if parent is not None:
        bases.append((parent, ("parent",)))
    imports = values.get("imports")
    if imports is not None:
        if not isinstance(imports, list):
            loc = where.get(("imports",), Location(str(path)))
            msg = f"{loc}: imports: expected a list of YAML files, got {imports!r}"
            raise ExperimentFileError(msg)
        bases.extend((item, ("imports", str(i))) for i, item in enumerate(imports))
    for item, key in bases:
        loc = where.get((key[0],), Location(str(path)))
        if not isinstance(item, str):
            msg = f"{loc}: {key[0]}: expected a YAML file path, got {item!r}"
            raise ExperimentFileError(msg)
        target = path.parent / item
        if not target.is_file() and target.with_name(target.name + ".yaml").is_file():
            target = target.with_name(target.name + ".yaml")  # as the reference: .yaml added
        if not target.is_file():
            msg = f"{loc}: {key[0]}: no file {target}. Fix: give a path relative to {path.parent}"
            raise ExperimentFileError(msg)
        base, base_where = _load_file(target, (*stack, path), files)
        _merge(merged, merged_where, base, base_where)
    _merge(merged, merged_where, values, where)
    files.append(path)
    return merged, merged_where


def load_sources(main: Path, pre: list[Path] = (), post: list[Path] = ()) -> Sources:
    """Load ``main`` with its imports; ``pre`` files are merged before it, ``post`` after."""
    main = Path(main).absolute()
    values: dict = {}
    where: dict = {}
    files: list[Path] = []
    for path in [*pre, main, *post]:
        v, w = _load_file(Path(path), (), files)
        _merge(values, where, v, w)
    return Sources(values, where, main, files)


def parse_override(text: str, index: int) -> tuple[KeyPath, Any, Location]:
    """``a.b=VALUE`` -> (("a", "b"), value read as YAML, its location)."""
    loc = Location(f"command-line override #{index}", override=text)
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        msg = f"{loc}: expected KEY=VALUE (e.g. lr=0.01 or model.hidden=64)"
        raise ExperimentFileError(msg)
    parts = tuple(key.split("."))
    if any(not p for p in parts):
        msg = f"{loc}: {key!r} is not a key path (names separated by dots, e.g. model.hidden)"
        raise ExperimentFileError(msg)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        msg = f"{loc}: the value {raw!r} is not valid YAML ({exc}). Fix: quote it, e.g. {key}='\"...\"'"
        raise ExperimentFileError(msg) from None
    return parts, value, loc


def apply_overrides(sources: Sources, overrides: list[str]) -> None:
    """Set each ``KEY=VALUE`` override in ``sources`` (later overrides win)."""
    for index, text in enumerate(overrides, 1):
        parts, value, loc = parse_override(text, index)
        node = sources.values
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
                sources.where[parts[: depth + 1]] = loc  # a mapping this override created
            elif not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                msg = (f"{loc}: {prefix} is {describe_value(child)} (set at "
                       f"{sources.location(parts[: depth + 1])}), it has no key {parts[depth + 1]!r}")
                raise ExperimentFileError(msg)
            node = child
        node[parts[-1]] = value
        for k in [k for k in sources.where if k[: len(parts)] == parts]:
            del sources.where[k]
        sources.where[parts] = loc


def close_match(name: str, names) -> str:
    """`` Did you mean 'x'?`` or nothing."""
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
