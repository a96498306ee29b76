"""``JobState``'s questions and what waiting returns, compared with
experimaestro 2.7.0 (run in its own virtual environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.paths import importable, on_pythonpath
from support.refvenv import run_script
from xpm_nb import experiment
from xpm_nb.scheduler.jobs import JobState

pytestmark = pytest.mark.interop

STATES = ["UNSCHEDULED", "WAITING", "READY", "SCHEDULED", "RUNNING", "DONE", "ERROR"]
QUESTIONS = ["notstarted", "running", "finished", "is_error", "is_unscheduled"]

REF_STATES = """
import json, sys
from experimaestro.scheduler.jobs import JobState
out = {name: {q: bool(getattr(getattr(JobState, name), q)()) for q in sys.argv[2:]}
       for name in sys.argv[1].split(",")}
print(json.dumps(out))
"""

# A task run by the reference: what task.wait() and job.wait() return, in the
# experiment and once it has exited.
REF_TASKS = """
from experimaestro import Param, Task

class Ok(Task):
    x: Param[int]
    def execute(self):
        pass
"""

REF_WAIT = """
import json, sys
from experimaestro import experiment
from experimaestro.scheduler.jobs import JobState
from reftasks import Ok

with experiment(sys.argv[1], "wait", no_environmental_impact=True):
    task = Ok.C(x=1)
    task.submit()
    inside = task.wait()
after = task.__xpm__.job.wait()
print(json.dumps({"inside": type(inside).__name__, "after": type(after).__name__,
                  "inside_done": inside == JobState.DONE, "after_finished": after.finished()}))
"""


def _ref(code: str, *args: str, script: Path | None = None) -> dict:
    """Run ``code`` with the reference (from ``script`` when its tasks need a source file)."""
    path: list[Path] = []
    if script is not None:
        script.write_text(code)
        (script.parent / "reftasks.py").write_text(REF_TASKS)
        path = [script.parent]
    stdout = run_script(script if script is not None else code, *args, path=path)
    return json.loads(stdout.strip().splitlines()[-1])


def test_jobstate_questions_are_the_references():
    ref = _ref(REF_STATES, ",".join(STATES), *QUESTIONS)
    ours = {name: {q: bool(getattr(JobState[name], q)()) for q in QUESTIONS}
            for name in STATES}
    assert ours == ref


def test_finished_is_also_a_property():
    """``state.finished`` (xpm_nb's older spelling) still reads as a bool."""
    assert JobState.DONE.finished and not JobState.RUNNING.finished
    assert JobState.ERROR.finished == True  # noqa: E712 - compared as the bool it stands for


HERE = Path(__file__).resolve().parent
TASKS = HERE.parent / "scheduler"


def test_wait_returns_the_done_state_as_the_reference(workdir, tmp_path, monkeypatch):
    ref = _ref(REF_WAIT, str(tmp_path / "ref-ws"), script=tmp_path / "ref_wait.py")
    assert ref == {"inside": "JobStateDone", "after": "JobStateDone", "inside_done": True,
                   "after_finished": True}

    on_pythonpath(monkeypatch, TASKS)
    importable(TASKS)
    from tasks import Add, Counter

    with experiment(workdir, "wait"):
        task = Add.C(inputs=[Counter.C(value=1)])
        task.submit()
        assert task.wait() is JobState.DONE
    # once the experiment has exited: no error, the state
    assert task.__xpm__.job.wait() is JobState.DONE
    assert task.wait() is JobState.DONE
