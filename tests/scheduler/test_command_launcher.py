"""``CommandLauncher``: real jobs started through a command template (``nice``, a wrapper
script), cancelled through it, followed after a kernel restart, bounded by its slots.

The second launcher written against the ``Launcher`` hooks (``launchers/base.py``).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.failures import failed_experiment
from support.paths import tasks_importable
from support.spans import max_overlap
from support.waiting import job_ended, wait_until
from xpm_nb import experiment
from xpm_nb.errors import InvalidArgumentError, LaunchersFileError
from xpm_nb.launcherfinder.registry import find_launcher
from xpm_nb.launchers.command import CommandLauncher
from xpm_nb.launchers.slots import SLOTS_DIR_ENV
from xpm_nb.scheduler.jobs import JobState, pid_alive

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from command_tasks import Niceness, PidAndEnv  # noqa: E402
from tasks import Span, WaitForFile  # noqa: E402

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def slots_folder(tmp_path, monkeypatch) -> Path:
    """The host's slot file of each test in a folder of its own (inherited by drivers)."""
    folder = tmp_path / "slots"
    monkeypatch.setenv(SLOTS_DIR_ENV, str(folder))
    return folder


def _wrapper(tmp_path: Path, record: Path, *, exec_job: bool = True) -> Path:
    """A wrapper script: appends its pid, its arguments and two variables of its
    environment to ``record`` (one JSON line per run), then runs the job (``exec``, or
    as its child when ``exec_job`` is False)."""
    script = tmp_path / ("wrap-exec" if exec_job else "wrap-child")
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import json, os, sys
        with open({str(record)!r}, "a") as f:
            f.write(json.dumps({{"pid": os.getpid(), "argv": sys.argv[1:],
                                "flag": os.environ.get("WRAPPER_FLAG"),
                                "job": os.environ.get("XPM_NB_JOB_NAME")}}) + "\\n")
        """) + (
        "os.execvp(sys.argv[1], sys.argv[1:])\n" if exec_job else
        "import subprocess\nsys.exit(subprocess.call(sys.argv[1:]))\n"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _runs(record: Path) -> list[dict]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def _job_pid(job) -> int | None:
    try:
        return int(json.loads(job.paths.pid.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


# --- real jobs through a template ------------------------------------------------------


def test_jobs_run_through_nice(workdir, tmp_path):
    """``["nice", "-n", "7"]``: the job process runs 7 steps nicer than its driver."""
    expected = min(os.nice(0) + 7, 19)
    launcher = CommandLauncher(["nice", "-n", "7"], max_jobs=2)
    with experiment(workdir, "nice", launcher=launcher):
        task = Niceness.C(expected=expected, out=tmp_path / "niceness")
        task.submit()
    job = task.__xpm__.job
    assert job.state is JobState.DONE, job.failure_reason
    assert (tmp_path / "niceness").read_text() == str(expected)


def test_a_wrapper_script_gets_the_job_command_and_environment(workdir, tmp_path):
    """A template ending with ``{command}``: the wrapper receives the job's command line
    (this Python, ``-m xpm_nb.run``, the job folder) and the job's environment (the
    launcher's variables too), then execs it: the job process is the wrapper's pid."""
    record = tmp_path / "runs.jsonl"
    launcher = CommandLauncher([str(_wrapper(tmp_path, record)), "{command}"])
    launcher.setenv("WRAPPER_FLAG", "on")
    out = tmp_path / "pid-and-env"
    with experiment(workdir, "wrapped", launcher=launcher):
        task = PidAndEnv.C(name="WRAPPER_FLAG", out=out)
        task.submit()
    job = task.__xpm__.job
    assert job.state is JobState.DONE, job.failure_reason
    (run,) = _runs(record)
    assert run["argv"] == [sys.executable, "-m", "xpm_nb.run", str(job.path)]
    assert run["flag"] == "on" and run["job"] == job.name
    pid, flag = out.read_text().split()
    assert int(pid) == run["pid"] and flag == "on"  # exec'd: one process, the job's


def test_a_shell_snippet_gets_the_quoted_command(workdir, tmp_path):
    """``{command}`` inside an element is the job's command line quoted for the shell."""
    marker = tmp_path / "ran in sh"
    launcher = CommandLauncher(["sh", "-c", f"touch '{marker}' && exec {{command}}"])
    with experiment(workdir, "shell snippet", launcher=launcher):  # a space in the path
        task = Niceness.C(expected=os.nice(0), out=tmp_path / "niceness")
        task.submit()
    assert task.__xpm__.job.state is JobState.DONE
    assert marker.exists()


# --- templates refused ---------------------------------------------------------------


@pytest.mark.parametrize(("template", "words"), [
    ("nice -n 7", "a string, not a list of arguments; split it, e.g. shlex.split('nice -n 7')"),
    ([], "expected a non-empty list of arguments"),
    (["nice", "-n", 7], "element 2 is 7; every argument is a non-empty string"),
    (["env", "{cmd}"], "has the placeholder {cmd}; the only one is {command}"),
    (["{command}", "--verbose"], "'--verbose' comes after {command}"),
    (["sh", "-c", "{command}; {command}"], "{command} appears more than once"),
    (["no-such-wrapper-xpm"], "the program 'no-such-wrapper-xpm' is not found"),
])
def test_a_template_without_a_usable_shape_is_refused(template, words):
    with pytest.raises(InvalidArgumentError) as info:
        CommandLauncher(template)
    message = str(info.value)
    assert message.startswith(f"CommandLauncher(command={template!r}): ")  # field, value
    assert words in message and "Fix: give a list of arguments" in message  # what, fix


def test_launchers_yaml_type_command(tmp_path, monkeypatch):
    """``type: command`` in launchers.yaml builds one; a bad template names its line."""
    monkeypatch.setenv("XPM_NB_CONFIG_DIR", str(tmp_path))
    path = tmp_path / "launchers.yaml"
    path.write_text("- name: gentle\n  type: command\n  command: [nice, -n, '5']\n"
                    "  max_jobs: 3\n  hosts: [{cpu: {cores: 4}}]\n")
    launcher = find_launcher("cpu(cores=2)")
    assert isinstance(launcher, CommandLauncher)
    assert launcher.template == ["nice", "-n", "5"] and launcher.max_jobs == 3
    path.write_text("- name: x\n  hosts: []\n- name: gentle\n  type: command\n"
                    "  command: nice -n 5\n")
    with pytest.raises(LaunchersFileError) as info:
        find_launcher("cpu(cores=2)")
    assert f"{path}:3: launcher 'gentle': CommandLauncher(command='nice -n 5')" in str(info.value)


# --- the scheduler's hooks: cancel, re-attach, slots ------------------------------------


def test_cancel_kills_the_job_through_the_wrapper(workdir, tmp_path):
    """A wrapper that keeps the job as its child: cancelling kills both (the process
    group), and the job is recorded cancelled."""
    record = tmp_path / "runs.jsonl"
    launcher = CommandLauncher([str(_wrapper(tmp_path, record, exec_job=False))])
    with experiment(workdir, "cancel") as xp:
        task = WaitForFile.C(path=tmp_path / "never")
        task.submit(launcher=launcher)
        job = task.__xpm__.job
        wait_until(lambda: _job_pid(job) and job.state is JobState.RUNNING, 60,
                   "the job running")
        (run,) = _runs(record)
        job_pid, wrapper_pid = _job_pid(job), run["pid"]
        assert job_pid != wrapper_pid and pid_alive(wrapper_pid)  # the job is its child
        assert job.cancel() is True
        assert job_ended(job, 60) is JobState.ERROR
    failed_experiment(xp, match="cancelled")  # logged, not raised
    assert job.failure_reason == "cancelled"
    assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
    wait_until(lambda: not pid_alive(job_pid) and not pid_alive(wrapper_pid), 30,
               "the job and its wrapper gone")


_FIRST_KERNEL = """
import sys
sys.path.insert(0, {here!r})
from xpm_nb import experiment
from xpm_nb.launchers.command import CommandLauncher
from tasks import WaitForFile

with experiment({workdir!r}, "first", launcher=CommandLauncher([{wrapper!r}, "{{command}}"])):
    WaitForFile.C(path={gate!r}).submit()
"""


def test_a_new_kernel_follows_the_running_job_by_its_pid_file(workdir, tmp_path):
    """Kernel restart: the driver that started a job through the wrapper is killed
    (kill -9); a new driver finds the job running by its pid file, follows it to its
    end, and never starts it a second time."""
    record, gate = tmp_path / "runs.jsonl", tmp_path / "gate"
    wrapper = _wrapper(tmp_path, record)
    first = subprocess.Popen([sys.executable, "-c", _FIRST_KERNEL.format(
        here=str(HERE), workdir=str(workdir), wrapper=str(wrapper), gate=str(gate))])
    probe = WaitForFile.C(path=gate)
    folder = workdir / "jobs" / type(probe).__xpmtype__.identifier / probe.__identifier__().hex()
    try:
        wait_until(lambda: list(folder.glob("*.pid")), 60, "the first kernel's job running",
                   processes=[first])
        first.send_signal(signal.SIGKILL)  # the kernel dies, its job runs on
        first.wait(30)
        (run,) = _runs(record)
        assert pid_alive(run["pid"])

        with experiment(workdir, "second", launcher=CommandLauncher([str(wrapper)])):
            task = WaitForFile.C(path=gate)
            task.submit()
            job = task.__xpm__.job
            wait_until(lambda: job.state is JobState.RUNNING, 60, "the job followed")
            assert _job_pid(job) == run["pid"]  # the same process, followed
            gate.touch()
        assert job.state is JobState.DONE
    finally:
        gate.touch()
        if first.poll() is None:
            first.kill()
        first.wait(30)
    assert len(_runs(record)) == 1  # started once, by the first kernel only


def test_max_jobs_bounds_the_jobs_run_through_the_template(workdir, tmp_path):
    """Five jobs through ``nice`` with ``max_jobs=2``: never more than two at once."""
    log = tmp_path / "spans.log"
    launcher = CommandLauncher(["nice", "-n", "1"], max_jobs=2)
    running: list[int] = []
    with experiment(workdir, "slots", launcher=launcher) as xp:
        xp.scheduler.listeners.append(lambda _job: running.append(
            sum(j.state is JobState.RUNNING for j in xp.scheduler.jobs.values())))
        outs = [Span.C(index=i, log=log, sleep=0.4).submit() for i in range(5)]
    assert all(o.__xpm__.job.state is JobState.DONE for o in outs)
    spans = sorted((float(s), float(e)) for _, s, e in
                   (line.split() for line in log.read_text().splitlines()))
    assert len(spans) == 5  # each ran once
    assert max_overlap(spans) <= 2 and max(running) <= 2
    assert launcher.slots().size == 2


def test_its_card_shows_the_template():
    from xpm_nb.widgets import object_views

    html, text = object_views.render(CommandLauncher(["nice", "-n", "3"], max_jobs=4))
    assert "CommandLauncher" in text and "nice -n 3" in text and "4" in text
    assert "nice -n 3" in html


# --- the job side: the launcher's time limit --------------------------------------------


@pytest.mark.parametrize("launcher_name", ["slurm", ""])
def test_remaining_time_asks_the_launcher_of_the_job(tmp_path, monkeypatch, launcher_name):
    """``remaining_time()`` in a job asks its launcher (``Launcher.job_deadline``): here
    SLURM's, through a stand-in ``squeue`` printing 30 s left; also without
    ``XPM_NB_LAUNCHER`` (a job started directly inside a SLURM allocation). A command
    launcher's job, outside SLURM, has only the deadline given at its start."""
    import time

    from xpm_nb.core import taskglobals
    from xpm_nb.launchers.slurm import timelimit

    squeue = tmp_path / "squeue"
    squeue.write_text("#!/bin/sh\necho '0:30|INVALID'\n")
    squeue.chmod(0o755)
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    monkeypatch.setenv("XPM_NB_SLURM_BIN", str(tmp_path))
    monkeypatch.setenv("XPM_NB_LAUNCHER", launcher_name)
    monkeypatch.setattr(timelimit, "_cache", None)
    taskglobals.set_job(tmp_path, tmp_path, deadline=time.time() + 3600)
    try:
        assert 25 < taskglobals.remaining_time() <= 30
        monkeypatch.delenv("SLURM_JOB_ID")
        monkeypatch.setattr(timelimit, "_cache", None)
        assert 3590 < taskglobals.remaining_time() <= 3600  # the start's deadline
    finally:
        taskglobals.set_job(None, None)
