"""Where generated paths go while a configuration is sealed for a job."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ..layout import WorkspacePaths

__all__ = ["ConfigWalkContext", "JobContext"]


class ConfigWalkContext:
    """Context of a walk over a configuration tree.

    ``currentpath()`` is the job folder for the task itself, and
    ``<job>/out/<field>/<field>...`` for configurations nested in it, so that
    two nested configs never generate the same path.
    """

    def __init__(self):
        self._configpath: Path | None = None

    @property
    def path(self) -> Path:
        msg = "this context has no job folder: generated paths need a submitted task"
        raise NotImplementedError(msg)

    def currentpath(self) -> Path:
        if self._configpath is not None:
            return self.path / self._configpath
        return self.path

    def partial_path(self, partial, config) -> Path:
        msg = "partial paths need a context with a workspace (a submitted task)"
        raise NotImplementedError(msg)

    @contextmanager
    def push(self, key: str):
        previous = self._configpath
        self._configpath = (Path("out") if previous is None else previous) / key
        try:
            yield
        finally:
            self._configpath = previous


class JobContext(ConfigWalkContext):
    """The context of a task being submitted: its job folder and workspace."""

    def __init__(self, jobpath: Path, workspace_path: Path | None = None):
        super().__init__()
        self._jobpath = Path(jobpath)
        self.workspace_path = workspace_path

    @property
    def path(self) -> Path:
        return self._jobpath

    def partial_path(self, partial, config) -> Path:
        from .identifier import partial_identifier

        if self.workspace_path is None:
            return super().partial_path(partial, config)
        pid = partial_identifier(config, partial)
        typeid = type(config).__xpmtype__.identifier
        return WorkspacePaths(self.workspace_path).partial(typeid, str(partial.name), pid.all.hex())
