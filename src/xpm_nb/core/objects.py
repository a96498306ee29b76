"""The configuration object model: ``Config``, ``Task`` and their kin.

A user class ``Model(Config)`` declares fields. ``Model.C(...)`` (alias
``Model.XPMConfig``) builds a *configuration object*: an instance of a class
derived from both ``ConfigMixin`` and ``Model``, whose field values live in the
instance ``__dict__`` (plain attribute reads) and whose bookkeeping lives in
``__xpm__``. ``config.instance()`` builds the *value object* the task code
works with: an instance of ``Model`` (or of its registered value class) with
the fields set as plain attributes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, ClassVar, Optional, TypeVar

from ..errors import (
    ConstantFieldError,
    FieldTypeError,
    GeneratedValueError,
    InvalidTypeError,
    SealedConfigError,
    UnknownFieldError,
    UnsetFieldError,
)
from .arguments import Argument
from .types import TypeVarSpec, _Mismatch, describe_value
from .xpmtype import ObjectType, class_registry, get_type

__all__ = [
    "Config",
    "ConfigMixin",
    "ConfigInfo",
    "Task",
    "ResumableTask",
    "LightweightTask",
    "InstanceConfig",
    "Prepare",
    "TaggedValue",
    "DependentMarker",
]

T = TypeVar("T")

DependentMarker = Callable[["Config"], "Config"]
"""The marker passed to ``task_outputs(self, dep)``: ``dep(config)`` marks
``config`` as an output of the task, so that its identifier depends on it."""


class classproperty:  # noqa: N801
    def __init__(self, fget):
        self.fget = fget

    def __get__(self, obj, owner):
        return self.fget(owner)


class TaggedValue:
    """A value wrapped by :func:`tag`: the field records a tag of its name."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return f"tag({self.value!r})"


class ConfigInfo:
    """Per-configuration bookkeeping, reachable as ``config.__xpm__``."""

    __slots__ = (
        "config",
        "sealed",
        "_identifier",
        "task",
        "meta",
        "tags",
        "init_tasks",
        "job",
        "dependencies",
        "watched_outputs",
        "submit_hooks",
        "generated",
        "generated_for",
        "typevars",
        "dynamic_output",
        "__weakref__",
    )

    def __init__(self, config):
        self.config = config
        self.sealed = False
        self._identifier = None
        self.task = None  # the task whose output this config is
        self.meta: Optional[bool] = None  # setmeta() flag
        self.tags: dict[str, Any] = {}
        self.init_tasks: list = []
        self.job = None  # set by the scheduler on submit
        self.dependencies: list = []
        self.watched_outputs: list = []
        self.submit_hooks: list = []
        # Fields whose value was generated (PathGenerator) in a job's context,
        # or holds a configuration that has such values; and the task
        # (the root sealed with that context) they were generated for.
        self.generated: list[str] = []
        self.generated_for = None
        # Type variables bound by the values of fields typed by them (Param[T]).
        self.typevars: dict | None = None
        # An output a task registered while running (``watch_output``): its
        # users do not wait for that task to end.
        self.dynamic_output = False

    # Reference-compatible names
    @property
    def _sealed(self) -> bool:
        return self.sealed

    @property
    def values(self) -> dict[str, Any]:
        d = self.config.__dict__
        return {n: d[n] for n in type(self.config).__xpmtype__.arguments if n in d}

    def xpmvalues(self):
        d = self.config.__dict__
        for argument in type(self.config).__xpmtype__.arguments.values():
            if argument.name in d:
                yield argument, d[argument.name]

    @property
    def identifier(self):
        return self.config.__identifier__()

    def get_partial_identifier(self, partial):
        from .identifier import partial_identifier

        return partial_identifier(self.config, partial)

    def seal(self, context=None):
        seal(self.config, context)

    def add_dependencies(self, *dependencies):
        self.dependencies.extend(dependencies)


def _owner(cfg) -> str:
    return type(cfg).__xpmtype__.cls.__qualname__


def _field_error(cfg, argument: Argument, exc: _Mismatch) -> FieldTypeError:
    cls = _owner(cfg)
    msg = (
        f"{cls}.{argument.name}{exc.where}: expected {exc.expected}, "
        f"got {describe_value(exc.value)}. Fix: give {argument.name} a value of "
        f"type {argument.type} in {cls}.C({argument.name}=...)"
    )
    return FieldTypeError(msg)


def _set_field(cfg, argument: Argument, value) -> None:
    if type(value) is TaggedValue:
        cfg.__xpm__.tags[argument.name] = value.value
        value = value.value
    if value is None:
        if not argument.optional and argument.required:
            cls = _owner(cfg)
            msg = (
                f"{cls}.{argument.name}: got None, but the field is not Optional. "
                f"Fix: give a value of type {argument.type}, or declare it "
                f"`{argument.name}: Param[Optional[{argument.type}]]`"
            )
            raise FieldTypeError(msg)
    else:
        try:
            value = argument.type.validate(value)
        except _Mismatch as exc:
            raise _field_error(cfg, argument, exc) from None
        if not argument.ignore_generated:
            check_not_generated(cfg, argument.name, value)
        if type(argument.type) is TypeVarSpec:
            _bind_typevar(cfg, argument, value)
        if isinstance(value, ConfigMixin) and (cfg.__xpm__.typevars or value.__xpm__.typevars):
            _fuse_typevars(cfg, argument, value)
    cfg.__dict__[argument.name] = value


def _bind_typevar(cfg, argument: Argument, value) -> None:
    """Fields sharing a type variable must agree, as in the reference: the
    variable is bound to the most general class of their values (a subclass or
    a parent class of the current binding fits; an unrelated class does not)."""
    typevar = argument.type.typevar
    new = type(value).__xpmtype__.cls if isinstance(value, ConfigMixin) else type(value)
    current = _bind(cfg.__xpm__, typevar, new)
    if current is not None:
        msg = (
            f"{_owner(cfg)}.{argument.name}: got {describe_value(value)}, but the type "
            f"variable {typevar} is bound to {current.__qualname__} by the values of its "
            "fields. Fix: give values of related classes to the fields that share it"
        )
        raise FieldTypeError(msg)


def _fuse_typevars(cfg, argument: Argument, value) -> None:
    """As the reference, a configuration and the one set in its field share their
    type variable bindings (``Outer[T]`` holding ``Inner[T]``)."""
    mine, theirs = cfg.__xpm__, value.__xpm__
    for typevar, cls in list((mine.typevars or {}).items()):
        conflict = _bind(theirs, typevar, cls)
        if conflict is not None:
            raise _fuse_error(cfg, argument, value, typevar, conflict, cls)
    for typevar, cls in list((theirs.typevars or {}).items()):
        conflict = _bind(mine, typevar, cls)
        if conflict is not None:
            raise _fuse_error(cfg, argument, value, typevar, cls, conflict)


def _fuse_error(cfg, argument, value, typevar, inner: type, outer: type) -> FieldTypeError:
    msg = (
        f"{_owner(cfg)}.{argument.name}: {_owner(value)}.C(...) binds the type variable "
        f"{typevar} to {inner.__qualname__}, but {_owner(cfg)} binds it to "
        f"{outer.__qualname__}. Fix: use values of related classes for the fields typed by it"
    )
    return FieldTypeError(msg)


def _bind(info: ConfigInfo, typevar, new: type):
    """Bind ``typevar`` to ``new`` in ``info`` (widening to a parent class); the
    current binding if ``new`` is unrelated to it, else None."""
    if info.typevars is None:
        info.typevars = {}
    current = info.typevars.get(typevar)
    if current is None or issubclass(current, new):
        info.typevars[typevar] = new
        return None
    return None if issubclass(new, current) else current


def _is_generated(config) -> bool:
    """True for a plain configuration (not a submitted task nor its output)
    holding values generated for a task (``PathGenerator``)."""
    info = config.__xpm__
    return bool(info.generated) and info.task is None


def generated_paths(value, path: str = "") -> list[str]:
    """Dotted paths (from ``path``) of the generated values inside ``value``."""
    paths: list[str] = []
    if isinstance(value, ConfigMixin):
        if not _is_generated(value):
            return paths
        d = value.__dict__
        for name in value.__xpm__.generated:
            sub = f"{path}.{name}" if path else name
            child = d.get(name)
            found = [] if isinstance(child, (str, bytes)) else generated_paths(child, sub)
            paths.extend(found or [sub])
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            paths.extend(generated_paths(item, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for k, item in value.items():
            paths.extend(generated_paths(item, f"{path}[{k}]"))
    return paths


def check_not_generated(cfg, name: str, value, root=None) -> None:
    """Refuse, for field ``name`` of ``cfg``, a configuration whose values were
    generated for another task (its job folder paths would be reused).

    ``root``: the task being sealed; values generated for it are accepted.
    """
    if isinstance(value, (str, int, float, bool)) or value is None:
        return
    from .walk import iter_children

    bad = [child for _, child in iter_children(value)
           if _is_generated(child) and (root is None or child.__xpm__.generated_for is not root)]
    if not bad:
        return
    paths = generated_paths(value, name)
    first = bad[0]
    other = first.__xpm__.generated_for
    where = f" (the job folder of {_owner(other)})" if other is not None else ""
    msg = (
        f"{_owner(cfg)}.{name}: cannot use a configuration with generated values: "
        f"{', '.join(paths)} {'was' if len(paths) == 1 else 'were'} generated for "
        f"another task{where}, and would be shared with it. Fix: build a new "
        f"configuration for {name} (e.g. {_owner(first)}.C(...)) instead of reusing "
        "the one submitted with that task"
    )
    raise GeneratedValueError(msg)


def _unknown_field(cfg_type: ObjectType, name: str, value) -> UnknownFieldError:
    names = sorted(cfg_type.arguments)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    msg = (
        f"{cfg_type.cls.__qualname__} has no field {name!r} (got {name}={value!r}). "
        f"Its fields are: {', '.join(names) or '(none)'}.{hint}"
    )
    return UnknownFieldError(msg)


class _FieldSlot:
    """Class-level stand-in for a field of a configuration class.

    A non-data descriptor: once the instance has a value, its ``__dict__``
    wins; before, reading the field says that it is not set.
    """

    __slots__ = ("argument",)

    def __init__(self, argument: Argument):
        self.argument = argument

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.argument
        cls = _owner(obj)
        msg = (
            f"{cls}.{self.argument.name} is not set yet. Fix: give it a value, "
            f"e.g. {cls}.C({self.argument.name}=...)"
        )
        raise UnsetFieldError(msg)


class ConfigMixin:
    """Behaviour of configuration objects (``Model.C(...)``)."""

    __xpmtype__: ClassVar[ObjectType]
    __xpm__: ConfigInfo

    def __init__(self, **kwargs):
        d = self.__dict__
        if "__xpm__" in d:  # already built (Model(...) redirected to Model.C(...))
            return
        xpmtype = self.__xpmtype__
        d["__xpm__"] = ConfigInfo(self)
        arguments = xpmtype.arguments
        for name, value in kwargs.items():
            argument = arguments.get(name)
            if argument is None:
                deprecated = xpmtype.deprecated_params.get(name)
                if deprecated is not None:
                    deprecated.apply(self, value)
                    continue
                raise _unknown_field(xpmtype, name, value)
            if argument.constant:
                raw = value.value if type(value) is TaggedValue else value
                if raw != argument.default:
                    msg = (
                        f"{xpmtype.cls.__qualname__}.{name} is a Constant "
                        f"({argument.default!r}) and cannot be set to {raw!r}. "
                        f"Fix: remove {name}=... from the call"
                    )
                    raise ConstantFieldError(msg)
            _set_field(self, argument, value)
        for argument in xpmtype.defaulted:
            if argument.name not in d:
                if argument.factory is not None:
                    d[argument.name] = argument.factory()
                else:
                    d[argument.name] = _copy_default(argument.default)
        for argument in xpmtype.optionals:
            if argument.name not in d:
                d[argument.name] = None

    def __setattr__(self, name: str, value) -> None:
        argument = self.__xpmtype__.arguments.get(name)
        if argument is None:
            deprecated = self.__xpmtype__.deprecated_params.get(name)
            if deprecated is not None:
                deprecated.apply(self, value)
                return
            object.__setattr__(self, name, value)
            return
        if self.__xpm__.sealed:
            msg = (
                f"{_owner(self)}.{name} cannot be changed: the configuration is sealed "
                "(submitted, or frozen by sealed_set). Fix: change a copy, "
                "`c = config.copy(); c." + name + " = ...`"
            )
            raise SealedConfigError(msg)
        if argument.constant:
            msg = (
                f"{_owner(self)}.{name} is a Constant ({argument.default!r}) and "
                "cannot be written"
            )
            raise ConstantFieldError(msg)
        _set_field(self, argument, value)

    # --- identity ---------------------------------------------------------

    def __identifier__(self):
        """The identifier of this configuration (a :class:`~xpm_nb.core.identifier.ConfigIdentifier`)."""
        from .identifier import identifier

        return identifier(self)

    def __hash__(self) -> int:
        info = self.__xpm__
        if not info.sealed:
            msg = (
                f"{_owner(self)} configuration is not hashable until sealed. "
                "Fix: use sealed_set(...) to build sets of configurations"
            )
            raise InvalidTypeError(msg)
        return hash(self.__identifier__().all)

    def __eq__(self, other) -> bool:
        # Structural equality, as in the reference: ignore_default compares
        # configurations given as defaults with ==.
        if self is other:
            return True
        if not isinstance(other, ConfigMixin):
            return NotImplemented
        if self.__xpmtype__ is not other.__xpmtype__:
            return False
        if self.__xpm__.sealed and other.__xpm__.sealed:
            return self.__identifier__() == other.__identifier__()
        d, od = self.__dict__, other.__dict__
        return all(d.get(n) == od.get(n) for n in self.__xpmtype__.arguments)

    def seal(self):
        """Seal this configuration: immutable, hashable by its identifier."""
        seal(self)
        return self

    def tag(self, name: str, value):
        """Add a tag ``name=value`` to this configuration."""
        self.__xpm__.tags[name] = value
        return self

    def __repr__(self) -> str:
        fields = []
        d = self.__dict__
        for argument in self.__xpmtype__.arguments.values():
            if argument.name in d:
                fields.append(f"{argument.name}={d[argument.name]!r}")
        return f"{self.__xpmtype__.cls.__qualname__}.C({', '.join(fields)})"

    # --- API of the reference ---------------------------------------------

    def __validate__(self) -> None:
        """Check the values (called when sealed); raise to refuse them."""
        # ConfigMixin comes before the user's class in the MRO of XPMConfig:
        # delegate so that a __validate__ defined there runs (Config's is a no-op).
        super().__validate__()

    def tags(self) -> dict:
        """The tags of this configuration and of those below it."""
        from .tags import tags

        return tags(self)

    def copy(self):
        """An unsealed copy with the same field values (nested configs shared)."""
        d = self.__dict__
        new = type(self).__new__(type(self))
        new.__dict__["__xpm__"] = ConfigInfo(new)
        for name in self.__xpmtype__.arguments:
            if name in d:
                new.__dict__[name] = d[name]
        new.__xpm__.tags = dict(self.__xpm__.tags)
        new.__xpm__.meta = self.__xpm__.meta
        return new

    def add_dependencies(self, *dependencies):
        """Add dependencies (e.g. tokens) to this task; returns the configuration."""
        self.__xpm__.dependencies.extend(dependencies)
        return self

    def copy_dependencies(self, other: ConfigMixin) -> None:
        """Add all the dependencies of ``other``."""
        self.__xpm__.dependencies.extend(other.__xpm__.dependencies)

    def instance(self, context=None, *, objects: dict | None = None, keep: bool = True):
        """The value object of this configuration (nested values built too)."""
        from .instance import build_instance

        return build_instance(self, objects=objects, keep=keep)

    def register_task_output(self, method, *args, **kwargs):
        """Register an output produced while the task runs (dynamic outputs)."""
        from .outputs import register_task_output

        return register_task_output(self, method, *args, **kwargs)

    def __xpm_seal__(self, context=None):
        seal(self, context)
        return self


def _copy_default(value):
    # Mutable defaults are copied so that configurations never share them.
    if type(value) in (list, dict, set):
        return type(value)(value)
    return value


def make_config_type(xpmtype: ObjectType) -> type:
    """Create ``cls.XPMConfig``: the class of configuration objects of ``cls``."""
    cls = xpmtype.cls
    namespace = {
        "__xpmtype__": xpmtype,
        "__module__": cls.__module__,
        "__qualname__": f"{cls.__qualname__}.XPMConfig",
        "_xpm_config_type": True,
    }
    for name, argument in xpmtype.arguments.items():
        namespace[name] = _FieldSlot(argument)
    return type(f"{cls.__name__}.XPMConfig", (ConfigMixin, cls), namespace)


class Config:
    """Base class of every configuration."""

    __xpmid__: ClassVar[Optional[str]]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_xpm_config_type"):
            return
        class_registry[cls.__qualname__] = cls
        class_registry[cls.__name__] = cls

    def __new__(cls, *args, **kwargs):
        if cls.__dict__.get("_xpm_config_type"):
            deprecation = cls.__xpmtype__.deprecation
            if deprecation is not None and deprecation.replace:
                # @deprecate(New, replace=True): building Old gives its conversion.
                old = object.__new__(cls)
                ConfigMixin.__init__(old, **kwargs)
                return old.__convert__()
            return object.__new__(cls)
        # `Model(x=1)` is the same as `Model.C(x=1)`.
        if args:
            msg = f"{cls.__qualname__}.C() takes keyword arguments only (got {args!r})"
            raise InvalidTypeError(msg)
        return get_type(cls).config_type(**kwargs)

    @classproperty
    def __xpmtype__(cls) -> ObjectType:
        return get_type(cls)

    def register_task_output(self, method, *args, **kwargs):
        """In a running task: record an output for the notebook's ``watch_output``."""
        from .outputs import register_task_output

        return register_task_output(self, method, *args, **kwargs)

    @classmethod
    def __getxpmtype__(cls) -> ObjectType:
        return get_type(cls)

    @classproperty
    def XPMConfig(cls):  # noqa: N802
        if cls.__dict__.get("_xpm_config_type"):
            return cls
        return get_type(cls).config_type

    @classproperty
    def C(cls):  # noqa: N802
        """Build a configuration: ``Model.C(hidden=3)``."""
        if cls.__dict__.get("_xpm_config_type"):
            return cls
        return get_type(cls).config_type

    @classproperty
    def XPMValue(cls):  # noqa: N802
        """The class of value objects built by ``instance()``."""
        return get_type(cls).value_type

    @classmethod
    def value_class(cls):
        """Decorator registering a separate class for value objects.

        The value class must derive from the configuration class (and from the
        value classes of its configuration parents).
        """

        def decorator(value_cls: type) -> type:
            from ..errors import DeclarationError

            if not issubclass(value_cls, cls):
                msg = (
                    f"value class {value_cls.__qualname__} must be a subclass of "
                    f"{cls.__qualname__}"
                )
                raise DeclarationError(msg)
            for base in cls.__bases__:
                if base is Config or not issubclass(base, Config):
                    continue
                parent_value = get_type(base).value_type
                if parent_value is not base and not issubclass(value_cls, parent_value):
                    msg = (
                        f"value class {value_cls.__qualname__} must also derive from "
                        f"{parent_value.__qualname__}, the value class of {base.__qualname__}"
                    )
                    raise DeclarationError(msg)
            get_type(cls).value_type = value_cls
            # Value classes must not register as separate config types.
            class_registry[cls.__qualname__] = cls
            class_registry[cls.__name__] = cls
            return value_cls

        return decorator

    def __post_init__(self) -> None:
        """Called on value objects after ``__init__``, with the fields set."""

    def __validate__(self) -> None:
        """Check the values (called when the configuration is sealed); raise to refuse them."""

    @property
    def xpmconfig(self):
        """The configuration a value object was built from (``instance(keep=True)``)."""
        if isinstance(self, ConfigMixin):
            return self
        try:
            return self.__dict__["__config__"]
        except KeyError:
            msg = f"{type(self).__qualname__} object has no configuration (built with keep=False)"
            raise AttributeError(msg) from None


class Prepare(Config):
    """Prepare all files before starting a task (a download, a cache to fill).

    Override ``prepare()``. A task whose parameters hold this configuration
    gets ``prepare()`` called in the driver before it runs (only when it has
    to run), once per identifier in the process; with ``RunMode.PREPARE`` only
    the preparations run, no task. Override ``is_prepared()`` (cheap, no side
    effect) to skip ``prepare()`` when the work is already done; it also lets
    ``submit()`` prepare in a job of its own (off the driver). Either way the
    configuration stays a plain parameter: identifiers do not change.
    """

    def prepare(self, *args, **kwargs) -> None:
        """Do the preparation (default: nothing)."""

    def is_prepared(self) -> bool:
        """Whether the preparation was already done (override to skip ``prepare()``)."""
        msg = f"{type(self).__qualname__} does not implement is_prepared()"
        raise NotImplementedError(msg)

    def submit(self, *, workspace=None, launcher=None, run_mode=None,
               max_retries: Optional[int] = None, transient=None):
        """Prepare in a job of its own (a ``PrepareTask``: launcher, logs, retries)
        rather than in the driver; the tasks using this configuration wait for
        that job. Needs ``is_prepared()``. The job is transient by default: it
        runs only when a task that uses the configuration has to run. Returns
        this configuration."""
        from ..scheduler.submit import submit_prepare

        return submit_prepare(self, workspace=workspace, launcher=launcher,
                              run_mode=run_mode, max_retries=max_retries,
                              transient=transient)


class LightweightTask(Config):
    """A task run before the main task of a job (``init_tasks``) to adjust it."""

    def execute(self) -> None:
        """The work of the task."""


class Task(LightweightTask):
    """A unit of work run in a job of its own."""

    def task_outputs(self, dep: DependentMarker) -> Any:
        """What ``submit()`` returns; mark outputs with ``dep(config)``."""
        return self

    def submit(
        self,
        *,
        workspace=None,
        launcher=None,
        run_mode=None,
        init_tasks: list | None = None,
        max_retries: Optional[int] = None,
        transient=None,
    ):
        """Submit this task to the current experiment; returns its outputs at once."""
        from ..scheduler.submit import submit

        return submit(
            self,
            workspace=workspace,
            launcher=launcher,
            run_mode=run_mode,
            init_tasks=list(init_tasks or []),
            max_retries=max_retries,
            transient=transient,
        )

    def watch_output(self, method, callback) -> None:
        """Call ``callback`` in the notebook process for each output ``method`` produces."""
        from .outputs import watch_output

        watch_output(self, method, callback)

    # Waiting on a submitted task (delegates to its job)
    def wait(self, timeout: float | None = None, *, check: bool = False):
        """Block until the task's job ends; its final ``JobState`` (``check=True``:
        raise ``JobFailedError`` if it failed)."""
        from ..scheduler.submit import wait

        return wait(self, timeout=timeout, check=check)

    def __await__(self):
        from ..scheduler.submit import wait_async

        return wait_async(self).__await__()

    def stdout(self):
        return self.__xpm__.job.stdout

    def stderr(self):
        return self.__xpm__.job.stderr

    @property
    def job(self):
        return self.__xpm__.job


class ResumableTask(Task):
    """A task that can be restarted after a time limit, finding its checkpoints."""

    def remaining_time(self) -> float | None:
        """Seconds left before the job's time limit, or None if unknown/unlimited."""
        from . import taskglobals

        return taskglobals.remaining_time()


class InstanceConfig(Config):
    """A configuration whose object identity matters in identifiers.

    The same object used twice is shared; two objects with equal parameters
    are separate, and get different identifiers where they are used.
    """


def is_config(value) -> bool:
    return isinstance(value, ConfigMixin)


def seal(config, context=None) -> None:
    """Seal ``config`` and every configuration below it (idempotent).

    Generated fields (``PathGenerator``, ``Meta`` factories) get their values
    from ``context``; required fields must be set; ``__validate__`` runs.
    """
    from .walk import seal_tree

    seal_tree(config, context)
