"""Job filter expressions of ``xpm-nb jobs ... --filter``, as in the reference CLI.

A boolean expression where tags (names) and job fields (``@state``,
``@name``, ``@task``, ``@id``) are compared to values::

    model = "bm25" and mode in ["a", "b"] and @state = "running"
    @task ~ "train" and not (lr = 0.1)

Operators: ``=``, ``!=``, ``~`` (regular expression search), ``in``,
``not in``; combined with ``and``, ``or``, ``not`` and parentheses. Values are
quoted strings, numbers or bare words; states compare case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import FilterSyntaxError

__all__ = ["parse_filter", "FilterSyntaxError"]


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w.]))
    | (?P<op>!=|=|~|\(|\)|\[|\]|,)
    | (?P<word>@?[A-Za-z_][\w.\-]*)
    )""", re.VERBOSE)

Predicate = Callable[[dict], bool]


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise FilterSyntaxError(_at(text, start, "unexpected character"))
        kind = m.lastgroup
        raw = m.group(kind)
        start = m.start(kind)
        if kind == "string":
            value: Any = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "number":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        else:
            value = raw
        out.append((kind, value, start))
        pos = m.end()
    return out


def _at(text: str, pos: int, message: str) -> str:
    return f"filter {text!r}: {message} at position {pos + 1}:\n  {text}\n  {' ' * pos}^"


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0):
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", None, len(self.text))

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def fail(self, message: str, token=None) -> FilterSyntaxError:
        pos = (token or self.peek())[2]
        return FilterSyntaxError(_at(self.text, pos, message))

    def is_word(self, word: str, offset: int = 0) -> bool:
        kind, value, _ = self.peek(offset)
        return kind == "word" and value.lower() == word

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.peek()[0] != "end":
            raise self.fail("expected `and`, `or` or the end")
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda job: any(p(job) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.is_word("and"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda job: all(p(job) for p in parts))

    def negation(self) -> Predicate:
        if self.is_word("not") and not self.is_word("in", 1):
            self.take()
            inner = self.negation()
            return lambda job: not inner(job)
        if self.peek()[:2] == ("op", "("):
            self.take()
            inner = self.disjunction()
            if self.take()[:2] != ("op", ")"):
                raise self.fail("expected `)`", self.tokens[self.i - 1] if self.i <= len(
                    self.tokens) else None)
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, name, pos = self.take()
        if kind != "word" or name.lower() in ("and", "or", "not", "in"):
            raise self.fail("expected a tag name or @state, @name, @task, @id",
                            (kind, name, pos))
        if self.is_word("not") and self.is_word("in", 1):
            self.take()
            self.take()
            values = self.value_list()
            return lambda job: not _in(job, name, values)
        if self.is_word("in"):
            self.take()
            values = self.value_list()
            return lambda job: _in(job, name, values)
        kind, op, _ = self.take()
        if kind != "op" or op not in ("=", "!=", "~"):
            raise self.fail("expected =, !=, ~, in or not in", self.tokens[self.i - 1]
                            if self.i <= len(self.tokens) else None)
        value = self.value()
        if op == "~":
            try:
                regex = re.compile(str(value))
            except re.error as exc:
                raise self.fail(f"bad regular expression ({exc})",
                                self.tokens[self.i - 1]) from None
            return lambda job: _get(job, name) is not None and bool(
                regex.search(str(_get(job, name))))
        if op == "=":
            return lambda job: _equal(job, name, value)
        return lambda job: not _equal(job, name, value)

    def value(self):
        kind, value, pos = self.take()
        if kind in ("string", "number"):
            return value
        if kind == "word" and not value.startswith("@"):
            return value
        raise self.fail("expected a value (a quoted string, a number or a word)",
                        (kind, value, pos))

    def value_list(self) -> list:
        if self.take()[:2] != ("op", "["):
            raise self.fail("expected `[` to start a list of values", self.tokens[self.i - 1]
                            if self.i <= len(self.tokens) else None)
        values = [self.value()]
        while self.peek()[:2] == ("op", ","):
            self.take()
            values.append(self.value())
        if self.take()[:2] != ("op", "]"):
            raise self.fail("expected `,` or `]`", self.tokens[self.i - 1]
                            if self.i <= len(self.tokens) else None)
        return values


def _get(job: dict, name: str):
    if name.startswith("@"):
        return job.get(name[1:])
    return job.get("tags", {}).get(name)


def _same(name: str, actual, expected) -> bool:
    if actual is None:
        return False
    if name == "@state":
        return str(actual).lower() == str(expected).lower()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    return str(actual) == str(expected)


def _equal(job: dict, name: str, value) -> bool:
    return _same(name, _get(job, name), value)


def _in(job: dict, name: str, values: list) -> bool:
    actual = _get(job, name)
    return any(_same(name, actual, v) for v in values)


def parse_filter(text: str) -> Predicate:
    """A predicate over job records (``{"state", "name", "task", "id", "tags"}``)."""
    if not text or not text.strip():
        return lambda job: True
    return _Parser(text).parse()
