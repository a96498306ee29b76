"""Lossless conversions of field values, as the reference (experimaestro 2.7.0) makes them.

The table was found by running the reference (pydantic's lax mode): what converts
and to what; everything else raises FieldTypeError, which is also a ValueError.
"""

from pathlib import Path

import pytest

from xpm_nb import Config, Param
from xpm_nb.errors import FieldTypeError


class I(Config):  # noqa: E742 - short names keep the case tables readable
    x: Param[int]


class F(Config):
    x: Param[float]


class B(Config):
    x: Param[bool]


class S(Config):
    x: Param[str]


class P(Config):
    x: Param[Path]


CONVERTED = [
    (I, 5.0, 5), (I, True, 1), (I, False, 0), (I, "5", 5), (I, " 5 ", 5), (I, "+5", 5),
    (I, "-5", -5), (I, "05", 5), (I, "5.0", 5), (I, "5.00", 5), (I, "1_000.0", 1000),
    (I, "5_0", 50), (I, b"5", 5), (I, -0.0, 0),
    (F, 5, 5.0), (F, True, 1.0), (F, "1e-3", 0.001), (F, " 1e-3 ", 0.001), (F, "1E3", 1000.0),
    (F, "5", 5.0), (F, ".5", 0.5), (F, "5.", 5.0), (F, "1_0.5", 10.5), (F, "-inf", float("-inf")),
    (F, "Infinity", float("inf")), (F, b"5", 5.0), (F, 10**20, 1e20),
    (B, 1, True), (B, 0, False), (B, 1.0, True), (B, 0.0, False), (B, "true", True),
    (B, "False", False), (B, "YES", True), (B, "no", False), (B, "on", True), (B, "off", False),
    (B, "t", True), (B, "f", False), (B, "y", True), (B, "n", False), (B, "1", True),
    (B, "0", False), (B, b"true", True),
    (S, "5", "5"),
    (P, "a/b", Path("a/b")), (P, "", Path(".")),
]

REFUSED = [
    (I, 5.5), (I, "1e-3"), (I, "1e3"), (I, "abc"), (I, ""), (I, "true"), (I, "5."),
    (I, "5.5"), (I, "0x10"), (I, "_5"), (I, "5_"), (I, "\u0665"), (I, float("nan")),
    (I, float("inf")), (I, 1e20), (I, Path("a")), (I, [1]),
    (F, "abc"), (F, ""), (F, "true"), (F, "0x10"), (F, "\u0665"), (F, 2**1100), (F, [1]),
    (B, 2), (B, 0.5), (B, "5"), (B, " true"), (B, "1.0"), (B, ""), (B, float("nan")), (B, [1]),
    (S, 5), (S, 5.0), (S, True), (S, b"5"), (S, Path("a")),
    (P, 5), (P, True), (P, b"5"),
]


@pytest.mark.parametrize("cls, value, expected", CONVERTED, ids=repr)
def test_converted(cls, value, expected):
    got = cls.C(x=value).x
    assert type(got) is type(expected)
    assert got == expected


@pytest.mark.parametrize("cls, value", REFUSED, ids=repr)
def test_refused_is_value_error(cls, value):
    with pytest.raises(ValueError) as info:
        cls.C(x=value)
    assert isinstance(info.value, FieldTypeError)
    assert isinstance(info.value, TypeError)  # unchanged for existing handlers
    message = str(info.value)
    assert f"{cls.__qualname__}.x" in message and "Fix:" in message


def test_yaml_style_float_converts_to_same_identifier():
    """`lr: 1e-3` read by PyYAML is the str '1e-3': same config as the float."""
    assert F.C(x="1e-3").__identifier__() == F.C(x=0.001).__identifier__()


def test_assignment_converts():
    c = F.C(x=1.0)
    c.x = "1e-4"
    assert c.x == 1e-4


def test_union_left_to_right():
    from typing import Union

    class U(Config):
        x: Param[Union[int, str]]

    assert U.C(x="5").x == 5  # as the reference: int is tried first
    assert U.C(x="abc").x == "abc"
