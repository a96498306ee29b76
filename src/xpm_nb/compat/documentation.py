"""``experimaestro.tools.documentation``: are a package's configurations documented?

Reads reStructuredText sources for ``.. autoxpmconfig:: name`` (under the
latest ``.. currentmodule::``) and follows ``.. toctree::`` entries; then
imports every module of the given packages and lists the configuration
classes that no page documents. A line scan of the three directives is all
this needs, so docutils and sphinx are not required.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core.objects import Config
from ..errors import DocumentationError, MissingFileError

__all__ = ["DocumentationAnalyzer", "DocumentationReport", "analyze"]

_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*?)\s*$")
_OPTION = re.compile(r"^\s*:[\w-]+:")


@dataclass
class DocumentationReport:
    errors: list[str]
    undocumented: list[type]
    falsy_documented: list[str]


@dataclass
class _Pages:
    """What the reStructuredText pages document, page by page along the toctree."""

    documented: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)

    def read(self, page: Path) -> None:
        self.seen.add(page.absolute())
        current_module = None
        lines = page.read_text().splitlines()
        for index, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if match is None:
                continue
            indent, name, argument = match.groups()
            if name == "currentmodule":
                current_module = None if argument == "None" else argument
            elif name == "autoxpmconfig":
                full = argument if "." in argument else f"{current_module}.{argument}"
                self.documented.add(full)
            elif name == "toctree":
                for entry in _body(lines, index + 1, len(indent)):
                    self._follow(page, entry)

    def _follow(self, page: Path, entry: str) -> None:
        target = (page.parent / f"{entry}.rst").absolute()
        if target in self.seen:
            return
        if target.is_file():
            self.read(target)
        else:
            self.errors.append(f"Could not find {entry} in file {page}")


def _body(lines: list[str], start: int, indent: int):
    """The entries of a directive's indented body (its options skipped)."""
    for line in lines[start:]:
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent:
            return
        if not _OPTION.match(line):
            yield line.strip()


def _configurations(package: str, errors: list[str]) -> dict[str, type]:
    found: dict[str, type] = {}

    def visit(module) -> None:
        for info in pkgutil.iter_modules(module.__path__, prefix=f"{module.__name__}."):
            try:
                child = importlib.import_module(info.name)
            except Exception:
                logging.exception("Module %s could not be loaded", info.name)
                errors.append(f"Module {info.name} could not be loaded")
                continue
            for value in vars(child).values():
                if inspect.isclass(value) and issubclass(value, Config):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
            if info.ispkg:
                visit(child)

    visit(importlib.import_module(package))
    return found


def analyze(packages, documented: set[str], skip_packages: set[str]) -> DocumentationReport:
    """Configurations of ``packages`` missing from ``documented``, and the reverse."""
    packages = [packages] if isinstance(packages, str) else list(packages)
    errors: list[str] = []
    configurations: dict[str, type] = {}
    for package in packages:
        configurations.update(_configurations(package, errors))
    undocumented = [
        cls for name, cls in configurations.items()
        if any(name.startswith(f"{p}.") for p in packages)
        and name not in documented
        and not any(name.startswith(f"{skip}.") for skip in skip_packages)
    ]
    falsy = [name for name in documented if name not in configurations]
    return DocumentationReport(errors, undocumented, falsy)


class DocumentationAnalyzer:
    """Checks that every configuration of ``modules`` is documented under ``doc_path``."""

    def __init__(self, doc_path: Path, modules: list[str], excluded: set[str]):
        doc_path = Path(doc_path)
        if not doc_path.is_file():
            msg = f"DocumentationAnalyzer: doc_path {str(doc_path)!r} is not a file (give the index .rst)"
            raise MissingFileError(msg)
        self.doc_path = doc_path
        self.modules = modules
        self.excluded = excluded
        self.documentation_errors: list[str] = []
        self.parsing_errors: list[str] = []
        self.undocumented: list[str] = []
        self.falsy_documented: list[str] = []

    def analyze(self) -> None:
        pages = _Pages()
        pages.read(self.doc_path)
        self.documentation_errors = pages.errors
        report = analyze(self.modules, pages.documented, self.excluded)
        self.parsing_errors = report.errors
        self.undocumented = [f"{c.__module__}.{c.__qualname__}" for c in report.undocumented]
        self.falsy_documented = report.falsy_documented

    def report(self) -> None:
        print(f"{len(self.documentation_errors)} errors were encountered while parsing documentation")
        for error in self.documentation_errors:
            print(f"  [documentation error] {error}")
        for error in self.falsy_documented:
            print(f"  [falsy documented] {error}")
        print(f"{len(self.parsing_errors)} errors were encountered while parsing modules")
        for error in self.parsing_errors:
            print(f"  [import error] {error}")
        print(f"{len(self.undocumented)} undocumented configurations")
        for name in sorted(self.undocumented):
            print(f"  [undocumented] {name}")

    def assert_no_undocumented(self) -> None:
        parts = []
        for title, items in (("Documentation parsing errors", self.documentation_errors),
                             ("Module import errors", self.parsing_errors),
                             ("Undocumented configurations", sorted(self.undocumented))):
            if items:
                parts.append(f"{title} ({len(items)}):\n" + "\n".join(f"  - {i}" for i in items))
        if parts:
            raise DocumentationError("\n\n".join(parts))

    def assert_valid_documentation(self) -> None:
        self.assert_no_undocumented()
        if self.falsy_documented:
            listed = "\n".join(f"  - {f}" for f in sorted(self.falsy_documented))
            msg = (f"Falsy documented configurations ({len(self.falsy_documented)}) - "
                   f"these are documented but don't exist in code:\n{listed}")
            raise DocumentationError(msg)
