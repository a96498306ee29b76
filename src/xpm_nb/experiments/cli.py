"""Running an experiment described by a YAML file: ``ExperimentHelper`` and ``run_experiment``.

The same call runs from the terminal (``xpm-nb run-experiment CONFIG.yaml
lr=0.1``) and from a notebook (``run_experiment("CONFIG.yaml", "lr=0.1",
workdir=...)``): the experiment module is imported under the same name, so
its tasks get the same type ids and the same job folders.

Steps: load the YAML files (imports merged in order, overrides last) keeping
the line of every key; read the fields of ``ConfigurationBase`` (which file or
module holds ``run``, the Python path, ``pre_experiment``); import the module;
check every key and type against the configuration class that ``run``
expects; open the experiment and call ``run(helper, configuration)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import runpy
import sys
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExperimentFileError
from .build import build_configuration, to_plain
from .configuration import ConfigurationBase
from .yamlfile import Location, Sources, apply_overrides, load_sources

__all__ = ["ExperimentHelper", "ExperimentCallable", "LoadedExperiment", "load_experiment",
           "run_experiment"]

ExperimentCallable = Callable[["ExperimentHelper", Any], None]

#: Fields of ConfigurationBase read before the experiment module is imported.
_BASE_KEYS = {"id", "file", "module", "pythonpath", "parent", "imports", "pre_experiment",
              "title", "subtitle", "paper", "description", "add_timestamp", "dirty_git"}


class ExperimentHelper:
    """Helper for experiments: holds the ``run(helper, configuration)`` function and ``xp``."""

    xp: Any
    """The experiment object (set before ``run`` is called)."""

    def __init__(self, callable: ExperimentCallable):  # noqa: A002 - the reference's name
        self.callable = callable
        self.xp = None
        self.configuration = None

    def __repr__(self) -> str:
        name = getattr(self.callable, "__qualname__", repr(self.callable))
        return f"ExperimentHelper({name})"

    def run(self, args: list[str], configuration) -> Any:
        """Call the run function with this helper and the configuration."""
        if args:
            msg = f"unexpected extra arguments for the experiment: {args}"
            raise ExperimentFileError(msg)
        return self.callable(self, configuration)

    @classmethod
    def decorator(cls, *args, **kwargs):
        """Decorator for the ``run(helper, configuration)`` function (with or without ())."""

        def wrap(fn: ExperimentCallable) -> ExperimentHelper:
            return cls(fn)

        if len(args) == 1 and not kwargs and callable(args[0]):
            return wrap(args[0])
        return wrap


@dataclass
class LoadedExperiment:
    """An experiment ready to run: its helper, configuration and where they came from."""

    helper: ExperimentHelper
    configuration: Any
    sources: Sources
    module: Any
    pythonpath: list[Path]
    project_paths: list[Path]

    @property
    def experiment_id(self) -> str:
        cfg = self.configuration
        if getattr(cfg, "add_timestamp", False):
            return f"{cfg.id}-{time.strftime('%Y_%m_%d-%H_%M')}"
        return cfg.id


def _where(sources: Sources, key: str) -> Location:
    loc = sources.where.get((key,))
    if loc is None:
        return Location(str(sources.main), None)
    return loc


def _module_name(path: Path, roots: list[Path]) -> tuple[str, Path]:
    """The dotted name of ``path`` under one of ``roots`` (else its stem in its own folder)."""
    for root in roots:
        try:
            rel = path.with_suffix("").relative_to(root)
        except ValueError:
            continue
        if all(part.isidentifier() for part in rel.parts):
            return ".".join(rel.parts), root
    return path.stem, path.parent


def _import_file(path: Path, name: str):
    """Import ``path`` as module ``name`` (re-imported when the file changed since)."""
    mtime = path.stat().st_mtime_ns
    module = sys.modules.get(name)
    if module is not None:
        same = Path(getattr(module, "__file__", "") or "").resolve() == path.resolve()
        if same and getattr(module, "__xpm_nb_mtime__", None) == mtime:
            return module
        del sys.modules[name]
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    module.__xpm_nb_mtime__ = mtime
    return module


def yaml_path(path: Path) -> Path:
    """``path``, or ``path.yaml`` when only that exists (``run-experiment exp``, as the
    reference)."""
    if not path.exists() and path.suffix != ".yaml":
        with_suffix = path.with_name(path.name + ".yaml")
        if with_suffix.is_file():
            return with_suffix
    return path


def _defining_folder(loc: Location, default: Path) -> Path:
    """The folder of the YAML file a value was written in (``default`` for an override)."""
    if loc.override is None and loc.file and Path(loc.file).is_file():
        return Path(loc.file).parent
    return default


def _import_module(name: str, loc: Location, pythonpath: list[Path]):
    """Import ``module:``; if not found, from the folder that many levels above the YAML
    file naming it (``experiments.foo`` in ``myproject/experiments/foo.yaml``: from
    ``myproject``), as the reference does."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if name != missing and not name.startswith(missing + "."):
            msg = f"{loc}: module: cannot import {name!r} ({exc}). Python path: {pythonpath}"
            raise ExperimentFileError(msg) from exc  # a module it imports is missing
        first = exc
    except ImportError as exc:
        msg = f"{loc}: module: cannot import {name!r} ({exc}). Python path: {pythonpath}"
        raise ExperimentFileError(msg) from exc
    root = None
    defining = Path(loc.file).resolve() if loc.override is None and loc.file else None
    if defining is not None and defining.is_file() and name.count(".") < len(defining.parents):
        root = defining.parents[name.count(".")]
    if root is None or str(root) in sys.path:
        msg = (f"{loc}: module: cannot import {name!r} ({first}). Python path: {pythonpath}. "
               "Fix: add the folder holding it to `pythonpath:`")
        raise ExperimentFileError(msg) from first
    sys.path.insert(0, str(root))
    pythonpath.append(root)  # the jobs import it too
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        msg = (f"{loc}: module: cannot import {name!r} ({exc}), from the Python path "
               f"{pythonpath}. Fix: add the folder holding it to `pythonpath:`")
        raise ExperimentFileError(msg) from exc


def _run_pre_experiment(base, sources: Sources) -> None:
    target = base.pre_experiment
    loc = _where(sources, "pre_experiment")
    path = sources.main.parent / target
    if path.suffix == ".py" or path.is_file():
        if not path.is_file():
            msg = f"{loc}: pre_experiment: no file {path}"
            raise ExperimentFileError(msg)
        runpy.run_path(str(path), run_name="__xpm_nb_pre_experiment__")
        return
    try:
        importlib.import_module(target)
    except ImportError as exc:
        msg = f"{loc}: pre_experiment: cannot import module {target!r} ({exc})"
        raise ExperimentFileError(msg) from exc


def _configuration_class(helper: ExperimentHelper, module, loc: str) -> type:
    fn = helper.callable
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if len(params) >= 2:
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - unresolvable annotation: look for Configuration
            hints = {}
        cls = hints.get(params[1])
        if isinstance(cls, type):
            return cls
    cls = getattr(module, "Configuration", None)
    if isinstance(cls, type):
        return cls
    msg = (f"{loc}: cannot tell the configuration class of run() in {module.__file__}. Fix: "
           "annotate it, `def run(helper: ExperimentHelper, cfg: Configuration)`, where "
           "Configuration is a @configuration class derived from ConfigurationBase")
    raise ExperimentFileError(msg)


def load_experiment(yaml_file: Path | str, overrides: list[str] = (), *,
                    pre_yaml: list[Path | str] = (), post_yaml: list[Path | str] = (),
                    file: str | None = None, module_name: str | None = None) -> LoadedExperiment:
    """Load the YAML files and the experiment module; check the configuration."""
    main = yaml_path(Path(yaml_file).absolute())
    if not main.is_file():
        msg = f"{main}: no such experiment file. Fix: give the path of the experiment's YAML file"
        raise ExperimentFileError(msg)
    sources = load_sources(main, [yaml_path(Path(p)) for p in pre_yaml],
                           [yaml_path(Path(p)) for p in post_yaml])
    apply_overrides(sources, list(overrides))
    if file is not None:
        sources.values["file"] = file
        sources.where[("file",)] = Location("command line", override=f"--file {file}")
    if module_name is not None:
        sources.values["module"] = module_name
        sources.where[("module",)] = Location("command line", override=f"--module-name {module_name}")
    base = build_configuration(ConfigurationBase, sources, only=_BASE_KEYS)

    folder = main.parent
    pythonpath = [(folder / p).resolve() for p in (base.pythonpath or [])] or [folder.resolve()]
    for entry in reversed(pythonpath):
        if str(entry) not in sys.path:
            sys.path.insert(0, str(entry))
    if base.pre_experiment:
        _run_pre_experiment(base, sources)

    if base.module:
        loc = _where(sources, "module")
        module = _import_module(base.module, loc, pythonpath)
    else:
        loc = _where(sources, "file")
        shown = f"file: {base.file!r}" + ("" if ("file",) in sources.where else " (the default)")
        # Relative to the YAML file that sets it (an imported one may be elsewhere).
        path = (_defining_folder(loc, folder) / base.file)
        if path.suffix != ".py":
            path = path.with_name(path.name + ".py")
        if not path.is_file():
            msg = f"{loc}: {shown}: no file {path}. Fix: set `file:` to the Python file holding run()"
            raise ExperimentFileError(msg)
        name, root = _module_name(path.resolve(), pythonpath)
        if root not in pythonpath:
            pythonpath.append(root)
            sys.path.insert(0, str(root))
        module = _import_file(path.resolve(), name)
    run = getattr(module, "run", None)
    if run is None:
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        msg = (f"{loc}: {module.__file__} has no function `run`. Fix: define "
               "`def run(helper: ExperimentHelper, cfg: Configuration)` in it "
               f"(its callables are: {', '.join(names) or 'none'})")
        raise ExperimentFileError(msg)
    helper = run if isinstance(run, ExperimentHelper) else ExperimentHelper(run)
    cls = _configuration_class(helper, module, str(loc))
    if not issubclass(cls, ConfigurationBase):
        msg = f"{loc}: {cls.__qualname__} must derive from ConfigurationBase (and use @configuration)"
        raise ExperimentFileError(msg)
    cfg = build_configuration(cls, sources)
    helper.configuration = cfg
    project_paths = list(dict.fromkeys([folder.resolve(), Path(module.__file__).resolve().parent]))
    return LoadedExperiment(helper, cfg, sources, module, pythonpath, project_paths)


def run_experiment(yaml_file: Path | str, *overrides: str, workdir: Path | str | None = None,
                   run_mode=None, host: str | None = None, port: int | None = None,
                   token: str | None = None, env: dict[str, str] | None = None,
                   wait: bool = True, pre_yaml=(), post_yaml=(), file: str | None = None,
                   module_name: str | None = None, launcher=None,
                   wait_for_quit: bool = False, workspace: str | None = None,
                   xpm_config_dir: Path | str | None = None) -> ExperimentHelper:
    """Run the experiment of ``yaml_file`` (with ``KEY=VALUE`` overrides); returns its helper.

    The workspace, as the reference chooses it (``experiments/settings.py``):
    ``workspace`` (an id of ``settings.yaml``; ``workdir`` then replaces its path),
    else ``workdir``, else the first workspace of ``settings.yaml`` whose
    ``triggers`` match the experiment id, else ``$XPM_NB_WORKDIR``, else the
    first workspace of ``settings.yaml``. ``xpm_config_dir``: the folder of
    ``settings.yaml`` and of the launchers files (for the whole process). With ``wait``
    (default) the call returns when every job is finished and the experiment
    is closed, as on the command line; with ``wait=False`` (a notebook) the
    experiment stays open: ``helper.xp.wait()`` or ``await helper.xp`` later. With a
    ``port``, the monitoring page is served; ``wait_for_quit`` keeps it up after the
    jobs end until someone quits from the page.
    """
    from ..launcherfinder.registry import set_config_dir
    from ..scheduler.experiment import experiment
    from .settings import find_workspace

    if xpm_config_dir is not None:  # before the experiment's module may look for launchers
        set_config_dir(xpm_config_dir)
    loaded = load_experiment(yaml_file, list(overrides), pre_yaml=pre_yaml, post_yaml=post_yaml,
                             file=file, module_name=module_name)
    ws_settings = find_workspace(workspace=workspace, workdir=workdir,
                                 experiment_id=loaded.experiment_id,
                                 default_workdir=os.environ.get("XPM_NB_WORKDIR"))
    cfg = loaded.configuration
    xp = experiment(ws_settings, loaded.experiment_id, host=host, port=port, token=token,
                    run_mode=run_mode, launcher=launcher, dirty_git=cfg.dirty_git,
                    project_paths=loaded.project_paths, wait_for_quit=wait_for_quit)
    try:
        for entry in loaded.pythonpath:
            if str(entry) not in xp.workspace.python_path:
                xp.workspace.python_path.append(str(entry))
        for name, value in (env or {}).items():
            xp.setenv(name, value)
        _write_configuration(xp, loaded)
        helper = loaded.helper
        helper.xp = xp
        helper.run([], cfg)
    except BaseException:
        xp.close()
        raise
    if wait:
        with xp:
            pass
        xp.raise_if_failed()  # as on the command line: failed jobs make it fail (exit 1)
    return helper


def _write_configuration(xp, loaded: LoadedExperiment) -> None:
    """The resolved configuration, in the run folder (``configuration.yaml``)."""
    run_path = getattr(xp, "run_path", None)
    if run_path is None or not run_path.is_dir():
        return
    import yaml

    from ..core.params import atomic_write
    from ..layout import RunPaths

    data = {"configuration": to_plain(loaded.configuration),
            "class": f"{type(loaded.configuration).__module__}."
                     f"{type(loaded.configuration).__qualname__}",
            "files": [str(p) for p in loaded.sources.files]}
    atomic_write(RunPaths(run_path).configuration, yaml.safe_dump(data, sort_keys=False))
