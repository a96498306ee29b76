"""The event-line parser of result frames."""

from __future__ import annotations

import json
import math

from xpm_nb.results.sources import parse_lines


def test_well_formed_lines_parse_in_one_call():
    blob = b"\n".join(json.dumps({"n": i}).encode() for i in range(3))
    assert parse_lines(blob) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_nan_values_written_by_json_dumps_are_read():
    """json.dumps writes NaN for a diverged loss; that is not JSON, but it is read."""
    blob = json.dumps({"metrics": {"loss": float("nan")}}).encode() + b"\n" + b'{"n": 1}'
    events = parse_lines(blob)
    assert math.isnan(events[0]["metrics"]["loss"]) and events[1] == {"n": 1}


def test_blank_corrupt_and_non_object_lines_are_skipped():
    blob = b'{"n": 1}\n\n{broken\n[1, 2]\n{"n": 2}'
    assert parse_lines(blob) == [{"n": 1}, {"n": 2}]


def test_empty():
    assert parse_lines(b"") == []
