"""A corpus of configs whose identifiers must be byte-identical across packages.

The same code builds the corpus with the reference (``experimaestro``, run in its
own virtual environment by ``ref_ids.py``) and with ``xpm_nb`` (in the test
process): ``build(pkg_name)`` imports the package by name and defines every
class from its public names. Every class sets ``__xpmid__`` so that type ids do
not depend on where this module is imported from; enums, whose encoding uses
``module.qualname``, are pinned the same way (``_pin``).

No ``from __future__ import annotations`` here: the annotations of the classes
defined inside the builders must be evaluated eagerly, in the builder's scope.

Each case is ``(name, make)`` where ``make()`` returns a config, or an
``Identifier`` (partial identifiers); ``identify`` turns that into hex.
Building happens inside ``make`` so that an error is confined to its case.
"""

import enum
import importlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Generic, Optional, TypeVar

Case = tuple[str, Callable[[], object]]

# The spec's test vectors (/work/shared/specs/identifiers.md): name -> hex.
# Classes carry ``__xpmid__ = "test.stability.<Name>"`` (``spec_classes``); the
# configs are made by ``build_spec``. tests/core/test_identifier_rules.py checks
# these too (with xpm_nb alone, against its hand-written encoder).
SPEC_VECTORS: list[tuple[str, str]] = [
    ("ConfigInt", "dddd2297650a3601b683248175a6ff15ccdc97c49a151f185b14a7c260cdebc8"),
    ("ConfigStr", "772227a98d05cab98685b3a11771b768a001fa590a105a77ff4c72663733cf2b"),
    ("ConfigBool", "0d4efdb48a2e365a0923907b3c7d0bd3a10a8f6ee28bfdc65b66e201780eb281"),
    ("ConfigFloat", "ffc667ce1243f8e175113ca29a5a376966006e45beb13b13a5230b1530c7fa8b"),
    ("ConfigList", "a5ac5787814b782a1017adf9de848e14b58fd459fa7a056136f37d554aba5812"),
    ("ConfigDict", "1956fbf23e86b88ceacd0e237e872f7f202d3539337ddf88924d6f4a5c931033"),
    ("ConfigNested", "d958cded439ee491aaa93ac5f718533c25b6f5f24909fd8a63b619a59401cb71"),
    ("ConfigFieldDefault", "36a5c46f7071e7f852d5ec1a1bd54c12fa4663919189ea7dd75899957f7d3fe1"),
    (
        "ConfigFieldDefaultIgnore",
        "8ff53d47b42366b2075a35229242d5f658a4289f82c80b09c017f053ac4fbd07",
    ),
    ("SimpleTask", "fc182ecda95de73e0ad32acf5dc0378bbb432f21475ba2f2658891a44e935fd6"),
]

# Spec vectors that need a submission (in dry-run, inside an experiment).
SPEC_SUBMITTED = {"SimpleTask"}

# Cases where the reference raises, on purpose (values the format rejects,
# values the reference refuses). The other package must raise too.
EXPECTED_ERRORS = {
    "int/above_int64",
    "int/below_int64",
    "int/fractional_float",
    "int/exponent_str",
    "int/word_str",
    "float/word_str",
    "bool/int_two",
    "bool/padded_str",
    "str/int_in_str_field",
    "tuple/value",
    "path/inside_list",
    "set/plain_set_of_configs",
    "constant/set_explicitly",
    # the reference only takes a task as a parameter once it was submitted
    "task/as_param_unsubmitted",
    "submitted/simple/unsubmitted_as_param",
    # fields sharing a type variable disagree; a generic of the wrong type argument
    "generic/pair_conflict",
    "generic/wrong_type_argument",
}

# Cases the reference accepts and xpm_nb refuses on purpose. None any more: like
# the reference, xpm_nb converts lossless values (True or 1.0 to an int field,
# '1e-3' to a float field, ...), and the identifiers must then be equal.
XPM_NB_STRICTER: set[str] = set()

# What the identifier rules imply between cases (checked on both packages, so
# that a case testing nothing, or testing the wrong thing, is noticed).
SAME_ID = [
    ("tag/int", "int/positive"),
    ("int/str_in_int_field", "int/positive"),
    ("int/bool_in_int_field", "int/float_in_int_field"),
    ("float/int_str", "float/int_in_float_field"),
    ("float/bool_in_float_field", "float/one"),
    ("bool/int_one", "bool/true"),
    ("bool/str_false", "bool/false"),
    ("tag/str", "str/simple"),
    ("tag/method", "int/positive"),
    ("meta/other_meta_values", "meta/base"),
    ("meta/only_meta_in_list", "meta/base"),
    ("meta/setmeta_false_in_meta_list", "meta/base"),
    ("option/default", "option/override"),
    ("default/config_factory_ignore/implicit", "default/config_factory_ignore/equal"),
    ("float/ints_in_float_containers", "float/floats_in_float_containers"),
    ("path/fields_a", "path/fields_b"),
    ("deprecate/subclass", "int/positive"),
    ("deprecate/convert", "deprecate/convert_target"),
    ("deprecate/replace", "deprecate/convert_target"),
    ("deprecate/parameter", "deprecate/convert_target"),
    ("default/field_default/implicit", "default/field_default/equal"),
    ("default/field_default_ignore/implicit", "default/field_default_ignore/equal"),
    ("default/factory/implicit", "default/factory/equal"),
    ("default/factory_ignore/implicit", "default/factory_ignore/equal"),
    ("default/bare/implicit", "default/bare/equal"),
    ("default/bare/int_for_float_default", "default/bare/implicit"),
    ("default/ignore_list/implicit", "default/ignore_list/only_meta"),
    ("default/config_factory/implicit", "default/config_factory/equal"),
    ("default/meta_factory/implicit", "default/meta_factory/explicit"),
    ("constant/implicit", "constant/param_equal_default"),
    ("nested/same_object_twice", "nested/equal_objects"),
    ("float/int_in_float_field", "float/one"),
    ("dict/str_keys", "dict/str_keys_reversed"),
    ("set/sealed_equal_configs", "set/sealed_with_meta"),
    ("optional/all_unset", "optional/none_explicit"),
    ("partial/exclude_training_a", "partial/exclude_training_b"),
    ("partial/exclude_nothing", "partial/full_a"),
    ("submitted/simple/task", "submitted/simple/twice"),
]
DIFFERENT_ID = [
    ("instance/shared", "instance/separate"),
    ("float/zero", "float/negative_zero"),
    ("meta/setmeta_false_in_list", "meta/base"),
    ("meta/setmeta_false_on_meta_field", "meta/base"),
    ("meta/setmeta_true_on_param_field", "meta/base"),
    ("default/field_default/implicit", "default/field_default/different"),
    ("default/field_default_ignore/implicit", "default/field_default_ignore/different"),
    ("default/ignore_optional/none", "default/ignore_optional/equal"),
    ("inherit/override_default", "inherit/override_explicit"),
    ("partial/full_a", "partial/full_b"),
    ("partial/exclude_model", "partial/exclude_training_a"),
    ("cycle/self", "cycle/none_is_no_cycle"),
    ("submitted/train/output", "submitted/train/unmarked_model"),
    ("submitted/init/two", "submitted/init/two_reversed"),
    ("submitted/init/one", "submitted/init/none"),
]


def _pin(cls, qualname: str):
    """Make an enum's ``module.qualname`` independent of where it is defined."""
    cls.__module__ = "test_interop"
    cls.__qualname__ = qualname
    return cls


def _load(pkg_name):
    """The package named ``pkg_name`` (or ``pkg_name`` itself if not a str)."""
    return importlib.import_module(pkg_name) if isinstance(pkg_name, str) else pkg_name


def identify(obj) -> str:
    """Hex identifier of a config (or of an already computed Identifier)."""
    ident = obj.__identifier__() if hasattr(obj, "__identifier__") else obj
    return ident.all.hex()


def build(pkg_name: str) -> list[Case]:
    """Cases that need no experiment."""
    pkg = _load(pkg_name)
    Config, Task, LightweightTask = pkg.Config, pkg.Task, pkg.LightweightTask
    InstanceConfig = pkg.InstanceConfig
    Param, Meta, Constant, DataPath = pkg.Param, pkg.Meta, pkg.Constant, pkg.DataPath
    field, setmeta, tag = pkg.field, pkg.setmeta, pkg.tag

    cases: list[Case] = []

    def add(name: str, make: Callable[[], object]) -> None:
        cases.append((name, make))

    # ---- Scalars ----------------------------------------------------------

    class CInt(Config):
        __xpmid__ = "test.interop.CInt"
        x: Param[int]

    class CFloat(Config):
        __xpmid__ = "test.interop.CFloat"
        f: Param[float]

    class CStr(Config):
        __xpmid__ = "test.interop.CStr"
        s: Param[str]

    class CBool(Config):
        __xpmid__ = "test.interop.CBool"
        b: Param[bool]

    add("int/positive", lambda: CInt.C(x=42))
    add("int/negative", lambda: CInt.C(x=-10))
    add("int/zero", lambda: CInt.C(x=0))
    add("int/max_int64", lambda: CInt.C(x=2**63 - 1))
    add("int/min_int64", lambda: CInt.C(x=-(2**63)))
    add("int/above_int64", lambda: CInt.C(x=2**63))  # error: out of i64
    add("int/below_int64", lambda: CInt.C(x=-(2**63) - 1))  # error: out of i64
    add("int/bool_in_int_field", lambda: CInt.C(x=True))  # same bytes as x=1
    add("int/float_in_int_field", lambda: CInt.C(x=1.0))  # reference coerces to 1
    # lossless conversions (YAML reads `lr: 1e-3` as a str; CLI overrides are str)
    add("int/str_in_int_field", lambda: CInt.C(x="42"))  # same bytes as x=42
    add("int/float_str_in_int_field", lambda: CInt.C(x=" 5.0 "))  # 5
    add("int/underscored_str", lambda: CInt.C(x="1_000"))  # 1000
    add("int/bytes_in_int_field", lambda: CInt.C(x=b"7"))
    add("int/fractional_float", lambda: CInt.C(x=1.5))  # error: not lossless
    add("int/exponent_str", lambda: CInt.C(x="1e3"))  # error: refused by the reference
    add("int/word_str", lambda: CInt.C(x="abc"))  # error
    add("float/exponent_str", lambda: CFloat.C(f="1e-3"))
    add("float/int_str", lambda: CFloat.C(f="1"))  # same bytes as f=1.0
    add("float/inf_str", lambda: CFloat.C(f="-inf"))
    add("float/bool_in_float_field", lambda: CFloat.C(f=True))  # 1.0
    add("float/word_str", lambda: CFloat.C(f="abc"))  # error
    add("bool/int_one", lambda: CBool.C(b=1))
    add("bool/float_zero", lambda: CBool.C(b=0.0))
    add("bool/str_yes", lambda: CBool.C(b="YES"))
    add("bool/str_false", lambda: CBool.C(b="false"))
    add("bool/str_zero", lambda: CBool.C(b="0"))
    add("bool/int_two", lambda: CBool.C(b=2))  # error
    add("bool/padded_str", lambda: CBool.C(b=" true"))  # error: not stripped
    add("str/int_in_str_field", lambda: CStr.C(s=5))  # error: no conversion to str
    add("bool/true", lambda: CBool.C(b=True))
    add("bool/false", lambda: CBool.C(b=False))
    add("float/simple", lambda: CFloat.C(f=3.14))
    add("float/zero", lambda: CFloat.C(f=0.0))
    add("float/negative_zero", lambda: CFloat.C(f=-0.0))  # distinct bytes from 0.0
    add("float/huge", lambda: CFloat.C(f=1e300))
    add("float/tiny_negative", lambda: CFloat.C(f=-1e-300))
    add("float/subnormal", lambda: CFloat.C(f=5e-324))
    add("float/inf", lambda: CFloat.C(f=float("inf")))
    add("float/minus_inf", lambda: CFloat.C(f=float("-inf")))
    add("float/int_in_float_field", lambda: CFloat.C(f=1))  # must encode as 1.0
    add("float/one", lambda: CFloat.C(f=1.0))

    class CFloatList(Config):
        __xpmid__ = "test.interop.CFloatList"
        fs: Param[list[float]]
        fd: Param[dict[str, float]]

    add("float/ints_in_float_containers", lambda: CFloatList.C(fs=[1, 2.5], fd={"a": 3}))
    add("float/floats_in_float_containers", lambda: CFloatList.C(fs=[1.0, 2.5], fd={"a": 3.0}))
    add("str/simple", lambda: CStr.C(s="hello"))
    add("str/empty", lambda: CStr.C(s=""))
    add("str/unicode", lambda: CStr.C(s="héllo wörld 🌍 日本語"))
    add("str/nul_char", lambda: CStr.C(s="a\x00b"))
    add("str/long", lambda: CStr.C(s="xyz" * 5000))

    # ---- Optional / None --------------------------------------------------

    class COpt(Config):
        __xpmid__ = "test.interop.COpt"
        a: Param[Optional[int]]  # no default
        b: Param[Optional[int]] = field(default=None)
        c: Param[Optional[str]] = field(default="dflt")

    class CBareNone(Config):
        __xpmid__ = "test.interop.CBareNone"
        a: Param[Optional[int]] = None
        y: Param[int]

    add("optional/all_unset", lambda: COpt.C())
    add("optional/none_explicit", lambda: COpt.C(a=None, b=None))
    add("optional/values", lambda: COpt.C(a=1, b=2, c="z"))
    add("optional/none_over_default", lambda: COpt.C(c=None))  # None != "dflt": kept
    add("optional/bare_none_default", lambda: CBareNone.C(y=1))
    add("optional/bare_none_set", lambda: CBareNone.C(a=3, y=1))

    class COption(Config):  # Option: the older spelling of Meta
        __xpmid__ = "test.interop.COption"
        required: Param[int]
        optional: pkg.Option[int] = field(default=42, ignore_default=True)

    add("option/default", lambda: COption.C(required=5))
    add("option/override", lambda: COption.C(required=5, optional=100))

    # ---- Lists ------------------------------------------------------------

    class CListInt(Config):
        __xpmid__ = "test.interop.CListInt"
        items: Param[list[int]]

    class CListNested(Config):
        __xpmid__ = "test.interop.CListNested"
        items: Param[list[list[int]]]

    class CListCfg(Config):
        __xpmid__ = "test.interop.CListCfg"
        items: Param[list[CInt]]

    class CListOpt(Config):
        __xpmid__ = "test.interop.CListOpt"
        items: Param[list[Optional[int]]]

    add("list/empty", lambda: CListInt.C(items=[]))
    add("list/single", lambda: CListInt.C(items=[1]))
    add("list/multiple", lambda: CListInt.C(items=[5, 4, 3, 2, 1]))
    add("list/nested", lambda: CListNested.C(items=[[1, 2], [], [3]]))
    add("list/nested_empty_inner", lambda: CListNested.C(items=[[]]))
    add("list/configs", lambda: CListCfg.C(items=[CInt.C(x=1), CInt.C(x=2)]))
    add("list/configs_empty", lambda: CListCfg.C(items=[]))

    def same_in_list():
        c = CInt.C(x=7)
        return CListCfg.C(items=[c, c])

    add("list/same_config_twice", same_in_list)
    add("list/optional_elements", lambda: CListOpt.C(items=[1, None, 3]))

    # ---- Dicts ------------------------------------------------------------

    class CDictStr(Config):
        __xpmid__ = "test.interop.CDictStr"
        m: Param[dict[str, int]]

    class CDictInt(Config):
        __xpmid__ = "test.interop.CDictInt"
        m: Param[dict[int, str]]

    class CDictCfg(Config):
        __xpmid__ = "test.interop.CDictCfg"
        m: Param[dict[str, CInt]]

    class CDictList(Config):
        __xpmid__ = "test.interop.CDictList"
        m: Param[dict[str, list[int]]]

    add("dict/empty", lambda: CDictStr.C(m={}))
    add("dict/str_keys", lambda: CDictStr.C(m={"a": 1, "b": 2, "c": 3}))
    add("dict/str_keys_reversed", lambda: CDictStr.C(m={"c": 3, "b": 2, "a": 1}))
    add("dict/unicode_keys", lambda: CDictStr.C(m={"é": 1, "z": 2, "A": 3}))
    add("dict/int_keys", lambda: CDictInt.C(m={2: "b", 1: "a", -5: "z"}))
    add("dict/config_values", lambda: CDictCfg.C(m={"y": CInt.C(x=2), "x": CInt.C(x=1)}))
    add("dict/list_values", lambda: CDictList.C(m={"k": [1, 2], "e": []}))

    # ---- Enums ------------------------------------------------------------

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 2

    class Mode(str, enum.Enum):
        TRAIN = "train"
        EVAL = "eval"

    _pin(Color, "Color")
    _pin(Level, "Level")
    _pin(Mode, "Mode")

    class CEnum(Config):
        __xpmid__ = "test.interop.CEnum"
        c: Param[Color]

    class CIntEnum(Config):
        __xpmid__ = "test.interop.CIntEnum"
        level: Param[Level]

    class CStrEnum(Config):
        __xpmid__ = "test.interop.CStrEnum"
        mode: Param[Mode]

    class CEnumList(Config):
        __xpmid__ = "test.interop.CEnumList"
        colors: Param[list[Color]]

    add("enum/plain", lambda: CEnum.C(c=Color.GREEN))
    add("enum/int_enum", lambda: CIntEnum.C(level=Level.HIGH))
    add("enum/str_enum", lambda: CStrEnum.C(mode=Mode.EVAL))
    add("enum/list", lambda: CEnumList.C(colors=[Color.RED, Color.GREEN, Color.RED]))

    # ---- Sets -------------------------------------------------------------

    class CSetInt(Config):
        __xpmid__ = "test.interop.CSetInt"
        s: Param[set[int]]

    class CSetStr(Config):
        __xpmid__ = "test.interop.CSetStr"
        s: Param[set[str]]

    class CSetCfg(Config):
        __xpmid__ = "test.interop.CSetCfg"
        s: Param[set[CInt]]

    class CSetEnum(Config):
        __xpmid__ = "test.interop.CSetEnum"
        s: Param[set[Color]]

    add("set/empty", lambda: CSetInt.C(s=set()))
    add("set/ints", lambda: CSetInt.C(s={3, 1, 2, -7}))
    add("set/strs", lambda: CSetStr.C(s={"b", "a", "ü"}))
    add("set/enums", lambda: CSetEnum.C(s={Color.RED, Color.GREEN}))
    add(
        "set/sealed_configs",
        lambda: CSetCfg.C(s=pkg.sealed_set(CInt.C(x=1), CInt.C(x=2), CInt.C(x=3))),
    )
    add("set/sealed_equal_configs", lambda: CSetCfg.C(s=pkg.sealed_set(CInt.C(x=1), CInt.C(x=1))))
    add(
        "set/sealed_with_meta",
        lambda: CSetCfg.C(s=pkg.sealed_set(CInt.C(x=1), setmeta(CInt.C(x=2), True))),
    )
    # error in the reference: unsealed configs are not hashable
    add("set/plain_set_of_configs", lambda: CSetCfg.C(s={CInt.C(x=1), CInt.C(x=2)}))

    # ---- Values the format rejects ----------------------------------------

    class CTuple(Config):
        __xpmid__ = "test.interop.CTuple"
        t: Param[tuple[int, int]]

    class CPathList(Config):
        __xpmid__ = "test.interop.CPathList"
        paths: Param[list[Path]]

    add("tuple/value", lambda: CTuple.C(t=(1, 2)))  # error: tuple
    add("path/inside_list", lambda: CPathList.C(paths=[Path("/a")]))  # error: Path in a list
    add("path/empty_list", lambda: CPathList.C(paths=[]))

    # ---- Nested configs ---------------------------------------------------

    class Inner(Config):
        __xpmid__ = "test.interop.Inner"
        x: Param[int]

    class Mid(Config):
        __xpmid__ = "test.interop.Mid"
        inner: Param[Inner]
        label: Param[str]

    class Outer(Config):
        __xpmid__ = "test.interop.Outer"
        mid: Param[Mid]
        extra: Param[Inner]

    class Pair(Config):
        __xpmid__ = "test.interop.Pair"
        a: Param[CInt]
        b: Param[CInt]

    add("nested/one_level", lambda: Mid.C(inner=Inner.C(x=1), label="m"))
    add(
        "nested/three_levels",
        lambda: Outer.C(mid=Mid.C(inner=Inner.C(x=1), label="m"), extra=Inner.C(x=2)),
    )

    def same_object_twice():
        c = CInt.C(x=5)
        return Pair.C(a=c, b=c)

    add("nested/same_object_twice", same_object_twice)
    add("nested/equal_objects", lambda: Pair.C(a=CInt.C(x=5), b=CInt.C(x=5)))

    def shared_deep():
        i = Inner.C(x=3)
        return Outer.C(mid=Mid.C(inner=i, label="s"), extra=i)

    add("nested/shared_across_levels", shared_deep)

    # ---- InstanceConfig ---------------------------------------------------

    class SubModel(InstanceConfig):
        __xpmid__ = "test.interop.SubModel"
        value: Param[int] = 100  # bare default, as in the documentation

    class MainModel(Config):
        __xpmid__ = "test.interop.MainModel"
        m1: Param[SubModel]
        m2: Param[SubModel]

    class InstList(Config):
        __xpmid__ = "test.interop.InstList"
        items: Param[list[SubModel]]

    class InstWrap(Config):
        __xpmid__ = "test.interop.InstWrap"
        sub: Param[SubModel]

    class InstPair(Config):
        __xpmid__ = "test.interop.InstPair"
        a: Param[InstWrap]
        b: Param[InstWrap]

    add("instance/alone", lambda: SubModel.C())

    def inst_shared():
        sm = SubModel.C()
        return MainModel.C(m1=sm, m2=sm)

    add("instance/shared", inst_shared)
    add("instance/separate", lambda: MainModel.C(m1=SubModel.C(), m2=SubModel.C()))
    add(
        "instance/different_values",
        lambda: MainModel.C(m1=SubModel.C(value=1), m2=SubModel.C(value=2)),
    )

    def inst_list():
        s1, s2, s3 = SubModel.C(), SubModel.C(), SubModel.C()
        return InstList.C(items=[s1, s2, s1, s3, s2])

    add("instance/list_order", inst_list)

    def inst_across_nested():
        # the instance order is shared by the nested digests of a and b
        return InstPair.C(a=InstWrap.C(sub=SubModel.C()), b=InstWrap.C(sub=SubModel.C()))

    add("instance/across_nested_configs", inst_across_nested)

    def inst_same_wrap():
        sm = SubModel.C()
        return InstPair.C(a=InstWrap.C(sub=sm), b=InstWrap.C(sub=sm))

    add("instance/shared_across_nested", inst_same_wrap)

    # ---- Cycles -----------------------------------------------------------

    class Node(Config):
        __xpmid__ = "test.interop.Node"
        name: Param[str]
        next: Param[Optional[Config]] = None

    class NodeList(Config):
        __xpmid__ = "test.interop.NodeList"
        name: Param[str]
        children: Param[list[Config]] = field(default_factory=list)

    def self_loop():
        n = Node.C(name="a")
        n.next = n
        return n

    def two_cycle():
        a = Node.C(name="a")
        a.next = Node.C(name="b", next=a)
        return a

    def three_cycle():
        a = Node.C(name="a")
        a.next = Node.C(name="b", next=Node.C(name="c", next=a))
        return a

    def cycle_below_root():
        a = Node.C(name="a")
        a.next = Node.C(name="b", next=a)
        return Node.C(name="root", next=a)

    def cycle_in_list():
        parent = NodeList.C(name="p")
        parent.children = [NodeList.C(name="c1", children=[parent]), Node.C(name="leaf")]
        return parent

    add("cycle/self", self_loop)
    add("cycle/two", two_cycle)
    add("cycle/three", three_cycle)
    add("cycle/below_root", cycle_below_root)
    add("cycle/through_list", cycle_in_list)

    class NodeDict(Config):
        __xpmid__ = "test.interop.NodeDict"
        name: Param[str]
        links: Param[dict[str, Config]] = field(default_factory=dict)

    def cycle_in_dict():
        a = NodeDict.C(name="a")
        a.links = {"self": a, "other": NodeDict.C(name="b", links={"back": a})}
        return a

    add("cycle/through_dict", cycle_in_dict)
    add("cycle/none_is_no_cycle", lambda: Node.C(name="a"))

    # ---- Meta fields and setmeta ------------------------------------------

    class WithMeta(Config):
        __xpmid__ = "test.interop.WithMeta"
        a: Param[CInt]
        m: Meta[CInt]
        mi: Meta[int]
        lst: Param[list[CInt]] = field(default_factory=list)
        d: Param[dict[str, CInt]] = field(default_factory=dict)
        ml: Meta[list[CInt]] = field(default_factory=list)

    def wm(a=None, m=None, mi=3, **kw):
        return WithMeta.C(a=a or CInt.C(x=1), m=m or CInt.C(x=2), mi=mi, **kw)

    add("meta/base", lambda: wm())
    add("meta/other_meta_values", lambda: wm(m=CInt.C(x=99), mi=42))  # same as base
    add("meta/setmeta_false_on_meta_field", lambda: wm(m=setmeta(CInt.C(x=2), False)))
    add("meta/setmeta_true_on_param_field", lambda: wm(a=setmeta(CInt.C(x=1), True)))
    add("meta/setmeta_true_in_list", lambda: wm(lst=[CInt.C(x=4), setmeta(CInt.C(x=5), True)]))
    add("meta/setmeta_false_in_list", lambda: wm(lst=[CInt.C(x=4), setmeta(CInt.C(x=5), False)]))
    # setmeta(False) only brings back a config that is the field's value itself
    add("meta/setmeta_false_in_meta_list", lambda: wm(ml=[setmeta(CInt.C(x=5), False)]))
    add("meta/only_meta_in_list", lambda: wm(lst=[setmeta(CInt.C(x=5), True)]))
    add(
        "meta/setmeta_true_in_dict",
        lambda: wm(d={"k": CInt.C(x=4), "j": setmeta(CInt.C(x=5), True)}),
    )
    add(
        "meta/setmeta_true_nested_deeper",
        lambda: Outer.C(
            mid=Mid.C(inner=setmeta(Inner.C(x=1), True), label="m"), extra=Inner.C(x=2)
        ),
    )

    # ---- Paths ------------------------------------------------------------

    class WithPath(Config):
        __xpmid__ = "test.interop.WithPath"
        x: Param[int]
        p: Param[Path]
        m: Meta[Path]
        d: DataPath

    add("path/fields_a", lambda: WithPath.C(x=1, p=Path("/a"), m=Path("/b"), d=Path("/c")))
    add("path/fields_b", lambda: WithPath.C(x=1, p=Path("/x"), m=Path("/y"), d=Path("/z")))

    # ---- Defaults ---------------------------------------------------------

    class FD(Config):
        __xpmid__ = "test.interop.FD"
        a: Param[int] = field(default=10)
        b: Param[int]

    class FDI(Config):
        __xpmid__ = "test.interop.FDI"
        a: Param[int] = field(default=10, ignore_default=True)
        b: Param[int]

    class FF(Config):
        __xpmid__ = "test.interop.FF"
        a: Param[int] = field(default_factory=lambda: 10)
        b: Param[int]

    class FFI(Config):
        __xpmid__ = "test.interop.FFI"
        a: Param[int] = field(default_factory=lambda: 10, ignore_default=True)
        b: Param[int]

    class Bare(Config):
        __xpmid__ = "test.interop.Bare"
        a: Param[int] = 3
        s: Param[str] = "hi"
        f: Param[float] = 1.0
        b: Param[int]

    for cls, key in (
        (FD, "field_default"),
        (FDI, "field_default_ignore"),
        (FF, "factory"),
        (FFI, "factory_ignore"),
    ):
        add(f"default/{key}/implicit", lambda cls=cls: cls.C(b=5))
        add(f"default/{key}/equal", lambda cls=cls: cls.C(a=10, b=5))
        add(f"default/{key}/different", lambda cls=cls: cls.C(a=20, b=5))
    add("default/bare/implicit", lambda: Bare.C(b=1))
    add("default/bare/equal", lambda: Bare.C(a=3, s="hi", f=1.0, b=1))
    add("default/bare/different", lambda: Bare.C(a=4, s="ho", b=1))
    add("default/bare/int_for_float_default", lambda: Bare.C(f=1, b=1))

    class FDList(Config):
        __xpmid__ = "test.interop.FDList"
        lst: Param[list[CInt]] = field(default=[], ignore_default=True)

    add("default/ignore_list/implicit", lambda: FDList.C())
    add("default/ignore_list/only_meta", lambda: FDList.C(lst=[setmeta(CInt.C(x=1), True)]))
    add("default/ignore_list/one", lambda: FDList.C(lst=[CInt.C(x=1)]))

    class FFCfg(Config):
        __xpmid__ = "test.interop.FFCfg"
        c: Param[CInt] = field(default_factory=lambda: CInt.C(x=1))

    add("default/config_factory/implicit", lambda: FFCfg.C())
    add("default/config_factory/equal", lambda: FFCfg.C(c=CInt.C(x=1)))
    add("default/config_factory/different", lambda: FFCfg.C(c=CInt.C(x=2)))

    class FFCfgI(Config):
        __xpmid__ = "test.interop.FFCfgI"
        c: Param[CInt] = field(default_factory=lambda: CInt.C(x=1), ignore_default=True)

    add("default/config_factory_ignore/implicit", lambda: FFCfgI.C())
    add("default/config_factory_ignore/equal", lambda: FFCfgI.C(c=CInt.C(x=1)))
    add("default/config_factory_ignore/different", lambda: FFCfgI.C(c=CInt.C(x=2)))

    class FDIOpt(Config):
        __xpmid__ = "test.interop.FDIOpt"
        a: Param[Optional[int]] = field(default=5, ignore_default=True)

    add("default/ignore_optional/none", lambda: FDIOpt.C(a=None))
    add("default/ignore_optional/equal", lambda: FDIOpt.C())

    class MetaFactory(Config):
        __xpmid__ = "test.interop.MetaFactory"
        mi: Meta[int] = field(default_factory=lambda: 7)
        mc: Meta[CInt] = field(default_factory=lambda: CInt.C(x=1))
        y: Param[int]

    add("default/meta_factory/implicit", lambda: MetaFactory.C(y=1))
    add("default/meta_factory/explicit", lambda: MetaFactory.C(y=1, mi=8, mc=CInt.C(x=9)))

    # ---- Constants ---------------------------------------------------------

    class K(Config):
        __xpmid__ = "test.interop.K"
        c: Constant[int] = 3
        version: Constant[str] = "1.0"
        y: Param[int] = 5

    add("constant/implicit", lambda: K.C())
    add("constant/param_equal_default", lambda: K.C(y=5))
    add("constant/param_different", lambda: K.C(y=6))
    add("constant/set_explicitly", lambda: K.C(c=4))  # error: read-only

    # ---- PathGenerator -----------------------------------------------------

    class GenTask(Task):
        __xpmid__ = "test.interop.GenTask"
        x: Param[int]
        out: Meta[Path] = field(default_factory=pkg.PathGenerator("out.txt"))

        def execute(self):
            pass

    class GenCfg(Config):
        __xpmid__ = "test.interop.GenCfg"
        x: Param[int]
        p: Param[Path] = field(default_factory=pkg.PathGenerator("p.bin"))

    add("pathgen/task_meta", lambda: GenTask.C(x=1))
    add("pathgen/config_param_path", lambda: GenCfg.C(x=1))

    # ---- Inheritance -------------------------------------------------------

    class Base(Config):
        __xpmid__ = "test.interop.Base"
        m: Param[int]

    class Child(Base):
        __xpmid__ = "test.interop.Child"
        a: Param[int]
        z: Param[str]

    class GrandChild(Child):
        __xpmid__ = "test.interop.GrandChild"
        b: Param[float]

    class Overrides(Base):
        __xpmid__ = "test.interop.Overrides"
        m: Param[int] = field(default=4, overrides=True)

    add("inherit/base", lambda: Base.C(m=1))
    add("inherit/child", lambda: Child.C(m=1, a=2, z="z"))
    add("inherit/grandchild", lambda: GrandChild.C(m=1, a=2, z="z", b=0.5))
    add("inherit/override_default", lambda: Overrides.C())
    add("inherit/override_explicit", lambda: Overrides.C(m=1))

    # ---- Tags (never change the identifier) --------------------------------

    add("tag/int", lambda: CInt.C(x=tag(42)))
    add("tag/str", lambda: CStr.C(s=tag("hello")))
    add("tag/nested", lambda: Mid.C(inner=Inner.C(x=tag(1)), label=tag("m")))

    def tag_method():
        c = CInt.C(x=42)
        c.tag("extra", 3)
        return c

    add("tag/method", tag_method)

    # ---- Tasks as plain configs (not submitted) ----------------------------

    class TaskA(Task):
        __xpmid__ = "test.interop.TaskA"
        x: Param[int]
        cfg: Param[CInt]

        def execute(self):
            pass

    class Lw(LightweightTask):
        __xpmid__ = "test.interop.Lw"
        p: Param[int]

        def execute(self):
            pass

    class HoldsTask(Config):
        __xpmid__ = "test.interop.HoldsTask"
        t: Param[TaskA]

    add("task/plain", lambda: TaskA.C(x=1, cfg=CInt.C(x=2)))
    add("task/lightweight", lambda: Lw.C(p=1))
    add("task/as_param_unsubmitted", lambda: HoldsTask.C(t=TaskA.C(x=1, cfg=CInt.C(x=2))))

    # ---- Partial identifiers -----------------------------------------------

    g_train = pkg.param_group("training")
    g_model = pkg.param_group("model")

    class PT(Task):
        __xpmid__ = "test.interop.PT"
        size: Param[int] = field(groups=[g_model])
        enc: Param[CInt] = field(groups=[g_model])
        lr: Param[float] = field(groups=[g_train])
        epochs: Param[int] = field(default=10, groups=[g_train])
        both: Param[int] = field(default=0, groups=[g_train, g_model])
        seed: Param[int]
        ck: Meta[Path] = field(
            default_factory=pkg.PathGenerator(
                "model.pt", partial=pkg.partial(exclude_groups=[g_train])
            )
        )

        def execute(self):
            pass

    def pt(lr=0.1, epochs=10, seed=1):
        return PT.C(size=8, enc=CInt.C(x=1), lr=lr, epochs=epochs, seed=seed)

    def partial_id(cfg, **kw):
        return lambda: cfg().__xpm__.get_partial_identifier(pkg.partial(**kw))

    add("partial/full_a", lambda: pt())
    add("partial/full_b", lambda: pt(lr=0.2, epochs=3))
    add("partial/exclude_training_a", partial_id(pt, exclude_groups=[g_train]))
    add(
        "partial/exclude_training_b",
        partial_id(lambda: pt(lr=0.2, epochs=3), exclude_groups=[g_train]),
    )
    add("partial/exclude_model", partial_id(pt, exclude_groups=[g_model]))
    add("partial/exclude_no_group", partial_id(pt, exclude_no_group=True))
    add("partial/exclude_all", partial_id(pt, exclude_all=True))
    add(
        "partial/exclude_all_include_model",
        partial_id(pt, exclude_all=True, include_groups=[g_model]),
    )
    add(
        "partial/include_overrides_exclude",
        partial_id(pt, exclude_groups=[g_train, g_model], include_groups=[g_model]),
    )
    add("partial/exclude_nothing", partial_id(pt))

    # ---- Deprecation -------------------------------------------------------

    class NewCfg(Config):
        __xpmid__ = "test.interop.NewCfg"
        values: Param[list[int]] = field(default_factory=list)

        @pkg.deprecate
        def value(self, v: int):
            self.values = [v]

    @pkg.deprecate
    class OldSub(CInt):
        __xpmid__ = "test.interop.OldSub"

    @pkg.deprecate(NewCfg)
    class OldConv(Config):
        __xpmid__ = "test.interop.OldConv"
        value: Param[int]

        def __convert__(self):
            return NewCfg.C(values=[self.value])

    @pkg.deprecate(NewCfg, replace=True)
    class OldReplaced(Config):
        __xpmid__ = "test.interop.OldReplaced"
        value: Param[int]

        def __convert__(self):
            return NewCfg.C(values=[self.value])

    class HoldsOld(Config):
        __xpmid__ = "test.interop.HoldsOld"
        old: Param[OldConv]

    add("deprecate/subclass", lambda: OldSub.C(x=42))  # same as int/positive
    add("deprecate/convert", lambda: OldConv.C(value=3))
    add("deprecate/convert_target", lambda: NewCfg.C(values=[3]))
    add("deprecate/convert_nested", lambda: HoldsOld.C(old=OldConv.C(value=3)))
    add("deprecate/replace", lambda: OldReplaced.C(value=3))
    add("deprecate/parameter", lambda: NewCfg.C(value=3))

    cases.extend(_generic_cases(pkg, CInt))
    return cases


T = TypeVar("T")


def _generic_cases(pkg, CInt) -> list[Case]:
    """Generic configurations (``C(Config, Generic[T])``, datamaestro's
    ``Supervised[...]``) and type names given by ``Identifier``."""
    Config, Param = pkg.Config, pkg.Param

    class GenHolder(Config, Generic[T]):
        __xpmid__ = "test.interop.GenHolder"
        x: Param[T]

    class GenPair(Config, Generic[T]):
        __xpmid__ = "test.interop.GenPair"
        a: Param[T]
        b: Param[T]

    class GenUser(Config):
        __xpmid__ = "test.interop.GenUser"
        holder: Param[GenHolder[int]]

    class GenStr(GenHolder[str]):
        __xpmid__ = "test.interop.GenStr"

    ns = pkg.Identifier("Test.Interop")

    class Named(Config):
        __xpmid__ = ns.named.Cfg
        x: Param[int]

    class NamedChild(Named):  # an Identifier __xpmid__ is inherited, as in the reference
        y: Param[int]

    return [
        ("generic/int", lambda: GenHolder.C(x=1)),
        ("generic/float", lambda: GenHolder.C(x=1.5)),
        ("generic/str", lambda: GenHolder.C(x="a")),
        ("generic/list", lambda: GenHolder.C(x=[1, 2])),
        ("generic/config", lambda: GenHolder.C(x=CInt.C(x=1))),
        ("generic/pair_same_type", lambda: GenPair.C(a=1, b=2)),
        ("generic/subscripted_field", lambda: GenUser.C(holder=GenHolder.C(x=3))),
        ("generic/subscripted_base", lambda: GenStr.C(x="a")),
        ("generic/pair_conflict", lambda: GenPair.C(a=1, b="two")),  # error: T is int
        ("generic/wrong_type_argument", lambda: GenUser.C(holder=GenStr.C(x="a"))),  # error
        ("typename/identifier_xpmid", lambda: Named.C(x=1)),
        ("typename/identifier_inherited", lambda: NamedChild.C(x=1, y=2)),
    ]


def build_submitted(pkg_name: str) -> list[Case]:
    """Cases that submit tasks: call each ``make`` inside a dry-run experiment.

    Task outputs (configs marked through ``dep`` in ``task_outputs``) and init
    tasks only exist after a submission; ``compute_ids`` opens the experiment.
    """
    pkg = _load(pkg_name)
    Config, Task, LightweightTask = pkg.Config, pkg.Task, pkg.LightweightTask
    Param, Meta, field = pkg.Param, pkg.Meta, pkg.field

    cases: list[Case] = []

    def add(name: str, make: Callable[[], object]) -> None:
        cases.append((f"submitted/{name}", make))

    class Model(Config):
        __xpmid__ = "test.interop.sub.Model"
        n: Param[int]

    class Train(Task):
        __xpmid__ = "test.interop.sub.Train"
        n: Param[int]

        def task_outputs(self, dep):
            return dep(Model.C(n=self.n))

        def execute(self):
            pass

    class Finetune(Task):
        __xpmid__ = "test.interop.sub.Finetune"
        base: Param[Model]

        def task_outputs(self, dep):
            return dep(Model.C(n=self.base.n + 1))

        def execute(self):
            pass

    class MultiOut(Task):
        __xpmid__ = "test.interop.sub.MultiOut"
        k: Param[int]

        def task_outputs(self, dep):
            return {"a": dep(Model.C(n=self.k)), "b": dep(Model.C(n=-self.k))}

        def execute(self):
            pass

    class Evaluation(Config):
        __xpmid__ = "test.interop.sub.Evaluation"
        src: Param[Config]

    class Evaluate(Task):
        __xpmid__ = "test.interop.sub.Evaluate"
        n: Param[int]

        def task_outputs(self, dep):
            return dep(Evaluation.C(src=self))  # the output refers to its task

        def execute(self):
            pass

    class Use(Task):
        __xpmid__ = "test.interop.sub.Use"
        m: Param[Model]

        def execute(self):
            pass

    class Simple(Task):
        __xpmid__ = "test.interop.sub.Simple"
        x: Param[int]
        out: Meta[Path] = field(default_factory=pkg.PathGenerator("out.txt"))

        def execute(self):
            pass

    class Consumer(Config):
        __xpmid__ = "test.interop.sub.Consumer"
        task: Param[Simple]

    class Init(LightweightTask):
        __xpmid__ = "test.interop.sub.Init"
        p: Param[int]
        m: Param[Optional[Model]] = None

        def execute(self):
            pass

    def train_task():
        t = Train.C(n=1)
        t.submit()
        return t

    add("train/task", train_task)
    add("train/output", lambda: Train.C(n=1).submit())
    add("train/unmarked_model", lambda: Model.C(n=1))  # differs from train/output
    add("use/output_config", lambda: Use.C(m=Train.C(n=1).submit()))
    add("use/output_submitted", lambda: Use.C(m=Train.C(n=1).submit()).submit())
    add("use/plain_model_submitted", lambda: Use.C(m=Model.C(n=1)).submit())
    add("chain/finetune_output", lambda: Finetune.C(base=Train.C(n=1).submit()).submit())
    add("multi/output_a", lambda: MultiOut.C(k=2).submit()["a"])
    add("multi/output_b", lambda: MultiOut.C(k=2).submit()["b"])
    add("output_refers_to_task", lambda: Evaluate.C(n=1).submit())
    add("simple/task", lambda: Simple.C(x=1).submit())
    add("simple/twice", lambda: (Simple.C(x=1).submit(), Simple.C(x=1).submit())[1])
    add("simple/as_param", lambda: Consumer.C(task=Simple.C(x=2).submit()))
    add("simple/unsubmitted_as_param", lambda: Consumer.C(task=Simple.C(x=2)))
    add("init/none", lambda: Simple.C(x=3).submit())
    add("init/one", lambda: Simple.C(x=3).submit(init_tasks=[Init.C(p=1)]))
    add("init/two", lambda: Simple.C(x=3).submit(init_tasks=[Init.C(p=1), Init.C(p=2)]))
    add("init/two_reversed", lambda: Simple.C(x=3).submit(init_tasks=[Init.C(p=2), Init.C(p=1)]))
    add(
        "init/with_output_param",
        lambda: Simple.C(x=3).submit(init_tasks=[Init.C(p=1, m=Train.C(n=5).submit())]),
    )
    add(
        "init/task_as_param",
        lambda: Consumer.C(task=Simple.C(x=4).submit(init_tasks=[Init.C(p=1)])),
    )
    return cases


def spec_classes(pkg_name) -> SimpleNamespace:
    """The classes of the spec's test vectors, by name (``ConfigInt``, ...).

    Each carries ``__xpmid__ = "test.stability.<Name>"``; ``build_spec`` makes
    the vectors from them, and tests/core/test_identifier_rules.py uses them
    (with xpm_nb) for its byte-level checks.
    """
    pkg = _load(pkg_name)
    Config, Param, field = pkg.Config, pkg.Param, pkg.field

    class ConfigInt(Config):
        __xpmid__ = "test.stability.ConfigInt"
        x: Param[int]

    class ConfigStr(Config):
        __xpmid__ = "test.stability.ConfigStr"
        s: Param[str]

    class ConfigBool(Config):
        __xpmid__ = "test.stability.ConfigBool"
        b: Param[bool]

    class ConfigFloat(Config):
        __xpmid__ = "test.stability.ConfigFloat"
        f: Param[float]

    class ConfigList(Config):
        __xpmid__ = "test.stability.ConfigList"
        items: Param[list[int]]

    class ConfigDict(Config):
        __xpmid__ = "test.stability.ConfigDict"
        mapping: Param[dict[str, int]]

    class ConfigNested(Config):
        __xpmid__ = "test.stability.ConfigNested"
        inner: Param[ConfigInt]

    class ConfigFieldDefault(Config):
        __xpmid__ = "test.stability.ConfigFieldDefault"
        a: Param[int] = field(default=10)
        b: Param[int]

    class ConfigFieldDefaultIgnore(Config):
        __xpmid__ = "test.stability.ConfigFieldDefaultIgnore"
        a: Param[int] = field(default=10, ignore_default=True)
        b: Param[int]

    class SimpleTask(pkg.Task):
        __xpmid__ = "test.stability.SimpleTask"
        x: Param[int]

        def execute(self):
            pass

    return SimpleNamespace(
        ConfigInt=ConfigInt,
        ConfigStr=ConfigStr,
        ConfigBool=ConfigBool,
        ConfigFloat=ConfigFloat,
        ConfigList=ConfigList,
        ConfigDict=ConfigDict,
        ConfigNested=ConfigNested,
        ConfigFieldDefault=ConfigFieldDefault,
        ConfigFieldDefaultIgnore=ConfigFieldDefaultIgnore,
        SimpleTask=SimpleTask,
    )


def build_spec(pkg_name, classes: Optional[SimpleNamespace] = None) -> list[Case]:
    """The spec's test vectors, named as in ``SPEC_VECTORS``.

    ``classes``: from ``spec_classes`` (made afresh if not given).
    ``SimpleTask`` (in ``SPEC_SUBMITTED``) must be made inside a dry-run experiment.
    """
    k = classes if classes is not None else spec_classes(pkg_name)
    return [
        ("ConfigInt", lambda: k.ConfigInt.C(x=42)),
        ("ConfigStr", lambda: k.ConfigStr.C(s="hello")),
        ("ConfigBool", lambda: k.ConfigBool.C(b=True)),
        ("ConfigFloat", lambda: k.ConfigFloat.C(f=3.14)),
        ("ConfigList", lambda: k.ConfigList.C(items=[1, 2, 3, 4, 5])),
        ("ConfigDict", lambda: k.ConfigDict.C(mapping={"a": 1, "b": 2, "c": 3})),
        ("ConfigNested", lambda: k.ConfigNested.C(inner=k.ConfigInt.C(x=100))),
        ("ConfigFieldDefault", lambda: k.ConfigFieldDefault.C(b=5)),
        ("ConfigFieldDefaultIgnore", lambda: k.ConfigFieldDefaultIgnore.C(b=5)),
        ("SimpleTask", lambda: k.SimpleTask.C(x=15).submit()),
    ]


def _result(make: Callable[[], object]):
    """Hex identifier, or {"error": ...} when building or identifying raises."""
    try:
        return identify(make())
    except Exception as exc:  # noqa: BLE001 - any failure is a result to compare
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def compute_ids(pkg_name: str, workdir) -> dict[str, object]:
    """Every case of the corpus -> hex identifier or {"error": "..."}.

    Keys: the ``build`` names, ``submitted/...`` and ``spec/<Name>``. The
    submitted cases run in one dry-run experiment in ``workdir``.
    """
    pkg = _load(pkg_name)
    results: dict[str, object] = {}
    for name, make in build(pkg_name):
        results[name] = _result(make)

    submitted: list[Case] = []
    for name, make in build_spec(pkg_name):
        if name in SPEC_SUBMITTED:
            submitted.append((f"spec/{name}", make))
        else:
            results[f"spec/{name}"] = _result(make)
    submitted = build_submitted(pkg_name) + submitted

    try:
        with pkg.experiment(Path(workdir), "interop", run_mode=pkg.RunMode.DRY_RUN):
            for name, make in submitted:
                results[name] = _result(make)
    except Exception as exc:  # noqa: BLE001 - e.g. no experiment support yet
        for name, _ in submitted:
            error = f"experiment: {type(exc).__name__}: {exc}"[:500]
            results.setdefault(name, {"error": error})
    return results


class _Stub:
    """Stands for any public name of a package: enough to run the builders
    (which only define classes and register closures) and collect case names."""

    def __getattr__(self, name):
        return _Stub()

    def __getitem__(self, item):
        return self

    def __call__(self, *args, **kwargs):
        return self


class _StubConfig:
    C = _Stub()


def _stub_package():
    pkg = _Stub()
    for name in ("Config", "Task", "LightweightTask", "InstanceConfig"):
        object.__setattr__(pkg, name, type(name, (_StubConfig,), {}))
    return pkg


def case_names() -> list[str]:
    """Names of all the cases, as keys of ``compute_ids``, without any package."""
    stub = _stub_package()
    names = [name for name, _ in build(stub)]
    names += [name for name, _ in build_submitted(stub)]
    names += [f"spec/{name}" for name, _ in build_spec(stub)]
    return names
