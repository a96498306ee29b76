"""Fixtures of the result-frame tests."""

from __future__ import annotations

import pytest

from support.integration import need  # noqa: F401
from support.paths import importable, pythonpath

HERE = importable(__file__)  # results_tasks, here and (below) in the job processes


@pytest.fixture(scope="module", autouse=True)
def _importable(tmp_path_factory):
    """Job processes import results_tasks; the disk cache of frames stays in tmp."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", pythonpath(HERE))
        mp.setenv("XPM_NB_CACHE_DIR", str(tmp_path_factory.mktemp("results-cache")))
        yield


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts without what an earlier one read."""
    from xpm_nb.results import clear_caches

    clear_caches()
    yield
    clear_caches()
