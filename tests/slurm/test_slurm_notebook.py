"""Submitting to SLURM from a notebook cell (a real kernel, executed by nbclient)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _cell(code: str):
    return nbformat.v4.new_code_cell(textwrap.dedent(code).strip())


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def test_submit_from_a_notebook_cell(slurm_cluster, workdir, tmp_path):
    """A Task class defined in a cell runs as a SLURM job; the kernel stays free meanwhile."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(f"""
            import asyncio, os
            from pathlib import Path
            from xpm_nb import Meta, Param, PathGenerator, Task, experiment, field
            from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions
            cluster = SlurmLauncher(options=SlurmOptions(partition="debug", time="0:02:00"),
                                    interval=0.5,
                                    launcherenv={{"SLURM_CONF": {str(slurm_cluster.conf_path)!r}}})
            xp = experiment({str(workdir)!r}, "notebook", launcher=cluster)
        """),
        _cell("""
            class Square(Task):
                x: Param[int]
                out: Meta[Path] = field(default_factory=PathGenerator("square.txt"))
                def execute(self):
                    self.out.write_text(f"{self.x * self.x} in {os.environ['SLURM_JOB_ID']}")
        """),
        _cell("""
            task = Square.C(x=12)
            task.submit()
            job = task.__xpm__.job
            print("submitted:", job.state.value, job.path)
        """),
        # The kernel is free while SLURM queues and runs the job.
        _cell("""
            seen = []
            while not job.state.finished:
                if not seen or seen[-1] != job.state.value:
                    seen.append(job.state.value)
                await asyncio.sleep(0.02)
            print(" ".join(seen))
        """),
        _cell("""
            await task
            print(job.state.value, task.out.read_text())
        """),
        # A blocking wait in a cell works too (the scheduler goes on in its own thread).
        _cell("""
            other = Square.C(x=3)
            other.submit()
            other.wait()
            print(other.out.read_text().split()[0])
            xp.close()
        """),
    ]
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    _, state, path = _text(nb.cells[2]).split()
    assert state in ("waiting", "ready")
    seen = _text(nb.cells[3]).split()
    assert "scheduled" in seen and "done" not in seen
    jobdir = Path(path)
    sid = json.loads((jobdir / ".experimaestro" / "slurm.json").read_text())["jobid"]
    assert _text(nb.cells[4]).strip() == f"done 144 in {sid}"
    assert _text(nb.cells[5]).strip() == "9"
    info = slurm_cluster.job_info(sid)
    assert (info["JobState"], info["TimeLimit"]) == ("COMPLETED", "00:02:00")
