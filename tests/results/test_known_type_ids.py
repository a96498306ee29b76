"""Task classes are known to ``results()`` under the type id their jobs record,
whatever way ``__xpmid__`` is given (a string, an ``Identifier``, a classmethod)."""

from __future__ import annotations

from xpm_nb import Identifier, Task
from xpm_nb.results.taskresults import _known_classes


class ByString(Task):
    __xpmid__ = "tests.Known.ByString"

    def execute(self):
        pass


class ByIdentifier(Task):
    __xpmid__ = Identifier("tests").known.by_identifier

    def execute(self):
        pass


class ByMethod(Task):
    @classmethod
    def __xpmid__(cls):
        return "tests.known.by_method"

    def execute(self):
        pass


def test_task_classes_are_known_by_their_job_type_id():
    known = _known_classes()
    assert known["tests.known.bystring"] is ByString
    assert known["tests.known.by_identifier"] is ByIdentifier
    assert known["tests.known.by_method"] is ByMethod
    for cls in (ByString, ByIdentifier, ByMethod):
        assert known[cls.__xpmtype__.identifier.lower()] is cls
