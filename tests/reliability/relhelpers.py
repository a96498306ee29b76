"""Fixtures and helpers of the reliability suite.

(Here, not in a conftest.py: a second ``conftest`` module would shadow
``tests/conftest.py`` for ``from support.integration import need``.) Test modules import
the autouse fixture ``isolated_env`` from here.

Job processes and driver scripts (experiments run in a subprocess, so that a
test can kill them) import ``reltasks`` from this folder: it is put on
``PYTHONPATH``. Tokens live under a per-test folder (``XPM_WORKDIR``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest

from support.integration import need  # noqa: F401 - re-exported for the test modules
from support.paths import importable, on_pythonpath
from support.waiting import wait_until  # noqa: F401 - re-exported for the test modules

HERE = importable(Path(__file__).resolve())  # reltasks, for the tests' own process


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Job processes import ``reltasks``; tokens in the test's folder; no process left."""
    # The checkout under test is being edited: its dirty git state is not our subject.
    warnings.filterwarnings("ignore", message="the experiment's code has uncommitted")
    on_pythonpath(monkeypatch, HERE)
    monkeypatch.setenv("XPM_WORKDIR", str(tmp_path / "xpm_workdir"))
    # LocalConnector.instance() caches the folder of the default connector.
    from xpm_nb.connectors.local import LocalConnector

    monkeypatch.setattr(LocalConnector, "_instance", None)
    yield
    # A failed test must leave no process behind: its drivers, and the job
    # processes (own sessions) named by pid files under its folder.
    for driver in list(Driver.started):
        if driver.proc.poll() is None:
            driver.kill()
    Driver.started.clear()
    for pid_file in tmp_path.glob("**/*.pid"):
        _kill_job_process(pid_file)


def _kill_job_process(pid_file: Path) -> None:
    try:
        pid = int(json.loads(pid_file.read_text())["pid"])
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"xpm_nb.run" not in f.read():
                return
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (OSError, ValueError, KeyError, TypeError):
        pass


PRELUDE = """
import sys, json, os, time
from pathlib import Path
sys.path.insert(0, {here!r})
"""


def driver_script(body: str) -> str:
    """A driver script: the prelude (imports, ``reltasks`` importable) then ``body``."""
    return PRELUDE.format(here=str(HERE)) + textwrap.dedent(body)


class Driver:
    """An experiment script run in its own process, its output read as it comes."""

    started: list[Driver] = []

    def __init__(self, body: str, *args: str, umask: int | None = None):
        preexec = (lambda: os.umask(umask)) if umask is not None else None
        self.proc = subprocess.Popen(
            [sys.executable, "-c", driver_script(body), *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        self.pid = self.proc.pid
        Driver.started.append(self)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, d), daemon=True)
                         for s, d in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.out) + "\nstderr:\n" + "\n".join(self.err)

    def wait_for_line(self, text: str, timeout: float = 60) -> str:
        """The first stdout line containing ``text`` (fails if the driver ends first)."""

        def found():
            for line in list(self.out):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                for reader in self._readers:
                    reader.join(5)
                if not any(text in line for line in self.out):
                    pytest.fail(f"driver ended ({self.proc.returncode}) before printing "
                                f"{text!r}\n{self.output()}")
            return None

        try:
            return wait_until(found, timeout, f"driver line {text!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def kill(self) -> None:
        """kill -9 of the driver (its job processes, in their own sessions, go on)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def finish(self, timeout: float = 120) -> list[str]:
        """Wait for the driver; fail with its output unless it exited 0. Its stdout lines."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"driver did not finish within {timeout} s\n{self.output()}")
        for reader in self._readers:
            reader.join(10)
        assert self.proc.returncode == 0, (
            f"driver exit {self.proc.returncode}\n{self.output()}")
        return list(self.out)


def log_lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def job_folders(ws: Path) -> list[Path]:
    return sorted(p for p in (ws / "jobs").glob("*/*") if p.is_dir())


def assert_workspace_consistent(ws: Path, *, stale_pid_ok: bool = False) -> None:
    """Every file that states something is whole, and no job says two things.

    params.json, ``.failed``, ``.pid`` and status files parse as JSON objects;
    no job is both done and failed; a pid file names a live process (unless
    ``stale_pid_ok``: a job killed while no scheduler watched it leaves one,
    which readers see as not running); experiment ``jobs.jsonl`` lines parse.
    """
    from xpm_nb.scheduler.jobs import pid_alive

    for folder in job_folders(ws):
        name = folder.parent.name.rsplit(".", 1)[-1]
        params = folder / "params.json"
        if params.exists():
            data = json.loads(params.read_text())
            assert isinstance(data, dict) and data.get("objects"), params
        done, failed, pid = (folder / f"{name}{s}" for s in (".done", ".failed", ".pid"))
        assert not (done.exists() and failed.exists()), f"{folder}: both done and failed"
        if failed.exists():
            info = json.loads(failed.read_text())
            assert isinstance(info, dict) and "reason" in info, failed
        if pid.exists():
            info = json.loads(pid.read_text())
            assert stale_pid_ok or pid_alive(int(info["pid"])), f"{pid}: names a dead process"
        status = folder / ".experimaestro" / "status.json"
        if status.exists():
            assert isinstance(json.loads(status.read_text()), dict), status
    for jobs in (ws / "experiments").glob("*/*/jobs.jsonl"):
        for line in jobs.read_text().splitlines():
            assert isinstance(json.loads(line), dict), jobs
