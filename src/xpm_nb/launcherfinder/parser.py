"""``parse()``: a requirement expression → :class:`HostRequirement`.

Grammar (``&`` binds tighter than ``|``; spaces are free)::

    requirement  := alternative ("|" alternative)*
    alternative  := term ("&" term)*
    term         := "duration" "=" NUMBER TIME_UNIT
                  | "cpu" "(" [arg ("," arg)*] ")"           args: mem=SIZE, cores=INT
                  | ("cuda" | "mps" | "gpu") "(" [arg] ")" ["*" INT]   arg: mem=SIZE
    TIME_UNIT    := s | sec | m | min | mins | minutes | h | hours | d | days (and singulars)
    SIZE         := NUMBER (B | K | KB | KiB | M | MB | MiB | G | GB | GiB | T | TB | TiB)

Sizes: ``KiB``/``MiB``/``GiB``/``TiB`` are powers of 1024, ``K(B)``/``M(B)``/
``G(B)``/``T(B)`` powers of 1000. Errors (:class:`LauncherSpecError`) give the
position and draw a caret under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LauncherSpecError
from .specs import (
    AcceleratorSpecification,
    CPUSpecification,
    CudaSpecification,
    HostRequirement,
    HostSimpleRequirement,
    MPSSpecification,
    RequirementUnion,
)

__all__ = ["parse", "parse_size", "parse_duration"]

TIME_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
SIZE_UNITS = {
    "b": 1, "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
}
ACCELERATORS = {"cuda": CudaSpecification, "mps": MPSSpecification,
                "gpu": AcceleratorSpecification}
TERMS = ("duration", "cpu", *ACCELERATORS)

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>[()=,&|*])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, op, end
    text: str
    pos: int


def _tokens(expr: str) -> list[_Token]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise _error(expr, pos, f"unexpected character {expr[pos]!r}")
        if m.lastgroup != "space":
            out.append(_Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    out.append(_Token("end", "", len(expr)))
    return out


def _error(expr: str, pos: int, what: str) -> LauncherSpecError:
    msg = (f"cannot parse the requirement {expr!r} at position {pos}: {what}\n"
           f"    {expr}\n    {' ' * pos}^")
    err = LauncherSpecError(msg)
    err.position, err.expression = pos, expr
    return err


class _Parser:
    def __init__(self, expr: str):
        self.expr = expr
        self.tokens = _tokens(expr)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def fail(self, what: str, tok: _Token | None = None):
        tok = tok or self.tok
        found = "the end" if tok.kind == "end" else repr(tok.text)
        raise _error(self.expr, tok.pos, f"{what} (found {found})")

    def take(self, text: str, what: str) -> _Token:
        if self.tok.text != text or self.tok.kind == "end":
            self.fail(what)
        tok = self.tok
        self.i += 1
        return tok

    def parse(self) -> HostRequirement:
        if self.tok.kind == "end":
            self.fail("empty requirement; e.g. \"duration=4h & cuda(mem=8GiB)\"")
        alternatives = [self.alternative()]
        while self.tok.text == "|":
            self.i += 1
            alternatives.append(self.alternative())
        if self.tok.kind != "end":
            self.fail("expected '&' or '|' between two requirements")
        return RequirementUnion(*alternatives)  # always a union, as in the reference

    def alternative(self) -> HostSimpleRequirement:
        terms = [self.term()]
        while self.tok.text == "&":
            self.i += 1
            terms.append(self.term())
        return HostSimpleRequirement(*terms)

    def term(self) -> HostSimpleRequirement:
        tok = self.tok
        if tok.text == "(":
            self.fail("parentheses do not group requirements: write alternatives with '|', "
                      "e.g. \"duration=4h & cuda(mem=8GiB) | duration=4h & mps(mem=8GiB)\"")
        if tok.kind != "name":
            self.fail(f"expected a requirement: {', '.join(TERMS)}")
        name = tok.text.lower()
        if name not in TERMS:
            self.fail(f"unknown requirement {tok.text!r}; expected one of {', '.join(TERMS)}")
        self.i += 1
        if name == "duration":
            self.take("=", "expected '=' after 'duration' (e.g. duration=4h)")
            return HostSimpleRequirement(duration=self.quantity(TIME_UNITS, "duration",
                                                                "a duration such as 40h"))
        args = self.arguments(name, ("mem", "cores") if name == "cpu" else ("mem",))
        if name == "cpu":
            return HostSimpleRequirement(cpu=CPUSpecification(memory=args.get("mem", 0),
                                                              cores=args.get("cores", 0)))
        count = 1
        if self.tok.text == "*":
            self.i += 1
            tok = self.tok
            if tok.kind != "number" or "." in tok.text or int(tok.text) < 1:
                self.fail(f"expected a whole number (at least 1) of {name} accelerators "
                          "after '*'")
            count = int(tok.text)
            self.i += 1
        spec = ACCELERATORS[name](memory=args.get("mem", 0))
        return HostSimpleRequirement(accelerators=[spec] * count)

    def arguments(self, name: str, allowed: tuple[str, ...]) -> dict[str, int]:
        self.take("(", f"expected '(' after {name!r} (e.g. {name}({allowed[0]}=...))")
        args: dict[str, int] = {}
        while self.tok.text != ")":
            tok = self.tok
            if tok.kind != "name" or tok.text.lower() not in allowed:
                self.fail(f"{name}() takes {' and '.join(a + '=' for a in allowed)}")
            key = tok.text.lower()
            if key in args:
                self.fail(f"{key}= is given twice in {name}()")
            self.i += 1
            self.take("=", f"expected '=' after {key!r}")
            if key == "cores":
                t = self.tok
                if t.kind != "number" or "." in t.text:
                    self.fail("expected a whole number of cores")
                args[key] = int(t.text)
                self.i += 1
            else:
                args[key] = self.quantity(SIZE_UNITS, "size", "a size such as 8GiB")
            if self.tok.text == ",":
                self.i += 1
            elif self.tok.text != ")":
                self.fail(f"expected ',' or ')' in {name}()")
        self.i += 1
        return args

    def quantity(self, units: dict[str, int], kind: str, example: str) -> int:
        tok = self.tok
        if tok.kind != "number":
            self.fail(f"expected {example}")
        value = float(tok.text)
        self.i += 1
        unit = self.tok
        # "8GiB" is one number then one name; "8 GiB" is accepted too.
        if unit.kind != "name" or unit.text.lower() not in units:
            self.fail(f"expected a {kind} unit after {tok.text} "
                      f"({', '.join(_unit_names(units))})", unit)
        self.i += 1
        return int(round(value * units[unit.text.lower()]))


def _unit_names(units: dict[str, int]) -> list[str]:
    if units is SIZE_UNITS:
        return ["B", "K", "KB", "KiB", "M", "MB", "MiB", "G", "GB", "GiB", "T", "TB", "TiB"]
    return ["s", "m/min/mins", "h/hours", "d/days"]


def parse(expr: str) -> RequirementUnion:
    """Parse a requirement specification string into a :class:`HostRequirement`.

    ``parse("duration=40h & cpu(mem=700GiB) & cuda(mem=32GiB) * 2")`` asks for
    two CUDA GPUs with 32 GiB each, 700 GiB of RAM, for 40 hours; alternatives
    are separated by ``|`` in order of preference. Always a
    :class:`RequirementUnion` (of one alternative when there is no ``|``).
    """
    if not isinstance(expr, str):
        msg = f"parse() expects a str requirement, got {expr!r} (a {type(expr).__name__})"
        raise LauncherSpecError(msg)
    return _Parser(expr).parse()


def parse_size(text: str) -> int:
    """``"32GiB"`` → bytes (used for the sizes of the launchers file)."""
    return _standalone(text, SIZE_UNITS, "size", "a size such as 32GiB")


def parse_duration(text: str) -> int:
    """``"20h"`` → seconds (used for the durations of the launchers file)."""
    return _standalone(text, TIME_UNITS, "duration", "a duration such as 20h")


def _standalone(text: str, units: dict[str, int], kind: str, example: str) -> int:
    p = _Parser(str(text))
    value = p.quantity(units, kind, example)
    if p.tok.kind != "end":
        p.fail(f"expected only {example}")
    return value
