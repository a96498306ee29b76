"""Fault 7: security. File modes follow the user's umask; reading a workspace runs
none of its code; the monitoring server listens on loopback and wants its token.

SSH host keys (unknown and changed keys refused) are tested against the real
sshd in ``tests/ssh/test_host_keys.py``.
"""

from __future__ import annotations

import json
import pickle
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from relhelpers import (
    Driver,
    isolated_env,  # noqa: F401 - autouse fixture
)
from reltasks import Append

from xpm_nb import experiment
from xpm_nb.experiments.workspace_jobs import workspace_experiments, workspace_jobs
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

UMASK_DRIVER = """
from reltasks import Append
from xpm_nb import experiment
from xpm_nb.connectors.local import LocalConnector
ws, log, tokens = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
token = LocalConnector(tokens).createtoken("t", 1)
with experiment(ws, "umask") as xp:
    task = Append.C(value=1, log=log)
    task.add_dependencies(token.dependency(1))
    task.submit()
print("done", flush=True)
"""


def _created(*roots: Path) -> list[Path]:
    return [p for root in roots for p in [root, *root.rglob("*")] if not p.is_symlink()]


class TestUmask:
    def test_umask_077_nothing_readable_by_others(self, tmp_path):
        """A driver under umask 077: every folder and file it or its jobs create
        (workspace, job folder, markers, logs, tokens) is the user's only."""
        ws, tokens = tmp_path / "ws", tmp_path / "tokens"
        Driver(UMASK_DRIVER, str(ws), str(tmp_path / "runs.log"), str(tokens),
               umask=0o077).finish()
        paths = _created(ws, tokens)
        assert any(p.name == "append.done" for p in paths)
        assert any(p.name == "t.token" for p in paths)
        loose = [f"{oct(stat.S_IMODE(p.stat().st_mode))} {p}" for p in paths
                 if stat.S_IMODE(p.stat().st_mode) & 0o077]
        assert not loose, "\n".join(loose)

    def test_umask_022_files_follow_the_umask(self, tmp_path):
        ws, tokens = tmp_path / "ws", tmp_path / "tokens"
        Driver(UMASK_DRIVER, str(ws), str(tmp_path / "runs.log"), str(tokens),
               umask=0o022).finish()
        wrong = []
        for p in _created(ws, tokens):
            mode = stat.S_IMODE(p.stat().st_mode)
            expected = 0o755 if p.is_dir() else 0o644
            if mode & ~0o111 != expected & ~0o111:
                wrong.append(f"{oct(mode)} {p}")
        assert not wrong, "\n".join(wrong)


class _Payload:
    """Unpickling it creates the marker file: proof that workspace code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _plant(ws: Path, marker: Path) -> Path:
    """A done job folder and a never-run one, each with a malicious classes.pkl and a
    params.json naming a module planted next to it; a module in the workspace root."""
    evil = f"open({str(marker)!r}, 'w').write('pwned')\n"
    folders = []
    for config in (Append.C(value=1, log=ws / "log"), Append.C(value=2, log=ws / "log")):
        folder = ws / "jobs" / "reltasks.append" / config.__identifier__().hex()
        (folder / ".experimaestro").mkdir(parents=True)
        (folder / "classes.pkl").write_bytes(pickle.dumps({"x:y": _Payload(marker)}))
        (folder / "params.json").write_text(json.dumps({"version": 3, "objects": [
            {"id": 1, "module": "evil_xpm", "type": "Evil", "typename": "evil", "fields": {}}]}))
        (folder / "evil_xpm.py").write_text(evil)
        folders.append(folder)
    (folders[0] / "append.done").touch()
    (ws / "evil_xpm.py").write_text(evil)
    (ws / "jobs" / "evil_xpm.evil" / ("0" * 64)).mkdir(parents=True)
    return folders[0]


class TestNoCodeFromTheWorkspace:
    def test_reading_and_using_a_workspace_runs_none_of_its_code(self, workdir, tmp_path):
        """Opening experiments, listing jobs (API and command line), submitting a new
        job and a job found done: the planted pickle and modules never run."""
        marker = tmp_path / "pwned"
        with experiment(workdir, "setup", project_paths=[]):
            pass
        _plant(workdir, marker)
        ws = Workspace(WorkspaceSettings(workdir))
        listed = workspace_jobs(ws)
        assert {j.state for j in listed} >= {"done"}
        workspace_experiments(ws)
        for args in (["jobs", "list"], ["experiments", "list"], ["jobs", "list", "--json"]):
            cli = subprocess.run([sys.executable, "-m", "xpm_nb.cli", *args, "--workdir",
                                  str(workdir)], capture_output=True, text=True, cwd=workdir,
                                 timeout=60)
            assert cli.returncode == 0, cli.stderr
        with experiment(workdir, "user", project_paths=[]):
            done = Append.C(value=1, log=workdir / "log").submit()  # found done
            fresh = Append.C(value=3, log=tmp_path / "log").submit()  # a new job
        assert done.__xpm__.job.state is JobState.DONE
        assert fresh.__xpm__.job.state is JobState.DONE
        assert not (workdir / "log").exists()  # the done job was not run again
        assert not marker.exists(), "code from the workspace ran"

    def test_the_planted_payload_does_run_when_loaded(self, workdir, tmp_path):
        """Control: the planted classes.pkl is live (so the test above can fail)."""
        marker = tmp_path / "pwned"
        folder = _plant(workdir, marker)
        pickle.loads((folder / "classes.pkl").read_bytes())
        assert marker.read_text() == "pwned"


class TestMonitoringServer:
    def test_server_listens_on_loopback_and_requires_its_token(self, workdir):
        """experiment(port=0): bound to 127.0.0.1, 401 without the token, 403 with a
        wrong one, 200 with it; its server.json (holding the token) is the user's only."""
        xp = experiment(workdir, "served", port=0, project_paths=[])
        try:
            server = xp.server
            assert server._httpd.server_address[0] == "127.0.0.1"
            base = f"http://127.0.0.1:{server.port}/api/jobs"
            codes = []
            for url in (base, base + "?token=wrong", base + f"?token={server.token}"):
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        codes.append(response.status)
                except urllib.error.HTTPError as exc:
                    codes.append(exc.code)
            assert codes == [401, 403, 200]
            info = xp.run_path / "server.json"
            assert stat.S_IMODE(info.stat().st_mode) == 0o600
            assert server.token in info.read_text()
        finally:
            xp.close()



def test_atomic_writes_never_set_the_process_umask(tmp_path):
    """Reading the umask means setting it (``os.umask``): a race with the process's
    other threads, which would create files with a wrong mode meanwhile. Writing
    and importing never call it; the kernel applies the umask to the temp file."""
    code = f"""
import os, sys
calls = []
real = os.umask
os.umask = lambda mask: calls.append(mask) or real(mask)
real(0o027)
import xpm_nb
from pathlib import Path
from xpm_nb.core.params import atomic_write
target = Path({str(tmp_path)!r}) / "f.json"
atomic_write(target, "{{}}")
print(oct(target.stat().st_mode & 0o777), calls)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0o640", "[]"]


def test_environment_variable_names_cannot_inject_shell(tmp_path):
    """Names go unquoted into SLURM's batch script (``export NAME=...``): a name that
    is not letters, digits and '_' is refused where it is set and where it is written."""
    from types import SimpleNamespace

    from xpm_nb import experiment
    from xpm_nb.errors import XPMError
    from xpm_nb.launchers.slurm import SlurmLauncher
    from xpm_nb.launchers.slurm.launcher import SlurmScriptBuilder
    from xpm_nb.scheduler.jobs import _JobEnviron

    bad = "X=1; touch /tmp/pwned #"
    with experiment(tmp_path / "ws", "env") as xp:
        with pytest.raises(XPMError, match="environment variable name") as info:
            xp.setenv(bad, "v")
        assert "Fix" in str(info.value)
        xp.setenv("GOOD_NAME", "v; rm -rf /")  # values are quoted, so any value is fine
    with pytest.raises(XPMError, match="job environment variable"):
        _JobEnviron({})[bad] = "v"
    job = SimpleNamespace(locator="t/0", path=tmp_path)
    builder = SlurmScriptBuilder(SlurmLauncher())
    script = builder.script(job, {"GOOD_NAME": "v; rm -rf /"})
    assert "export GOOD_NAME='v; rm -rf /'" in script
    with pytest.raises(XPMError, match="environment variable name"):
        builder.script(job, {bad: "v"})
