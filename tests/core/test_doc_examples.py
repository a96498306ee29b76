"""The code samples of the API reference run and behave as the reference says.

Sections: Core Classes, Type Annotations, Tagging, Utilities, Field
Definitions, Deprecation. Parts that need a running scheduler (``.submit()``)
are left out; the configuration parts are kept.
"""

import pickle
import time
from pathlib import Path

import pytest

from xpm_nb import (
    Config,
    ConfigMixin,
    Constant,
    DataPath,
    DependentMarker,
    InstanceConfig,
    LightweightTask,
    Meta,
    Param,
    ParameterGroup,
    Partial,
    PathGenerator,
    ResumableTask,
    TagDict,
    Task,
    cache,
    deprecate,
    field,
    initializer,
    param_group,
    partial,
    sealed_set,
    setmeta,
    tag,
    tags,
    tagspath,
)
from xpm_nb.core import taskglobals
from xpm_nb.core.context import JobContext
from xpm_nb.errors import ConstantFieldError, MissingFieldError


@pytest.fixture
def workspace(tmp_path):
    """A workspace for @cache, reset afterwards."""
    taskglobals.set_workspace(tmp_path)
    try:
        yield tmp_path
    finally:
        taskglobals.set_workspace(None)


@pytest.fixture
def job(tmp_path):
    """Job-process state (a job folder, a deadline), reset afterwards."""
    jobpath = tmp_path / "job"
    jobpath.mkdir()
    taskglobals.set_job(jobpath, tmp_path, deadline=time.time() + 3600)
    try:
        yield jobpath
    finally:
        taskglobals.set_job(None, None)


# --------------------------------------------------------------------------
# Core Classes
# --------------------------------------------------------------------------


class nn:  # noqa: N801 - stands in for torch.nn
    """A plain stand-in for torch.nn: Module is a mixin with its own __init__."""

    class Module:
        def __init__(self):
            self.training = True

    class Linear:
        def __init__(self, n_in, n_out):
            self.shape = (n_in, n_out)


class DocModel(Config):
    hidden_size: Param[int]


@DocModel.value_class()
class TorchModel(DocModel, nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(self.hidden_size, self.hidden_size)


class TestConfig:
    """Config: value_class, XPMConfig, XPMValue, __post_init__, register_task_output."""

    def test_value_class_example(self):
        """The value class is built by instance(), its __init__ seeing the fields."""
        config = DocModel.C(hidden_size=16)
        model = config.instance()
        assert isinstance(model, TorchModel)
        assert isinstance(model, nn.Module)
        assert model.training is True
        assert model.layer.shape == (16, 16)

    def test_value_class_avoids_resources_when_configuring(self):
        """Building the configuration does not run the value class's __init__."""
        config = DocModel.C(hidden_size=16)
        assert not isinstance(config, TorchModel)
        assert not hasattr(config, "layer")

    def test_xpmconfig_alias(self):
        """XPMConfig is the class of configuration objects (same as .C)."""
        assert DocModel.XPMConfig is DocModel.C
        assert isinstance(DocModel.XPMConfig(hidden_size=1), DocModel)

    def test_xpmvalue(self):
        """XPMValue is the class of value objects: the registered value class, else the class."""
        assert DocModel.XPMValue is TorchModel

        class Plain(Config):
            x: Param[int]

        assert Plain.XPMValue is Plain

    def test_post_init(self):
        """__post_init__ is called after __init__, with the properties set."""

        class WithPost(Config):
            size: Param[int]

            def __post_init__(self):
                self.double = 2 * self.size

        assert WithPost.C(size=3).instance().double == 6

    def test_register_task_output_outside_job(self):
        """register_task_output calls the method and returns its result."""

        class Checkpoint(Config):
            step: Param[int]

        class Learner(Task):
            def checkpoint(self, step: int):
                return Checkpoint.C(step=step)

        learner = Learner.C()
        out = learner.register_task_output(learner.checkpoint, 3)
        assert isinstance(out, Checkpoint) and out.step == 3

    def test_register_task_output_in_job(self, job):
        """Inside a job, register_task_output records the output for the callbacks."""

        class Checkpoint(Config):
            step: Param[int]

        class Learner(Task):
            def checkpoint(self, step: int):
                return Checkpoint.C(step=step)

        learner = Learner.C()
        learner.register_task_output(learner.checkpoint, 5)
        record = (job / ".experimaestro" / "task-outputs.jsonl").read_text()
        assert '"method": "checkpoint"' in record
        assert '"args": [5]' in record


class TestConfigMixin:
    """ConfigMixin: __validate__, dependencies, copy, instance, tags."""

    def test_validate(self):
        """__validate__ validates the values (when the configuration is sealed)."""

        class Range(Config):
            low: Param[int]
            high: Param[int]

            def __validate__(self):
                if self.low > self.high:
                    raise ValueError("low must be <= high")

        Range.C(low=1, high=2).seal()
        with pytest.raises(ValueError, match="low must be"):
            Range.C(low=3, high=2).seal()

    def test_add_and_copy_dependencies(self):
        """add_dependencies adds tokens; copy_dependencies copies another config's."""

        class T(Task):
            pass

        token_a, token_b = object(), object()
        a, b = T.C(), T.C()
        a.add_dependencies(token_a, token_b)
        b.copy_dependencies(a)
        assert a.__xpm__.dependencies == [token_a, token_b]
        assert b.__xpm__.dependencies == [token_a, token_b]

    def test_copy(self):
        """copy() returns a copy of this configuration, ignoring non-parameter attributes."""
        config = DocModel.C(hidden_size=4)
        config.note = "not a parameter"
        clone = config.copy()
        assert clone.hidden_size == 4
        assert clone is not config
        assert not hasattr(clone, "note")

    def test_instance_parameters(self):
        """instance(context, objects=..., keep=...) returns an instance with the current values."""

        class Leaf(Config):
            x: Param[int]

        class Root(Config):
            leaf: Param[Leaf]

        leaf = Leaf.C(x=1)
        objects = {}
        built_leaf = leaf.instance(None, objects=objects)
        root = Root.C(leaf=leaf).instance(None, objects=objects, keep=False)
        assert root.leaf is built_leaf  # past configurations are not re-created
        assert "__config__" not in root.__dict__
        assert Root.C(leaf=leaf).instance().__config__.leaf is leaf

    def test_tags_method(self):
        """tags() returns the tags of this object and below."""

        class Leaf(Config):
            x: Param[int]

        class Root(Config):
            leaf: Param[Leaf]
            y: Param[int]

        assert Root.C(leaf=Leaf.C(x=tag(1)), y=tag(2)).tags() == {"x": 1, "y": 2}


class TestTaskClasses:
    """Task, ResumableTask, LightweightTask."""

    def test_task_bases(self):
        """Task derives from LightweightTask, which derives from Config; ResumableTask from Task."""
        assert issubclass(Task, LightweightTask) and issubclass(LightweightTask, Config)
        assert issubclass(ResumableTask, Task)

    def test_watch_output(self):
        """watch_output(method, callback) sets up a callback on a task's outputs."""

        class Learner(Task):
            def checkpoint(self, step: int):
                return step

        seen = []
        learner = Learner.C()
        learner.watch_output(learner.checkpoint, seen.append)
        (watched,) = learner.__xpm__.watched_outputs
        assert watched.method_name == "checkpoint"
        assert watched.callback == seen.append

    def test_remaining_time_without_limit(self):
        """remaining_time() is None when there is no time limit (or no running task)."""

        class Long(ResumableTask):
            pass

        assert Long.C().remaining_time() is None

    def test_remaining_time_with_limit(self, job):
        """remaining_time() gives the seconds before the job's time limit."""

        class Long(ResumableTask):
            pass

        remaining = Long.C().instance().remaining_time()
        assert 3500 < remaining <= 3600

    def test_lightweight_task(self):
        """A LightweightTask is a configuration with an execute() method."""

        class Init(LightweightTask):
            seed: Param[int]

            def execute(self):
                self.done = True

        value = Init.C(seed=1).instance()
        value.execute()
        assert value.done


class SubModel(InstanceConfig):
    value: Param[int] = 100


class MainModel(Config):
    m1: Param[SubModel]
    m2: Param[SubModel]


class TestInstanceConfigDoctest:
    """The InstanceConfig doctest."""

    def test_doctest(self):
        """Shared and separate instances with the same parameters have different identifiers."""
        sm1 = SubModel.C()
        sm2 = SubModel.C()  # Same params, different instance

        # Shared instance (same object used twice)
        shared = MainModel.C(m1=sm1, m2=sm1)

        # Separate instances (different objects)
        separate = MainModel.C(m1=sm1, m2=sm2)

        # Different identifiers: shared vs separate
        assert shared.__identifier__() != separate.__identifier__()

    def test_reproducible(self):
        """The instance order follows traversal, so rebuilding gives the same identifiers."""

        def build():
            sm1, sm2 = SubModel.C(), SubModel.C()
            return MainModel.C(m1=sm1, m2=sm2).__identifier__()

        assert build() == build()

    def test_same_params_same_sub_identifier(self):
        """The two sub-models alone have the same identifier."""
        assert SubModel.C().__identifier__() == SubModel.C().__identifier__()


# --------------------------------------------------------------------------
# Type Annotations
# --------------------------------------------------------------------------


class TestAnnotations:
    """Param, Meta, Constant, DataPath, DependentMarker."""

    def test_param(self):
        """Param fields are in the identifier and must be set before sealing."""

        class C(Config):
            x: Param[int]

        assert C.C(x=1).__identifier__() != C.C(x=2).__identifier__()
        with pytest.raises(MissingFieldError):
            C.C().seal()

    def test_meta(self):
        """Meta fields are ignored in the identifier."""

        class C(Config):
            x: Param[int]
            workers: Meta[int] = field(default=1)

        assert C.C(x=1, workers=8).__identifier__() == C.C(x=1).__identifier__()

    def test_constant(self):
        """Constants have a default value and cannot be modified after creation."""

        class C(Config):
            version: Constant[str] = "1.0"

        c = C.C()
        assert c.version == "1.0"
        with pytest.raises(ConstantFieldError):
            c.version = "2.0"

    def test_constant_in_identifier(self):
        """Changing a Constant's declared value changes the identifier (it versions the class)."""

        class V1(Config):
            __xpmid__ = "test.doc.Versioned"
            version: Constant[str] = "1.0"

        class V2(Config):
            __xpmid__ = "test.doc.Versioned"
            version: Constant[str] = "2.0"

        assert V1.C().__identifier__() != V2.C().__identifier__()

    def test_datapath(self):
        """DataPath fields hold paths and are not part of the identifier."""

        class C(Config):
            x: Param[int]
            model_weights: DataPath

        c = C.C(x=1, model_weights="/data/weights.bin")
        assert c.model_weights == Path("/data/weights.bin")
        assert c.__identifier__() == C.C(x=1, model_weights="/elsewhere").__identifier__()
        assert C.__xpmtype__.arguments["model_weights"].is_data

    def test_dependent_marker(self):
        """task_outputs(dep) receives a marker; dep(config) returns the marked config."""

        class Out(Config):
            x: Param[int]

        class T(Task):
            def task_outputs(self, dep: DependentMarker):
                return dep(Out.C(x=1))

        task = T.C()

        def dep(config):
            config.__xpm__.task = task
            return config

        out = task.task_outputs(dep)
        assert out.__xpm__.task is task
        assert callable(dep)


# --------------------------------------------------------------------------
# Tagging
# --------------------------------------------------------------------------


class MyTask(Task):
    learning_rate: Param[float]
    batch_size: Param[int] = field(default=32)
    epochs: Param[int] = field(default=10)


class TestTagging:
    """tag, tags, tagspath."""

    def test_tag_example(self):
        """tag(0.001) tags learning_rate while keeping the original value."""
        task = MyTask.C(
            learning_rate=tag(0.001),  # Will appear in task tags
            batch_size=32,
        )
        assert task.learning_rate == 0.001
        assert tags(task) == {"learning_rate": 0.001}

    def test_tag_value_types(self):
        """Tag values may be str, int, float or bool."""
        for value in ("a", 1, 0.5, True):
            assert tag(value).value == value

    def test_tags_example(self):
        """tags(config) returns a TagDict of the tagged values."""
        config = MyTask.C(learning_rate=tag(0.001), epochs=tag(100))
        task_tags = tags(config)
        assert task_tags == {"learning_rate": 0.001, "epochs": 100}
        assert isinstance(task_tags, TagDict)

    def test_tags_nested(self):
        """tags() includes the tags of nested configurations."""

        class Optimizer(Config):
            learning_rate: Param[float]

        class Wrapper(Config):
            optimizer: Param[Optimizer]
            name: Param[str]

        config = Wrapper.C(optimizer=Optimizer.C(learning_rate=tag(0.1)), name=tag("w"))
        assert tags(config) == {"learning_rate": 0.1, "name": "w"}

    def test_tagspath_example(self):
        """tagspath sorts the tags and joins key=value with underscores."""
        config = MyTask.C(learning_rate=tag(0.001), epochs=tag(100))
        path = tagspath(config)
        assert path == "epochs=100_learning_rate=0.001"


# --------------------------------------------------------------------------
# Utilities
# --------------------------------------------------------------------------


class Model(Config):
    lr: Param[float]


class Ensemble(Config):
    model1: Param[Model]
    model2: Param[Model]


class SetEnsemble(Config):
    models: Param[set[Model]]


class TestSetmeta:
    """setmeta."""

    def test_example(self):
        """Marking model2 as meta removes it from the ensemble's identifier."""
        model1 = Model.C(lr=0.1)
        model2 = setmeta(Model.C(lr=0.2), True)
        ensemble = Ensemble.C(model1=model1, model2=model2)
        other = Ensemble.C(model1=Model.C(lr=0.1), model2=setmeta(Model.C(lr=0.9), True))
        assert ensemble.__identifier__() == other.__identifier__()

    def test_without_meta(self):
        """Without setmeta, model2 changes the identifier."""
        a = Ensemble.C(model1=Model.C(lr=0.1), model2=Model.C(lr=0.2))
        b = Ensemble.C(model1=Model.C(lr=0.1), model2=Model.C(lr=0.9))
        assert a.__identifier__() != b.__identifier__()

    def test_returns_same_config(self):
        """setmeta returns the same configuration (for chaining)."""
        model = Model.C(lr=0.1)
        assert setmeta(model, True) is model
        assert setmeta(model, False) is model

    def test_false_includes(self):
        """setmeta(config, False) includes a config given to a Meta field."""

        class WithMeta(Config):
            main: Param[Model]
            extra: Meta[Model]

        a = WithMeta.C(main=Model.C(lr=0.1), extra=setmeta(Model.C(lr=0.2), False))
        b = WithMeta.C(main=Model.C(lr=0.1), extra=setmeta(Model.C(lr=0.3), False))
        c = WithMeta.C(main=Model.C(lr=0.1), extra=Model.C(lr=0.3))
        d = WithMeta.C(main=Model.C(lr=0.1), extra=Model.C(lr=0.4))
        assert a.__identifier__() != b.__identifier__()
        assert c.__identifier__() == d.__identifier__()


class TestSealedSet:
    """sealed_set."""

    def test_example(self):
        """sealed_set makes configs hashable, so they can go in a set parameter."""
        model1 = Model.C(lr=0.01)
        model2 = Model.C(lr=0.02)
        ensemble = SetEnsemble.C(models=sealed_set(model1, model2))
        assert ensemble.models == {model1, model2}
        assert model1.__xpm__.sealed and model2.__xpm__.sealed

    def test_order_independent(self):
        """The set parameter gives the same identifier whatever the order."""
        a = SetEnsemble.C(models=sealed_set(Model.C(lr=0.01), Model.C(lr=0.02)))
        b = SetEnsemble.C(models=sealed_set(Model.C(lr=0.02), Model.C(lr=0.01)))
        assert a.__identifier__() == b.__identifier__()

    def test_non_configs_pass_through(self):
        """Non-Config elements are passed through as they are."""
        assert sealed_set(1, "a", Model.C(lr=0.5)) >= {1, "a"}

    def test_unsealable_raises_type_error(self):
        """A config that cannot be sealed raises TypeError."""
        with pytest.raises(TypeError):
            sealed_set(Model.C())


def expensive_computation(path: Path):
    return path.read_text().upper()


COMPUTATIONS = []


class CachedConfig(Config):
    data_path: Param[Path]

    @cache("processed.pkl")
    def process(self, cache_path: Path):
        if cache_path.exists():
            return pickle.load(cache_path.open("rb"))
        COMPUTATIONS.append(self.data_path)
        result = expensive_computation(self.data_path)
        pickle.dump(result, cache_path.open("wb"))
        return result


class TestCache:
    """@cache."""

    def test_example(self, workspace, tmp_path):
        """The method result is cached on disk, keyed by the configuration identifier."""
        data = tmp_path / "input.txt"
        data.write_text("hello")
        config = CachedConfig.C(data_path=data)
        COMPUTATIONS.clear()
        assert config.process() == "HELLO"
        assert config.process() == "HELLO"
        assert COMPUTATIONS == [data]
        cached = workspace / "config" / config.__identifier__().hex() / "processed.pkl"
        assert cached.exists()
        assert pickle.loads(cached.read_bytes()) == "HELLO"

    def test_shared_across_objects(self, workspace, tmp_path):
        """Another object with the same identifier, even a value object, finds the cache."""
        data = tmp_path / "input.txt"
        data.write_text("abc")
        CachedConfig.C(data_path=data).process()
        COMPUTATIONS.clear()
        again = CachedConfig.C(data_path=data).instance()
        assert again.process() == "ABC"
        assert COMPUTATIONS == []

    def test_needs_workspace(self, tmp_path, monkeypatch):
        """Without a workspace, @cache says it needs one."""
        monkeypatch.delenv("XPM_NB_WORKSPACE", raising=False)
        taskglobals.set_workspace(None)
        with pytest.raises(RuntimeError, match="workspace"):
            CachedConfig.C(data_path=tmp_path).process()


def load_expensive_model():
    load_expensive_model.calls += 1
    return object()


load_expensive_model.calls = 0


class TestInitializer:
    """@initializer."""

    def test_example(self):
        """The method executes once; later calls return the cached result."""

        class MyConfig(Config):
            @initializer
            def model(self):
                return load_expensive_model()

        load_expensive_model.calls = 0
        config = MyConfig.C()
        first = config.model()
        assert config.model() is first
        assert load_expensive_model.calls == 1
        value = MyConfig.C().instance()
        assert value.model() is value.model()
        assert load_expensive_model.calls == 2


# --------------------------------------------------------------------------
# Field Definitions
# --------------------------------------------------------------------------

training_group = param_group("training")


class FabricConfig(Config):
    __xpmid__ = "test.doc.FabricConfig"
    size: Param[int] = field(default=1)


class FieldExample(Config):
    __xpmid__ = "test.doc.FieldExample"
    # Default always included in identifier
    count: Param[int] = field(default=10)

    # Factory default always included in identifier
    fabric: Param[FabricConfig] = field(default_factory=FabricConfig.C)

    # Default ignored in identifier when value == default
    threshold: Param[float] = field(default=0.5, ignore_default=True)

    # Generated path (Meta field, excluded from identifier)
    output: Meta[Path] = field(default_factory=PathGenerator("out.txt"))

    # Parameter in a group (for partial identifiers)
    lr: Param[float] = field(groups=[training_group])


class FieldExampleIgnored(Config):
    __xpmid__ = "test.doc.FieldExample"
    count: Param[int] = field(default=10)
    # Factory default ignored when value == default
    fabric: Param[FabricConfig] = field(default_factory=FabricConfig.C, ignore_default=True)
    threshold: Param[float] = field(default=0.5, ignore_default=True)
    output: Meta[Path] = field(default_factory=PathGenerator("out.txt"))
    lr: Param[float] = field(groups=[training_group])


class WithoutThreshold(Config):
    __xpmid__ = "test.doc.FieldExample"
    count: Param[int] = field(default=10)
    fabric: Param[FabricConfig] = field(default_factory=FabricConfig.C)
    lr: Param[float]


class WithoutFabric(Config):
    __xpmid__ = "test.doc.FieldExample"
    count: Param[int] = field(default=10)
    lr: Param[float]


class WithoutCount(Config):
    __xpmid__ = "test.doc.FieldExample"
    fabric: Param[FabricConfig] = field(default_factory=FabricConfig.C)
    lr: Param[float]


class TestFieldExample:
    """field(): default, default_factory, ignore_default, generated paths, groups."""

    def test_defaults_set(self):
        """Defaults and factory defaults are set at construction."""
        c = FieldExample.C(lr=0.1)
        assert c.count == 10
        assert isinstance(c.fabric, FabricConfig) and c.fabric.size == 1
        assert c.threshold == 0.5
        assert FieldExample.C(lr=0.1).fabric is not c.fabric

    def test_default_always_included(self):
        """count (field(default=10)) is in the identifier even when left at its default."""
        c = FieldExample.C(lr=0.1)
        assert c.__identifier__() == FieldExample.C(lr=0.1, count=10).__identifier__()
        assert c.__identifier__() != WithoutCount.C(lr=0.1).__identifier__()

    def test_factory_default_always_included(self):
        """fabric (default_factory) is in the identifier, implicit or explicit."""
        c = FieldExample.C(lr=0.1)
        assert (
            c.__identifier__() == FieldExample.C(lr=0.1, fabric=FabricConfig.C()).__identifier__()
        )

    def test_ignore_default(self):
        """threshold at its default is left out; another value is included."""
        assert (
            FieldExample.C(lr=0.1).__identifier__() == WithoutThreshold.C(lr=0.1).__identifier__()
        )
        assert (
            FieldExample.C(lr=0.1, threshold=0.7).__identifier__()
            != WithoutThreshold.C(lr=0.1).__identifier__()
        )

    def test_factory_ignore_default(self):
        """A factory default with ignore_default=True is left out when equal."""
        ignored = FieldExampleIgnored.C(lr=0.1)
        assert ignored.__identifier__() == WithoutFabric.C(lr=0.1).__identifier__()
        changed = FieldExampleIgnored.C(lr=0.1, fabric=FabricConfig.C(size=2))
        assert changed.__identifier__() != WithoutFabric.C(lr=0.1).__identifier__()

    def test_generated_path(self, tmp_path):
        """The generated output path is in the job folder and not in the identifier."""
        c = FieldExample.C(lr=0.1)
        before = c.__identifier__()
        c.__xpm__.seal(JobContext(tmp_path / "job"))
        assert c.output == tmp_path / "job" / "out.txt"
        assert c.__identifier__() == before

    def test_group(self):
        """lr belongs to the training group."""
        assert FieldExample.__xpmtype__.arguments["lr"].groups == {training_group}
        assert FieldExample.__xpmtype__.arguments["count"].groups == set()

    def test_legacy_ignore_default_value(self):
        """field(ignore_default=value) is the legacy spelling of default=value, ignore_default=True."""

        class Legacy(Config):
            __xpmid__ = "test.doc.Legacy"
            x: Param[int]
            threshold: Param[float] = field(ignore_default=0.5)

        class Twin(Config):
            __xpmid__ = "test.doc.Legacy"
            x: Param[int]

        assert Legacy.C(x=1).threshold == 0.5
        assert Legacy.C(x=1).__identifier__() == Twin.C(x=1).__identifier__()


class TestParamGroup:
    """param_group."""

    def test_example(self):
        """param_group creates a named ParameterGroup usable in field(groups=...)."""
        group = param_group("training")

        class MyGroupTask(Task):
            model_size: Param[int]
            learning_rate: Param[float] = field(groups=[group])

        assert isinstance(group, ParameterGroup) and group.name == "training"
        assert MyGroupTask.__xpmtype__.arguments["learning_rate"].groups == {group}

    def test_empty_name_refused(self):
        """A group needs a non-empty name."""
        with pytest.raises(ValueError):
            param_group("")


class PartialModel(Config):
    size: Param[int]


class PartialTrain(Task):
    model: Param[PartialModel]
    epochs: Param[int] = field(groups=[training_group])

    checkpoint: Meta[Path] = field(
        default_factory=PathGenerator("model.pt", partial=partial(exclude_groups=[training_group]))
    )


class AliasTrain(Task):
    epochs: Param[int] = field(groups=[training_group])
    checkpoint: Meta[Path] = field(
        default_factory=PathGenerator("model.pt", partial=partial(exclude=[training_group]))
    )


class TestPartial:
    """partial and PathGenerator(partial=...)."""

    def test_partial_object(self):
        """partial() returns a Partial with the given options."""
        p = partial(exclude_groups=[training_group])
        assert isinstance(p, Partial)
        assert p.exclude_groups == {training_group}
        assert p.is_excluded({training_group})
        assert not p.is_excluded(set())

    def test_shared_checkpoint_directory(self, tmp_path):
        """Tasks differing only in training parameters share the checkpoint directory."""
        model = PartialModel.C(size=1)
        a = PartialTrain.C(model=model, epochs=10)
        b = PartialTrain.C(model=model, epochs=20)
        c = PartialTrain.C(model=PartialModel.C(size=2), epochs=10)
        for i, task in enumerate((a, b, c)):
            task.__xpm__.seal(JobContext(tmp_path / "jobs" / str(i), tmp_path))
        assert a.__identifier__() != b.__identifier__()
        assert a.checkpoint == b.checkpoint
        assert a.checkpoint != c.checkpoint
        assert a.checkpoint.name == "model.pt"
        assert (tmp_path / "partials") in a.checkpoint.parents
        partial_id = a.__xpm__.get_partial_identifier(partial(exclude_groups=[training_group]))
        assert a.checkpoint.parent.name == partial_id.hex()

    def test_exclude_alias(self, tmp_path):
        """partial(exclude=[...]), as spelled in the PathGenerator example, excludes the groups."""
        a, b = AliasTrain.C(epochs=1), AliasTrain.C(epochs=2)
        a.__xpm__.seal(JobContext(tmp_path / "a", tmp_path))
        b.__xpm__.seal(JobContext(tmp_path / "b", tmp_path))
        assert a.checkpoint == b.checkpoint

    def test_include_and_exclude_all(self):
        """include_groups overrides exclusion; exclude_all excludes everything else."""
        p = partial(exclude_all=True, include_groups=[training_group])
        assert not p.is_excluded({training_group})
        assert p.is_excluded(set())
        assert partial(exclude_no_group=True).is_excluded(set())


class GenTask(Task):
    output: Meta[Path] = field(default_factory=PathGenerator("results.json"))
    model: Meta[Path] = field(default_factory=PathGenerator("model.pt"))


class TestPathGenerator:
    """PathGenerator."""

    def test_example(self, tmp_path):
        """Generated paths are relative to the task's job folder."""
        task = GenTask.C()
        task.__xpm__.seal(JobContext(tmp_path / "job"))
        assert task.output == tmp_path / "job" / "results.json"
        assert task.model == tmp_path / "job" / "model.pt"

    def test_not_generated_without_context(self):
        """Sealing without a job context leaves generated paths unset (no job folder yet)."""
        task = GenTask.C().seal()
        with pytest.raises(AttributeError, match="not set"):
            _ = task.output

    def test_nested_config_paths(self, tmp_path):
        """A nested configuration's generated paths go below out/<field> in the job folder."""

        class GenInner(Config):
            output: Meta[Path] = field(default_factory=PathGenerator("results.json"))

        class Holder(Task):
            inner: Param[GenInner]

        holder = Holder.C(inner=GenInner.C())
        holder.__xpm__.seal(JobContext(tmp_path / "job"))
        assert holder.inner.output == tmp_path / "job" / "out" / "inner" / "results.json"

    def test_callable_path(self, tmp_path):
        """The path can be a function of (context, config)."""

        class Named(Task):
            name: Param[str]
            output: Meta[Path] = field(
                default_factory=PathGenerator(lambda context, config: Path(f"{config.name}.txt"))
            )

        task = Named.C(name="run")
        task.__xpm__.seal(JobContext(tmp_path / "job"))
        assert task.output == tmp_path / "job" / "run.txt"

    def test_isoutput(self):
        """A PathGenerator is a task output (it generates a path in the job folder)."""
        assert PathGenerator("x").isoutput()
        assert GenTask.__xpmtype__.arguments["output"].isoutput()

    def test_meta_factory_at_seal(self):
        """A plain default_factory on a Meta field is called at seal time."""
        calls = []

        class WithMetaFactory(Config):
            x: Param[int]
            scratch: Meta[list[int]] = field(default_factory=lambda: calls.append(1) or [])

        c = WithMetaFactory.C(x=1)
        assert calls == []
        c.seal()
        assert c.scratch == [] and calls == [1]


# --------------------------------------------------------------------------
# Deprecation
# --------------------------------------------------------------------------


class NewConfig(Config):
    values: Param[list[int]]


class TestDeprecate:
    """The four deprecate patterns."""

    def test_simple_deprecation(self):
        """Pattern 1: a deprecated subclass keeps working and has the new class's identifier."""

        @deprecate
        class OldConfig(NewConfig):
            pass

        old = OldConfig.C(values=[1])
        assert isinstance(old, NewConfig)
        assert old.__identifier__() == NewConfig.C(values=[1]).__identifier__()

    def test_deprecation_with_conversion(self):
        """Pattern 2: the identifier is computed from the converted configuration."""

        @deprecate(NewConfig)
        class OldConfig(Config):
            value: Param[int]

            def __convert__(self):
                return NewConfig.C(values=[self.value])

        old = OldConfig.C(value=3)
        assert isinstance(old, OldConfig)
        assert old.value == 3
        assert old.__identifier__() == NewConfig.C(values=[3]).__identifier__()

    def test_immediate_replacement(self):
        """Pattern 3: creating the deprecated class returns the converted instance."""

        @deprecate(NewConfig, replace=True)
        class OldConfig(Config):
            value: Param[int]

            def __convert__(self):
                return NewConfig.C(values=[self.value])

        new = OldConfig.C(value=3)
        assert isinstance(new, NewConfig) and not isinstance(new, OldConfig)
        assert new.values == [3]

    def test_deprecated_parameter(self):
        """Pattern 4: setting the deprecated parameter sets the new one."""

        class MyConfig(Config):
            new_param: Param[list[int]]

            @deprecate
            def old_param(self, value: int):
                self.new_param = [value]

        c = MyConfig.C(old_param=3)
        assert c.new_param == [3]
        assert c.__identifier__() == MyConfig.C(new_param=[3]).__identifier__()

    def test_twice_refused(self):
        """A class cannot be deprecated twice."""
        from xpm_nb.errors import DeclarationError

        @deprecate
        class OldConfig(NewConfig):
            pass

        with pytest.raises(DeclarationError, match="already deprecated"):
            deprecate(NewConfig)(OldConfig)


class TestConfigMixinIsBase:
    """ConfigMixin is the class of all configuration objects."""

    def test_config_objects(self):
        """Every .C(...) object is a ConfigMixin; value objects are not."""
        c = Model.C(lr=0.1)
        assert isinstance(c, ConfigMixin)
        assert not isinstance(c.instance(), ConfigMixin)
