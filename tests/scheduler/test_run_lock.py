"""The lock of an open run: held while the experiment is open, released at close and
by the death of its process; listings say "running" only while it is held, "crashed"
for a run left "running" by a dead driver. Closing with an unwritable status.json.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.experiments_cli import experiments_json, experiments_list
from support.failures import assert_failures_logged, failed_experiment
from support.kernel import real_kernel
from support.paths import tasks_importable
from xpm_nb import experiment
from xpm_nb.errors import WorkspaceError
from xpm_nb.scheduler.runlock import lock_is_held

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import Add, Write  # noqa: E402

from support.locks import held_elsewhere, listed_status  # noqa: E402


class TestLockWhileOpen:
    def test_held_while_open_released_at_close(self, workdir, tmp_path):
        """Open: the run's lock is held (another process cannot take it) and listings
        say running, in this process and in another; closed: free, and done."""
        xp = experiment(workdir, "open", project_paths=[])
        lock = xp.run_path / "lock"
        try:
            assert held_elsewhere(lock)
            assert lock_is_held(lock) is True
            assert listed_status(workdir) == "running"
            # Listing from this process must not drop this process's own lock.
            assert held_elsewhere(lock)
            assert [e["status"] for e in experiments_json(workdir)] == ["running"]
            Write.C(value=1, log=tmp_path / "log").submit()
            xp.wait()
        finally:
            xp.close()
        assert not held_elsewhere(lock)
        assert lock_is_held(lock) is False
        assert listed_status(workdir) == "done"
        assert [e["status"] for e in experiments_json(workdir)] == ["done"]

    def test_failed_run_is_listed_failed(self, workdir):
        with experiment(workdir, "bad", project_paths=[]) as xp:
            Add.C(inputs=[], fail=True).submit()
        failed_experiment(xp)
        assert not held_elsewhere(xp.run_path / "lock")
        assert listed_status(workdir) == "failed"

    def test_two_runs_of_one_experiment_at_once_each_hold_their_own(self, workdir):
        """Two runs of the same experiment open at once (allowed, as before): each
        holds its own run's lock; closing one leaves the other's held."""
        first = experiment(workdir, "twice", project_paths=[])
        second = experiment(workdir, "twice", project_paths=[])
        try:
            assert first.run_path != second.run_path
            assert held_elsewhere(first.run_path / "lock")
            assert held_elsewhere(second.run_path / "lock")
            first.close()
            assert not held_elsewhere(first.run_path / "lock")
            assert held_elsewhere(second.run_path / "lock")
            assert listed_status(workdir) == "running"  # current: the second run
        finally:
            first.close()
            second.close()
        assert listed_status(workdir) == "done"

    def test_failed_open_releases_the_lock(self, workdir):
        """An experiment that fails to open (its monitoring port taken) holds nothing."""
        import socket

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(Exception, match="cannot serve the monitoring page"):
                experiment(workdir, "port", port=port, project_paths=[])
        [run] = [p for p in (workdir / "experiments" / "port").iterdir()
                 if p.is_dir() and not p.is_symlink()]
        assert not held_elsewhere(run / "lock")
        assert experiment.CURRENT is None


DRIVER = """
import sys, time
from xpm_nb import experiment
xp = experiment(sys.argv[1], "driver", project_paths=[])
print(xp.run_path, flush=True)
time.sleep(600)
"""


class TestDeadDriver:
    def test_killed_driver_is_listed_crashed(self, workdir):
        """kill -9 of the process holding a run open: its status.json still says
        "running", its lock is free (released by the OS), listings say crashed."""
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(workdir)],
                                stdout=subprocess.PIPE, text=True)
        try:
            run = Path(proc.stdout.readline().strip())
            assert listed_status(workdir) == "running"
            assert held_elsewhere(run / "lock")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            proc.stdout.close()
        assert json.loads((run / "status.json").read_text())["status"] == "running"
        assert not held_elsewhere(run / "lock")
        assert listed_status(workdir) == "crashed"
        text = experiments_list(workdir).stdout
        assert "driver" in text and "crashed" in text, text
        # A new run of the experiment is running again, and done once closed.
        with experiment(workdir, "driver", project_paths=[]):
            assert listed_status(workdir) == "running"
        assert listed_status(workdir) == "done"

    def test_run_without_its_own_lock_uses_the_experiment_lock(self, workdir, tmp_path):
        """A run without a lock of its own (the reference's layout: it holds
        WS/experiments/<name>/lock while it runs): running while that lock is held by
        another process, crashed once it is free."""
        with experiment(workdir, "ref", project_paths=[]) as xp:
            pass
        run = xp.run_path
        (run / "lock").unlink()
        status = json.loads((run / "status.json").read_text())
        (run / "status.json").write_text(json.dumps({**status, "status": "running"}))
        holder = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent("""
                import sys, time, fasteners
                lock = fasteners.InterProcessLock(sys.argv[1])
                lock.acquire()
                print("locked", flush=True)
                time.sleep(600)
            """), str(workdir / "experiments" / "ref" / "lock")],
            stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            assert listed_status(workdir) == "running"
        finally:
            holder.kill()
            holder.wait(timeout=60)
            holder.stdout.close()
        assert listed_status(workdir) == "crashed"


class TestNotebook:
    def test_kernel_holds_the_run_across_cells_until_close_or_restart(self, workdir):
        """In a real kernel: the run stays held between cells, is free once closed; an
        experiment left open is released by a kernel restart (listed crashed)."""
        with real_kernel(workdir.parent) as kernel:
            first = Path(kernel.run(f"from xpm_nb import experiment\n"
                                    f"xp = experiment({str(workdir)!r}, 'nb', project_paths=[])\n"
                                    f"print(xp.run_path)").strip())
            kernel.run("x = 1")  # another cell: the experiment stays open
            assert held_elsewhere(first / "lock")
            assert listed_status(workdir) == "running"
            kernel.run("xp.close()")
            assert not held_elsewhere(first / "lock")
            assert listed_status(workdir) == "done"
            second = Path(kernel.run(f"xp = experiment({str(workdir)!r}, 'nb', project_paths=[])\n"
                                     f"print(xp.run_path)").strip())
            assert held_elsewhere(second / "lock")
            kernel.restart()
            assert not held_elsewhere(second / "lock")
            assert listed_status(workdir) == "crashed"


def _break_status_file(xp) -> Path:
    """Make the run's status.json unwritable even for root: a folder in its place
    (renaming the temp file onto it fails with IsADirectoryError)."""
    status = xp.run_path / "status.json"
    status.unlink()
    (status / "occupied").mkdir(parents=True)
    return status


class TestCloseWithUnwritableStatus:
    def test_close_raises_naming_the_file_after_closing(self, workdir, caplog):
        """No job failed but the status could not be written: close() closes everything,
        then raises WorkspaceError naming status.json (the run's record is incomplete)."""
        xp = experiment(workdir, "nostatus", project_paths=[])
        status = _break_status_file(xp)
        with pytest.raises(WorkspaceError, match="status.json") as info:
            xp.close()
        assert str(status) in str(info.value)
        assert isinstance(info.value.__cause__, OSError)
        assert str(status) in caplog.text  # the warning names the file too
        assert xp.closed and experiment.CURRENT is None
        assert not held_elsewhere(xp.run_path / "lock")
        assert listed_status(workdir) is None  # no status.json to read, and not "running"
        xp.close()  # closed once: nothing more to report

    def test_failed_jobs_and_the_unwritten_status_are_both_reported(self, workdir, caplog):
        """A job failed and the status could not be written: the with block raises the
        WorkspaceError naming status.json (failed jobs alone would not raise), the
        failed job is logged and listed by FailedExperiment; the experiment closed."""
        with pytest.raises(WorkspaceError, match="status.json") as info:
            with experiment(workdir, "both", project_paths=[]) as xp:
                _break_status_file(xp)
                Add.C(inputs=[], fail=True).submit()
        message = str(info.value)
        assert str(xp.run_path / "status.json") in message and "Is a directory" in message
        assert isinstance(info.value.__cause__, OSError)
        assert "asked to fail" in assert_failures_logged(caplog, xp)[0]
        failed_experiment(xp, match="asked to fail")
        assert xp.closed and experiment.CURRENT is None
        assert not held_elsewhere(xp.run_path / "lock")

    def test_user_error_in_the_block_is_kept(self, workdir):
        """An error of the user's code in the with block stays the error raised."""
        with pytest.raises(KeyError, match="mine") as info:
            with experiment(workdir, "user", project_paths=[]) as xp:
                _break_status_file(xp)
                raise KeyError("mine")
        assert "status.json" in "\n".join(info.value.__notes__)
        assert xp.closed and experiment.CURRENT is None
        shutil.rmtree(xp.run_path / "status.json")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "nul\x00", "\x1b[31mred", "x" * 201])
def test_experiment_names_that_are_not_one_folder_are_refused(workdir, name):
    """A name is one folder of WS/experiments: never a path, nor control characters
    a listing would print."""
    from xpm_nb.errors import XPMError

    with pytest.raises(XPMError, match="experiment name") as info:
        experiment(workdir, name)
    assert "Fix" in str(info.value) or "at most 200" in str(info.value)
    assert not (workdir / "experiments").exists() or not any((workdir / "experiments").iterdir())
