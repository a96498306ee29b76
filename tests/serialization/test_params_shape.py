"""params.json of valid JSON but the wrong shape: a SerializationError saying where.

Every case names the file and what is wrong at which place (``objects[0] is an
int, expected an object with module/type/fields``), never an AttributeError,
TypeError or KeyError; the job process fails with that message, and
``from_task_dir`` / ``load_xp_info`` / ``load`` raise it.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.paths import importable, pythonpath

HERE = importable(__file__)

from ser_classes import Consumer, Model, Outer  # noqa: E402

from xpm_nb import (  # noqa: E402
    Config,
    Meta,
    Param,
    SerializationContext,
    from_task_dir,
    load,
    load_xp_info,
    save,
    state_dict,
)
from xpm_nb.core.params import read_params, write_params  # noqa: E402
from xpm_nb.errors import SerializationError  # noqa: E402

MODEL = {"id": 1, "module": "ser_classes", "type": "Model", "fields": {"hidden": 3}}


def _consumer(fields: dict, **extra) -> dict:
    return {"id": 2, "module": "ser_classes", "type": "Consumer", "fields": fields, **extra}


def _job(tmp_path: Path, content) -> Path:
    folder = tmp_path / "ws" / "jobs" / "ser_classes.consumer" / ("ab" * 32)
    folder.mkdir(parents=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / "params.json").write_text(text)
    return folder


def _objects(*objects) -> dict:
    return {"workspace": "/ws", "version": 3, "objects": list(objects)}


# (content of params.json, what the message must say after the file's path)
CASES = {
    "null": ("null", "holds null, expected an object with 'objects'"),
    "list": ("[]", "holds a list, expected an object with 'objects'"),
    "string": ('"x"', "holds a string, expected an object"),
    "objects an int": ('{"objects": 5}', "'objects' is an int, expected a list of objects"),
    "object an int": ('{"objects": [1]}',
                      "objects[0] is an int, expected an object with module/type/fields"),
    "workspace a list": (json.dumps({"workspace": [1], "objects": [MODEL]}),
                         "'workspace' is a list, expected a string"),
    "no module": (_objects({"id": 1, "type": "Model", "fields": {}}),
                  "objects[0] 'module' is missing, expected a module name"),
    "type an int": (_objects({**MODEL, "type": 5}),
                    "objects[0] 'type' is an int, expected a class name"),
    "fields a list": (_objects({**MODEL, "fields": []}),
                      "objects[0] 'fields' is a list, expected an object"),
    "id a list": (_objects({**MODEL, "id": [1]}),
                  "objects[0] 'id' is a list, expected an object id"),
    "task a dict": (_objects(MODEL, _consumer({}, task={})),
                    "objects[1] 'task' is an object, expected an object id"),
    "init_tasks an int": (_objects(MODEL, _consumer({}, init_tasks=3)),
                          "objects[1] 'init_tasks' is an int, expected a list of object ids"),
    "unknown init task": (_objects(MODEL, _consumer({}, init_tasks=[9])),
                          "objects[1] (ser_classes.Consumer) 'init_tasks' [9] refers to an "
                          "object not defined before it"),
    "unknown reference": (_objects(_consumer({"model": {"type": "python", "value": 5}})),
                          "objects[0] (ser_classes.Consumer) field 'model': refers to object "
                          "5, which is not defined before it in the file"),
    "reference to a list": (_objects(_consumer({"model": {"type": "python", "value": [1]}})),
                            "field 'model': refers to object [1], which is not defined"),
    "not a config": (_objects({"id": 1, "module": "os", "type": "path", "fields": {}}),
                     "objects[0] (os.path) is <module"),
    "a function": (_objects({"id": 1, "module": "json", "type": "dumps", "fields": {}}),
                   "not a configuration class (a subclass of Config)"),
    "empty module": (_objects({**MODEL, "module": ""}), "'' is not a module name"),
    "relative module": (_objects({**MODEL, "module": ".x"}), "'.x' is not a module name"),
    "path value an int": (_objects({**MODEL, "fields": {"weights": {"type": "path",
                                                                    "value": 5}}}),
                          "field 'weights': a path whose value is an int, expected a string"),
    "set of lists": (_objects({**MODEL, "fields": {"hidden": {"type": "set",
                                                               "value": [[1]]}}}),
                     "field 'hidden': a set item cannot be hashed"),
    "set value a dict": (_objects({**MODEL, "fields": {"hidden": {"type": "set",
                                                                   "value": {}}}}),
                         "a set whose value is an object, expected a list"),
    "dict entry": (_objects({**MODEL, "fields": {"hidden": {"type": "dict",
                                                             "value": [[1, 2, 3]]}}}),
                   "a dict entry is a list, expected a [key, value] list"),
    "enum member": (_objects({**MODEL, "fields": {"hidden": {
        "type": "enum", "module": "enum", "enum": "Enum", "value": "X"}}}),
        "enum.Enum has no member 'X'"),
    "enum not an enum": (_objects({**MODEL, "fields": {"hidden": {
        "type": "enum", "module": "json", "enum": "dumps", "value": "X"}}}),
        "json.dumps is <function dumps"),
    "enum without module": (_objects({**MODEL, "fields": {"hidden": {
        "type": "enum", "enum": "E", "value": "X"}}}),
        "an enum value needs the strings 'module', 'enum' and 'value'"),
}


class TestReadParams:
    @pytest.mark.parametrize("name", sorted(CASES))
    def test_wrong_shape_names_the_file_and_the_place(self, tmp_path, name):
        """A SerializationError naming params.json, what is wrong and where."""
        content, expected = CASES[name]
        folder = _job(tmp_path, content)
        with pytest.raises(SerializationError) as info:
            read_params(folder)
        message = str(info.value)
        assert message.startswith(str(folder / "params.json")), message
        assert expected in message, message

    def test_a_valid_file_still_reads(self, tmp_path):
        """The checks refuse nothing the writer writes (references, init tasks, sets...)."""
        model = Model.C(hidden=3, weights=tmp_path / "w")
        task = Consumer.C(model=model)
        folder = tmp_path / "ws" / "jobs" / "x" / "y"
        folder.mkdir(parents=True)
        write_params(task, folder, tmp_path / "ws")
        assert read_params(folder).__identifier__() == task.__identifier__()


def _nodes(value, path=()):
    """Every (path, node) of a JSON value, the root included."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, (*path, i))


def _replace(value, path, new):
    if not path:
        return new
    value = copy.deepcopy(value)
    node = value
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**70) | st.floats() | st.text(max_size=6)
    | st.sampled_from(["python", "path", "enum", "set", "dict", "ser_classes", "Model",
                       "job", "workspace"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["type", "value", "id", "module", "fields", "task",
                                       "init_tasks", "enum", "base", "hidden"]),
                      children, max_size=4),
    max_leaves=6)


class TestMutatedParams:
    @settings(max_examples=int(os.environ.get("XPM_NB_HYPOTHESIS_EXAMPLES", "150")),
              deadline=None, derandomize="XPM_NB_HYPOTHESIS_EXAMPLES" not in os.environ,
              database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_any_node_replaced_reads_or_fails_clearly(self, tmp_path_factory, data):
        """A real params.json with any one node replaced by any JSON value: a
        configuration, or a SerializationError naming params.json; nothing else."""
        root = tmp_path_factory.mktemp("mutated")
        model = Model.C(hidden=3, weights=root / "w")
        task = Consumer.C(model=model)
        folder = root / "ws" / "jobs" / "x" / "y"
        folder.mkdir(parents=True)
        write_params(task, folder, root / "ws")
        original = json.loads((folder / "params.json").read_text())
        nodes = list(_nodes(original))
        path, _ = nodes[data.draw(st.integers(0, len(nodes) - 1), label="node")]
        mutated = _replace(original, path, data.draw(json_values, label="new value"))
        (folder / "params.json").write_text(json.dumps(mutated))
        for partial in (False, True):
            try:
                from_task_dir(folder, partial_loading=partial)
            except SerializationError as exc:
                assert "params.json" in str(exc), str(exc)


class TestCallers:
    def test_from_task_dir_with_partial_loading(self, tmp_path):
        """Partial loading reads the object list first: the same clear error."""
        folder = _job(tmp_path, '{"objects": [1]}')
        for partial in (False, True):
            with pytest.raises(SerializationError, match=r"params\.json: objects\[0\] is an int"):
                from_task_dir(folder, partial_loading=partial)

    def test_load_xp_info_of_a_run_with_a_bad_job(self, tmp_path):
        """load_xp_info on a run whose job's params.json has the wrong shape."""
        folder = _job(tmp_path, _objects(_consumer({"model": {"type": "python", "value": 5}})))
        run = tmp_path / "ws" / "experiments" / "xp" / "run1"
        run.mkdir(parents=True)
        record = {"job_id": folder.name, "task_id": folder.parent.name}
        (run / "jobs.jsonl").write_text(json.dumps(record) + "\n")
        with pytest.raises(SerializationError, match="field 'model': refers to object 5") as info:
            load_xp_info(run)
        assert str(folder / "params.json") in str(info.value)

    def test_load_xp_info_of_a_jobs_jsonl_line_that_is_not_an_object(self, tmp_path):
        run = tmp_path / "run"
        run.mkdir()
        (run / "jobs.jsonl").write_text('{"job_id": "a", "task_id": "t"}\n[1, 2]\n{}\n')
        with pytest.raises(SerializationError, match=r"jobs\.jsonl:2 holds a list"):
            load_xp_info(run)

    def test_load_of_a_definition_referring_to_an_unknown_object(self, tmp_path):
        """A saved folder whose 'data' names an object not in the file."""
        weights = tmp_path / "w.bin"
        weights.write_bytes(b"w")
        save(Outer.C(model=Model.C(hidden=1, weights=weights), lr=0.1, items=[]),
             tmp_path / "saved")
        definition = tmp_path / "saved" / "experimaestro.json"
        state = json.loads(definition.read_text())
        state["data"] = {"type": "python", "value": 12345}
        definition.write_text(json.dumps(state))
        with pytest.raises(SerializationError, match="'data' refers to object 12345"):
            load(tmp_path / "saved")
        state["objects"] = {"a": 1}
        definition.write_text(json.dumps(state))
        with pytest.raises(SerializationError, match="'objects' is an object, expected a list"):
            load(tmp_path / "saved", partial_loading=True)

    def test_job_process_fails_with_the_message(self, tmp_path):
        """python -m xpm_nb.run on such a folder: .failed names params.json and the place."""
        folder = _job(tmp_path, '{"objects": [1]}')
        env = {**os.environ, "PYTHONPATH": pythonpath(HERE)}
        proc = subprocess.run([sys.executable, "-m", "xpm_nb.run", str(folder)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        failed = json.loads((folder / "consumer.failed").read_text())
        assert failed["reason"].startswith("SerializationError: "), failed
        assert "params.json: objects[0] is an int, expected an object with module/type/fields" \
            in failed["reason"], failed
        assert "Traceback" in proc.stderr and "AttributeError" not in proc.stderr
        assert not (folder / "consumer.done").exists()


class Holder(Config):
    x: Param[int]
    extra: Meta[Any]


class Wrapper(Config):
    items: Param[list[Holder]]


class TestWriterErrors:
    """A value the object list cannot hold (a Meta field's: no identifier checked it)."""

    def test_params_json_names_the_field(self, tmp_path):
        config = Wrapper.C(items=[Holder.C(x=1, extra=object())])
        job = tmp_path / "job"
        job.mkdir()
        with pytest.raises(SerializationError) as info:
            write_params(config, job, tmp_path)
        assert str(info.value).startswith("Holder.extra: cannot write <object object at")
        assert "(an object) to params.json. Fix: use configurations" in str(info.value)
        assert list(job.iterdir()) == []
        with pytest.raises(SerializationError, match=r"^items/0/extra: cannot write <object"):
            state_dict(SerializationContext(), config)
