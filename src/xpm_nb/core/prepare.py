"""Running the preparation that ``Prepare`` configurations declare.

A task whose parameters hold a ``Prepare`` configuration gets it prepared in
the driver before it runs (``scheduler.py``), and only if it has to run (a
done job needs nothing). Each preparation runs once per identifier in this
process (two equal configurations share one run), skipped when the
configuration's own ``is_prepared()`` says so; with ``RunMode.PREPARE``,
``submit()`` runs the preparations at once and no task (``submit.py``).
"""

from __future__ import annotations

import threading

from .arguments import Param
from .objects import ConfigMixin, Prepare, ResumableTask
from .walk import iter_children

__all__ = ["Preparation", "PrepareTask", "collect_prepares", "checks_itself"]


class PrepareTask(ResumableTask):
    """Runs a ``Prepare`` configuration's ``prepare()`` as a job (``prep.submit()``).

    Resumable: a preparation stopped by a time limit starts again where its
    work left it. Its ``.done`` only caches ``target.is_prepared()``, which is
    the truth (the work is written outside the job folder).
    """

    __xpmid__ = "experimaestro.prepare"  # the reference's type id

    target: Param[Prepare]

    def __xpm_output_valid__(self) -> bool:
        return bool(self.target.is_prepared())

    def execute(self) -> None:
        # Asked again here: another experiment may have prepared it meanwhile.
        if not self.target.is_prepared():
            self.target.prepare()


def checks_itself(config) -> bool:
    """Whether the class of a Prepare configuration implements ``is_prepared()``."""
    return type(config).__xpmtype__.value_type.is_prepared is not Prepare.is_prepared


def collect_prepares(task) -> list:
    """The ``Prepare`` configurations in the parameters of ``task`` (nested
    ones too), each object once; the parameters of other submitted tasks and of
    their outputs are theirs to prepare."""
    found: list = []
    seen: set[int] = set()
    if isinstance(task, PrepareTask):
        seen.add(id(task.target))  # prepared by the job itself

    def visit(config) -> None:
        if id(config) in seen:
            return
        seen.add(id(config))
        if isinstance(config, Prepare):
            found.append(config)
        info = config.__xpm__
        if config is not task and (info.task is not None or info.job is not None):
            return
        d = config.__dict__
        for name in config.__xpmtype__.arguments:
            if d.get(name) is not None:
                for _, child in iter_children(d[name]):
                    visit(child)

    visit(task)
    return found


class Preparation:
    """The one run of ``prepare()`` for the configurations of one identifier."""

    _registry: dict[str, Preparation] = {}
    _registry_lock = threading.Lock()

    def __init__(self, config):
        self.config = config
        self.done = False
        self.job = None  # the PrepareTask job, when the configuration was submitted
        self._lock = threading.Lock()

    @classmethod
    def for_config(cls, config) -> Preparation:
        key = config.__identifier__().hex()
        with cls._registry_lock:
            found = cls._registry.get(key)
            if found is None:
                found = cls._registry[key] = cls(config)
            return found

    @classmethod
    def reset(cls) -> None:
        """Forget what was prepared (the next task using it prepares it again)."""
        with cls._registry_lock:
            cls._registry.clear()

    def ensure(self) -> None:
        """Prepare once (blocking: called off the scheduler's loop); concurrent
        callers wait for the first; a failure is raised and tried again next time."""
        with self._lock:
            if self.done:
                return
            if not self._is_prepared():
                self.config.prepare()
            self.done = True

    def _is_prepared(self) -> bool:
        # Asked only when the class answers it (Prepare's own raises).
        return checks_itself(self.config) and bool(self.config.is_prepared())

    def __repr__(self) -> str:
        cls = type(self.config).__xpmtype__.cls.__qualname__
        return f"prepare[{cls} {self.config.__identifier__().hex()[:8]}]"


def _owner(config: ConfigMixin) -> str:
    return type(config).__xpmtype__.cls.__qualname__


def prepare_error(preparation: Preparation, exc: BaseException) -> str:
    """The failure reason of a task whose preparation failed."""
    return f"prepare() of {_owner(preparation.config)} failed: {type(exc).__name__}: {exc}"
