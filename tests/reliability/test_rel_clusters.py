"""Faults of the SLURM and SSH launchers, on the real cluster and the real sshd.

What ``tests/slurm`` and ``tests/ssh`` already cover is not repeated here
(xpm_nb's own cancel, a ``scancel`` of a running job, time limits, a driver
restarted while its jobs are queued, a cut or hung SSH link while a job
runs). Here: a ``scancel`` from a shell of a pending job and of a running
one with dependents queued behind them, the node taken down under a running
job, jobs ending while no driver runs, ``slurmctld`` stopped at submission and
mid-run, the SSH link cut in the middle of the upload of a job's files, a
remote job killed with SIGKILL on its host, and sshd down for longer than the
connector's reconnect timeout. Each test asserts the state on
disk and in the driver afterwards; the cluster is put back as it was
(controller running, node in service) in ``finally`` blocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

from clustertasks import Blob, HardExit, Raise, Sleep, Stubborn, Total, runs_of
from relclusters import (
    assert_nothing_running_on_disk,
    busy_node,
    controller_down,
    jobs_in,
    node_down,
    record_states,
    restore_node,
    shell,
    slurm_id,
    slurm_launcher_fixture,  # noqa: F401 - fixture
    ssh_connector_fixture,  # noqa: F401 - fixture
    ssh_url,
    start_slurmctld,
    stop_slurmctld,
    until,
)
from relhelpers import Driver, isolated_env  # noqa: F401 - autouse fixture

from infra import pid_alive
from support.failures import failed_experiment
from support.waiting import ended, wait_until_async
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState, read_disk_state
from xpm_nb.scheduler.submit import job_of

OUTSIDE = "cancelled: SLURM job {} was cancelled outside xpm_nb (scancel, or an administrator)"


# --- SLURM ------------------------------------------------------------------------------


def test_scancel_from_a_shell_of_a_pending_and_a_running_job(
        slurm_cluster, slurm_launcher, workdir):
    """``scancel`` typed in a shell: both jobs failed "cancelled ... outside xpm_nb", their
    dependents failed without ever reaching SLURM, nothing left saying running."""
    with experiment(workdir, "scancel", launcher=slurm_launcher) as xp:
        states = record_states(xp)
        out = Sleep.C(value=1, seconds=300).submit()
        running = job_of(out)
        after_running = job_of(Total.C(inputs=[out]).submit())
        until(lambda: runs_of(running.path) and running.state is JobState.RUNNING,
              "the first job to run")
        with busy_node(slurm_cluster, slurm_cluster.cpus - 1):
            out = Sleep.C(value=2, seconds=300).submit()
            pending = job_of(out)
            after_pending = job_of(Total.C(inputs=[out]).submit())
            until(lambda: (pending.paths.meta / "slurm.json").exists()
                  and pending.state is JobState.SCHEDULED, "the second job to be queued")
            until(lambda: slurm_cluster.job_info(slurm_id(pending)).get("Reason")
                  == "Resources", "SLURM to keep it pending")
            for job in (pending, running):
                shell("scancel", slurm_id(job), env=slurm_cluster.env)
            until(lambda: pending.state.finished and running.state.finished,
                  "the driver to see the cancellations")
    info = failed_experiment(xp)
    assert "4 job(s)" in str(info.value)
    for job in (pending, running):
        sid = slurm_id(job)
        assert slurm_cluster.job_info(sid)["JobState"] == "CANCELLED"
        assert job.state is JobState.ERROR and job.failure_reason == OUTSIDE.format(sid)
        assert json.loads(job.paths.failed.read_text())["reason"] == OUTSIDE.format(sid)
        assert read_disk_state(job.paths)[0] is JobState.ERROR
        assert_nothing_running_on_disk(job)
        assert "done" not in states[job.identifier]
    assert runs_of(pending.path) == []  # it never ran
    assert "running" not in states[pending.identifier]
    (run,) = runs_of(running.path)
    assert not pid_alive(int(run[1]))  # scancel ended the job process
    for dependent, dep in ((after_running, running), (after_pending, pending)):
        assert dependent.state is JobState.ERROR
        assert dependent.failure_reason.startswith(f"dependency failed: {dep.locator}")
        assert OUTSIDE.format(slurm_id(dep)) in dependent.failure_reason
        assert not (dependent.paths.meta / "slurm.json").exists()
        assert runs_of(dependent.path) == []
    # Only the two cancelled jobs ever reached SLURM.
    assert set(jobs_in(slurm_cluster, workdir)) == {slurm_id(running), slurm_id(pending)}


def _requeued_under_node_down(cluster, job) -> str:
    """Once ``job`` runs, its node set DOWN and back: returns its SLURM id once SLURM has
    requeued it (Restarts=1, PENDING)."""
    until(lambda: runs_of(job.path) and job.state is JobState.RUNNING, "the job to run")
    sid = slurm_id(job)
    node_down(cluster)
    restore_node(cluster)
    until(lambda: cluster.job_info(sid).get("Restarts") == "1"
          and cluster.job_info(sid).get("JobState") == "PENDING", "SLURM's requeue")
    return sid


def test_node_down_under_a_running_job_that_slurm_requeues(
        slurm_cluster, slurm_launcher, workdir):
    """The node set DOWN while a job runs: SLURM kills the job and requeues it (JobRequeue=1,
    SLURM's default). The driver follows SLURM: queued again (not failed, not running), then
    run again by the same SLURM job, to done."""
    xp = experiment(workdir, "requeue", launcher=slurm_launcher)
    states = record_states(xp)
    job = job_of(Sleep.C(value=3, seconds=2).submit(launcher=slurm_launcher.config(
        nodelist="localhost")))
    try:
        sid = _requeued_under_node_down(slurm_cluster, job)
        # SLURM holds a requeued job back for a while (BeginTime, about 2 minutes); the
        # driver must wait with it, longer than it waits for SLURM after a job's own marker.
        until(lambda: job.state in (JobState.SCHEDULED, JobState.DONE, JobState.ERROR),
              "the driver to see it queued again")
        time.sleep(12)
        seen_queued = (job.state, job.paths.failed.exists(), job.paths.pid.exists())
        shell("scontrol", "update", f"JobId={sid}", "StartTime=now", env=slurm_cluster.env)
        until(lambda: job.state.finished, "the job's second run to end", timeout=120)
    finally:
        restore_node(slurm_cluster)
        xp.close()
    assert seen_queued == (JobState.SCHEDULED, False, False)
    assert job.state is JobState.DONE and job.paths.done.exists()
    runs = runs_of(job.path)
    assert [r[2] for r in runs] == [sid, sid]  # run twice, by the same SLURM job
    # The driver ends the job at its .done marker; SLURM may still be completing it.
    info = slurm_cluster.wait_job(sid)
    assert (info["JobState"], info["Restarts"]) == ("COMPLETED", "1")
    assert states[job.identifier][-3:] == ["scheduled", "running", "done"]
    assert "error" not in states[job.identifier]
    assert_nothing_running_on_disk(job)


def test_a_job_killed_by_sigkill_and_requeued_is_shown_queued(
        slurm_cluster, slurm_launcher, workdir):
    """The node set DOWN under a job that ignores SIGTERM: SLURM SIGKILLs it (no marker, its
    pid file left behind) and requeues it. The stale pid file does not make the driver say
    running: it shows the job queued while SLURM holds it (then it is cancelled: a relaunch
    right after a forced kill may be held by SLURM, which is SLURM's business)."""
    xp = experiment(workdir, "requeue-killed", launcher=slurm_launcher)
    states = record_states(xp)
    job = job_of(Stubborn.C(value=1, seconds=120).submit(launcher=slurm_launcher.config(
        nodelist="localhost")))
    try:
        sid = _requeued_under_node_down(slurm_cluster, job)
        until(lambda: job.state is not JobState.RUNNING, "the driver to see it queued",
              timeout=30)
        seen_queued = (job.state, job.paths.failed.exists(), job.paths.pid.exists())
        shell("scancel", sid, env=slurm_cluster.env)
        until(lambda: job.state.finished, "the driver to see the cancellation", timeout=60)
    finally:
        restore_node(slurm_cluster)
        xp.close()
    assert seen_queued == (JobState.SCHEDULED, False, True)  # its stale pid file is there
    assert job.state is JobState.ERROR and "cancelled" in job.failure_reason
    assert [r[2] for r in runs_of(job.path)] == [sid]  # killed once, never run twice
    seq = states[job.identifier]
    assert seq[seq.index("running") + 1] == "scheduled", seq  # running, then queued again
    assert "done" not in seq


def test_node_down_under_a_running_job_that_cannot_be_requeued(
        slurm_cluster, slurm_launcher, workdir):
    """The same with the job not requeueable: SLURM ends it NODE_FAIL; the driver says so,
    its dependent is not run, the folder says failed."""
    with experiment(workdir, "nodefail", launcher=slurm_launcher) as xp:
        out = Sleep.C(value=4, seconds=300).submit()
        job = job_of(out)
        dependent = job_of(Total.C(inputs=[out]).submit())
        try:
            until(lambda: runs_of(job.path) and job.state is JobState.RUNNING,
                  "the job to run")
            sid = slurm_id(job)
            shell("scontrol", "update", f"JobId={sid}", "Requeue=0", env=slurm_cluster.env)
            node_down(slurm_cluster)
            until(lambda: job.state.finished, "the driver to see the node failure")
        finally:
            restore_node(slurm_cluster)
    failed_experiment(xp)
    assert slurm_cluster.job_info(sid)["JobState"] == "NODE_FAIL"
    reason = f"node failure: a node of SLURM job {sid} failed (NODE_FAIL)"
    assert job.state is JobState.ERROR and job.failure_reason == reason
    assert json.loads(job.paths.failed.read_text())["reason"] == reason
    assert_nothing_running_on_disk(job)
    assert dependent.state is JobState.ERROR and reason in dependent.failure_reason
    assert runs_of(dependent.path) == [] and not (dependent.paths.meta / "slurm.json").exists()


NO_DRIVER = """
from clustertasks import HardExit, Sleep, Total
from xpm_nb import experiment
from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
from xpm_nb.scheduler.jobs import JobState
from xpm_nb.scheduler.submit import job_of

ws, conf = sys.argv[1], sys.argv[2]
launcher = SlurmLauncher(options=SlurmOptions(partition="debug"), interval=0.5,
                         launcherenv={"SLURM_CONF": conf}, arrays=False, dependencies=False)
xp = experiment(ws, "nodriver", launcher=launcher)
a = Sleep.C(value=20).submit()
b = HardExit.C(code=7).submit()
Total.C(inputs=[a]).submit()
jobs = [job_of(a), job_of(b)]
while not all(j.state is JobState.SCHEDULED for j in jobs):
    time.sleep(0.05)
ids = [json.loads((j.paths.meta / "slurm.json").read_text())["jobid"] for j in jobs]
print("QUEUED", json.dumps(ids), flush=True)
while True:
    time.sleep(0.1)
"""


def test_jobs_that_end_while_no_driver_runs(slurm_cluster, slurm_launcher, workdir):
    """kill -9 of the driver while its SLURM jobs are pending; they run and end (one done,
    one dead without a marker) while no driver runs. A new driver takes each result from
    the folder and from SLURM: nothing submitted or run twice, the dependent runs once."""
    with busy_node(slurm_cluster):
        driver = Driver(NO_DRIVER, str(workdir), str(slurm_cluster.conf_path))
        queued = json.loads(driver.wait_for_line("QUEUED", timeout=90).split(" ", 1)[1])
        driver.kill()
        for sid in queued:
            assert slurm_cluster.job_info(sid)["JobState"] == "PENDING"
    # The blocker is gone: both run and end with no driver following them.
    done_id, failed_id = queued
    assert slurm_cluster.wait_job(done_id)["JobState"] == "COMPLETED"
    info = slurm_cluster.wait_job(failed_id)
    assert (info["JobState"], info["ExitCode"]) == ("FAILED", "7:0")
    with experiment(workdir, "nodriver", launcher=slurm_launcher) as xp:
        states = record_states(xp)
        a = Sleep.C(value=20).submit()
        b = HardExit.C(code=7).submit()
        total = Total.C(inputs=[a]).submit()
    raised = failed_experiment(xp)
    assert "1 job(s)" in str(raised.value)
    done, failed, summed = job_of(a), job_of(b), job_of(total)
    assert done.state is JobState.DONE and "running" not in states[done.identifier]
    assert [r[2] for r in runs_of(done.path)] == [done_id]
    reason = f"exit code 7 (SLURM job {failed_id} FAILED)"
    assert failed.state is JobState.ERROR and failed.failure_reason == reason
    assert json.loads(failed.paths.failed.read_text()) == {"code": 7, "reason": reason}
    assert [r[2] for r in runs_of(failed.path)] == [failed_id]  # followed, not run again
    assert slurm_id(failed) == failed_id
    assert_nothing_running_on_disk(failed)  # the dead job's pid file is gone
    assert summed.state is JobState.DONE and (summed.path / "total.txt").read_text() == "20"
    assert len(runs_of(summed.path)) == 1
    assert set(jobs_in(slurm_cluster, workdir)) == {done_id, failed_id, slurm_id(summed)}


def test_controller_stopped_while_jobs_run_and_at_submission(
        slurm_cluster, slurm_launcher, workdir):
    """slurmctld stopped: a running job still ends done (its marker), a submission waits
    for sbatch's own retries; stopped longer than those, the job fails with a clear error and
    nothing half-written; once the controller is back, submitting again runs it once."""
    with experiment(workdir, "ctld", launcher=slurm_launcher) as xp:
        first = job_of(Sleep.C(value=1, seconds=2).submit())
        until(lambda: runs_of(first.path) and first.state is JobState.RUNNING,
              "the first job to run")
        stop_slurmctld(slurm_cluster)
        try:
            second = job_of(Sleep.C(value=2).submit())
            until(lambda: first.state.finished, "the first job to end", timeout=60)
            seen_down = (first.state, second.state)
        finally:
            start_slurmctld(slurm_cluster)
    assert seen_down[0] is JobState.DONE and not seen_down[1].finished, seen_down
    for job in (first, second):
        assert job.state is JobState.DONE and len(runs_of(job.path)) == 1
        assert_nothing_running_on_disk(job)
    assert len(jobs_in(slurm_cluster, workdir)) == 2

    # Down for longer than sbatch retries (about 9 s here).
    with controller_down(slurm_cluster):
        with experiment(workdir, "ctld-long", launcher=slurm_launcher) as xp:
            third = job_of(Sleep.C(value=3).submit())
            until(lambda: third.state.finished, "sbatch to give up", timeout=90)
    info = failed_experiment(xp)
    assert third.state is JobState.ERROR
    reason = third.failure_reason
    assert "sbatch could not reach the SLURM controller" in reason
    assert "Unable to contact slurm controller" in reason and "scontrol ping" in reason
    assert "SlurmOptions" not in reason  # not the job's options: no misleading fix
    assert reason in str(info.value)
    assert not (third.paths.meta / "slurm.json").exists()  # nothing recorded as submitted
    assert json.loads((third.path / "params.json").read_text())["objects"]
    assert runs_of(third.path) == [] and not third.paths.pid.exists()
    assert read_disk_state(third.paths)[0] is None  # neither done, failed nor running
    with experiment(workdir, "ctld-again", launcher=slurm_launcher):
        again = job_of(Sleep.C(value=3).submit())
    assert again.state is JobState.DONE and len(runs_of(again.path)) == 1
    assert len(jobs_in(slurm_cluster, workdir)) == 3


def test_a_job_failing_while_squeue_cannot_answer_keeps_its_own_failure(
        slurm_cluster, slurm_launcher, workdir):
    """A job last seen pending runs and fails while every ``squeue`` fails (the poller's
    ``SLURM_CONF`` pointed at a file it refuses at once: the cluster itself runs on). The
    stale "pending" is not news: the job's own ``.failed`` stays, never taken for a requeue."""
    env = slurm_launcher.runner.launcherenv
    bad_conf = workdir.parent / "refused.conf"  # a missing file: squeue retries for 60 s
    bad_conf.write_text("NotASlurmKey=1\n")
    with experiment(workdir, "stale-pending", launcher=slurm_launcher) as xp:
        with busy_node(slurm_cluster):
            job = job_of(Raise.C(value=1).submit())
            until(lambda: job.state is JobState.SCHEDULED, "the job to be queued")
            time.sleep(1.5)  # the poller has seen it pending
            assert job.state is JobState.SCHEDULED
            good_conf, env["SLURM_CONF"] = env["SLURM_CONF"], str(bad_conf)
        try:
            # The blocker is gone: SLURM runs the job, which fails and writes .failed.
            until(lambda: runs_of(job.path) and job.paths.failed.exists(),
                  "the job to fail on its own")
            time.sleep(4)  # eight rounds of failing squeue, the last status "pending"
            assert job.paths.failed.exists(), "its own .failed was deleted"
            assert "asked to fail" in json.loads(job.paths.failed.read_text())["reason"]
        finally:
            env["SLURM_CONF"] = good_conf
        until(lambda: job.state.finished, "the driver to see the end", timeout=60)
    failed_experiment(xp)
    assert job.state is JobState.ERROR and "asked to fail" in job.failure_reason
    assert len(runs_of(job.path)) == 1  # run once, never requeued or resubmitted
    assert read_disk_state(job.paths)[0] is JobState.ERROR
    assert_nothing_running_on_disk(job)


# --- SSH ------------------------------------------------------------------------------


async def _remote_sleep_running(url: str, name: str, value: int):
    """Experiment ``name`` on ``url`` with one ``Sleep`` job (120 s unless released),
    once that job runs on the host: ``(xp, job)``."""
    xp = experiment(url, name)
    Sleep.C(value=value, seconds=120).submit()
    job = xp.jobs[0]
    await wait_until_async(lambda: job.state is JobState.RUNNING and runs_of(job.path), 120,
                           "the remote job to run")
    return xp, job


def test_link_cut_in_the_middle_of_uploading_params(ssh_connector, sshd_running, tmp_path):
    """Every SSH connection cut while the job's 16 MiB params.json is being uploaded: no
    params.json ever half-written on the host (a temp file, then a rename), the upload
    starts again on a new connection, and the job runs once, to done."""
    ws = tmp_path / "remote" / "ws"  # the host's disk (the host is this machine)
    blob = "x" * (16 * 2**20)
    seen: dict = {}
    stop = threading.Event()

    def cut_mid_upload() -> None:
        # The test looks at the host's disk directly (the host is this machine).
        while not stop.is_set():
            for tmp in ws.glob("jobs/*/*/.params.json.*.tmp"):
                try:
                    size = tmp.stat().st_size
                except FileNotFoundError:
                    continue
                if 0 < size < len(blob):
                    seen["partial temp file"] = size
                    seen["params.json then"] = (tmp.parent / "params.json").exists()
                    sshd_running.kill_sessions()
                    return
            time.sleep(0.002)

    watcher = threading.Thread(target=cut_mid_upload, daemon=True)
    watcher.start()
    try:
        with experiment(ssh_url(ssh_connector, ws), "upload") as xp:
            Blob.C(blob=blob).submit()
    finally:
        stop.set()
        watcher.join(10)
    job = xp.jobs[0]
    assert "partial temp file" in seen, "the upload ended before it could be cut"
    assert seen["params.json then"] is False
    assert ssh_connector.session.reconnections >= 1
    assert job.state is JobState.DONE and (job.path / "size.txt").read_text() == str(len(blob))
    params = json.loads((job.path / "params.json").read_text())  # whole
    assert blob in json.dumps(params)
    assert len(runs_of(job.path)) == 1
    assert list(job.path.glob(".*.tmp")) == []  # the cut upload left no temp file behind
    assert not job.paths.pid.exists() and not job.paths.failed.exists()


def test_remote_job_killed_on_its_host(ssh_connector, tmp_path):
    """kill -9 of the job process on the remote host: failed with SIGKILL as the reason
    (the exit code its wrapper recorded there), the marker written on the host, no pid file
    left; a new submission runs it again to done."""
    ws = tmp_path / "remote" / "ws"  # the host's disk (the host is this machine)
    url = ssh_url(ssh_connector, ws)

    async def main():
        xp, job = await _remote_sleep_running(url, "kill9", value=5)
        pid = int(json.loads(job.paths.pid.read_text())["pid"])
        os.kill(pid, signal.SIGKILL)  # on the host (this machine), not through xpm_nb
        await ended(job, 60)
        xp.close()
        return job, pid

    job, pid = asyncio.run(main())
    assert int(runs_of(job.path)[0][1]) == pid
    assert job.state is JobState.ERROR and job.failure_reason == "killed by signal SIGKILL"
    assert json.loads(job.paths.failed.read_text()) == {"code": -9,
                                                        "reason": "killed by signal SIGKILL"}
    assert not job.paths.pid.exists() and not job.paths.done.exists()
    (job.path / "release").touch()  # the next run ends at once
    with experiment(url, "kill9-again") as xp:
        Sleep.C(value=5, seconds=120).submit()
    assert xp.jobs[0].path == job.path and xp.jobs[0].state is JobState.DONE
    assert len(runs_of(job.path)) == 2 and not job.paths.failed.exists()


def test_link_down_longer_than_the_reconnect_timeout(sshd_running, tmp_path):
    """sshd stopped for longer than the connector's ``reconnect_timeout`` while a remote job
    runs: the driver gives up on the job with an error naming the lost link, writes nothing
    false on the host (the job still runs there: no ``.failed``), and once sshd is back a new
    driver follows the same process to done (run once)."""
    from relclusters import connector_to

    ws = tmp_path / "remote" / "ws"
    connector = connector_to(sshd_running, reconnect_timeout=2.0, op_timeout=5.0)
    url = ssh_url(connector, ws)
    seen: dict = {}

    async def main():
        xp, job = await _remote_sleep_running(url, "down", value=6)
        await asyncio.to_thread(sshd_running.stop)
        try:
            # Given up after 2 s without the link; 20 s is a guard against a hang.
            await asyncio.wait([asyncio.shield(asyncio.wrap_future(job._done))], timeout=20)
            seen["driver gave up"] = job._done.done()
        finally:
            seen["pid file while down"] = job.paths.pid.exists()
            seen["failed while down"] = job.paths.failed.exists()
            await asyncio.to_thread(sshd_running.start)
        xp.close()
        return job

    try:
        job = asyncio.run(main())
        assert job.state is JobState.ERROR
        assert "SSH link" in job.failure_reason and "down for more than 2.0 s" in \
            job.failure_reason
        assert seen == {"driver gave up": True, "pid file while down": True,
                        "failed while down": False}
        assert not job.paths.failed.exists() and not job.paths.done.exists()
        (job.path / "release").touch()  # let the remote job end now
        with experiment(url, "down-again") as again:
            Sleep.C(value=6, seconds=120).submit()
        assert again.jobs[0].state is JobState.DONE
        assert len(runs_of(job.path)) == 1  # followed, not started a second time
    finally:
        connector.close_registered()
