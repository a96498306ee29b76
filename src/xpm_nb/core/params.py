"""``params.json``: a configuration tree as the reference's version-3 object list.

Objects come dependencies first and the task last; each has ``id``,
``module``, ``type`` (qualified name), ``typename`` (type id), ``identifier``,
``task`` (the id of its producer, if any) and ``fields``. References between
objects are ``{"type": "python", "value": <id>}``; paths under the job folder
or the workspace are stored relative to them.

Classes that cannot be imported by name in another process (defined in
``__main__``, a notebook cell or a function body) are shipped by value in
``classes.pkl`` (cloudpickle) next to ``params.json``.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import SerializationError
from .objects import ConfigMixin

__all__ = ["write_params", "read_params", "to_objects", "from_objects", "atomic_write"]

VERSION = 3
CLASSES_FILE = "classes.pkl"


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: os.umask can only be read by setting it


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file whole or not at all: temp file in the same folder, then rename."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes 0600 files; give the mode a plain open() would (the umask's),
        # so that a group sharing a workspace reads it.
        os.fchmod(fd, 0o666 & ~_UMASK)
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


class _Writer:
    def __init__(self, job_path: Path | None, workspace_path: Path | None):
        self.job_path = job_path
        self.workspace_path = workspace_path
        self.objects: list[dict] = []
        self.done: set[int] = set()
        self.shipped: dict[str, type] = {}

    def config(self, config) -> int:
        key = id(config)
        if key in self.done:
            return key
        self.done.add(key)
        xpmtype = config.__xpmtype__
        info = config.__xpm__
        # Producers and values first: the reader builds objects in order.
        producer = info.task
        if producer is not None and producer is not config:
            self.config(producer)
        fields = {}
        d = config.__dict__
        for name in xpmtype.arguments:
            if name in d:
                fields[name] = self.value(d[name])
        cls = xpmtype.cls
        self._ship(cls)
        obj = {
            "id": key,
            "module": cls.__module__,
            "type": cls.__qualname__,
            "typename": xpmtype.typeid,
            "identifier": config.__identifier__().hex(),
        }
        if producer is not None:
            obj["task"] = id(producer)
        if cls.__module__ == "__main__":
            main = sys.modules.get("__main__")
            if getattr(main, "__file__", None):
                obj["file"] = str(Path(main.__file__).resolve())
        obj["fields"] = fields
        if info.init_tasks:
            obj["init_tasks"] = [self.config(t) for t in info.init_tasks]
        self.objects.append(obj)
        return key

    def _ship(self, cls: type) -> None:
        if _needs_shipping(cls):
            self.shipped[f"{cls.__module__}:{cls.__qualname__}"] = cls

    def value(self, value) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(
            value, enum.Enum
        ):
            return value
        if isinstance(value, ConfigMixin):
            return {"type": "python", "value": self.config(value)}
        if isinstance(value, enum.Enum):
            cls = type(value)
            self._ship(cls)
            return {"type": "enum", "module": cls.__module__, "enum": cls.__qualname__,
                    "value": value.name}
        if isinstance(value, Path):
            return self.path(value)
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        if isinstance(value, (set, frozenset)):
            return {"type": "set", "value": [self.value(v) for v in value]}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and "type" not in value:
                return {k: self.value(v) for k, v in value.items()}
            return {"type": "dict", "value": [[self.value(k), self.value(v)]
                                              for k, v in value.items()]}
        msg = f"cannot write {value!r} (a {type(value).__qualname__}) to params.json"
        raise SerializationError(msg)

    def path(self, path: Path) -> dict:
        for base, root in (("job", self.job_path), ("workspace", self.workspace_path)):
            if root is not None:
                try:
                    rel = path.relative_to(root)
                except ValueError:
                    continue
                return {"type": "path", "value": str(rel), "base": base}
        return {"type": "path", "value": str(path)}


def to_objects(config, job_path=None, workspace_path=None) -> tuple[list[dict], dict]:
    """The object list of ``config`` and the classes to ship by value."""
    writer = _Writer(job_path, workspace_path)
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
    write(job_path / "params.json", json.dumps(data))


def _version() -> str:
    from .. import __version__

    return __version__


def read_params(job_path: Path, *, select=None):
    """Rebuild the configuration of a job folder (the last object: the task).

    ``select``, if given, filters the object list first (partial loading).
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
    shipped = {}
    classes = Path(job_path) / CLASSES_FILE
    if classes.exists():
        import cloudpickle

        shipped = cloudpickle.loads(classes.read_bytes())
        from .xpmtype import extra_namespace

        extra_namespace.update({cls.__name__: cls for cls in shipped.values()})
    workspace = Path(data.get("workspace", Path(job_path).parent.parent.parent))
    objects = data.get("objects", [])
    if select is not None:
        objects = select(objects)
    return from_objects(objects, Path(job_path), workspace, shipped, path)


def _find_class(module: str, qualname: str, shipped: dict, where) -> type:
    cls = shipped.get(f"{module}:{qualname}")
    if cls is not None:
        return cls
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    except (ImportError, AttributeError) as exc:
        msg = (
            f"{where}: cannot find class {qualname} in module {module} ({exc}). "
            "Fix: make the module importable (PYTHONPATH) in this environment"
        )
        raise SerializationError(msg) from None


def from_objects(objects: list[dict], job_path: Path, workspace: Path, shipped: dict, where,
                 *, built: dict | None = None, reader_cls=None):
    """Build the objects in order; ``built`` (id -> object) is filled when given."""
    built = {} if built is None else built
    reader_cls = reader_cls or _Reader
    last = None
    for obj in objects:
        try:
            cls = _find_class(obj["module"], obj["type"], shipped, where)
            raw = obj["fields"]
        except KeyError as exc:
            msg = f"{where}: object {obj.get('id')} has no {exc} entry"
            raise SerializationError(msg) from None
        reader = reader_cls(built, job_path, workspace, shipped, where)
        fields = {k: reader.value(v) for k, v in raw.items()}
        config = cls.C.__new__(cls.C)
        ConfigMixin.__init__(config)
        d = config.__dict__
        arguments = config.__xpmtype__.arguments
        for name, value in fields.items():
            if name in arguments:
                d[name] = value
        if "task" in obj and obj["task"] in built:
            config.__xpm__.task = built[obj["task"]]
        elif "task" in obj and obj["task"] == obj["id"]:
            config.__xpm__.task = config
        if "init_tasks" in obj:
            config.__xpm__.init_tasks = [built[i] for i in obj["init_tasks"]]
        built[obj["id"]] = config
        last = config
    if last is None:
        msg = f"{where}: no object in the file"
        raise SerializationError(msg)
    return last


class _Reader:
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
            return self.built[value["value"]]
        if kind == "path":
            base = value.get("base")
            root = {"job": self.job_path, "workspace": self.workspace}.get(base)
            return root / value["value"] if root is not None else Path(value["value"])
        if kind == "enum":
            cls = _find_class(value["module"], value["enum"], self.shipped, self.where)
            return cls[value["value"]]
        if kind == "set":
            return {self.value(v) for v in value["value"]}
        if kind == "dict":
            return {self.value(k): self.value(v) for k, v in value["value"]}
        return {k: self.value(v) for k, v in value.items()}
