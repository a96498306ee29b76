"""The import layers of ``docs/architecture.md`` hold: no module imports a higher layer.

Each layer's modules are imported together in a fresh interpreter (modules
imported by other tests, or by pytest, cannot hide an import), then
``sys.modules`` says which modules of xpm_nb came with them. Only imports made
at import time count: a function's late import (``from ..scheduler import
...`` in a body) is how a lower layer reaches a higher one on purpose.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import xpm_nb

# Lowest first. A module belongs to the layer of its longest listed prefix; every
# module of the package must have one (a new module is placed here, on purpose).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("layout", ("xpm_nb.errors", "xpm_nb.layout")),
    ("core", ("xpm_nb.core", "xpm_nb.run")),
    ("connectors/launchers", ("xpm_nb.process", "xpm_nb.tokens", "xpm_nb.connectors",
                              "xpm_nb.launchers", "xpm_nb.launcherfinder")),
    ("scheduler", ("xpm_nb.scheduler", "xpm_nb.services", "xpm_nb.gitstate")),
    ("results/experiments", ("xpm_nb.results", "xpm_nb.experiments", "xpm_nb.huggingface",
                             "xpm_nb.click")),
    ("widgets/server", ("xpm_nb.widgets", "xpm_nb.display", "xpm_nb.server", "xpm_nb.cli",
                        "xpm_nb.compat", "xpm_nb.demo")),
]

# Run as programs, never imported: importing them would run them.
SCRIPTS = {"xpm_nb.__main__", "xpm_nb.run.__main__"}

# Layers up to the scheduler run in the job process and the driver's core: never these.
NOT_IN_CORE = ("pandas", "ipywidgets", "anywidget", "xpm_nb.widgets")
CORE_TOP = "scheduler"

PACKAGE_DIR = Path(xpm_nb.__file__).parent


def _modules() -> list[str]:
    names = []
    for file in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = file.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        # The package's __init__ is checked by test_import_xpm_nb_loads_the_core_only.
        if name not in SCRIPTS and name != "xpm_nb":
            names.append(name)
    return names


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of ``module`` (None: unplaced)."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def _imported_with(modules: list[str], package_init: bool) -> set[str]:
    """The modules in ``sys.modules`` after importing ``modules`` in a fresh interpreter.

    ``package_init`` False: the package's ``__init__`` (which loads the core) does not
    run, so modules below the core are measured alone.
    """
    code = textwrap.dedent(f"""
        import importlib, importlib.util, json, sys, types
        if not {package_init!r}:
            spec = importlib.util.find_spec("xpm_nb")
            stub = types.ModuleType("xpm_nb")
            stub.__path__, stub.__spec__ = list(spec.submodule_search_locations), spec
            sys.modules["xpm_nb"] = stub
        for name in {modules!r}:
            importlib.import_module(name)
        print(json.dumps(sorted(sys.modules)))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_every_module_has_a_layer():
    unplaced = [m for m in _modules() if layer_of(m) is None]
    assert unplaced == [], (f"modules without a layer: {unplaced}. Fix: add them to LAYERS "
                            "here and to the layering of docs/architecture.md")


@pytest.mark.parametrize("index", range(len(LAYERS)), ids=[name for name, _ in LAYERS])
def test_layer_imports_no_higher_layer(index):
    name, _ = LAYERS[index]
    modules = [m for m in _modules() if layer_of(m) == index]
    assert modules, f"layer {name} has no module"
    # Below the core, the package's __init__ (the core) is left out: it would hide
    # an import of the core by the layout.
    loaded = _imported_with(modules, package_init=index > 0)
    higher = sorted(m for m in loaded if m.startswith("xpm_nb.")
                    and (layer_of(m) or 0) > index)
    assert higher == [], f"importing the {name} layer imports higher layers: {higher}"
    if index <= [n for n, _ in LAYERS].index(CORE_TOP):
        heavy = sorted(m for m in loaded if m.split(".")[0] in NOT_IN_CORE
                       or m.startswith("xpm_nb.widgets"))
        assert heavy == [], f"the {name} layer imports {heavy}"


def test_import_xpm_nb_loads_the_core_only():
    loaded = _imported_with(["xpm_nb"], package_init=True)
    core = [n for n, _ in LAYERS].index("core")
    above = sorted(m for m in loaded if m.startswith("xpm_nb.") and (layer_of(m) or 0) > core)
    assert above == [], f"`import xpm_nb` loads {above}"


def test_job_process_imports_no_scheduler():
    """The job process (``python -m xpm_nb.run``) imports the core and the layout, also
    in its functions' late imports: no scheduler, connector or launcher."""
    names = []
    for file in sorted((PACKAGE_DIR / "run").glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                names.append((node.level, node.module or ""))
    assert (2, "layout") in names  # the job folder's files, named by the layout
    above = [m for level, m in names if level == 2 and layer_of(f"xpm_nb.{m}") is not None
             and layer_of(f"xpm_nb.{m}") > layer_of("xpm_nb.run")]
    assert above == [], f"the job process imports {above}"


def test_the_event_scanner_script_names_the_layout_events_file():
    """``results/eventscan.py`` runs as a script without the package: its copy of the
    event file's name is the layout's."""
    from xpm_nb.layout import EVENTS_FILE
    from xpm_nb.results.eventscan import EVENTS

    assert EVENTS == EVENTS_FILE
