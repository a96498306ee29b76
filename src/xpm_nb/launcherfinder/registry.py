"""The user's launchers file, and ``find_launcher`` over it.

The file is ``launchers.py`` or ``launchers.yaml`` in the configuration folder:
``$XPM_NB_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/xpm_nb``, else
``~/.config/xpm_nb`` (the Python file wins when both exist). When that folder
has none, the reference's folder ``~/.config/experimaestro`` is read (the
reference has no environment variable for it). ``run-experiment
--xpm-config-dir DIR`` (:func:`set_config_dir`) replaces both: only ``DIR`` is
read, as in the reference (``settings.yaml`` is looked up the same way).

Without any launchers file, ``find_launcher`` uses this machine (a
``DirectLauncher``) if it satisfies the requirement; when nothing fits it
raises :class:`LauncherNotFoundError` (as the reference does).

YAML: a list of launchers, each with the hosts it reaches::

    - name: workstation
      type: direct                 # direct | slurm | command (launchers/kinds.py)
      tags: [local]
      hosts:
        - cpu: {cores: 16, memory: 64GiB}
          accelerators: [{type: cuda, model: RTX 4090, memory: 24GiB}]
          priority: -1             # prefer the cluster when both fit
    - name: cluster
      type: slurm
      tags: [cluster]
      launcherenv: {SLURM_CONF: /etc/slurm/slurm.conf}   # the type's own keys
      interval: 30                 # (Launcher.yaml_keys): here binpath, interval,
      options: {account: myteam}   # python, and the SlurmOptions of every job
      hosts:
        - name: v100
          options: {partition: gpu, constraint: v100}    # added for this host
          cpu: {cores: 40, memory: 192GiB, cpu_per_gpu: 10}
          accelerators: [{type: cuda, model: V100, memory: 32GiB, count: 4}]
          max_duration: 20h
          min_gpu: 1
          priority: 10
        - name: cpu
          options: {partition: cpu}
          cpu: {cores: 64, memory: 256GiB, mem_per_cpu: 4GiB}
          max_duration: 2d

Python: either ``LAUNCHERS = [LauncherEntry(...), ...]`` (the same content
as objects), or a function ``find_launcher(requirement, tags)`` returning a
launcher or None (full control).

For each requirement given (and each of its ``|`` alternatives, in order),
the matching host of highest priority among the launchers carrying all the
requested tags wins; the launcher is then configured for the request by its
``for_host`` (a SLURM launcher asks the time, GPUs, cores, memory and the
host's options of the cluster).
"""

from __future__ import annotations

import os
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LauncherNotFoundError, LaunchersFileError, LauncherSpecError, XPMError
from .parser import parse, parse_duration, parse_size
from .specs import (
    AcceleratorSpecification,
    CPUSpecification,
    CudaSpecification,
    HostMatch,
    HostRequirement,
    HostSpecification,
    MPSSpecification,
)

__all__ = ["Host", "LauncherEntry", "LauncherNotFoundError", "LauncherRegistry",
           "find_launcher", "config_dir", "launchers_file", "local_host",
           "reference_config_dir", "set_config_dir", "config_folders"]


@dataclass
class Host:
    """A host of a launcher: what it offers, and the launcher options that reach it."""

    spec: HostSpecification
    options: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass
class LauncherEntry:
    """A launcher of the user's file, its tags and its hosts."""

    launcher: Any  # a Launcher
    hosts: list[Host] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    name: str = ""

    def launcher_for(self, match: HostMatch, host: Host):
        """The launcher configured for a match (its ``for_host``: a cluster launcher
        asks the requested time, GPUs, cores and memory)."""
        for_host = getattr(self.launcher, "for_host", None)
        return self.launcher if for_host is None else for_host(match, dict(host.options))


_CONFIG_DIR: Path | None = None  # set by --xpm-config-dir


def set_config_dir(path: Path | str | None) -> None:
    """Read the launchers (and settings) files from ``path`` only (None: the defaults)."""
    global _CONFIG_DIR
    if path is not None and not Path(path).expanduser().is_dir():
        msg = (f"--xpm-config-dir {path}: not a folder. Fix: give the folder that holds "
               "launchers.py, launchers.yaml or settings.yaml")
        raise LaunchersFileError(msg)
    _CONFIG_DIR = None if path is None else Path(path).expanduser()


def config_folders() -> list[Path]:
    """The folders searched for configuration files, in order."""
    if _CONFIG_DIR is not None:
        return [_CONFIG_DIR]
    return [config_dir(), reference_config_dir()]


def config_dir() -> Path:
    """The user's configuration folder of xpm_nb (``--xpm-config-dir`` if given)."""
    if _CONFIG_DIR is not None:
        return _CONFIG_DIR
    env = os.environ.get("XPM_NB_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "xpm_nb"


def reference_config_dir() -> Path:
    """The reference's configuration folder, ``~/.config/experimaestro``."""
    return Path("~/.config/experimaestro").expanduser()


def launchers_file() -> Path | None:
    """``launchers.py`` or ``launchers.yaml`` of the configuration folder, if any.

    Our folder first (:func:`config_dir`), then the reference's
    (:func:`reference_config_dir`).
    """
    for folder in config_folders():
        for name in ("launchers.py", "launchers.yaml", "launchers.yml"):
            if (folder / name).is_file():
                return folder / name
    return None


def _local_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0  # unknown: not checked


def _local_cuda() -> list[AcceleratorSpecification]:
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=name,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus: list[AcceleratorSpecification] = []
    for line in out.splitlines():
        name, _, mem = line.rpartition(",")
        try:
            gpus.append(CudaSpecification(memory=int(float(mem.strip())) * 1024**2,
                                          model=name.strip()))
        except ValueError:
            continue
    return gpus


def local_host() -> HostSpecification:
    """What this machine offers: cores, memory, CUDA GPUs (nvidia-smi), Apple MPS."""
    import platform
    import sys

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 0
    memory = _local_memory()
    accelerators = _local_cuda()
    if sys.platform == "darwin" and platform.machine() == "arm64":
        accelerators.append(MPSSpecification(memory=memory, model="Apple MPS"))
    return HostSpecification(accelerators=accelerators,
                             cpu=CPUSpecification(memory=memory, cores=cores))


def _local_registry() -> LauncherRegistry:
    from ..launchers.direct import DirectLauncher

    return LauncherRegistry([LauncherEntry(DirectLauncher(), [Host(local_host(), name="local")],
                                           set(), "local")])


class LauncherRegistry:
    """The launchers of one file (or given directly), searched by requirement."""

    def __init__(self, entries: list[LauncherEntry] | None = None, *, function=None,
                 path: Path | None = None):
        self.entries = list(entries or [])
        self.function = function  # a file's own find_launcher(requirement, tags)
        self.path = path

    def __repr__(self) -> str:
        names = ", ".join(e.name or type(e.launcher).__name__ for e in self.entries)
        source = f"{str(self.path)!r}, " if self.path else ""
        return f"LauncherRegistry({source}[{names}])"

    @classmethod
    def load(cls, path: Path | str) -> LauncherRegistry:
        """Read a launchers file (``.py``, or ``.yaml``/``.yml``)."""
        path = Path(path)
        if path.suffix == ".py":
            namespace = runpy.run_path(str(path))
            function = namespace.get("find_launcher")
            entries = namespace.get("LAUNCHERS")
            if function is None and entries is None:
                msg = (f"{path}: defines neither LAUNCHERS (a list of LauncherEntry) nor "
                       "find_launcher(requirement, tags); define one of them")
                raise LaunchersFileError(msg)
            return cls(entries, function=function, path=path)
        return cls(_read_yaml(path), path=path)

    def find(self, *specs: HostRequirement | str, tags: set[str] | frozenset = frozenset()):
        """The launcher for the first requirement (and alternative) some host satisfies."""
        tags = set(tags)
        for spec in specs:
            requirement = parse(spec) if isinstance(spec, str) else spec
            if self.function is not None:
                launcher = self.function(requirement, tags)
                if launcher is not None:
                    return launcher
                continue
            for alternative in requirement.requirements:
                best = None
                for entry in self.entries:
                    if not tags <= entry.tags:
                        continue
                    for host in entry.hosts:
                        match = alternative.match(host.spec)
                        if match is not None and (
                                best is None or host.spec.priority > best[1].spec.priority):
                            best = (entry, host, match)
                if best is not None:
                    entry, host, match = best
                    return entry.launcher_for(match, host)
        return None


_CACHE: dict[Path, tuple[float, LauncherRegistry]] = {}


def find_launcher(*specs: HostRequirement | str, tags: set[str] | frozenset = frozenset()):
    """Find a launcher matching a given specification, from the user's launchers file.

    ``find_launcher("duration=4h & cuda(mem=8GiB)", tags={"cluster"})``; several
    specifications are tried in order. Without a launchers file, this machine
    (a ``DirectLauncher``) when it satisfies them (tags are then ignored, as in
    the reference). Raises :class:`LauncherNotFoundError` when nothing fits.
    """
    path = launchers_file()
    if path is None:
        registry = _local_registry()
        launcher = registry.find(*specs)
        where = (f"no launchers file in {' or '.join(map(str, config_folders()))}, and "
                 "this machine does not satisfy it. Fix: write "
                 f"{config_dir() / 'launchers.yaml'} (see xpm_nb.launcherfinder.registry), "
                 "or set XPM_NB_CONFIG_DIR to the folder that has one")
    else:
        mtime = path.stat().st_mtime
        cached = _CACHE.get(path)
        if cached is None or cached[0] != mtime:
            cached = _CACHE[path] = (mtime, LauncherRegistry.load(path))
        launcher = cached[1].find(*specs, tags=tags)
        where = f"no host of {path} fits" + (
            f" among the launchers tagged {', '.join(sorted(tags))}" if tags else "")
    if launcher is None:
        wanted = ", ".join(repr(str(s)) for s in specs)
        msg = (f"No launcher with specification: {wanted}: {where}. See "
               "https://experimaestro-python.readthedocs.io/en/latest/launchers/")
        raise LauncherNotFoundError(msg)
    return launcher


# --- YAML -------------------------------------------------------------------------

COMMON_KEYS = {"name", "type", "tags", "hosts", "priority"}  # the other keys: the type's
HOST_KEYS = {"name", "options", "cpu", "accelerators", "cuda", "max_duration", "min_gpu",
             "priority"}
CPU_KEYS = {"cores", "memory", "mem_per_cpu", "cpu_per_gpu"}
ACCELERATOR_KEYS = {"type", "model", "memory", "min_memory", "count"}
ACCELERATOR_TYPES = {"cuda": CudaSpecification, "mps": MPSSpecification,
                     "gpu": AcceleratorSpecification}


def _read_yaml(path: Path) -> list[LauncherEntry]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node):
        value = _Located(loader.construct_mapping(node, deep=True))
        value.line = node.start_mark.line + 1
        return value

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        data = yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        msg = f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        raise LaunchersFileError(msg) from exc
    if data is None:
        return []
    if not isinstance(data, list):
        msg = f"{path}: expected a list of launchers (\"- name: ...\"), got a {_kind(data)}"
        raise LaunchersFileError(msg)
    return [_launcher(path, item) for item in data]


class _Located(dict):
    line = 0


def _kind(value) -> str:
    return "mapping" if isinstance(value, dict) else type(value).__name__


def _where(path: Path, node) -> str:
    return f"{path}:{getattr(node, 'line', '?')}"


def _check_keys(path: Path, node, allowed: set[str], what: str) -> None:
    if not isinstance(node, dict):
        msg = f"{_where(path, node)}: {what} must be a mapping, got {node!r}"
        raise LaunchersFileError(msg)
    unknown = sorted(set(node) - allowed)
    if unknown:
        msg = (f"{_where(path, node)}: unknown key(s) {', '.join(map(repr, unknown))} in "
               f"{what}; allowed: {', '.join(sorted(allowed))}")
        raise LaunchersFileError(msg)


def _convert(path: Path, node, key: str, fn):
    value = node.get(key)
    if value is None:
        return 0
    try:  # bare numbers are refused: "12" is not 12 GiB (write the unit)
        return fn(str(value))
    except LauncherSpecError as exc:
        msg = f"{_where(path, node)}: {key}: {str(exc).splitlines()[0]}"
        raise LaunchersFileError(msg) from None


def _int(path: Path, node, key: str, default: int) -> int:
    value = node.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{_where(path, node)}: {key}: expected a whole number, got {value!r}"
        raise LaunchersFileError(msg)
    return value


def _list(path: Path, node, key: str) -> list:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        msg = f"{_where(path, node)}: {key}: expected a list (- item lines), got {value!r}"
        raise LaunchersFileError(msg)
    return value


def _types() -> dict[str, type]:
    """The launcher classes of the known ``type:`` names (``launchers/kinds.py``)."""
    from ..launchers.kinds import LAUNCHER_TYPES, launcher_type

    return {name: launcher_type(name) for name in LAUNCHER_TYPES}


def _launcher(path: Path, node) -> LauncherEntry:
    types = _types()
    launcher_keys = set(COMMON_KEYS).union(*(cls.yaml_keys for cls in types.values()))
    _check_keys(path, node, launcher_keys, "a launcher")
    kind = node.get("type", "direct")
    name = str(node.get("name", kind))
    cls = types.get(kind) if isinstance(kind, str) else None
    if cls is None:
        msg = (f"{_where(path, node)}: unknown launcher type {kind!r}; use "
               f"{', '.join(types)}")
        raise LaunchersFileError(msg)
    extra = sorted(set(node) - COMMON_KEYS - cls.yaml_keys)
    if extra:
        owners = [t for t, c in types.items() if set(extra) & c.yaml_keys]
        msg = (f"{_where(path, node)}: {', '.join(extra)}: only for type: "
               f"{' or '.join(owners)} (not {kind}). Fix: remove them, or set the type")
        raise LaunchersFileError(msg)
    try:
        launcher = cls.from_yaml({k: node[k] for k in cls.yaml_keys if k in node})
    except (TypeError, XPMError) as exc:
        msg = f"{_where(path, node)}: launcher {name!r}: {exc}"
        raise LaunchersFileError(msg) from None
    hosts = []
    for h in _list(path, node, "hosts") or [_Located()]:
        hosts.append(_host(path, h, _int(path, node, "priority", 0)))
        try:  # options the launcher cannot use fail now, with the line
            launcher.check_host_options(hosts[-1].options)
        except XPMError as exc:
            msg = f"{_where(path, h)}: a host of {name!r}: {exc}"
            raise LaunchersFileError(msg) from None
    return LauncherEntry(launcher, hosts, {str(t) for t in _list(path, node, "tags")}, name)


def _host(path: Path, node, default_priority: int) -> Host:
    _check_keys(path, node, HOST_KEYS, "a host")
    cpu = node.get("cpu") or _Located()
    _check_keys(path, cpu, CPU_KEYS, "cpu")
    cpu_spec = CPUSpecification(memory=_convert(path, cpu, "memory", parse_size),
                                cores=_int(path, cpu, "cores", 0),
                                mem_per_cpu=_convert(path, cpu, "mem_per_cpu", parse_size),
                                cpu_per_gpu=_int(path, cpu, "cpu_per_gpu", 0))
    accelerators: list[AcceleratorSpecification] = []
    for key in ("accelerators", "cuda"):
        for acc in _list(path, node, key):
            _check_keys(path, acc, ACCELERATOR_KEYS, "an accelerator")
            kind = acc.get("type", "cuda" if key == "cuda" else "gpu")
            cls = ACCELERATOR_TYPES.get(kind)
            if cls is None:
                msg = (f"{_where(path, acc)}: unknown accelerator type {kind!r}; use "
                       f"{', '.join(ACCELERATOR_TYPES)}")
                raise LaunchersFileError(msg)
            spec = cls(memory=_convert(path, acc, "memory", parse_size),
                       model=str(acc.get("model", "")),
                       min_memory=_convert(path, acc, "min_memory", parse_size))
            accelerators += [spec] * _int(path, acc, "count", 1)
    spec = HostSpecification(accelerators=accelerators, cpu=cpu_spec,
                             priority=_int(path, node, "priority", default_priority),
                             max_duration=_convert(path, node, "max_duration", parse_duration),
                             min_gpu=_int(path, node, "min_gpu", 0))
    return Host(spec, dict(node.get("options") or {}), str(node.get("name", "")))
