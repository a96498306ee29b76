"""Saving configurations to a folder and loading them back (the reference's format).

A saved folder holds a definition file (``experimaestro.json``) and a copy of
every file or folder of a ``DataPath`` field, at the field's path from the
root (``model/weights``, ``items/1/weights``)::

    {"objects": [...], "data": {"type": "python", "value": <id of the root>}}

``objects`` is the object list of ``params.json`` (dependencies first); a
``DataPath`` value is ``{"type": "path.serialized", "value": "model/weights",
"is_folder": false}``. ``serialize()`` stores ``[root, [init tasks]]`` as data.

Loading resolves the relative data paths against the folder, or through a
*loader*: a function called with a :class:`SerializedPath` that returns a
local path (how the Hugging Face Hub downloads files on demand).

``load_xp_info`` rebuilds the configurations of an experiment run: from the
reference's ``objects.jsonl`` (or older ``configs.json``), or from the
``params.json`` of the run's jobs for runs written by xpm_nb.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..errors import DefinitionNotFoundError, DestinationUsedError, SerializationError
from .objects import ConfigMixin, LightweightTask
from .params import (
    ObjectWriter,
    _kind,
    _Reader,
    _Shape,
    atomic_write,
    check_objects,
    from_objects,
    read_params,
)

__all__ = [
    "SerializedPath",
    "SerializationContext",
    "SerializedPathLoader",
    "state_dict",
    "from_state_dict",
    "save",
    "load",
    "serialize",
    "deserialize",
    "from_task_dir",
    "load_xp_info",
    "ExperimentInfo",
]

DEFINITION_FILENAMES = ("experimaestro.json", "definition.json")


@dataclass(frozen=True)
class SerializedPath:
    """A data file or folder of a saved configuration, relative to the save folder.

    It is path-like, so a loader may be as simple as ``lambda p: root / p``.
    """

    path: Path
    is_folder: bool = False

    def __fspath__(self) -> str:
        return str(self.path)


SerializedPathLoader = Callable[[SerializedPath], Path]
"""A function giving the local path of a serialized data path (e.g. by downloading it)."""


class SerializationContext:
    """Context when serializing experimaestro configurations.

    With a ``save_directory``, the files of ``DataPath`` fields are copied
    there; without one, they are referenced by their absolute path.
    """

    def __init__(self, *, save_directory: Path | None = None):
        self.save_directory = Path(save_directory) if save_directory is not None else None
        self._depth = 0
        self._used: set[str] = set()

    @property
    def depth(self) -> int:
        """The current depth in the configuration tree (root = 0)."""
        return self._depth

    def serialize(self, var_path: list[str], data_path: Path, config: ConfigMixin
                  ) -> SerializedPath:
        """Copy ``data_path`` to ``<save directory>/<var path>``; the path to store."""
        data_path = Path(data_path)
        where = f"{type(config).__xpmtype__.cls.__qualname__}.{var_path[-1]}" if var_path else (
            "the root"
        )
        if not data_path.exists():
            msg = (
                f"{where} (at {'/'.join(var_path)}): the DataPath {data_path} does not exist. "
                "Fix: create the file before saving, or leave the field unset"
            )
            raise SerializationError(msg)
        is_folder = data_path.is_dir()
        if self.save_directory is None:
            return SerializedPath(data_path.absolute(), is_folder)
        relative = "/".join(var_path)
        if relative in self._used:
            msg = (
                f"{where} (at {'/'.join(var_path)}): the destination {relative!r} under "
                f"{self.save_directory} was already used for another data path in this "
                "serialization. Fix: give each DataPath its own var_path (a fresh "
                "SerializationContext per save)"
            )
            raise DestinationUsedError(msg)
        self._used.add(relative)
        destination = self.save_directory / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if is_folder:
            shutil.copytree(data_path, destination, symlinks=False)
        else:
            shutil.copy2(data_path, destination)
        return SerializedPath(Path(relative), is_folder)


# --- writing ---------------------------------------------------------------


def _writer(context: SerializationContext) -> ObjectWriter:
    """The params.json writer, the files of DataPath fields handed to ``context``."""

    def data_path(at: list[str], path: Path, owner: ConfigMixin, depth: int) -> dict:
        context._depth = depth  # what context.serialize() sees as context.depth
        try:
            serialized = context.serialize(at, path, owner)
        finally:
            context._depth = 0
        return {"type": "path.serialized", "value": str(serialized.path),
                "is_folder": serialized.is_folder}

    return ObjectWriter(data_path=data_path, file_of_unimportable=True,
                        target="a saved configuration")


def state_dict(context: SerializationContext, obj: Any) -> dict:
    """Convert an object to a state dictionary (``{"objects", "data"}``) for JSON."""
    writer = _writer(context)
    data = writer.value(obj, [])
    return {"objects": writer.objects, "data": data}


def _state_with_init_tasks(context: SerializationContext, obj: Any, init_tasks: list) -> dict:
    """``[obj, [init tasks]]``, the data paths of ``obj`` named from its root as in save()."""
    writer = _writer(context)
    root = writer.value(obj, [])
    tasks = [writer.value(t, ["__init__", str(i)]) for i, t in enumerate(init_tasks)]
    return {"objects": writer.objects, "data": [root, tasks]}


def _write_folder(save_directory: Path, definition_filename: str, build: Callable,
                  context_class: type[SerializationContext] = SerializationContext) -> None:
    """Write into a new temp folder, then move it in: nothing is left if anything fails."""
    save_directory = Path(save_directory)
    if save_directory.exists() and not save_directory.is_dir():
        msg = f"cannot save into {save_directory}: it exists and is not a folder"
        raise SerializationError(msg)
    save_directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=save_directory.parent, prefix=f".{save_directory.name}."))
    try:
        state = build(context_class(save_directory=tmp))
        text = json.dumps(state)
        save_directory.mkdir(exist_ok=True)
        for entry in tmp.iterdir():
            target = save_directory / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
        # The definition file last: a folder with it is complete.
        atomic_write(save_directory / definition_filename, text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save(obj: Any, save_directory: Path | None, definition_filename: str = "experimaestro.json"
         ) -> None:
    """Save a configuration (and copies of its DataPath files) to a folder."""
    if save_directory is None:
        msg = "save(): save_directory is None. Fix: give the folder to save into"
        raise SerializationError(msg)
    _write_folder(save_directory, definition_filename, lambda ctx: state_dict(ctx, obj))


def serialize(obj: Any, save_directory: Path, *, init_tasks: list[LightweightTask] = (),
              definition_filename: str = "experimaestro.json") -> None:
    """Like :func:`save`, also storing init tasks run by ``deserialize(as_instance=True)``."""
    init_tasks = list(init_tasks)
    for task in init_tasks:
        if not isinstance(task, ConfigMixin) or not isinstance(task, LightweightTask):
            msg = f"serialize(): init_tasks must be LightweightTask configurations (got {task!r})"
            raise SerializationError(msg)
    _write_folder(save_directory, definition_filename,
                  lambda ctx: _state_with_init_tasks(ctx, obj, init_tasks))


# --- reading ---------------------------------------------------------------


def _resolver(path) -> Callable[[SerializedPath], Path]:
    if path is None:
        return lambda sp: Path(sp.path)
    if callable(path) and not isinstance(path, (str, os.PathLike)):
        return lambda sp: Path(path(sp))
    base = Path(path)
    return lambda sp: base / sp.path


class _SerializedReader(_Reader):
    """The params.json reader, plus ``path.serialized`` values resolved by a loader."""

    def __init__(self, *args, loader: Callable[[SerializedPath], Path]):
        super().__init__(*args)
        self.loader = loader

    def value(self, value):
        if isinstance(value, dict) and value.get("type") == "path.serialized":
            raw = value.get("value")
            if not isinstance(raw, str):
                msg = f"a serialized path whose value is {_kind(raw)}, expected a string"
                raise _Shape(msg)
            return self.loader(SerializedPath(Path(raw), bool(value.get("is_folder", False))))
        return super().value(value)


def _refs(value, found: list) -> None:
    """Object ids referenced by a JSON value."""
    if isinstance(value, list):
        for v in value:
            _refs(v, found)
    elif isinstance(value, dict):
        if value.get("type") == "python":
            found.append(value.get("value"))
        else:
            for v in value.values():
                _refs(v, found)


def _reachable(objects: list[dict], roots: list) -> list[dict]:
    """Objects reachable from ``roots`` through fields and init tasks, not producer tasks.

    Partial loading: the tasks that produced an output are left out, so their
    classes need not be importable.
    """
    by_id = {o["id"]: o for o in objects}  # checked by check_objects
    keep: set = set()
    stack = list(roots)
    while stack:
        oid = stack.pop()
        if not isinstance(oid, (int, str)) or oid in keep or oid not in by_id:
            continue
        keep.add(oid)
        obj = by_id[oid]
        found: list = []
        _refs(obj.get("fields", {}), found)
        stack.extend(found)
        stack.extend(obj.get("init_tasks", []))
    return [o for o in objects if o.get("id") in keep]


def _decode(state: dict, path, partial_loading: bool, where) -> Any:
    if not isinstance(state, dict) or "objects" not in state or "data" not in state:
        msg = f"{where}: not a state dictionary (expected the keys 'objects' and 'data')"
        raise SerializationError(msg)
    objects = state["objects"]
    data = state["data"]
    check_objects(objects, where)
    if partial_loading:
        roots: list = []
        _refs(data, roots)
        objects = _reachable(objects, roots)
    reader_cls = functools.partial(_SerializedReader, loader=_resolver(path))
    built: dict = {}
    if objects:
        from_objects(objects, None, None, {}, where, built=built, reader_cls=reader_cls)
    try:
        return reader_cls(built, None, None, {}, where).value(data)
    except _Shape as exc:
        msg = f"{where}: 'data' {exc}"
        raise SerializationError(msg) from None


def _as_instance(value, init_tasks=()) -> Any:
    """Value objects, built with shared objects so that init tasks change the result."""
    objects: dict = {}

    def build(v):
        if isinstance(v, ConfigMixin):
            return v.instance(objects=objects)
        if isinstance(v, list):
            return [build(x) for x in v]
        if isinstance(v, dict):
            return {k: build(x) for k, x in v.items()}
        return v

    result = build(value)
    for task in init_tasks:
        task.instance(objects=objects).execute()
    return result


def from_state_dict(state: dict, path: Union[None, str, Path, SerializedPathLoader] = None, *,
                    as_instance: bool = False, partial_loading: bool | None = None) -> Any:
    """Load an object from a state dictionary made by :func:`state_dict`."""
    if partial_loading is None:
        partial_loading = as_instance
    value = _decode(state, path, partial_loading, "state dictionary")
    return _as_instance(value) if as_instance else value


def _read_definition(path, definition_filename: str | None) -> tuple[dict, str]:
    names = [definition_filename] if definition_filename else list(DEFINITION_FILENAMES)
    loader = _resolver(path)
    tried = []
    for name in names:
        try:
            local = loader(SerializedPath(Path(name), False))
        except (OSError, SerializationError) as exc:
            tried.append(f"{name} ({exc})")
            continue
        local = Path(local)
        try:
            text = local.read_text()
        except FileNotFoundError:
            tried.append(str(local))
            continue
        except OSError as exc:
            msg = f"cannot read {local}: {exc}"
            raise SerializationError(msg) from None
        try:
            return json.loads(text), str(local)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            msg = f"{local} is not valid JSON ({exc}); the file is corrupt or truncated"
            raise SerializationError(msg) from None
    msg = (
        f"no definition file in {path}: tried {', '.join(tried)}. "
        "Fix: give the folder written by save() or serialize()"
    )
    raise DefinitionNotFoundError(msg)


def load(path: Union[str, Path, SerializedPathLoader], as_instance: bool = False,
         partial_loading: bool | None = None, definition_filename: str | None = None) -> Any:
    """Load what :func:`save` stored in a folder (a configuration, or an instance)."""
    if partial_loading is None:
        partial_loading = as_instance
    state, where = _read_definition(path, definition_filename)
    value = _decode(state, path, partial_loading, where)
    return _as_instance(value) if as_instance else value


def deserialize(path: Union[str, Path, SerializedPathLoader], as_instance: bool = False,
                partial_loading: bool | None = None, definition_filename: str | None = None):
    """Load what :func:`serialize` stored: ``(config, init_tasks)``, or the instance.

    With ``as_instance=True`` the init tasks run on the instance, which is returned.
    """
    if partial_loading is None:
        partial_loading = as_instance
    state, where = _read_definition(path, definition_filename)
    value = _decode(state, path, partial_loading, where)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], list):
        obj, init_tasks = value
    else:  # a folder written by save(): no init task
        obj, init_tasks = value, []
    if as_instance:
        return _as_instance(obj, init_tasks)
    return obj, init_tasks


def from_task_dir(path: Union[str, Path, SerializedPathLoader], as_instance: bool = False,
                  partial_loading: bool | None = None):
    """Load the task configuration of a job folder (its ``params.json``)."""
    if partial_loading is None:
        partial_loading = as_instance
    if callable(path) and not isinstance(path, (str, os.PathLike)):
        path = Path(path(SerializedPath(Path("params.json"), False))).parent
    job_path = Path(path)
    if not job_path.is_dir():
        msg = f"{job_path} is not a folder. Fix: give a job folder (WS/jobs/<task id>/<hex id>)"
        raise DefinitionNotFoundError(msg)
    if not (job_path / "params.json").exists():
        msg = (
            f"{job_path / 'params.json'} does not exist: {job_path} is not a job folder "
            "(or the job was never prepared). Fix: give a folder WS/jobs/<task id>/<hex id>"
        )
        raise DefinitionNotFoundError(msg)

    def select(objects: list[dict]) -> list[dict]:
        # The task is the last object; its own "task" entry points at itself.
        return _reachable(objects, [objects[-1].get("id")]) if objects else objects

    config = read_params(job_path, select=select if partial_loading else None)
    return config.instance() if as_instance else config


# --- experiment runs ---------------------------------------------------------


@dataclass
class ExperimentInfo:
    """Structured result from loading experiment objects."""

    jobs: dict[str, Any] = field(default_factory=dict)
    """Mapping of job_id to Config objects"""
    actions: dict[str, Any] = field(default_factory=dict)
    """Mapping of action_id to Action objects"""


def _jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file; a torn last line (being written) is skipped."""
    records = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return records
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break
            msg = f"{path}:{n + 1} is not valid JSON; the file is corrupt"
            raise SerializationError(msg) from None
        if not isinstance(record, dict):
            msg = f"{path}:{n + 1} holds {_kind(record)}, expected an object (one record a line)"
            raise SerializationError(msg)
        records.append(record)
    return records


def load_xp_info(path: Union[str, Path]) -> ExperimentInfo:
    """Load all serialized objects of an experiment run folder.

    Reads the reference's ``objects.jsonl`` (job ids from ``jobs.jsonl``, action
    ids from ``status.json``), else its older ``configs.json``, else the
    ``params.json`` of each job listed in ``jobs.jsonl`` (runs written by xpm_nb).
    """
    run = Path(path)
    jobs_records = _jsonl(run / "jobs.jsonl")
    tags = {r["job_id"]: r.get("tags") or {} for r in jobs_records if "job_id" in r}
    if (run / "objects.jsonl").exists():
        try:
            info = _from_objects_jsonl(run, set(tags))
        except SerializationError:
            if not jobs_records:
                raise
            # Our runs: classes shipped by value (a notebook's) are only in the
            # job folders' classes.pkl, which params.json reading uses.
            info = _from_job_folders(run, jobs_records)
    elif (run / "configs.json").exists():
        info = _from_configs_json(run / "configs.json")
    elif (run / "jobs.jsonl").exists():
        info = _from_job_folders(run, jobs_records)
    else:
        msg = (
            f"neither objects.jsonl, configs.json nor jobs.jsonl found in {run}. "
            "Fix: give an experiment run folder, WS/experiments/<name>/<run id>"
        )
        raise DefinitionNotFoundError(msg)
    for job_id, job_tags in tags.items():
        config = info.jobs.get(job_id)
        if config is not None and isinstance(job_tags, dict):
            config.__xpm__.tags.update(job_tags)
    return info


def _from_objects_jsonl(run: Path, job_ids: set[str]) -> ExperimentInfo:
    objects = _jsonl(run / "objects.jsonl")
    action_ids: set[str] = set()
    status = run / "status.json"
    if status.exists():
        try:
            action_ids = set(json.loads(status.read_text()).get("actions") or {})
        except (OSError, json.JSONDecodeError):
            action_ids = set()
    built: dict = {}
    if objects:
        from_objects(objects, None, None, {}, run / "objects.jsonl", built=built)
    info = ExperimentInfo()
    for obj in objects:
        identifier = obj.get("identifier")
        config = built.get(obj.get("id"))
        if identifier in job_ids:
            info.jobs[identifier] = config
        elif identifier in action_ids:
            info.actions[identifier] = config
    return info


def _from_configs_json(path: Path) -> ExperimentInfo:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"{path} is not valid JSON ({exc}); the file is corrupt or truncated"
        raise SerializationError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("tags") or {}, dict):
        msg = (
            f"{path} holds {_kind(data)}, expected an object with 'objects', 'data' "
            "(job id: configuration) and 'tags' (job id: tags)"
        )
        raise SerializationError(msg)
    tags = data.pop("tags", {}) or {}
    configs = _decode(data, None, False, path)
    if not isinstance(configs, dict):
        msg = f"{path}: 'data' is {_kind(configs)}, expected an object (job id: configuration)"
        raise SerializationError(msg)
    for job_id, job_tags in tags.items():
        if job_id in configs and isinstance(job_tags, dict):
            configs[job_id].__xpm__.tags.update(job_tags)
    return ExperimentInfo(jobs=dict(configs), actions={})


def _from_job_folders(run: Path, records: list[dict]) -> ExperimentInfo:
    workspace = run.parent.parent.parent
    info = ExperimentInfo()
    shared: dict = {}  # one object for a configuration several jobs share
    for record in records:
        job_id, task_id = record.get("job_id"), record.get("task_id")
        if not job_id or not task_id or job_id in info.jobs:
            continue
        job_path = workspace / "jobs" / task_id / job_id
        if not (job_path / "params.json").exists():
            continue  # never prepared (dry run): no configuration on disk
        info.jobs[job_id] = read_params(job_path, shared=shared)
    return info
