"""A run written by xpm_nb, read by the reference's ``load_xp_info`` (experimaestro 2.7.0).

xpm_nb writes the run's ``objects.jsonl`` as the reference does (one object a
line, each once, matched to the jobs of ``jobs.jsonl`` by ``identifier``): the
reference rebuilds every job's configuration from it, the configuration both
tasks share as one object, and our own ``load_xp_info`` reads the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.refvenv import run_script
from support.waiting import wait_until

pytestmark = pytest.mark.interop

# Importable by both packages (the package from XPM_INTEROP_PKG): same type ids.
TASKS = '''
import importlib
import os
from pathlib import Path

pkg = importlib.import_module(os.environ["XPM_INTEROP_PKG"])
Config, Task, Param, Meta, field = pkg.Config, pkg.Task, pkg.Param, pkg.Meta, pkg.field


class Vocab(Config):
    size: Param[int]


class Checkpoint(Config):
    vocab: Param[Vocab]
    seed: Param[int]


class Train(Task):
    vocab: Param[Vocab]
    seed: Param[int]

    def task_outputs(self, dep):
        return dep(Checkpoint.C(vocab=self.vocab, seed=self.seed))

    def execute(self):
        pass


class Evaluate(Task):
    checkpoint: Param[Checkpoint]
    vocab: Param[Vocab]

    def execute(self):
        pass
'''

# Two tasks sharing one Vocab; Evaluate depends on Train through its output.
DRIVER = """
import json, sys
from pathlib import Path
import xpm_nb
from objpkg import tasks as t

ws, out = Path(sys.argv[1]), Path(sys.argv[2])
with xpm_nb.experiment(ws, "objects") as xp:
    vocab = t.Vocab.C(size=100)
    train = t.Train.C(vocab=vocab, seed=xpm_nb.tag(3))
    checkpoint = train.submit()
    evaluate = t.Evaluate.C(checkpoint=checkpoint, vocab=vocab)
    evaluate.submit()
out.write_text(json.dumps({
    "run": str(xp.run_path),
    "train": train.__xpm__.job.identifier,
    "evaluate": evaluate.__xpm__.job.identifier,
    "states": [train.__xpm__.job.state.value, evaluate.__xpm__.job.state.value],
}))
"""

REF_READ = """
import json, sys
from pathlib import Path
from experimaestro import load_xp_info

info = load_xp_info(Path(sys.argv[1]))
jobs = {}
for job_id, cfg in info.jobs.items():
    jobs[job_id] = {"class": type(cfg).__qualname__.split(".")[0],  # Train.XPMConfig
                    "identifier": cfg.__identifier__().all.hex()}
evaluate = next(c for c in info.jobs.values() if hasattr(c, "checkpoint"))
train = next(c for c in info.jobs.values() if not hasattr(c, "checkpoint"))
print(json.dumps({
    "jobs": jobs,
    "actions": list(info.actions),
    "vocab_size": evaluate.vocab.size,
    "seed": evaluate.checkpoint.seed,
    "shared": evaluate.vocab is train.vocab and evaluate.checkpoint.vocab is train.vocab,
}))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("objects-jsonl")
    package = root / "objpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(TASKS)
    (root / "driver.py").write_text(DRIVER)
    (root / "ref_read.py").write_text(REF_READ)
    out = root / "out.json"
    run_script(root / "driver.py", root / "ws", out, package="xpm_nb", path=[root], cwd=root)
    return {"root": root, **json.loads(out.read_text())}


def test_objects_jsonl_written_whole_lines(run):
    """Every line one object; each object once (the shared Vocab too)."""
    lines = (Path(run["run"]) / "objects.jsonl").read_text().splitlines()
    objects = [json.loads(line) for line in lines]
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids))
    assert sum(o["type"] == "Vocab" for o in objects) == 1
    assert {run["train"], run["evaluate"]} <= {o["identifier"] for o in objects}
    assert not list(Path(run["run"]).glob("*.tmp*"))  # temp files renamed away
    assert run["states"] == ["done", "done"]


def test_reference_load_xp_info_reads_our_run(run):
    stdout = run_script(run["root"] / "ref_read.py", run["run"], path=[run["root"]],
                        cwd=run["root"])
    got = json.loads(stdout.strip().splitlines()[-1])
    assert got["jobs"] == {
        run["train"]: {"class": "Train", "identifier": run["train"]},
        run["evaluate"]: {"class": "Evaluate", "identifier": run["evaluate"]},
    }
    assert got["actions"] == []
    assert got["vocab_size"] == 100 and got["seed"] == 3
    assert got["shared"] is True


def test_our_load_xp_info_reads_our_run(run, monkeypatch):
    monkeypatch.setenv("XPM_INTEROP_PKG", "xpm_nb")
    monkeypatch.syspath_prepend(str(run["root"]))
    from xpm_nb import load_xp_info

    info = load_xp_info(run["run"])
    assert set(info.jobs) == {run["train"], run["evaluate"]}
    for job_id, cfg in info.jobs.items():
        assert cfg.__identifier__().hex() == job_id
    evaluate = info.jobs[run["evaluate"]]
    assert evaluate.vocab.size == 100 and evaluate.checkpoint.seed == 3
    assert info.jobs[run["train"]].seed == 3
    assert info.jobs[run["train"]].__xpm__.tags == {"seed": 3}


MAIN_DRIVER = """
import sys
import time
from pathlib import Path
import xpm_nb
from xpm_nb import Param, Task


class Echo(Task):  # a class of __main__: shipped by value (classes.pkl)
    value: Param[int]

    def execute(self):
        pass


with xpm_nb.experiment(Path(sys.argv[1]), "main") as xp:
    Echo.C(value=xpm_nb.tag(5)).submit()
Path(sys.argv[2]).write_text(str(xp.run_path))
"""


def test_our_load_xp_info_reads_a_run_of_main_classes(tmp_path):
    """Classes of a script's (or notebook's) ``__main__`` cannot be imported from
    ``objects.jsonl`` in another process: the job folders (``classes.pkl``) are read."""
    (tmp_path / "driver.py").write_text(MAIN_DRIVER)
    run_script(tmp_path / "driver.py", tmp_path / "ws", tmp_path / "run.txt", package="xpm_nb")
    run = Path((tmp_path / "run.txt").read_text())
    assert (run / "objects.jsonl").read_text().count("\n") == 1
    from xpm_nb import load_xp_info

    [config] = load_xp_info(run).jobs.values()
    assert type(config).__qualname__.startswith("Echo") and config.value == 5


def test_burst_of_jobs_written_while_the_experiment_stays_open(workdir):
    """A notebook's open experiment: a burst of submissions is in objects.jsonl soon
    after (coalesced rewrites), without closing; each rewrite is whole lines."""
    from xpm_nb import Param, Task, experiment
    from xpm_nb.scheduler.workspace import RunMode

    class Burst(Task):
        x: Param[int]

    xp = experiment(workdir, "burst", run_mode=RunMode.GENERATE_ONLY)
    try:
        ids = {Burst.C(x=i).submit().__xpm__.job.identifier for i in range(40)}
        xp.wait()
        path = xp.run_path / "objects.jsonl"
        def complete() -> str:
            text = path.read_text()
            assert text == "" or text.endswith("\n")  # never a torn line, at any time
            return text if len(text.splitlines()) == 40 else ""

        text = wait_until(complete, 10, "the 40 objects in objects.jsonl", step=0.05)
        assert {json.loads(line)["identifier"] for line in text.splitlines()} == ids
    finally:
        xp.close()
