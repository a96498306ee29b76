"""results() on bad sources and options: clear errors, nothing written."""

from __future__ import annotations

import json
import warnings

import pytest
from results_tasks import Model, Train

import xpm_nb
from xpm_nb import experiment, tag
from xpm_nb.errors import ResultsError, WorkspaceError, XPMError
from xpm_nb.results import ResultsWarning


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture(scope="module")
def done_ws(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bad") / "ws"
    with experiment(workdir, "one") as xp:
        task = Train.C(model=Model.C(hidden=tag(1)), lr=tag(0.1), steps=1).submit()
    return workdir, xp, task.__xpm__.job


class TestBadSources:
    def test_missing_path(self, tmp_path):
        """A path that does not exist: WorkspaceError naming it; nothing created."""
        missing = tmp_path / "nope"
        with pytest.raises(WorkspaceError, match="does not exist") as info:
            xpm_nb.results(missing)
        assert str(missing) in str(info.value)
        assert not missing.exists()

    def test_folder_that_is_not_a_workspace(self, tmp_path):
        """A folder without the workspace marker: WorkspaceError with the fix; unchanged."""
        folder = tmp_path / "random"
        folder.mkdir()
        (folder / "notes.txt").write_text("hello")
        before = _listing(folder)
        with pytest.raises(WorkspaceError, match="not a workspace") as info:
            xpm_nb.results(folder)
        assert str(folder) in str(info.value) and "Fix" in str(info.value)
        assert _listing(folder) == before

    def test_unknown_experiment_lists_the_known_ones(self, done_ws):
        """An unknown experiment name: the error lists the workspace's experiments."""
        workdir, _, _ = done_ws
        with pytest.raises(WorkspaceError, match="no experiment 'two'") as info:
            xpm_nb.results(workdir, "two")
        assert "one" in str(info.value)

    def test_unknown_run(self, done_ws):
        """An unknown run id: the error lists the runs."""
        workdir, xp, _ = done_ws
        with pytest.raises(WorkspaceError, match="no run 'x'") as info:
            xpm_nb.results(workdir, "one", run="x")
        assert xp.run_path.name in str(info.value)

    def test_not_a_source(self):
        """A value that is no source: ResultsError saying what sources are."""
        with pytest.raises(ResultsError, match="experiment, a workspace path"):
            xpm_nb.results(42)

    def test_unsubmitted_task_in_a_list(self):
        """An unsubmitted task in a list names its position."""
        with pytest.raises(ResultsError, match="item 0"):
            xpm_nb.results([Train.C(model=Model.C(hidden=1), lr=0.1)])


class TestBadOptions:
    def test_bad_metrics_option(self, done_ws):
        workdir, _, _ = done_ws
        with pytest.raises(ResultsError, match="'last' or 'history'"):
            xpm_nb.results(workdir, metrics="all")

    def test_unknown_column_lists_the_columns(self, done_ws):
        workdir, _, _ = done_ws
        with pytest.raises(ResultsError, match="no column 'los'") as info:
            xpm_nb.results(workdir, columns=["los"])
        assert "loss" in str(info.value) and "hidden" in str(info.value)

    def test_errors_are_xpm_errors(self, done_ws):
        """Every error above is an XPMError (and a ValueError for options)."""
        workdir, _, _ = done_ws
        with pytest.raises(XPMError):
            xpm_nb.results(workdir, metrics="x")
        with pytest.raises(ValueError):
            xpm_nb.results(workdir, metrics="x")


class TestBrokenJobFolders:
    def test_corrupt_params_json_warns_and_keeps_the_row(self, done_ws):
        """results() of a job whose params.json is corrupt: a warning naming the file;
        the row is there without the values, and nothing is written."""
        workdir, _, job = done_ws
        params = job.paths.params
        original = params.read_text()
        params.write_text(original[: len(original) // 2])
        try:
            before = _listing(workdir)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                df = xpm_nb.results(workdir, "one", task_results=True)
            messages = [str(w.message) for w in caught if w.category is ResultsWarning]
            assert len(messages) == 1 and str(params) in messages[0]
            assert "not valid JSON" in messages[0]
            assert df["state"].iloc[0] == "done" and "score" not in df.columns
            assert _listing(workdir) == before
        finally:
            params.write_text(original)

    def test_missing_params_json_warns(self, done_ws):
        """A done job without params.json: the warning says it is not a job folder."""
        workdir, _, job = done_ws
        params = job.paths.params
        saved = params.read_bytes()
        params.unlink()
        try:
            with pytest.warns(ResultsWarning, match="does not exist"):
                xpm_nb.results(workdir, "one", task_results=True)
        finally:
            params.write_bytes(saved)

    def test_raising_results_method_warns(self, done_ws):
        """A results() that raises (output file gone) gives a warning, not a failure."""
        workdir, _, job = done_ws
        out = job.path / "score.txt"
        saved = out.read_text()
        out.unlink()
        try:
            with pytest.warns(ResultsWarning, match="FileNotFoundError"):
                df = xpm_nb.results(workdir, "one")
            assert "score" not in df.columns
        finally:
            out.write_text(saved)

    def test_corrupt_event_lines_are_skipped(self, done_ws):
        """A corrupt line in the event file is skipped; the others are read."""
        workdir, _, job = done_ws
        events = job.paths.events
        saved = events.read_text()
        lines = saved.splitlines()
        events.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
        try:
            df = xpm_nb.results(workdir, "one")
            metric = [json.loads(x) for x in lines if "JobMetricsEvent" in x][-1]
            assert df["loss"].iloc[0] == metric["metrics"]["loss"]
        finally:
            events.write_text(saved)
