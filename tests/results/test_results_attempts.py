"""History frames tell the attempts of a job apart; columns put what one reads first first."""

from __future__ import annotations

import pytest
from attempt_tasks import Flaky

import xpm_nb
from xpm_nb import experiment, tag
from xpm_nb.results import FIXED_COLUMNS, HISTORY_COLUMNS


def run_twice(workdir, flag):
    """A job that fails, then succeeds once resubmitted: two attempts in one event file."""
    xp = experiment(workdir, "flaky")
    job = Flaky.C(lr=tag(0.1), flag=flag).submit().__xpm__.job
    xp.wait()
    assert job.state.value == "error"
    flag.touch()
    job.resubmit()
    xp.wait()
    assert job.state.value == "done"
    return xp


def test_history_keeps_the_last_attempt_unless_asked(workdir, tmp_path):
    xp = run_twice(workdir, tmp_path / "flag")
    try:
        hist = xpm_nb.results(xp, metrics="history")
        assert list(hist.columns) == list(HISTORY_COLUMNS)
        assert list(hist.columns[:4]) == ["metric", "step", "value", "attempt"]
        assert list(hist["attempt"]) == [2, 2] and list(hist["value"]) == [10.0, 11.0]
        every = xpm_nb.results(xp, metrics="history", attempts="all")
        assert list(every["attempt"]) == [1, 1, 2, 2]
        assert list(every["value"]) == [100.0, 101.0, 10.0, 11.0]
        # The same from the workspace folder (no live experiment).
        disk = xpm_nb.results(workdir, "flaky", metrics="history")
        assert list(disk["attempt"]) == [2, 2]
        # The last values of the summary are the last attempt's.
        assert xpm_nb.results(xp)["loss"].iloc[0] == 11.0
    finally:
        xp.close()


def test_summary_columns_metrics_first_bookkeeping_last(workdir, tmp_path):
    xp = run_twice(workdir, tmp_path / "flag")
    try:
        df = xpm_nb.results(xp)
        assert df.index.names == ["lr"]
        assert list(df.columns) == ["loss", *FIXED_COLUMNS]
        assert list(df.columns[-4:]) == ["experiment", "task_id", "identifier", "path"]
    finally:
        xp.close()


def test_bad_attempts_argument(workdir):
    with pytest.raises(xpm_nb.errors.ResultsError, match="attempts='first'"):
        xpm_nb.results(workdir, attempts="first")
