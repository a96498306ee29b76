"""The identifier byte format (specs/identifiers.md), rule by rule.

Expected identifiers are computed here by a tiny reference encoder written
from the spec, independently of ``xpm_nb.core.identifier``; where the bytes
are impractical to write out, the test checks the property the rule implies
(two identifiers equal or different).

The spec's test vectors (classes, configs, expected identifiers) come from the
interop corpus, ``tests/interop/corpus.py``, their one source: the corpus runs
in the reference's environment too, so it cannot import from here.
"""

import enum
import hashlib
import struct
from pathlib import Path
from typing import Any, Optional

import pytest

from interop import corpus
from xpm_nb import (
    Config,
    Constant,
    DataPath,
    InstanceConfig,
    LightweightTask,
    Meta,
    Param,
    PathGenerator,
    Task,
    deprecate,
    field,
    param_group,
    partial,
    sealed_set,
    setmeta,
)
from xpm_nb.core.pathgen import Generator
from xpm_nb.errors import IdentifierError

# --------------------------------------------------------------------------
# An independent reference encoder, written from the spec
# --------------------------------------------------------------------------


def i64(n: int) -> bytes:
    return struct.pack(">q", n)


def f64(x: float) -> bytes:
    return struct.pack(">d", x)


class Raw:
    """Bytes already encoded (a nested config), used as a value."""

    def __init__(self, data: bytes):
        self.data = data


def enc(value: Any) -> bytes:
    """The encoding of a value (spec, section Values)."""
    if isinstance(value, Raw):
        return value.data
    if value is None:
        return b"\x06"
    if isinstance(value, float):
        return b"\x02" + f64(value)
    if isinstance(value, int):
        return b"\x01" + i64(int(value))
    if isinstance(value, str):
        return b"\x03" + str(value).encode("utf-8")
    if isinstance(value, list):
        return b"\x07" + f64(len(value)) + b"".join(enc(v) for v in value)
    if isinstance(value, (set, frozenset)):
        items = sorted((enc(v) for v in value), key=lambda b: hashlib.sha256(b).digest())
        return b"\x0e" + f64(len(items)) + b"".join(items)
    if isinstance(value, enum.Enum):
        k = type(value)
        return b"\x0a" + f"{k.__module__}.{k.__qualname__}:{value.name}".encode()
    if isinstance(value, dict):
        return b"\x09" + b"".join(enc(k) + enc(value[k]) for k in sorted(value))
    raise AssertionError(f"reference encoder: unexpected {value!r}")


def own(typeid: str, fields: dict[str, Any], *, task: bytes = None, init_tasks=()) -> bytes:
    """A config's own digest (spec, section A config's own digest)."""
    data = b"\x00"
    if task is not None:
        data += b"\x08" + nested(task).data
    data += typeid.lower().encode("utf-8")
    for name in sorted(fields):
        data += b"\x03" + name.encode("utf-8") + b"\x05" + enc(fields[name])
    if init_tasks:
        data += b"\x0c" + b"".join(nested(t).data for t in init_tasks)
    return hashlib.sha256(data).digest()


def nested(digest: bytes, rank: int = 0) -> Raw:
    """A nested config (spec, section Nested config)."""
    data = b"\x00" + digest
    if rank > 0:
        data += b"\x0d" + i64(rank)
    return Raw(data)


def cycle(distance: int) -> Raw:
    return Raw(b"\x00\x0b" + i64(distance))


def ident(config) -> bytes:
    return config.__identifier__().all


def marker_for(task):
    """The dependency marker submit() passes to task_outputs()."""

    def dep(config):
        config.__xpm__.task = task
        return config

    return dep


# --------------------------------------------------------------------------
# The spec's test vectors: classes, configs and identifiers from the interop
# corpus (one source for both; there they are also checked against the reference)
# --------------------------------------------------------------------------

SPEC = corpus.spec_classes("xpm_nb")
ConfigInt, ConfigStr, ConfigBool = SPEC.ConfigInt, SPEC.ConfigStr, SPEC.ConfigBool
ConfigFloat, ConfigList, ConfigDict = SPEC.ConfigFloat, SPEC.ConfigList, SPEC.ConfigDict
ConfigNested, SimpleTask = SPEC.ConfigNested, SPEC.SimpleTask

SPEC_IDS = dict(corpus.SPEC_VECTORS)  # name -> expected hex

# The vectors a plain config gives (SimpleTask needs a submission: its own test).
VECTORS = [
    pytest.param(make, SPEC_IDS[name], id=name)
    for name, make in corpus.build_spec("xpm_nb", SPEC)
    if name not in corpus.SPEC_SUBMITTED
]


class TestVectors:
    """The spec's test vectors, computed by the reference system."""

    def test_vectors_cover_the_spec(self):
        """Every vector of the corpus is checked here: the plain ones, then SimpleTask."""
        assert len(VECTORS) + len(corpus.SPEC_SUBMITTED) == len(SPEC_IDS) == 10
        assert corpus.SPEC_SUBMITTED == {"SimpleTask"}

    @pytest.mark.parametrize(("build", "expected"), VECTORS)
    def test_vector(self, build, expected):
        """Each test vector config has exactly the reference's identifier."""
        assert build().__identifier__().hex() == expected

    def test_submitted_task_vector(self):
        """A submitted task (sealed, its own producer) has the reference's identifier."""
        task = SimpleTask.C(x=15)
        task.__xpm__.task = task  # what submit() does
        task.seal()
        assert task.__identifier__().hex() == SPEC_IDS["SimpleTask"]

    def test_hand_encoder_reproduces_vectors(self):
        """The test module's own encoder gives the same vectors (it is trustworthy)."""
        s = "test.stability."
        inner = own(s + "ConfigInt", {"x": 100})
        fields = {
            "ConfigInt": {"x": 42},
            "ConfigStr": {"s": "hello"},
            "ConfigBool": {"b": True},
            "ConfigFloat": {"f": 3.14},
            "ConfigList": {"items": [1, 2, 3, 4, 5]},
            "ConfigDict": {"mapping": {"a": 1, "b": 2, "c": 3}},
            "ConfigNested": {"inner": nested(inner)},
            "ConfigFieldDefault": {"a": 10, "b": 5},
            "ConfigFieldDefaultIgnore": {"b": 5},
            "SimpleTask": {"x": 15},
        }
        assert set(fields) == set(SPEC_IDS)
        for name, values in fields.items():
            assert own(s + name, values).hex() == SPEC_IDS[name], name

    def test_identifier_object(self):
        """__identifier__() gives 32 bytes in .all and 64 lowercase hex digits in .hex()."""
        identifier = ConfigInt.C(x=42).__identifier__()
        assert isinstance(identifier.all, bytes) and len(identifier.all) == 32
        assert identifier.hex() == identifier.all.hex()
        assert len(identifier.hex()) == 64 and identifier.hex() == identifier.hex().lower()
        assert identifier == ConfigInt.C(x=42).__identifier__()
        assert identifier != ConfigInt.C(x=43).__identifier__()


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Holder:
    class Shape(enum.Enum):
        SQUARE = "sq"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 7


class Mode(str, enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class AnyValue(Config):
    __xpmid__ = "test.core.AnyValue"
    v: Param[Any]


class IntValue(Config):
    __xpmid__ = "test.core.AnyValue"
    v: Param[int]


class StrValue(Config):
    __xpmid__ = "test.core.AnyValue"
    v: Param[str]


class Model(Config):
    __xpmid__ = "test.core.Model"
    size: Param[int]


MODEL = "test.core.Model"


def model_digest(size: int) -> bytes:
    return own(MODEL, {"size": size})


class TestScalars:
    """None, float, int, bool and str."""

    def test_none(self):
        """None is 06 (a field that may be None but has a non-None default)."""

        class C(Config):
            __xpmid__ = "test.core.NoneValue"
            v: Param[Optional[int]] = field(default=3)

        assert ident(C.C(v=None)) == own("test.core.NoneValue", {"v": None})
        assert ident(C.C(v=None)) != ident(C.C())

    def test_none_in_list(self):
        """None inside a list is encoded as 06."""

        class C(Config):
            __xpmid__ = "test.core.NoneList"
            v: Param[list[Optional[int]]]

        assert ident(C.C(v=[1, None])) == own("test.core.NoneList", {"v": [1, None]})

    def test_float(self):
        """A float is 02 then a big-endian double."""
        c = ConfigFloat.C(f=-0.5)
        data = b"\x00test.stability.configfloat\x03f\x05\x02" + struct.pack(">d", -0.5)
        assert ident(c) == hashlib.sha256(data).digest()

    def test_int_given_to_float_field(self):
        """An int given to a float field is encoded as a float."""
        c = ConfigFloat.C(f=3)
        assert type(c.f) is float
        assert ident(c) == own("test.stability.ConfigFloat", {"f": 3.0})
        assert ident(c) == ident(ConfigFloat.C(f=3.0))
        assert ident(c) != own("test.stability.ConfigFloat", {"f": 3})

    def test_int(self):
        """An int is 01 then a big-endian signed 8-byte int (negative too)."""
        for value in (0, 1, -1, 123456789, -(2**40)):
            data = b"\x00test.stability.configint\x03x\x05\x01" + struct.pack(">q", value)
            assert ident(ConfigInt.C(x=value)) == hashlib.sha256(data).digest()

    def test_int64_bounds_accepted(self):
        """The int64 extremes are encodable."""
        for value in (2**63 - 1, -(2**63)):
            assert ident(ConfigInt.C(x=value)) == own("test.stability.ConfigInt", {"x": value})

    @pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
    def test_int64_overflow(self, value):
        """An int outside int64 raises IdentifierError naming the class and field."""
        with pytest.raises(IdentifierError, match=r"ConfigInt\.x") as info:
            ConfigInt.C(x=value).__identifier__()
        assert str(value) in str(info.value)

    def test_int64_overflow_in_list(self):
        """An overflowing int in a list names the field and the index."""
        with pytest.raises(IdentifierError, match=r"ConfigList\.items\[1\]"):
            ConfigList.C(items=[1, 2**64]).__identifier__()

    def test_bool_as_int(self):
        """A bool is encoded as the int 1 or 0."""
        assert ident(ConfigBool.C(b=True)) == own("test.stability.ConfigBool", {"b": 1})
        assert ident(ConfigBool.C(b=False)) == own("test.stability.ConfigBool", {"b": 0})

        class BoolTwin(Config):
            __xpmid__ = "test.core.AnyValue"
            v: Param[bool]

        assert ident(BoolTwin.C(v=True)) == ident(IntValue.C(v=1))
        assert ident(BoolTwin.C(v=False)) == ident(IntValue.C(v=0))

    def test_str_utf8_no_length(self):
        """A str is 03 then its UTF-8 bytes, no length and no terminator."""
        value = "héllo ✓"
        data = b"\x00test.stability.configstr\x03s\x05\x03" + value.encode("utf-8")
        assert ident(ConfigStr.C(s=value)) == hashlib.sha256(data).digest()

    def test_empty_str(self):
        """The empty str is the single byte 03."""
        data = b"\x00test.stability.configstr\x03s\x05\x03"
        assert ident(ConfigStr.C(s="")) == hashlib.sha256(data).digest()

    def test_types_distinguished(self):
        """1, 1.0, "1" and True-as-int give the identifiers of their own encodings."""
        as_int = ident(AnyValue.C(v=1))
        as_float = ident(AnyValue.C(v=1.0))
        as_str = ident(AnyValue.C(v="1"))
        assert len({as_int, as_float, as_str}) == 3
        assert as_float == own("test.core.AnyValue", {"v": 1.0})
        assert as_str == own("test.core.AnyValue", {"v": "1"})


class TestContainers:
    """Lists, dicts and sets."""

    def test_list_count_is_double(self):
        """A list is 07, the count as a double (not an int), then the elements."""
        data = (
            b"\x00test.stability.configlist\x03items\x05\x07"
            + struct.pack(">d", 2.0)
            + b"\x01"
            + struct.pack(">q", 7)
            + b"\x01"
            + struct.pack(">q", 8)
        )
        assert ident(ConfigList.C(items=[7, 8])) == hashlib.sha256(data).digest()

    def test_empty_list(self):
        """The empty list is 07 and a count of 0.0."""
        assert ident(ConfigList.C(items=[])) == own("test.stability.ConfigList", {"items": []})

    def test_list_order_matters(self):
        """Lists are ordered: [1, 2] and [2, 1] differ."""
        assert ident(ConfigList.C(items=[1, 2])) != ident(ConfigList.C(items=[2, 1]))

    def test_nested_lists(self):
        """Lists nest, each with its own count."""

        class C(Config):
            __xpmid__ = "test.core.Matrix"
            m: Param[list[list[int]]]

        assert ident(C.C(m=[[1], [2, 3], []])) == own("test.core.Matrix", {"m": [[1], [2, 3], []]})

    def test_dict_sorted_by_key_no_count(self):
        """A dict is 09 (no count) then key and value for each item, sorted by key."""
        data = (
            b"\x00test.stability.configdict\x03mapping\x05\x09"
            + b"\x03a\x01"
            + struct.pack(">q", 2)
            + b"\x03b\x01"
            + struct.pack(">q", 1)
        )
        digest = hashlib.sha256(data).digest()
        assert ident(ConfigDict.C(mapping={"b": 1, "a": 2})) == digest
        assert ident(ConfigDict.C(mapping={"a": 2, "b": 1})) == digest

    def test_dict_int_keys(self):
        """Keys are encoded as values: int keys as ints, sorted numerically."""

        class C(Config):
            __xpmid__ = "test.core.IntKeys"
            m: Param[dict[int, str]]

        value = {10: "x", 2: "y"}
        assert ident(C.C(m=value)) == own("test.core.IntKeys", {"m": value})

    def test_empty_dict(self):
        """The empty dict is the single byte 09."""
        data = b"\x00test.stability.configdict\x03mapping\x05\x09"
        assert ident(ConfigDict.C(mapping={})) == hashlib.sha256(data).digest()

    def test_set_elements_sorted_by_standalone_digest(self):
        """A set is 0E, the count as a double, then elements sorted by their own digest."""

        class C(Config):
            __xpmid__ = "test.core.IntSet"
            s: Param[set[int]]

        values = {1, 2, 3, 4, 5, 6}
        by_digest = sorted(values, key=lambda v: hashlib.sha256(enc(v)).digest())
        assert by_digest != sorted(values)  # the test can tell the two orders apart
        data = b"\x00test.core.intset\x03s\x05\x0e" + f64(6) + b"".join(enc(v) for v in by_digest)
        assert ident(C.C(s=values)) == hashlib.sha256(data).digest()

    def test_set_order_independent(self):
        """Sets built in any order (or from lists) give the same identifier."""

        class C(Config):
            __xpmid__ = "test.core.StrSet"
            s: Param[set[str]]

        a = C.C(s={"alpha", "beta", "gamma", "delta"})
        b = C.C(s=["delta", "gamma", "beta", "alpha"])
        assert isinstance(b.s, set)
        assert (
            ident(a)
            == ident(b)
            == own("test.core.StrSet", {"s": {"alpha", "beta", "gamma", "delta"}})
        )

    def test_set_of_configs(self):
        """A set of sealed configs sorts the nested encodings by their digest."""

        class C(Config):
            __xpmid__ = "test.core.ModelSet"
            models: Param[set[Model]]

        models = sealed_set(Model.C(size=1), Model.C(size=2), Model.C(size=3))
        expected = own(
            "test.core.ModelSet",
            {"models": {nested(model_digest(1)), nested(model_digest(2)), nested(model_digest(3))}},
        )
        assert ident(C.C(models=models)) == expected

    def test_set_leaves_out_meta_configs(self):
        """Meta configs are left out of a set (and of its count)."""

        class C(Config):
            __xpmid__ = "test.core.ModelSet"
            models: Param[set[Model]]

        with_meta = C.C(models=sealed_set(Model.C(size=1), setmeta(Model.C(size=2), True)))
        alone = C.C(models=sealed_set(Model.C(size=1)))
        assert ident(with_meta) == ident(alone)
        assert ident(alone) == own("test.core.ModelSet", {"models": {nested(model_digest(1))}})

    def test_list_of_configs(self):
        """Configs in a list are encoded as nested configs."""

        class C(Config):
            __xpmid__ = "test.core.ModelList"
            models: Param[list[Model]]

        c = C.C(models=[Model.C(size=1), Model.C(size=2)])
        expected = own(
            "test.core.ModelList", {"models": [nested(model_digest(1)), nested(model_digest(2))]}
        )
        assert ident(c) == expected

    def test_dict_of_configs(self):
        """Configs as dict values are encoded as nested configs."""

        class C(Config):
            __xpmid__ = "test.core.ModelDict"
            models: Param[dict[str, Model]]

        c = C.C(models={"b": Model.C(size=2), "a": Model.C(size=1)})
        expected = own(
            "test.core.ModelDict",
            {"models": {"a": nested(model_digest(1)), "b": nested(model_digest(2))}},
        )
        assert ident(c) == expected

    @pytest.mark.parametrize(
        ("value", "where"),
        [
            ([1, (2, 3)], r"\[1\]"),
            ([b"raw"], r"\[0\]"),
            ({"k": (1,)}, r"\['k'\]"),
            ({"k": b"raw"}, r"\['k'\]"),
            ([[1, (2,)]], r"\[0\]\[1\]"),
            ([Path("/tmp/x")], r"\[0\]"),
        ],
    )
    def test_unencodable_in_container(self, value, where):
        """A tuple, bytes or Path inside a container raises IdentifierError naming the field path."""
        c = AnyValue.C(v=value)
        with pytest.raises(IdentifierError, match=r"AnyValue\.v" + where) as info:
            c.__identifier__()
        assert any(name in str(info.value) for name in ("tuple", "bytes", "Path"))

    def test_unencodable_field_value(self):
        """A tuple as a field value raises IdentifierError naming the field and the type."""
        with pytest.raises(IdentifierError, match=r"AnyValue\.v.*tuple"):
            AnyValue.C(v=(1, 2)).__identifier__()


class TestEnums:
    """Enum members."""

    def test_plain_enum(self):
        """A plain Enum member is 0A then module.QualName:MEMBER."""

        class C(Config):
            __xpmid__ = "test.core.EnumField"
            color: Param[Color]

        data = (
            b"\x00test.core.enumfield\x03color\x05\x0a" + f"{Color.__module__}.Color:GREEN".encode()
        )
        assert ident(C.C(color=Color.GREEN)) == hashlib.sha256(data).digest()

    def test_enum_by_name(self):
        """An enum member given by name encodes as the member."""

        class C(Config):
            __xpmid__ = "test.core.EnumField"
            color: Param[Color]

        c = C.C(color="RED")
        assert c.color is Color.RED
        assert (
            ident(c)
            == ident(C.C(color=Color.RED))
            == own("test.core.EnumField", {"color": Color.RED})
        )

    def test_nested_enum_qualname(self):
        """An enum class nested in a class uses its full qualified name."""

        class C(Config):
            __xpmid__ = "test.core.EnumField"
            shape: Param[Holder.Shape]

        data = (
            b"\x00test.core.enumfield\x03shape\x05\x0a"
            + f"{Holder.__module__}.Holder.Shape:SQUARE".encode()
        )
        assert ident(C.C(shape=Holder.Shape.SQUARE)) == hashlib.sha256(data).digest()

    def test_int_enum_as_int(self):
        """An IntEnum member is encoded as its int value."""

        class C(Config):
            __xpmid__ = "test.core.AnyValue"
            v: Param[Level]

        assert ident(C.C(v=Level.HIGH)) == own("test.core.AnyValue", {"v": 7})
        assert ident(C.C(v=Level.HIGH)) == ident(IntValue.C(v=7))

    def test_str_enum_as_str(self):
        """A str-valued Enum member is encoded as its str value."""

        class C(Config):
            __xpmid__ = "test.core.AnyValue"
            v: Param[Mode]

        assert ident(C.C(v=Mode.SLOW)) == ident(StrValue.C(v="slow"))
        data = b"\x00test.core.anyvalue\x03v\x05\x03slow"
        assert ident(C.C(v=Mode.SLOW)) == hashlib.sha256(data).digest()

    def test_enum_in_list(self):
        """Enum members inside a list are encoded as members."""

        class C(Config):
            __xpmid__ = "test.core.EnumList"
            colors: Param[list[Color]]

        value = [Color.RED, Color.GREEN]
        assert ident(C.C(colors=value)) == own("test.core.EnumList", {"colors": value})


# --------------------------------------------------------------------------
# A config's own digest
# --------------------------------------------------------------------------


class Parent(Config):
    __xpmid__ = "test.core.Parent"
    b: Param[int]


class ChildNoId(Parent):
    a: Param[int]
    c: Param[int]


class TestOwnDigest:
    """Type id and parameters."""

    def test_typeid_lowercased(self):
        """The type id is lowercased before being hashed."""

        class C(Config):
            __xpmid__ = "Test.Core.MixedCASE"
            x: Param[int]

        assert ident(C.C(x=1)) == own("test.core.mixedcase", {"x": 1})
        data = b"\x00test.core.mixedcase\x03x\x05\x01" + i64(1)
        assert ident(C.C(x=1)) == hashlib.sha256(data).digest()

    def test_typeid_defaults_to_module_qualname(self):
        """Without __xpmid__ the type id is module.qualname (lowercased)."""

        class NoIdConfig(Config):
            x: Param[int]

        typeid = f"{NoIdConfig.__module__}.{NoIdConfig.__qualname__}"
        assert "<locals>" in typeid
        assert ident(NoIdConfig.C(x=1)) == own(typeid, {"x": 1})

    def test_xpmid_not_inherited(self):
        """A subclass without its own __xpmid__ uses its own module.qualname."""
        typeid = f"{ChildNoId.__module__}.ChildNoId"
        assert ident(ChildNoId.C(a=1, b=2, c=3)) == own(typeid, {"a": 1, "b": 2, "c": 3})

    def test_inherited_parameters_sorted_by_name(self):
        """Inherited parameters are included, all sorted by name."""
        typeid = f"{ChildNoId.__module__}.ChildNoId".lower()
        data = (
            b"\x00"
            + typeid.encode()
            + b"\x03a\x05\x01"
            + i64(1)
            + b"\x03b\x05\x01"
            + i64(2)
            + b"\x03c\x05\x01"
            + i64(3)
        )
        assert ident(ChildNoId.C(c=3, b=2, a=1)) == hashlib.sha256(data).digest()

    def test_no_parameters(self):
        """A config without parameters hashes 00 and its type id only."""

        class Empty(Config):
            __xpmid__ = "test.core.Empty"

        assert ident(Empty.C()) == hashlib.sha256(b"\x00test.core.empty").digest()

    def test_nested_config(self):
        """A nested config is 00 then its own 32-byte digest."""
        inner = ConfigInt.C(x=100)
        data = b"\x00test.stability.confignested\x03inner\x05\x00" + ident(inner)
        assert ident(ConfigNested.C(inner=inner)) == hashlib.sha256(data).digest()

    def test_sealing_keeps_identifier(self):
        """Sealing caches the identifier without changing it."""
        c = ConfigNested.C(inner=ConfigInt.C(x=5))
        before = ident(c)
        c.seal()
        assert ident(c) == before
        assert c.__identifier__() is c.__identifier__()  # cached once sealed

    def test_sealed_child_reused(self):
        """A sealed nested config contributes the same digest as an unsealed one."""
        sealed_inner = ConfigInt.C(x=5).seal()
        assert ident(ConfigNested.C(inner=sealed_inner)) == ident(
            ConfigNested.C(inner=ConfigInt.C(x=5))
        )


class TestLeftOut:
    """Fields left out of a config's digest."""

    def test_meta_left_out(self):
        """Meta fields are not part of the identifier."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            verbose: Meta[int]

        assert ident(C.C(x=1, verbose=3)) == ident(C.C(x=1, verbose=4))
        assert ident(C.C(x=1, verbose=3)) == own("test.core.LeftOut", {"x": 1})

    def test_datapath_left_out(self):
        """DataPath fields are not part of the identifier."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            data: DataPath

        assert ident(C.C(x=1, data=Path("/a"))) == own("test.core.LeftOut", {"x": 1})

    @pytest.mark.parametrize("kind", ["param", "meta", "optional"])
    def test_path_left_out(self, kind):
        """Fields typed Path are left out, Param[Path] and Optional[Path] too."""
        if kind == "param":

            class C(Config):
                __xpmid__ = "test.core.LeftOut"
                x: Param[int]
                p: Param[Path]

        elif kind == "meta":

            class C(Config):
                __xpmid__ = "test.core.LeftOut"
                x: Param[int]
                p: Meta[Path]

        else:

            class C(Config):
                __xpmid__ = "test.core.LeftOut"
                x: Param[int]
                p: Param[Optional[Path]]

        assert ident(C.C(x=1, p="/some/where")) == own("test.core.LeftOut", {"x": 1})
        assert ident(C.C(x=1, p="/else/where")) == ident(C.C(x=1, p="/some/where"))

    def test_path_generator_left_out(self):
        """Fields whose default is a PathGenerator are left out."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            out: Meta[Path] = field(default_factory=PathGenerator("out.txt"))
            out2: Param[Path] = field(default_factory=PathGenerator("other.txt"))

        assert ident(C.C(x=1)) == own("test.core.LeftOut", {"x": 1})

    def test_custom_generator_left_out(self):
        """Any Generator default leaves the field out, even on a non-path Param."""

        class Gen(Generator):
            def __call__(self, context, config):
                return "generated"

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            name: Param[str] = field(default_factory=Gen())

        assert ident(C.C(x=1)) == own("test.core.LeftOut", {"x": 1})

    def test_optional_none_left_out(self):
        """A field that may be None, has no default and is None is left out."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            y: Param[Optional[int]]

        assert C.C(x=1).y is None
        assert ident(C.C(x=1)) == own("test.core.LeftOut", {"x": 1})
        assert ident(C.C(x=1, y=None)) == own("test.core.LeftOut", {"x": 1})
        assert ident(C.C(x=1, y=0)) == own("test.core.LeftOut", {"x": 1, "y": 0})

    def test_optional_config_none_left_out(self):
        """An Optional config field set to None is left out."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            m: Param[Optional[Model]]

        assert ident(C.C(x=1, m=None)) == own("test.core.LeftOut", {"x": 1})
        assert ident(C.C(x=1, m=Model.C(size=2))) == own(
            "test.core.LeftOut", {"x": 1, "m": nested(model_digest(2))}
        )

    def test_setmeta_true_leaves_param_config_out(self):
        """A Param config marked setmeta(x, True) is left out."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            m: Param[Model]

        c = C.C(x=1, m=setmeta(Model.C(size=2), True))
        assert ident(c) == own("test.core.LeftOut", {"x": 1})

    def test_setmeta_true_in_list(self):
        """Meta configs are dropped from lists (and from the count)."""

        class C(Config):
            __xpmid__ = "test.core.ModelList"
            models: Param[list[Model]]

        c = C.C(models=[Model.C(size=1), setmeta(Model.C(size=2), True), Model.C(size=3)])
        expected = own(
            "test.core.ModelList", {"models": [nested(model_digest(1)), nested(model_digest(3))]}
        )
        assert ident(c) == expected

    def test_setmeta_true_in_dict(self):
        """Items whose value is a meta config are dropped from dicts."""

        class C(Config):
            __xpmid__ = "test.core.ModelDict"
            models: Param[dict[str, Model]]

        c = C.C(models={"a": Model.C(size=1), "b": setmeta(Model.C(size=2), True)})
        assert ident(c) == own("test.core.ModelDict", {"models": {"a": nested(model_digest(1))}})

    def test_setmeta_false_puts_meta_config_in(self):
        """A config in a Meta field marked setmeta(x, False) is part of the identifier."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            x: Param[int]
            m: Meta[Model]

        plain = C.C(x=1, m=Model.C(size=2))
        forced = C.C(x=1, m=setmeta(Model.C(size=2), False))
        assert ident(plain) == own("test.core.LeftOut", {"x": 1})
        assert ident(forced) == own("test.core.LeftOut", {"x": 1, "m": nested(model_digest(2))})

    def test_setmeta_false_on_param_changes_nothing(self):
        """setmeta(x, False) on a Param config keeps it in, as without setmeta."""

        class C(Config):
            __xpmid__ = "test.core.LeftOut"
            m: Param[Model]

        assert ident(C.C(m=setmeta(Model.C(size=2), False))) == ident(C.C(m=Model.C(size=2)))

    def test_setmeta_returns_config(self):
        """setmeta returns the same configuration, for chaining."""
        m = Model.C(size=1)
        assert setmeta(m, True) is m

    def test_setmeta_only_affects_parent(self):
        """A meta config keeps its own identifier; only its parent leaves it out."""
        m = Model.C(size=2)
        before = ident(m)
        setmeta(m, True)
        assert ident(m) == before


class TestDefaults:
    """ignore_default, bare defaults, field(default=...) and Constant."""

    class Twin(Config):
        """The class without the optional field, to compare with."""

        __xpmid__ = "test.core.Twin"
        x: Param[int]

    def test_ignore_default_equal_is_left_out(self):
        """With ignore_default=True, a value equal to the default leaves the field out."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            extra: Param[int] = field(default=4, ignore_default=True)

        assert ident(WithField.C(x=1)) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, extra=4)) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, extra=5)) == own("test.core.Twin", {"x": 1, "extra": 5})

    def test_bare_default_is_ignore_default(self):
        """A bare class default acts as ignore_default=True."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            extra: Param[int] = 4

        assert ident(WithField.C(x=1)) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, extra=4)) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, extra=6)) == own("test.core.Twin", {"x": 1, "extra": 6})

    def test_field_default_always_included(self):
        """field(default=...) is always part of the identifier, implicit or explicit."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            extra: Param[int] = field(default=4)

        implicit = WithField.C(x=1)
        assert implicit.extra == 4
        assert ident(implicit) == ident(WithField.C(x=1, extra=4))
        assert ident(implicit) == own("test.core.Twin", {"x": 1, "extra": 4})
        assert ident(implicit) != ident(self.Twin.C(x=1))

    def test_default_factory_always_included(self):
        """field(default_factory=...) is always part of the identifier."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            extra: Param[list[int]] = field(default_factory=lambda: [1, 2])

        assert ident(WithField.C(x=1)) == own("test.core.Twin", {"x": 1, "extra": [1, 2]})

    def test_default_factory_ignore_default(self):
        """default_factory with ignore_default=True leaves out values equal to the factory's."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            extra: Param[list[int]] = field(default_factory=lambda: [1, 2], ignore_default=True)

        assert ident(WithField.C(x=1)) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, extra=[1, 2])) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, extra=[2])) == own("test.core.Twin", {"x": 1, "extra": [2]})

    def test_config_default_factory_ignore_default(self):
        """A config default from a factory is compared by value for ignore_default."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            m: Param[Model] = field(default_factory=lambda: Model.C(size=3), ignore_default=True)

        assert ident(WithField.C(x=1)) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, m=Model.C(size=3))) == ident(self.Twin.C(x=1))
        assert ident(WithField.C(x=1, m=Model.C(size=4))) == own(
            "test.core.Twin", {"x": 1, "m": nested(model_digest(4))}
        )

    def test_ignore_default_removes_meta_before_comparing(self):
        """Meta configs are removed from a container before comparing it with the default."""

        class WithField(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            models: Param[list[Model]] = field(default_factory=list, ignore_default=True)

        c = WithField.C(x=1, models=[setmeta(Model.C(size=1), True)])
        assert ident(c) == ident(self.Twin.C(x=1))
        d = WithField.C(x=1, models=[Model.C(size=1)])
        assert ident(d) == own("test.core.Twin", {"x": 1, "models": [nested(model_digest(1))]})

    def test_constant_never_left_out(self):
        """A Constant is always part of the identifier, though its default is a bare one."""

        class WithConstant(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            version: Constant[str] = "1.0"

        c = WithConstant.C(x=1)
        assert ident(c) == own("test.core.Twin", {"x": 1, "version": "1.0"})
        assert ident(c) != ident(self.Twin.C(x=1))

    def test_constant_with_ignore_default_field(self):
        """A Constant stays in even when declared with field(ignore_default=True)."""

        class WithConstant(Config):
            __xpmid__ = "test.core.Twin"
            x: Param[int]
            version: Constant[int] = field(default=2, ignore_default=True)

        assert ident(WithConstant.C(x=1)) == own("test.core.Twin", {"x": 1, "version": 2})


# --------------------------------------------------------------------------
# Cycles, instances, tasks
# --------------------------------------------------------------------------


class CycleNode(Config):
    __xpmid__ = "test.core.CycleNode"
    value: Param[int]
    child: Param[Optional["CycleNode"]]


NODE = "test.core.CycleNode"


class TestCycles:
    """A config that (indirectly) references itself."""

    def test_self_reference(self):
        """A config whose field is itself encodes 00 0B i64(1) for it."""
        node = CycleNode.C(value=1)
        node.child = node
        assert ident(node) == own(NODE, {"value": 1, "child": cycle(1)})
        assert node.__identifier__().has_loops

    def test_reference_to_ancestor(self):
        """A child referencing its parent encodes a cycle of distance 2 there."""
        root = CycleNode.C(value=1)
        leaf = CycleNode.C(value=2)
        root.child = leaf
        leaf.child = root  # set later: now a cycle
        leaf_digest = own(NODE, {"value": 2, "child": cycle(2)})
        assert ident(root) == own(NODE, {"value": 1, "child": nested(leaf_digest)})

    def test_three_level_cycle(self):
        """The cycle marker holds the stack depth minus the config's position."""
        a, b, c = CycleNode.C(value=1), CycleNode.C(value=2), CycleNode.C(value=3)
        a.child, b.child, c.child = b, c, a
        c_digest = own(NODE, {"value": 3, "child": cycle(3)})
        b_digest = own(NODE, {"value": 2, "child": nested(c_digest)})
        assert ident(a) == own(NODE, {"value": 1, "child": nested(b_digest)})

    def test_cycle_identifiers_depend_on_entry(self):
        """Each member of a cycle gets its own identifier, computed from where it is entered."""
        root = CycleNode.C(value=1)
        leaf = CycleNode.C(value=2)
        root.child, leaf.child = leaf, root
        root_digest = own(NODE, {"value": 1, "child": cycle(2)})
        assert ident(leaf) == own(NODE, {"value": 2, "child": nested(root_digest)})
        assert ident(root) != ident(leaf)

    def test_cycle_sealed(self):
        """A cyclic config can be sealed, and its identifier stays the same."""
        root = CycleNode.C(value=1)
        leaf = CycleNode.C(value=2, child=root)
        root.child = leaf
        before = ident(root)
        root.seal()
        assert leaf.__xpm__.sealed
        assert ident(root) == before

    def test_no_cycle_no_loop_flag(self):
        """A tree without cycles has has_loops False."""
        leaf = CycleNode.C(value=2)
        root = CycleNode.C(value=1, child=leaf)
        assert not root.__identifier__().has_loops
        assert ident(root) == own(NODE, {"value": 1, "child": nested(own(NODE, {"value": 2}))})


class SubModel(InstanceConfig):
    __xpmid__ = "test.core.SubModel"
    value: Param[int] = 100


class MainModel(Config):
    __xpmid__ = "test.core.MainModel"
    m1: Param[SubModel]
    m2: Param[SubModel]


class PlainSub(Config):
    __xpmid__ = "test.core.SubModel"
    value: Param[int] = 100


class PlainMain(Config):
    __xpmid__ = "test.core.MainModel"
    m1: Param[PlainSub]
    m2: Param[PlainSub]


SUB = own("test.core.SubModel", {})  # value=100 is the bare default: left out


class TestInstanceConfig:
    """InstanceConfig: object identity matters."""

    def test_shared_vs_separate(self):
        """The doc example: shared and separate instances have different identifiers."""
        sm1, sm2 = SubModel.C(), SubModel.C()
        shared = MainModel.C(m1=sm1, m2=sm1)
        separate = MainModel.C(m1=sm1, m2=sm2)
        assert shared.__identifier__() != separate.__identifier__()

    def test_shared_bytes(self):
        """The same object twice adds nothing after its digest."""
        sm1 = SubModel.C()
        shared = MainModel.C(m1=sm1, m2=sm1)
        assert ident(shared) == own("test.core.MainModel", {"m1": nested(SUB), "m2": nested(SUB)})

    def test_separate_bytes(self):
        """The second distinct object with the same digest adds 0D i64(1)."""
        separate = MainModel.C(m1=SubModel.C(), m2=SubModel.C())
        expected = own("test.core.MainModel", {"m1": nested(SUB), "m2": nested(SUB, rank=1)})
        assert ident(separate) == expected

    def test_first_instance_unchanged(self):
        """An instance met once encodes as a plain config would."""
        shared_instance = MainModel.C(m1=SubModel.C(), m2=SubModel.C(value=3))
        plain = PlainMain.C(m1=PlainSub.C(), m2=PlainSub.C(value=3))
        assert ident(shared_instance) == ident(plain)

    def test_plain_config_identity_does_not_matter(self):
        """For a plain Config, shared and separate objects give the same identifier."""
        p1, p2 = PlainSub.C(), PlainSub.C()
        assert ident(PlainMain.C(m1=p1, m2=p1)) == ident(PlainMain.C(m1=p1, m2=p2))

    def test_rank_follows_traversal_order(self):
        """Ranks follow the order of first meeting, not object creation."""
        sm1, sm2 = SubModel.C(), SubModel.C()
        assert ident(MainModel.C(m1=sm1, m2=sm2)) == ident(MainModel.C(m1=sm2, m2=sm1))

    def test_ranks_in_list(self):
        """In a list, each distinct object gets its rank; reuse adds the same rank."""

        class Many(Config):
            __xpmid__ = "test.core.Many"
            subs: Param[list[SubModel]]

        a, b, c = SubModel.C(), SubModel.C(), SubModel.C()
        expected = own(
            "test.core.Many",
            {"subs": [nested(SUB), nested(SUB, 1), nested(SUB, 0), nested(SUB, 2), nested(SUB, 1)]},
        )
        assert ident(Many.C(subs=[a, b, a, c, b])) == expected

    def test_ranks_per_digest(self):
        """Ranks are counted separately for each digest."""

        class Many(Config):
            __xpmid__ = "test.core.Many"
            subs: Param[list[SubModel]]

        other = own("test.core.SubModel", {"value": 1})
        subs = [SubModel.C(), SubModel.C(value=1), SubModel.C(), SubModel.C(value=1)]
        expected = own(
            "test.core.Many",
            {"subs": [nested(SUB), nested(other), nested(SUB, 1), nested(other, 1)]},
        )
        assert ident(Many.C(subs=subs)) == expected


class Trained(Config):
    __xpmid__ = "test.core.Trained"
    size: Param[int]


class Train(Task):
    __xpmid__ = "test.core.Train"
    epochs: Param[int]

    def task_outputs(self, dep):
        return dep(Trained.C(size=3))

    def execute(self):
        pass


class Evaluate(Task):
    __xpmid__ = "test.core.Evaluate"
    model: Param[Trained]

    def execute(self):
        pass


class InitSeed(LightweightTask):
    __xpmid__ = "test.core.InitSeed"
    seed: Param[int]


TRAIN = own("test.core.Train", {"epochs": 2})


def submitted(task):
    """What submit() does to a task before task_outputs: it is its own producer
    (and it gets a job, which lets it be used as a parameter)."""
    task.__xpm__.task = task
    task.__xpm__.job = "fake job"
    return task


class TestTasks:
    """Task outputs (08) and init tasks (0C)."""

    def test_task_is_not_its_own_producer(self):
        """A submitted task has no 08 part: its identifier is that of the plain config."""
        task = submitted(Train.C(epochs=2))
        assert ident(task) == TRAIN

    def test_output_includes_task(self):
        """An output marked by the dependency marker encodes 08 and its task."""
        task = submitted(Train.C(epochs=2))
        output = task.task_outputs(marker_for(task))
        assert output.__xpm__.task is task
        assert ident(output) == own("test.core.Trained", {"size": 3}, task=TRAIN)
        data = b"\x00\x08\x00" + TRAIN + b"test.core.trained\x03size\x05\x01" + i64(3)
        assert ident(output) == hashlib.sha256(data).digest()

    def test_output_differs_by_task(self):
        """The same output value from differently parametrized tasks differs."""
        t1, t2 = submitted(Train.C(epochs=2)), submitted(Train.C(epochs=3))
        o1, o2 = t1.task_outputs(marker_for(t1)), t2.task_outputs(marker_for(t2))
        assert ident(o1) != ident(o2)
        assert ident(o1) != ident(Trained.C(size=3))

    def test_output_as_parameter(self):
        """A task output used by another config is nested with its 08 part."""
        task = submitted(Train.C(epochs=2))
        output = task.task_outputs(marker_for(task))
        evaluate = Evaluate.C(model=output)
        out_digest = own("test.core.Trained", {"size": 3}, task=TRAIN)
        assert ident(evaluate) == own("test.core.Evaluate", {"model": nested(out_digest)})

    def test_submitted_task_as_parameter(self):
        """A submitted task used as a parameter is encoded as a nested config."""

        class UsesTask(Config):
            __xpmid__ = "test.core.UsesTask"
            task: Param[Train]

        task = submitted(Train.C(epochs=2))
        task.seal()
        assert ident(UsesTask.C(task=task)) == own("test.core.UsesTask", {"task": nested(TRAIN)})

    def test_init_tasks(self):
        """Init tasks add 0C then each init task as a nested config, in order."""
        task = submitted(Train.C(epochs=2))
        first, second = InitSeed.C(seed=1), InitSeed.C(seed=2)
        task.__xpm__.init_tasks = [first, second]
        d1 = own("test.core.InitSeed", {"seed": 1})
        d2 = own("test.core.InitSeed", {"seed": 2})
        assert ident(task) == own("test.core.Train", {"epochs": 2}, init_tasks=[d1, d2])
        data = b"\x00test.core.train\x03epochs\x05\x01" + i64(2) + b"\x0c\x00" + d1 + b"\x00" + d2
        assert ident(task) == hashlib.sha256(data).digest()

    def test_init_tasks_order_matters(self):
        """Init tasks in another order give another identifier."""
        a = submitted(Train.C(epochs=2))
        a.__xpm__.init_tasks = [InitSeed.C(seed=1), InitSeed.C(seed=2)]
        b = submitted(Train.C(epochs=2))
        b.__xpm__.init_tasks = [InitSeed.C(seed=2), InitSeed.C(seed=1)]
        assert ident(a) != ident(b)
        assert ident(a) != TRAIN

    def test_output_of_task_with_init_tasks(self):
        """The 08 part of an output holds the task with its init tasks."""
        task = submitted(Train.C(epochs=2))
        task.__xpm__.init_tasks = [InitSeed.C(seed=1)]
        output = task.task_outputs(marker_for(task))
        task_digest = own(
            "test.core.Train", {"epochs": 2}, init_tasks=[own("test.core.InitSeed", {"seed": 1})]
        )
        assert ident(output) == own("test.core.Trained", {"size": 3}, task=task_digest)


# --------------------------------------------------------------------------
# Partial identifiers
# --------------------------------------------------------------------------

training = param_group("training")
data_group = param_group("data")


class Trainer(Task):
    __xpmid__ = "test.core.Trainer"
    model_size: Param[int]
    epochs: Param[int] = field(groups=[training])
    lr: Param[float] = field(default=0.1, groups=[training])
    dataset: Param[str] = field(default="d1", groups=[data_group])


class TestPartial:
    """Partial identifiers leave parameter groups out."""

    def test_excluded_group_ignored(self):
        """Configs differing only in an excluded group share the partial identifier."""
        p = partial(exclude_groups=[training])
        a = Trainer.C(model_size=1, epochs=10)
        b = Trainer.C(model_size=1, epochs=20, lr=0.5)
        assert ident(a) != ident(b)
        assert a.__xpm__.get_partial_identifier(p) == b.__xpm__.get_partial_identifier(p)

    def test_other_params_count(self):
        """Configs differing outside the excluded group have different partial identifiers."""
        p = partial(exclude_groups=[training])
        a = Trainer.C(model_size=1, epochs=10)
        b = Trainer.C(model_size=2, epochs=10)
        c = Trainer.C(model_size=1, epochs=10, dataset="d2")
        pa = a.__xpm__.get_partial_identifier(p)
        assert pa != b.__xpm__.get_partial_identifier(p)
        assert pa != c.__xpm__.get_partial_identifier(p)

    def test_partial_bytes(self):
        """A partial identifier is the own digest without the excluded fields."""
        a = Trainer.C(model_size=1, epochs=10)
        got = a.__xpm__.get_partial_identifier(partial(exclude_groups=[training])).all
        assert got == own("test.core.Trainer", {"model_size": 1, "dataset": "d1"})

    def test_exclude_no_group(self):
        """exclude_no_group leaves out parameters without a group."""
        a = Trainer.C(model_size=1, epochs=10)
        got = a.__xpm__.get_partial_identifier(partial(exclude_no_group=True)).all
        assert got == own("test.core.Trainer", {"epochs": 10, "lr": 0.1, "dataset": "d1"})

    def test_exclude_all_with_include(self):
        """exclude_all leaves out everything except the included groups."""
        a = Trainer.C(model_size=1, epochs=10)
        assert a.__xpm__.get_partial_identifier(partial(exclude_all=True)).all == own(
            "test.core.Trainer", {}
        )
        got = a.__xpm__.get_partial_identifier(
            partial(exclude_all=True, include_groups=[data_group])
        ).all
        assert got == own("test.core.Trainer", {"dataset": "d1"})

    def test_empty_partial_is_full_identifier(self):
        """A partial excluding nothing equals the full identifier."""
        a = Trainer.C(model_size=1, epochs=10)
        assert a.__xpm__.get_partial_identifier(partial()) == a.__identifier__()

    def test_partial_only_at_top_level(self):
        """Nested configs keep their full identifier inside a partial identifier."""

        class Wrapper(Config):
            __xpmid__ = "test.core.Wrapper"
            trainer: Param[Trainer]
            epochs: Param[int] = field(groups=[training])

        t = submitted(Trainer.C(model_size=1, epochs=10))
        w = Wrapper.C(trainer=t, epochs=3)
        got = w.__xpm__.get_partial_identifier(partial(exclude_groups=[training])).all
        assert got == own("test.core.Wrapper", {"trainer": nested(ident(t))})


# --------------------------------------------------------------------------
# Deprecation
# --------------------------------------------------------------------------


class NewConfig(Config):
    __xpmid__ = "test.core.NewConfig"
    values: Param[list[int]]


@deprecate
class OldSubclass(NewConfig):
    pass


@deprecate(NewConfig)
class OldConverted(Config):
    __xpmid__ = "test.core.OldConverted"
    value: Param[int]

    def __convert__(self):
        return NewConfig.C(values=[self.value])


@deprecate(NewConfig, replace=True)
class OldReplaced(Config):
    __xpmid__ = "test.core.OldReplaced"
    value: Param[int]

    def __convert__(self):
        return NewConfig.C(values=[self.value])


class TestDeprecation:
    """Deprecated classes are identified as their replacement."""

    def test_simple_deprecation(self):
        """A @deprecate subclass has the identifier of its parent."""
        old = OldSubclass.C(values=[1, 2])
        assert isinstance(old, OldSubclass)
        assert ident(old) == ident(NewConfig.C(values=[1, 2]))
        assert ident(old) == own("test.core.NewConfig", {"values": [1, 2]})

    def test_conversion(self):
        """@deprecate(New) with __convert__ has the identifier of the converted config."""
        old = OldConverted.C(value=3)
        assert isinstance(old, OldConverted)
        assert ident(old) == ident(NewConfig.C(values=[3]))
        assert ident(old) != ident(OldConverted.C(value=4))

    def test_conversion_nested(self):
        """A deprecated config nested in another is identified as its conversion."""

        class Holder(Config):
            __xpmid__ = "test.core.DepHolder"
            inner: Param[Config]

        assert ident(Holder.C(inner=OldConverted.C(value=3))) == ident(
            Holder.C(inner=NewConfig.C(values=[3]))
        )
        assert ident(Holder.C(inner=OldSubclass.C(values=[3]))) == ident(
            Holder.C(inner=NewConfig.C(values=[3]))
        )

    def test_replace(self):
        """@deprecate(New, replace=True) gives the converted New config at construction."""
        new = OldReplaced.C(value=5)
        assert isinstance(new, NewConfig)
        assert not isinstance(new, OldReplaced)
        assert new.values == [5]
        assert ident(new) == ident(NewConfig.C(values=[5]))
