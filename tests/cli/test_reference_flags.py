"""``run-experiment`` with the reference's flags, ``settings.yaml`` and configuration folder.

Each test runs ``python -m xpm_nb run-experiment`` as a subprocess, with
``HOME`` in a temporary folder (no user configuration leaks in), on a small
experiment whose jobs write what they saw (environment, launcher marker).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.waiting import wait_until

from .helpers import cli_env

EXPERIMENT = '''
import os
from pathlib import Path

from xpm_nb import Meta, Param, PathGenerator, Task, field
from xpm_nb.experiments import ConfigurationBase, ExperimentHelper, configuration


@configuration
class Configuration(ConfigurationBase):
    n: int = 1
    find: bool = False


class Record(Task):
    n: Param[int]
    out: Meta[Path] = field(default_factory=PathGenerator("env.json"))

    def execute(self):
        keys = ("XPM_T_GLOBAL", "XPM_T_WS", "XPM_T_CLI")
        self.out.write_text(__import__("json").dumps({k: os.environ.get(k) for k in keys}))


def run(helper: ExperimentHelper, cfg: Configuration):
    launcher = None
    if cfg.find:
        from xpm_nb.launcherfinder import find_launcher
        launcher = find_launcher("cpu(cores=1)")
    Record.C(n=cfg.n).submit(launcher=launcher)
'''

LAUNCHERS_PY = '''
import os
from pathlib import Path
from xpm_nb.launchers.direct import DirectLauncher


def find_launcher(requirement, tags):
    Path(os.environ["XPM_T_MARK"]).write_text("{}".format(requirement))
    return DirectLauncher()
'''


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "experiment.py").write_text(EXPERIMENT)
    (folder / "xp.yaml").write_text("id: flags-test\nfile: experiment\n")
    return folder


def _env(home: Path, **extra) -> dict:
    env = cli_env(HOME=str(home), **extra)
    for name in ("XPM_NB_CONFIG_DIR", "XDG_CONFIG_HOME", "XPM_NB_DEBUG"):
        env.pop(name, None)
    return env


def _run(home: Path, *args, cwd: Path | None = None, timeout: float = 120, **extra):
    return subprocess.run([sys.executable, "-m", "xpm_nb", "run-experiment", *map(str, args)],
                          capture_output=True, text=True, env=_env(home, **extra), cwd=cwd,
                          timeout=timeout)


def _recorded(ws: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in ws.glob("jobs/experiment.record/*/env.json")]


def _settings(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.yaml").write_text(text)
    return folder


class TestSettingsWorkspaces:
    def test_workspace_id_and_env_from_settings(self, home, project, tmp_path):
        """--workspace ID: the path and env of settings.yaml (global env under the
        workspace's, --env over both), read from --xpm-config-dir."""
        ws = tmp_path / "ws-main"
        conf = _settings(tmp_path / "conf", f"""
env: {{XPM_T_GLOBAL: global, XPM_T_WS: from-global}}
workspaces:
  - id: other
    path: {tmp_path / "ws-other"}
  - id: main
    path: {ws}
    env: {{XPM_T_WS: "${{env:XPM_T_SOURCE}}"}}
""")
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf, "--workspace", "main",
                    "--env", "XPM_T_CLI", "cli", XPM_T_SOURCE="interpolated")
        assert proc.returncode == 0, proc.stderr
        assert _recorded(ws) == [{"XPM_T_GLOBAL": "global", "XPM_T_WS": "interpolated",
                                  "XPM_T_CLI": "cli"}]
        assert not (tmp_path / "ws-other").exists()

    def test_workdir_overrides_the_workspace_path(self, home, project, tmp_path):
        conf = _settings(tmp_path / "conf", f"""
workspaces:
  - id: main
    path: {tmp_path / "unused"}
    env: {{XPM_T_WS: main}}
""")
        ws = tmp_path / "given"
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf, "--workspace", "main",
                    "--workdir", ws)
        assert proc.returncode == 0, proc.stderr
        assert [r["XPM_T_WS"] for r in _recorded(ws)] == ["main"]
        assert not (tmp_path / "unused").exists()

    def test_trigger_picks_the_workspace(self, home, project, tmp_path):
        """No --workdir: the first workspace whose trigger matches the experiment id,
        from the reference's folder ~/.config/experimaestro."""
        _settings(home / ".config" / "experimaestro", f"""
workspaces:
  - id: default
    path: {tmp_path / "ws-default"}
  - id: flags
    path: {tmp_path / "ws-flags"}
    triggers: ["nomatch-*", "flags-*"]
""")
        proc = _run(home, project / "xp.yaml")
        assert proc.returncode == 0, proc.stderr
        assert len(_recorded(tmp_path / "ws-flags")) == 1
        assert not (tmp_path / "ws-default").exists()
        # No trigger matches: the first (local) workspace.
        proc = _run(home, project / "xp.yaml", "id=elsewhere")
        assert proc.returncode == 0, proc.stderr
        assert len(_recorded(tmp_path / "ws-default")) == 1

    def test_trigger_wins_over_xpm_nb_workdir(self, home, project, tmp_path):
        """$XPM_NB_WORKDIR (ours) is a default: a matching trigger is more specific."""
        conf = _settings(tmp_path / "conf", f"""
workspaces:
  - id: flags
    path: {tmp_path / "ws-flags"}
    triggers: ["flags-*"]
""")
        env_ws = tmp_path / "ws-env"
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf,
                    XPM_NB_WORKDIR=str(env_ws))
        assert proc.returncode == 0, proc.stderr
        assert len(_recorded(tmp_path / "ws-flags")) == 1
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf, "id=other",
                    XPM_NB_WORKDIR=str(env_ws))
        assert proc.returncode == 0, proc.stderr
        assert len(_recorded(env_ws)) == 1

    def test_unknown_workspace_names_the_known_ones(self, home, project, tmp_path):
        conf = _settings(tmp_path / "conf", f"workspaces:\n  - id: main\n    path: {tmp_path}/w\n")
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf, "--workspace", "nope")
        assert proc.returncode == 2
        assert "'nope'" in proc.stderr and "main" in proc.stderr
        assert str(conf / "settings.yaml") in proc.stderr

    def test_bad_settings_name_field_and_fix(self, home, project, tmp_path):
        conf = _settings(tmp_path / "conf", "workspaces:\n  - id: main\n    max_retries: x\n"
                                            "    path: /tmp/w\n")
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf)
        assert proc.returncode == 2
        assert "workspaces[0].max_retries" in proc.stderr and "'x'" in proc.stderr
        assert "Fix:" in proc.stderr

    def test_debug_shows_the_traceback(self, home, project, tmp_path):
        conf = _settings(tmp_path / "conf", "workspaces: []\n")
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", conf, "--workspace", "nope",
                    "--debug")
        assert proc.returncode != 0
        assert "Traceback" in proc.stderr and "ExperimentFileError" in proc.stderr

    def test_config_dir_must_exist(self, home, project, tmp_path):
        proc = _run(home, project / "xp.yaml", "--xpm-config-dir", tmp_path / "missing",
                    "--workdir", tmp_path / "ws")
        assert proc.returncode == 2
        assert "--xpm-config-dir" in proc.stderr and "not a folder" in proc.stderr


class TestLaunchersFiles:
    def test_launchers_py_of_xpm_config_dir(self, home, project, tmp_path):
        conf = tmp_path / "conf"
        conf.mkdir()
        (conf / "launchers.py").write_text(LAUNCHERS_PY)
        mark = tmp_path / "mark"
        proc = _run(home, project / "xp.yaml", "find=true", "--xpm-config-dir", conf,
                    "--workdir", tmp_path / "ws", XPM_T_MARK=str(mark))
        assert proc.returncode == 0, proc.stderr
        assert "cores=1" in mark.read_text().replace(" ", "")
        assert len(_recorded(tmp_path / "ws")) == 1

    def test_launchers_py_of_the_reference_folder(self, home, project, tmp_path):
        folder = home / ".config" / "experimaestro"
        folder.mkdir(parents=True)
        (folder / "launchers.py").write_text(LAUNCHERS_PY)
        mark = tmp_path / "mark"
        proc = _run(home, project / "xp.yaml", "find=true", "--workdir", tmp_path / "ws",
                    XPM_T_MARK=str(mark))
        assert proc.returncode == 0, proc.stderr
        assert mark.exists()

    def test_xpm_config_dir_replaces_the_default_folders(self, home, project, tmp_path):
        """As the reference: only --xpm-config-dir is read (here: none, so this machine)."""
        folder = home / ".config" / "experimaestro"
        folder.mkdir(parents=True)
        (folder / "launchers.py").write_text(LAUNCHERS_PY)
        empty = tmp_path / "empty"
        empty.mkdir()
        mark = tmp_path / "mark"
        proc = _run(home, project / "xp.yaml", "find=true", "--xpm-config-dir", empty,
                    "--workdir", tmp_path / "ws", XPM_T_MARK=str(mark))
        assert proc.returncode == 0, proc.stderr
        assert not mark.exists()
        assert len(_recorded(tmp_path / "ws")) == 1

    def test_launchers_yaml_of_xpm_config_dir(self, home, project, tmp_path):
        """A launchers.yaml whose only host takes GPU jobs only: a CPU job finds none (exit 2)."""
        conf = tmp_path / "conf"
        conf.mkdir()
        (conf / "launchers.yaml").write_text(
            "- name: gpus-only\n  type: direct\n  hosts:\n    - cpu: {cores: 8}\n"
            "      min_gpu: 1\n")
        proc = _run(home, project / "xp.yaml", "find=true", "--xpm-config-dir", conf,
                    "--workdir", tmp_path / "ws")
        assert proc.returncode == 2, proc.stderr
        assert "No launcher" in proc.stderr and str(conf / "launchers.yaml") in proc.stderr


class TestRunModesAndFlags:
    @pytest.mark.parametrize("mode", ["dry_run", "DRY_RUN", "dry-run"])
    def test_dry_run_writes_no_job_folder(self, home, project, tmp_path, mode):
        proc = _run(home, project / "xp.yaml", "--run-mode", mode, "--workdir", tmp_path / "ws")
        assert proc.returncode == 0, proc.stderr
        assert not list((tmp_path / "ws").glob("jobs/*/*"))

    @pytest.mark.parametrize("mode", ["generate_only", "Generate_Only", "generate"])
    def test_generate_only_writes_params_and_runs_nothing(self, home, project, tmp_path, mode):
        proc = _run(home, project / "xp.yaml", "--run-mode", mode, "--workdir", tmp_path / "ws")
        assert proc.returncode == 0, proc.stderr
        [folder] = (tmp_path / "ws").glob("jobs/experiment.record/*")
        assert (folder / "params.json").is_file()
        assert not (folder / "env.json").exists() and not list(folder.glob("*.done"))

    def test_bad_run_mode_lists_the_modes(self, home, project, tmp_path):
        proc = _run(home, project / "xp.yaml", "--run-mode", "fast", "--workdir", tmp_path)
        assert proc.returncode == 2
        assert "'fast'" in proc.stderr and "dry_run" in proc.stderr

    def test_no_op_flags_are_accepted(self, home, project, tmp_path):
        proc = _run(home, project / "xp.yaml", "--workdir", tmp_path / "ws", "--no-db",
                    "--no-progress", "--events-format", "json", "--events-viewer", "--console",
                    "--watcher", "polling", "--polling-interval", "2")
        assert proc.returncode == 0, proc.stderr
        assert len(_recorded(tmp_path / "ws")) == 1
        assert "--console does nothing here" in proc.stderr
        assert "--events-viewer does nothing here" in proc.stderr

    def test_web_serves_at_the_settings_port_until_quit(self, home, project, tmp_path):
        """--web: host, port and token of settings.yaml's server; the page stays up
        after the jobs end until someone quits from it."""
        conf = _settings(tmp_path / "conf", "server: {host: 127.0.0.1, port: 0, token: tok3n}\n")
        ws = tmp_path / "ws"
        cmd = [sys.executable, "-m", "xpm_nb", "run-experiment", str(project / "xp.yaml"),
               "--xpm-config-dir", str(conf), "--workdir", str(ws), "--web"]
        proc = subprocess.Popen(cmd, env=_env(home), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            def served() -> list[Path]:
                files = list(ws.glob("experiments/flags-test/*/server.json"))
                return files if files and _recorded(ws) else []

            info_files = wait_until(served, 60, "server.json and the job's record", step=0.1)
            assert info_files, "no server.json"
            info = json.loads(info_files[0].read_text())
            assert info["token"] == "tok3n" and info["host"] == "127.0.0.1"
            time.sleep(0.5)
            assert proc.poll() is None  # jobs done, page still up
            conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=30)
            conn.request("POST", "/api/quit", body=b"{}",
                         headers={"Authorization": "Bearer tok3n",
                                  "Content-Type": "application/json"})
            assert conn.getresponse().status == 200
            conn.close()
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate(timeout=30)
        assert "1 done" in out, err


class TestYamlResolution:
    def test_yaml_suffix_may_be_left_out(self, home, project, tmp_path):
        """As the reference: ``run-experiment xp`` runs ``xp.yaml`` (imports too)."""
        (project / "base.yaml").write_text("n: 7\n")
        (project / "xp.yaml").write_text("id: flags-test\nfile: experiment\nimports: [base]\n")
        proc = _run(home, project / "xp", "--workdir", tmp_path / "ws", cwd=project)
        assert proc.returncode == 0, proc.stderr
        [params] = (tmp_path / "ws").glob("jobs/experiment.record/*/params.json")
        assert '"n": 7' in params.read_text().replace('"n":7', '"n": 7')

    def test_template_layout_module_from_the_folder_above(self, home, tmp_path):
        """``myproject/experiments/foo.yaml`` naming ``module: experiments.foo``: imported
        from ``myproject`` (as many folders up as the module has parts), by the jobs too."""
        root = tmp_path / "myproject"
        pkg = root / "experiments"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "tasks.py").write_text(EXPERIMENT.split("def run(")[0])
        (pkg / "foo.py").write_text(
            "from experiments.tasks import Configuration, Record\n"
            "def run(helper, cfg: Configuration):\n"
            "    Record.C(n=cfg.n).submit()\n")
        (pkg / "foo.yaml").write_text("id: template\nmodule: experiments.foo\nn: 3\n")
        proc = _run(home, pkg / "foo.yaml", "--workdir", tmp_path / "ws", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert len(list((tmp_path / "ws").glob("jobs/experiments.tasks.record/*/env.json"))) == 1

    def test_missing_dependency_of_the_module_is_named(self, home, tmp_path):
        """A module found but importing a missing one: that one is named (no path guessing)."""
        pkg = tmp_path / "myproject" / "experiments"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "foo.py").write_text("import not_installed_xyz\n")
        (pkg / "foo.yaml").write_text("id: template\nmodule: experiments.foo\n")
        proc = _run(home, pkg / "foo.yaml", "--workdir", tmp_path / "ws", cwd=tmp_path)
        assert proc.returncode == 2
        assert "not_installed_xyz" in proc.stderr and "foo.yaml:2" in proc.stderr

    def test_file_relative_to_the_yaml_that_names_it(self, home, project, tmp_path):
        """``file:`` in an imported YAML of another folder: relative to that YAML."""
        shared = tmp_path / "shared"
        shared.mkdir()
        (project / "experiment.py").rename(shared / "experiment.py")
        (shared / "common.yaml").write_text("file: experiment\n")
        (project / "xp.yaml").write_text("id: flags-test\nimports: [../shared/common.yaml]\n")
        proc = _run(home, project / "xp.yaml", "--workdir", tmp_path / "ws")
        assert proc.returncode == 0, proc.stderr
        assert len(_recorded(tmp_path / "ws")) == 1
