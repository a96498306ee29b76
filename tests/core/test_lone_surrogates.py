"""Strings holding a lone surrogate ("a\\udcff": a file name decoded with surrogateescape).

UTF-8 cannot encode them, so they have no identifier; the reference
(experimaestro 2.7.0) accepts them in a ``str`` field and then fails with a
``UnicodeEncodeError`` when the identifier is computed. Here a ``str`` field
refuses them at once, naming the field, the value and the fix; a field typed
``Any`` (checked later) gives an ``IdentifierError`` naming the field, before
anything is written. Paths may hold them (their identifier and params.json
do not need UTF-8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xpm_nb import Config, Param
from xpm_nb.core.params import read_params, write_params
from xpm_nb.errors import FieldTypeError, IdentifierError

NAME = "name-\udcff"  # os.fsdecode(b"name-\xff")


class Named(Config):
    name: Param[str]
    names: Param[list[str]] = []
    scores: Param[dict[str, float]] = {}


class Loose(Config):
    anything: Param[Any]


class Located(Config):
    where: Param[Path]


class TestStrField:
    def test_refused_naming_the_field_the_value_and_the_fix(self):
        with pytest.raises(FieldTypeError) as info:
            Named.C(name=NAME)
        message = str(info.value)
        assert message.startswith("Named.name: expected a str that UTF-8 can encode"), message
        assert repr(NAME) in message and "surrogate" in message
        assert "pathlib.Path" in message and "errors='replace'" in message

    def test_refused_inside_lists_and_as_dict_keys(self):
        with pytest.raises(FieldTypeError, match=r"Named\.names\[1\]: .*surrogate"):
            Named.C(name="a", names=["ok", NAME])
        with pytest.raises(FieldTypeError) as info:
            Named.C(name="a", scores={NAME: 1.0})
        assert str(info.value).startswith(f"Named.scores[{NAME!r}]: expected a str that UTF-8")

    def test_refused_when_assigned_later(self):
        config = Named.C(name="a")
        with pytest.raises(FieldTypeError, match=r"Named\.name: .*surrogate"):
            config.name = NAME
        assert config.name == "a"

    def test_other_non_ascii_text_is_accepted(self):
        """Only unencodable strings are refused: accents, CJK and emoji are fine."""
        config = Named.C(name="é 東京 \U0001f600", names=["ß"])
        assert len(config.__identifier__().hex()) == 64


class TestAnyField:
    def test_identifier_error_names_the_field_and_nothing_is_written(self, tmp_path):
        config = Loose.C(anything=["ok", NAME])
        with pytest.raises(IdentifierError, match=r"Loose\.anything\[1\]: .*lone surrogate"):
            config.__identifier__()
        job = tmp_path / "job"
        job.mkdir()
        with pytest.raises(IdentifierError):
            write_params(config, job, tmp_path)
        assert list(job.iterdir()) == []  # no params.json, whole or half, no temp file


class TestPathField:
    def test_a_path_may_hold_one_and_survives_params_json(self, tmp_path):
        """A file name that is not UTF-8 stays a valid path: same identifier once read back,
        and params.json stays valid (ASCII) JSON."""
        config = Located.C(where=Path("/data") / NAME)
        identifier = config.__identifier__()
        job = tmp_path / "job"
        job.mkdir()
        write_params(config, job, tmp_path)
        raw = (job / "params.json").read_bytes()
        assert raw.isascii() and json.loads(raw)
        back = read_params(job)
        assert back.where == Path("/data") / NAME
        assert back.__identifier__() == identifier
