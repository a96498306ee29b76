"""The parameters view's data: one metric's value per run against a tag.

What the "parameters" panel of ``MetricsView`` (and of the experiment view's
curves) draws, computed here from a :class:`~xpm_nb.widgets.metrics.CurveState`
(``MetricsView.parameters()``, tests); the page computes the same from the
curves it holds (``paramPoints`` in ``js/params_chart.js``), so that it follows
the live points without more messages. Imports no widget library.

A tag whose values are all numbers (no run without it) is an x axis of
numbers: a scatter, on a log scale when the values are positive and span two
decades or more (learning rates); any other tag is categorical: one column per
value, the runs spread in it (a strip).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["BEST", "parameter_points", "is_numeric", "category_order"]

BEST = ("last", "min", "max")  # the value of a run: its last one, or its lowest or highest
MISSING = "(none)"  # the category of a run without the tag


def is_numeric(values: list) -> bool:
    """True when every value is a finite number (booleans are categories)."""
    return bool(values) and all(
        type(v) in (int, float) and math.isfinite(v) for v in values)


def _category(value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"  # as the page writes them (JSON)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 1.0 is "1" in the page (String(1.0))
    return str(value)


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def category_order(categories) -> list[str]:
    """Categories sorted as the page sorts them: numbers by value first, then text."""
    unique = list(dict.fromkeys(categories))
    numbers = sorted((c for c in unique if _number(c) is not None), key=_number)
    texts = sorted(c for c in unique if _number(c) is None)
    return numbers + texts


def parameter_points(state, metric: str, x: str, best: str = "last", color: str = "") -> dict[str, Any]:
    """The points of the parameters view: one per run that has a value of ``metric``.

    Returns ``{"metric", "x", "best", "kind": "numeric" | "categorical",
    "log_x": bool, "categories": [...] (categorical), "points": [{"k", "id", "name",
    "x", "y", "color", "tags"}]}``: ``x`` is the tag's value (numeric) or its
    category's index (categorical); ``color`` the value of the ``color`` tag as text.
    """
    values = state.values(metric, best)
    with state.lock:
        runs = [(k, state.jobs[k]) for k in sorted(values)]
        infos = {k: state._info(k) for k, _ in runs}  # noqa: SLF001 - the views' run records
    xs = [infos[k]["tags"].get(x) for k, _ in runs]
    numeric = is_numeric(xs)
    out: dict[str, Any] = {"metric": metric, "x": x, "best": best,
                           "kind": "numeric" if numeric else "categorical", "log_x": False,
                           "categories": [], "points": []}
    if numeric:
        out["log_x"] = min(xs) > 0 and max(xs) / min(xs) >= 100
    else:
        out["categories"] = category_order(_category(v) for v in xs)
        index = {c: i for i, c in enumerate(out["categories"])}
    for (k, _job), xv in zip(runs, xs):
        info = infos[k]
        tags = info["tags"]
        out["points"].append({
            "k": k, "id": info["id"], "name": info["name"],
            "x": xv if numeric else index[_category(xv)],
            "y": values[k],
            "color": _category(tags.get(color)) if color else "",
            "tags": tags,
        })
    return out
