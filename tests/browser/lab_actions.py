"""What a person does in JupyterLab, for the browser tests: menus, dialogs, the file browser.

A layer over :class:`infra.jupyterlab.LabPage` (which opens pages and reads
the kernel's state): every action is a click on what a person sees, and the
checks read the rendered DOM.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from infra.jupyterlab import JupyterLabServer, LabPage


class LabActions:
    def __init__(self, lab: LabPage) -> None:
        self.lab = lab
        self.page = lab.page

    # -- menus -------------------------------------------------------------------

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
            arg=self.lab.path)

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

    # -- reading -----------------------------------------------------------------

    def cell_running(self, index: int) -> bool:
        """Whether code cell ``index`` shows ``[*]`` (it runs, or waits to)."""
        prompts = self.page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        return index < len(prompts) and "*" in prompts[index]

    def wait_js(self, expression: str, arg: Any = None, timeout: float = 60.0) -> Any:
        return self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)

    def wait(self, predicate, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not reached in {timeout:.0f} s\n{self.lab.diagnostics()}")
            time.sleep(0.1)


def fresh_lab(base: Path, root: Path, env: dict[str, str]) -> JupyterLabServer:
    """A JupyterLab of its own on ``root`` (its own config, data and runtime folders in ``base``)."""
    return JupyterLabServer(base, root_dir=root, env=env).start()
