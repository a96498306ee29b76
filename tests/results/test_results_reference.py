"""Reading a workspace written by the reference (experimaestro 2.7.0, in its own venv)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import xpm_nb
from support.paths import importable

pytestmark = pytest.mark.interop

# Importable by the reference's job processes and by this process alike.
TASKS = textwrap.dedent(
    """
    from pathlib import Path
    try:
        from experimaestro import Config, Param, Task, Meta, field, PathGenerator
    except ImportError:
        from xpm_nb import Config, Param, Task, Meta, field, PathGenerator

    class Model(Config):
        hidden: Param[int]

    class Train(Task):
        model: Param[Model]
        lr: Param[float]
        fail: Param[bool] = field(default=False)
        out: Meta[Path] = field(default_factory=PathGenerator("out.txt"))

        def execute(self):
            if self.fail:
                raise RuntimeError("asked to fail")
            self.out.write_text(str(self.model.hidden * self.lr))

        def results(self):
            return {"product": float(self.out.read_text())}
    """
)

SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from experimaestro import experiment, tag
    from ref_grid_tasks import Model, Train
    with experiment(Path(sys.argv[1]), "refgrid") as xp:
        for h in (1, 2):
            for lr in (0.1, 0.2):
                Train.C(model=Model.C(hidden=tag(h)), lr=tag(lr)).submit()
        Train.C(model=Model.C(hidden=tag(3)), lr=tag(0.1), fail=True).submit()
    """
)


@pytest.fixture(scope="module")
def ref_workspace(tmp_path_factory):
    from support.refvenv import run_script

    root = tmp_path_factory.mktemp("refws")
    code = root / "code"
    code.mkdir()
    (code / "ref_grid_tasks.py").write_text(TASKS)
    (code / "run_xp.py").write_text(SCRIPT)
    workdir = root / "ws"
    run_script(code / "run_xp.py", workdir, path=[code], cwd=root)
    assert (workdir / "experiments" / "refgrid" / "current").exists()
    importable(code)
    yield workdir
    sys.path.remove(str(code))


class TestReferenceWorkspace:
    def test_frame_of_a_reference_run(self, ref_workspace):
        """Tags from the reference's jobs.jsonl index the frame; states from its markers."""
        df = xpm_nb.results(ref_workspace, "refgrid", task_results=False)
        assert list(df.index.names) == ["hidden", "lr"]
        assert set(df.index) == {(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2), (3, 0.1)}
        ok = df.drop(index=(3, 0.1))
        assert (ok["state"] == "done").all()
        assert (ok["task_id"] == "ref_grid_tasks.train").all()
        assert ok["started"].notna().all() and (ok["ended"] >= ok["started"]).all()
        assert (ok["progress"] == 1.0).all()
        failed = df.loc[(3, 0.1)]
        assert failed["state"] == "error"
        for path in df["path"]:
            assert Path(path).is_dir()

    def test_results_method_on_reference_jobs(self, ref_workspace):
        """results() runs on configurations rebuilt from the reference's params.json."""
        df = xpm_nb.results(ref_workspace, "refgrid", task_results=True, done_only=True)
        for (h, lr), product in df["product"].items():
            assert product == pytest.approx(h * lr)
        assert df.groupby(level="hidden")["product"].sum().to_dict() == pytest.approx(
            {1: 0.1 + 0.2, 2: 0.2 + 0.4})

    def test_load_xp_info_of_a_reference_run(self, ref_workspace):
        """load_xp_info reads the reference's objects.jsonl: job id -> configuration."""
        run = (ref_workspace / "experiments" / "refgrid" / "current").resolve()
        info = xpm_nb.load_xp_info(run)
        jobs = pd.read_json(run / "jobs.jsonl", lines=True)
        assert set(info.jobs) == set(jobs["job_id"])
        assert info.actions == {}
        for job_id, config in info.jobs.items():
            assert config.__identifier__().hex() == job_id
            tags = config.tags()
            assert tags["hidden"] == config.model.hidden and tags["lr"] == config.lr
