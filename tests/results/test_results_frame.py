"""Result frames of a grid of real jobs, analysed with pandas."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from results_tasks import Model, Train, loss, score

import xpm_nb
from xpm_nb import experiment, tag
from xpm_nb.results import HISTORY_COLUMNS
from xpm_nb.scheduler.experiment import FailedExperiment

HIDDEN = (2, 4)
LRS = (0.1, 0.2, 0.5)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A 2 x 3 grid of Train jobs (plus one failing job), run for real."""
    workdir = tmp_path_factory.mktemp("grid") / "ws"
    with experiment(workdir, "grid") as xp:
        tasks = [
            Train.C(model=Model.C(hidden=tag(h)), lr=tag(lr)).submit()
            for h in HIDDEN
            for lr in LRS
        ]
        bad = Train.C(model=Model.C(hidden=tag(8)), lr=tag(0.1), fail=True).submit()
    assert xp.failed_jobs() == [bad.__xpm__.job]  # a grid with a failed run ends normally
    with pytest.raises(FailedExperiment):
        xp.raise_if_failed()
    return workdir, xp, tasks, bad


class TestSummaryFrame:
    def test_index_has_one_level_per_tag(self, grid):
        """The frame is indexed by a MultiIndex of the tag names, one row per job."""
        _, xp, _, _ = grid
        df = xpm_nb.results(xp)
        assert isinstance(df.index, pd.MultiIndex)
        assert list(df.index.names) == ["hidden", "lr"]
        assert len(df) == len(HIDDEN) * len(LRS) + 1
        assert set(df.index) == {(h, lr) for h in HIDDEN for lr in LRS} | {(8, 0.1)}

    def test_columns_state_metrics_and_results(self, grid):
        """Each done row has its state, times, last loss and the score of results()."""
        _, xp, tasks, _ = grid
        df = xpm_nb.results(xp)
        ok = df.drop(index=(8, 0.1))
        assert (ok["state"] == "done").all()
        assert (ok["progress"] == 1.0).all()
        assert (ok["task_id"] == "results_tasks.train").all()
        assert set(ok["identifier"]) == {t.__identifier__().hex() for t in tasks}
        assert (ok["started"] <= ok["ended"]).all() and (ok["submitted"] <= ok["ended"]).all()
        assert (ok["duration"] >= 0).all()
        for (h, lr), row in ok.iterrows():
            assert row["loss"] == pytest.approx(loss(h, lr, 2))
            assert row["score"] == pytest.approx(score(h, lr))
            assert row["experiment"] == "grid"

    def test_failed_job_row(self, grid):
        """A failed job: state error with its reason, no metric, no results() values."""
        _, xp, _, bad = grid
        row = xpm_nb.results(xp).loc[(8, 0.1)]
        assert row["state"] == "error"
        assert "diverged" in row["failure"]
        assert math.isnan(row["loss"]) and math.isnan(row["score"])
        assert row["path"] == str(bad.__xpm__.job.path)

    def test_groupby_on_tag_levels(self, grid):
        """groupby on an index level averages over the other tag."""
        _, xp, _, _ = grid
        df = xpm_nb.results(xp, done_only=True)
        by_hidden = df.groupby(level="hidden")["score"].mean()
        for h in HIDDEN:
            assert by_hidden[h] == pytest.approx(sum(score(h, lr) for lr in LRS) / len(LRS))
        best_lr = df.groupby(level="lr")["loss"].min()
        assert best_lr[0.1] == pytest.approx(loss(min(HIDDEN), 0.1, 2))
        table = df["score"].unstack("lr")
        assert table.shape == (len(HIDDEN), len(LRS))

    def test_done_only_and_columns(self, grid):
        """done_only drops the failed job; columns keeps the asked ones, in order."""
        _, xp, _, _ = grid
        df = xpm_nb.results(xp, done_only=True, columns=["score", "state"])
        assert list(df.columns) == ["score", "state"]
        assert len(df) == len(HIDDEN) * len(LRS)
        assert (df["state"] == "done").all()

    def test_workspace_path_gives_the_same_frame(self, grid):
        """From the workspace folder (tags from jobs.jsonl) the frame matches the live one."""
        workdir, xp, _, _ = grid
        live = xpm_nb.results(xp).sort_index()
        disk = xpm_nb.results(workdir, "grid").sort_index()
        for column in ("identifier", "state", "path", "loss", "score", "progress"):
            pd.testing.assert_series_equal(live[column], disk[column], check_dtype=False)
        assert xpm_nb.results(workdir).shape == disk.shape  # all experiments
        assert xpm_nb.results(xp.run_path).shape == disk.shape  # a run folder
        assert xpm_nb.results(workdir / "experiments" / "grid").shape == disk.shape

    def test_results_found_despite_a_homonym_class(self, grid):
        """Another class named Train defined later does not hide results_tasks.Train."""
        from xpm_nb import Task

        class Train(Task):  # noqa: F811 - the homonym
            pass

        workdir, _, _, _ = grid
        df = xpm_nb.results(workdir, "grid", done_only=True)
        assert df["score"].notna().all()

    def test_list_of_tasks(self, grid):
        """A list of submitted tasks gives a frame of those jobs only."""
        _, _, tasks, _ = grid
        df = xpm_nb.results(tasks[:2])
        assert list(df["identifier"]) == [t.__identifier__().hex() for t in tasks[:2]]

    def test_task_results_false_skips_results(self, grid):
        """task_results=False: no results() column."""
        _, xp, _, _ = grid
        assert "score" not in xpm_nb.results(xp, task_results=False).columns

    def test_package_is_callable(self, grid):
        """xpm_nb.results works as a function even after importing its submodules."""
        import xpm_nb.results.frame  # noqa: F401 - makes xpm_nb.results the package

        _, xp, _, _ = grid
        assert len(xpm_nb.results(xp)) == len(HIDDEN) * len(LRS) + 1


class TestHistory:
    def test_history_is_long_form(self, grid):
        """metrics='history': one row per job, step and metric, indexed by tags."""
        _, xp, _, _ = grid
        hist = xpm_nb.results(xp, metrics="history", done_only=True)
        assert list(hist.index.names) == ["hidden", "lr"]
        assert list(hist.columns) == list(HISTORY_COLUMNS)
        assert len(hist) == len(HIDDEN) * len(LRS) * 3
        assert set(hist["metric"]) == {"loss"}
        row = hist.loc[(4, 0.5)].set_index("step")["value"]
        assert list(row.index) == [0, 1, 2]
        assert list(row) == pytest.approx([loss(4, 0.5, s) for s in range(3)])

    def test_history_pivots_to_curves(self, grid):
        """The long form pivots to one curve per job."""
        _, xp, _, _ = grid
        hist = xpm_nb.results(xp, metrics="history").reset_index()
        curves = hist.pivot_table(index="step", columns=["hidden", "lr"], values="value")
        assert curves.shape == (3, len(HIDDEN) * len(LRS))
        assert curves[(2, 0.2)].is_monotonic_decreasing


class TestTags:
    def test_jobs_without_a_tag_get_a_missing_value(self, workdir):
        """Jobs with different tag sets: the missing tag is NaN in that level."""
        with experiment(workdir, "mixed") as xp:
            Train.C(model=Model.C(hidden=tag(1)), lr=0.1, steps=1).submit()
            Train.C(model=Model.C(hidden=2), lr=tag(0.3), steps=1).submit()
        df = xpm_nb.results(xp)
        assert list(df.index.names) == ["hidden", "lr"]
        values = set(map(lambda t: tuple("nan" if pd.isna(v) else v for v in t), df.index))
        assert values == {(1, "nan"), ("nan", 0.3)}

    def test_no_tags_gives_a_plain_index(self, workdir):
        """Jobs without any tag: a default integer index."""
        with experiment(workdir, "untagged") as xp:
            Train.C(model=Model.C(hidden=3), lr=0.1, steps=1).submit()
        df = xpm_nb.results(xp)
        assert not isinstance(df.index, pd.MultiIndex) and len(df) == 1
