"""Serialization on bad input: clear errors naming the file and the fix, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.paths import importable

HERE = importable(__file__)

from ser_classes import Echo, Model, Outer  # noqa: E402

from xpm_nb import from_task_dir, load, load_xp_info, save, serialize  # noqa: E402
from xpm_nb.core.params import write_params  # noqa: E402
from xpm_nb.errors import DefinitionNotFoundError, SerializationError  # noqa: E402


@pytest.fixture
def saved(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    m = Model.C(hidden=1, weights=weights)
    save(Outer.C(model=m, lr=0.1, items=[m]), tmp_path / "saved")
    return tmp_path / "saved"


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


class TestLoad:
    def test_missing_folder(self, tmp_path):
        """No definition file: DefinitionNotFoundError (a FileNotFoundError too) with the fix."""
        with pytest.raises(DefinitionNotFoundError, match="no definition file") as info:
            load(tmp_path / "nothing")
        assert isinstance(info.value, FileNotFoundError)
        assert "experimaestro.json" in str(info.value) and "Fix" in str(info.value)
        assert not (tmp_path / "nothing").exists()

    def test_corrupt_definition(self, saved):
        """A truncated definition file: SerializationError naming it."""
        definition = saved / "experimaestro.json"
        definition.write_text(definition.read_text()[:50])
        with pytest.raises(SerializationError, match="not valid JSON") as info:
            load(saved)
        assert str(definition) in str(info.value)

    def test_unknown_class(self, saved):
        """A class that cannot be imported: the error names it, its module, and the fix."""
        definition = saved / "experimaestro.json"
        state = json.loads(definition.read_text())
        state["objects"][0]["module"] = "no_such_module_xyz"
        definition.write_text(json.dumps(state))
        before = _listing(saved)
        with pytest.raises(SerializationError) as info:
            load(saved)
        text = str(info.value)
        assert "Model" in text and "no_such_module_xyz" in text and "Fix" in text
        assert _listing(saved) == before

    def test_not_a_state_dictionary(self, saved):
        (saved / "experimaestro.json").write_text("[1, 2]")
        with pytest.raises(SerializationError, match="'objects' and 'data'"):
            load(saved)


class TestSave:
    def test_missing_data_path_writes_nothing(self, tmp_path):
        """A DataPath that does not exist: the error names the field and the file,
        and neither the save folder nor a temp folder is left behind."""
        m = Model.C(hidden=1, weights=tmp_path / "missing.bin")
        before = _listing(tmp_path)
        with pytest.raises(SerializationError) as info:
            save(Outer.C(model=m, lr=0.1, items=[]), tmp_path / "out")
        text = str(info.value)
        assert "Model.weights" in text and "missing.bin" in text and "Fix" in text
        assert _listing(tmp_path) == before

    def test_failure_after_some_copies_writes_nothing(self, tmp_path):
        """The second data path missing: the first one's copy is not left behind."""
        good = tmp_path / "good.bin"
        good.write_bytes(b"g")
        items = [Model.C(hidden=1, weights=good), Model.C(hidden=2, weights=tmp_path / "x")]
        before = _listing(tmp_path)
        with pytest.raises(SerializationError, match="items/1/weights"):
            save(Outer.C(model=items[0], lr=0.1, items=items), tmp_path / "out")
        assert _listing(tmp_path) == before

    def test_init_tasks_must_be_lightweight_tasks(self, tmp_path):
        with pytest.raises(SerializationError, match="LightweightTask"):
            serialize(Echo.C(value=1), tmp_path / "out", init_tasks=[Model.C(hidden=1)])
        assert not (tmp_path / "out").exists()

    def test_save_into_a_file(self, tmp_path):
        (tmp_path / "file").write_text("x")
        with pytest.raises(SerializationError, match="not a folder"):
            save(Echo.C(value=1), tmp_path / "file")


class TestJobFolders:
    def test_missing_job_folder(self, tmp_path):
        with pytest.raises(DefinitionNotFoundError, match="is not a folder"):
            from_task_dir(tmp_path / "none")

    def test_folder_without_params(self, tmp_path):
        """A folder that is not a job folder: the error names params.json and the fix."""
        with pytest.raises(DefinitionNotFoundError, match="params.json does not exist") as info:
            from_task_dir(tmp_path)
        assert "Fix" in str(info.value)

    def test_corrupt_params(self, tmp_path):
        job = tmp_path / "job"
        job.mkdir()
        write_params(Echo.C(value=1), job, tmp_path)
        params = job / "params.json"
        params.write_text(params.read_text()[:-10])
        with pytest.raises(SerializationError, match="not valid JSON") as info:
            from_task_dir(job)
        assert str(params) in str(info.value)

    def test_load_xp_info_of_a_folder_that_is_no_run(self, tmp_path):
        """Not a run folder: DefinitionNotFoundError (a FileNotFoundError, as the reference)."""
        with pytest.raises(FileNotFoundError, match="objects.jsonl") as info:
            load_xp_info(tmp_path)
        assert isinstance(info.value, DefinitionNotFoundError) and "Fix" in str(info.value)
