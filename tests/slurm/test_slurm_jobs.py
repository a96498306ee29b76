"""Jobs through a real SLURM cluster (tests/infra/slurm.py): sbatch, squeue, scancel.

Each test works in its own workspace; the cluster (one node, partition
``debug``) is shared by the session.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from slurm_helpers import HERE, busy_node, jobs_in, record_states, slurm_id, until
from slurm_tasks import Exit, Produce, StopBeforeLimit, Sum, UntilTimeLimit, Wait

from infra import pid_alive
from support.failures import assert_failures_logged, failed_experiment
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.submit import job_of


def test_dag_with_job_options(slurm_cluster, launcher, workdir):
    """A DAG runs through SLURM with each job's options applied (scontrol show job)."""
    launcher = launcher.config(time="0:05:00", mem="64M", cpus_per_task=1, nodes=1,
                               ntasks_per_node=1, nodelist="localhost")
    with experiment(workdir, "dag", launcher=launcher) as xp:
        states = record_states(xp)
        a = Produce.C(value=20).submit()
        b = Produce.C(value=22).submit()
        total = Sum.C(inputs=[a, b]).submit(launcher=launcher.config(time="0:10:00", mem="128M"))
    result = json.loads(total.out.read_text())
    assert result["value"] == 42
    jobs = [job_of(a), job_of(b), job_of(total)]
    for job, limit, mem in zip(jobs, ["00:05:00", "00:05:00", "00:10:00"], ["64M", "64M", "128M"]):
        assert job.state is JobState.DONE
        sid = slurm_id(job)
        # Done from its own marker: SLURM may still be COMPLETING (its epilog) a moment.
        info = slurm_cluster.wait_job(sid)
        assert info["JobState"] == "COMPLETED"
        assert (info["TimeLimit"], info["MinMemoryNode"]) == (limit, mem)
        assert (info["Partition"], info["NumNodes"], info["ReqNodeList"]) == (
            "debug", "1", "localhost")
        assert info["CPUs/Task"] == "1" and info["NtasksPerN:B:S:C"].startswith("1:")
        assert info["JobName"] == f"xpm-{job.name}-{job.identifier[:8]}"
        assert (info["WorkDir"], info["StdErr"], info["StdOut"]) == (
            str(job.path), str(job.paths.stderr), str(job.paths.stdout))
        # The job process ran inside that SLURM job.
        out = job.path / ("sum.json" if job.name == "sum" else "value.json")
        assert json.loads(out.read_text())["slurm_job_id"] == sid
        # Queued (scheduled) before it ran; never reported running before that.
        seen = states[job.identifier]
        assert seen[-1] == "done" and "scheduled" in seen and "error" not in seen
        if "running" in seen:
            assert seen.index("scheduled") < seen.index("running")
    # The sum waited for its inputs: submitted to SLURM after both ended.
    assert int(slurm_id(jobs[2])) > max(int(slurm_id(jobs[0])), int(slurm_id(jobs[1])))


def test_failing_jobs_report_their_exit_code(slurm_cluster, launcher, workdir, caplog):
    """A failing job is failed with its exit code: written by the job, or taken from SLURM.
    The experiment ends normally, each failure logged with its log."""
    with experiment(workdir, "fail", launcher=launcher) as xp:
        soft = Exit.C(code=5).submit()  # SystemExit: the job writes its .failed
        hard = Exit.C(code=7, hard=True).submit()  # os._exit: only SLURM knows
    assert len(assert_failures_logged(caplog, xp)) == 2
    info = failed_experiment(xp)
    assert "2 job(s)" in str(info.value)
    soft_job, hard_job = job_of(soft), job_of(hard)
    assert soft_job.exit_code == 5 and json.loads(soft_job.paths.failed.read_text())["code"] == 5
    assert slurm_cluster.job_info(slurm_id(soft_job))["ExitCode"] == "5:0"
    failed = json.loads(hard_job.paths.failed.read_text())
    sid = slurm_id(hard_job)
    assert failed == {"code": 7, "reason": f"exit code 7 (SLURM job {sid} FAILED)"}
    assert hard_job.exit_code == 7 and hard_job.failure_reason == failed["reason"]
    info = slurm_cluster.job_info(sid)
    assert (info["JobState"], info["ExitCode"]) == ("FAILED", "7:0")
    for job in (soft_job, hard_job):
        assert job.state is JobState.ERROR and not job.paths.done.exists()


def test_bad_option_is_a_clear_error(slurm_cluster, launcher, workdir):
    """sbatch refusing a job fails it with sbatch's message and the fix."""
    with experiment(workdir, "refused", launcher=launcher.config(partition="nosuch")) as xp:
        Produce.C(value=1).submit()
    info = failed_experiment(xp)
    text = str(info.value)
    assert "sbatch refused job" in text and "invalid partition" in text.lower()
    assert "--partition=nosuch" in text and "SlurmOptions" in text


def test_cancel_pending_running_and_outside(slurm_cluster, launcher, workdir):
    """Cancelling runs scancel: a pending job never starts, a running one stops; a job
    cancelled outside xpm_nb says so. A pending job is shown SCHEDULED, not running."""
    with experiment(workdir, "cancel", launcher=launcher) as xp:
        running = job_of(Wait.C(seconds=300, tag="running").submit())
        until(lambda: (running.path / "started.json").exists(), "the job to start")
        until(lambda: running.state is JobState.RUNNING, "the running state")
        with busy_node(slurm_cluster, slurm_cluster.cpus - 1):
            pending = job_of(Wait.C(seconds=300, tag="pending").submit())
            until(lambda: pending.paths.meta.joinpath("slurm.json").exists(),
                  "the submission")
            sid = slurm_id(pending)
            # SLURM keeps it pending for lack of CPUs: we show it scheduled, not running.
            until(lambda: slurm_cluster.job_info(sid).get("Reason") == "Resources",
                  "SLURM to keep it pending")
            until(lambda: pending.state is JobState.SCHEDULED, "the scheduled state")
            time.sleep(1.5)  # three more poll rounds
            assert pending.state is JobState.SCHEDULED
            assert pending.started_time is None
            assert pending.cancel() and running.cancel()
            until(lambda: pending.state.finished and running.state.finished,
                  "the cancellations")
        outside = job_of(Wait.C(seconds=300, tag="outside").submit())
        until(lambda: (outside.path / "started.json").exists(), "the third job")
        slurm_cluster.run("scancel", slurm_id(outside))
    info = failed_experiment(xp)
    assert "3 job(s)" in str(info.value)
    for job in (pending, running):
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
        assert slurm_cluster.job_info(slurm_id(job))["JobState"] == "CANCELLED"
    assert not (pending.path / "started.json").exists()  # it never ran
    pid = json.loads((running.path / "started.json").read_text())["pid"]
    assert not pid_alive(pid)
    out_id = slurm_id(outside)
    assert outside.failure_reason == (f"cancelled: SLURM job {out_id} was cancelled outside "
                                      "xpm_nb (scancel, or an administrator)")
    assert json.loads(outside.paths.failed.read_text())["reason"] == outside.failure_reason


def test_time_limit_resubmits_a_resumable_job(slurm_cluster, launcher, workdir):
    """A job over its time limit (SLURM TIMEOUT) is resubmitted when resumable and finds
    its checkpoint; a plain task over its limit fails with the reason "timeout"."""
    # SLURM's shortest limit is a minute: start with it, then end it now
    # (scontrol update EndTime=now; SLURM enforces limits every 30 s at most).
    short = launcher.config(time="1")
    with experiment(workdir, "timeout", launcher=short) as xp:
        resumable = job_of(UntilTimeLimit.C(name="a").submit())
        plain = job_of(Wait.C(seconds=600).submit())
        until(lambda: (resumable.path / "checkpoint.json").exists()
              and (plain.path / "started.json").exists(), "both jobs to start")
        first = slurm_id(resumable)
        for job in (resumable, plain):
            slurm_cluster.run("scontrol", "update", f"JobId={slurm_id(job)}", "EndTime=now")
    info = failed_experiment(xp)
    assert "1 job(s)" in str(info.value)
    # The resumable job: TIMEOUT, resubmitted once, resumed from its checkpoint.
    assert resumable.state is JobState.DONE and resumable.retry_count == 1
    assert (resumable.path / "result.txt").read_text() == "resumed from step 1"
    runs = [json.loads(x) for x in (resumable.path / "runs.jsonl").read_text().splitlines()]
    assert [r["slurm_job_id"] for r in runs] == [first, slurm_id(resumable)]
    assert first != slurm_id(resumable)
    assert 0 < runs[0]["remaining"] <= 60  # remaining_time() from SLURM's limit
    assert slurm_cluster.job_info(first)["JobState"] == "TIMEOUT"
    old_logs = list(resumable.path.glob("untiltimelimit.*.err"))
    assert len(old_logs) == 1 and "DUE TO TIME LIMIT" in old_logs[0].read_text()
    # The plain task: failed, the reason says why, not retried.
    sid = slurm_id(plain)
    assert slurm_cluster.job_info(sid)["JobState"] == "TIMEOUT"
    reason = f"timeout: SLURM job {sid} reached its time limit (TIMEOUT)"
    assert plain.state is JobState.ERROR and plain.failure_reason == reason
    assert json.loads(plain.paths.failed.read_text())["reason"] == reason
    assert plain.retry_count == 0


def test_graceful_timeout_before_the_limit(slurm_cluster, launcher, workdir):
    """remaining_time() gives the SLURM job's time left; GracefulTimeout resubmits."""
    with experiment(workdir, "graceful", launcher=launcher.config(time="1")):
        task = StopBeforeLimit.C(needs=3600).submit()
    job = job_of(task)
    assert job.state is JobState.DONE and job.retry_count == 1
    runs = [json.loads(x) for x in (job.path / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 2 and runs[0]["slurm_job_id"] != runs[1]["slurm_job_id"]
    assert all(0 < r["remaining"] <= 60 for r in runs)
    assert json.loads((job.path / "checkpoint.json").read_text()) == {"done": 2}


RESTART_SCRIPT = """
import json, os, sys, time
sys.path.insert(0, {here!r})
from xpm_nb import experiment
from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.submit import job_of
from slurm_tasks import Produce, Sum

launcher = SlurmLauncher(options=SlurmOptions(partition="debug"), interval=0.5,
                         launcherenv={{"SLURM_CONF": {conf!r}}}, arrays=False,
                         dependencies=False)
xp = experiment({ws!r}, "restart", launcher=launcher)
a, b = Produce.C(value=20).submit(), Produce.C(value=22).submit()
Sum.C(inputs=[a, b]).submit()
jobs = [job_of(a), job_of(b)]

deadline = time.monotonic() + 60
while not all(j.state is JobState.SCHEDULED for j in jobs):
    assert time.monotonic() < deadline, [j.state for j in jobs]
    time.sleep(0.05)
print(json.dumps([json.loads((j.paths.meta / "slurm.json").read_text())["jobid"] for j in jobs]))
sys.stdout.flush()
os._exit(0)  # the kernel dies: no clean-up at all
"""


def test_restart_while_jobs_are_queued(slurm_cluster, launcher, workdir):
    """A new process re-attaches to jobs queued by one that died: no second submission."""
    with busy_node(slurm_cluster):
        script = RESTART_SCRIPT.format(here=str(HERE), conf=str(slurm_cluster.conf_path),
                                       ws=str(workdir))
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        queued = json.loads(r.stdout.strip().splitlines()[-1])
        assert set(jobs_in(slurm_cluster, workdir)) == set(queued)
        for sid in queued:
            assert slurm_cluster.job_info(sid)["JobState"] == "PENDING"
        xp = experiment(workdir, "restart", launcher=launcher)
        states = record_states(xp)
        a, b = Produce.C(value=20).submit(), Produce.C(value=22).submit()
        total = Sum.C(inputs=[a, b]).submit()
        jobs = [job_of(a), job_of(b)]
        until(lambda: all(j.state is JobState.SCHEDULED for j in jobs), "re-attachment")
        assert [slurm_id(j) for j in jobs] == queued
        assert set(jobs_in(slurm_cluster, workdir)) == set(queued)  # nothing submitted again
    # The blocker is gone: the queued jobs run, then the sum.
    xp.wait()
    xp.close()
    assert json.loads(total.out.read_text())["value"] == 42
    assert [json.loads((j.path / "value.json").read_text())["slurm_job_id"] for j in jobs] == queued
    assert len(jobs_in(slurm_cluster, workdir)) == 3
    for job in jobs:
        assert states[job.identifier][-1] == "done" and "scheduled" in states[job.identifier]


def test_a_job_seen_running_late_keeps_its_own_start(slurm_cluster, workdir):
    """A queued job starts while its launcher looks rarely (squeue every 60 s, the
    default; the pending job's files less often the longer it waits): its start
    time is its process's (its pid file's), not the moment it was seen running."""
    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
    from xpm_nb.layout import parse_pid_file

    slow = SlurmLauncher(options=SlurmOptions(partition="debug"), interval=60,
                         launcherenv={"SLURM_CONF": str(slurm_cluster.conf_path)}, arrays=False)
    seen: list[float] = []
    with experiment(workdir, "late", launcher=slow) as xp:
        xp.scheduler.listeners.append(
            lambda j: j.state is JobState.RUNNING and not seen and seen.append(time.time()))
        with busy_node(slurm_cluster):
            job = job_of(Wait.C(seconds=8.0, tag="late").submit())
            until(lambda: job.state is JobState.SCHEDULED, "the job queued")
            time.sleep(6)  # pending: its files are looked at less and less often
        # The blocker gone, the job starts: its pid file records when.
        until(lambda: job.paths.pid.exists(), "the job's pid file")
        started = parse_pid_file(job.paths.pid.read_bytes())["started"]
        until(lambda: seen, "the job seen running")
        assert job.started_time == started, (job.started_time, started, seen)
        print(f"seen running {seen[0] - started:.2f} s after its start")
    assert job.state is JobState.DONE
    assert job.started_time == started
