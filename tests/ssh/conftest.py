"""Fixtures of the SSH tests (helpers in ``ssh_helpers.py``).

Test modules import helpers from ``ssh_helpers``, not from ``conftest``: this
file is the module ``conftest`` for the test folders collected after it, so it
also offers the root conftest's ``need`` (as ``tests/results/conftest.py`` does).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ssh_helpers import LocalAccessGuard, make_connector

from support.integration import need  # noqa: E402, F401


@pytest.fixture
def remote_root(tmp_path: Path) -> Path:
    """The folder playing the remote host's disk (tests may read it locally)."""
    root = tmp_path / "remote"
    root.mkdir()
    return root


@pytest.fixture
def guard(remote_root: Path):
    """Fails the test if the code under test touched ``remote_root`` locally."""
    g = LocalAccessGuard(remote_root)
    yield g
    g.check()


@pytest.fixture
def connector(sshd_running):
    """A fresh connector per test (closed after), registered for ``ssh://xpmtest`` URLs."""
    from xpm_nb.connectors.ssh import SshConnector

    c = make_connector(sshd_running)
    key = (c.spec, ())
    previous = SshConnector._cache.get(key)
    SshConnector._cache[key] = c  # SshConnector.get("xpmtest") / ssh:// paths find it
    yield c
    if previous is None:
        SshConnector._cache.pop(key, None)
    else:
        SshConnector._cache[key] = previous
    c.close()
