"""xpm_nb standing in for experimaestro (xpm_nb.compat), in this process.

The ecosystem from PyPI (datamaestro, xpm-mlboard) is tested in
tests/ecosystem/; here, the import hook itself.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

from xpm_nb.compat import finder

# Importing xpm_nb.compat installs the stand-in (and sets XPM_NB_EXPERIMAESTRO for
# child processes): undone at once, so that collecting this file changes nothing
# for the rest of the session (a JupyterLab started later, subprocesses).
finder.uninstall()


@pytest.fixture
def standin():
    finder.uninstall()
    finder.install()
    yield
    finder.uninstall()


# The module paths and names the ecosystem imports (datamaestro 1.16, xpm-mlboard 0.3,
# the official demo and project template), each must resolve to xpm_nb.
ECOSYSTEM_IMPORTS = {
    "experimaestro": ["Config", "Param", "Meta", "Option", "Task", "LightweightTask", "field",
                      "PathGenerator", "RunMode", "tag", "tags", "tagspath", "Constant",
                      "documentation", "experiment", "FailedExperiment", "load_xp_info",
                      "tqdm", "progress", "DirectoryContext", "Identifier"],
    "experimaestro.core.objects": ["Config", "Task"],
    "experimaestro.core.objects.config": ["clone", "Config"],
    "experimaestro.core.types": ["Type", "ObjectType", "Any"],
    "experimaestro.core.arguments": ["Param", "Argument"],
    "experimaestro.scheduler": ["RunMode", "experiment", "Job", "JobState"],
    "experimaestro.scheduler.workspace": ["Workspace", "RunMode"],
    "experimaestro.scheduler.experiment": ["experiment"],
    "experimaestro.scheduler.services": ["Service", "ServiceState", "WebService",
                                         "ProcessWebService"],
    "experimaestro.launcherfinder": ["find_launcher"],
    "experimaestro.launcherfinder.parser": ["parse"],
    "experimaestro.launchers.direct": ["DirectLauncher"],
    "experimaestro.launchers.slurm": ["SlurmLauncher", "SlurmOptions"],
    "experimaestro.connectors.local": ["LocalConnector"],
    "experimaestro.experiments": ["ExperimentHelper", "configuration"],
    "experimaestro.experiments.configuration": ["ConfigurationBase"],
    "experimaestro.utils": ["cleanupdir"],
    "experimaestro.utils.settings": ["JsonSettings"],
    "experimaestro.xpmutils": ["DirectoryContext"],
    "experimaestro.tools.documentation": ["DocumentationAnalyzer"],
    "experimaestro.mkdocs.metaloader": ["Module"],
}


@pytest.mark.parametrize("module", sorted(ECOSYSTEM_IMPORTS))
def test_ecosystem_import_paths_resolve_to_xpm_nb(standin, module):
    mod = importlib.import_module(module)
    for name in ECOSYSTEM_IMPORTS[module]:
        value = getattr(mod, name)
        assert value is not None, f"{module}.{name}"


def test_classes_are_xpm_nb_classes(standin):
    import experimaestro
    from experimaestro.core.objects.config import Config as DeepConfig
    from experimaestro.launchers.slurm import SlurmLauncher

    import xpm_nb.launchers.slurm

    assert experimaestro.Config is xpm_nb.Config is DeepConfig
    assert experimaestro.Task is xpm_nb.Task
    assert SlurmLauncher is xpm_nb.launchers.slurm.SlurmLauncher
    assert experimaestro.RunMode is xpm_nb.RunMode  # xpm-mlboard compares run modes


def test_aliased_module_keeps_its_own_spec(standin):
    import experimaestro.launchers.slurm as alias

    import xpm_nb.launchers.slurm as own

    assert alias is own
    assert own.__spec__.name == "xpm_nb.launchers.slurm"
    importlib.reload(own)  # a reload reads the spec: must still find xpm_nb's file


def test_unknown_name_and_module_say_what_is_missing(standin):
    import experimaestro

    with pytest.raises(AttributeError, match="stand-in for experimaestro.*no attribute 'carbon_tracker'"):
        experimaestro.carbon_tracker  # noqa: B018
    with pytest.raises(ModuleNotFoundError, match="experimaestro.carbon.*does not offer it"):
        importlib.import_module("experimaestro.carbon")


def test_unsupported_parts_import_but_refuse_use(standin):
    from experimaestro.mkdocs.base import Documentation
    from experimaestro.rpyc import client

    with pytest.raises(NotImplementedError, match="not offered by xpm_nb"):
        client(hostname="h", pythonpath="p")
    with pytest.raises(NotImplementedError, match="mkdocs plugin"):
        Documentation()


def test_install_refuses_after_the_reference_was_imported():
    finder.uninstall()
    sys.modules["experimaestro"] = types.ModuleType("experimaestro")
    sys.modules["experimaestro"].__file__ = "/somewhere/experimaestro/__init__.py"
    try:
        with pytest.raises(ImportError, match="already imported.*/somewhere/experimaestro"):
            finder.install()
        assert not finder.installed()
    finally:
        del sys.modules["experimaestro"]


def test_clone_makes_unsealed_copies_without_generated_fields(standin, tmp_path):
    from experimaestro import Config, Meta, Param, PathGenerator, field
    from experimaestro.core.objects.config import clone

    class Inner(Config):
        x: Param[int]

    class Outer(Config):
        inner: Param[Inner]
        items: Param[list[Inner]]
        out: Meta[object] = field(default_factory=PathGenerator("out.txt"))

    a = Outer.C(inner=Inner.C(x=1), items=[Inner.C(x=2)])
    b = clone(a)
    assert b is not a and b.inner is not a.inner and b.items[0] is not a.items[0]
    assert (b.inner.x, b.items[0].x) == (1, 2)
    b.inner.x = 5  # unsealed
    assert a.inner.x == 1


def test_cleanupdir_empties_a_folder(standin, tmp_path):
    from experimaestro.utils import cleanupdir

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "d" / "link").symlink_to(tmp_path)
    assert cleanupdir(tmp_path / "d") == tmp_path / "d"
    assert list((tmp_path / "d").iterdir()) == []
    assert tmp_path.exists()  # the symlink's target is not followed


def test_documentation_analyzer_finds_undocumented_configs(standin, tmp_path, monkeypatch):
    pkg = tmp_path / "docpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "models.py").write_text(
        "from experimaestro import Config\n"
        "class Documented(Config): pass\n"
        "class Forgotten(Config): pass\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(".. toctree::\n   :maxdepth: 1\n\n   models\n   missing\n")
    (docs / "models.rst").write_text(
        ".. currentmodule:: docpkg.sub.models\n\n.. autoxpmconfig:: Documented\n"
        ".. autoxpmconfig:: docpkg.sub.models.Ghost\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from experimaestro.tools.documentation import DocumentationAnalyzer

    analyzer = DocumentationAnalyzer(docs / "index.rst", ["docpkg"], set())
    analyzer.analyze()
    assert analyzer.undocumented == ["docpkg.sub.models.Forgotten"]
    assert analyzer.falsy_documented == ["docpkg.sub.models.Ghost"]
    assert len(analyzer.documentation_errors) == 1 and "missing" in analyzer.documentation_errors[0]
    with pytest.raises(AssertionError, match="Forgotten"):
        analyzer.assert_no_undocumented()


def test_json_settings_save_and_load(standin, tmp_path):
    import json

    from experimaestro.utils.settings import JsonSettings

    class Schema:  # the two methods JsonSettings uses of a marshmallow schema
        def loads(self, text):
            s = MySettings()
            s.keys = json.loads(text)["keys"]
            return s

        def dumps(self, settings):
            return json.dumps({"keys": settings.keys})

    class MySettings(JsonSettings):
        SCHEMA = Schema

        def __init__(self):
            self.keys = {}

    s = MySettings.load(tmp_path / "a" / "settings.json")
    assert s.keys == {}
    s.keys["k"] = "v"
    s.save()
    assert MySettings.load(tmp_path / "a" / "settings.json").keys == {"k": "v"}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["settings.json"]  # no temp file left


def _run(env_value, code, *args):
    env = {k: v for k, v in __import__("os").environ.items() if k != "XPM_NB_EXPERIMAESTRO"}
    if env_value is not None:
        env["XPM_NB_EXPERIMAESTRO"] = env_value
    return subprocess.run([sys.executable, *args, *( ["-c", code] if code else [])],
                          env=env, capture_output=True, text=True, timeout=120)


def test_environment_variable_turns_the_standin_on_at_start():
    code = "import experimaestro, xpm_nb; print(experimaestro.Config is xpm_nb.Config)"
    on = _run("1", code)
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == "True"
    off = _run("0", "import sys, xpm_nb; print('xpm_nb.compat' in sys.modules)")
    assert off.stdout.strip() == "False"  # opt-in: nothing installed without it


def test_python_m_experimaestro_runs_our_cli():
    proc = _run("1", None, "-m", "experimaestro", "run-experiment", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--xpm-config-dir" in proc.stdout or "YAML" in proc.stdout


def test_environment_variable_leaves_xpm_nb_unimported_until_experimaestro():
    """At start the hook imports nothing of xpm_nb: in a kernel, xpm_nb registers its
    rich display with IPython when imported, which must come after IPython."""
    code = ("import sys; before = 'xpm_nb' in sys.modules; import experimaestro; "
            "print(before, 'xpm_nb.compat' in sys.modules)")
    proc = _run("1", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False True"


def test_widgets_show_in_a_kernel_started_with_the_environment_variable(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    import os

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        f"import experimaestro\nxp = experimaestro.experiment({str(tmp_path / 'ws')!r}, 'x')\n"
        "display(xp)\nxp.close()")]
    old = os.environ.get("XPM_NB_EXPERIMAESTRO")
    os.environ["XPM_NB_EXPERIMAESTRO"] = "1"  # the kernel inherits it
    try:
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    finally:
        if old is None:
            os.environ.pop("XPM_NB_EXPERIMAESTRO", None)
        else:
            os.environ["XPM_NB_EXPERIMAESTRO"] = old
    [shown] = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert "application/vnd.jupyter.widget-view+json" in shown["data"]
