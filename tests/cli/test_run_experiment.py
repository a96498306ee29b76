"""``xpm-nb run-experiment`` run as a subprocess on real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from support.integration import need

from .helpers import cli_env, run_cli


def _results(workdir: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in workdir.glob("jobs/experiment.train/*/result.txt")}


class TestRunExperiment:
    def test_overrides_reach_the_jobs(self, project, workdir):
        """KEY=VALUE overrides (before or after options) win over the YAML files; imports merge."""
        proc = run_cli("run-experiment", project / "exp.yaml", "lr=0.5", "--workdir", workdir,
                       "seeds=[3, 4]", cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert "2 done" in proc.stdout
        # model.hidden from exp.yaml, model.kind from base.yaml (imported), lr and seeds overridden.
        assert sorted(_results(workdir).values()) == ["0.5 16 cnn 3", "0.5 16 cnn 4"]
        run = (workdir / "experiments" / "cli-test" / "current").resolve()
        saved = yaml.safe_load((run / "configuration.yaml").read_text())
        assert saved["configuration"]["lr"] == 0.5
        assert saved["configuration"]["model"] == {"hidden": 16, "kind": "cnn"}
        assert saved["configuration"]["title"] == "CLI test"
        assert saved["files"] == [str(project / "base.yaml"), str(project / "exp.yaml")]
        records = [json.loads(line) for line in (run / "jobs.jsonl").read_text().splitlines()]
        assert sorted(r["tags"]["seed"] for r in records) == [3, 4]
        assert {r["tags"]["kind"] for r in records} == {"cnn"}

    def test_second_run_finds_the_jobs_done(self, project, workdir):
        """Running the same configuration again runs nothing: the job folders are done."""
        args = ("run-experiment", project / "exp.yaml", "--workdir", workdir)
        assert run_cli(*args).returncode == 0
        before = {p: p.stat().st_mtime_ns for p in workdir.glob("jobs/*/*/result.txt")}
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        after = {p: p.stat().st_mtime_ns for p in workdir.glob("jobs/*/*/result.txt")}
        assert before == after and len(after) == 2
        runs = [p for p in (workdir / "experiments" / "cli-test").iterdir()
                if p.is_dir() and not p.is_symlink()]
        assert len(runs) == 2

    def test_failed_job_exits_1_naming_the_job(self, project, workdir):
        proc = run_cli("run-experiment", project / "exp.yaml", "fail=true", "seeds=[7]",
                       "--workdir", workdir)
        assert proc.returncode == 1
        assert "asked to fail" in proc.stderr and "experiment.train" in proc.stderr
        assert "Traceback" not in proc.stderr

    def test_show_prints_the_merged_configuration(self, project):
        proc = run_cli("run-experiment", project / "exp.yaml", "--show", "-c", "model.kind=rnn")
        assert proc.returncode == 0, proc.stderr
        shown = yaml.safe_load(proc.stdout)
        assert shown["model"] == {"hidden": 16, "kind": "rnn"}
        assert shown["lr"] == 0.01 and shown["id"] == "cli-test"

    def test_workdir_from_environment_and_timestamped_id(self, project, workdir):
        """$XPM_NB_WORKDIR gives the workspace; add_timestamp suffixes the experiment id."""
        proc = run_cli("run-experiment", project / "exp.yaml", "add_timestamp=true", "seeds=[5]",
                       env=cli_env(XPM_NB_WORKDIR=str(workdir)))
        assert proc.returncode == 0, proc.stderr
        names = [p.name for p in (workdir / "experiments").iterdir()]
        assert len(names) == 1 and names[0].startswith("cli-test-20")

    def test_no_workspace_is_an_error(self, project):
        proc = run_cli("run-experiment", project / "exp.yaml")
        assert proc.returncode == 2
        assert "--workdir" in proc.stderr

    def test_environment_is_saved_with_the_run(self, project, workdir):
        """environment.json: Python and package versions (and git state, see test_gitstate)."""
        assert run_cli("run-experiment", project / "exp.yaml", "--workdir", workdir,
                       "seeds=[1]").returncode == 0
        run = (workdir / "experiments" / "cli-test" / "current").resolve()
        env = json.loads((run / "environment.json").read_text())
        assert env["python_version"] == ".".join(map(str, sys.version_info[:3]))
        assert env["packages"]["xpm_nb"]
        assert env["projects"] == []  # the temporary folder is not in a git repository

    def test_entry_point_script(self, project, workdir):
        """The installed ``xpm-nb`` script runs the same command."""
        script = shutil.which("xpm-nb") or str(Path(sys.executable).parent / "xpm-nb")
        need(Path(script).exists(), "the xpm-nb script is not installed (pip install -e .)")
        proc = subprocess.run([script, "run-experiment", str(project / "exp.yaml"), "--workdir",
                               str(workdir), "seeds=[11]"], capture_output=True, text=True,
                              env=cli_env(), timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert list(_results(workdir).values()) == ["0.01 16 cnn 11"]


class TestPythonPathAndModules:
    def test_module_and_pre_experiment(self, tmp_path, workdir):
        """``module:`` imports run() from a package on ``pythonpath:``, after ``pre_experiment``."""
        pkg = tmp_path / "code" / "mypkg"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "xp.py").write_text(
            "import os\n"
            "from xpm_nb import Param, Task\n"
            "from xpm_nb.experiments import ConfigurationBase, configuration\n"
            "@configuration\n"
            "class Cfg(ConfigurationBase):\n"
            "    n: int = 1\n"
            "class Echo(Task):\n"
            "    n: Param[int]\n"
            "    marker: Param[str]\n"
            "    def execute(self):\n"
            "        print('echo', self.n, self.marker)\n"
            "def run(helper, cfg: Cfg):\n"
            "    Echo.C(n=cfg.n, marker=os.environ['XPM_TEST_PRE']).submit()\n")
        conf = tmp_path / "conf"
        conf.mkdir()
        (conf / "pre.py").write_text("import os\nos.environ['XPM_TEST_PRE'] = 'pre-ran'\n")
        (conf / "xp.yaml").write_text("id: modules\nmodule: mypkg.xp\npythonpath: [../code]\n"
                                      "pre_experiment: pre.py\nn: 3\n")
        proc = run_cli("run-experiment", conf / "xp.yaml", "--workdir", workdir)
        assert proc.returncode == 0, proc.stderr
        outs = list(workdir.glob("jobs/mypkg.xp.echo/*/echo.out"))
        assert [p.read_text() for p in outs] == ["echo 3 pre-ran\n"]


def test_exponent_floats_from_yaml_and_overrides(project, workdir):
    """PyYAML reads ``1e-3`` as a str: converted to the float field, as the reference
    does (in the YAML file and in a ``KEY=VALUE`` override alike)."""
    (project / "exp.yaml").write_text((project / "exp.yaml").read_text() + "lr: 1e-3\n")
    proc = run_cli("run-experiment", project / "exp.yaml", "--workdir", workdir, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert {v.split()[0] for v in _results(workdir).values()} == {"0.001"}
    proc = run_cli("run-experiment", project / "exp.yaml", "lr=1e-4", "--workdir", workdir,
                   cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "0.0001" in {v.split()[0] for v in _results(workdir).values()}
