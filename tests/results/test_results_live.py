"""Frames rebuilt while jobs run, and the caches that make rebuilding cheap."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from results_tasks import Gated, Model, Train

import xpm_nb
from support.waiting import wait_until_async
from xpm_nb import experiment, tag
from xpm_nb.results import clear_caches


def _found(value) -> bool:
    # a row or a frame: their truth value is ambiguous; None means "not yet"
    return value is not None and value is not False


class TestLive:
    def test_frame_follows_a_running_job(self, workdir, tmp_path):
        """In a notebook loop: the frame shows the job running with its first metric,
        then done with the last ones, each call reading what the job appended."""
        gate = tmp_path / "gate"

        async def main():
            xp = experiment(workdir, "live")
            task = Gated.C(name=tag("a"), gate=gate).submit()

            def running_row():
                row = xpm_nb.results(xp).loc["a"]
                # Running before its first metric: no "loss" column yet.
                return row if row["state"] == "running" and row.get("loss") == 1.0 else None

            row = await wait_until_async(running_row, what="the job to run and log its first loss",
                                         done=_found)
            assert row["progress"] == 0.5
            assert row["duration"] >= 0 and row["ended"] is pd_nat()
            assert "accuracy" not in xpm_nb.results(xp).columns
            gate.touch()
            await task
            done = xpm_nb.results(xp).loc["a"]
            xp.close()
            return done

        row = asyncio.run(main())
        assert row["state"] == "done"
        assert row["loss"] == 0.5 and row["accuracy"] == 0.9
        assert row["progress"] == 1.0
        assert row["ended"] >= row["started"]

    def test_waiting_job_state_comes_from_the_scheduler(self, workdir, tmp_path):
        """A job waiting for a dependency has no folder state yet: its row says so."""
        gate = tmp_path / "gate"

        async def main():
            xp = experiment(workdir, "waiting")
            first = Gated.C(name=tag("first"), gate=gate).submit()
            model = Model.C(hidden=tag(3))
            model.__xpm__.task = first  # an output of the gated job: a dependency
            Train.C(model=model, lr=tag(0.1), steps=1).submit()
            frame = await wait_until_async(
                lambda: (lambda df: df if "running" in set(df["state"]) else None)(
                    xpm_nb.results(xp)), what="the first job to run", done=_found)
            states = dict(zip(frame["task_id"], frame["state"]))
            gate.touch()
            await xp
            final = dict(zip(xpm_nb.results(xp)["task_id"], xpm_nb.results(xp)["state"]))
            xp.close()
            return states, final

        states, final = asyncio.run(main())
        assert states == {"results_tasks.gated": "running", "results_tasks.train": "waiting"}
        assert final == {"results_tasks.gated": "done", "results_tasks.train": "done"}


def pd_nat():
    import pandas as pd

    return pd.NaT


class TestDiskCache:
    def _run(self, workdir):
        with experiment(workdir, "cached") as xp:
            task = Train.C(model=Model.C(hidden=tag(2)), lr=tag(0.5), steps=2).submit()
        return xp, task.__xpm__.job

    def _rewrite_losses(self, job, value: float) -> None:
        """Change the logged losses in place, leaving the .done marker alone."""
        lines = [json.loads(x) for x in job.paths.events.read_text().splitlines()]
        for event in lines:
            if event.get("event_type") == "JobMetricsEvent":
                event["metrics"]["loss"] = value
        job.paths.events.write_text("".join(json.dumps(e) + "\n" for e in lines))

    def test_a_new_process_reuses_finished_summaries(self, workdir):
        """Finished jobs' summaries come from the disk cache while .done is unchanged."""
        xp, job = self._run(workdir)
        first = xpm_nb.results(workdir, "cached")["loss"].iloc[0]
        self._rewrite_losses(job, 99.0)
        clear_caches()  # as in a new kernel: only the disk cache is left
        assert xpm_nb.results(workdir, "cached")["loss"].iloc[0] == first
        # A new .done (the job ran again) invalidates the entry.
        done = job.paths.done
        os.utime(done, ns=(done.stat().st_atime_ns, done.stat().st_mtime_ns + 10**9))
        clear_caches()
        assert xpm_nb.results(workdir, "cached")["loss"].iloc[0] == 99.0

    def test_disabled_disk_cache_reads_the_files(self, workdir, monkeypatch):
        """XPM_NB_CACHE_DIR='' disables the disk cache: every new process reads the files."""
        monkeypatch.setenv("XPM_NB_CACHE_DIR", "")
        xp, job = self._run(workdir)
        xpm_nb.results(workdir, "cached")
        self._rewrite_losses(job, 42.0)
        clear_caches()
        assert xpm_nb.results(workdir, "cached")["loss"].iloc[0] == 42.0

    def test_appended_lines_are_read_incrementally(self, workdir):
        """A rebuild reads lines appended since the last one (and skips a torn line)."""
        xp, job = self._run(workdir)
        events = job.paths.events
        assert xpm_nb.results(xp)["state"].iloc[0] == "done"
        done_time = xpm_nb.results(xp)["ended"].iloc[0]
        job.paths.done.unlink()  # as if the job ran again
        with events.open("a") as f:
            f.write(json.dumps({"event_type": "JobStateChangedEvent", "state": "running",
                                "timestamp": time.time()}) + "\n")
            f.write(json.dumps({"event_type": "JobMetricsEvent", "step": 5,
                                "metrics": {"loss": 0.01}}) + "\n")
            f.write('{"event_type": "JobMetr')  # being written
        row = xpm_nb.results(workdir, "cached").iloc[0]  # the folder's truth only
        assert row["loss"] == 0.01
        assert row["started"] > done_time and row["ended"] is pd_nat()
        with events.open("a") as f:
            f.write('icsEvent", "step": 6, "metrics": {"loss": 0.001}}\n')
        assert xpm_nb.results(workdir, "cached")["loss"].iloc[0] == pytest.approx(0.001)
