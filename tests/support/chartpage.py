"""The metric views on a blank page (support.blankpage): render a view on a
fake model, feed it the kernel's snapshots and patches, read what it drew.

Shared by tests/browser/test_metrics_js.py and test_params_js.py. A view is
rendered into a new ``<div>`` and kept as ``window.current`` (``{model, el}``):
the feeding and the probes act on the last view rendered.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xpm_nb.scheduler.jobs import Job
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

VIEWPORT = {"width": 1280, "height": 900}

# The runs are jobs of the widget tests' toy task (tests/widgets/widget_tasks.py).
WIDGET_TESTS = Path(__file__).resolve().parents[1] / "widgets"
if str(WIDGET_TESTS) not in sys.path:
    sys.path.insert(0, str(WIDGET_TESTS))


def fail_job(workspace: Workspace, code) -> Job:
    from widget_tasks import Fail

    return Job(Fail.C(code=code), workspace=workspace)


def fail_jobs(tmp_path: Path, codes) -> list[Job]:
    """A job per code, in one workspace under ``tmp_path``."""
    workspace = Workspace(WorkspaceSettings(tmp_path / "ws"))
    return [fail_job(workspace, code) for code in codes]


# -- rendering and feeding -----------------------------------------------------------------

RENDER = """async ([module, state, width, settle, select]) => {
  const model = new FakeModel(state);
  const el = document.createElement('div');
  if (width) el.style.width = width;
  document.body.appendChild(el);
  const mod = window[module].default;
  mod.initialize({ model });
  window.selected = [];
  const view = { model, el };
  if (select) view.select = (run) => window.selected.push(run.k);
  mod.render(view);
  await new Promise((r) => setTimeout(r, settle));
  window.current = { model, el };
}"""


def render(page, module: str, state: dict, *, width: int | None = None, settle: int = 300,
           select: bool = False) -> None:
    """Render the view of front-end ``module`` on a FakeModel holding ``state``, then wait
    ``settle`` ms (the charts redraw on a timer). ``width``: the view's width in px;
    ``select``: the host records the runs the view selects in ``window.selected``."""
    page.evaluate(RENDER, [module, state, f"{width}px" if width else "", settle, select])


def change(page, key: str, value, settle: int = 0) -> None:
    """The kernel sets the model's ``key`` (a patch trait), then ``settle`` ms."""
    page.evaluate("([key, value]) => window.current.model.change(key, value)", [key, value])
    if settle:
        page.wait_for_timeout(settle)


def message(page, content: dict, settle: int = 0) -> None:
    """The kernel sends a custom message (a curves snapshot or patch), then ``settle`` ms."""
    page.evaluate("(content) => window.current.model.trigger('msg:custom', content, [])", content)
    if settle:
        page.wait_for_timeout(settle)


def open_curves(page) -> None:
    """Click the experiment view's curves toggle (its panel then asks the kernel for a snapshot)."""
    page.evaluate("""async () => {
      window.current.el.querySelector('button.xpm-xp-curves-toggle').click();
      await new Promise((r) => setTimeout(r, 50));
    }""")


def sent(page) -> list:
    """The messages the view sent to the kernel so far."""
    return page.evaluate("() => window.current.model.sent")


# -- probes ----------------------------------------------------------------------------------

# Per metric chart: its curves, means and bands; the points of each curve or mean.
PATHS = """() => Object.fromEntries([...window.current.el.querySelectorAll('.xpm-mc-chart')].map((c) => [
  c.dataset.metric, {
    lines: c.querySelectorAll('path.xpm-mc-line').length,
    means: c.querySelectorAll('path.xpm-mc-mean').length,
    bands: c.querySelectorAll('path.xpm-mc-band').length,
    points: [...c.querySelectorAll('path.xpm-mc-line, path.xpm-mc-mean')].map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length),
  }]))"""

# The parameters panel's points, in run order.
DOTS = """() => [...window.current.el.querySelectorAll('.xpm-pc-chart circle.xpm-pc-point')].map((c) => ({
  k: Number(c.dataset.k), cx: Number(c.getAttribute('cx')), cy: Number(c.getAttribute('cy')), fill: c.getAttribute('fill') }))"""

# Row keys, top to bottom, and the text of one column of the job table.
COLUMN = """(key) => {
  const el = window.current.el;
  const heads = [...el.querySelectorAll('.xpm-jt-head > div')].map((d) => d.dataset.col);
  const i = heads.indexOf(key);
  return [...el.querySelectorAll('.xpm-jt-row')].filter((r) => r.style.display !== 'none')
    .map((r) => [parseFloat(r.style.transform.replace('translateY(', '')), r.dataset.k, r.children[i].textContent])
    .sort((a, b) => a[0] - b[0]).map((x) => [Number(x[1]), x[2]]);
}"""


def paths(page) -> dict:
    return page.evaluate(PATHS)


def dots(page) -> list[dict]:
    return page.evaluate(DOTS)


def column(page, key: str) -> list[list]:
    return page.evaluate(COLUMN, key)


def sort_by(page, key: str) -> None:
    """Click the job table's head of column ``key``."""
    page.evaluate("""async (key) => {
      window.current.el.querySelector(`.xpm-jt-head [data-col="${key}"]`).click();
      await new Promise((r) => setTimeout(r, 60));
    }""", key)
