"""The scheduler inside a real Jupyter kernel: cells go on while jobs run.

A notebook executed by nbclient defines a Task class in a cell, submits it,
runs other cells while the job runs, then waits. A second test restarts the
kernel while a job runs: the new kernel finds the job running (its pid file),
follows it to the end, and the job ran once.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from support.kernel import real_kernel
from support.waiting import wait_until

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("jupyter_client")


def _cell(code: str):
    return nbformat.v4.new_code_cell(textwrap.dedent(code).strip())


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def test_cells_run_while_a_job_runs_then_wait(workdir, tmp_path):
    flag = tmp_path / "release"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(f"""
            import time
            from pathlib import Path
            from xpm_nb import Meta, Param, Task, experiment
            xp = experiment({str(workdir)!r}, "notebook")
        """),
        _cell("""
            class Slow(Task):
                x: Param[int]
                flag: Meta[Path]
                def execute(self):
                    while not self.flag.exists():
                        time.sleep(0.05)
                    print("computed", self.x * 2)
        """),
        _cell(f"""
            t0 = time.time()
            task = Slow.C(x=21, flag=Path({str(flag)!r}))
            task.submit()
            job = task.__xpm__.job
            print("submit took", round(time.time() - t0, 3))
        """),
        # The previous cell ended while the job runs: the kernel is free.
        _cell(f"""
            for _ in range(400):
                if job.state.value == "running":
                    break
                await __import__("asyncio").sleep(0.05)
            print("state:", job.state.value, "other work:", sum(range(10)))
            Path({str(flag)!r}).touch()
        """),
        _cell("""
            await task
            print("after await:", job.state.value)
        """),
        _cell("""
            second = Slow.C(x=1, flag=Path(str(task.flag)))
            second.submit()
            second.wait()
            print("after wait:", second.__xpm__.job.state.value)
            xp.close()
        """),
    ]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    submit_took = float(_text(nb.cells[2]).split()[-1])
    assert submit_took < 5  # returned at once (the job waits for a flag not yet there)
    assert _text(nb.cells[3]).strip() == "state: running other work: 45"
    assert _text(nb.cells[4]).strip() == "after await: done"
    assert _text(nb.cells[5]).strip() == "after wait: done"
    jobs = list((workdir / "jobs").glob("__main__.slow/*"))
    assert len(jobs) == 2
    outs = sorted((j / "slow.out").read_text().strip() for j in jobs)
    assert outs == ["computed 2", "computed 42"]


def test_kernel_restart_mid_run_reattaches_to_the_running_job(workdir, tmp_path):
    flag = tmp_path / "release"
    runs = tmp_path / "runs.log"
    setup = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from xpm_nb import Meta, Param, Task, experiment
        class Long(Task):
            x: Param[int]
            def execute(self):
                with open({str(runs)!r}, "a") as f:
                    f.write("run\\n")
                while not Path({str(flag)!r}).exists():
                    time.sleep(0.05)
        xp = experiment({str(workdir)!r}, "restart")
        task = Long.C(x=1)
        task.submit()
        job = task.__xpm__.job
    """)
    with real_kernel(tmp_path) as kernel:
        kernel.run(setup)
        kernel.run("""
for _ in range(400):
    if job.state.value == "running":
        break
    await __import__("asyncio").sleep(0.05)
print(job.state.value)
""")
        pid_file = next((workdir / "jobs").glob("__main__.long/*/long.pid"))
        pid = json.loads(pid_file.read_text())["pid"]
        kernel.restart()  # the kernel dies; the job (own session) goes on
        kernel.run(setup)  # the same cells in the new kernel: the same job, found running
        state = kernel.run("print(job.state.value)").strip()
        assert state in ("waiting", "ready", "running")
        flag.touch()
        assert kernel.run("await task\nprint(job.state.value)\nxp.close()").strip() == "done"
    assert runs.read_text().splitlines() == ["run"]  # one process ran it, once
    assert pid_file.with_name("long.done").exists() and not pid_file.exists()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 10, f"the end of job process {pid} (still alive)", step=0.1)
