"""A configuration as a JSON tree: fields with types, values, tags, identifiers.

The same tree feeds the live widget (``js/config_view.js``) and the static
fallbacks (:func:`tree_html`, :func:`tree_text`), so a notebook shows the same
facts with or without a widget front-end. Nothing here imports widgets.
"""

from __future__ import annotations

import html
from pathlib import PurePath
from typing import Any

from ..core.objects import ConfigMixin, InstanceConfig, Task

__all__ = ["config_tree", "job_of_config", "field_in_identifier", "tree_html", "tree_text", "SHORT_ID"]

SHORT_ID = 12  # hex digits shown for an identifier (the full one on hover)
MAX_VALUE = 200  # characters of a value's repr
MAX_NODES = 2000  # configurations in one tree; deeper ones are elided


def _short_repr(value: Any) -> str:
    text = str(value) if isinstance(value, PurePath) else repr(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def field_in_identifier(argument, value: Any) -> tuple[bool, str | None]:
    """Whether a field's value enters the identifier, and if not, why.

    Mirrors the rules of ``core/identifier.py`` (shared/specs/identifiers.md).
    """
    if argument.ignored:
        if not (isinstance(value, ConfigMixin) and value.__xpm__.meta is False):
            return False, "meta"
    if argument.generator is not None:
        return False, "generated path"
    if not argument.constant:
        if value is None and argument.default is None and not argument.required:
            return False, "unset optional"
        if argument.ignore_default and argument.default is not None:
            try:
                if argument.default == value:
                    return False, "default value"
            except Exception:  # noqa: BLE001 - an odd __eq__ must not break a display
                pass
    if isinstance(value, ConfigMixin) and value.__xpm__.meta:
        return False, "marked meta (setmeta)"
    return True, None


def job_of_config(config):
    """The job of a submitted task or of one of its outputs, else None."""
    info = config.__xpm__
    if info.job is not None:
        return info.job
    task = info.task
    if task is not None and task is not config:
        return task.__xpm__.job
    return None


def _kind(argument) -> str:
    if argument.constant:
        return "constant"
    if argument.is_data:
        return "data"
    return "meta" if argument.ignored else "param"


class _Builder:
    def __init__(self) -> None:
        self.nodes = 0
        self.ids: dict[int, str] = {}  # id(config) -> short identifier, for shared configs

    def identifier(self, config: ConfigMixin) -> tuple[str | None, str | None]:
        try:
            return config.__identifier__().hex(), None
        except Exception as exc:  # noqa: BLE001 - an unset field: show why, not crash
            return None, f"{type(exc).__name__}: {exc}"

    def config(self, config: ConfigMixin, path: tuple[int, ...]) -> dict:
        xpmtype = config.__xpmtype__
        info = config.__xpm__
        node: dict[str, Any] = {"cls": xpmtype.cls.__qualname__, "typeid": xpmtype.identifier}
        full, error = self.identifier(config)
        node["id"], node["id_error"] = full, error
        if id(config) in path:
            node["cycle"] = True
            return node
        if id(config) in self.ids:
            node["shared"] = True  # the same object seen earlier in the tree
            return node
        self.ids[id(config)] = (full or "")[:SHORT_ID]
        self.nodes += 1
        if self.nodes > MAX_NODES:
            node["elided"] = True
            return node
        node["task"] = isinstance(config, Task)
        node["instance"] = isinstance(config, InstanceConfig)
        node["sealed"] = info.sealed
        producer = info.task
        if producer is not None and producer is not config:
            node["output_of"] = type(producer).__xpmtype__.cls.__qualname__
        job = info.job
        if job is None and producer is not None:
            job = producer.__xpm__.job
        if job is not None:
            node["job"] = {"state": job.state.value, "path": str(job.path)}
        node["own_tags"] = {k: _json_value(v) for k, v in info.tags.items()}
        node["fields"] = [
            self.field(config, argument, (*path, id(config)))
            for argument in xpmtype.arguments.values()
        ]
        return node

    def field(self, config: ConfigMixin, argument, path: tuple[int, ...]) -> dict:
        d = config.__dict__
        node: dict[str, Any] = {
            "name": argument.name,
            "type": str(argument.type),
            "kind": _kind(argument),
            "tag": argument.name in config.__xpm__.tags,
        }
        if argument.help:
            node["help"] = argument.help
        if argument.name not in d:
            node["set"] = False
            node["in_id"], node["why_not"] = (
                (False, "generated path") if argument.generator is not None else (True, None)
            )
            if argument.required:
                node["missing"] = True
            return node
        value = d[argument.name]
        node["set"] = True
        node["in_id"], node["why_not"] = field_in_identifier(argument, value)
        if isinstance(value, ConfigMixin):
            node["config"] = self.config(value, path)
        elif _holds_configs(value):
            node["items"] = [
                {"key": str(key), **self.item(item, path)} for key, item in _items(value)
            ]
            node["value"] = f"{type(value).__name__} of {len(value)}"
        else:
            node["value"] = _short_repr(value)
        return node

    def item(self, value: Any, path: tuple[int, ...]) -> dict:
        if isinstance(value, ConfigMixin):
            return {"config": self.config(value, path)}
        return {"value": _short_repr(value)}


def _holds_configs(value: Any) -> bool:
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(isinstance(v, ConfigMixin) for v in value)
    if isinstance(value, dict):
        return any(isinstance(v, ConfigMixin) for v in value.values())
    return False


def _items(value: Any):
    if isinstance(value, dict):
        return list(value.items())
    return list(enumerate(value))


def _json_value(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def config_tree(config: ConfigMixin) -> dict:
    """The JSON tree of ``config``; the root also carries every tag below it."""
    root = _Builder().config(config, ())
    try:
        root["tags"] = {k: _json_value(v) for k, v in config.tags().items()}
    except Exception:  # noqa: BLE001 - tags of a broken tree: shown as none
        root["tags"] = {}
    return root


# --- static fallbacks -------------------------------------------------------------

_E = html.escape
_META_STYLE = "color:#888"
_TAG_STYLE = "background:#fff3bf;border-radius:3px;padding:0 3px"


def _badge(text: str, style: str = "color:#888;font-size:90%") -> str:
    return f' <span style="{style}">{_E(text)}</span>'


def _node_html(node: dict, label: str = "", open_: bool = True) -> str:
    ident = node.get("id") or ""
    short = ident[:SHORT_ID]
    head = f"{label}<b>{_E(node['cls'])}</b>"
    if ident:
        head += f' <code title="{_E(ident)}">{_E(short)}…</code>'
    elif node.get("id_error"):
        head += _badge(f"no identifier: {node['id_error']}", "color:#c92a2a")
    if node.get("cycle"):
        return f"<div>{head}{_badge('(cycle: refers to a parent)')}</div>"
    if node.get("shared"):
        return f"<div>{head}{_badge('(shared: shown above)')}</div>"
    if node.get("elided"):
        return f"<div>{head}{_badge('(not shown: tree too large)')}</div>"
    if node.get("output_of"):
        head += _badge(f"output of {node['output_of']}")
    if node.get("job"):
        head += _badge(f"job {node['job']['state']}")
    items = "".join(f"<li>{_field_html(f)}</li>" for f in node.get("fields", []))
    body = f'<ul style="list-style:none;margin:0;padding-left:1.2em">{items}</ul>'
    return f"<details{' open' if open_ else ''}><summary>{head}</summary>{body}</details>"


def _field_html(f: dict) -> str:
    name = _E(f["name"])
    if f.get("tag"):
        name = f'<span style="{_TAG_STYLE}" title="tag">{name}</span>'
    label = f"{name}: <i>{_E(f['type'])}</i>"
    if f.get("kind") in ("meta", "data", "constant"):
        label += _badge(f["kind"])
    if not f.get("in_id", True):
        label += _badge(f"not in identifier ({f.get('why_not')})", _META_STYLE + ";font-style:italic")
    if not f.get("set"):
        return label + _badge("not set" + (" (required)" if f.get("missing") else ""))
    if "config" in f:
        return _node_html(f["config"], label + " = ", open_=True)
    if "items" in f:
        parts = []
        for item in f["items"]:
            key = f"[{_E(item['key'])}] "
            if "config" in item:
                parts.append(f"<li>{_node_html(item['config'], key, open_=False)}</li>")
            else:
                parts.append(f"<li>{key}<code>{_E(item['value'])}</code></li>")
        inner = "".join(parts)
        return f'{label}<ul style="list-style:none;margin:0;padding-left:1.2em">{inner}</ul>'
    return f"{label} = <code>{_E(f['value'])}</code>"


def tree_html(tree: dict) -> str:
    """A ``<details>`` tree: readable where no widget front-end runs (nbconvert, GitHub)."""
    tags = tree.get("tags") or {}
    chips = " ".join(
        f'<span style="{_TAG_STYLE}">{_E(str(k))}={_E(str(v))}</span>' for k, v in tags.items()
    )
    ident = tree.get("id")
    lines = ['<div class="xpm-config-static" style="font-family:monospace;font-size:12px">']
    if ident:
        lines.append(f"<div>identifier <code>{_E(ident)}</code></div>")
    if chips:
        lines.append(f"<div>tags {chips}</div>")
    lines.append(_node_html(tree))
    lines.append("</div>")
    return "".join(lines)


def tree_text(tree: dict) -> str:
    """The tree as indented text (terminal IPython, ``text/plain``)."""
    lines: list[str] = []

    def node_line(node: dict) -> str:
        ident = node.get("id")
        text = node["cls"] + (f" [{ident[:SHORT_ID]}]" if ident else "")
        if node.get("cycle"):
            text += " (cycle)"
        elif node.get("shared"):
            text += " (shared, above)"
        if node.get("output_of"):
            text += f" (output of {node['output_of']})"
        if node.get("job"):
            text += f" (job {node['job']['state']})"
        return text

    def walk(node: dict, indent: str) -> None:
        for f in node.get("fields", []):
            marks = []
            if f.get("tag"):
                marks.append("tag")
            if not f.get("in_id", True):
                marks.append(f"not in identifier: {f.get('why_not')}")
            suffix = f"  ({'; '.join(marks)})" if marks else ""
            head = f"{indent}{f['name']}: {f['type']}"
            if not f.get("set"):
                lines.append(f"{head} = <not set>{suffix}")
            elif "config" in f:
                lines.append(f"{head} = {node_line(f['config'])}{suffix}")
                walk(f["config"], indent + "  ")
            elif "items" in f:
                lines.append(f"{head}{suffix}")
                for item in f["items"]:
                    if "config" in item:
                        lines.append(f"{indent}  [{item['key']}] {node_line(item['config'])}")
                        walk(item["config"], indent + "    ")
                    else:
                        lines.append(f"{indent}  [{item['key']}] {item['value']}")
            else:
                lines.append(f"{head} = {f['value']}{suffix}")

    lines.append(node_line(tree))
    if tree.get("id"):
        lines.append(f"  identifier {tree['id']}")
    if tree.get("tags"):
        lines.append("  tags " + ", ".join(f"{k}={v}" for k, v in tree["tags"].items()))
    walk(tree, "  ")
    return "\n".join(lines)
