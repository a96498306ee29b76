"""The configuration object model: building, defaults, copies, instances, tags, sealing."""

import enum
import sys
import types
from pathlib import Path
from typing import Optional

import pytest

import xpm_nb
from xpm_nb import (
    Config,
    ConfigMixin,
    Meta,
    Param,
    Task,
    deprecate,
    field,
    initializer,
    sealed_set,
    setmeta,
    tag,
    tags,
    tagspath,
)
from xpm_nb.errors import DeclarationError, MissingFieldError, SealedConfigError


class Model(Config):
    __xpmid__ = "test.objects.Model"
    size: Param[int]


class Holder(Config):
    __xpmid__ = "test.objects.Holder"
    model: Param[Model]


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class TestBuilding:
    """.C, XPMConfig and calling the class."""

    def test_c_is_xpmconfig(self):
        """Model.C and Model.XPMConfig are the same class."""
        assert Model.C is Model.XPMConfig
        assert Model.C.C is Model.C

    def test_call_is_c(self):
        """Model(...) builds the same configuration as Model.C(...)."""
        a, b = Model(size=3), Model.C(size=3)
        assert type(a) is type(b) is Model.C
        assert a.size == 3
        assert a.__identifier__() == b.__identifier__()

    def test_isinstance(self):
        """A configuration is an instance of its class, of Config and of ConfigMixin."""
        c = Model.C(size=1)
        assert isinstance(c, Model)
        assert isinstance(c, Config)
        assert isinstance(c, ConfigMixin)
        assert issubclass(Model.C, Model)

    def test_subclass_isinstance(self):
        """A configuration of a subclass is an instance of the parent class."""

        class Bigger(Model):
            layers: Param[int]

        c = Bigger.C(size=1, layers=2)
        assert isinstance(c, Model) and isinstance(c, Bigger)
        assert Holder.C(model=c).model is c

    def test_positional_arguments_refused(self):
        """Configurations take keyword arguments only."""
        with pytest.raises(TypeError, match="keyword"):
            Model(3)

    def test_values_are_plain_attributes(self):
        """Field values are readable as attributes and writable before sealing."""
        c = Model.C(size=1)
        c.size = 2
        assert c.size == 2
        assert c.__xpm__.values == {"size": 2}

    def test_unset_field_read(self):
        """Reading a field not yet set raises AttributeError naming the field."""
        with pytest.raises(AttributeError, match=r"Model\.size is not set"):
            _ = Model.C().size

    def test_repr(self):
        """The repr shows the class and the field values."""
        assert repr(Model.C(size=4)) == "Model.C(size=4)"

    def test_class_attribute_is_argument(self):
        """On the config class, a field name gives its declaration."""
        assert Model.C.size.name == "size"

    def test_top_level_names(self):
        """The package exports the names of the reference API."""
        for name in (
            "Config",
            "Task",
            "ResumableTask",
            "LightweightTask",
            "InstanceConfig",
            "Param",
            "Meta",
            "Constant",
            "DataPath",
            "field",
            "param_group",
            "partial",
            "PathGenerator",
            "tag",
            "tags",
            "tagspath",
            "setmeta",
            "sealed_set",
            "cache",
            "initializer",
            "deprecate",
        ):
            assert hasattr(xpm_nb, name), name


class TestDefaults:
    """Field defaults."""

    def test_field_default(self):
        """field(default=...) sets the value when it is not given."""

        class C(Config):
            x: Param[int] = field(default=7)

        assert C.C().x == 7
        assert C.C(x=1).x == 1

    def test_bare_default(self):
        """A bare class default sets the value when it is not given."""

        class C(Config):
            x: Param[int] = 7

        assert C.C().x == 7

    def test_default_factory_called_per_object(self):
        """default_factory is called once per configuration."""
        calls = []

        def factory():
            calls.append(1)
            return [len(calls)]

        class C(Config):
            x: Param[list[int]] = field(default_factory=factory)

        C.C()  # the first use may call it once more (the default ignore_default compares with)
        calls.clear()
        a, b = C.C(), C.C()
        assert len(calls) == 2
        assert a.x is not b.x
        assert C.C(x=[9]).x == [9]
        assert len(calls) == 2  # not called when the value is given

    @pytest.mark.parametrize("style", ["field", "bare"])
    def test_mutable_defaults_not_shared(self, style):
        """A mutable default is copied for each configuration."""
        if style == "field":

            class C(Config):
                x: Param[list[int]] = field(default=[1])
                d: Param[dict[str, int]] = field(default={"a": 1})

        else:

            class C(Config):
                x: Param[list[int]] = [1]
                d: Param[dict[str, int]] = {"a": 1}

        a, b = C.C(), C.C()
        a.x.append(2)
        a.d["b"] = 2
        assert b.x == [1] and b.d == {"a": 1}
        assert C.C().x == [1]

    def test_optional_defaults_to_none(self):
        """An Optional field without default is None."""

        class C(Config):
            x: Param[Optional[int]]

        assert C.C().x is None

    def test_inherited_default(self):
        """A subclass inherits its parent's defaults and may override them."""

        class A(Config):
            x: Param[int] = field(default=1)

        class B(A):
            x: Param[int] = field(default=2)

        class D(A):
            y: Param[int] = field(default=3)

        assert A.C().x == 1 and B.C().x == 2 and D.C().x == 1


class TestCopy:
    """copy()."""

    def test_copy_values(self):
        """A copy has the same values and identifier, and is another object."""
        c = Holder.C(model=Model.C(size=1))
        d = c.copy()
        assert d is not c
        assert type(d) is type(c)
        assert d.model is c.model  # nested configs are shared
        assert d.__identifier__() == c.__identifier__()

    def test_copy_independent(self):
        """Changing the copy leaves the original unchanged."""
        c = Model.C(size=1)
        d = c.copy()
        d.size = 2
        assert c.size == 1 and d.size == 2

    def test_copy_of_sealed_is_unsealed(self):
        """The copy of a sealed config is not sealed, so it can be changed."""
        c = Model.C(size=1).seal()
        d = c.copy()
        assert c.__xpm__.sealed and not d.__xpm__.sealed
        d.size = 5
        assert d.size == 5

    def test_copy_ignores_other_attributes(self):
        """Attributes that are not fields are not copied."""
        c = Model.C(size=1)
        c.scratch = "x"
        assert not hasattr(c.copy(), "scratch")

    def test_copy_keeps_tags_and_meta(self):
        """Tags and the setmeta flag are copied."""
        c = setmeta(Model.C(size=tag(1)), True)
        d = c.copy()
        assert tags(d) == {"size": 1}
        assert d.__xpm__.meta is True


class Inner(Config):
    __xpmid__ = "test.objects.Inner"
    x: Param[int]


class Outer(Config):
    __xpmid__ = "test.objects.Outer"
    a: Param[Inner]
    b: Param[Inner]
    items: Param[list[Inner]] = field(default_factory=list)
    named: Param[dict[str, Inner]] = field(default_factory=dict)


class TestInstance:
    """instance() builds value objects."""

    def test_value_object(self):
        """The value object is an instance of the class, not a configuration."""
        value = Inner.C(x=1).instance()
        assert type(value) is Inner
        assert not isinstance(value, ConfigMixin)
        assert value.x == 1

    def test_nested_values(self):
        """Nested configurations, in fields, lists and dicts, become value objects."""
        cfg = Outer.C(
            a=Inner.C(x=1), b=Inner.C(x=2), items=[Inner.C(x=3)], named={"k": Inner.C(x=4)}
        )
        value = cfg.instance()
        assert type(value.a) is Inner and value.a.x == 1
        assert type(value.items[0]) is Inner and value.items[0].x == 3
        assert type(value.named["k"]) is Inner and value.named["k"].x == 4

    def test_shared_configs_shared_objects(self):
        """A config used twice gives one shared value object."""
        inner = Inner.C(x=1)
        value = Outer.C(a=inner, b=inner, items=[inner]).instance()
        assert value.a is value.b is value.items[0]

    def test_separate_configs_separate_objects(self):
        """Two equal configs give two value objects."""
        value = Outer.C(a=Inner.C(x=1), b=Inner.C(x=1)).instance()
        assert value.a is not value.b

    def test_keep_config(self):
        """With keep=True (default) the value object knows its configuration."""
        cfg = Inner.C(x=1)
        assert cfg.instance().__config__ is cfg
        assert cfg.instance().xpmconfig is cfg
        assert "__config__" not in cfg.instance(keep=False).__dict__

    def test_objects_store(self):
        """Objects built before (given in objects=) are reused."""
        inner = Inner.C(x=1)
        objects = {}
        first = inner.instance(objects=objects)
        value = Outer.C(a=inner, b=Inner.C(x=2)).instance(objects=objects)
        assert value.a is first

    def test_post_init_with_fields_set(self):
        """__post_init__ is called once, after the fields are set."""

        class C(Config):
            x: Param[int]
            y: Param[int] = field(default=2)

            def __post_init__(self):
                self.seen = (self.x, self.y)
                self.calls = getattr(self, "calls", 0) + 1

        value = C.C(x=1).instance()
        assert value.seen == (1, 2)
        assert value.calls == 1

    def test_post_init_children_first(self):
        """A nested value object is complete when its parent's __post_init__ runs."""

        class Leaf(Config):
            x: Param[int]

            def __post_init__(self):
                self.ready = True

        class Root(Config):
            leaf: Param[Leaf]

            def __post_init__(self):
                self.leaf_ready = self.leaf.ready

        assert Root.C(leaf=Leaf.C(x=1)).instance().leaf_ready is True

    def test_instance_of_cycle(self):
        """A cycle of configs gives a cycle of value objects."""

        class Node(Config):
            child: Param[Optional["Node"]]

        a = Node.C()
        b = Node.C(child=a)
        a.child = b
        value = a.instance()
        assert value.child.child is value


class FakeModule:
    """Stands in for torch.nn.Module: a mixin with its own __init__."""

    def __init__(self):
        self.modules = {}


class Network(Config):
    __xpmid__ = "test.objects.Network"
    hidden: Param[int]


@Network.value_class()
class NetworkImpl(Network, FakeModule):
    def __init__(self):
        super().__init__()
        self.layer = ("linear", self.hidden)


class TestValueClass:
    """value_class() registers the class of value objects."""

    def test_instance_uses_value_class(self):
        """instance() builds the registered value class, its __init__ seeing the fields."""
        value = Network.C(hidden=4).instance()
        assert type(value) is NetworkImpl
        assert value.layer == ("linear", 4)
        assert value.modules == {}  # the mixin's __init__ ran

    def test_config_is_not_value_class(self):
        """The configuration itself is not an instance of the value class."""
        cfg = Network.C(hidden=4)
        assert isinstance(cfg, Network)
        assert not isinstance(cfg, NetworkImpl)
        assert Network.XPMValue is NetworkImpl

    def test_identifier_unchanged(self):
        """Registering a value class does not change the config's identifier."""

        class Plain(Config):
            __xpmid__ = "test.objects.Network"
            hidden: Param[int]

        assert Network.C(hidden=4).__identifier__() == Plain.C(hidden=4).__identifier__()

    def test_nested_value_class(self):
        """Nested configurations also get their value class."""

        class Uses(Config):
            net: Param[Network]

        assert type(Uses.C(net=Network.C(hidden=2)).instance().net) is NetworkImpl

    def test_must_subclass_config(self):
        """A value class not derived from the configuration class is refused."""

        class Other(Config):
            x: Param[int]

        with pytest.raises(DeclarationError, match=r"NotAModel.*subclass of.*Other"):

            @Other.value_class()
            class NotAModel(FakeModule):
                pass

    def test_must_subclass_parent_value_class(self):
        """A value class must derive from the value classes of the parents."""

        class Deeper(Network):
            depth: Param[int]

        with pytest.raises(DeclarationError, match=r"DeeperImpl.*NetworkImpl"):

            @Deeper.value_class()
            class DeeperImpl(Deeper):
                pass

        @Deeper.value_class()
        class DeeperOk(Deeper, NetworkImpl):
            pass

        value = Deeper.C(hidden=2, depth=3).instance()
        assert type(value) is DeeperOk and value.layer == ("linear", 2)


class TestTags:
    """tag(), tags(), tagspath()."""

    def test_tag_value_is_plain(self):
        """A tagged value is stored as the plain value."""
        c = Model.C(size=tag(3))
        assert c.size == 3 and type(c.size) is int

    def test_tag_does_not_change_identifier(self):
        """Tagging a value does not change the identifier."""
        assert Model.C(size=tag(3)).__identifier__() == Model.C(size=3).__identifier__()

    def test_tags(self):
        """tags() and the .tags() method list the tagged fields."""

        class C(Config):
            lr: Param[float]
            epochs: Param[int]
            name: Param[str]

        c = C.C(lr=tag(0.001), epochs=tag(100), name="x")
        assert tags(c) == {"lr": 0.001, "epochs": 100}
        assert c.tags() == {"lr": 0.001, "epochs": 100}
        assert isinstance(tags(c), dict)

    def test_nested_tags(self):
        """Tags of nested configurations (also in lists) are included."""

        class Outer(Config):
            model: Param[Model]
            models: Param[list[Model]]
            seed: Param[int]

        c = Outer.C(model=Model.C(size=tag(3)), models=[Model.C(size=1)], seed=tag(7))
        c.models[0].tag("variant", "b")
        assert tags(c) == {"size": 3, "seed": 7, "variant": "b"}

    def test_tag_set_by_attribute(self):
        """Assigning a tagged value to a field tags it."""
        c = Model.C()
        c.size = tag(5)
        assert c.size == 5 and tags(c) == {"size": 5}

    def test_tag_method(self):
        """config.tag(name, value) adds a tag not tied to a field."""
        c = Model.C(size=1).tag("run", "a")
        assert tags(c) == {"run": "a"}

    def test_outer_tag_wins(self):
        """A tag set on the outer config wins over a nested one of the same name."""

        class Outer(Config):
            model: Param[Model]
            size: Param[int]

        c = Outer.C(model=Model.C(size=tag(3)), size=tag(4))
        assert tags(c) == {"size": 4}

    def test_tagspath(self):
        """tagspath() joins sorted key=value pairs with underscores."""

        class C(Config):
            learning_rate: Param[float]
            epochs: Param[int]

        c = C.C(learning_rate=tag(0.001), epochs=tag(100))
        assert tagspath(c) == "epochs=100_learning_rate=0.001"
        assert tagspath(Model.C(size=1)) == ""

    @pytest.mark.parametrize("value", [[1], {"a": 1}, (1,), object()])
    def test_tag_non_scalar(self, value):
        """tag() refuses values that are not str, int, float or bool."""
        with pytest.raises(TypeError, match="tag"):
            tag(value)

    def test_tag_of_tag(self):
        """tag(tag(x)) is tag(x)."""
        assert Model.C(size=tag(tag(2))).size == 2


class TestSealing:
    """Sealing, hashing and sealed_set."""

    def test_unsealed_unhashable(self):
        """An unsealed config cannot be hashed: a TypeError says to use sealed_set."""
        with pytest.raises(TypeError, match=r"Model.*not hashable until sealed.*sealed_set"):
            hash(Model.C(size=1))
        with pytest.raises(TypeError):
            {Model.C(size=1)}  # noqa: B018

    def test_sealed_hash_by_identifier(self):
        """A sealed config hashes by its identifier."""
        c = Model.C(size=1).seal()
        assert hash(c) == hash(c.__identifier__().all)
        assert hash(c) == hash(Model.C(size=1).seal())

    def test_sealed_equal_configs_dedupe(self):
        """Two sealed configs with the same identifier are one set element."""
        assert len({Model.C(size=1).seal(), Model.C(size=1).seal(), Model.C(size=2).seal()}) == 2

    def test_sealed_set(self):
        """sealed_set seals each config and returns a set of them."""
        a, b = Model.C(size=1), Model.C(size=2)
        result = sealed_set(a, b, Model.C(size=1), 3, "x")
        assert isinstance(result, set)
        assert a.__xpm__.sealed and b.__xpm__.sealed
        assert len(result) == 4
        assert 3 in result and "x" in result

    def test_sealed_set_unsealable(self):
        """sealed_set raises TypeError when a config cannot be sealed."""
        with pytest.raises(TypeError, match="size"):
            sealed_set(Model.C())

    def test_seal_nested(self):
        """Sealing a config seals every config below it."""
        inner = Model.C(size=1)
        Holder.C(model=inner).seal()
        assert inner.__xpm__.sealed

    def test_sealed_config_immutable(self):
        """A sealed config refuses changes."""
        c = Model.C(size=1).seal()
        with pytest.raises(SealedConfigError):
            c.size = 2
        assert c.size == 1

    def test_seal_idempotent(self):
        """Sealing twice is harmless."""
        c = Model.C(size=1)
        assert c.seal().seal() is c

    def test_equality(self):
        """Configs compare equal by type and field values."""
        assert Model.C(size=1) == Model.C(size=1)
        assert Model.C(size=1) != Model.C(size=2)
        assert Model.C(size=1).seal() == Model.C(size=1).seal()

    def test_validate_called_at_seal(self):
        """__validate__ runs when the config is sealed, and can refuse it."""
        seen = []

        class C(Config):
            x: Param[int]

            def __validate__(self):
                seen.append(self.x)
                if self.x < 0:
                    raise ValueError("x must be >= 0")

        c = C.C(x=-1)
        assert seen == []  # not at construction
        with pytest.raises(ValueError, match="x must be"):
            c.seal()
        assert not c.__xpm__.sealed
        C.C(x=3).seal()
        assert seen == [-1, 3]

    def test_validate_nested(self):
        """__validate__ of nested configs runs when the parent is sealed."""
        seen = []

        class Leaf(Config):
            x: Param[int]

            def __validate__(self):
                seen.append(self.x)

        class Root(Config):
            leaf: Param[Leaf]

        Root.C(leaf=Leaf.C(x=4)).seal()
        assert seen == [4]

    def test_missing_field_at_seal(self):
        """Sealing a config with a required field unset raises MissingFieldError."""
        with pytest.raises(MissingFieldError):
            Model.C().seal()


class TestInitializer:
    """@initializer."""

    def test_runs_once(self):
        """An initializer method runs once per object; later calls return the first result."""
        calls = []

        class C(Config):
            x: Param[int]

            @initializer
            def setup(self):
                calls.append(self.x)
                return object()

        value = C.C(x=1).instance()
        first = value.setup()
        assert value.setup() is first
        assert calls == [1]
        other = C.C(x=2).instance()
        other.setup()
        assert calls == [1, 2]

    def test_initializer_in_post_init(self):
        """An initializer called from __post_init__ and later still runs once."""
        calls = []

        class C(Config):
            @initializer
            def setup(self):
                calls.append(1)

            def __post_init__(self):
                self.setup()

        value = C.C().instance()
        value.setup()
        assert calls == [1]


class EarlyRef(Config):
    __xpmid__ = "test.objects.EarlyRef"
    later: Param["LaterDefined"]
    maybe: Param[Optional["LaterDefined"]]
    several: Param[list["LaterDefined"]] = field(default_factory=list)


class LaterDefined(Config):
    __xpmid__ = "test.objects.LaterDefined"
    x: Param[int]


class TestForwardReferences:
    """Forward references and where classes are defined."""

    def test_forward_reference(self):
        """Param["Other"] to a class defined later resolves on first use."""
        c = EarlyRef.C(later=LaterDefined.C(x=1), several=[LaterDefined.C(x=2)])
        assert c.later.x == 1 and c.maybe is None
        value = c.instance()
        assert type(value.later) is LaterDefined

    def test_forward_reference_checked(self):
        """A resolved forward reference checks the value's type."""
        with pytest.raises(TypeError, match="LaterDefined"):
            EarlyRef.C(later=Model.C(size=1))

    def test_string_annotations(self):
        """Annotations written as strings (PEP 563 style) are understood."""

        class Str(Config):
            __xpmid__ = "test.objects.Str"
            x: "Param[int]"
            m: "Meta[list[int]]"
            note: "str" = "not a field"

        c = Str.C(x=1, m=[1])
        assert c.x == 1
        assert set(Str.__xpmtype__.arguments) == {"x", "m"}

    def test_classes_in_function(self):
        """Classes defined in a function, referencing each other, work."""

        def define():
            class FnLeaf(Config):
                x: Param[int]

            class FnRoot(Config):
                leaf: Param["FnLeaf"]

            return FnLeaf, FnRoot

        leaf_cls, root_cls = define()
        c = root_cls.C(leaf=leaf_cls.C(x=1))
        typeid = f"{__name__}.TestForwardReferences.test_classes_in_function.<locals>.define.<locals>.FnRoot"
        assert root_cls.__xpmtype__.identifier == typeid.lower()
        assert c.instance().leaf.x == 1
        c.__identifier__()

    def test_main_module_classes(self):
        """Classes defined in a __main__-like module (a notebook) work."""
        source = (
            "from typing import List\n"
            "from xpm_nb import Config, Param\n"
            "class NbRoot(Config):\n"
            "    leaves: Param[List['NbLeaf']]\n"
            "class NbLeaf(Config):\n"
            "    x: Param[int]\n"
            "c = NbRoot.C(leaves=[NbLeaf.C(x=1)])\n"
            "ident = c.__identifier__()\n"
            "value = c.instance()\n"
        )
        namespace = {"__name__": "__main__"}
        exec(compile(source, "<cell>", "exec"), namespace)
        assert namespace["NbRoot"].__xpmtype__.identifier == "__main__.nbroot"
        assert namespace["value"].leaves[0].x == 1
        assert len(namespace["ident"].all) == 32

    def test_fresh_module(self):
        """Classes in a module created at run time work with forward references."""
        module = types.ModuleType("xpm_nb_test_fresh_module")
        sys.modules[module.__name__] = module
        try:
            exec(
                "from xpm_nb import Config, Param\n"
                "class FmA(Config):\n"
                "    b: Param['FmB']\n"
                "class FmB(Config):\n"
                "    x: Param[int]\n",
                module.__dict__,
            )
            c = module.FmA.C(b=module.FmB.C(x=2))
            assert module.FmA.__xpmtype__.identifier == "xpm_nb_test_fresh_module.fma"
            assert c.b.x == 2
        finally:
            del sys.modules[module.__name__]


class TestConversion:
    """Values are checked and converted to the declared types."""

    def test_tuple_to_list(self):
        """A tuple given for a list becomes a list."""

        class C(Config):
            x: Param[list[int]]

        c = C.C(x=(1, 2))
        assert c.x == [1, 2] and type(c.x) is list

    def test_str_to_path(self):
        """A str given for a Path becomes a Path."""

        class C(Config):
            p: Meta[Path]
            q: Param[Optional[Path]]

        c = C.C(p="/a/b", q="rel")
        assert c.p == Path("/a/b") and isinstance(c.p, Path)
        assert c.q == Path("rel")

    def test_int_to_float(self):
        """An int given for a float becomes a float, also inside containers."""

        class C(Config):
            f: Param[float]
            fs: Param[list[float]]
            d: Param[dict[str, float]]

        c = C.C(f=1, fs=[1, 2.5], d={"a": 3})
        assert type(c.f) is float and c.f == 1.0
        assert [type(v) for v in c.fs] == [float, float]
        assert type(c.d["a"]) is float

    def test_enum_by_name(self):
        """An enum member may be given by name."""

        class C(Config):
            color: Param[Color]
            colors: Param[list[Color]]

        c = C.C(color="BLUE", colors=["RED", Color.BLUE])
        assert c.color is Color.BLUE
        assert c.colors == [Color.RED, Color.BLUE]

    def test_typing_generics(self):
        """typing.List, Dict and Set annotations work like list, dict and set."""
        import typing

        class Old(Config):
            __xpmid__ = "test.objects.Generics"
            a: Param[typing.List[float]]  # noqa: UP006
            d: Param[typing.Dict[str, int]]  # noqa: UP006
            s: Param[typing.Set[int]]  # noqa: UP006

        class New(Config):
            __xpmid__ = "test.objects.Generics"
            a: Param[list[float]]
            d: Param[dict[str, int]]
            s: Param[set[int]]

        old = Old.C(a=(1, 2), d={"k": 1}, s=[3])
        assert old.a == [1.0, 2.0] and type(old.a[0]) is float
        assert old.s == {3}
        assert old.__identifier__() == New.C(a=[1, 2], d={"k": 1}, s={3}).__identifier__()
        with pytest.raises(TypeError):
            Old.C(a=["x"], d={}, s=set())

    def test_set_from_list(self):
        """A list given for a set becomes a set."""

        class C(Config):
            s: Param[set[int]]

        c = C.C(s=[1, 2, 2])
        assert c.s == {1, 2} and type(c.s) is set

    def test_dict_checked(self):
        """Dict keys and values are checked."""

        class C(Config):
            d: Param[dict[str, int]]

        assert C.C(d={"a": 1}).d == {"a": 1}
        with pytest.raises(TypeError):
            C.C(d={"a": "b"})
        with pytest.raises(TypeError):
            C.C(d={1: 1})

    def test_optional(self):
        """Optional fields accept None and the inner type, and check the latter."""

        class C(Config):
            x: Param[Optional[int]]

        assert C.C(x=None).x is None
        assert C.C(x=3).x == 3
        assert C.C(x="3").x == 3
        with pytest.raises((TypeError, ValueError)):
            C.C(x="3.5")

    def test_optional_inside_list(self):
        """Optional inside a list accepts None elements."""

        class C(Config):
            x: Param[list[Optional[int]]]

        assert C.C(x=[1, None]).x == [1, None]

    def test_assignment_converts(self):
        """Assigning a field checks and converts like the constructor."""

        class C(Config):
            f: Param[float]

        c = C.C(f=1.5)
        c.f = 2
        assert type(c.f) is float
        with pytest.raises(TypeError):
            c.f = "x"

    def test_list_of_configs_checked(self):
        """Elements of a list of configs must be configs of that class."""

        class C(Config):
            models: Param[list[Model]]

        assert len(C.C(models=[Model.C(size=1)]).models) == 1
        with pytest.raises(TypeError):
            C.C(models=[Model.C(size=1), 3])


class Renamed(Config):
    __xpmid__ = "test.objects.Renamed"
    new_param: Param[list[int]]

    @deprecate
    def old_param(self, value: int):
        self.new_param = [value]


class TestDeprecatedParameter:
    """@deprecate on a method: a deprecated parameter (pattern 4)."""

    def test_constructor(self):
        """Giving the old parameter sets the new one."""
        assert Renamed.C(old_param=3).new_param == [3]

    def test_attribute(self):
        """Assigning the old parameter sets the new one."""
        c = Renamed.C(new_param=[1])
        c.old_param = 4
        assert c.new_param == [4]

    def test_not_in_identifier(self):
        """The old parameter is not part of the identifier: only the new one counts."""
        assert Renamed.C(old_param=3).__identifier__() == Renamed.C(new_param=[3]).__identifier__()
        assert "old_param" not in Renamed.__xpmtype__.arguments

    def test_not_a_value(self):
        """The old parameter is not stored as a field value."""
        assert Renamed.C(old_param=3).__xpm__.values == {"new_param": [3]}


class TestTasks:
    """Task basics that do not need a scheduler."""

    def test_task_outputs_default(self):
        """By default task_outputs returns the task itself."""

        class T(Task):
            x: Param[int]

        t = T.C(x=1)
        assert t.task_outputs(lambda c: c) is t

    def test_task_is_config(self):
        """A task configuration is a Config with fields like any other."""

        class T(Task):
            x: Param[int]

            def execute(self):
                self.done = self.x

        t = T.C(x=2)
        assert isinstance(t, Config)
        value = t.instance()
        value.execute()
        assert value.done == 2
