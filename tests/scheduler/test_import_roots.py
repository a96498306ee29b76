"""A task whose module sits next to the notebook runs: the job process gets the
folder its classes were imported from on its PYTHONPATH (core/walk.py)."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

import xpm_nb
from xpm_nb.core.walk import import_roots

MODULE = textwrap.dedent("""
    from pathlib import Path
    from xpm_nb import Config, Meta, Param, PathGenerator, Task, field

    class Inner(Config):
        x: Param[int]

    class Write(Task):
        inner: Param[Inner]
        out: Meta[Path] = field(default_factory=PathGenerator("out.txt"))

        def execute(self):
            self.out.write_text(str(self.inner.x))
""")


@pytest.fixture
def beside_module(tmp_path, monkeypatch):
    """A module in a folder on sys.path (as a notebook's own folder is)."""
    folder = tmp_path / "notebook_folder"
    folder.mkdir()
    name = f"beside_{tmp_path.name.replace('-', '_')}"
    (folder / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)
    yield folder, module
    sys.modules.pop(name, None)


def test_import_roots_names_the_folder_of_the_tree_classes(beside_module):
    folder, module = beside_module
    task = module.Write.C(inner=module.Inner.C(x=1))
    assert str(folder.resolve()) in import_roots(task)


def test_import_roots_leaves_out_the_installation(beside_module, monkeypatch):
    import pandas

    from xpm_nb.core import walk

    folder, module = beside_module
    assert walk._import_root(pandas.DataFrame) is None  # an installed package
    # the same folder, seen as part of the installation, is left out too
    monkeypatch.setattr(walk, "_installation_paths", lambda: (folder.resolve(),))
    assert import_roots(module.Write.C(inner=module.Inner.C(x=1))) == []


def test_task_from_a_module_beside_the_notebook_runs(beside_module, workdir, monkeypatch):
    folder, module = beside_module
    monkeypatch.delenv("PYTHONPATH", raising=False)  # only the job's own entries help
    with xpm_nb.experiment(workdir, "beside") as xp:
        task = module.Write.C(inner=module.Inner.C(x=42))
        task.submit()
    assert not xp.failed
    assert task.out.read_text() == "42"
