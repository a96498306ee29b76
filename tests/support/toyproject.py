"""The toy project in the shape of experimaestro's official demo (tests/ecosystem/toy_project),
run by the CLI or as a notebook: shared by ``tests/ecosystem`` (CLI, nbclient) and
``tests/lab`` (JupyterLab in Chromium).

Runs need the ecosystem venv's python (``support.ecovenv.eco_python``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.ecovenv import env

PROJECT = Path(__file__).resolve().parents[1] / "ecosystem" / "toy_project"


def run_toy(eco: str, standin: bool, root: Path, yaml: str = "params-ci.yaml") -> Path:
    """Run the YAML experiment with the ``experimaestro`` CLI (xpm_nb's if ``standin``,
    else the reference's); returns its workdir, ``root/xp``."""
    cmd = [eco, "-m", "experimaestro", "run-experiment", "--workdir", str(root / "xp"),
           "--xpm-config-dir", "xpm-config", "--no-db", yaml]
    log = root / "run.log"
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=PROJECT / "ci", stdout=out, stderr=subprocess.STDOUT,
                              env=env(standin, DATAMAESTRO_DIR=str(root / "dm")), timeout=600)
    assert proc.returncode == 0, log.read_text()[-6000:]
    return root / "xp"


def job_folders(workdir: Path) -> set[str]:
    """``task id/job id`` of every job folder of a workdir."""
    return {f"{p.parent.name}/{p.name}" for p in (workdir / "jobs").glob("*/*")}


def run_dir(workdir: Path, name: str = "toyxp_ci") -> Path:
    """The last run folder of experiment ``name``."""
    runs = sorted(p for p in (workdir / "experiments" / name).iterdir() if p.is_dir()
                  and p.name[0].isdigit())
    return runs[-1]


def analyze(eco: str, standin: bool, run: Path) -> dict:
    """The project's analysis (``toyxp.analyze``: ``load_xp_info``) of a finished run."""
    proc = subprocess.run([eco, "-m", "toyxp.analyze", str(run)], cwd=PROJECT,
                          env=env(standin), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: The notebook form of the YAML experiment (format with ``project`` and ``workdir``):
#: the same configurations, so the same job folders.
STANDIN_CELL = "import xpm_nb.compat  # from here on, `import experimaestro` is xpm_nb"
#: The project's cells, which import ``experimaestro`` (after :data:`STANDIN_CELL`, or in a
#: kernel started with ``XPM_NB_EXPERIMAESTRO=1``).
PROJECT_CELLS = [
    "import sys\nsys.path.insert(0, {project!r})\n"
    "from datamaestro import prepare_dataset\n"
    "from experimaestro import experiment, tag, RunMode\n"
    "from toyxp.data import ToyPoints\n"
    "from toyxp.learn import Evaluate, Learn, Linear",
    "xp = experiment({workdir!r}, 'toyxp_nb')\n"
    "points = prepare_dataset(ToyPoints)\n"
    "for lr in (1e-2, 1e-3):\n"
    "    model = Linear.C(init=tag(0.5))\n"
    "    learn = Learn.C(data=points.train, model=model, epochs=2, lr=tag(lr))\n"
    "    loader = learn.submit()\n"
    "    Evaluate.C(model=model, data=points.test).submit(init_tasks=[loader])",
    "xp.wait(check=True)\n"
    "import xpm_nb\n"
    "frame = xpm_nb.results(xp)\n"
    "print(sorted(frame.index.get_level_values('lr').dropna().unique()))",
]
NOTEBOOK_CELLS = [STANDIN_CELL, *PROJECT_CELLS]
