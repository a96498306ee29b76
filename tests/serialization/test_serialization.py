"""save / load / serialize / deserialize / state_dict / from_task_dir / load_xp_info."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from support.paths import importable, on_pythonpath

HERE = importable(__file__)

from ser_classes import Consumer, Echo, Model, Outer, Scale, Vocabulary  # noqa: E402

from xpm_nb import (  # noqa: E402
    SerializationContext,
    SerializedPath,
    deserialize,
    experiment,
    from_state_dict,
    from_task_dir,
    load,
    load_xp_info,
    save,
    serialize,
    state_dict,
    tag,
)
from xpm_nb.core import taskglobals  # noqa: E402
from xpm_nb.core.params import write_params  # noqa: E402


@pytest.fixture
def data(tmp_path):
    """A weights file and a weights folder outside of any save folder."""
    weights = tmp_path / "src" / "w.bin"
    weights.parent.mkdir()
    weights.write_bytes(b"\x00\x01weights")
    folder = tmp_path / "src" / "wdir"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    return weights, folder


@pytest.fixture
def outer(data):
    weights, folder = data
    m = Model.C(hidden=3, weights=weights)
    return Outer.C(model=m, lr=0.1, items=[m, Model.C(hidden=4, weights=folder)])


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


class TestSaveLoad:
    def test_round_trip_copies_data_paths(self, outer, data, tmp_path):
        """DataPath files and folders are copied at their field path; load finds them there
        even once the originals are gone; identifiers and sharing are kept."""
        weights, folder = data
        saved = tmp_path / "saved"
        save(outer, saved)
        assert _tree(saved / "model") == {"weights": weights.read_bytes()}
        assert _tree(saved / "items" / "1" / "weights") == _tree(folder)
        shutil.rmtree(weights.parent)
        loaded = load(saved)
        assert loaded.__identifier__() == outer.__identifier__()
        assert loaded.model is loaded.items[0]
        assert loaded.model.weights == saved / "model" / "weights"
        assert loaded.model.weights.read_bytes() == b"\x00\x01weights"
        assert (loaded.items[1].weights / "sub" / "b.txt").read_text() == "b"
        assert (loaded.lr, loaded.model.hidden, loaded.items[1].hidden) == (0.1, 3, 4)

    def test_definition_file_is_the_reference_format(self, outer, tmp_path):
        """experimaestro.json: objects (dependencies first) and data referencing the root."""
        save(outer, tmp_path / "saved")
        state = json.loads((tmp_path / "saved" / "experimaestro.json").read_text())
        assert [o["type"] for o in state["objects"]] == ["Model", "Model", "Outer"]
        assert state["data"] == {"type": "python", "value": state["objects"][-1]["id"]}
        weights = state["objects"][0]["fields"]["weights"]
        assert weights == {"type": "path.serialized", "value": "model/weights",
                           "is_folder": False}
        assert state["objects"][-1]["identifier"] == outer.__identifier__().hex()

    def test_load_as_instance(self, outer, tmp_path):
        """as_instance=True gives value objects (shared objects stay shared)."""
        save(outer, tmp_path / "saved")
        value = load(tmp_path / "saved", as_instance=True)
        assert type(value) is Outer and type(value.model) is Model
        assert value.model is value.items[0]

    def test_other_definition_filename_and_fallback(self, outer, tmp_path):
        """A folder saved as definition.json is found when no filename is given."""
        save(outer, tmp_path / "saved", definition_filename="definition.json")
        assert not (tmp_path / "saved" / "experimaestro.json").exists()
        assert load(tmp_path / "saved").__identifier__() == outer.__identifier__()

    def test_saving_again_replaces_the_files(self, outer, data, tmp_path):
        """Saving twice into a folder keeps other files and replaces the saved ones."""
        saved = tmp_path / "saved"
        save(outer, saved)
        (saved / "README.md").write_text("mine")
        data[0].write_bytes(b"new weights")
        save(outer, saved)
        assert (saved / "README.md").read_text() == "mine"
        assert (saved / "model" / "weights").read_bytes() == b"new weights"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".saved")]

    def test_cache_files_are_keyed_by_identifier(self, tmp_path):
        """A loaded configuration finds the @cache files of the one that was saved."""
        taskglobals.set_workspace(tmp_path / "ws")
        try:
            vocab = Vocabulary.C(size=5)
            text, existed = vocab.build()
            assert not existed
            key = vocab.__identifier__().hex()
            assert (tmp_path / "ws" / "config" / key / "vocab.txt").read_text() == text
            save(vocab, tmp_path / "saved")
            again = load(tmp_path / "saved")
            assert again.build() == (text, True)
            assert load(tmp_path / "saved", as_instance=True).build() == (text, True)
            assert Vocabulary.C(size=6).build()[1] is False
        finally:
            taskglobals.set_workspace(None)


class TestSerializeDeserialize:
    def test_init_tasks_are_stored_and_run(self, outer, tmp_path):
        """deserialize gives (config, init tasks); as_instance runs them on the instance."""
        serialize(outer, tmp_path / "ser", init_tasks=[Scale.C(model=outer.model, factor=10)])
        config, init_tasks = deserialize(tmp_path / "ser")
        assert config.__identifier__() == outer.__identifier__()
        assert [type(t).__xpmtype__.cls for t in init_tasks] == [Scale]
        assert init_tasks[0].model is config.model
        value = deserialize(tmp_path / "ser", as_instance=True)
        assert value.model.hidden == 30 and value.items[0].hidden == 30
        assert value.items[1].hidden == 4
        # Data paths are named from the root, as by save().
        assert (tmp_path / "ser" / "model" / "weights").is_file()

    def test_load_of_a_serialized_folder(self, outer, tmp_path):
        """load() of a serialize()d folder gives what was stored: [config, [tasks]]."""
        serialize(outer, tmp_path / "ser", init_tasks=[Scale.C(model=outer.model, factor=2)])
        config, tasks = load(tmp_path / "ser")
        assert config.__identifier__() == outer.__identifier__() and len(tasks) == 1

    def test_deserialize_of_a_saved_folder(self, outer, tmp_path):
        """deserialize() of a save()d folder: no init task."""
        save(outer, tmp_path / "saved")
        config, tasks = deserialize(tmp_path / "saved")
        assert tasks == [] and config.lr == 0.1


class TestStateDict:
    def test_without_save_directory_paths_stay_absolute(self, outer, data):
        """state_dict without a save folder: JSON with absolute data paths, nothing copied."""
        weights, folder = data
        state = state_dict(SerializationContext(), outer)
        json.dumps(state)
        fields = state["objects"][0]["fields"]["weights"]
        assert fields == {"type": "path.serialized", "value": str(weights),
                          "is_folder": False}
        back = from_state_dict(state)
        assert back.model.weights == weights and back.items[1].weights == folder
        assert back.__identifier__() == outer.__identifier__()

    def test_from_state_dict_with_a_folder_or_a_loader(self, outer, tmp_path):
        """Relative data paths resolve against a folder, or through a loader function."""
        save(outer, tmp_path / "saved")
        state = json.loads((tmp_path / "saved" / "experimaestro.json").read_text())
        assert from_state_dict(state, tmp_path / "saved").model.weights.is_file()
        asked: list[SerializedPath] = []

        def loader(sp: SerializedPath) -> Path:
            asked.append(sp)
            return tmp_path / "saved" / sp

        value = from_state_dict(state, loader, as_instance=True)
        assert value.items[1].weights.is_dir()
        assert {(str(sp.path), sp.is_folder) for sp in asked} == {
            ("model/weights", False), ("items/1/weights", True)}

    def test_context_depth_and_destinations(self, outer, tmp_path):
        """SerializationContext.serialize gets the variable path and the tree depth."""
        seen = []

        class Recording(SerializationContext):
            def serialize(self, var_path, data_path, config):
                seen.append(("/".join(var_path), self.depth, type(config).__name__))
                return super().serialize(var_path, data_path, config)

        wrapper = Outer.C(model=outer.model, lr=0.5, items=[])
        state_dict(Recording(save_directory=tmp_path / "ctx"), outer)
        state_dict(Recording(), wrapper)
        assert seen[:2] == [("model/weights", 1, "Model.XPMConfig"),
                            ("items/1/weights", 1, "Model.XPMConfig")]
        assert seen[2] == ("model/weights", 1, "Model.XPMConfig")
        assert (tmp_path / "ctx" / "items" / "1" / "weights" / "a.txt").exists()


class TestFromTaskDir:
    def _job_folder(self, config, ws: Path) -> Path:
        job = ws / "jobs" / "ser_classes.consumer" / config.__identifier__().hex()
        job.mkdir(parents=True)
        write_params(config, job, ws)
        return job

    def test_from_task_dir(self, data, tmp_path):
        """A job folder's params.json gives the task configuration, or its instance."""
        task = Consumer.C(model=Model.C(hidden=7, weights=data[0]))
        job = self._job_folder(task, tmp_path / "ws")
        config = from_task_dir(job)
        assert config.__identifier__() == task.__identifier__()
        value = from_task_dir(str(job), as_instance=True)
        assert type(value) is Consumer and value.model.hidden == 7

    def test_partial_loading_skips_producer_tasks(self, data, tmp_path, monkeypatch):
        """With partial loading, the task that produced an input need not be importable."""
        module = tmp_path / "mods" / "gone_producer.py"
        module.parent.mkdir()
        module.write_text(
            "from xpm_nb import Task, Param\n"
            "class Producer(Task):\n"
            "    seed: Param[int]\n"
        )
        monkeypatch.syspath_prepend(str(module.parent))
        import gone_producer

        output = Model.C(hidden=2, weights=data[0])
        output.__xpm__.task = gone_producer.Producer.C(seed=1)
        job = self._job_folder(Consumer.C(model=output), tmp_path / "ws")
        # The producer's module disappears (another machine, another environment).
        monkeypatch.delitem(sys.modules, "gone_producer")
        module.unlink()
        from xpm_nb.errors import SerializationError

        with pytest.raises(SerializationError, match="cannot find class Producer"):
            from_task_dir(job, partial_loading=False)
        config = from_task_dir(job, partial_loading=True)
        assert config.model.hidden == 2 and config.model.__xpm__.task is None
        assert from_task_dir(job, as_instance=True).model.hidden == 2  # partial by default


class TestLoadXpInfo:
    def test_our_own_run(self, tmp_path, monkeypatch):
        """load_xp_info on a run written by xpm_nb: job id -> configuration, with tags."""
        on_pythonpath(monkeypatch, HERE)
        with experiment(tmp_path / "ws", "xp") as xp:
            tasks = [Echo.C(value=tag(v)).submit() for v in (1, 2)]
        info = load_xp_info(xp.run_path)
        assert set(info.jobs) == {t.__identifier__().hex() for t in tasks}
        for job_id, config in info.jobs.items():
            assert config.__identifier__().hex() == job_id
            assert config.tags() == {"value": config.value}
        assert info.actions == {}


def test_serialize_to_used_destination_is_value_error(outer, tmp_path):
    """A destination used twice raises ValueError (as documented), naming it."""
    from xpm_nb.errors import DestinationUsedError, SerializationError

    source = tmp_path / "src.txt"
    source.write_text("x")
    context = SerializationContext(save_directory=tmp_path / "out")
    context.serialize(["model", "weights"], source, outer.model)
    with pytest.raises(ValueError, match=r"'model/weights'.*already used") as info:
        context.serialize(["model", "weights"], source, outer.model)
    assert isinstance(info.value, DestinationUsedError)
    assert isinstance(info.value, SerializationError)
    assert "Fix:" in str(info.value)
