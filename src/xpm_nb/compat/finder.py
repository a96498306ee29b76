"""The import hook that makes ``import experimaestro`` load xpm_nb.

One table (:data:`SHIMS`) says what each ``experimaestro`` module path offers:
either an xpm_nb module used as it is (``alias``), or a module assembled from
the public names of several xpm_nb modules (``sources``), looked up on first
access so that importing ``experimaestro`` costs no more than ``xpm_nb``.

The finder goes first in :data:`sys.meta_path`, so it wins over the reference
package when both are installed (datamaestro and xpm-mlboard depend on it).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field

from ..errors import ModuleImportError

PREFIX = "experimaestro"
ENV = "XPM_NB_EXPERIMAESTRO"  # read by xpm_nb_experimaestro.pth at interpreter start


@dataclass(frozen=True)
class Shim:
    """What one ``experimaestro`` module path stands for."""

    alias: str | None = None  # an xpm_nb module used as is
    sources: tuple[str, ...] = ()  # modules whose public names it offers, in order
    names: dict[str, str] = field(default_factory=dict)  # name -> "module:attr"


def _s(*sources: str, **names: str) -> Shim:
    return Shim(sources=sources, names=names)


def _a(module: str) -> Shim:
    return Shim(alias=module)


_C = "xpm_nb.compat"

SHIMS: dict[str, Shim] = {
    "experimaestro": _s(
        "xpm_nb", f"{_C}.toplevel", "xpm_nb.errors",
        experiment="xpm_nb.scheduler.experiment:experiment",
    ),
    "experimaestro.__main__": _a(f"{_C}.main"),
    "experimaestro.cli": _a(f"{_C}.main"),
    "experimaestro.annotations": _s("xpm_nb.core.tags", "xpm_nb.core.decorators", f"{_C}.toplevel"),
    "experimaestro.core": _s(),
    "experimaestro.core.arguments": _a("xpm_nb.core.arguments"),
    "experimaestro.core.context": _s("xpm_nb.core.context", f"{_C}.toplevel"),
    "experimaestro.core.identifier": _a("xpm_nb.core.identifier"),
    "experimaestro.core.objects": _s("xpm_nb.core.objects", f"{_C}.toplevel"),
    "experimaestro.core.objects.config": _s("xpm_nb.core.objects", f"{_C}.toplevel"),
    "experimaestro.core.partial": _s("xpm_nb.core.arguments"),
    "experimaestro.core.serialization": _a("xpm_nb.core.serialization"),
    "experimaestro.core.types": _s(
        "xpm_nb.core.types", "xpm_nb.core.xpmtype",
        Type="xpm_nb.core.types:TypeSpec",
        Any="typing:Any",
    ),
    "experimaestro.exceptions": _s("xpm_nb.errors"),
    "experimaestro.generators": _s("xpm_nb.core.pathgen"),
    "experimaestro.taskglobals": _a("xpm_nb.core.taskglobals"),
    "experimaestro.notifications": _s("xpm_nb.run.progress"),
    "experimaestro.progress": _s("xpm_nb.run.progress"),
    "experimaestro.tqdm": _s("xpm_nb.run.progress"),
    "experimaestro.scheduler": _s(
        "xpm_nb.scheduler.experiment", "xpm_nb.scheduler.workspace",
        "xpm_nb.scheduler.jobs", "xpm_nb.scheduler.scheduler", "xpm_nb.errors",
    ),
    "experimaestro.scheduler.base": _s("xpm_nb.scheduler.jobs", "xpm_nb.scheduler.scheduler"),
    "experimaestro.scheduler.experiment": _s("xpm_nb.scheduler.experiment", "xpm_nb.errors"),
    "experimaestro.scheduler.jobs": _s("xpm_nb.scheduler.jobs"),
    "experimaestro.scheduler.services": _s("xpm_nb.services"),
    "experimaestro.scheduler.transient": _s("xpm_nb.scheduler.workspace"),
    "experimaestro.scheduler.workspace": _s("xpm_nb.scheduler.workspace"),
    "experimaestro.services": _s("xpm_nb.services"),
    "experimaestro.settings": _s("xpm_nb.experiments.settings", "xpm_nb.scheduler.workspace"),
    "experimaestro.tokens": _s("xpm_nb.tokens"),
    "experimaestro.launchers": _a("xpm_nb.launchers"),
    "experimaestro.launchers.direct": _a("xpm_nb.launchers.direct"),
    "experimaestro.launchers.slurm": _a("xpm_nb.launchers.slurm"),
    "experimaestro.launcherfinder": _a("xpm_nb.launcherfinder"),
    "experimaestro.launcherfinder.parser": _a("xpm_nb.launcherfinder.parser"),
    "experimaestro.launcherfinder.registry": _a("xpm_nb.launcherfinder.registry"),
    "experimaestro.launcherfinder.specs": _a("xpm_nb.launcherfinder.specs"),
    "experimaestro.connectors": _a("xpm_nb.connectors"),
    "experimaestro.connectors.local": _a("xpm_nb.connectors.local"),
    "experimaestro.connectors.ssh": _a("xpm_nb.connectors.ssh"),
    "experimaestro.experiments": _a("xpm_nb.experiments"),
    "experimaestro.experiments.cli": _a("xpm_nb.experiments.cli"),
    "experimaestro.experiments.configuration": _a("xpm_nb.experiments.configuration"),
    "experimaestro.click": _a("xpm_nb.click"),
    "experimaestro.huggingface": _a("xpm_nb.huggingface"),
    "experimaestro.xpmutils": _s(f"{_C}.toplevel"),
    "experimaestro.utils": _s(f"{_C}.utils"),
    "experimaestro.utils.settings": _s(f"{_C}.settings"),
    "experimaestro.tools": _s(),
    "experimaestro.tools.documentation": _a(f"{_C}.documentation"),
    "experimaestro.mkdocs": _s(),
    "experimaestro.mkdocs.annotations": _s(f"{_C}.toplevel"),
    "experimaestro.mkdocs.metaloader": _a(f"{_C}.metaloader"),
    "experimaestro.mkdocs.base": _a(f"{_C}.unsupported"),
    "experimaestro.rpyc": _a(f"{_C}.unsupported"),
}


def _resolve(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _assembled(name: str, shim: Shim) -> types.ModuleType:
    """A module offering the public names of ``shim.sources``, on first access."""
    module = types.ModuleType(name, f"xpm_nb's stand-in for {name}")
    module.__path__ = []  # a package: deeper paths go through the finder

    def __getattr__(attr: str):
        if attr in shim.names:
            value = _resolve(shim.names[attr])
        else:
            value = _from_sources(name, shim.sources, attr)
        setattr(module, attr, value)
        return value

    def __dir__():
        listed = set(shim.names)
        for source in shim.sources:
            mod = importlib.import_module(source)
            listed.update(getattr(mod, "__all__", None) or
                          (n for n in vars(mod) if not n.startswith("_")))
        return sorted(listed)

    module.__getattr__ = __getattr__
    module.__dir__ = __dir__
    return module


_MISSING = object()


def _from_sources(name: str, sources: tuple[str, ...], attr: str):
    if attr.startswith("__"):
        raise AttributeError(attr)
    for source in sources:
        value = getattr(importlib.import_module(source), attr, _MISSING)
        if value is not _MISSING:
            return value
    submodule = f"{name}.{attr}"
    if submodule in SHIMS:  # `experimaestro.scheduler` reached as an attribute
        return importlib.import_module(submodule)
    msg = (f"module {name!r} (xpm_nb's stand-in for experimaestro) has no attribute "
           f"{attr!r}: xpm_nb does not offer it; see the README, 'Coming from experimaestro'")
    raise AttributeError(msg)


class _Loader(importlib.abc.Loader):
    def __init__(self, shim: Shim):
        self.shim = shim

    def create_module(self, spec):
        if self.shim.alias is not None:
            module = importlib.import_module(self.shim.alias)
            self._own_spec = module.__spec__
            return module
        return _assembled(spec.name, self.shim)

    def exec_module(self, module):
        # An assembled module fills itself lazily; an aliased one is already
        # executed, and the import system just overwrote its ``__spec__``:
        # give it back its own (``xpm_nb....``), as reloads and runpy read it.
        if self.shim.alias is not None:
            module.__spec__ = self._own_spec


class ExperimaestroFinder(importlib.abc.MetaPathFinder):
    """Answers ``experimaestro`` and ``experimaestro.*`` from :data:`SHIMS`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PREFIX and not fullname.startswith(PREFIX + "."):
            return None
        shim = SHIMS.get(fullname)
        if shim is None:
            msg = (f"No module named {fullname!r}: xpm_nb's stand-in for experimaestro "
                   "does not offer it (see the README, 'Coming from experimaestro')")
            raise ModuleNotFoundError(msg, name=fullname)
        if fullname.endswith(".__main__"):
            # runpy needs code to run: the aliased module's own source file.
            origin = importlib.util.find_spec(shim.alias)
            return importlib.util.spec_from_file_location(fullname, origin.origin)
        is_package = shim.alias is None or hasattr(importlib.import_module(shim.alias), "__path__")
        return importlib.machinery.ModuleSpec(fullname, _Loader(shim), is_package=is_package)


_FINDER = ExperimaestroFinder()


def installed() -> bool:
    """Whether ``import experimaestro`` loads xpm_nb in this interpreter."""
    return _FINDER in sys.meta_path


def install() -> None:
    """Make ``experimaestro`` (and its submodules) load xpm_nb from now on.

    Refused when the reference was already imported: its classes would then
    mix with ours (a configuration of one cannot hold one of the other).
    """
    if installed():
        return
    loaded = sys.modules.get(PREFIX)
    if loaded is not None and not getattr(loaded, "__name__", "").startswith("xpm_nb"):
        where = getattr(loaded, "__file__", None) or "?"
        msg = (f"experimaestro is already imported (from {where}): import xpm_nb.compat "
               "before anything imports experimaestro (first cell of the notebook, or set "
               "XPM_NB_EXPERIMAESTRO=1 before starting Python), or restart the kernel")
        raise ModuleImportError(msg)
    sys.meta_path.insert(0, _FINDER)
    # Job processes and services started from here import experimaestro too:
    # they must get xpm_nb's classes as well (the .pth reads this at their start).
    os.environ[ENV] = "1"


def uninstall() -> None:
    """Undo :func:`install` and forget the stand-in modules (for tests)."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
        os.environ.pop(ENV, None)
    for name in [n for n in sys.modules if n == PREFIX or n.startswith(PREFIX + ".")]:
        del sys.modules[name]
