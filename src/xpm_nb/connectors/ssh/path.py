"""``SshPath``: a path on a remote host, read and written over SFTP.

Written as in the reference: ``ssh://[user@]host[:port]//absolute/path`` or
``ssh://[user@]host[:port]/path/relative/to/home``. ``host`` may be an alias
of ``~/.ssh/config``.

It is not an ``os.PathLike``: a remote path never reaches ``open()`` by
mistake. Its file methods go through the host's :class:`SshConnector`.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlparse

from ...errors import ConnectorError, InvalidTypeError

__all__ = ["SshPath", "is_ssh_url"]


def is_ssh_url(value) -> bool:
    return isinstance(value, SshPath) or (isinstance(value, str) and value.startswith("ssh://"))


class SshPath:
    """A path on a remote host (``ssh://host//abs/path``)."""

    __slots__ = ("host", "path")

    def __init__(self, url: str | SshPath, *more: str, host: str | None = None):
        if isinstance(url, SshPath):
            self.host, self.path = url.host, url.path
        elif host is not None:
            self.host, self.path = host, PurePosixPath(url)
        else:
            self.host, self.path = _parse(url)
        if more:
            self.path = self.path.joinpath(*more)

    # --- pure path operations ---------------------------------------------------

    def _with(self, path: PurePosixPath) -> SshPath:
        return SshPath(str(path), host=self.host)

    def __truediv__(self, other) -> SshPath:
        return self._with(self.path / str(other))

    def joinpath(self, *parts) -> SshPath:
        return self._with(self.path.joinpath(*map(str, parts)))

    @property
    def parent(self) -> SshPath:
        return self._with(self.path.parent)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix

    @property
    def stem(self) -> str:
        return self.path.stem

    def with_name(self, name: str) -> SshPath:
        return self._with(self.path.with_name(name))

    def with_suffix(self, suffix: str) -> SshPath:
        return self._with(self.path.with_suffix(suffix))

    def is_absolute(self) -> bool:
        return self.path.is_absolute()

    @property
    def hostpath(self) -> str:
        """The path on the host, as a string."""
        return str(self.path)

    def __str__(self) -> str:
        # ssh://host//abs/path (absolute) or ssh://host/rel/path (from the home folder)
        return f"ssh://{self.host}/{self.path}"

    def __repr__(self) -> str:
        return f"SshPath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, SshPath) and (self.host, self.path) == (other.host, other.path)

    def __hash__(self) -> int:
        return hash((self.host, self.path))

    def __fspath__(self):
        msg = (f"{self} is on the remote host {self.host!r}: it cannot be opened locally. "
               "Fix: use its methods (read_text(), open(), ...) or its connector")
        raise InvalidTypeError(msg)

    # --- files, through the connector ----------------------------------------

    @property
    def connector(self):
        from . import SshConnector

        return SshConnector.fromPath(self)

    def _abs(self) -> PurePosixPath:
        return self.connector.absolute(self.path)

    def exists(self) -> bool:
        return self.connector.exists(self._abs())

    def is_dir(self) -> bool:
        return self.connector.is_dir(self._abs())

    def is_file(self) -> bool:
        return self.connector.is_file(self._abs())

    def read_bytes(self) -> bytes:
        return self.connector.read_bytes(self._abs())

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        self.connector.write_atomic(self._abs(), data)

    def write_text(self, data: str, encoding: str = "utf-8") -> None:
        self.write_bytes(data.encode(encoding))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        self.connector.mkdir(self._abs(), parents=parents, exist_ok=exist_ok)

    def unlink(self, missing_ok: bool = False) -> None:
        self.connector.unlink(self._abs(), missing_ok=missing_ok)

    def iterdir(self):
        base = self._abs()
        for name in sorted(self.connector.listdir(base)):
            yield SshPath(str(base / name), host=self.host)

    def stat(self):
        return self.connector.stat(self._abs())

    def open(self, mode: str = "r", encoding: str | None = None):
        """A file object on the remote file (text or binary, as ``mode`` says)."""
        return self.connector.open(self._abs(), mode, encoding=encoding)


def _parse(url: str) -> tuple[str, PurePosixPath]:
    if not isinstance(url, str) or not url.startswith("ssh://"):
        msg = (f"SshPath: expected 'ssh://[user@]host[:port]//absolute/path' (got {url!r}). "
               "Fix: write the URL with two slashes before an absolute path")
        raise ConnectorError(msg)
    parsed = urlparse(url)
    if parsed.query or parsed.fragment or not parsed.netloc:
        msg = f"SshPath: {url!r} has no host, or has a query or fragment"
        raise ConnectorError(msg)
    path = parsed.path
    if path.startswith("//"):
        remote = PurePosixPath("/" + path.lstrip("/"))
    else:
        remote = PurePosixPath(path[1:] or ".")
    return parsed.netloc, remote
