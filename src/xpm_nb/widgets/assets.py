"""The widgets' front-end files: where they are, and one self-contained module each.

The sources are plain ES modules in the repository's ``js/`` folder; the wheel
ships them as ``xpm_nb/static/`` (hatch ``force-include``). A module may import
a sibling (``import {x} from "./common.js"``, ``export {x} from "./common.js"``);
anywidget loads a widget's module from a blob URL where relative imports cannot
resolve, so :func:`bundle` makes one module holding every module it needs, each
source once, in dependency order (cached by file times). A standalone page can
serve :func:`asset_dir` as it is and import the modules by URL instead.

How a bundle loads: each source is split at its relative import specifiers; at
load time each module becomes a blob URL, its specifiers replaced by the blob
URLs of the modules it imports (defined before it), then the entry is imported
and its exports exported again. The blob URLs are kept on ``globalThis`` by a
key naming the module and hashing its source and those of its imports, so two
bundles on one page (a job table and an experiment view) share one instance of
each module they have in common, as the browser's module map would. The sources
are JSON string literals: about 1.05 times their size. The bundle travels with
every widget's opening message and every view saved in a notebook.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from ..errors import InvalidArgumentError, MissingFileError

__all__ = ["asset_dir", "asset_path", "bundle"]

_PACKAGED = Path(__file__).resolve().parent.parent / "static"
_SOURCE = Path(__file__).resolve().parents[3] / "js"

# `import ... from "./name.js"`, `import "./name.js"` and `export {...} from "./name.js"`
# (or `export * from`) at the start of a line (not in comments): the imports bundled.
_RELATIVE_IMPORT = re.compile(
    r"""^(?:import\s[^;]*?\bfrom\s*|import\s*|export\s*(?:\*|\{[^}]*\})\s*from\s*)(["'])\./([A-Za-z0-9_\-]+\.js)\1""",
    re.M,
)
# The names a module exports (for the bundle to export them again).
_EXPORT_DECLARED = re.compile(
    r"^export\s+(?:async\s+)?(?:function\s*\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)", re.M
)
_EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\}", re.M)
_EXPORT_ALL = re.compile(r"""^export\s*\*\s*from\s*(["'])\./([A-Za-z0-9_\-]+\.js)\1""", re.M)
_EXPORT_DEFAULT = re.compile(r"^export\s+default\b|^export\s*\{[^}]*\bas\s+default\b", re.M)


# Kept as they are in a data: URL: printable ASCII but for "%" (escapes), "#" (a
# fragment), quotes and backslash (the JavaScript string literal holding the URL).
_URL_SAFE = "".join(c for c in string.printable if c not in '%#"\'\\\t\n\r\x0b\x0c')


def data_url(source: str) -> str:
    """A ``data:`` URL of a JavaScript module, to import from inside a string literal."""
    return "data:text/javascript," + quote(source, safe=_URL_SAFE)


def asset_dir() -> Path:
    """The folder of the front-end modules (the wheel's static folder, else ``js/``)."""
    if (_PACKAGED / "job_table.js").exists():
        return _PACKAGED
    if (_SOURCE / "job_table.js").exists():
        return _SOURCE
    msg = (
        f"the widgets' JavaScript files are missing: neither {_PACKAGED} nor {_SOURCE} "
        "holds job_table.js. Fix: reinstall xpm_nb (pip install --force-reinstall xpm_nb)"
    )
    raise MissingFileError(msg)


def asset_path(name: str) -> Path:
    """The path of front-end module ``name`` (``"job_table"`` or ``"job_table.js"``)."""
    filename = name if name.endswith((".js", ".css")) else f"{name}.js"
    return asset_dir() / filename


def bundle(name: str) -> str:
    """Module ``name`` and the modules it imports, each once: loadable from a blob URL."""
    path = asset_path(name)
    return _bundle(path, _mtimes(path.parent))


def _mtimes(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.js")))


class _Module:
    """One source split at its relative imports: text, import, text, ..., text."""

    def __init__(self, path: Path):
        self.path = path
        self.source = path.read_text(encoding="utf-8")
        self.parts: list[str] = []
        self.imports: list[str] = []  # file names, in the order met
        start = 0
        for match in _RELATIVE_IMPORT.finditer(self.source):
            specifier = match.start(2) - len("./")  # the whole "./name.js" becomes a URL
            self.parts.append(self.source[start:specifier])
            self.parts.append(match.group(2))
            start = match.end(2)
        self.parts.append(self.source[start:])
        for filename in self.parts[1::2]:
            if filename not in self.imports:
                self.imports.append(filename)
        self.key = ""  # set once its imports have theirs

    def export_names(self, modules: dict[str, _Module]) -> list[str]:
        """The names it exports but ``default`` (`export *` followed into the bundled module)."""
        names = list(_EXPORT_DECLARED.findall(self.source))
        for group in _EXPORT_LIST.findall(self.source):
            for item in group.split(","):
                name = item.split(" as ")[-1].strip()
                if name and name != "default":
                    names.append(name)
        for _, filename in _EXPORT_ALL.findall(self.source):
            names.extend(modules[filename].export_names(modules))
        return list(dict.fromkeys(names))


def _ordered(entry: Path) -> dict[str, _Module]:
    """Every module `entry` needs, by file name, each after those it imports."""
    modules: dict[str, _Module] = {}

    def visit(path: Path, chain: tuple[str, ...]) -> None:
        if path.name in chain:
            msg = (f"circular import between front-end modules: {' -> '.join(chain)} -> "
                   f"{path.name}. Fix: move what both need into a module of its own")
            raise InvalidArgumentError(msg)
        if path.name in modules:
            return
        module = _Module(path)
        for filename in module.imports:
            visit(path.parent / filename, (*chain, path.name))
        digest = hashlib.sha256(module.source.encode())
        for filename in module.imports:
            digest.update(modules[filename].key.encode())
        module.key = f"{path.name}:{digest.hexdigest()[:16]}"
        modules[path.name] = module

    visit(entry, ())
    return modules


# Defines each module once per page (blob URLs by key), then exports the entry's names.
_LOADER = """\
// {entry} and the modules it imports, each once (bundled by xpm_nb.widgets.assets).
const modules = (globalThis[Symbol.for("xpm_nb.modules")] ??= new Map()); // key -> blob URL
const define = (key, parts) => {{
  if (!modules.has(key)) {{
    const text = parts.map((part, i) => (i % 2 ? modules.get(part) : part)).join("");
    modules.set(key, URL.createObjectURL(new Blob([text], {{ type: "text/javascript" }})));
  }}
  return modules.get(key);
}};
"""


@lru_cache(maxsize=32)
def _bundle(path: Path, _stamp: tuple) -> str:
    modules = _ordered(path)
    entry = modules[path.name]
    if not entry.imports:
        return entry.source  # nothing to bundle
    lines = [_LOADER.format(entry=path.name)]
    for module in modules.values():
        # Odd parts: the keys of the modules imported, replaced by their URLs.
        parts = [part if i % 2 == 0 else modules[part].key for i, part in enumerate(module.parts)]
        call = f"define({json.dumps(module.key)}, {json.dumps(parts, ensure_ascii=False)})"
        lines.append(f"const entry = await import({call});" if module is entry else f"{call};")
    names = entry.export_names(modules)
    if _EXPORT_DEFAULT.search(entry.source):
        lines.append("export default entry.default;")
    if names:
        lines.append(f"export const {{ {', '.join(names)} }} = entry;")
    return "\n".join(lines) + "\n"
