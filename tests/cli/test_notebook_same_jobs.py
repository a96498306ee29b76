"""The same experiment run from a notebook (nbclient, a real kernel) and from the command
line lands in the same job folders: the second run finds the first one's jobs done."""

from __future__ import annotations

import json
import textwrap

import pytest

from .helpers import run_cli

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _run_notebook(cells: list[str], cwd) -> list:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in cells]
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return [
        "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        for cell in nb.cells
    ]


def _cli_jobs(workdir, name: str) -> set[str]:
    run = (workdir / "experiments" / name / "current").resolve()
    records = [json.loads(x) for x in (run / "jobs.jsonl").read_text().splitlines()]
    return {str(workdir / "jobs" / r["task_id"] / r["job_id"]) for r in records}


def test_notebook_then_cli_share_job_folders(project, workdir):
    outputs = _run_notebook([
        f"""
        import json
        from xpm_nb.experiments import run_experiment
        helper = run_experiment({str(project / 'exp.yaml')!r}, "lr=0.25",
                                workdir={str(workdir)!r})
        print(json.dumps(sorted(str(j.path) for j in helper.xp.jobs)))
        print(json.dumps(sorted(j.state.value for j in helper.xp.jobs)))
        """,
    ], project)
    lines = outputs[0].strip().splitlines()
    notebook_jobs = set(json.loads(lines[-2]))
    assert json.loads(lines[-1]) == ["done", "done"]
    assert len(notebook_jobs) == 2
    stamps = {p: p.stat().st_mtime_ns for p in workdir.glob("jobs/*/*/result.txt")}

    proc = run_cli("run-experiment", project / "exp.yaml", "lr=0.25", "--workdir", workdir)
    assert proc.returncode == 0, proc.stderr
    assert _cli_jobs(workdir, "cli-test") == notebook_jobs
    # Found done: not run again.
    assert {p: p.stat().st_mtime_ns for p in workdir.glob("jobs/*/*/result.txt")} == stamps
    assert sorted(p.read_text() for p in stamps) == ["0.25 16 cnn 1", "0.25 16 cnn 2"]


def test_notebook_can_keep_the_experiment_open(project, workdir):
    """``wait=False`` returns at once with the experiment open; ``await helper.xp`` later."""
    outputs = _run_notebook([
        f"""
        from xpm_nb.experiments import run_experiment
        helper = run_experiment({str(project / 'exp.yaml')!r}, "sleep=0.5", "seeds=[4]",
                                workdir={str(workdir)!r}, wait=False)
        print("open:", not helper.xp.closed)
        """,
        """
        await helper.xp
        print("states:", [j.state.value for j in helper.xp.jobs])
        helper.xp.close()
        """,
    ], project)
    assert outputs[0].strip() == "open: True"
    assert outputs[1].strip() == "states: ['done']"
