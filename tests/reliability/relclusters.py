"""Fixtures and helpers of the cluster faults (``test_rel_clusters.py``).

The real single-node SLURM cluster and the real sshd are the session fixtures
``slurm_cluster`` / ``sshd_running`` of ``tests/infra`` (registered by
``tests/conftest.py``); the helpers of ``tests/slurm`` and ``tests/ssh`` are
imported from there, not copied. Faults that change the cluster (controller
stopped, node down) are undone by context managers here, so that a failing
test leaves the shared cluster as it found it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for folder in (TESTS / "slurm", TESTS / "ssh"):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # slurm_helpers, ssh_helpers (after ours)

from slurm_helpers import (  # noqa: E402, F401 - re-exported
    busy_node,
    jobs_in,
    record_states,
    slurm_id,
    until,
)
from ssh_helpers import HERE as SSH_TESTS  # noqa: E402
from ssh_helpers import (  # noqa: E402, F401 - ssh_url re-exported
    make_connector,
    ssh_url,
)

from infra.slurm import NODE, _which  # noqa: E402
from support.waiting import wait_until  # noqa: E402


@pytest.fixture(name="slurm_launcher")
def slurm_launcher_fixture(slurm_cluster):
    """A SlurmLauncher on the test cluster, polling every half second.

    One ``sbatch`` per job, dependencies waited for by the driver: these
    scenarios follow one SLURM job per job folder (the ids the jobs' processes
    see, dependents never queued); arrays and SLURM-side dependencies go
    through the same failures in tests/slurm/test_slurm_arrays.py."""
    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

    return SlurmLauncher(options=SlurmOptions(partition="debug"), interval=0.5,
                         launcherenv={"SLURM_CONF": str(slurm_cluster.conf_path)},
                         arrays=False, dependencies=False)


class _Registered:
    """A connector to the test sshd, registered for ``ssh://xpmtest/...`` paths."""

    def __init__(self, server, **options):
        from xpm_nb.connectors.ssh import SshConnector

        path = os.pathsep.join([str(HERE), str(SSH_TESTS)])
        self.connector = make_connector(server, env={"PYTHONPATH": path}, **options)
        self.key = (self.connector.spec, ())
        self.previous = SshConnector._cache.get(self.key)
        SshConnector._cache[self.key] = self.connector

    def close(self) -> None:
        from xpm_nb.connectors.ssh import SshConnector

        if self.previous is None:
            SshConnector._cache.pop(self.key, None)
        else:
            SshConnector._cache[self.key] = self.previous
        self.connector.close()


def connector_to(server, **options):
    """A fresh connector (jobs import our tasks) that ``ssh://xpmtest/...`` paths use;
    ``connector.close_registered()`` closes and unregisters it."""
    registered = _Registered(server, **options)
    registered.connector.close_registered = registered.close
    return registered.connector


@pytest.fixture(name="ssh_connector")
def ssh_connector_fixture(sshd_running):
    """:func:`connector_to` the session's sshd, closed after the test."""
    c = connector_to(sshd_running)
    yield c
    c.close_registered()


def assert_nothing_running_on_disk(job) -> None:
    """A finished job's folder: no pid file, and its status file does not say running."""
    assert not job.paths.pid.exists(), f"{job.paths.pid} left behind"
    status = job.paths.meta / "status.json"
    if status.exists():
        assert json.loads(status.read_text()).get("state") != "running", status.read_text()


# --- the controller -----------------------------------------------------------------


def _controller_up(cluster) -> bool:
    r = cluster.run("scontrol", "ping", check=False, timeout=15)
    return r.returncode == 0 and "is UP" in r.stdout


def stop_slurmctld(cluster) -> None:
    """Stop the cluster's slurmctld (SIGTERM: it saves its state, as on a restart)."""
    proc = cluster._procs["slurmctld"]
    if proc.poll() is None:
        proc.terminate()
        proc.wait(15)


def start_slurmctld(cluster, timeout: float = 30) -> None:
    """Start slurmctld again (same state folder: it remembers its jobs); wait until it answers."""
    if cluster._procs["slurmctld"].poll() is not None:
        cluster._start_daemon("slurmctld", [_which("slurmctld"), "-D", "-i", "-f",
                                            str(cluster.conf_path)])
    wait_until(lambda: _controller_up(cluster), timeout, "slurmctld to come back", step=0.1)


@contextlib.contextmanager
def controller_down(cluster):
    """slurmctld stopped inside the block, started again after it, whatever happens."""
    stop_slurmctld(cluster)
    try:
        yield
    finally:
        start_slurmctld(cluster)


# --- the node -------------------------------------------------------------------------


def node_state(cluster) -> str:
    return cluster.run("sinfo", "-h", "-N", "-n", NODE, "-o", "%T").stdout.strip()


def restore_node(cluster, timeout: float = 30) -> None:
    """The node back in service (resumed if down or drained), jobs can start on it."""
    cluster.run("scontrol", "update", f"nodename={NODE}", "state=resume", check=False)
    seen = {"state": None}

    def in_service() -> bool:
        seen["state"] = node_state(cluster)
        return seen["state"].rstrip("*").startswith(("idle", "mixed", "allocated"))

    wait_until(in_service, timeout, lambda: f"node {NODE} back in service (it is {seen['state']})",
               step=0.1)


def node_down(cluster, reason: str = "xpm_nb-test") -> None:
    """Set the node DOWN (as an administrator, or slurmctld when a node stops answering)."""
    cluster.run("scontrol", "update", f"nodename={NODE}", "state=down", f"reason={reason}")


def shell(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A command run from outside xpm_nb (a user's shell), checked."""
    r = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stdout} {r.stderr}"
    return r
