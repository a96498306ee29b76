"""Helpers and fixtures of the widget tests: a recording comm, waiting on the loop.

``comm.create_comm`` is the documented hook that a kernel replaces to give
widgets a transport; the ``comms`` fixture makes it return a comm that records
every message instead of writing it to a socket, so a test reads exactly what a
front-end would get. (Fixtures live here, not in a conftest.py: a second
``conftest`` module would shadow ``tests/conftest.py`` for ``from support.integration import need``.)
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import comm
import pytest
from comm.base_comm import BaseComm

HERE = Path(__file__).resolve().parent
SCHEDULER_TESTS = HERE.parent / "scheduler"
if str(SCHEDULER_TESTS) not in sys.path:
    sys.path.insert(0, str(SCHEDULER_TESTS))  # the test tasks (tasks.py)


class RecordingComm(BaseComm):
    """A comm whose messages go to a list (``(msg_type, data)``)."""

    def __init__(self, *args, **kwargs):
        self.messages: list[tuple[str, dict]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.messages.append((msg_type, data or {}))

    # --- what a front-end would see -------------------------------------------

    def custom(self, kind: str | None = None) -> list[dict]:
        """Custom messages (``widget.send``), optionally of one ``type``."""
        out = []
        for msg_type, data in self.messages:
            if msg_type == "comm_msg" and data.get("method") == "custom":
                content = data["content"]
                if kind is None or content.get("type") == kind:
                    out.append(content)
        return out

    def updates(self) -> list[dict]:
        """State updates (synced traitlets that changed), one dict per message."""
        return [
            data["state"]
            for msg_type, data in self.messages
            if msg_type == "comm_msg" and data.get("method") == "update"
        ]

    def opening_state(self) -> dict:
        """The state sent with the comm's opening message (the view's first render)."""
        for msg_type, data in self.messages:
            if msg_type == "comm_open":
                return data["state"]
        raise AssertionError("the comm was never opened")

    def table_messages(self) -> list[dict]:
        """Snapshots and patches in the order a job-table view gets them.

        The first snapshot comes with the comm's opening message; later ones as
        state updates (``send_state``) or custom messages (the answer to a
        ``sync``); patches as changes of the ``patch`` trait.
        """
        out = []
        for msg_type, data in self.messages:
            if msg_type == "comm_open" and data["state"].get("snapshot"):
                out.append(data["state"]["snapshot"])
            if msg_type != "comm_msg":
                continue
            if data.get("method") == "custom" and data["content"].get("type") == "snapshot":
                out.append(data["content"])
            elif data.get("method") == "update":
                if data["state"].get("snapshot"):
                    out.append(data["state"]["snapshot"])
                if data["state"].get("patch"):
                    out.append(data["state"]["patch"])
        return out

    def from_frontend(self, content: dict) -> None:
        """Deliver a custom message as the front-end's ``model.send(content)`` does."""
        self.handle_msg({"content": {"comm_id": self.comm_id,
                                     "data": {"method": "custom", "content": content}},
                         "buffers": []})


def snapshot_rows(snapshot: dict) -> list[dict]:
    """The rows of a snapshot message, compact (``table``) or not (``rows``)."""
    from xpm_nb.widgets.rows import decode_table

    if "table" in snapshot:
        return decode_table(snapshot["table"], snapshot["tag_names"])
    return snapshot["rows"]


def replay(messages: list[dict]) -> dict[int, dict]:
    """The rows a front-end holds after these messages (as js/job_table.js applies them)."""
    rows: dict[int, dict] = {}
    seq = None
    names: list[str] = []
    for message in messages:
        mseq = message.get("seq")
        names = message.get("metric_names") or names
        if message["type"] == "snapshot":
            if mseq is not None and seq is not None and mseq < seq:
                continue
            rows = {row["k"]: row for row in snapshot_rows(message)}
        elif message["type"] == "patch":
            if mseq is not None and seq is not None and mseq <= seq:
                continue
            for row in message["rows"]:
                if "id" not in row:  # only the changed fields of a row sent before
                    if isinstance(row.get("metrics"), list):  # values in metric_names order
                        row = {**row, "metrics": dict(zip(names, row["metrics"]))}
                    row = {**rows[row["k"]], **row}
                rows[row["k"]] = row
        else:
            continue
        seq = mseq if mseq is not None else seq
    return rows


async def until(predicate, timeout: float = 60.0) -> None:
    """Let the loop run until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)



@pytest.fixture
def comms(monkeypatch) -> list[RecordingComm]:
    """Every comm widgets open during the test, in order."""
    opened: list[RecordingComm] = []

    def create(*args, **kwargs):
        c = RecordingComm(*args, **kwargs)
        opened.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    return opened


@pytest.fixture(autouse=True)
def importable_tasks(monkeypatch):
    """Job processes import the test tasks (tests/scheduler/tasks.py, widget_tasks.py)."""
    paths = [str(SCHEDULER_TESTS), str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
