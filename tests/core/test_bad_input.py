"""Bad input fails at once, with an error naming the class, the field, the value and what was expected."""

from typing import Any, Optional

import pytest

from xpm_nb import Config, Constant, Param, Task, field, sealed_set
from xpm_nb.errors import (
    ConfigError,
    ConstantFieldError,
    DeclarationError,
    FieldTypeError,
    IdentifierError,
    MissingFieldError,
    SealedConfigError,
    UnknownFieldError,
    XPMError,
)


class Encoder(Config):
    __xpmid__ = "test.bad.Encoder"
    dim: Param[int]


class Pipeline(Config):
    __xpmid__ = "test.bad.Pipeline"
    encoder: Param[Encoder]
    epochs: Param[int]
    rate: Param[float] = field(default=0.1)
    layers: Param[list[int]] = field(default_factory=list)
    weights: Param[dict[str, float]] = field(default_factory=dict)
    encoders: Param[list[Encoder]] = field(default_factory=list)
    name: Param[Optional[str]]
    version: Constant[str] = "1.0"


def good(**kwargs):
    values = {"encoder": Encoder.C(dim=4), "epochs": 2}
    values.update(kwargs)
    return Pipeline.C(**values)


class TestErrorTree:
    """The exception classes."""

    def test_hierarchy(self):
        """Config errors are XPMErrors and also the matching builtin exception."""
        assert issubclass(UnknownFieldError, ConfigError) and issubclass(
            UnknownFieldError, ValueError
        )
        assert issubclass(FieldTypeError, ConfigError) and issubclass(FieldTypeError, TypeError)
        assert issubclass(MissingFieldError, ConfigError) and issubclass(
            MissingFieldError, ValueError
        )
        assert issubclass(ConstantFieldError, AttributeError)
        assert issubclass(SealedConfigError, AttributeError)
        assert issubclass(DeclarationError, TypeError)
        assert issubclass(IdentifierError, XPMError) and issubclass(IdentifierError, ValueError)
        assert issubclass(ConfigError, XPMError)


class TestUnknownField:
    """Keywords the class does not declare."""

    def test_unknown_keyword(self):
        """An unknown keyword names the class, the keyword, the value and the fields."""
        with pytest.raises(UnknownFieldError) as info:
            Pipeline.C(colour=3)
        message = str(info.value)
        assert "Pipeline" in message
        assert "'colour'" in message
        assert "colour=3" in message
        assert "epochs" in message and "encoder" in message  # the declared fields

    def test_did_you_mean(self):
        """A close misspelling gets a did-you-mean suggestion."""
        with pytest.raises(UnknownFieldError, match=r"Did you mean 'epochs'\?"):
            Pipeline.C(epoch=3)

    def test_no_suggestion_when_far(self):
        """An unrelated keyword gets no suggestion."""
        with pytest.raises(UnknownFieldError) as info:
            Pipeline.C(zzzzzz=3)
        assert "Did you mean" not in str(info.value)

    def test_unknown_is_value_error(self):
        """An unknown keyword is also a ValueError."""
        with pytest.raises(ValueError):
            Encoder.C(dimension=3)


class TestWrongType:
    """Values of the wrong type."""

    def test_int_for_config(self):
        """An int where a config is expected names class, field, value and expected class."""
        with pytest.raises(FieldTypeError) as info:
            Pipeline.C(encoder=3)
        message = str(info.value)
        assert message.startswith("Pipeline.encoder:")
        assert "Encoder configuration" in message
        assert "got 3 (an int)" in message

    def test_str_for_int(self):
        """A str that spells no int is refused (a ValueError too); '3' converts."""
        assert Pipeline.C(epochs="3").epochs == 3
        with pytest.raises(FieldTypeError) as info:
            Pipeline.C(epochs="three")
        assert isinstance(info.value, ValueError)
        message = str(info.value)
        assert "Pipeline.epochs" in message
        assert "expected an int" in message
        assert "'three' (a str)" in message

    def test_bool_for_int(self):
        """A bool converts to an int as in the reference; a fractional float is refused."""
        assert Pipeline.C(epochs=True).epochs == 1
        with pytest.raises(
            FieldTypeError, match=r"Pipeline\.epochs: expected an int.*got 2\.5 \(a float\)"
        ):
            Pipeline.C(epochs=2.5)

    def test_str_for_float(self):
        """A str where a float is expected is refused."""
        with pytest.raises(FieldTypeError, match=r"Pipeline\.rate: expected a float.*'fast'"):
            good(rate="fast")

    def test_int_for_bool(self):
        """An int other than 0 or 1 where a bool is expected is refused."""

        class Flag(Config):
            on: Param[bool]

        assert Flag.C(on=1).on is True
        with pytest.raises(FieldTypeError, match=r"Flag\.on: expected a bool.*got 2 \(an int\)"):
            Flag.C(on=2)

    def test_value_object_for_config(self):
        """A value object (from instance()) where a config is expected says to pass the config."""
        value = Encoder.C(dim=3).instance()
        with pytest.raises(FieldTypeError) as info:
            Pipeline.C(encoder=value)
        message = str(info.value)
        assert "Pipeline.encoder" in message
        assert "instance" in message
        assert "Encoder.C(...)" in message

    def test_other_config_class(self):
        """A config of an unrelated class names the expected class."""

        class Decoder(Config):
            dim: Param[int]

        with pytest.raises(
            FieldTypeError, match=r"Pipeline\.encoder: expected an Encoder configuration"
        ):
            Pipeline.C(encoder=Decoder.C(dim=1))

    def test_list_element(self):
        """A wrong element in a list names its index."""
        with pytest.raises(FieldTypeError) as info:
            good(layers=[1, 2, "three"])
        message = str(info.value)
        assert "Pipeline.layers[2]" in message
        assert "expected an int" in message
        assert "'three' (a str)" in message

    def test_list_of_configs_element(self):
        """A non-config in a list of configs names its index and the class."""
        with pytest.raises(
            FieldTypeError, match=r"Pipeline\.encoders\[1\]: expected an Encoder configuration"
        ):
            good(encoders=[Encoder.C(dim=1), 5])

    def test_dict_value(self):
        """A wrong value in a dict names its key."""
        with pytest.raises(FieldTypeError) as info:
            good(weights={"a": 1.0, "b": "heavy"})
        message = str(info.value)
        assert "Pipeline.weights['b']" in message
        assert "'heavy' (a str)" in message

    def test_dict_key(self):
        """A wrong key in a dict is refused, naming the key."""
        with pytest.raises(FieldTypeError, match=r"Pipeline\.weights\[1\]: expected a str"):
            good(weights={1: 1.0})

    def test_not_a_list(self):
        """A scalar where a list is expected is refused."""
        with pytest.raises(
            FieldTypeError, match=r"Pipeline\.layers: expected a list of int, got 3"
        ):
            good(layers=3)

    def test_enum_unknown_name(self):
        """An unknown enum member name lists the members."""
        import enum

        class Kind(enum.Enum):
            A = 1
            B = 2

        class C(Config):
            kind: Param[Kind]

        with pytest.raises(
            FieldTypeError, match=r"C\.kind: expected a member of .*Kind \(A, B\), got 'Z'"
        ):
            C.C(kind="Z")

    def test_unsubmitted_task_for_parameter(self):
        """A task not yet submitted, given as a parameter, is refused with how to fix it."""

        class Train(Task):
            epochs: Param[int]

        class Evaluate(Task):
            train: Param[Train]

        with pytest.raises(FieldTypeError) as info:
            Evaluate.C(train=Train.C(epochs=1))
        message = str(info.value)
        assert "Evaluate.train" in message
        assert "submitted" in message and "submit()" in message

    def test_tuple_field(self):
        """A tuple field is refused at once: identifiers cannot encode tuples."""

        class Pair(Config):
            p: Param[tuple[int, int]]

        with pytest.raises(
            FieldTypeError, match=r"Pair\.p: expected a list .*tuples.*got \(1, 2\)"
        ):
            Pair.C(p=(1, 2))

    def test_wrong_type_on_assignment(self):
        """Assigning a wrong value fails the same way, and keeps the old value."""
        c = good()
        with pytest.raises(FieldTypeError, match=r"Pipeline\.epochs: expected an int"):
            c.epochs = "x"
        assert c.epochs == 2

    def test_fix_hint(self):
        """The message says how to fix it."""
        with pytest.raises(FieldTypeError, match=r"Fix: .*Pipeline\.C\(epochs=\.\.\.\)"):
            Pipeline.C(epochs=[1])


class TestNone:
    """None for fields that may not be None."""

    def test_none_for_required(self):
        """None for a required, non-Optional field names the field and suggests Optional."""
        with pytest.raises(FieldTypeError) as info:
            Pipeline.C(epochs=None)
        message = str(info.value)
        assert "Pipeline.epochs" in message
        assert "None" in message
        assert "Optional[int]" in message

    def test_none_for_optional(self):
        """None is fine for an Optional field."""
        assert good(name=None).name is None

    def test_none_in_list(self):
        """None inside a list of ints names the index."""
        with pytest.raises(FieldTypeError, match=r"Pipeline\.layers\[0\].*None"):
            good(layers=[None])


class TestMissing:
    """Required fields unset at seal time."""

    def test_every_missing_field_with_path(self):
        """Sealing lists every missing field, with its path from the root."""
        c = Pipeline.C(encoder=Encoder.C())
        with pytest.raises(MissingFieldError) as info:
            c.seal()
        message = str(info.value)
        assert "Pipeline.encoder.dim" in message
        assert "Pipeline.epochs" in message
        assert "rate" not in message and "name" not in message  # these have defaults

    def test_missing_in_list(self):
        """A missing field of a config inside a list names the index."""
        c = good(encoders=[Encoder.C(dim=1), Encoder.C()])
        with pytest.raises(MissingFieldError, match=r"Pipeline\.encoders\[1\]\.dim"):
            c.seal()

    def test_missing_not_sealed(self):
        """After a failed seal nothing is sealed and the config can be completed."""
        c = Pipeline.C(encoder=Encoder.C(dim=1))
        with pytest.raises(MissingFieldError):
            c.seal()
        assert not c.__xpm__.sealed
        c.epochs = 3
        c.seal()
        assert c.__xpm__.sealed

    def test_missing_at_identifier(self):
        """Computing the identifier with a required field unset names the field."""
        with pytest.raises(MissingFieldError, match=r"Encoder\.dim is not set"):
            Encoder.C().__identifier__()

    def test_missing_in_sealed_set(self):
        """sealed_set of an incomplete config raises a TypeError naming the field."""
        with pytest.raises(TypeError, match=r"Encoder\.dim"):
            sealed_set(Encoder.C())


class TestConstant:
    """Constants cannot be written."""

    def test_constructor(self):
        """Giving another value to a Constant names the field, its value and the given one."""
        with pytest.raises(ConstantFieldError) as info:
            good(version="2.0")
        message = str(info.value)
        assert "Pipeline.version" in message
        assert "'1.0'" in message and "'2.0'" in message

    def test_constructor_same_value(self):
        """Giving a Constant its own value is accepted."""
        assert good(version="1.0").version == "1.0"

    def test_attribute(self):
        """Assigning a Constant attribute is refused, the value unchanged."""
        c = good()
        with pytest.raises(ConstantFieldError, match=r"Pipeline\.version is a Constant"):
            c.version = "2.0"
        assert c.version == "1.0"

    def test_is_attribute_error(self):
        """Writing a Constant is also an AttributeError."""
        with pytest.raises(AttributeError):
            good().version = "3"


class TestSealed:
    """Sealed configurations cannot change."""

    def test_change_sealed(self):
        """Changing a field of a sealed config names the field and suggests copy()."""
        c = good().seal()
        with pytest.raises(SealedConfigError) as info:
            c.epochs = 5
        message = str(info.value)
        assert "Pipeline.epochs" in message
        assert "sealed" in message
        assert "copy()" in message
        assert c.epochs == 2

    def test_change_sealed_child(self):
        """A config below a sealed one is sealed too."""
        c = good().seal()
        with pytest.raises(SealedConfigError, match=r"Encoder\.dim"):
            c.encoder.dim = 8


class AnyList(Config):
    __xpmid__ = "test.bad.AnyList"
    items: Param[list]
    mapping: Param[dict] = field(default_factory=dict)
    anything: Param[Any] = field(default=0)


class TestUnencodable:
    """Values the identifier cannot encode."""

    def test_tuple_in_list(self):
        """A tuple inside a list names the field path, the value and the type."""
        with pytest.raises(IdentifierError) as info:
            AnyList.C(items=[1, (2, 3)]).__identifier__()
        message = str(info.value)
        assert message.startswith("AnyList.items[1]:")
        assert "(2, 3)" in message and "tuple" in message

    def test_bytes_in_dict(self):
        """bytes inside a dict names the field path and key."""
        with pytest.raises(IdentifierError, match=r"AnyList\.mapping\['k'\]: .*b'x'.*bytes"):
            AnyList.C(items=[], mapping={"k": b"x"}).__identifier__()

    def test_dict_keys_that_do_not_compare(self):
        """Keys of mixed types cannot be ordered: the field, the key types and the fix."""
        with pytest.raises(IdentifierError, match=r"AnyList\.mapping: .*int, str.*one type"):
            AnyList.C(items=[], mapping={"a": 1, 2: 3}).__identifier__()

    def test_object_field(self):
        """An arbitrary object as a field value is refused."""
        with pytest.raises(IdentifierError, match=r"AnyList\.anything: .*object"):
            AnyList.C(items=[], anything=object()).__identifier__()

    def test_int64_overflow(self):
        """An int beyond int64 names the field and the value."""
        with pytest.raises(
            IdentifierError, match=r"Encoder\.dim: the int 9223372036854775808 is out"
        ):
            Encoder.C(dim=2**63).__identifier__()

    def test_nested_path(self):
        """An error in a nested config names the path from the outer field."""
        c = good(encoders=[Encoder.C(dim=2**70)])
        with pytest.raises(IdentifierError, match=r"Pipeline\.encoders\[0\] -> Encoder\.dim: "):
            c.__identifier__()

    def test_at_seal(self):
        """Sealing does not compute the identifier; computing it later names the field path."""
        c = AnyList.C(items=[(1,)])
        c.seal()
        with pytest.raises(IdentifierError, match=r"AnyList\.items\[0\]"):
            c.__identifier__()


class TestDeclaration:
    """Class declarations that cannot work."""

    def test_constant_without_default(self):
        """A Constant without default raises DeclarationError naming class and field on first use."""

        class NoDefault(Config):
            version: Constant[str]

        with pytest.raises(DeclarationError) as info:
            NoDefault.C()
        message = str(info.value)
        assert "NoDefault.version" in message
        assert "Constant" in message and "default" in message

    def test_unresolvable_forward_reference(self):
        """An unresolvable forward reference raises DeclarationError naming class, field and name."""

        class Dangling(Config):
            other: Param["NoSuchClassAnywhere"]  # noqa: F821

        with pytest.raises(DeclarationError) as info:
            Dangling.C()
        message = str(info.value)
        assert "Dangling.other" in message
        assert "NoSuchClassAnywhere" in message

    def test_unresolvable_forward_reference_in_container(self):
        """A forward reference inside List[...] that cannot resolve is a DeclarationError too."""

        class DanglingList(Config):
            others: Param[list["NoSuchClassEither"]]  # noqa: F821

        with pytest.raises(DeclarationError, match=r"DanglingList\.others.*NoSuchClassEither"):
            DanglingList.C()

    def test_unsupported_type(self):
        """A field type that cannot be used names the class, the field and the type."""

        class Weird(Config):
            z: Param[complex]

        with pytest.raises(DeclarationError, match=r"Weird\.z: cannot use the type .*complex"):
            Weird.C()

    def test_value_class_not_subclass(self):
        """value_class() on a class that does not derive from the config is a DeclarationError."""
        with pytest.raises(DeclarationError, match=r"Unrelated must be a subclass of Encoder"):

            @Encoder.value_class()
            class Unrelated:
                pass

    def test_field_default_and_factory(self):
        """field() refuses both default and default_factory."""
        with pytest.raises(ValueError, match="exclusive"):
            field(default=1, default_factory=list)

    def test_field_factory_not_callable(self):
        """field(default_factory=...) needs a callable."""
        with pytest.raises(TypeError, match="callable"):
            field(default_factory=3)
