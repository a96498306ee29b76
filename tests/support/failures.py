"""Asserting how an experiment reports its failed jobs.

Imported as ``from support.failures import assert_failures_logged, failed_experiment``.

Failed jobs do not make ``with experiment(...)``, ``xp.wait()`` or ``await xp``
raise: each failed job is logged (logger ``xpm_nb.experiment``, WARNING, with
its log path), ``xp.failed`` is True and ``xp.raise_if_failed()`` raises the
``FailedExperiment`` listing them.
"""

from __future__ import annotations

import logging

import pytest

__all__ = ["LOGGER", "failed_experiment", "assert_failures_logged"]

LOGGER = "xpm_nb.experiment"


def failed_experiment(xp, match: str | None = None) -> pytest.ExceptionInfo:
    """``xp`` ended with failed jobs: ``xp.failed``, and the ``FailedExperiment`` of
    ``xp.raise_if_failed()`` (its ``ExceptionInfo``), which lists every failed job."""
    from xpm_nb.scheduler.experiment import FailedExperiment

    assert xp.failed, [j.state for j in xp.jobs]
    with pytest.raises(FailedExperiment, match=match) as info:
        xp.raise_if_failed()
    for job in xp.failed_jobs():
        assert job.locator in str(info.value) and str(job.stderr) in str(info.value)
    return info


def assert_failures_logged(caplog, xp) -> list[str]:
    """Each failed job of ``xp`` was logged once, as a WARNING of ``xpm_nb.experiment``
    naming the job, why it failed and its log; those messages."""
    records = [r for r in caplog.records
               if r.name == LOGGER and r.levelno == logging.WARNING]
    failed = xp.failed_jobs()
    assert failed, "no job failed"
    messages = []
    for job in failed:
        mine = [r.getMessage() for r in records if job.locator in r.getMessage()]
        assert len(mine) == 1, (job.locator, [r.getMessage() for r in records])
        assert str(job.stderr) in mine[0] and "failed" in mine[0], mine[0]
        messages.extend(mine)
    return messages
