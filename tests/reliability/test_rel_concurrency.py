"""Fault 2: several processes submitting overlapping grids into one workspace."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from relhelpers import (
    Driver,
    assert_workspace_consistent,
    isolated_env,  # noqa: F401 - autouse fixture
    log_lines,
)

SUBMITTER = """
import random
from reltasks import Append
from xpm_nb import experiment
ws, log, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
values = json.loads(sys.argv[4])
random.Random(name).shuffle(values)  # each submitter in its own order
with experiment(ws, name) as xp:
    tasks = [Append.C(value=v, log=log, sleep=0.1) for v in values]
    for task in tasks:
        task.submit()
states = {t.value: t.__xpm__.job.state.value for t in tasks}
print(json.dumps(states), flush=True)
"""


@pytest.mark.parametrize(("submitters", "grid", "per_submitter"), [(2, 12, 8), (8, 24, 9)])
def test_overlapping_grids_run_each_job_once(workdir, tmp_path, submitters, grid,
                                             per_submitter):
    """N drivers submit overlapping windows of one grid: each job runs exactly once
    and every driver sees each of its jobs done."""
    log = tmp_path / "runs.log"
    step = (grid - per_submitter) / max(submitters - 1, 1)
    windows = [list(range(round(i * step), round(i * step) + per_submitter))
               for i in range(submitters)]
    assert set().union(*windows) == set(range(grid))
    assert all(set(windows[i]) & set(windows[i + 1]) for i in range(submitters - 1))
    drivers = [Driver(SUBMITTER, str(workdir), str(log), f"grid{i}", json.dumps(window))
               for i, window in enumerate(windows)]
    results = [json.loads(d.finish(timeout=240)[-1]) for d in drivers]
    for window, states in zip(windows, results):
        assert states == {str(v): "done" for v in window}
    runs = Counter(int(line[0]) for line in log_lines(log))
    assert runs == Counter(range(grid)), "some job ran twice or never"
    assert_workspace_consistent(workdir)
    assert not list(workdir.glob("jobs/*/*/*.pid"))
    assert len(list(workdir.glob("jobs/*/*/append.done"))) == grid
