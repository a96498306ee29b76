"""Driving JupyterLab through its UI, as a person does: menus, dialogs, the file browser.

A thin layer over :class:`infra.jupyterlab.LabPage` (which opens the page and
reads the kernel's state): every action here is a click on what a person
sees (the menu bar, a dialog's button, the file browser), and every check
reads the rendered DOM or the notebook's model as JupyterLab holds it.

Shared by the JupyterLab UI tests (``tests/lab``) and the browser tests
(``tests/browser``): ``from support.labui import LabUI``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.jupyterlab import JupyterLabServer, LabPage, _strip_ansi

_MARK_JS = r"""
(path) => {
  // Count, per code cell, the executions that ended with a number: a run after
  // a kernel restart gives the same numbers again, so numbers alone do not tell.
  const p = window.__xpm.findPanel(path);
  const out = [];
  for (const c of p.content.model.cells) {
    if (c.type !== 'code') continue;
    if (!c.__xpmWatched) {
      c.__xpmWatched = true;
      c.__xpmRuns = 0;
      c.stateChanged.connect((m, a) => {
        if (a.name === 'executionCount' && a.newValue !== null && a.newValue !== undefined) m.__xpmRuns += 1;
      });
    }
    out.push(c.__xpmRuns);
  }
  return out;
}
"""

_CELLS_JS = r"""
(path) => {
  const p = window.__xpm.findPanel(path);
  if (!p || !p.content.model) return null;
  const out = [];
  const widgets = p.content.widgets;
  let i = 0;
  for (const c of p.content.model.cells) {
    const w = widgets[i];
    const prompt = w && w.node.querySelector('.jp-InputPrompt');
    out.push({
      type: c.type,
      count: c.type === 'code' ? c.executionCount : null,
      runs: c.__xpmRuns,
      prompt: prompt ? prompt.textContent.trim() : '',
      source: c.sharedModel.getSource(),
      outputs: c.type === 'code' ? c.outputs.toJSON() : [],
    });
    i += 1;
  }
  return out;
}
"""


class LabUI:
    """Menu-driven actions and DOM reads on one open notebook."""

    def __init__(self, lab: LabPage, shots: Path | None = None) -> None:
        self.lab = lab
        self.page = lab.page
        self.shots = shots
        self.timings: dict[str, float] = {}

    # -- opening ---------------------------------------------------------------

    def open_by_url(self, notebook: Path | str) -> None:
        self.lab.open(notebook)

    def open_from_file_browser(self, notebook: Path) -> None:
        """Open the lab at its root, then double-click the folders and the file in the file browser."""
        server = self.lab.server
        assert server.root_dir is not None
        rel = notebook.resolve().relative_to(server.root_dir)
        self.lab.path = rel.as_posix()
        self.page.goto(server.url(f"lab/workspaces/{self.lab.workspace}", reset=""),
                       wait_until="domcontentloaded")
        self.page.wait_for_function("() => window.jupyterapp !== undefined")
        self.page.evaluate("() => window.jupyterapp.restored")
        for part in rel.parts:
            name = self.page.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(part)}$"))
            self.page.locator(".jp-DirListing-item", has=name).first.dblclick()
        self.lab.wait_idle()

    # -- menus -----------------------------------------------------------------

    def menu(self, top: str, command: str) -> None:
        """Click ``top`` in the menu bar, then its item running ``command``."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{top}$")).first.click()
        item = self.page.locator(f'.lm-Menu .lm-Menu-item[data-command="{command}"]').first
        item.wait_for(state="visible")
        item.click()

    def run_all(self) -> None:
        """Run > Run All Cells (returns at once: the cells run on)."""
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # the notebook has the focus
        self.menu("Run", "runmenu:run-all")

    def restart_kernel(self) -> None:
        """Kernel > Restart Kernel…, then the dialog's Restart button; waits for the new kernel."""
        self.menu("Kernel", "kernelmenu:restart")
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(state="visible")
        assert "Restart" in dialog.inner_text()
        dialog.locator("button.jp-mod-accept").click()
        dialog.wait_for(state="detached")
        self.lab.wait_idle()

    def save(self) -> None:
        """File > Save Notebook; waits until the file is written (the model is clean)."""
        self.menu("File", "docmanager:save")
        self.page.wait_for_function(
            "(p) => { const w = window.__xpm.findPanel(p); return w && !w.context.model.dirty; }",
            arg=self.lab.path,
        )

    # -- reading ---------------------------------------------------------------

    def cells(self) -> list[dict[str, Any]]:
        return self.page.evaluate(_CELLS_JS, self.lab.path)

    def code_cells(self) -> list[dict[str, Any]]:
        return [c for c in self.cells() if c["type"] == "code"]

    def counts(self) -> list[int | None]:
        return [c["count"] for c in self.code_cells()]

    def errors(self) -> list[dict[str, Any]]:
        return self.lab.cell_errors()

    def assert_no_errors(self, label: str = "") -> None:
        """No cell raised (the first error's traceback otherwise), and no error output is shown."""
        errors = self.errors()
        where = f"{label}: " if label else ""
        assert not errors, f"{where}cell {errors[0]['cell']} raised {errors[0]['ename']}: " \
                           f"{errors[0]['evalue']}\n" + "\n".join(errors[0].get("traceback") or [])
        shown = self.page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
        assert shown.count() == 0, f"{where}an error output is shown"

    def cell_running(self, index: int) -> bool:
        """Whether code cell ``index`` shows ``[*]`` (it runs, or waits to)."""
        prompts = self.page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        return index < len(prompts) and "*" in prompts[index]

    # -- waiting ---------------------------------------------------------------

    def wait_js(self, expression: str, arg: Any = None, timeout: float = 60.0) -> Any:
        """Wait until the JavaScript ``expression`` (a function of ``arg``) is truthy in the page."""
        return self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)

    def wait(self, predicate: Callable[[], Any], timeout: float = 60.0,
             what: str | Callable[[], str] = "condition") -> None:
        """Poll ``predicate`` until it is true; on timeout fail with ``what`` (or its value
        then, if a function) and the lab's diagnostics."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                said = what() if callable(what) else what
                raise AssertionError(f"{said}: not reached in {timeout:.0f} s\n{self.lab.diagnostics()}")
            time.sleep(0.1)

    def done_while_cell_runs(self, cell: int, n: int, shot: str, timeout: float = 60.0) -> bool:
        """Watch the job table until it shows ``n`` done rows: whether code cell ``cell``
        still ran (``[*]``) then. Screenshots ``<shot>-running-while-cell-runs`` (a row
        running during the cell) and ``<shot>-all-done``. Fails if ``n`` rows never show done."""
        self.page.locator(".xpm-jt").first.wait_for(state="visible", timeout=timeout * 1000)
        self.page.locator(".jp-Notebook .jp-CodeCell").nth(cell).scroll_into_view_if_needed()
        done = self.page.locator('.xpm-jt-row[data-state="done"]')
        running = self.page.locator('.xpm-jt-row[data-state="running"]')
        shot_running = False
        seen: list[bool] = []

        def all_done() -> bool:
            nonlocal shot_running
            busy = self.cell_running(cell) and not self.code_cells()[cell]["count"]
            if busy and not shot_running and running.count():
                self.shot(f"{shot}-running-while-cell-runs")
                shot_running = True
            if done.count() == n:
                seen.append(busy)
            return bool(seen)

        rows = self.page.locator(".xpm-jt-row")
        self.wait(all_done, timeout, what=lambda: f"{n} done rows in the job table (rows: "
                  f"{[r.get_attribute('data-state') for r in rows.all()]})")
        self.shot(f"{shot}-all-done")
        return seen[0]

    # -- running all -------------------------------------------------------------

    def run_all_and_wait(self, timeout: float = 180.0) -> list[dict[str, Any]]:
        """Run All from the menu; wait until every code cell ran anew (or one errored) and the kernel is idle.

        Returns the code cells. Raises TimeoutError (with the cells' prompts) if the run never ends.
        """
        before = self.begin_run_all()
        return self.finish_run_all(before, timeout)

    def begin_run_all(self) -> list[int]:
        """Run > Run All Cells; returns what :meth:`finish_run_all` needs."""
        before = self.page.evaluate(_MARK_JS, self.lab.path)
        self._t_run = time.monotonic()
        self.run_all()
        return before

    def finish_run_all(self, before: list[int], timeout: float = 180.0) -> list[dict[str, Any]]:
        t0 = self._t_run
        deadline = t0 + timeout
        while True:
            cells = self.code_cells()
            new = [(c["runs"] or 0) > b for c, b in zip(cells, before)]
            if all(new) or self.errors():
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Run All did not end: prompts {[c['prompt'] for c in cells]}")
            time.sleep(0.1)
        self.lab.wait_idle(timeout=max(10.0, deadline - time.monotonic()))
        self.timings.setdefault("run_all", 0.0)
        self.timings["run_all"] += time.monotonic() - t0
        return self.code_cells()

    # -- screenshots -----------------------------------------------------------

    def shot(self, name: str, full_page: bool = False) -> Path | None:
        if self.shots is None:
            return None
        return self.lab.screenshot(self.shots / f"{name}.png", full_page=full_page)


def sleep_cell(seconds: float) -> str:
    """A cell that blocks in ``time.sleep``, printing when it starts and ends (see :func:`slept`)."""
    return ("import time\nprint('SLEEP START', time.time(), flush=True)\n"
            f"time.sleep({seconds})\nprint('SLEEP END', time.time(), flush=True)")


def slept(cell: dict[str, Any]) -> tuple[float, float]:
    """The ``(start, end)`` times a :func:`sleep_cell` printed."""
    text = output_text(cell)
    return float(text.split("SLEEP START")[1].split()[0]), float(text.split("SLEEP END")[1].split()[0])


def output_text(cell: dict[str, Any]) -> str:
    """Everything a code cell shows as text: streams, results' text/plain, errors."""
    parts = []
    for o in cell["outputs"]:
        if o["output_type"] == "stream":
            t = o.get("text", "")
            parts.append("".join(t) if isinstance(t, list) else t)
        elif o["output_type"] in ("execute_result", "display_data"):
            t = o.get("data", {}).get("text/plain", "")
            parts.append("".join(t) if isinstance(t, list) else t)
        elif o["output_type"] == "error":
            parts.append(_strip_ansi("\n".join(o.get("traceback") or [])))
    return "\n".join(parts)


def fresh_lab(base: Path, root: Path, env: dict[str, str]) -> JupyterLabServer:
    """A JupyterLab of its own on ``root`` (its own config, data and runtime folders in ``base``)."""
    return JupyterLabServer(base, root_dir=root, env=env).start()
