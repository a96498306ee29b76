"""``experimaestro.mkdocs.metaloader``: placeholder modules for documentation builds.

A ``Module`` answers any attribute with a deeper placeholder, so documentation
can be built without installing the documented packages' heavy dependencies.
"""

from __future__ import annotations

__all__ = ["Module"]


class _Spec:
    def __init__(self, name: str):
        self.name = name


class Module:
    def __init__(self, loader, spec):
        self.__loader__ = loader
        self.__spec__ = spec
        self.__path__ = None
        self.__package__ = spec.name
        self.__name__ = spec.name.rsplit(".", 1)[-1]

    def __getattr__(self, key):
        return Module(self.__loader__, _Spec(f"{self.__package__}.{key}"))

    def __repr__(self) -> str:
        return f"Fake module ({self.__package__})"
