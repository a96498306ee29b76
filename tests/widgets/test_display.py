"""Rich display: IPython formatters registered by ``import xpm_nb``, in a shell and a kernel."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from widget_helpers import importable_tasks  # noqa: F401 - fixture

from support.integration import need

HERE = Path(__file__).resolve().parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _run(code: str, cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_terminal_ipython_gets_html_and_text_without_loading_widgets(tmp_path):
    """In a shell without a kernel: text and HTML fallbacks; no widget library is loaded."""
    out = _run(
        f"""
        import json, sys
        sys.path.insert(0, {str(HERE)!r})
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        import xpm_nb  # registers the formatters: IPython is loaded
        from xpm_nb import tag
        from widget_tasks import Model, Steps
        cfg = Steps.C(model=Model.C(hidden=tag(3)), outer=2)
        data, _ = shell.display_formatter.format(cfg)
        print(json.dumps({{
            "keys": sorted(data), "html": data["text/html"], "text": data["text/plain"],
            "id": cfg.__identifier__().hex(),
            "loaded": [m for m in ("anywidget", "ipywidgets") if m in sys.modules],
        }}))
        """,
        tmp_path,
    )
    assert out["keys"] == ["text/html", "text/plain"]
    assert out["loaded"] == []
    assert out["id"] in out["html"] and out["id"] in out["text"]
    assert "hidden=3" in out["html"] and "not in identifier" in out["html"]
    assert out["text"].startswith("Steps [") and "hidden: int = 3  (tag)" in out["text"]


def test_import_without_ipython_registers_nothing(tmp_path):
    out = _run(
        """
        import json, sys
        import xpm_nb
        print(json.dumps({"ipython": "IPython" in sys.modules,
                          "display": "xpm_nb.display" in sys.modules}))
        """,
        tmp_path,
    )
    assert out == {"ipython": False, "display": False}


def _nb_available() -> bool:
    try:
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        return False
    return True


NOTEBOOK_CELLS = [
    f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
    "import os\n"
    f"os.environ['PYTHONPATH'] = {str(HERE)!r}\n"
    "from xpm_nb import experiment, tag\n"
    "from widget_tasks import Model, Steps, Fail",
    "cfg = Steps.C(model=Model.C(hidden=tag(7)), outer=1, inner=1, pause=0.01)\ncfg",
    "xp = experiment(WORKDIR, 'nb')\nout = cfg.submit()\nbad = Fail.C(code=2).submit()",
    "import asyncio\n"
    "while not all(j.state.finished for j in xp.jobs):\n"
    "    await asyncio.sleep(0.05)\n"
    "await asyncio.sleep(0.3)\nxp",
    "out.__xpm__.job",
]


def test_notebook_outputs_carry_widget_html_and_text(tmp_path):
    """In a real kernel: each output has the widget view, text/html and text/plain."""
    need(_nb_available(), "nbclient/nbformat/ipykernel are not installed")
    import nbformat
    from nbclient import NotebookClient

    cells = [c.replace("WORKDIR", repr(str(tmp_path / "ws"))) for c in NOTEBOOK_CELLS]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = {i: [o for o in c.outputs if o.output_type == "execute_result"]
               for i, c in enumerate(nb.cells)}
    for i in (1, 3, 4):
        (result,) = outputs[i]
        assert {WIDGET_MIME, "text/html", "text/plain"} <= set(result.data), (i, result.data)
    config_html = outputs[1][0].data["text/html"]
    assert "hidden=7" in config_html and "not in identifier" in config_html
    xp_html = outputs[3][0].data["text/html"]
    assert "experiment nb" in xp_html and "1 done, 1 failed" in xp_html
    assert "boom 2" in xp_html
    job_text = outputs[4][0].data["text/plain"]
    assert job_text.startswith("job done")
    # The widget models saved in the notebook (what nbconvert renders without a kernel).
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {m["state"].get("_anywidget_id"): m["state"] for m in state.values()}
    view = models["xpm_nb.widgets.config_view.ConfigView"]
    assert view["tree"]["cls"] == "Steps"
    xp_view = models["xpm_nb.widgets.experiment_view.ExperimentView"]
    assert xp_view["counts"]["done"] == 1 and xp_view["counts"]["error"] == 1
    assert xp_view["name"] == "nb" and xp_view["n_jobs"] == 2


def test_widgets_can_be_turned_off(monkeypatch):
    """XPM_NB_WIDGETS=0: the bundle has no widget view, only the fallbacks."""
    from widget_tasks import Model

    from xpm_nb import display

    monkeypatch.setenv("XPM_NB_WIDGETS", "0")
    assert display.widgets_enabled() is False
    data = display.mimebundle(Model.C(hidden=1))
    assert sorted(data) == ["text/html", "text/plain"]
