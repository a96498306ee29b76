"""Reading the metric views in a real JupyterLab: jobs held at a step count,
the MetricsView's root, the contrast of a text against what is behind it.

Shared by tests/browser/test_metrics_browser.py and
tests/lab/test_lab_params_view.py (waits: :meth:`support.labui.LabUI.wait_js`).
"""

from __future__ import annotations

from pathlib import Path

# The MetricsView's own root (not the curves panel inside the experiment view).
METRICS_VIEW = ".xpm-mc:not(.xpm-xp .xpm-mc)"


def hold_jobs(limit: Path, steps: int) -> None:
    """Let the notebook's jobs go on to ``steps`` (written whole: a job never reads half a number)."""
    tmp = limit.with_suffix(".tmp")
    tmp.write_text(str(steps))
    tmp.replace(limit)


# The colour of the text ``selector`` (its CSS property ``prop``: ``color``, or
# ``fill`` for SVG), and the opaque colour behind it: its own translucent
# background over the first opaque ancestor's (white if none is).
_TEXT_COLOURS = """([selector, prop]) => {
  const el = document.querySelector(selector);
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  let [r, g, b, a] = parse(getComputedStyle(el).backgroundColor);
  if (a === undefined) a = 1;
  let node = el.parentElement;
  let under = null;
  while (node) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.99)) { under = c; break; }
    node = node.parentElement;
  }
  under = under || [255, 255, 255];
  const mix = [0, 1, 2].map((i) => Math.round([r, g, b][i] * a + under[i] * (1 - a)));
  return { text: getComputedStyle(el)[prop], background: `rgb(${mix.join(', ')})` };
}"""


def text_colours(page, selector: str, prop: str = "color") -> dict[str, str]:
    """``{"text": ..., "background": ...}`` as CSS ``rgb(...)`` strings (see _TEXT_COLOURS)."""
    return page.evaluate(_TEXT_COLOURS, [selector, prop])


def _luminance(rgb: str) -> float:
    parts = [float(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    lin = [(c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in parts]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two CSS ``rgb(...)`` colours (4.5 and more: readable text)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
