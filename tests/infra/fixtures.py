"""Session-scoped pytest fixtures for the real components.

Registered for the whole suite by ``pytest_plugins = ["infra.fixtures"]`` in
``tests/conftest.py``. Where a component is not installed the test is skipped
(and fails in CI, see ``conftest.need``).

- ``slurm_cluster``: one :class:`infra.slurm.SlurmCluster` for the session.
  Tests share it: submit with ``env=slurm_cluster.env`` and work in their own
  ``tmp_path``; do not rely on job ids or on an empty queue.
- ``sshd_server``: one :class:`infra.sshd.SshServer` for the session. A test
  that stops or pauses it must leave it running (``start()``/``resume()``) —
  or use ``SshServer`` directly for a server of its own.
"""

from __future__ import annotations

import pytest

from support.integration import need

from .slurm import SlurmCluster, slurm_available
from .sshd import SshServer, sshd_available

# Seconds each fixture took to start (read by the self-tests; handy when profiling).
STARTUP: dict[str, float] = {}


@pytest.fixture(scope="session")
def slurm_cluster():
    ok, reason = slurm_available()
    need(ok, reason)
    # Installed but failing to start is a bug: the error (with the daemon logs) propagates.
    cluster = SlurmCluster().start()
    STARTUP["slurm_cluster"] = cluster.startup_seconds
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sshd_server():
    ok, reason = sshd_available()
    need(ok, reason)
    server = SshServer().start()
    STARTUP["sshd_server"] = server.startup_seconds
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sshd_running(sshd_server):
    """The session's sshd, guaranteed started and not paused after the test."""
    yield sshd_server
    sshd_server.resume()
    if not sshd_server.running():
        sshd_server.start()
