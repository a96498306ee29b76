"""``SubmitHook``: applied to every job of a decorated task, once per ``spec()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.paths import tasks_importable
from xpm_nb import experiment

_importable = tasks_importable(__file__)  # tasks: here and in the job processes
from hooktasks import SetEnv, ShowEnv, ShowEnvMore  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_calls():
    SetEnv.calls.clear()


def test_hooks_set_the_job_environment(workdir):
    with experiment(workdir, "hooks"):
        a = ShowEnv.C(x=1).submit()
        b = ShowEnvMore.C(x=2).submit()
    assert Path(a.out).read_text() == "from-a from-b -"
    assert Path(b.out).read_text() == "from-a from-b from-c"
    applied = sorted(name for name, _ in SetEnv.calls)
    # ShowEnv: A and B once each (the duplicate A is the same spec); ShowEnvMore: A, B, C.
    assert applied == ["XPM_HOOK_A", "XPM_HOOK_A", "XPM_HOOK_B", "XPM_HOOK_B", "XPM_HOOK_C"]


def test_hook_identity_is_its_spec():
    assert SetEnv("X", "1") == SetEnv("X", "1")
    assert hash(SetEnv("X", "1")) == hash(SetEnv("X", "1"))
    assert SetEnv("X", "1") != SetEnv("X", "2")
    assert len({SetEnv("X", "1"), SetEnv("X", "1"), SetEnv("Y", "1")}) == 2


def test_hooks_do_not_change_the_identifier():
    class Plain(ShowEnv):
        pass

    assert ShowEnv.C(x=3).__identifier__() == ShowEnv.C(x=3).__identifier__()
    assert len(ShowEnv.__xpm_submit_hooks__) == 2


def test_hook_on_one_configuration(workdir):
    """A hook added to one configuration's ``__xpm__.submit_hooks`` applies to its job only."""
    with experiment(workdir, "one"):
        task = ShowEnv.C(x=5)
        task.__xpm__.submit_hooks.append(SetEnv("XPM_HOOK_C", "only-here"))
        task.submit()
        other = ShowEnv.C(x=6).submit()
    assert Path(task.out).read_text() == "from-a from-b only-here"
    assert Path(other.out).read_text() == "from-a from-b -"
