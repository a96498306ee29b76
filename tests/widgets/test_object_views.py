"""Static rich displays of workspaces, launchers, connectors, tokens, requirements, services
and loaded experiment runs, through a real IPython shell's display formatter."""

from __future__ import annotations

import asyncio
import html
import http.server
import logging
import os
import re
import sys
import textwrap
import threading
import types

import pytest
from widget_helpers import HERE, SCHEDULER_TESTS, importable_tasks, until  # noqa: F401 - fixture
from widget_tasks import Fail, Model, Steps

from xpm_nb import display, experiment, tag
from xpm_nb.connectors.local import LocalConnector
from xpm_nb.core.serialization import load_xp_info
from xpm_nb.experiments.workspace_jobs import workspace_experiments
from xpm_nb.launcherfinder import parse
from xpm_nb.launcherfinder.registry import LauncherRegistry
from xpm_nb.launchers.direct import DirectLauncher
from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
from xpm_nb.scheduler.experiment import FailedExperiment
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.workspace import Workspace
from xpm_nb.services import Service, WebService
from xpm_nb.widgets import object_views

EVIL = "<b>x</b>"  # a user value that must show as text, never as markup


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    display.register(ip)
    return ip


def bundle(shell, obj) -> dict:
    data, _ = shell.display_formatter.format(obj)
    return data


def assert_shows(data: dict, *values: str) -> None:
    """Each value is in the HTML (escaped) and in the text; no user markup in the HTML."""
    assert sorted(data) == ["text/html", "text/plain"], sorted(data)
    for value in values:
        assert html.escape(value) in data["text/html"], value
        assert value in data["text/plain"], value
    assert "<b>x" not in data["text/html"]


def facts(data: dict) -> dict[str, str]:
    """The (name, value) rows at the head of a card's HTML, unescaped."""
    rows = re.findall(r"<tr><th[^>]*>(.*?)</th><td[^>]*>(.*?)</td></tr>", data["text/html"])
    return {html.unescape(k): html.unescape(v) for k, v in rows}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A workspace (its path holds markup) with a job done and a job failed."""
    root = tmp_path_factory.mktemp("views") / f"ws{EVIL}".replace("/", "_")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(
            [str(SCHEDULER_TESTS), str(HERE), os.environ.get("PYTHONPATH", "")]))
        # A failed job no longer makes the block raise (xp.wait(check=True) does);
        # earlier it raised FailedExperiment at exit: either way the run is recorded.
        try:
            with experiment(root, "xp<i>1", launcher=DirectLauncher(max_jobs=2)) as xp:
                Steps.C(model=Model.C(hidden=1, activation=tag(EVIL)), outer=1, inner=1,
                        pause=0.0).submit()
                Fail.C(code=3).submit()
        except FailedExperiment:
            pass
    return xp


def test_every_view_is_registered():
    assert set(object_views.RENDERERS) <= set(display.TARGETS)


def test_workspace_counts_jobs_and_shows_experiments(shell, workspace):
    ws = Workspace(workspace.workspace.path)
    data = bundle(shell, ws)
    assert_shows(data, str(ws.path), "2: 1 done, 1 failed", "xp<i>1", "failed")
    assert "local (" in data["text/plain"]
    assert "<i>1" not in data["text/html"]
    # The experiment's last run: failed, 2 jobs.
    line = next(x for x in data["text/plain"].splitlines() if x.strip().startswith("xp<i>1"))
    assert line.split()[1:2] == ["failed"]


def test_workspace_caps_the_job_folders_read(shell, workspace, monkeypatch):
    monkeypatch.setattr(object_views, "MAX_JOB_FOLDERS", 1)
    monkeypatch.setattr(object_views, "MAX_EXPERIMENTS", 0)
    data = bundle(shell, Workspace(workspace.workspace.path))
    assert_shows(data, "1+:", "the first 1 job folders", "… and 1 more")


def test_workspace_counts_a_running_job(shell, workdir, tmp_path):
    """A job whose process lives counts as running; once done, as done."""
    gate = tmp_path / "gate"

    async def main():
        xp = experiment(workdir, "live")
        out = Steps.C(model=Model.C(hidden=2), outer=1, inner=1, pause=0.0, gate=gate).submit()
        job = out.__xpm__.job
        await until(lambda: job.state is JobState.RUNNING)
        running = facts(bundle(shell, Workspace(workdir)))["jobs"]
        gate.touch()
        await until(lambda: job.state.finished)
        xp.close()
        return running, facts(bundle(shell, Workspace(workdir)))["jobs"]

    assert asyncio.run(main()) == ("1: 1 running", "1: 1 done")


def test_loaded_experiment_run_shows_jobs_and_tags(shell, workspace):
    info = load_xp_info(workspace.run_path)
    data = bundle(shell, info)
    assert_shows(data, "2 jobs, 0 actions", "steps", "fail", f"activation={EVIL}")
    (summary,) = workspace_experiments(workspace.workspace)
    data = bundle(shell, summary)
    assert_shows(data, "xp<i>1", "(failed)")
    assert facts(data)["jobs"] == "2" and facts(data)["runs"] == "1"


def test_direct_launcher_shows_python_and_slots(shell, tmp_path, monkeypatch):
    data = bundle(shell, DirectLauncher(max_jobs=3, python=f"/opt/{EVIL}/python"))
    assert_shows(data, f"/opt/{EVIL}/python")
    # Slots held host-wide are counted from any thread; earlier, without a running loop,
    # the card left "running" out.
    assert facts(data)["max jobs"] == "3" and facts(data).get("running", "0") == "0"
    shared = bundle(shell, DirectLauncher())
    assert_shows(shared, sys.executable, "shared by this host's launchers")

    # One job holding a slot of a pool of this test's own (its own size and slot folder).
    monkeypatch.setenv("XPM_NB_SLOTS_DIR", str(tmp_path / "slots"))
    launcher = DirectLauncher(max_jobs=7)
    job = types.SimpleNamespace(path=tmp_path / "job")

    async def one_running():
        await launcher.slots().acquire(job)
        return bundle(shell, launcher)

    try:
        assert facts(asyncio.run(one_running()))["running"] == "1"
    finally:
        launcher.slots().release(job)  # off any loop: returns when done


def test_slurm_launcher_and_options(shell):
    options = SlurmOptions(partition=f"gpu{EVIL}", time="4:00:00", gpus=2, cpus_per_task=4)
    data = bundle(shell, SlurmLauncher(options=options, binpath="/opt/slurm/bin", interval=5))
    assert_shows(data, "/opt/slurm/bin", "5 s", f"--partition=gpu{EVIL}", "--time=4:00:00",
                 "--gpus=2", "--cpus-per-task=4", "sbatch --nodes=1")
    assert "<td>partition</td>" in data["text/html"]
    assert_shows(bundle(shell, options), "cpus_per_task", f"gpu{EVIL}", "sbatch --nodes=1")


def test_connectors(shell, tmp_path):
    import socket

    assert_shows(bundle(shell, LocalConnector(tmp_path / EVIL.replace("/", "_"))),
                 socket.gethostname(), "<b>x<_b>")
    pytest.importorskip("paramiko")
    from xpm_nb.connectors.ssh import SshConnector

    config = tmp_path / "ssh_config"
    config.write_text("")
    connector = SshConnector("alice@host.invalid:2222", ssh_config=config)
    data = bundle(shell, connector)  # no network call: the host does not exist
    assert_shows(data, "alice@host.invalid:2222", "not connected yet", "2222", "alice")


def test_token_shows_its_holders(shell, tmp_path):
    token = LocalConnector(tmp_path).createtoken(f"gpu{EVIL}".replace("/", "_"), 3)
    holder = tmp_path / "jobs" / "t" / "abc"
    holder.mkdir(parents=True)
    assert token.try_acquire(str(holder), 2, pid=os.getpid())
    data = bundle(shell, token)
    assert_shows(data, "2/3 used", str(holder), str(os.getpid()), "gpu<b>x<_b>")


def test_requirement_and_launchers_file(shell, tmp_path):
    data = bundle(shell, parse("duration=4h & cuda(mem=8GiB) * 2 | cpu(cores=4)"))
    assert_shows(data, "alternatives", "2 × cuda(mem=8GiB)", "4h")
    lines = data["text/plain"].splitlines()
    assert lines[-2].split()[:3] == ["1", "4h", "2"] and lines[-1].split() == ["2", "4"]
    path = tmp_path / "launchers.yaml"
    path.write_text(textwrap.dedent(f"""\
        - name: "cluster{EVIL}"
          type: slurm
          tags: [gpu]
          hosts:
            - name: v100
              options: {{partition: gpu}}
              cpu: {{cores: 40, memory: 192GiB}}
              accelerators: [{{type: cuda, model: V100, memory: 32GiB, count: 4}}]
              max_duration: 20h
        """))
    registry = LauncherRegistry.load(path)
    assert_shows(bundle(shell, registry), f"cluster{EVIL}", "4 × cuda(mem=32GiB) V100",
                 "partition=gpu", "20h", "192GiB")
    assert f"cluster{EVIL}" in repr(registry)
    entry = registry.entries[0]
    assert_shows(bundle(shell, entry), "gpu", "v100", "SlurmLauncher(")
    assert_shows(bundle(shell, entry.hosts[0]), "cores", "40", "4 × cuda(mem=32GiB) V100")
    assert_shows(bundle(shell, entry.hosts[0].spec), "192GiB", "20h")


class Hello(WebService):
    """A real HTTP server on the loopback interface."""

    id = "hello"

    def description(self) -> str:
        return f"greets {EVIL}"

    def _serve(self, running: threading.Event) -> None:
        server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
        server.timeout = 0.05
        self.url = f"http://127.0.0.1:{server.server_port}/"
        running.set()
        with server:
            while not self.should_stop():
                server.handle_request()


def test_services_show_state_and_url(shell):
    service = Hello()
    assert_shows(bundle(shell, service), "stopped", f"greets {EVIL}")
    url = service.get_url()
    try:
        data = bundle(shell, service)
        assert_shows(data, "running", url)
        assert f"<a href='{url}'" in data["text/html"]
    finally:
        service.stop()
    assert_shows(bundle(shell, Service()), "Service", "stopped")


def test_a_failing_view_falls_back_to_text(shell, monkeypatch, caplog):
    def broken(options):
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(object_views.RENDERERS,
                        ("xpm_nb.launchers.slurm.options", "SlurmOptions"), broken)
    options = SlurmOptions(partition="gpu")
    with caplog.at_level(logging.WARNING, logger="xpm_nb.display"):
        data = bundle(shell, options)
    assert data == {"text/plain": repr(options)}
    assert "could not render SlurmOptions" in caplog.text


def test_experiment_view_links_only_web_service_urls():
    """A service's URL is not trusted: only http(s) ever reaches the view as a link."""
    from types import SimpleNamespace

    from xpm_nb.widgets.experiment_view import service_info

    def url_of(url):
        return service_info("s", SimpleNamespace(url=url, state=None))["url"]

    assert url_of("http://127.0.0.1:6006/") == "http://127.0.0.1:6006/"
    assert url_of("https://example.org/x") == "https://example.org/x"
    assert url_of("javascript:alert(1)") is None
    assert url_of(" JavaScript:alert(1)") is None
    assert url_of("data:text/html,<script>") is None
