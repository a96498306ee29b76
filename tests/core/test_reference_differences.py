"""Behaviours where xpm_nb differed from experimaestro 2.7.0 (fixed).

- ``config.add_dependencies(...)`` returns the configuration (chaining);
- the tags of a task's init tasks are among the task's ``tags()``;
- a configuration whose ``Meta`` path was generated (``PathGenerator``) for one
  task is refused (``AttributeError``) by another task: when set as a field
  value, or when the task holding it is submitted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xpm_nb import Config, LightweightTask, Meta, Param, PathGenerator, Task, field, tag
from xpm_nb.core.context import JobContext


class RDModel(Config):
    x: Param[int]
    path: Meta[Path] = field(default_factory=PathGenerator("model.pt"))


class RDWrapper(Config):
    model: Param[RDModel]


class RDLearn(Task):
    model: Param[RDModel]

    def execute(self):
        pass


class RDEval(Task):
    model: Param[RDModel]
    k: Param[int] = 1

    def execute(self):
        pass


class RDEvalWrapped(Task):
    wrapper: Param[RDWrapper]

    def execute(self):
        pass


class RDInit(LightweightTask):
    a: Param[int]

    def execute(self):
        pass


def submit_like(task, jobpath: Path):
    """What submit() does to the configuration: mark it as a task, seal it in its job's context."""
    task.__xpm__.task = task
    task.__xpm__.seal(JobContext(jobpath, jobpath.parent))
    return task


class TestAddDependencies:
    def test_returns_the_config(self):
        task = RDLearn.C(model=RDModel.C(x=1))
        assert task.add_dependencies() is task

    def test_chaining(self):
        deps = [object(), object()]
        task = RDLearn.C(model=RDModel.C(x=1)).add_dependencies(deps[0]).add_dependencies(deps[1])
        assert task.__xpm__.dependencies == deps


class TestInitTaskTags:
    def test_init_task_tags_are_task_tags(self):
        # Reference: {'x': 3, 'a': 7} after submit(init_tasks=[Init.C(a=tag(7))])
        task = RDLearn.C(model=RDModel.C(x=tag(3)))
        task.__xpm__.init_tasks = [RDInit.C(a=tag(7))]
        assert task.tags() == {"x": 3, "a": 7}

    def test_output_carries_init_task_tags(self):
        task = RDLearn.C(model=RDModel.C(x=1))
        task.__xpm__.init_tasks = [RDInit.C(a=tag(7))]
        model = task.model
        model.__xpm__.task = task  # what submit() does to the outputs
        assert model.tags() == {"a": 7}


class TestGeneratedValuesReused:
    def test_refused_when_set(self, tmp_path):
        model = RDModel.C(x=1)
        submit_like(RDLearn.C(model=model), tmp_path / "learn")
        assert tmp_path / "learn" in model.path.parents
        with pytest.raises(AttributeError, match=r"RDEval\.model.*model\.path.*RDLearn.*Fix"):
            RDEval.C(model=model)
        task = RDEval.C()
        with pytest.raises(AttributeError, match=r"RDEval\.model"):
            task.model = model
        with pytest.raises(AttributeError, match=r"RDWrapper\.model.*model\.path"):
            RDWrapper.C(model=model)

    def test_refused_at_submit(self, tmp_path):
        model = RDModel.C(x=1)
        early = RDEval.C(model=model)  # built before the path was generated
        wrapped = RDEvalWrapped.C(wrapper=RDWrapper.C(model=model))
        submit_like(RDLearn.C(model=model), tmp_path / "learn")
        with pytest.raises(AttributeError, match=r"RDEval\.model.*model\.path.*RDLearn"):
            submit_like(early, tmp_path / "eval")
        with pytest.raises(AttributeError, match=r"RDWrapper\.model.*model\.path"):
            submit_like(wrapped, tmp_path / "eval2")

    def test_accepted_cases(self, tmp_path):
        # A fresh configuration, and the same task sealed again in its own context.
        model = RDModel.C(x=1)
        learn = submit_like(RDLearn.C(model=model), tmp_path / "learn")
        submit_like(learn, tmp_path / "learn")
        other = submit_like(RDEval.C(model=RDModel.C(x=1)), tmp_path / "eval")
        assert other.model.path != model.path
        # A submitted task (its task is itself) may be used as a value.
        assert model.__xpm__.task is None
        # A model sealed without a job context has nothing generated.
        plain = RDModel.C(x=2)
        plain.seal()
        RDEval.C(model=plain)
