"""Click integration: ``forwardoption`` turns a configuration field into a click option.

::

    @click.command()
    @forwardoption.lr(Learner)                       # --lr, typed and documented as Learner.lr
    @forwardoption.optimizer.epsilon(Learner, "eps")  # --eps for Learner.optimizer.epsilon
    def main(lr, eps): ...

The path after ``forwardoption`` names fields, through nested configurations.
The option takes the field's type, default and help text. ``click`` is
imported here only (``import xpm_nb`` never loads it).
"""

from __future__ import annotations

from pathlib import Path

import click

from .core import types as _types
from .errors import ConfigError

__all__ = ["forwardoption"]


def _argument(cls, path: list[str]):
    """The field of ``cls`` at ``path`` (``["optimizer", "epsilon"]``)."""
    if not path:
        msg = ("forwardoption needs a field path: e.g. @forwardoption.lr(MyConfig) "
               "or @forwardoption.optimizer.epsilon(MyConfig)")
        raise ConfigError(msg)
    current = cls
    argument = None
    for depth, name in enumerate(path):
        xpmtype = getattr(current, "__xpmtype__", None)
        if xpmtype is None:
            where = ".".join(path[:depth]) or cls.__qualname__
            msg = (f"forwardoption.{'.'.join(path)}: {where} is not a configuration "
                   f"(got {current!r}); only fields of Config classes can be forwarded")
            raise ConfigError(msg)
        argument = xpmtype.arguments.get(name)
        if argument is None:
            names = ", ".join(sorted(xpmtype.arguments)) or "(none)"
            msg = (f"forwardoption.{'.'.join(path)}: {xpmtype.cls.__qualname__} has no field "
                   f"{name!r}. Its fields are: {names}")
            raise ConfigError(msg)
        spec = argument.type
        if isinstance(spec, _types.OptionalSpec):
            spec = spec.inner
        current = getattr(spec, "cls", None) if isinstance(spec, _types.ConfigSpec) else None
    return argument


def _click_type(spec):
    if isinstance(spec, _types.OptionalSpec):
        spec = spec.inner
    if isinstance(spec, _types.IntSpec):
        return click.INT
    if isinstance(spec, _types.FloatSpec):
        return click.FLOAT
    if isinstance(spec, _types.BoolSpec):
        return click.BOOL
    if isinstance(spec, _types.PathSpec):
        return click.Path(path_type=Path)
    if isinstance(spec, _types.EnumSpec):
        return click.Choice(list(spec.cls.__members__))
    if isinstance(spec, _types.LiteralSpec):
        return click.Choice([str(v) for v in spec.values])
    return click.STRING


class _ForwardOptionMeta(type):
    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return cls([name])


class forwardoption(metaclass=_ForwardOptionMeta):  # noqa: N801 - the reference's name
    """Allows to access an argument of the configuration as a click option.

    ``@forwardoption.ranker.optimizer.epsilon(MyConfig)`` or
    ``@forwardoption.ranker.optimizer.epsilon(MyConfig, "option-name")``.
    """

    def __init__(self, path=()):
        self.path = list(path)

    def __getattr__(self, name: str) -> forwardoption:
        if name.startswith("__"):
            raise AttributeError(name)
        return forwardoption([*self.path, name])

    def __call__(self, cls, option_name: str | None = None, **kwargs):
        argument = _argument(cls, self.path)
        name = option_name or argument.name.replace("_", "-")
        if not name.startswith("-"):
            name = f"--{name}"
        if "default" not in kwargs and argument.has_default:
            default = argument.default
            kwargs["default"] = default.name if hasattr(default, "name") and isinstance(
                _click_type(argument.type), click.Choice) else default
            kwargs.setdefault("show_default", True)
        kwargs.setdefault("help", argument.help or "")
        kwargs.setdefault("type", _click_type(argument.type))
        return click.option(name, **kwargs)

    def __repr__(self) -> str:
        return f"forwardoption.{'.'.join(self.path)}"
