"""``experimaestro.utils.settings``: JSON settings files described by a schema.

``JsonSettings`` subclasses set ``SCHEMA``, a marshmallow schema (datamaestro
does; marshmallow comes with it). Saving goes through a temp file and a rename
so that a crash never leaves half a settings file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["JsonSettings"]


class JsonSettings:
    SCHEMA = None  # a marshmallow Schema class, set by subclasses

    @classmethod
    def load(cls, path: Path):
        path = Path(path)
        settings = cls.SCHEMA().loads(path.read_text()) if path.is_file() else cls()
        settings.path = path
        return settings

    def save(self) -> None:
        text = self.SCHEMA().dumps(self)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise
