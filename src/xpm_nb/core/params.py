"""``params.json``: a configuration tree as the reference's version-3 object list.

Objects come dependencies first and the task last; each has ``id``,
``module``, ``type`` (qualified name), ``typename`` (type id), ``identifier``,
``task`` (the id of its producer, if any) and ``fields``. References between
objects are ``{"type": "python", "value": <id>}``; paths under the job folder
or the workspace are stored relative to them.

Classes that cannot be imported by name in another process (defined in
``__main__``, a notebook cell or a function body) are shipped by value in
``classes.pkl`` (cloudpickle) next to ``params.json``.

:class:`ObjectWriter` is the one walk of a configuration tree into that list:
``params.json`` uses it as is, and ``core/serialization.py`` (save, state_dict)
with a hook for the values of ``DataPath`` fields. The reader checks the shape
of what it reads at the points of use (one ``isinstance`` each), so that a file
of valid JSON but the wrong shape is a :class:`SerializationError` saying where.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SerializationError
from .objects import Config, ConfigMixin

__all__ = [
    "write_params",
    "read_params",
    "to_objects",
    "from_objects",
    "check_objects",
    "atomic_write",
    "ObjectWriter",
    "DataPathWriter",
]

VERSION = 3
CLASSES_FILE = "classes.pkl"
# The source of the shipped classes' files ({file name: text}), for the job
# process's tracebacks (a notebook cell has no file there): see xpm_nb.run.
SOURCES_FILE = "classes-src.json"


def _create_temp(path: Path) -> tuple[int, str]:
    """A new temp file beside ``path``, with the mode a plain ``open()`` would give.

    Created with ``O_EXCL`` and mode 0o666, so the kernel applies the umask
    itself: reading the umask would mean setting it (``os.umask``), a race with
    the process's other threads.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(
        os, "O_CLOEXEC", 0)
    while True:
        tmp = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file whole or not at all: temp file in the same folder, then rename."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _needs_shipping(cls: type) -> bool:
    """True for classes another process cannot import by module and name."""
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return True
    obj = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return obj is not cls


# --- writing ---------------------------------------------------------------

DataPathWriter = Callable[[list[str], Path, ConfigMixin, int], Any]
"""Writes the value of a ``DataPath`` field: called with the value's path from the
root (``["model", "weights"]``, ``["items", "1", "weights"]``), the path, the
configuration holding the field and that configuration's depth in the tree
(root = 0); returns the JSON value to store."""


class ObjectWriter:
    """Walks configurations into the object list (dependencies first), once each.

    ``job_path``/``workspace_path``: plain paths under them are stored relative
    to them. ``data_path``: if given, the values of ``DataPath`` fields go
    through it (``save()`` copies the files), and the walk keeps each value's
    path from the root and depth for it. ``file_of_unimportable``: record the source file
    of every class shipped by value, not only of those of ``__main__``.
    """

    def __init__(self, job_path: Path | None = None, workspace_path: Path | None = None, *,
                 data_path: DataPathWriter | None = None, file_of_unimportable: bool = False,
                 target: str = "params.json"):
        self.job_path = job_path
        self.workspace_path = workspace_path
        self.data_path = data_path
        self.file_of_unimportable = file_of_unimportable
        self.target = target  # what is written, for error messages
        self.objects: list[dict] = []
        self.done: set[int] = set()
        self.shipped: dict[str, type] = {}
        self._open = 0  # configurations whose fields are being written (tracked walk)

    def config(self, config: ConfigMixin, at: list[str] | None = None) -> int:
        """Write ``config`` (after what it depends on); its id in the list.

        ``at``: its path from the root, tracked only with a ``data_path`` hook.
        """
        key = id(config)
        if key in self.done:
            return key
        self.done.add(key)
        xpmtype = config.__xpmtype__
        info = config.__xpm__
        tracked = at is not None
        # Producers and values first: the reader builds objects in order.
        producer = info.task
        if producer is not None and producer is not config:
            self.config(producer, [*at, "__task__"] if tracked else None)
        if tracked:
            self._open += 1
        try:
            fields = {}
            d = config.__dict__
            name = None
            try:
                if tracked:
                    for name, argument in xpmtype.arguments.items():
                        if name in d:
                            fields[name] = self.value(d[name], [*at, name], argument.is_data,
                                                      config)
                else:  # params.json: the short way (no path, no DataPath hook)
                    value = self.value
                    for name in xpmtype.arguments:
                        if name in d:
                            fields[name] = value(d[name])
            except SerializationError as exc:
                if not getattr(exc, "located", True):  # a value of this config's own
                    raise _unwritable(f"{xpmtype.cls.__qualname__}.{name}: {exc}") from None
                raise
            # The class before the init tasks: the order of classes.pkl stays the same.
            cls = xpmtype.cls
            unimportable = _needs_shipping(cls)
            if unimportable:
                self.shipped[f"{cls.__module__}:{cls.__qualname__}"] = cls
            init_tasks = info.init_tasks and [
                self.config(t, [*at, "__init__", str(i)] if tracked else None)
                for i, t in enumerate(info.init_tasks)]
        finally:
            if tracked:
                self._open -= 1
        obj = {
            "id": key,
            "module": cls.__module__,
            "type": cls.__qualname__,
            "typename": xpmtype.typeid,
            "identifier": config.__identifier__().hex(),
        }
        if producer is not None:
            obj["task"] = id(producer)
        if unimportable and (self.file_of_unimportable or cls.__module__ == "__main__"):
            module = sys.modules.get(cls.__module__)
            if getattr(module, "__file__", None):
                obj["file"] = str(Path(module.__file__).resolve())
        obj["fields"] = fields
        if init_tasks:
            obj["init_tasks"] = init_tasks
        self.objects.append(obj)
        return key

    def value(self, value, at: list[str] | None = None, is_data: bool = False,
              owner: ConfigMixin | None = None) -> Any:
        """The JSON form of a field value (configurations are written on the way)."""
        if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(
            value, enum.Enum
        ):
            return value
        if isinstance(value, ConfigMixin):
            return {"type": "python", "value": self.config(value, at)}
        if isinstance(value, enum.Enum):
            cls = type(value)
            if _needs_shipping(cls):
                self.shipped[f"{cls.__module__}:{cls.__qualname__}"] = cls
            return {"type": "enum", "module": cls.__module__, "enum": cls.__qualname__,
                    "value": value.name}
        if isinstance(value, Path):
            if is_data and self.data_path is not None:
                # The owner's fields are being written: it is the innermost open config.
                return self.data_path(at, value, owner, self._open - 1)
            return self.path(value)
        tracked = at is not None
        if isinstance(value, (list, tuple)):
            if not tracked:
                return [self.value(v) for v in value]
            return [self.value(v, [*at, str(i)], is_data, owner) for i, v in enumerate(value)]
        if isinstance(value, (set, frozenset)):
            return {"type": "set", "value": [self.value(v, at, is_data, owner) for v in value]}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and "type" not in value:
                if not tracked:
                    return {k: self.value(v) for k, v in value.items()}
                return {k: self.value(v, [*at, k], is_data, owner) for k, v in value.items()}
            return {"type": "dict", "value": [
                [self.value(k, at, False, owner),
                 self.value(v, [*at, str(k)] if tracked else None, is_data, owner)]
                for k, v in value.items()]}
        msg = (
            f"cannot write {value!r} ({_kind(value)}) to {self.target}. "
            "Fix: use configurations, Paths, enums and JSON values only"
        )
        if tracked:
            raise _unwritable(f"{'/'.join(at) or 'the root'}: {msg}")
        raise _unwritable(msg, located=False)  # the config adds the field's name

    def path(self, path: Path) -> dict:
        """A plain path, relative to the job folder or the workspace when under them."""
        for base, root in (("job", self.job_path), ("workspace", self.workspace_path)):
            if root is not None:
                try:
                    rel = path.relative_to(root)
                except ValueError:
                    continue
                return {"type": "path", "value": str(rel), "base": base}
        return {"type": "path", "value": str(path)}


def _unwritable(msg: str, *, located: bool = True) -> SerializationError:
    error = SerializationError(msg)
    error.located = located
    return error


def to_objects(config, job_path=None, workspace_path=None) -> tuple[list[dict], dict]:
    """The object list of ``config`` and the classes to ship by value."""
    writer = ObjectWriter(job_path, workspace_path)
    writer.config(config)
    return writer.objects, writer.shipped


def write_params(config, job_path: Path, workspace_path: Path, write=atomic_write) -> None:
    """Write ``params.json`` (and ``classes.pkl`` when needed) into ``job_path``.

    ``write(path, data)`` writes a file (a connector's ``write_atomic`` for a
    job folder on a remote host).
    """
    objects, shipped = to_objects(config, job_path, workspace_path)
    data = {"workspace": str(workspace_path), "version": VERSION, "xpm_nb": _version(),
            "objects": objects}
    if shipped:
        import cloudpickle

        write(job_path / CLASSES_FILE, cloudpickle.dumps(shipped))
        write(job_path / SOURCES_FILE, json.dumps(class_sources(shipped.values())))
    write(job_path / "params.json", json.dumps(data))


def class_sources(classes) -> dict:
    """Where the methods of ``classes`` come from, for tracebacks in the job process.

    cloudpickle names every shipped function's file ``<dynamic-code>``: this
    gives ``files`` (the text of each file, from :mod:`linecache`, which holds
    IPython's cells and reads a script) and ``functions`` (``"qualname:first
    line"`` -> file), with which ``xpm_nb.run`` gives the code its file back.
    """
    import linecache

    functions: dict[str, str] = {}
    for cls in classes:
        for klass in getattr(cls, "__mro__", (cls,)):
            if getattr(klass, "__module__", None) != cls.__module__:
                continue  # an importable base: its file is where it is
            for value in vars(klass).values():
                func = getattr(value, "__func__", value)
                for f in (func, getattr(value, "fget", None), getattr(value, "fset", None)):
                    code = getattr(f, "__code__", None)
                    if code is not None:
                        functions[f"{f.__qualname__}:{code.co_firstlineno}"] = code.co_filename
    files = {}
    for name in sorted(set(functions.values())):
        lines = linecache.getlines(name)
        if lines:
            files[name] = "".join(lines)
    return {"files": files, "functions": functions}


def _version() -> str:
    from .. import __version__

    return __version__


# --- reading ---------------------------------------------------------------

_EXPECTED_OBJECT = "expected an object with module/type/fields"


def _kind(value) -> str:
    """What a JSON value is, for messages: 'null', 'an int', 'a list'..."""
    if value is None:
        return "null"
    name = {dict: "object", list: "list", str: "string"}.get(type(value), type(value).__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


class _Shape(SerializationError):
    """Internal: a value of the wrong shape; the caller adds the file and the place."""


def read_params(job_path: Path, *, select=None, shared: dict | None = None):
    """Rebuild the configuration of a job folder (the last object: the task).

    ``select``, if given, filters the object list first (partial loading).
    ``shared``: see :func:`from_objects` (one object for what several job
    folders of a run share).
    """
    path = Path(job_path) / "params.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        msg = f"{path} does not exist: {job_path} is not a job folder"
        raise SerializationError(msg) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"{path} is not valid JSON ({exc}); the file is corrupt or truncated"
        raise SerializationError(msg) from None
    if not isinstance(data, dict):
        msg = (
            f"{path} holds {_kind(data)}, expected an object with 'objects' (a list of "
            "objects with module/type/fields): it is not a params.json. Fix: prepare the "
            "job again (submit it), or give the right folder"
        )
        raise SerializationError(msg)
    shipped = {}
    classes = Path(job_path) / CLASSES_FILE
    if classes.exists():
        import cloudpickle

        shipped = cloudpickle.loads(classes.read_bytes())
        from .xpmtype import extra_namespace

        extra_namespace.update({cls.__name__: cls for cls in shipped.values()})
    workspace = data.get("workspace")
    if workspace is None:
        workspace = Path(job_path).parent.parent.parent
    elif not isinstance(workspace, str):
        msg = f"{path}: 'workspace' is {_kind(workspace)}, expected a string (a folder)"
        raise SerializationError(msg)
    objects = data.get("objects", [])
    if select is not None:
        check_objects(objects, path)  # the selection reads them before from_objects
        objects = select(objects)
    return from_objects(objects, Path(job_path), Path(workspace), shipped, path, shared=shared)


def check_objects(objects, where) -> None:
    """Raise a :class:`SerializationError` unless ``objects`` is a list of objects
    with module/type/fields (the checks ``from_objects`` makes as it goes)."""
    if not isinstance(objects, list):
        msg = f"{where}: 'objects' is {_kind(objects)}, expected a list of objects"
        raise SerializationError(msg)
    for index, obj in enumerate(objects):
        _check_object(obj, index, where)


def _check_object(obj, index: int, where) -> None:
    if type(obj) is not dict:
        msg = f"{where}: objects[{index}] is {_kind(obj)}, {_EXPECTED_OBJECT}"
        raise SerializationError(msg)
    for key, kinds, expected in _OBJECT_KEYS:
        value = obj.get(key, _MISSING)
        if not isinstance(value, kinds):
            got = "missing" if value is _MISSING else _kind(value)
            msg = f"{where}: objects[{index}] '{key}' is {got}, expected {expected}"
            raise SerializationError(msg)
    for key in ("task", "init_tasks"):
        value = obj.get(key)
        if value is not None and not isinstance(value, list if key == "init_tasks" else _IDS):
            expected = "a list of object ids" if key == "init_tasks" else "an object id"
            msg = f"{where}: objects[{index}] '{key}' is {_kind(value)}, expected {expected}"
            raise SerializationError(msg)


_MISSING = object()
_IDS = (int, str)
_OBJECT_KEYS = (
    ("id", _IDS, "an object id (an int)"),
    ("module", str, "a module name"),
    ("type", str, "a class name"),
    ("fields", dict, "an object (field name: value)"),
)


def _find_class(module: str, qualname: str, shipped: dict, where) -> type:
    cls = shipped.get(f"{module}:{qualname}")
    if cls is not None:
        return cls
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    except (ValueError, TypeError):
        if module and not module.startswith("."):
            raise  # from the module's own code
        msg = f"{where}: {module!r} is not a module name (class {qualname})"
        raise SerializationError(msg) from None
    except (ImportError, AttributeError) as exc:
        msg = (
            f"{where}: cannot find class {qualname} in module {module} ({exc}). "
            "Fix: make the module importable (PYTHONPATH) in this environment"
        )
        raise SerializationError(msg) from None


def from_objects(objects: list[dict], job_path: Path, workspace: Path, shipped: dict, where,
                 *, built: dict | None = None, reader_cls=None, shared: dict | None = None):
    """Build the objects in order; ``built`` (id -> object) is filled when given.

    ``where`` (the file, for messages) starts every error message. ``shared``
    (kept by the caller across files): an object already built from another
    file with the same writer id, class and values is reused, so a
    configuration two jobs of a run share is one object, as the reference's
    ``objects.jsonl`` gives it.
    """
    if not isinstance(objects, list):
        msg = f"{where}: 'objects' is {_kind(objects)}, expected a list of objects"
        raise SerializationError(msg)
    built = {} if built is None else built
    reader_cls = reader_cls or _Reader
    last = None
    for index, obj in enumerate(objects):
        if type(obj) is not dict:
            _check_object(obj, index, where)
        module, qualname, raw_fields = obj.get("module"), obj.get("type"), obj.get("fields")
        if (type(module) is not str or type(qualname) is not str
                or type(raw_fields) is not dict or not isinstance(obj.get("id"), _IDS)):
            _check_object(obj, index, where)  # raises, saying what is wrong
        cls = _find_class(module, qualname, shipped, where)
        if not (isinstance(cls, type) and issubclass(cls, Config)):
            msg = (
                f"{where}: objects[{index}] ({module}.{qualname}) is {cls!r}, not a "
                "configuration class (a subclass of Config). Fix: the module/type of the "
                "object must name a Config class"
            )
            raise SerializationError(msg)
        reader = reader_cls(built, job_path, workspace, shipped, where)
        fields = {}
        name = None
        try:
            for name, raw in raw_fields.items():
                fields[name] = reader.value(raw)
        except _Shape as exc:
            msg = f"{where}: objects[{index}] ({module}.{qualname}) field {name!r}: {exc}"
            raise SerializationError(msg) from None
        key = None
        if shared is not None:
            key = _shared_key(cls, obj, fields, built)
            if key in shared:
                built[obj["id"]] = last = shared[key]
                continue
        config = cls.C.__new__(cls.C)
        ConfigMixin.__init__(config)
        d = config.__dict__
        arguments = config.__xpmtype__.arguments
        for name, value in fields.items():
            if name in arguments:
                d[name] = value
        task = obj.get("task")
        if task is not None:
            if not isinstance(task, _IDS):
                _check_object(obj, index, where)
            # An unknown producer is allowed: partial loading leaves producers out.
            if task in built:
                config.__xpm__.task = built[task]
            elif task == obj["id"]:
                config.__xpm__.task = config
        init_tasks = obj.get("init_tasks")
        if init_tasks:
            try:
                config.__xpm__.init_tasks = [built[i] for i in init_tasks]
            except (KeyError, TypeError):
                _check_object(obj, index, where)
                msg = (
                    f"{where}: objects[{index}] ({module}.{qualname}) 'init_tasks' "
                    f"{init_tasks!r} refers to an object "
                    "not defined before it in the file"
                )
                raise SerializationError(msg) from None
        built[obj["id"]] = config
        last = config
        if key is not None:
            shared[key] = config
    if last is None:
        msg = f"{where}: no object in the file"
        raise SerializationError(msg)
    return last


def _shared_key(cls: type, obj: dict, fields: dict, built: dict):
    """What makes two objects of different files one: the writer's id (the
    same driver object) and equal values, nested configurations being the same
    objects already (built first). Values resolved, so paths relative to
    different job folders differ."""
    task = obj.get("task")
    producer = id(built[task]) if task in built else task
    inits = tuple(id(built.get(i)) for i in obj.get("init_tasks") or ())
    try:
        return (cls, obj["id"], _canonical(fields), producer, inits)
    except TypeError:
        return None  # a value that cannot be compared: never shared


def _canonical(value):
    """A hashable form of a field value; configurations by identity."""
    if isinstance(value, ConfigMixin):
        return ("config", id(value))
    if isinstance(value, dict):
        return ("dict", tuple((_canonical(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_canonical(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(_canonical(v) for v in value))
    hash(value)  # TypeError for what cannot be compared
    return (type(value), value)


class _Reader:
    """JSON field values back to Python values (objects refer to ``built`` ones)."""

    def __init__(self, built, job_path, workspace, shipped, where):
        self.built = built
        self.job_path = job_path
        self.workspace = workspace
        self.shipped = shipped
        self.where = where

    def value(self, value):
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict):
            return value
        kind = value.get("type")
        if kind == "python":
            try:
                return self.built[value["value"]]
            except (KeyError, TypeError):
                msg = (
                    f"refers to object {value.get('value')!r}, which is not defined before "
                    "it in the file"
                )
                raise _Shape(msg) from None
        if kind == "path":
            raw = value.get("value")
            if not isinstance(raw, str):
                raise _Shape(f"a path whose value is {_kind(raw)}, expected a string")
            base = value.get("base")
            root = {"job": self.job_path, "workspace": self.workspace}.get(base)
            return root / raw if root is not None else Path(raw)
        if kind == "enum":
            return self._enum(value)
        if kind == "set":
            items = self._items(value, "set")
            try:
                return {self.value(v) for v in items}
            except TypeError as exc:
                raise _Shape(f"a set item cannot be hashed ({exc})") from None
        if kind == "dict":
            out = {}
            for pair in self._items(value, "dict"):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _Shape(f"a dict entry is {_kind(pair)}, expected a [key, value] list")
                try:
                    out[self.value(pair[0])] = self.value(pair[1])
                except TypeError as exc:
                    raise _Shape(f"a dict key cannot be hashed ({exc})") from None
            return out
        return {k: self.value(v) for k, v in value.items()}

    @staticmethod
    def _items(value: dict, kind: str) -> list:
        items = value.get("value")
        if not isinstance(items, list):
            raise _Shape(f"a {kind} whose value is {_kind(items)}, expected a list")
        return items

    def _enum(self, value: dict):
        module, name, member = value.get("module"), value.get("enum"), value.get("value")
        if not (isinstance(module, str) and isinstance(name, str) and isinstance(member, str)):
            raise _Shape("an enum value needs the strings 'module', 'enum' and 'value'")
        cls = _find_class(module, name, self.shipped, self.where)
        if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
            raise _Shape(f"{module}.{name} is {cls!r}, not an Enum class")
        try:
            return cls[member]
        except KeyError:
            names = ", ".join(cls.__members__)
            raise _Shape(f"{module}.{name} has no member {member!r} ({names})") from None
