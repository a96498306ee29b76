"""The reference's ``xp.workdir`` / ``xp.resultspath``, and the job process's
logging (``logging.info`` in a task lands in the job's ``.err``), with real job
processes and, for logging, a real driver process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.paths import pythonpath, tasks_importable
from xpm_nb import experiment
from xpm_nb.scheduler.workspace import RunMode

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from tasks import Write  # noqa: E402


class TestPaths:
    def test_workdir_is_the_run_folder_and_resultspath_under_it(self, workdir, tmp_path):
        """As the reference: workdir = experiments/<name>/<run id>, results under it."""
        with experiment(workdir, "paths") as xp:
            run = xp.workdir
            assert run == xp.run_path
            assert run.parent == workdir / "experiments" / "paths"
            assert run.is_dir() and (run / "environment.json").exists()
            assert xp.resultspath == run / "results"
            xp.resultspath.mkdir()
            (xp.resultspath / "score.txt").write_text("1")
            Write.C(value=7, log=tmp_path / "log").submit()
        # A real job ran; the run's own records are in xp.workdir.
        assert (tmp_path / "log").read_text().startswith("7 ")
        assert (run / "jobs.jsonl").exists()
        assert (workdir / "experiments" / "paths" / "current").resolve() == run.resolve()
        assert (run / "results" / "score.txt").read_text() == "1"

    @pytest.mark.parametrize("mode", [RunMode.DRY_RUN, RunMode.GENERATE_ONLY])
    def test_resultspath_only_in_a_normal_run(self, workdir, mode):
        with experiment(workdir, "modes", run_mode=mode) as xp:
            assert xp.workdir.parent == workdir / "experiments" / "modes"
            with pytest.raises(RuntimeError, match="resultspath"):
                xp.resultspath  # noqa: B018 - the property raises

    def test_documented(self):
        assert "run" in experiment.workdir.__doc__
        assert "results" in experiment.resultspath.__doc__


LOG_TASKS = '''
import logging
from xpm_nb import Task, Param

class LogInfo(Task):
    value: Param[int]

    def execute(self):
        logging.getLogger("mytask").info("info-line %d", self.value)
        logging.info("root-info-line")
        logging.debug("debug-line-hidden")
'''

OWN_CONFIG_TASKS = '''
import logging
from xpm_nb import Task, Param

# The task's module configures logging at import: it must stand.
logging.basicConfig(level=logging.DEBUG, format="OWN|%(name)s|%(message)s")

class OwnLog(Task):
    value: Param[int]

    def execute(self):
        logging.getLogger("mytask").debug("own-debug-line")
        logging.getLogger("mytask").info("own-info-line")
'''

DRIVER = '''
import json, sys
from pathlib import Path
from xpm_nb import experiment
from {module} import {cls}

with experiment(sys.argv[1], "logs") as xp:
    t = {cls}.C(value=3).submit()
job = t.__xpm__.job
print(json.dumps({{"err": str(job.paths.stderr), "state": job.state.name}}))
'''


def _run_driver(tmp_path: Path, workdir: Path, module: str, cls: str, source: str) -> str:
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{module}.py").write_text(textwrap.dedent(source))
    (code / "driver.py").write_text(DRIVER.format(module=module, cls=cls))
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath(code)
    proc = subprocess.run([sys.executable, str(code / "driver.py"), str(workdir)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=code)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["state"] == "DONE", result
    return Path(result["err"]).read_text()


class TestJobLogging:
    def test_task_info_lines_land_in_the_job_err(self, workdir, tmp_path):
        err = _run_driver(tmp_path, workdir, "xpmnb_logtasks", "LogInfo", LOG_TASKS)
        # The reference's format: LEVEL:pid:yy-mm-dd HH:MM:SS [logger] message
        fmt = r"INFO:\d+:\d\d-\d\d-\d\d \d\d:\d\d:\d\d \[{}\] {}"
        assert re.search(fmt.format("mytask", "info-line 3"), err), err
        assert re.search(fmt.format("root", "root-info-line"), err), err
        assert "debug-line-hidden" not in err

    def test_a_configuration_made_by_the_task_module_stands(self, workdir, tmp_path):
        err = _run_driver(tmp_path, workdir, "xpmnb_ownlog", "OwnLog", OWN_CONFIG_TASKS)
        assert "OWN|mytask|own-debug-line" in err, err
        assert "OWN|mytask|own-info-line" in err, err
        assert "INFO:" not in err  # not configured a second time, in our format
