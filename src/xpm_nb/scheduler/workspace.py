"""Workspaces: the folder that holds jobs and experiments, and how runs behave."""

from __future__ import annotations

import enum
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidTypeError, WorkspaceError
from ..layout import WORKSPACE_MARKER, WorkspacePaths

__all__ = ["Workspace", "WorkspaceSettings", "RunMode", "TransientMode", "FolderSettings",
           "experiment_name_problem"]

MARKER = WORKSPACE_MARKER


class RunMode(enum.Enum):
    NORMAL = "normal"
    """Normal run"""
    DRY_RUN = "dry-run"
    """Do not run"""
    GENERATE_ONLY = "generate"
    """Do not run, but generate the params.json file"""
    PREPARE = "prepare"
    """Only run discovered Prepare configs; skip Task execution"""


class TransientMode(enum.Enum):
    """Whether an intermediary task runs only when a job needs it."""

    NONE = "none"
    TRANSIENT = "transient"
    REMOVE = "remove"


@dataclass
class FolderSettings:
    """An auxiliary folder attached to a workspace (read-through job lookups)."""

    path: Path
    mode: str = "use"


@dataclass(init=False)
class WorkspaceSettings:
    """Settings of a workspace: its path, environment and defaults.

    ``WorkspaceSettings(path)``, or as the reference ``WorkspaceSettings(id, path)``
    / ``WorkspaceSettings(id, path=...)``; every other field by keyword.
    """

    path: Path
    id: str = ""
    env: dict = field(default_factory=dict)
    max_retries: int = 3
    folders: list = field(default_factory=list)
    alt_workspaces: list = field(default_factory=list)
    python_path: list = field(default_factory=list)
    #: The host of the workspace: None for this machine; set from an
    #: ``ssh://host//path`` path (an ``SshConnector``) or given.
    connector: Any = None

    def __init__(self, *args, path=None, id: str = "", env=None, max_retries: int = 3,  # noqa: A002
                 folders=None, alt_workspaces=None, python_path=None, connector=None):
        if len(args) > 2 or (len(args) == 2 and path is not None):
            msg = ("WorkspaceSettings takes (path) or (id, path) positionally; "
                   f"got {len(args)} positional values {args!r}. Fix: pass the others by keyword")
            raise InvalidTypeError(msg)
        if len(args) == 2 or (args and path is not None):  # the reference's order: id, path
            id, path = args[0], (args[1] if len(args) == 2 else path)  # noqa: A001
        elif args:
            path = args[0]
        if path is None:
            msg = "WorkspaceSettings: no path. Fix: WorkspaceSettings(path) or WorkspaceSettings(id, path)"
            raise InvalidTypeError(msg)
        self.path, self.id, self.max_retries, self.connector = path, id, max_retries, connector
        self.env = {} if env is None else env
        self.folders = [] if folders is None else folders
        self.alt_workspaces = [] if alt_workspaces is None else alt_workspaces
        self.python_path = [] if python_path is None else python_path
        self.__post_init__()

    def __post_init__(self):
        if self.connector is None and _is_ssh(self.path):
            from ..connectors.ssh import SshConnector, SshPath

            remote = SshPath(self.path)
            self.connector = SshConnector.fromPath(remote)
            self.path = remote.path
        if self.connector is not None and not self.connector.is_local:
            # A path on the remote host: made absolute there, never touched here.
            self.path = Path(self.connector.resolve(str(self.path)))
            return
        self.path = Path(self.path).expanduser().absolute()


def _is_ssh(path) -> bool:
    return type(path).__name__ == "SshPath" or (isinstance(path, str) and path.startswith("ssh:"))


class Workspace:
    """A workspace environment: settings, launcher and run mode.

    Every path of the on-disk layout (``docs/architecture.md``) comes from here.
    """

    CURRENT: Workspace | None = None

    def __init__(self, settings=None, workspace_settings: WorkspaceSettings | None = None,
                 launcher=None, run_mode: RunMode | None = None):
        if workspace_settings is None:
            if isinstance(settings, WorkspaceSettings):
                workspace_settings, settings = settings, None
            elif isinstance(settings, (str, os.PathLike)):
                workspace_settings, settings = WorkspaceSettings(settings), None
            else:
                msg = (
                    f"Workspace: expected a path or WorkspaceSettings (got {settings!r}). "
                    "Fix: Workspace('/path/to/workspace')"
                )
                raise WorkspaceError(msg)
        self.settings = settings
        self.workspace_settings = workspace_settings
        self.path: Path = workspace_settings.path
        self.env: dict = dict(workspace_settings.env)
        self.run_mode = run_mode or RunMode.NORMAL
        self.launcher = launcher
        self.python_path = list(workspace_settings.python_path)
        self.run_id: str | None = None

    @property
    def paths(self) -> WorkspacePaths:
        """Every folder of the workspace (:mod:`xpm_nb.layout`)."""
        return WorkspacePaths(self.path)

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # --- creation ---------------------------------------------------------

    def ensure(self) -> Workspace:
        """Create the workspace folder and its marker if needed."""
        if not self.connector.is_local:
            return self._ensure_remote()
        if self.path.exists() and not self.path.is_dir():
            msg = f"workspace path {self.path} exists and is not a folder"
            raise WorkspaceError(msg)
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.paths.marker
        if not marker.exists():
            if any(p.name not in (MARKER,) for p in self.path.iterdir()) and not (
                self.jobspath
            ).is_dir():
                msg = (
                    f"{self.path} is not empty and is not a workspace (no {MARKER} file, no "
                    "jobs/ folder). Fix: choose an empty or new folder for the workspace"
                )
                raise WorkspaceError(msg)
            marker.touch()
        for sub in (self.jobspath, self.experimentspath):
            sub.mkdir(exist_ok=True)
        return self

    def _ensure_remote(self) -> Workspace:
        c = self.connector
        if c.exists(self.path) and not c.is_dir(self.path):
            msg = f"workspace path {self.path} on {c} exists and is not a folder"
            raise WorkspaceError(msg)
        c.mkdir(self.path, parents=True, exist_ok=True)
        marker = self.paths.marker
        if not c.exists(marker):
            names = c.listdir(self.path)
            if any(n != MARKER for n in names) and self.jobspath.name not in names:
                msg = (
                    f"{self.path} on {c} is not empty and is not a workspace (no {MARKER} "
                    "file, no jobs/ folder). Fix: choose an empty or new folder for the workspace"
                )
                raise WorkspaceError(msg)
            c.write_atomic(marker, b"")
        for sub in (self.jobspath, self.experimentspath):
            c.mkdir(sub, parents=False, exist_ok=True)
        return self

    @staticmethod
    def is_workspace(path: Path) -> bool:
        return WorkspacePaths(path).is_workspace()

    # --- the layout -------------------------------------------------------

    @property
    def jobspath(self) -> Path:
        """Folder for jobs"""
        return self.paths.jobs

    @property
    def experimentspath(self) -> Path:
        """Folder for experiments"""
        return self.paths.experiments

    @property
    def partialspath(self) -> Path:
        """Folder for partial job directories (shared checkpoints, etc.)"""
        return self.paths.partials

    @property
    def configcachepath(self) -> Path:
        """Folder for @cache files"""
        return self.paths.config_cache

    @property
    def schedulerpath(self) -> Path:
        """Folder for scheduler metadata"""
        return self.paths.scheduler

    @property
    def scheduler_run_path(self) -> Path:
        """Folder for this run's scheduler data"""
        return self.schedulerpath / (self.run_id or "current")

    @property
    def scheduler_services_path(self) -> Path:
        return self.scheduler_run_path / "services"

    @property
    def scheduler_lock_path(self) -> Path:
        return self.schedulerpath / ".lock"

    @property
    def folders(self) -> list[FolderSettings]:
        """Auxiliary folders attached to this workspace."""
        folders = [f if isinstance(f, FolderSettings) else FolderSettings(Path(f))
                   for f in self.workspace_settings.folders]
        folders += [FolderSettings(Path(p)) for p in self.workspace_settings.alt_workspaces]
        return folders

    @property
    def alt_jobspaths(self):
        """``<folder>/jobs`` for every attached folder."""
        for folder in self.folders:
            yield WorkspacePaths(folder.path).jobs

    @property
    def connector(self):
        """The connector of the workspace's host (local unless set in the settings)."""
        connector = self.workspace_settings.connector
        if connector is not None:
            return connector
        from ..connectors.local import LocalConnector

        return LocalConnector.instance()

    def job_path(self, typeid: str, identifier: str) -> Path:
        return self.paths.job(typeid, identifier)

    def experiment_path(self, name: str) -> Path:
        return self.paths.experiment(name).path

    # --- maintenance ------------------------------------------------------

    def cleanup_old_scheduler_runs(self, retention_days: int = 15, force: bool = False):
        """Delete scheduler run folders older than ``retention_days``; (deleted, errors)."""
        deleted = errors = 0
        if not self.connector.is_local:
            return 0, 0  # scheduler runs are kept by the host's own schedulers
        root = self.schedulerpath
        if not root.is_dir():
            return 0, 0
        stamp = root / ".last_cleanup"
        if not force and stamp.exists() and time.time() - stamp.stat().st_mtime < 86400:
            return 0, 0
        limit = time.time() - retention_days * 86400
        for folder in root.iterdir():
            if folder.is_dir() and folder.name != self.run_id and folder.stat().st_mtime < limit:
                try:
                    shutil.rmtree(folder)
                    deleted += 1
                except OSError:
                    errors += 1
        stamp.touch()
        return deleted, errors

    @classmethod
    def set_launcher(cls, launcher) -> None:
        """Set the launcher of the current workspace."""
        if cls.CURRENT is None:
            msg = "Workspace.set_launcher: no current workspace (open an experiment first)"
            raise WorkspaceError(msg)
        cls.CURRENT.launcher = launcher


def experiment_name_problem(name) -> str | None:
    """Why ``name`` cannot name an experiment (a folder of ``WS/experiments``), or None.

    Refused: ``.``, ``..``, a ``/`` or ``\\``, NUL, control characters (ANSI
    escapes a listing would print), and names of more than 200 characters.
    """
    if not isinstance(name, str):
        return None  # the type check of the field says it
    if name in ("", ".", ".."):
        return f"{name!r} is not an experiment name. Fix: use letters, digits, - or _"
    bad = sorted({c for c in name if c in "/\\" or not c.isprintable()})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (f"{name!r} holds {shown}: an experiment name is one folder name, without "
                "'/', '\\' or control characters. Fix: use letters, digits, - or _")
    if len(name) > 200:
        return f"{len(name)} characters: an experiment name has at most 200"
    return None
