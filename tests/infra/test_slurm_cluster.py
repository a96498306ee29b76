"""Self-tests of the test SLURM cluster (tests/infra/slurm.py): real sbatch/scontrol/scancel."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from infra import pid_alive
from infra.slurm import FINAL_STATES, SlurmCluster, parse_scontrol, slurm_available
from support import integration as conftest

if "infra.fixtures" not in getattr(conftest, "pytest_plugins", ()):
    # Not registered suite-wide (yet): import the fixture here.
    from infra.fixtures import slurm_cluster  # noqa: F401


def sbatch(cluster: SlurmCluster, script: Path, cwd: Path) -> str:
    r = subprocess.run(
        ["sbatch", "--parsable", str(script)],
        env=cluster.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split(";")[0]


def show_job(cluster: SlurmCluster, job_id: str) -> dict[str, str]:
    r = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    return parse_scontrol(r.stdout)


def wait_final(cluster: SlurmCluster, job_id: str, timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        info = show_job(cluster, job_id)
        if info["JobState"] in FINAL_STATES:
            return info
        assert time.monotonic() < deadline, f"job {job_id} still {info['JobState']}"
        time.sleep(0.05)


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)
    return path


def test_job_completes_with_output_and_jobcomp_record(slurm_cluster, tmp_path):
    script = write_script(tmp_path / "job.sh", 'echo "hello from $SLURM_JOB_ID" > result.txt\n')
    t0 = time.monotonic()
    job = sbatch(slurm_cluster, script, tmp_path)
    # squeue knows the job right after submission
    r = subprocess.run(
        ["squeue", "-h", "-j", job, "-t", "all", "-o", "%i"],
        env=slurm_cluster.env,
        capture_output=True,
        text=True,
    )
    assert r.stdout.split() == [job]
    info = wait_final(slurm_cluster, job)
    elapsed = time.monotonic() - t0
    assert info["JobState"] == "COMPLETED", info
    assert info["ExitCode"] == "0:0"
    assert info["Partition"] == "debug"
    assert (tmp_path / "result.txt").read_text() == f"hello from {job}\n"
    # The completion log holds a permanent line for the job.
    deadline = time.monotonic() + 10
    while True:
        records = [r for r in slurm_cluster.jobcomp_records() if r.get("JobId") == job]
        if records or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(records) == 1, slurm_cluster.jobcomp_path.read_text()
    assert records[0]["JobState"] == "COMPLETED"
    assert records[0]["ExitCode"] == "0:0"
    assert elapsed < 30, f"sbatch to COMPLETED took {elapsed:.1f} s"


def test_failing_job_reports_exit_code(slurm_cluster, tmp_path):
    script = write_script(tmp_path / "fail.sh", "echo about to fail\nexit 3\n")
    job = sbatch(slurm_cluster, script, tmp_path)
    info = wait_final(slurm_cluster, job)
    assert info["JobState"] == "FAILED", info
    assert info["ExitCode"] == "3:0", info
    assert (tmp_path / f"slurm-{job}.out").read_text() == "about to fail\n"


def test_scancel_ends_cancelled_and_kills_children(slurm_cluster, tmp_path):
    script = write_script(tmp_path / "sleep.sh", "sleep 300 &\necho $! > sleep.pid\nwait\n")
    job = sbatch(slurm_cluster, script, tmp_path)
    slurm_cluster.wait_state(job, "RUNNING")
    pid_file = tmp_path / "sleep.pid"
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "job did not start its sleep"
        time.sleep(0.02)
    sleep_pid = int(pid_file.read_text())
    assert pid_alive(sleep_pid)
    subprocess.run(["scancel", job], env=slurm_cluster.env, check=True, timeout=30)
    info = wait_final(slurm_cluster, job)
    assert info["JobState"] == "CANCELLED", info
    deadline = time.monotonic() + 10
    while pid_alive(sleep_pid):
        assert time.monotonic() < deadline, "the job's sleep survived scancel"
        time.sleep(0.05)


def test_cluster_start_stop_is_clean(tmp_path):
    ok, reason = slurm_available()
    if not ok:
        conftest.need(ok, reason)
    cluster = SlurmCluster(start_timeout=30)
    with cluster:
        assert cluster.startup_seconds < 30
        assert cluster.conf_path.is_file()
        text = cluster.conf_path.read_text()
        assert "SlurmctldHost=localhost(127.0.0.1)" in text
        assert "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny" in text
        assert cluster.env["SLURM_CONF"] == str(cluster.conf_path)
        pids = [p.pid for p in cluster._procs.values()]
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
        # a running job at stop() time is cancelled, not left behind
        script = write_script(tmp_path / "sleep.sh", "sleep 300\n")
        job = cluster.sbatch(str(script), cwd=tmp_path)
        cluster.wait_state(job, "RUNNING")
    assert not any(pid_alive(p) for p in pids)
    assert not cluster.base.exists()
    cluster.stop()  # a second stop is harmless


class BrokenConfCluster(SlurmCluster):
    def _write_conf(self) -> None:
        super()._write_conf()
        with open(self.conf_path, "a") as f:
            f.write("ThisIsNotAnOption=1\n")


def test_start_failure_quotes_logs_and_cleans_up():
    ok, reason = slurm_available()
    if not ok:
        conftest.need(ok, reason)
    cluster = BrokenConfCluster(start_timeout=10)
    with pytest.raises(RuntimeError) as e:
        cluster.start()
    msg = str(e.value)
    assert "SLURM test cluster failed to start" in msg
    assert "slurmctld" in msg and "ThisIsNotAnOption" in msg, msg
    assert not cluster._procs
    assert not cluster.base.exists()
