"""The run's ``objects.jsonl`` when its host cannot be written for a while.

A burst's last objects are written by a timer's thread; a host that is down
then (an SSH link lost, a full disk) must give a warning, not an exception
printed from a thread, and the objects must reach the file once it is back.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest
from tasks import Counter

from support.waiting import wait_until
from xpm_nb.connectors.local import LocalConnector
from xpm_nb.errors import ConnectorError
from xpm_nb.scheduler import objects_file
from xpm_nb.scheduler.objects_file import ObjectsFile


class FlakyHost(LocalConnector):
    """A local host whose writes fail with ``error`` while ``down`` is set."""

    def __init__(self, error: Exception):
        super().__init__()
        self.error = error
        self.down = False
        self.writes = 0

    def write_atomic(self, path, data):
        self.writes += 1
        if self.down:
            raise self.error
        super().write_atomic(path, data)


@pytest.fixture
def thread_errors(monkeypatch):
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    return errors


@pytest.mark.parametrize("error", [ConnectorError("SSH link down"), OSError(28, "No space left on device")],
                         ids=["link-down", "disk-full"])
def test_a_timer_write_that_fails_warns_and_the_close_writes_it(tmp_path, caplog, thread_errors, error, monkeypatch):
    monkeypatch.setattr(objects_file, "MIN_INTERVAL", 0.2)
    host = FlakyHost(error)
    path = tmp_path / "objects.jsonl"
    objects = ObjectsFile(host, path)
    objects.add(Counter.C(value=1))  # the first: written at once
    assert len(path.read_text().splitlines()) == 1
    host.down = True
    with caplog.at_level(logging.WARNING, logger="xpm_nb.experiment"):
        objects.add(Counter.C(value=2))  # within the interval: left to the timer
        wait_until(lambda: host.writes >= 2, timeout=10, what="the timer's write")
        wait_until(lambda: caplog.records, timeout=10, what="the warning")
    assert host.writes == 2
    assert thread_errors == []
    assert any(f"cannot write {path}" in r.getMessage() and str(error) in r.getMessage() for r in caplog.records)
    assert len(path.read_text().splitlines()) == 1  # the old file kept whole

    host.down = False
    objects.close()
    values = [o["fields"]["value"] for o in map(json.loads, path.read_text().splitlines())]
    assert values == [1, 2]


def test_a_close_the_host_cannot_take_warns_and_keeps_the_old_file(tmp_path, caplog):
    """The experiment's close with its host down: a warning, the file as last written."""
    host = FlakyHost(ConnectorError("SSH link down"))
    path = tmp_path / "objects.jsonl"
    objects = ObjectsFile(host, path)
    objects.add(Counter.C(value=1))
    host.down = True
    objects.add(Counter.C(value=2))
    with caplog.at_level(logging.WARNING, logger="xpm_nb.experiment"):
        objects.close()  # does not raise
    assert any(f"cannot write {path}" in r.getMessage() and "SSH link down" in r.getMessage()
               for r in caplog.records)
    assert [o["fields"]["value"] for o in map(json.loads, path.read_text().splitlines())] == [1]
