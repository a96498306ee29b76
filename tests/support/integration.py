"""Skip a test whose real component is missing, or fail it in CI.

Imported as ``from support.integration import need`` (not from ``conftest``:
several test folders have a ``conftest.py``, and the module name ``conftest``
is whichever was imported last).
"""

from __future__ import annotations

import os

import pytest

REQUIRE_INTEGRATION = os.environ.get("XPM_NB_REQUIRE_INTEGRATION") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (or, with ``XPM_NB_REQUIRE_INTEGRATION=1``, fail) when a real component is unavailable."""
    if condition:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"integration component missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)
