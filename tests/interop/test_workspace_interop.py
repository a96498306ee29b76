"""One workspace shared by xpm_nb and the reference (experimaestro 2.7.0).

The same experiment script (``DRIVER``, over the tasks of ``TASKS``: a
dependency through a task output, tags, a list parameter, a nested config) is
run by both packages into ONE workspace, in both orders, each in its own
process (the reference with the python of its own virtual environment):

- both give the same job folders ``jobs/<task id>/<hex id>/``;
- the second run finds the first one's jobs done and runs none of them again
  (every task execution appends a line to a marker file, naming the package);
- each package reads the other's ``params.json`` back to the same
  configuration (the reference with ``from_task_dir``);
- both record the same tags per job in the run's ``jobs.jsonl``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from support.integration import need
from support.refvenv import ref_python, run_script

pytestmark = pytest.mark.interop

OURS, REF = "xpm_nb", "experimaestro"
XP_NAME = "interop"

# The tasks (module ``interop_pkg.tasks``), importable by both packages and by
# their job processes: the package is chosen by XPM_INTEROP_PKG, so type ids
# (``interop_pkg.tasks.train``) and identifiers do not depend on it. A package
# rather than a top-level module: for a top-level module the reference writes
# ``"file"`` in params.json, and its ``from_task_dir`` then re-executes that file
# once per object, so a nested config fails its own type check ("Encoder is not
# a subtype of Encoder") even on the reference's own job folders.
TASKS = '''
"""Tasks of the workspace interop test (package from XPM_INTEROP_PKG)."""
import importlib
import os
from pathlib import Path

pkg = importlib.import_module(os.environ["XPM_INTEROP_PKG"])
Config, Task, Param, Meta = pkg.Config, pkg.Task, pkg.Param, pkg.Meta
field, PathGenerator = pkg.field, pkg.PathGenerator


def mark_run(log, line):
    """Append one line per execution: counts runs, says who ran it."""
    with open(log, "a") as f:
        f.write(f"{line} {os.environ['XPM_INTEROP_PKG']}\\n")


class Encoder(Config):
    hidden: Param[int]
    layers: Param[list[int]]


class Model(Config):
    encoder: Param[Encoder]
    dropout: Param[float] = field(default=0.1)


class Checkpoint(Config):
    model: Param[Model]
    seed: Param[int]


class Train(Task):
    model: Param[Model]
    seed: Param[int]
    lr: Param[float]
    log: Meta[Path]
    out: Meta[Path] = field(default_factory=PathGenerator("model.txt"))

    def task_outputs(self, dep):
        return dep(Checkpoint.C(model=self.model, seed=self.seed))

    def execute(self):
        mark_run(self.log, f"train {self.seed}")
        enc = self.model.encoder
        self.out.write_text(f"{enc.hidden} {enc.layers}")


class Evaluate(Task):
    checkpoint: Param[Checkpoint]
    metrics: Param[list[str]]
    log: Meta[Path]

    def execute(self):
        mark_run(self.log, f"evaluate {self.checkpoint.seed}")
'''

# The experiment script: two seeds, each a Train and an Evaluate of its output.
DRIVER = """
import importlib, json, os, sys
from pathlib import Path

pkg = importlib.import_module(os.environ["XPM_INTEROP_PKG"])
from interop_pkg import tasks as t

ws, name, log, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
tasks = {}
with pkg.experiment(ws, name) as xp:
    for seed in (1, 2):
        encoder = t.Encoder.C(hidden=pkg.tag(16 * seed), layers=[seed, 3])
        train = t.Train.C(model=t.Model.C(encoder=encoder), seed=pkg.tag(seed), lr=1e-3, log=log)
        checkpoint = train.submit()
        evaluate = t.Evaluate.C(checkpoint=checkpoint, metrics=["acc", "f1"], log=log)
        evaluate.submit()
        tasks[f"train{seed}"], tasks[f"evaluate{seed}"] = train, evaluate

def state_name(state):
    value = getattr(state, "value", None)
    return (value if isinstance(value, str) else state.name).lower()

result = {}
for name, task in tasks.items():
    job = task.__xpm__.job
    result[name] = {
        "path": Path(job.path).relative_to(ws).as_posix(),
        "identifier": task.__identifier__().all.hex(),
        "state": state_name(job.state),
    }
out.write_text(json.dumps(result))
"""

# Reads job folders back with one package: {folder: what the config holds}.
READBACK = """
import json, os, sys
from pathlib import Path

if os.environ["XPM_INTEROP_PKG"] == "experimaestro":
    from experimaestro import from_task_dir as load
else:
    from xpm_nb.core.params import read_params as load

result = {}
for folder in sys.argv[2:]:
    cfg = load(Path(folder))
    got = {"class": type(cfg).__qualname__, "identifier": cfg.__identifier__().all.hex()}
    if hasattr(cfg, "model"):
        enc = cfg.model.encoder
        got.update(seed=cfg.seed, lr=cfg.lr, hidden=enc.hidden, layers=list(enc.layers),
                   dropout=cfg.model.dropout, out=str(cfg.out))
    else:
        ck = cfg.checkpoint
        got.update(metrics=list(cfg.metrics), seed=ck.seed, layers=list(ck.model.encoder.layers))
    result[folder] = got
Path(sys.argv[1]).write_text(json.dumps(result))
"""


@pytest.fixture(scope="module")
def ref_py() -> str:
    python = ref_python()
    need(python is not None, "reference venv (experimaestro 2.7.0) unavailable")
    return str(python)


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("interop-scripts")
    package = folder / "interop_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(TASKS)
    (folder / "driver.py").write_text(DRIVER)
    (folder / "readback.py").write_text(READBACK)
    return folder


def _run(package: str, ref_py: str, scripts: Path, script: str, *args) -> None:
    """Run one of the scripts with ``package``, in its own environment."""
    run_script(scripts / script, *args, package=package, path=[scripts], cwd=scripts)


def _scenario(first: str, second: str, ref_py: str, scripts: Path, root: Path) -> dict:
    """Run the driver with ``first`` then ``second`` on one fresh workspace."""
    ws, log = root / "ws", root / "runs.log"
    results = {}
    for i, package in enumerate((first, second)):
        out = root / f"{i}-{package}.json"
        _run(package, ref_py, scripts, "driver.py", ws, XP_NAME, log, out)
        results[package] = json.loads(out.read_text())
        results[f"log after {package}"] = log.read_text().splitlines() if log.exists() else []
    return {"ws": ws, "log": log, "first": first, "second": second, **results}


@pytest.fixture(scope="module")
def ref_then_ours(ref_py, scripts, tmp_path_factory) -> dict:
    return _scenario(REF, OURS, ref_py, scripts, tmp_path_factory.mktemp("ref-then-ours"))


@pytest.fixture(scope="module")
def ours_then_ref(ref_py, scripts, tmp_path_factory) -> dict:
    return _scenario(OURS, REF, ref_py, scripts, tmp_path_factory.mktemp("ours-then-ref"))


@pytest.fixture(params=["ref_then_ours", "ours_then_ref"])
def scenario(request) -> dict:
    return request.getfixturevalue(request.param)


EXPECTED_RUNS = ["train 1", "train 2", "evaluate 1", "evaluate 2"]


def _runs(lines: list[str]) -> list[tuple[str, str]]:
    """(task line, package) of each execution."""
    return [tuple(line.rsplit(" ", 1)) for line in lines]


class TestSharedWorkspace:
    def test_same_job_folders(self, scenario):
        """Both packages put each job in the same jobs/<task id>/<hex id>/ folder."""
        ours, ref = scenario[OURS], scenario[REF]
        assert set(ours) == set(ref) == {"train1", "train2", "evaluate1", "evaluate2"}
        for name in ours:
            assert ours[name]["path"] == ref[name]["path"], name
            assert ours[name]["identifier"] == ref[name]["identifier"], name
            task_id = "interop_pkg.tasks." + name.rstrip("12")
            assert ours[name]["path"] == f"jobs/{task_id}/{ours[name]['identifier']}"
            folder = scenario["ws"] / ours[name]["path"]
            assert (folder / "params.json").is_file()
            assert (folder / f"{name.rstrip('12')}.done").is_file()
        assert len({v["path"] for v in ours.values()}) == 4

    def test_first_package_runs_every_job_once(self, scenario):
        """The first run executes the four jobs, dependencies before their users."""
        first = scenario["first"]
        runs = _runs(scenario[f"log after {first}"])
        assert sorted(line for line, _ in runs) == sorted(EXPECTED_RUNS)
        assert {pkg for _, pkg in runs} == {first}
        order = [line for line, _ in runs]
        for seed in (1, 2):
            assert order.index(f"train {seed}") < order.index(f"evaluate {seed}")
        assert all(job["state"] == "done" for job in scenario[first].values())

    def test_second_package_reruns_nothing(self, scenario):
        """The second run finds the first one's jobs done: no execution, all done."""
        first, second = scenario["first"], scenario["second"]
        assert scenario[f"log after {second}"] == scenario[f"log after {first}"], (
            f"{second} re-ran jobs that {first} had finished"
        )
        states = {name: job["state"] for name, job in scenario[second].items()}
        assert set(states.values()) == {"done"}, states

    def test_same_tags_in_jobs_jsonl(self, scenario):
        """Each run records the same job ids, task ids and tags in its jobs.jsonl."""
        xp = scenario["ws"] / "experiments" / XP_NAME
        runs = sorted(p for p in xp.iterdir() if p.is_dir() and not p.is_symlink())
        assert len(runs) == 2, runs
        tables = []
        for run in runs:
            lines = [json.loads(x) for x in (run / "jobs.jsonl").read_text().splitlines()]
            tables.append({x["job_id"]: (x["task_id"], x["tags"]) for x in lines})
        assert tables[0] == tables[1]
        by_id = {job["identifier"]: name for name, job in scenario[OURS].items()}
        for job_id, (task_id, tags) in tables[0].items():
            seed = int(by_id[job_id][-1])
            assert tags == {"seed": seed, "hidden": 16 * seed}
            assert task_id == "interop_pkg.tasks." + by_id[job_id][:-1]


class TestParamsRoundTrip:
    @pytest.fixture(scope="class")
    def readbacks(self, ref_then_ours, ours_then_ref, ref_py, scripts, tmp_path_factory):
        """Every job folder (written by either package) read back by both packages."""
        folders = [
            str(sc["ws"] / job["path"])
            for sc in (ref_then_ours, ours_then_ref)
            for job in sc[OURS].values()
        ]
        out = tmp_path_factory.mktemp("readback")
        got = {}
        for package in (OURS, REF):
            _run(package, ref_py, scripts, "readback.py", out / f"{package}.json", *folders)
            got[package] = json.loads((out / f"{package}.json").read_text())
        return got

    @pytest.mark.parametrize("writer", ["ref_then_ours", "ours_then_ref"])
    @pytest.mark.parametrize("reader", [OURS, REF])
    def test_params_read_back(self, readbacks, request, writer, reader):
        """params.json written by either package rebuilds the same config in both."""
        scenario = request.getfixturevalue(writer)
        for name, job in scenario[OURS].items():
            folder = scenario["ws"] / job["path"]
            got = readbacks[reader][str(folder)]
            seed = int(name[-1])
            assert got["identifier"] == job["identifier"] == folder.name
            assert got["seed"] == seed and got["layers"] == [seed, 3]
            if name.startswith("train"):
                assert got["class"].startswith("Train")
                assert (got["lr"], got["hidden"], got["dropout"]) == (1e-3, 16 * seed, 0.1)
                assert got["out"] == str(folder / "model.txt")
            else:
                assert got["metrics"] == ["acc", "f1"]

    def test_both_readers_agree(self, readbacks):
        assert readbacks[OURS] == readbacks[REF]


def test_file_modes_follow_umask_like_the_reference(ours_then_ref, ref_then_ours):
    """Job files we write (params.json, .done) get the same mode as the reference's."""

    def modes(scenario, name):
        folder = scenario["ws"] / scenario[OURS][name]["path"]
        return {f: stat.S_IMODE((folder / f).stat().st_mode) for f in ("params.json", "train.done")}

    assert modes(ours_then_ref, "train1") == modes(ref_then_ours, "train1")
