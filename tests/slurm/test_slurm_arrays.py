"""Job arrays and SLURM-side dependencies (the default SlurmLauncher) on the real cluster.

Jobs launched together with the same options go as one ``sbatch --array``; a
job whose dependencies are queued already is submitted at once with
``--dependency`` (``aftercorr`` between arrays of a grid). Each job keeps its
folder and records its own ``<array>_<index>`` id.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from slurm_helpers import HERE, busy_node, record_states, slurm_id, until
from slurm_tasks import Counted, MaybeFail, Produce, Relay, Sum, UntilTimeLimit, Wait

from support.failures import failed_experiment
from xpm_nb import experiment
from xpm_nb.launchers.slurm.commands import CommandRunner
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.submit import job_of
from xpm_nb.widgets.rows import job_row


def count_commands(monkeypatch) -> list[tuple[str, list[str]]]:
    """Every SLURM command this process runs from now on: (program, arguments)."""
    calls: list[tuple[str, list[str]]] = []
    run = CommandRunner.run

    async def counted(self, program, *args, **kwargs):
        calls.append((program, [str(a) for a in args]))
        return await run(self, program, *args, **kwargs)

    monkeypatch.setattr(CommandRunner, "run", counted)
    return calls


def sbatches(calls) -> list[list[str]]:
    return [args for program, args in calls if program == "sbatch"]


def record(job) -> dict | None:
    path = job.paths.meta / "slurm.json"
    return json.loads(path.read_text()) if path.exists() else None


def slurm_state(cluster, sid: str) -> str | None:
    """The state squeue gives an array task (None: SLURM does not know it)."""
    r = cluster.run("squeue", "-h", "-t", "all", "-j", sid, "-O", "JobArrayID:|,State:|",
                    check=False)
    for line in r.stdout.splitlines():
        jobid, state = line.split("|")[:2]
        if jobid.strip() == sid:
            return state.strip()
    return None


def ran_in(job, name: str) -> str:
    """The ``<array>_<index>`` id the job process saw (its output file ``name``)."""
    return json.loads((job.path / name).read_text())["slurm_array_id"]


# --- without a cluster -------------------------------------------------------------------


def test_array_ids_in_squeue_and_sacct_output():
    from xpm_nb.launchers.slurm.commands import parse_sacct, parse_squeue
    from xpm_nb.launchers.slurm.poller import squeue_queries

    got = parse_squeue("7_[1,3-4%2]|PENDING|JobArrayTaskLimit|0|UNLIMITED|\n"
                       "7_0|RUNNING|None|0|0:50|\n12|PENDING|Resources|0|1:00|\n")
    assert sorted(got) == ["12", "7_0", "7_1", "7_3", "7_4"]
    assert got["7_3"].state == "PENDING" and got["7_0"].state == "RUNNING"
    assert sorted(parse_sacct("9_[0-1]|PENDING|0:0|\n9_2|FAILED|3:0|\n")) == [
        "9_0", "9_1", "9_2"]
    # Several tasks of an array: the array asked once; a lone task or job by its id.
    assert squeue_queries(["7_0", "12", "7_3", "8_1"]) == [
        ("7", ["7_0", "7_3"]), ("12", ["12"]), ("8_1", ["8_1"])]


def test_array_spec_and_dependencies():
    from xpm_nb.launchers.slurm.arrays import array_spec, dependency_args

    assert array_spec([5, 0, 1, 2, 7, 8], None) == "0-2,5,7-8"
    assert array_spec([3], 4) == "3%4"
    assert dependency_args(["4_1", "9"], None) == ["--dependency=afterok:4_1:9"]
    assert dependency_args([], frozenset({"12", "4"})) == ["--dependency=aftercorr:4:12"]
    assert dependency_args([], None) == []


def test_plan_groups_by_options_and_dependencies():
    """One array per group of identical options; a grid after a grid keeps its indices
    (aftercorr); a lone job is a plain job with afterok on its own ids."""
    from types import SimpleNamespace as NS

    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
    from xpm_nb.launchers.slurm.arrays import Request, plan

    short, long_ = SlurmLauncher(), SlurmLauncher(options=SlurmOptions(time="4:00:00"))
    ws = NS(path="/ws")

    def req(launcher, *after):
        return Request(NS(workspace=ws), {}, launcher, [(None, a) for a in after], None)

    grid = [req(short) for _ in range(3)]
    after = [req(short, "7_2"), req(short, "7_0"), req(short, "7_0")]
    lone = req(long_, "7_1", "8")
    subs = plan([*grid, req(long_), *after, lone])
    got = [(len(s.requests), s.indices, s.dependency) for s in subs]
    assert got == [
        (3, [0, 1, 2], []),
        (1, None, []),  # the same grid point with other options: alone
        (2, [2, 0], ["--dependency=aftercorr:7"]),
        (1, None, ["--dependency=afterok:7_0"]),  # index 0 taken: its own job
        (1, None, ["--dependency=afterok:7_1:8"]),
    ]


@pytest.mark.parametrize("bad", [0, -1, True, "4"])
def test_array_limit_is_checked(bad):
    from xpm_nb.errors import XPMError
    from xpm_nb.launchers.slurm import SlurmLauncher

    with pytest.raises(XPMError, match="array_limit"):
        SlurmLauncher(array_limit=bad)


# --- on the cluster ----------------------------------------------------------------------


def test_grid_as_arrays_with_a_dag_between_them(slurm_cluster, array_launcher, workdir,
                                                monkeypatch):
    """A grid (4 jobs), a grid after it (one job per point) and a total: three sbatch
    calls (an array, an array ``aftercorr`` the first, a job ``afterok`` the second), all
    queued before anything runs; each job ran in its own task; squeue asks per array."""
    calls = count_commands(monkeypatch)
    launcher = array_launcher.config(time="0:05:00")
    xp = experiment(workdir, "grid", launcher=launcher)
    try:
        with busy_node(slurm_cluster):  # nothing runs: the DAG must reach SLURM by itself
            produced = [Produce.C(value=v).submit() for v in range(4)]
            relayed = [Relay.C(input=p).submit() for p in produced]
            total = Sum.C(inputs=relayed).submit()
            firsts, seconds, last = ([job_of(x) for x in produced],
                                     [job_of(x) for x in relayed], job_of(total))
            until(lambda: all(record(j) for j in (*firsts, *seconds, last)),
                  "the whole DAG queued on SLURM")
            ids = {j: slurm_id(j) for j in (*firsts, *seconds, last)}
            assert all(j.state is JobState.SCHEDULED for j in (*firsts, *seconds))
            # The job table shows each array task as the job it is: its row, its folder.
            rows = [job_row(j, k) for k, j in enumerate(firsts)]
            assert [r["state"] for r in rows] == ["scheduled"] * 4
            assert [r["path"] for r in rows] == [str(j.path) for j in firsts]
            info = slurm_cluster.job_info(ids[seconds[0]])
            assert info["Dependency"].startswith("aftercorr:")
            assert slurm_cluster.job_info(ids[last])["Dependency"].startswith("afterok:")
        xp.wait()
    finally:
        xp.close()
    assert len(sbatches(calls)) == 3
    first_array, second_array = record(firsts[0])["array"], record(seconds[0])["array"]
    for i, (a, b) in enumerate(zip(firsts, seconds)):
        assert record(a)["array"] == first_array and record(b)["array"] == second_array
        # Task i after task i: the grid's points keep their indices.
        assert record(a)["index"] == record(b)["index"]
        assert ids[a] == f"{first_array}_{record(a)['index']}" == ran_in(a, "value.json")
        assert ids[b] == ran_in(b, "relay.json")
        assert json.loads(b.path.joinpath("relay.json").read_text())["value"] == i
        assert a.state is JobState.DONE and b.state is JobState.DONE
    assert record(last)["after"] == [ids[b] for b in seconds]
    assert json.loads(total.out.read_text())["value"] == 6
    assert "array" not in record(last)  # a lone job: a plain SLURM job
    # squeue asked for the array by its id, not task by task (a task followed alone,
    # its array's others ended, is asked for by its own id: one id either way).
    for program, args in calls:
        if program == "squeue":
            asked = next(a for a in args if a.startswith("--jobs=")).split("=", 1)[1].split(",")
            tasks = [i for i in asked if i.startswith(f"{first_array}_")]
            assert len(tasks) <= 1 and not (tasks and first_array in asked), asked


def test_a_failed_task_cancels_its_dependents_on_slurm(slurm_cluster, array_launcher,
                                                       workdir):
    """One task of an array fails: the job queued after it on SLURM (``aftercorr``) is
    cancelled there, never runs, and fails "dependency failed"; the other points go on."""
    with experiment(workdir, "fail", launcher=array_launcher) as xp:
        with busy_node(slurm_cluster):
            outs = [MaybeFail.C(value=v, fail=v == 1).submit() for v in range(3)]
            sums = [job_of(Sum.C(inputs=[o]).submit()) for o in outs]
            firsts = [job_of(o) for o in outs]
            until(lambda: all(record(j) for j in (*firsts, *sums)), "all queued on SLURM")
    info = failed_experiment(xp)
    assert "2 job(s)" in str(info.value)
    failed, dependent = firsts[1], sums[1]
    assert failed.state is JobState.ERROR and failed.exit_code == 3
    assert dependent.state is JobState.ERROR
    assert dependent.failure_reason.startswith(f"dependency failed: {failed.locator}")
    assert json.loads(dependent.paths.failed.read_text())["reason"] == dependent.failure_reason
    assert slurm_cluster.wait_job(slurm_id(dependent))["JobState"] == "CANCELLED"
    assert not (dependent.path / "sum.json").exists()  # it never ran
    for job in (firsts[0], firsts[2], sums[0], sums[2]):
        assert job.state is JobState.DONE


def test_cancel_one_array_task(slurm_cluster, array_launcher, workdir):
    """Cancelling one running and one pending task of an array: both end "cancelled"
    (SLURM: CANCELLED, the pending one never ran); the array's last task runs to done."""
    xp = experiment(workdir, "cancel", launcher=array_launcher)
    try:
        with busy_node(slurm_cluster, slurm_cluster.cpus - 1):  # one task at a time
            jobs = [job_of(Wait.C(seconds=300 if t != "c" else 1, tag=t).submit())
                    for t in "abc"]
            until(lambda: any((j.path / "started.json").exists() for j in jobs[:2]),
                  "a task to start")
            running = next(j for j in jobs[:2] if (j.path / "started.json").exists())
            pending = next(j for j in jobs[:2] if j is not running)
            assert record(running)["array"] == record(pending)["array"] == record(jobs[2])[
                "array"]
            until(lambda: running.state is JobState.RUNNING
                  and pending.state is JobState.SCHEDULED, "the states")
            assert pending.cancel() and running.cancel()
            until(lambda: pending.state.finished and running.state.finished,
                  "the cancellations")
        xp.wait()
    finally:
        xp.close()
    for job in (running, pending):
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
    assert slurm_cluster.wait_job(slurm_id(running))["JobState"] == "CANCELLED"
    # A pending task not split off its array yet: SLURM drops it at once.
    assert slurm_state(slurm_cluster, slurm_id(pending)) in (None, "CANCELLED")
    assert not (pending.path / "started.json").exists()  # it never ran
    assert jobs[2].state is JobState.DONE
    assert slurm_cluster.wait_job(slurm_id(jobs[2]))["JobState"] == "COMPLETED"


def test_requeued_array_task(slurm_cluster, array_launcher, workdir):
    """``scontrol requeue`` of a running array task: shown queued again, then run again by
    the same task id, to done; the other task is untouched."""
    xp = experiment(workdir, "requeue", launcher=array_launcher)
    states = record_states(xp)
    try:
        jobs = [job_of(Counted.C(name=n, seconds=s).submit()) for n, s in (("a", 8), ("b", 1))]
        job = jobs[0]
        until(lambda: job.paths.meta.joinpath("slurm.json").exists()
              and (job.path / "runs.jsonl").exists(), "the task to run")
        until(lambda: job.state is JobState.RUNNING, "the running state")
        sid = slurm_id(job)
        slurm_cluster.run("scontrol", "requeue", sid)
        until(lambda: slurm_cluster.job_info(sid).get("JobState") == "PENDING",
              "SLURM's requeue")
        until(lambda: job.state is JobState.SCHEDULED or job.state.finished,
              "the driver to see it queued again")
        # SLURM holds a requeued job back (BeginTime); the driver waits with it. Started
        # at once, SLURM kills it ("Job credential revoked"): give slurmd a moment first.
        time.sleep(6)
        assert job.state is JobState.SCHEDULED and not job.paths.failed.exists()
        slurm_cluster.run("scontrol", "update", f"JobId={sid}", "StartTime=now")
        xp.wait()
    finally:
        xp.close()
    assert all(j.state is JobState.DONE for j in jobs)
    runs = [json.loads(x) for x in (job.path / "runs.jsonl").read_text().splitlines()]
    assert [r["slurm_array_id"] for r in runs] == [sid, sid]
    assert "error" not in states[job.identifier]
    assert states[job.identifier][-3:] == ["scheduled", "running", "done"]
    assert slurm_cluster.wait_job(sid)["Restarts"] == "1"


def test_resumable_task_past_its_time_limit_in_an_array(slurm_cluster, array_launcher,
                                                        workdir):
    """Two resumable tasks in one array reach their time limit: each is resubmitted (a new
    SLURM id), resumes from its checkpoint; SLURM's "DUE TO TIME LIMIT" reaches the job's
    own log through the array's links."""
    with experiment(workdir, "timeout", launcher=array_launcher.config(time="1")):
        jobs = [job_of(UntilTimeLimit.C(name=n).submit()) for n in "ab"]
        until(lambda: all((j.path / "checkpoint.json").exists() for j in jobs),
              "both tasks to checkpoint")
        firsts = [slurm_id(j) for j in jobs]
        assert len({record(j)["array"] for j in jobs}) == 1
        for sid in firsts:
            slurm_cluster.run("scontrol", "update", f"JobId={sid}", "EndTime=now")
    for job, first in zip(jobs, firsts):
        assert job.state is JobState.DONE and job.retry_count == 1
        assert (job.path / "result.txt").read_text() == "resumed from step 1"
        runs = [json.loads(x) for x in (job.path / "runs.jsonl").read_text().splitlines()]
        assert runs[0]["slurm_array_id"] == first and slurm_id(job) != first
        assert slurm_cluster.job_info(first)["JobState"] == "TIMEOUT"
        old_logs = list(job.path.glob("untiltimelimit.*.err"))
        assert len(old_logs) == 1 and "DUE TO TIME LIMIT" in old_logs[0].read_text()


RESTART_SCRIPT = """
import json, os, sys, time
sys.path.insert(0, {here!r})
from xpm_nb import experiment
from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.submit import job_of
from slurm_tasks import Produce, Sum

launcher = SlurmLauncher(options=SlurmOptions(partition="debug"), interval=0.5,
                         launcherenv={{"SLURM_CONF": {conf!r}}})
xp = experiment({ws!r}, "restart", launcher=launcher)
outs = [Produce.C(value=v).submit() for v in (10, 20, 12)]
jobs = [job_of(o) for o in outs] + [job_of(Sum.C(inputs=outs).submit())]
deadline = time.monotonic() + 60
while not all(j.state is JobState.SCHEDULED for j in jobs):
    assert time.monotonic() < deadline, [j.state for j in jobs]
    time.sleep(0.05)
print(json.dumps([json.loads((j.paths.meta / "slurm.json").read_text())["jobid"]
                  for j in jobs]))
sys.stdout.flush()
os._exit(0)  # the kernel dies: no clean-up at all
"""


def test_restart_mid_array(slurm_cluster, array_launcher, workdir, monkeypatch):
    """A driver dies with an array and a job queued after it: a new driver process finds
    each task by its id (no sbatch at all) and follows the DAG to its end."""
    with busy_node(slurm_cluster):
        script = RESTART_SCRIPT.format(here=str(HERE), conf=str(slurm_cluster.conf_path),
                                       ws=str(workdir))
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        queued = json.loads(r.stdout.strip().splitlines()[-1])
        base = queued[0].split("_")[0]
        # One array (tasks in launch order, which the worker threads may shuffle).
        assert sorted(queued[:3]) == [f"{base}_{k}" for k in range(3)]
        assert "_" not in queued[3]
        calls = count_commands(monkeypatch)
        xp = experiment(workdir, "restart", launcher=array_launcher)
        states = record_states(xp)
        outs = [Produce.C(value=v).submit() for v in (10, 20, 12)]
        total = Sum.C(inputs=outs).submit()
        jobs = [job_of(o) for o in outs] + [job_of(total)]
        until(lambda: all(j.state is JobState.SCHEDULED for j in jobs), "re-attachment")
        assert [slurm_id(j) for j in jobs] == queued
    try:
        xp.wait()
    finally:
        xp.close()
    assert sbatches(calls) == []  # nothing submitted again
    assert json.loads(total.out.read_text())["value"] == 42
    assert [ran_in(j, "value.json") for j in jobs[:3]] == queued[:3]
    for job in jobs:
        assert states[job.identifier][-1] == "done"


def test_an_array_refused_goes_one_by_one(slurm_cluster, array_launcher, workdir,
                                          monkeypatch, caplog):
    """An array the cluster refuses as such (here: indices over MaxArraySize) is submitted
    again one job at a time, with a warning: the jobs still run."""
    from xpm_nb.launchers.slurm import arrays

    monkeypatch.setattr(arrays, "array_spec", lambda indices, limit: "5000-5001")
    calls = count_commands(monkeypatch)
    with experiment(workdir, "refused", launcher=array_launcher):
        jobs = [job_of(Produce.C(value=v).submit()) for v in (1, 2)]
    assert all(j.state is JobState.DONE for j in jobs)
    assert len(sbatches(calls)) == 3  # the array, then each job
    assert all("array" not in record(j) for j in jobs)
    assert "one by one" in caplog.text and "Invalid job array" in caplog.text
