import pytest

from support.ecovenv import eco_python
from support.integration import need


@pytest.fixture(scope="session")
def eco() -> str:
    """The python of the ecosystem venv (datamaestro, xpm-mlboard, the reference)."""
    python = eco_python()
    need(python is not None, "ecosystem venv (datamaestro, xpm-mlboard from PyPI) unavailable")
    return str(python)
