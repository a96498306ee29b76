"""Generic configurations, ``field(overrides=...)`` and ``Identifier`` (type
names), as experimaestro 2.7.0 has them (issue 17, points 1, 2 and 8).

Identifiers of generic configurations are compared with the reference's in
``tests/interop/corpus.py`` (``generic/*``, ``typename/*``).
"""

from __future__ import annotations

import logging
from typing import Generic, Optional, TypeVar

import pytest

import xpm_nb
from xpm_nb import Config, Param, field
from xpm_nb.core.identifier import ConfigIdentifier
from xpm_nb.errors import DeclarationError, FieldTypeError

T = TypeVar("T")


class GItem(Config):
    pass


class GItemChild(GItem):
    pass


class GOther(Config):
    pass


class GHolder(Config, Generic[T]):
    x: Param[T]


class GPair(Config, Generic[T]):
    a: Param[T]
    b: Param[T]


class GUser(Config):
    holder: Param[GHolder[int]]


class GStr(GHolder[str]):
    pass


B = TypeVar("B", bound=GItemChild)


class GBound(Config, Generic[B]):
    x: Param[B]


class TestGenerics:
    def test_a_typevar_field_takes_any_value(self):
        assert GHolder.C(x=1).x == 1
        assert GHolder.C(x="a").x == "a"
        assert GHolder.C(x=[1, 2]).x == [1, 2]
        item = GItem.C()
        assert GHolder.C(x=item).x is item

    def test_values_keep_their_type_in_the_identifier(self):
        ints = GHolder.C(x=1).__identifier__()
        floats = GHolder.C(x=1.0).__identifier__()
        assert ints != floats

    def test_fields_sharing_a_typevar_must_agree(self):
        pair = GPair.C(a=1, b=2)
        pair.b = 3
        with pytest.raises(FieldTypeError, match=r"GPair\.a: .*bound to int"):
            pair.a = "b"
        with pytest.raises(TypeError):
            GPair.C(a=1, b="two")

    def test_a_typevar_binding_goes_up_to_the_parent_class(self):
        pair = GPair.C(a=GItemChild.C())
        pair.b = GItem.C()  # T is now GItem: a child still fits
        pair.a = GItemChild.C()
        with pytest.raises(TypeError):
            pair.a = GOther.C()

    def test_a_bound_typevar_refuses_other_classes(self):
        assert isinstance(GBound.C(x=GItemChild.C()).x, GItemChild)
        with pytest.raises(FieldTypeError, match="bound"):
            GBound.C(x=GItem.C())

    def test_a_subscripted_generic_is_a_field_type(self):
        holder = GHolder.C(x=2)
        assert GUser.C(holder=holder).holder is holder
        with pytest.raises(FieldTypeError, match=r"GUser\.holder: .*GStr .*str"):
            GUser.C(holder=GStr.C(x="a"))
        with pytest.raises(FieldTypeError):
            GUser.C(holder=GItem.C())

    def test_supervised_style_generic_base(self):
        """datamaestro's ``Supervised(Base, Generic[Train, Validation, Test])``."""
        Train = TypeVar("Train", bound=GItem)
        Test = TypeVar("Test", bound=GItem)

        class Supervised(GItem, Generic[Train, Test]):
            train: Param[GItem]
            test: Param[Optional[GItem]] = field(default=None, ignore_default=True)

        class Use(Config):
            data: Param[Supervised[GItem, GItem]]

        data = Supervised.C(train=GItem.C())
        assert Use.C(data=data).data is data


class PBase(Config):
    x: Param[int]
    item: Param[GItem]
    holder: Param[GHolder[GItem]]


class TestOverrides:
    def test_a_redeclared_parameter_without_overrides_warns(self, caplog):
        class Child(PBase):
            x: Param[int] = field(default=3)

        with caplog.at_level(logging.WARNING, logger="xpm_nb.core"):
            assert Child.C().x == 3
        assert "Child overrides parent parameter from PBase" in caplog.text
        assert "field(overrides=True)" in caplog.text

    def test_overrides_true_does_not_warn(self, caplog):
        class Child(PBase):
            x: Param[int] = field(default=3, overrides=True)

        with caplog.at_level(logging.WARNING, logger="xpm_nb.core"):
            Child.C()
        assert "overrides parent parameter" not in caplog.text

    def test_an_incompatible_type_raises(self):
        class Child(PBase):
            x: Param[str] = field(default="a", overrides=True)

        with pytest.raises(TypeError, match=r"Child\.x: Parameter 'x' type str is not "
                                            r"compatible with parent type int"):
            Child.C()

    def test_a_config_override_must_be_a_subclass(self):
        class Narrower(PBase):
            item: Param[GItemChild] = field(overrides=True)

        assert Narrower.__xpmtype__.arguments["item"].type.cls is GItemChild

        class Unrelated(PBase):
            item: Param[GOther] = field(overrides=True)

        with pytest.raises(DeclarationError, match="GOther is not a subtype of parent type GItem"):
            Unrelated.C()

    def test_generic_override_type_arguments(self):
        class Narrower(PBase):
            holder: Param[GHolder[GItemChild]] = field(overrides=True)

        Narrower.__xpmtype__  # noqa: B018 - builds the type

        class Unrelated(PBase):
            holder: Param[GHolder[GOther]] = field(overrides=True)

        with pytest.raises(TypeError, match="is not a subtype"):
            Unrelated.__xpmtype__  # noqa: B018

    def test_optional_override_of_a_required_field(self):
        class Child(PBase):
            x: Param[Optional[int]] = field(default=None, overrides=True)

        assert Child.C().x is None


class TestTypeNameIdentifier:
    def test_identifier_is_the_type_name(self):
        ns = xpm_nb.Identifier("My.Lib")
        assert str(ns) == "my.lib"
        assert str(ns.models.Bert) == "my.lib.models.bert"
        assert ns("x") == xpm_nb.Identifier("my.lib.x")
        assert ns["y"] == ns.y

    def test_identifier_as_xpmid(self):
        ns = xpm_nb.Identifier("my.lib")

        class Named(Config):
            __xpmid__ = ns.models.Bert
            x: Param[int]

        class Sub(Named):  # an Identifier is inherited, as in the reference
            pass

        class ByMethod(Config):
            @classmethod
            def __xpmid__(cls):
                return f"my.lib.{cls.__name__}"

        assert Named.__xpmtype__.typeid == "my.lib.models.bert"
        assert Sub.__xpmtype__.typeid == "my.lib.models.bert"
        assert ByMethod.__xpmtype__.identifier == "my.lib.bymethod"

    def test_the_content_hash_has_its_own_name(self):
        ident = GHolder.C(x=1).__identifier__()
        assert isinstance(ident, ConfigIdentifier)
        assert not isinstance(ident, xpm_nb.Identifier)
        assert ConfigIdentifier.from_state_dict(ident.hex()) == ident


class GNested(Config, Generic[T]):
    pair: Param[GPair[T]]
    holder: Param[GHolder[T]]


class TestNestedTypeVars:
    """As the reference, a configuration shares its type variable bindings with
    the configurations set in its fields."""

    def test_nested_bindings_must_agree(self):
        GNested.C(pair=GPair.C(a=1, b=1), holder=GHolder.C(x=2))
        with pytest.raises(FieldTypeError, match=r"GNested\.holder: GHolder\.C\(\.\.\.\) binds"):
            GNested.C(pair=GPair.C(a=1, b=1), holder=GHolder.C(x="b"))

    def test_a_typevar_bound_to_a_configuration_conflicts_with_its_own(self):
        with pytest.raises(TypeError):
            GPair.C(a=GPair.C(a=1, b=2), b=GPair.C(a=3, b=4))
