from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import copy_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the test experiment in a temporary folder."""
    return copy_project(tmp_path / "project")
