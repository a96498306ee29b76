"""``ExperimaestroHFHub``: a configuration and its data on the Hugging Face Hub.

``ExperimaestroHFHub(config).push_to_hub("owner/name")`` serializes the
configuration (``serialize()``: the definition file plus a copy of every
``DataPath`` file) and uploads the folder; ``ExperimaestroHFHub.from_pretrained(
"owner/name")`` downloads the definition, then each data file or folder only
when the loader reaches it, and rebuilds the configuration (or its instance).

The Hub is reached through a :class:`HubTransport` with three methods
(upload a folder, download a file, download a folder). :class:`HFHubTransport`
uses the optional ``huggingface_hub`` package (``pip install 'xpm_nb[hf]'``);
:class:`LocalFolderTransport` keeps repositories in a local folder, for tests
and for machines without network: the code above the transport is the same.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .core.objects import ConfigMixin
from .core.serialization import (
    SerializationContext,
    SerializedPath,
    _state_with_init_tasks,
    _write_folder,
    deserialize,
)
from .errors import InvalidArgumentError, InvalidTypeError, MissingFileError, ModuleImportError

__all__ = ["ExperimaestroHFHub", "HubTransport", "HFHubTransport", "LocalFolderTransport"]


class HubTransport:
    """How repositories are reached: subclasses implement the three methods."""

    def upload_folder(self, repo_id: str, folder: Path, *, revision: str | None = None,
                      commit_message: str = "", private: bool | None = None) -> str:
        """Make the repository hold the files of ``folder``; returns its URL or path."""
        raise NotImplementedError

    def download_file(self, repo_id: str, filename: str, *, revision: str | None = None
                      ) -> Path:
        """A local path of one file of the repository; FileNotFoundError if absent."""
        raise NotImplementedError

    def download_folder(self, repo_id: str, prefix: str, *, revision: str | None = None
                        ) -> Path:
        """A local root under which ``prefix/...`` of the repository is present."""
        raise NotImplementedError


class LocalFolderTransport(HubTransport):
    """Repositories as folders ``<root>/<owner>/<name>`` (one revision: the last push)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def _repo(self, repo_id: str) -> Path:
        parts = repo_id.split("/")
        if not repo_id or any(p in ("", ".", "..") for p in parts) or len(parts) > 2:
            msg = f"invalid repository id {repo_id!r}: expected 'name' or 'owner/name'"
            raise InvalidArgumentError(msg)
        return self.root.joinpath(*parts)

    def _check_revision(self, revision: str | None) -> None:
        if revision not in (None, "main"):
            msg = f"LocalFolderTransport keeps only the last push ('main'), not {revision!r}"
            raise InvalidArgumentError(msg)

    def upload_folder(self, repo_id, folder, *, revision=None, commit_message="",
                      private=None) -> str:
        self._check_revision(revision)
        repo = self._repo(repo_id)
        repo.parent.mkdir(parents=True, exist_ok=True)
        # Copy next to it, then swap: a reader never sees half a repository.
        tmp = Path(tempfile.mkdtemp(dir=repo.parent, prefix=f".{repo.name}."))
        try:
            staged = tmp / "repo"
            shutil.copytree(folder, staged)
            old = tmp / "old"
            if repo.exists():
                os.replace(repo, old)
            os.replace(staged, repo)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return str(repo)

    def download_file(self, repo_id, filename, *, revision=None) -> Path:
        self._check_revision(revision)
        path = self._repo(repo_id) / filename
        if not path.is_file():
            msg = f"{filename} is not in repository {repo_id} ({path})"
            raise MissingFileError(msg)
        return path

    def download_folder(self, repo_id, prefix, *, revision=None) -> Path:
        self._check_revision(revision)
        root = self._repo(repo_id)
        if not (root / prefix).is_dir():
            msg = f"{prefix}/ is not in repository {repo_id} ({root})"
            raise MissingFileError(msg)
        return root


class HFHubTransport(HubTransport):
    """The Hugging Face Hub, through ``huggingface_hub`` (an optional dependency)."""

    def __init__(self, *, token: str | bool | None = None, cache_dir: Path | str | None = None,
                 local_files_only: bool = False, force_download: bool = False,
                 endpoint: str | None = None):
        try:
            import huggingface_hub
        except ImportError:
            msg = (
                "ExperimaestroHFHub needs the huggingface_hub package. "
                "Fix: pip install 'xpm_nb[hf]' (or pip install huggingface_hub)"
            )
            raise ModuleImportError(msg) from None
        self.hub = huggingface_hub
        self.token = token
        self.cache_dir = cache_dir
        self.local_files_only = local_files_only
        self.force_download = force_download
        self.endpoint = endpoint

    def upload_folder(self, repo_id, folder, *, revision=None, commit_message="",
                      private=None) -> str:
        api = self.hub.HfApi(token=self.token, endpoint=self.endpoint)
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision,
                                 commit_message=commit_message or "Upload with xpm_nb")
        return str(getattr(info, "commit_url", info))

    def _common(self, revision):
        return {"revision": revision, "cache_dir": self.cache_dir, "token": self.token,
                "local_files_only": self.local_files_only, "endpoint": self.endpoint}

    def download_file(self, repo_id, filename, *, revision=None) -> Path:
        from huggingface_hub.utils import EntryNotFoundError  # also in old versions

        try:
            return Path(self.hub.hf_hub_download(repo_id=repo_id, filename=filename,
                                                 force_download=self.force_download,
                                                 **self._common(revision)))
        except EntryNotFoundError as exc:  # the definition falls back on another name
            raise MissingFileError(f"{filename} is not in {repo_id}: {exc}") from exc

    def download_folder(self, repo_id, prefix, *, revision=None) -> Path:
        return Path(self.hub.snapshot_download(repo_id=repo_id, allow_patterns=f"{prefix}/**",
                                               force_download=self.force_download,
                                               **self._common(revision)))


class ExperimaestroHFHub:
    """A configuration (and its data) uploaded to / downloaded from the Hub.

    Subclass to change ``definition_filename`` or ``serialization_context_class``.
    """

    definition_filename: str = "experimaestro.json"
    serialization_context_class: type[SerializationContext] = SerializationContext

    def __init__(self, config: ConfigMixin, *, init_tasks: list | tuple = ()):
        if not isinstance(config, ConfigMixin):
            msg = f"ExperimaestroHFHub needs a configuration (got {config!r})"
            raise InvalidTypeError(msg)
        self.config = config
        self.init_tasks = list(init_tasks)

    def save_pretrained(self, save_directory: str | Path) -> None:
        """Serialize the configuration and copies of its data files into a folder."""
        _write_folder(Path(save_directory), self.definition_filename,
                      lambda ctx: _state_with_init_tasks(ctx, self.config, self.init_tasks),
                      self.serialization_context_class)

    def push_to_hub(self, repo_id: str, *, commit_message: str = "Push with xpm_nb",
                    private: bool | None = None, token: str | None = None,
                    revision: str | None = None, transport: HubTransport | None = None) -> str:
        """Serialize into a temp folder and upload it; returns the commit URL (or path)."""
        transport = transport or HFHubTransport(token=token)
        with tempfile.TemporaryDirectory(prefix="xpm_nb-hf-") as tmp:
            self.save_pretrained(tmp)
            return transport.upload_folder(repo_id, Path(tmp), revision=revision,
                                           commit_message=commit_message, private=private)

    @classmethod
    def from_pretrained(cls, repo_id_or_path: str | Path, *, revision: str | None = None,
                        cache_dir: str | Path | None = None, force_download: bool = False,
                        token: str | None = None, local_files_only: bool = False,
                        as_instance: bool = False, transport: HubTransport | None = None):
        """Load from a local folder or a repository: ``(config, init_tasks)``, or the instance.

        Data files are fetched only when the configuration reaches them.
        """
        if transport is None and os.path.isdir(repo_id_or_path):
            root = Path(repo_id_or_path)

            def loader(sp: SerializedPath) -> Path:
                return root / sp.path
        else:
            repo_id = str(repo_id_or_path)
            transport = transport or HFHubTransport(
                token=token, cache_dir=cache_dir, local_files_only=local_files_only,
                force_download=force_download)

            def loader(sp: SerializedPath) -> Path:
                name = Path(sp.path).as_posix()
                if sp.is_folder:
                    return transport.download_folder(repo_id, name, revision=revision) / name
                return transport.download_file(repo_id, name, revision=revision)

        return deserialize(loader, as_instance=as_instance, partial_loading=True,
                           definition_filename=cls.definition_filename)
