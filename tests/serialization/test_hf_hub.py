"""ExperimaestroHFHub: push and pull a configuration and its data.

No hub is reachable here. The push/pull code runs whole against
``LocalFolderTransport`` (a folder standing in for the repositories), and the
``huggingface_hub`` downloads run for real, offline, from a Hugging Face cache
holding the pushed files. The upload to a real hub is not exercised.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from support.paths import importable

HERE = importable(__file__)

from ser_classes import Model, Outer, Scale  # noqa: E402

from xpm_nb.errors import DefinitionNotFoundError  # noqa: E402
from xpm_nb.huggingface import (  # noqa: E402
    ExperimaestroHFHub,
    HFHubTransport,
    LocalFolderTransport,
)


class Recording(LocalFolderTransport):
    """The local transport, noting what is downloaded (to see downloads are lazy)."""

    def __init__(self, root):
        super().__init__(root)
        self.calls: list[tuple[str, str]] = []

    def download_file(self, repo_id, filename, *, revision=None):
        self.calls.append(("file", filename))
        return super().download_file(repo_id, filename, revision=revision)

    def download_folder(self, repo_id, prefix, *, revision=None):
        self.calls.append(("folder", prefix))
        return super().download_folder(repo_id, prefix, revision=revision)


@pytest.fixture
def outer(tmp_path):
    weights = tmp_path / "src" / "w.bin"
    (tmp_path / "src" / "wdir").mkdir(parents=True)
    weights.write_bytes(b"weights")
    (tmp_path / "src" / "wdir" / "a.txt").write_text("a")
    m = Model.C(hidden=3, weights=weights)
    return Outer.C(model=m, lr=0.1, items=[m, Model.C(hidden=4, weights=weights.parent / "wdir")])


class TestLocalFolderHub:
    def test_push_then_pull(self, outer, tmp_path):
        """A pushed configuration comes back with its data and init tasks."""
        hub = Recording(tmp_path / "hub")
        init = [Scale.C(model=outer.model, factor=2)]
        where = ExperimaestroHFHub(outer, init_tasks=init).push_to_hub("me/model", transport=hub)
        repo = tmp_path / "hub" / "me" / "model"
        assert Path(where) == repo
        assert sorted(p.name for p in repo.iterdir()) == ["experimaestro.json", "items", "model"]
        shutil.rmtree(tmp_path / "src")  # only the hub has the data now
        config, tasks = ExperimaestroHFHub.from_pretrained("me/model", transport=hub)
        assert config.__identifier__() == outer.__identifier__()
        assert config.model.weights.read_bytes() == b"weights"
        assert (config.items[1].weights / "a.txt").read_text() == "a"
        assert len(tasks) == 1
        assert hub.calls == [("file", "experimaestro.json"), ("file", "model/weights"),
                             ("folder", "items/1/weights")]
        value = ExperimaestroHFHub.from_pretrained("me/model", transport=hub, as_instance=True)
        assert value.model.hidden == 6  # the init task ran

    def test_push_replaces_the_repository(self, outer, tmp_path):
        """A second push replaces the first (no stale file of the earlier push)."""
        hub = LocalFolderTransport(tmp_path / "hub")
        ExperimaestroHFHub(outer).push_to_hub("me/model", transport=hub)
        small = Model.C(hidden=1, weights=outer.model.weights)
        ExperimaestroHFHub(small).push_to_hub("me/model", transport=hub)
        repo = tmp_path / "hub" / "me" / "model"
        assert sorted(p.name for p in repo.iterdir()) == ["experimaestro.json", "weights"]
        config, _ = ExperimaestroHFHub.from_pretrained("me/model", transport=hub)
        assert config.hidden == 1

    def test_save_pretrained_and_load_from_a_folder(self, outer, tmp_path):
        """from_pretrained of a local folder reads it in place."""
        ExperimaestroHFHub(outer).save_pretrained(tmp_path / "local")
        config, tasks = ExperimaestroHFHub.from_pretrained(tmp_path / "local")
        assert config.model.weights == tmp_path / "local" / "model" / "weights"
        assert tasks == []

    def test_custom_definition_filename(self, outer, tmp_path):
        class MyHub(ExperimaestroHFHub):
            definition_filename = "model.json"

        hub = LocalFolderTransport(tmp_path / "hub")
        MyHub(outer).push_to_hub("me/custom", transport=hub)
        assert (tmp_path / "hub" / "me" / "custom" / "model.json").exists()
        assert MyHub.from_pretrained("me/custom", transport=hub)[0].lr == 0.1
        with pytest.raises(DefinitionNotFoundError, match="experimaestro.json"):
            ExperimaestroHFHub.from_pretrained("me/custom", transport=hub)

    def test_missing_repository(self, tmp_path):
        """Pulling a repository that does not exist: DefinitionNotFoundError naming it."""
        hub = LocalFolderTransport(tmp_path / "hub")
        with pytest.raises(DefinitionNotFoundError, match="me/none"):
            ExperimaestroHFHub.from_pretrained("me/none", transport=hub)
        assert not (tmp_path / "hub").exists()

    def test_bad_repository_id(self, outer, tmp_path):
        hub = LocalFolderTransport(tmp_path / "hub")
        with pytest.raises(ValueError, match="invalid repository id"):
            ExperimaestroHFHub(outer).push_to_hub("../escape", transport=hub)
        assert not (tmp_path / "hub").exists()

    def test_not_a_configuration(self):
        with pytest.raises(TypeError, match="needs a configuration"):
            ExperimaestroHFHub({"a": 1})


def _need_hf():
    spec = importlib.util.spec_from_file_location("_xpm_nb_root_conftest",
                                                  HERE.parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.need(importlib.util.find_spec("huggingface_hub") is not None,
                "huggingface_hub is not installed (pip install 'xpm_nb[hf]')")


class TestHuggingFaceHubPackage:
    def test_pull_through_huggingface_hub_offline(self, outer, tmp_path):
        """hf_hub_download / snapshot_download (offline) read a pushed repository from the
        Hugging Face cache: the download half of the real transport."""
        _need_hf()
        pushed = tmp_path / "pushed"
        ExperimaestroHFHub(outer).save_pretrained(pushed)
        commit = "0123456789abcdef0123456789abcdef01234567"
        cache = tmp_path / "hf-cache"
        repo = cache / "models--me--model"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        shutil.copytree(pushed, repo / "snapshots" / commit)
        config, _ = ExperimaestroHFHub.from_pretrained(
            "me/model", cache_dir=cache, local_files_only=True)
        assert config.__identifier__() == outer.__identifier__()
        assert config.model.weights.read_bytes() == b"weights"
        assert (config.items[1].weights / "a.txt").read_text() == "a"
        assert str(repo / "snapshots" / commit) in str(config.model.weights)

    def test_missing_file_offline_is_not_found(self, tmp_path):
        _need_hf()
        transport = HFHubTransport(cache_dir=tmp_path / "empty", local_files_only=True)
        with pytest.raises(DefinitionNotFoundError, match="experimaestro.json"):
            ExperimaestroHFHub.from_pretrained("me/none", transport=transport)

    def test_without_huggingface_hub_the_error_says_how_to_install(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "huggingface_hub", None)
        with pytest.raises(ImportError, match=r"pip install 'xpm_nb\[hf\]'"):
            HFHubTransport()
