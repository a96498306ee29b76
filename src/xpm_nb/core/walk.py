"""Walks over configuration trees: sealing."""

from __future__ import annotations

import functools
import site
import sys
import sysconfig
from pathlib import Path

from ..errors import MissingFieldError
from .objects import ConfigMixin, _is_generated, check_not_generated

__all__ = ["seal_tree", "iter_children", "import_roots"]


def iter_children(value, name: str = ""):
    """Yield (field path, config) for the configs directly inside ``value``."""
    if isinstance(value, ConfigMixin):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from iter_children(item, f"{name}/{i}" if name else str(i))
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from iter_children(item, f"{name}/{k}" if name else str(k))
    elif isinstance(value, (set, frozenset)):
        for i, item in enumerate(value):
            yield from iter_children(item, f"{name}/{i}" if name else str(i))


def seal_tree(config, context=None) -> None:
    """Seal ``config`` and all configs below it.

    Children first; generated fields filled from ``context`` (a config already
    sealed without a context gets them now); every missing required field is
    reported at once, with its path from the root.
    """
    missing: list[str] = []
    if context is not None:
        _check_generated(config, config, set())
    _seal(config, context, set(), missing, config.__xpmtype__.cls.__qualname__,
          config)
    if missing:
        root = config.__xpmtype__.cls.__qualname__
        msg = (
            f"{root} cannot be sealed: required field(s) not set: {', '.join(missing)}. "
            "Fix: set them when building the configuration, e.g. "
            f"{root}.C(<field>=...)"
        )
        raise MissingFieldError(msg)


def _check_generated(config, root, visited: set) -> None:
    """Refuse a tree that holds configurations whose values (``PathGenerator``)
    were generated for another task than ``root`` (AttributeError)."""
    if id(config) in visited:
        return
    visited.add(id(config))
    d = config.__dict__
    for argument in config.__xpmtype__.sorted_arguments:
        if argument.name not in d or argument.ignore_generated:
            continue
        value = d[argument.name]
        check_not_generated(config, argument.name, value, root)
        for _, child in iter_children(value):
            if child.__xpm__.task is None:
                _check_generated(child, root, visited)


def _seal(config, context, visited: set, missing: list, where: str, root=None) -> None:
    if id(config) in visited:
        return
    visited.add(id(config))
    info = config.__xpm__
    xpmtype = config.__xpmtype__
    d = config.__dict__
    for argument in xpmtype.sorted_arguments:
        if argument.name not in d:
            continue
        value = d[argument.name]
        for sub, child in iter_children(value):
            label = f"{where}.{argument.name}" + (f"[{sub}]" if sub else "")
            if child.__xpm__.task is not None and child.__xpm__.task is not child:
                continue  # the output of another task: sealed with that task
            if context is not None:
                key = argument.name + (f"/{sub}" if sub else "")
                with context.push(key):
                    _seal(child, context, visited, missing, label, root)
            else:
                _seal(child, None, visited, missing, label, root)
    for argument in xpmtype.seal_factories:
        if argument.name in d:
            continue
        if argument.generator is not None:
            if context is not None:  # generators need the job's context
                d[argument.name] = argument.generator(context, config)
                if not argument.ignore_generated:
                    _mark_generated(info, argument.name, root)
        else:
            # A plain factory on a Meta field needs no context: call it now.
            d[argument.name] = argument.factory()
    if context is not None:
        # A configuration holding one with generated values has them too.
        for argument in xpmtype.sorted_arguments:
            if argument.name in d and not argument.ignore_generated and any(
                    _is_generated(child) for _, child in iter_children(d[argument.name])):
                _mark_generated(info, argument.name, root)
    if info.sealed:
        return
    for argument in xpmtype.sorted_arguments:
        if argument.required and argument.name not in d:
            missing.append(f"{where}.{argument.name} ({argument.type})")
    if missing:
        return
    config.__validate__()
    info.sealed = True


def _mark_generated(info, name: str, root) -> None:
    if name not in info.generated:
        info.generated.append(name)
    info.generated_for = root


def import_roots(config) -> list[str]:
    """Folders outside the Python installation that the tree's classes come from.

    A notebook imports a module that sits next to it (its folder is the
    kernel's working directory, on ``sys.path``); the job process runs in its
    job folder and would not find it. These folders go on the job's
    ``PYTHONPATH``.
    """
    roots: list[str] = []
    seen: set[int] = set()
    stack = [config]
    while stack:
        cfg = stack.pop()
        if id(cfg) in seen:
            continue
        seen.add(id(cfg))
        root = _import_root(type(cfg).__xpmtype__.cls)
        if root is not None and root not in roots:
            roots.append(root)
        stack.extend(cfg.__xpm__.init_tasks or ())
        for value in cfg.__dict__.values():
            stack.extend(child for _, child in iter_children(value))
    return roots


@functools.lru_cache(maxsize=1)
def _installation_paths() -> tuple[Path, ...]:
    paths = {Path(p).resolve() for p in sysconfig.get_paths().values()}
    paths.update(Path(p).resolve() for p in site.getsitepackages())
    paths.add(Path(site.getusersitepackages()).resolve())
    return tuple(paths)


def _import_root(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if cls.__module__ == "__main__" or file is None:
        return None  # shipped by value (params.py), not imported
    path = Path(file).resolve()
    depth = cls.__module__.count(".") + (2 if path.name == "__init__.py" else 1)
    if depth > len(path.parents):
        return None
    root = path.parents[depth - 1]
    installed = _installation_paths()
    if any(root == p or p in root.parents for p in installed):
        return None
    return str(root)
