"""Fixtures of the SLURM tests: job processes import slurm_tasks; a launcher on the test cluster."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    # Job processes (run by SLURM, which passes our environment on) import slurm_tasks.
    monkeypatch.setenv("PYTHONPATH", f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


@pytest.fixture
def launcher(slurm_cluster):
    """A SlurmLauncher on the test cluster, polling every half second, one ``sbatch``
    per job submitted once its dependencies ended (the path without arrays)."""
    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

    return SlurmLauncher(options=SlurmOptions(partition="debug"), interval=0.5,
                         launcherenv={"SLURM_CONF": str(slurm_cluster.conf_path)},
                         arrays=False, dependencies=False)


@pytest.fixture
def array_launcher(slurm_cluster):
    """The default SlurmLauncher (job arrays, dependencies handed to SLURM) on the
    test cluster, polling every half second."""
    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

    return SlurmLauncher(options=SlurmOptions(partition="debug"), interval=0.5,
                         launcherenv={"SLURM_CONF": str(slurm_cluster.conf_path)})
