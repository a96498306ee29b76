"""Self-test of the browser infrastructure: a real JupyterLab renders an
ipywidgets progress bar and an anywidget, and a later cell's change reaches the DOM."""

from __future__ import annotations

import time

from infra.jupyterlab import JupyterLabServer, LabPage

PROBE_ESM = """
export default {
  render({ model, el }) {
    const show = () => {
      el.innerHTML = '<span class="xpm-probe">' + model.get('v') + '</span>';
    };
    show();
    model.on('change:v', show);
  }
}
"""

CELLS = [
    "import ipywidgets\nbar = ipywidgets.IntProgress(value=3, max=10)\nbar",
    "import anywidget, traitlets\n\n"
    "class W(anywidget.AnyWidget):\n"
    f'    _esm = """{PROBE_ESM}"""\n'
    "    v = traitlets.Int(1).tag(sync=True)\n\n"
    "w = W()\nw",
    "w.v = 2\nprint('v set to', w.v)",
]


def test_lab_server_basics(jupyterlab_server: JupyterLabServer) -> None:
    s = jupyterlab_server
    assert s.url("api/status").startswith("http://127.0.0.1:")
    assert s.api("api/status")["started"]
    exts = s.lab_extensions()
    assert "@jupyter-widgets/jupyterlab-manager" in exts and "anywidget" in exts
    assert s.kernel_name in s.api("api/kernelspecs")["kernelspecs"]


def test_widgets_render_in_jupyterlab(
    jupyterlab_server: JupyterLabServer, lab_page: LabPage, screenshot_dir
) -> None:
    nb = jupyterlab_server.write_notebook("infra/probe.ipynb", CELLS)
    t0 = time.monotonic()
    lab_page.open(nb)
    t_open = time.monotonic() - t0
    lab_page.run_all()
    t_run = time.monotonic() - t0 - t_open

    lab_page.wait_for(".widget-hprogress")
    assert lab_page.count(".widget-hprogress") == 1
    lab_page.wait_for_text(".xpm-probe", "2")
    assert lab_page.query(".xpm-probe") == ["2"]
    assert lab_page.cell_errors() == []
    assert lab_page.state()["kernel"] == jupyterlab_server.kernel_name
    t_widgets = time.monotonic() - t0 - t_open - t_run

    shot = lab_page.screenshot(screenshot_dir / "infra-probe.png")
    assert shot.stat().st_size > 10_000
    print(f"open {t_open:.2f}s, run all {t_run:.2f}s, widgets {t_widgets:.2f}s")
