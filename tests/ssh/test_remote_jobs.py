"""Jobs on a remote workspace (the real sshd): a DAG, notebook classes, a cut link, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import pytest
from remote_tasks import Emit, Sum
from ssh_helpers import HERE, no_guard, ssh_url

from support.failures import assert_failures_logged, failed_experiment
from support.waiting import ended, wait_until_async
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState


def _runs(log) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


class TestRemoteWorkspace:
    def test_a_dag_runs_on_the_remote_host_and_is_not_run_twice(
            self, connector, remote_root, guard):
        ws, log = remote_root / "ws", remote_root / "log.txt"
        with guard:
            with experiment(ssh_url(connector, ws), "dag") as xp:
                xp.setenv("XPM_NB_TEST_MARK", "from-the-workspace-env")
                a = Emit.C(value=1, log=log).submit()
                b = Emit.C(value=2, log=log).submit()
                Sum.C(inputs=[a, b]).submit()
            jobs = {j.name: j for j in xp.jobs if j.name == "sum"}
            emits = [j for j in xp.jobs if j.name == "emit"]
            out_tail = emits[0].log_tail(stream="out")
            progress = emits[0].progress
            with experiment(ssh_url(connector, ws), "dag") as again:
                a = Emit.C(value=1, log=log).submit()
                b = Emit.C(value=2, log=log).submit()
                Sum.C(inputs=[a, b]).submit()
        assert all(j.state is JobState.DONE for j in xp.jobs + again.jobs)
        assert (jobs["sum"].path / "sum.txt").read_text() == "3"
        assert jobs["sum"].path.is_relative_to(ws / "jobs")
        runs = _runs(log)
        assert sorted(r[0] for r in runs) == ["1", "2"]  # once each, the second run reused them
        assert {r[2] for r in runs} == {"from-the-workspace-env"}
        assert out_tail.startswith("emitting ")  # read over SFTP
        assert progress and progress[0]["desc"] == "half"  # followed over SFTP
        # The experiment's own files are on the remote host too.
        xp_dir = ws / "experiments" / "dag"
        current = xp_dir / os.readlink(xp_dir / "current")
        assert len((current / "jobs.jsonl").read_text().splitlines()) == 3
        assert json.loads((current / "status.json").read_text())["status"] == "done"
        assert (current / "jobs" / jobs["sum"].type_id / jobs["sum"].identifier).resolve() == \
            jobs["sum"].path
        assert (ws / ".__experimaestro__").exists()

    def test_a_failure_on_the_remote_host_is_reported_with_its_log(
            self, connector, remote_root, guard, caplog):
        ws, log = remote_root / "ws", remote_root / "log.txt"
        with guard:
            with experiment(ssh_url(connector, ws), "fail") as xp:
                a = Emit.C(value=1, log=log).submit()
                Sum.C(inputs=[a], fail=True).submit()
            assert "asked to fail" in assert_failures_logged(caplog, xp)[0]
            info = failed_experiment(xp)
            failed = next(j for j in xp.jobs if j.name == "sum")
            tail = failed.log_tail()
        assert "ValueError: asked to fail" in failed.failure_reason
        assert "ValueError: asked to fail" in tail and "Traceback" in tail
        assert "asked to fail" in str(info.value)
        marker = json.loads((failed.path / "sum.failed").read_text())
        assert marker["code"] == 1

    def test_a_cut_link_is_reestablished_and_the_job_ends_done(
            self, connector, sshd_running, remote_root, guard):
        """sshd stops mid-run (every connection cut, new ones refused), then comes back."""
        ws, log = remote_root / "ws", remote_root / "log.txt"
        seen = {}

        async def main():
            xp = experiment(ssh_url(connector, ws), "cut")
            Emit.C(value=5, log=log, sleep=4).submit()
            job = xp.jobs[0]
            await wait_until_async(lambda: job.state is JobState.RUNNING, 120, "the job to run")
            with no_guard():
                seen["pid file"] = job.paths.pid.exists()
                seen["done before"] = job.paths.done.exists()
            generation = connector.session.generation
            await asyncio.to_thread(sshd_running.stop)
            await asyncio.sleep(2.0)  # polls fail meanwhile: the job must not fail
            seen["state during"] = job.state
            await asyncio.to_thread(sshd_running.start)
            await xp
            xp.close()
            seen["new connection"] = connector.session.generation > generation
            return job

        with guard:
            job = asyncio.run(main())
        assert seen == {"pid file": True, "done before": False,
                        "state during": JobState.RUNNING, "new connection": True}
        assert job.state is JobState.DONE and job.failure_reason is None
        assert [r[0] for r in _runs(log)] == ["5"]
        assert not job.paths.failed.exists()

    def test_a_hung_link_is_dropped_and_reestablished(self, sshd_running, remote_root, guard):
        """sshd frozen (SIGSTOP): answers stop coming; after op_timeout the link is renewed."""
        from ssh_helpers import make_connector

        from xpm_nb.connectors.ssh import SshConnector

        connector = make_connector(sshd_running, op_timeout=3.0, connect_timeout=10.0)
        SshConnector._cache[("xpmtest", ())] = connector
        ws, log = remote_root / "ws", remote_root / "log.txt"

        async def main():
            xp = experiment(ssh_url(connector, ws), "hung")
            Emit.C(value=6, log=log, sleep=3).submit()
            job = xp.jobs[0]
            await wait_until_async(lambda: job.state is JobState.RUNNING, 120, "the job to run")
            await asyncio.to_thread(sshd_running.pause)
            await asyncio.sleep(5.0)  # longer than op_timeout: the polls time out
            await asyncio.to_thread(sshd_running.resume)
            await xp
            xp.close()
            return job

        try:
            with guard:
                job = asyncio.run(main())
        finally:
            SshConnector._cache.pop(("xpmtest", ()), None)
            connector.close()
        assert job.state is JobState.DONE
        assert connector.session.reconnections >= 1
        assert [r[0] for r in _runs(log)] == ["6"]

    def test_cancel_kills_the_remote_process(self, connector, remote_root, guard):
        ws, log = remote_root / "ws", remote_root / "log.txt"

        async def main():
            xp = experiment(ssh_url(connector, ws), "cancel")
            Emit.C(value=8, log=log, sleep=60).submit()
            job = xp.jobs[0]
            await wait_until_async(lambda: job.state is JobState.RUNNING, 120, "the job to run")
            with no_guard():
                await wait_until_async(job.paths.pid.exists, 120, "the pid file")
                pid = json.loads(job.paths.pid.read_text())["pid"]
            assert job.cancel()
            await ended(job, 60)
            xp.close()
            return job, pid

        with guard:
            job, pid = asyncio.run(main())
        assert job.state is JobState.ERROR and job.failure_reason == "cancelled"
        assert json.loads(job.paths.failed.read_text())["reason"] == "cancelled"
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
        assert _runs(log) == []


class TestNotebookAndRestarts:
    def test_a_class_defined_in_main_runs_remotely(self, sshd_running, remote_root):
        """The driver's own class (no module to import) is shipped in classes.pkl over SFTP."""
        ws = remote_root / "ws"
        script = textwrap.dedent(f"""
            import sys
            from pathlib import Path
            from xpm_nb import Meta, Param, PathGenerator, Task, experiment, field
            from xpm_nb.connectors.ssh import SshConnector

            class Square(Task):
                x: Param[int]
                out: Meta[Path] = field(default_factory=PathGenerator("square.txt"))

                def execute(self):
                    self.out.write_text(str(self.x ** 2))

            SshConnector.get("xpmtest", ssh_config={str(sshd_running.ssh_config)!r},
                             python=sys.executable)
            with experiment("ssh://xpmtest/{ws}", "main") as xp:
                Square.C(x=7).submit()
            print("JOB", xp.jobs[0].path)
        """)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=300, cwd=remote_root.parent)
        assert r.returncode == 0, r.stderr
        job_path = ws / r.stdout.split("JOB ")[1].strip().split(str(ws) + "/")[1]
        assert (job_path / "square.txt").read_text() == "49"
        assert (job_path / "classes.pkl").exists()
        assert json.loads((job_path / "params.json").read_text())["objects"][-1]["module"] == \
            "__main__"

    def test_a_notebook_cell_class_runs_remotely(self, sshd_running, remote_root):
        """The same from a real notebook kernel (nbclient): submit() in a cell, await it."""
        nbformat = pytest.importorskip("nbformat")
        nbclient = pytest.importorskip("nbclient")
        ws = remote_root / "ws"
        cells = [
            textwrap.dedent(f"""
                import sys
                from pathlib import Path
                from xpm_nb import Meta, Param, PathGenerator, Task, experiment, field
                from xpm_nb.connectors.ssh import SshConnector
                SshConnector.get("xpmtest", ssh_config={str(sshd_running.ssh_config)!r},
                                 python=sys.executable)
            """),
            textwrap.dedent("""
                class Cube(Task):
                    x: Param[int]
                    out: Meta[Path] = field(default_factory=PathGenerator("cube.txt"))

                    def execute(self):
                        self.out.write_text(str(self.x ** 3))
            """),
            f'xp = experiment("ssh://xpmtest/{ws}", "nb")\nout = Cube.C(x=3).submit()',
            "await out\nprint('STATE', xp.jobs[0].state.value, xp.jobs[0].path)",
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(remote_root.parent)}}).execute()
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert "STATE done" in text, nb.cells[-1].outputs
        job_path = text.split("STATE done ")[1].strip()
        assert (ws / job_path.split(str(ws) + "/")[1] / "cube.txt").read_text() == "27"

    def test_a_new_driver_follows_the_remote_job_of_a_dead_one(
            self, connector, sshd_running, remote_root, guard):
        """The first driver dies while its job runs; the second finds it from the pid file."""
        ws, log = remote_root / "ws", remote_root / "log.txt"
        script = textwrap.dedent(f"""
            import os, sys, time
            sys.path.insert(0, {str(HERE)!r})
            from remote_tasks import Emit
            from xpm_nb import experiment
            from xpm_nb.connectors.ssh import SshConnector
            from xpm_nb.scheduler.jobs import JobState
            SshConnector.get("xpmtest", ssh_config={str(sshd_running.ssh_config)!r},
                             python=sys.executable, env={{"PYTHONPATH": {str(HERE)!r}}})
            xp = experiment("ssh://xpmtest/{ws}", "first")
            Emit.C(value=9, log="{log}", sleep=4).submit()
            job = xp.jobs[0]
            while not (job.state is JobState.RUNNING and job.paths.pid.exists()):
                time.sleep(0.05)
            os._exit(0)  # the kernel dies; the remote job goes on
        """)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=300, cwd=remote_root.parent)
        assert r.returncode == 0, r.stderr
        assert _runs(log) == []  # still running
        with guard:
            with experiment(ssh_url(connector, ws), "second") as xp:
                Emit.C(value=9, log=log, sleep=4).submit()
        assert xp.jobs[0].state is JobState.DONE
        assert [r[0] for r in _runs(log)] == ["9"]  # followed, not started again


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_local_launcher_on_a_remote_workspace_is_refused(connector, remote_root, guard):
    """The job would run here while its folder is there: a clear error, nothing started."""
    from xpm_nb.launchers.direct import DirectLauncher

    ws, log = remote_root / "ws", remote_root / "log.txt"
    with guard:
        with experiment(ssh_url(connector, ws), "mismatch", launcher=DirectLauncher()) as xp:
            Emit.C(value=1, log=log).submit()
    failed_experiment(xp)
    reason = xp.jobs[0].failure_reason
    assert "workspace is on xpmtest" in reason and "DirectLauncher(connector=" in reason
    assert _runs(log) == []


def test_a_remote_token_lets_one_job_run_at_a_time(connector, remote_root, guard):
    """A token created on the remote host (its file there) serialises the jobs."""
    ws, log = remote_root / "ws", remote_root / "log.txt"
    connector._localpath = str(remote_root / "share")
    with guard:
        token = connector.createtoken("slot", 1)
        with experiment(ssh_url(connector, ws), "token"):
            for value in (1, 2):
                task = Emit.C(value=value, log=log, sleep=1.0)
                task.add_dependencies(token.dependency(1))
                task.submit()
    runs = sorted(_runs(log), key=lambda r: float(r[3]))
    assert [r[0] for r in runs] in (["1", "2"], ["2", "1"])
    assert float(runs[0][4]) <= float(runs[1][3])  # the second started after the first ended
    assert json.loads((remote_root / "share" / "tokens" / "slot.token").read_text()) == {}
