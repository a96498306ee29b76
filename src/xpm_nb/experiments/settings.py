"""The reference's ``settings.yaml``: workspaces (with ``triggers:``), environment, server.

Looked up in the configuration folder: the one given by ``--xpm-config-dir``
(:func:`xpm_nb.launcherfinder.registry.set_config_dir`), else ours
(``$XPM_NB_CONFIG_DIR``, ``~/.config/xpm_nb``), else the reference's
``~/.config/experimaestro``. The format is the reference's::

    env: {HF_HOME: /data/hf}           # for every workspace's jobs
    server: {host: 127.0.0.1, port: 12345, token: secret}
    workspaces:
      - id: main                       # the first local one is the default
        path: ~/experiments
        env: {CUDA_VISIBLE_DEVICES: "0"}
        triggers: ["paper-*"]          # experiment ids that pick this workspace
        max_retries: 3
        alt_workspaces: [/old/ws]      # read-through job folders
      - id: cluster
        path: /scratch/ws
        ssh: {host: user@cluster}      # remote: never chosen by default or trigger

``${env:VAR}`` (also ``${env.VAR}``, ``${oc.env:VAR}``) is replaced by the
variable's value. Keys we do not use (``history``, ``carbon``, ``lock_mode``,
``folders``' modes...) are accepted and ignored, as a file written for the
reference must work here.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ExperimentFileError

__all__ = ["Settings", "ServerSettings", "WorkspaceEntry", "settings_file", "load_settings",
           "get_settings", "find_workspace"]

SETTINGS_NAME = "settings.yaml"
_ENV_PATTERN = re.compile(r"\$\{(?:oc\.)?env[:.]([^}]+)\}")


@dataclass
class ServerSettings:
    """The monitoring page of ``--web``."""

    host: str | None = None
    port: int | None = None
    token: str | None = None


@dataclass
class WorkspaceEntry:
    """One workspace of ``settings.yaml``."""

    id: str
    path: str
    env: dict[str, str] = field(default_factory=dict)
    triggers: list[str] = field(default_factory=list)
    max_retries: int = 3
    alt_workspaces: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    ssh_host: str | None = None

    @property
    def is_remote(self) -> bool:
        return bool(self.ssh_host)


@dataclass
class Settings:
    """The content of a ``settings.yaml`` (empty when there is none)."""

    path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    server: ServerSettings = field(default_factory=ServerSettings)
    workspaces: list[WorkspaceEntry] = field(default_factory=list)

    def workspace(self, wid: str) -> WorkspaceEntry | None:
        return next((w for w in self.workspaces if w.id == wid), None)


def settings_file() -> Path | None:
    """The ``settings.yaml`` in use, if any (see the module's docstring for the order)."""
    from ..launcherfinder.registry import config_folders

    for folder in config_folders():
        if (folder / SETTINGS_NAME).is_file():
            return folder / SETTINGS_NAME
    return None


def get_settings() -> Settings:
    """The settings of :func:`settings_file` (empty settings when there is none)."""
    path = settings_file()
    return load_settings(path) if path is not None else Settings()


def _interpolate(value: Any, is_env: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, is_env or k == "env") for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, is_env) for v in value]
    if isinstance(value, str):
        return _ENV_PATTERN.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)
    if is_env and isinstance(value, (bool, int, float)):
        return str(value)  # env values are strings (the reference coerces them too)
    return value


def _fail(path: Path, where: str, problem: str, fix: str) -> ExperimentFileError:
    return ExperimentFileError(f"{path}: {where}: {problem}. Fix: {fix}")


def _mapping(path: Path, where: str, value, fix: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, f"expected a mapping, got {value!r}", fix)
    return value


def _strings(path: Path, where: str, value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, os.PathLike)) for v in value):
        raise _fail(path, where, f"expected a list of strings, got {value!r}",
                    f"write `{where.rsplit('.', 1)[-1]}: [\"a\", \"b\"]`")
    return [str(v) for v in value]


def _env(path: Path, where: str, value) -> dict[str, str]:
    env = _mapping(path, where, value, f"write `{where.rsplit('.', 1)[-1]}: {{NAME: value}}`")
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _workspace(path: Path, index: int, node) -> WorkspaceEntry:
    where = f"workspaces[{index}]"
    node = _mapping(path, where, node, "each workspace is a mapping with id: and path:")
    for key in ("id", "path"):
        if not isinstance(node.get(key), str) or not node[key]:
            raise _fail(path, f"{where}.{key}", f"missing or not a string ({node.get(key)!r})",
                        f"give the workspace's {key}, e.g. `{key}: "
                        f"{'main' if key == 'id' else '~/experiments'}`")
    retries = node.get("max_retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise _fail(path, f"{where}.max_retries", f"expected a whole number >= 0, got {retries!r}",
                    "write e.g. `max_retries: 3`")
    folders = [f.get("path") if isinstance(f, dict) else f
               for f in (node.get("folders") or [])]
    ssh = _mapping(path, f"{where}.ssh", node.get("ssh"), "write `ssh: {host: user@host}`")
    return WorkspaceEntry(
        id=node["id"], path=node["path"], env=_env(path, f"{where}.env", node.get("env")),
        triggers=_strings(path, f"{where}.triggers", node.get("triggers")),
        max_retries=retries,
        alt_workspaces=_strings(path, f"{where}.alt_workspaces", node.get("alt_workspaces")),
        folders=_strings(path, f"{where}.folders", folders),
        ssh_host=str(ssh["host"]) if ssh.get("host") else None)


def load_settings(path: Path | str) -> Settings:
    """Read a ``settings.yaml`` (errors name the file, the field and the fix)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        msg = f"{path}: cannot read the settings ({exc.strerror})"
        raise ExperimentFileError(msg) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        msg = f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ExperimentFileError(msg) from None
    data = _interpolate(_mapping(path, "the file", data,
                                 "write a mapping (workspaces:, env:, server:)"))
    server = _mapping(path, "server", data.get("server"), "write `server: {port: 12345}`")
    port = server.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise _fail(path, "server.port", f"expected a port number, got {port!r}",
                    "write e.g. `port: 12345`")
    workspaces = data.get("workspaces") or []
    if not isinstance(workspaces, list):
        raise _fail(path, "workspaces", f"expected a list, got {workspaces!r}",
                    "write `workspaces:` then `- id: main` and `path: ...` lines")
    entries = [_workspace(path, i, node) for i, node in enumerate(workspaces)]
    ids = [w.id for w in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise _fail(path, "workspaces", f"id {duplicates[0]!r} is used twice",
                    "give each workspace its own id")
    return Settings(path=path, env=_env(path, "env", data.get("env")),
                    server=ServerSettings(host=server.get("host"), port=port,
                                          token=server.get("token")),
                    workspaces=entries)


def _workspace_settings(entry: WorkspaceEntry | None, settings: Settings, workdir=None):
    """Our ``WorkspaceSettings``: the entry's (``workdir`` overriding its path)."""
    from ..scheduler.workspace import WorkspaceSettings

    env = dict(settings.env)
    if entry is None:
        return WorkspaceSettings(path=workdir, env=env)
    env.update(entry.env)  # the workspace's own variables win
    path = workdir or entry.path
    if workdir is None and entry.is_remote:
        path = f"ssh://{entry.ssh_host}/{entry.path}"  # /abs -> ssh://host//abs
    return WorkspaceSettings(path=path, id=entry.id, env=env, max_retries=entry.max_retries,
                             folders=list(entry.folders),
                             alt_workspaces=list(entry.alt_workspaces))


def find_workspace(*, workspace: str | None = None, workdir: Path | str | None = None,
                   experiment_id: str | None = None, default_workdir: Path | str | None = None,
                   settings: Settings | None = None):
    """The workspace of a run, as the reference chooses it; our ``WorkspaceSettings``.

    ``workspace`` (an id of the settings; ``workdir`` then overrides its path),
    else ``workdir``, else the first local workspace whose trigger (a glob)
    matches ``experiment_id``, else ``default_workdir`` (``$XPM_NB_WORKDIR``),
    else the first local workspace of the settings.
    """
    settings = settings if settings is not None else get_settings()
    where = settings.path or "settings.yaml (none found)"
    if workspace:
        entry = settings.workspace(workspace)
        if entry is None:
            known = ", ".join(w.id for w in settings.workspaces) or "none"
            msg = (f"--workspace {workspace!r}: no such workspace in {where} (its workspaces: "
                   f"{known}). Fix: add `- id: {workspace}` with a `path:` under `workspaces:`, "
                   "or give --workdir DIR")
            raise ExperimentFileError(msg)
        return _workspace_settings(entry, settings, workdir)
    if workdir:
        return _workspace_settings(None, settings, workdir)
    local = [w for w in settings.workspaces if not w.is_remote]
    if experiment_id:
        for entry in local:
            if any(fnmatch.fnmatch(experiment_id, t) for t in entry.triggers):
                return _workspace_settings(entry, settings)
    if default_workdir:
        return _workspace_settings(None, settings, default_workdir)
    if local:
        return _workspace_settings(local[0], settings)
    msg = ("no workspace: give --workdir DIR or --workspace ID, set XPM_NB_WORKDIR, or add a "
           f"workspace to {settings.path or 'settings.yaml'} (in the folder of "
           "--xpm-config-dir, ~/.config/xpm_nb or ~/.config/experimaestro)")
    raise ExperimentFileError(msg)
