"""Folders saved by the reference load here, and the other way round."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

from support.paths import importable
from xpm_nb import load, save

pytestmark = pytest.mark.interop

CLASSES = textwrap.dedent(
    """
    try:
        from experimaestro import Config, Param, DataPath
    except ImportError:
        from xpm_nb import Config, Param, DataPath

    class Model(Config):
        hidden: Param[int]
        weights: DataPath

    class Outer(Config):
        model: Param[Model]
        lr: Param[float]
        items: Param[list[Model]]
    """
)

REF_SAVE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from experimaestro import save
    from interop_classes import Model, Outer
    src = Path(sys.argv[1])
    m = Model.C(hidden=3, weights=src / "w.bin")
    o = Outer.C(model=m, lr=0.25, items=[m, Model.C(hidden=4, weights=src / "wdir")])
    save(o, Path(sys.argv[2]))
    print(o.__identifier__().all.hex())
    """
)

REF_LOAD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from experimaestro import load
    o = load(Path(sys.argv[1]))
    print(json.dumps({
        "identifier": o.__identifier__().all.hex(),
        "lr": o.lr, "hidden": [m.hidden for m in o.items],
        "weights": (Path(o.model.weights)).read_text(),
        "folder": sorted(p.name for p in Path(o.items[1].weights).iterdir()),
        "shared": o.model is o.items[0],
    }))
    """
)


def _root_conftest():
    """tests/conftest.py (for need()), loaded by path: `conftest` may name another one."""
    spec = importlib.util.spec_from_file_location("_xpm_nb_root_conftest",
                                                  Path(__file__).parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    from support.refvenv import run_script

    code = tmp_path_factory.mktemp("interop-code")
    (code / "interop_classes.py").write_text(CLASSES)
    (code / "ref_save.py").write_text(REF_SAVE)
    (code / "ref_load.py").write_text(REF_LOAD)
    importable(code)
    def run(script: str, *args) -> str:
        return run_script(code / script, *args, path=[code]).strip().splitlines()[-1]

    yield run
    sys.path.remove(str(code))


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "src"
    (src / "wdir").mkdir(parents=True)
    (src / "w.bin").write_text("weights")
    (src / "wdir" / "a.txt").write_text("a")
    return src


def test_reference_save_loads_here(ref, sources, tmp_path):
    """A folder saved by the reference loads, data paths and identifier included."""
    identifier = ref("ref_save.py", sources, tmp_path / "ref-saved")
    loaded = load(tmp_path / "ref-saved")
    assert loaded.__identifier__().all.hex() == identifier
    assert loaded.model is loaded.items[0]
    assert loaded.model.weights.read_text() == "weights"
    assert (loaded.items[1].weights / "a.txt").read_text() == "a"


def test_our_save_loads_in_the_reference(ref, sources, tmp_path):
    """A folder saved here loads in the reference with the same identifier and data."""
    from interop_classes import Model, Outer

    m = Model.C(hidden=3, weights=sources / "w.bin")
    outer = Outer.C(model=m, lr=0.25, items=[m, Model.C(hidden=4, weights=sources / "wdir")])
    save(outer, tmp_path / "ours")
    seen = json.loads(ref("ref_load.py", tmp_path / "ours"))
    assert seen == {"identifier": outer.__identifier__().all.hex(), "lr": 0.25,
                    "hidden": [3, 4], "weights": "weights", "folder": ["a.txt"],
                    "shared": True}
