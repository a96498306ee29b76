"""In a real Jupyter kernel (nbclient): a task class of a cell fails with its
source lines in the job's traceback, and the monitoring page's URL goes to
stdout (not stderr) and to the experiment view (without its token; a live
view asks for the link with it)."""

from __future__ import annotations

import textwrap

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("jupyter_client")


def _cell(code: str):
    return nbformat.v4.new_code_cell(textwrap.dedent(code).strip())


def _streams(cell, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.get("output_type") == "stream" and o.get("name") == name)


def test_cell_class_traceback_and_monitor_url(workdir, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(f"""
            from xpm_nb import Param, Task, experiment
            xp = experiment({str(workdir)!r}, "tb", port=0)
        """),
        _cell("""
            class Broken(Task):
                x: Param[int]

                def execute(self):
                    value = self.x * 2
                    raise ValueError(f"broken on purpose {value}")  # the line to see
        """),
        _cell("""
            from xpm_nb.widgets import ExperimentView
            task = Broken.C(x=21).submit()
            print("state:", task.__xpm__.job.wait().value)
            view = ExperimentView(xp)
            replies = []
            view.send = replies.append
            view._on_message(view, {"type": "monitor_url"}, [])
            print("trait:", view.monitor_url)
            print("reply:", replies[0]["url"] == xp.server.url, replies[0]["url"].startswith(view.monitor_url + "?token="))
            print("no token in state:", xp.server.token not in str(view.get_state()))
        """),
    ]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    first = nb.cells[0]
    assert "monitoring 'tb' at http://127.0.0.1:" in _streams(first, "stdout")
    assert "monitoring" not in _streams(first, "stderr")
    out = _streams(nb.cells[2], "stdout")
    assert "state: error" in out
    assert "trait: http://127.0.0.1:" in out
    assert "reply: True True" in out
    assert "no token in state: True" in out
    [err] = list((workdir / "jobs").glob("__main__.broken/*/broken.err"))
    text = err.read_text()
    assert "ValueError: broken on purpose 42" in text
    # The cell's line under its "File ..., line N" entry: the source was shipped.
    assert 'raise ValueError(f"broken on purpose {value}")  # the line to see' in text, text


def test_main_script_class_traceback(workdir, tmp_path):
    """A class of a script (``__main__``) too: cloudpickle names its code ``<dynamic-code>``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        from xpm_nb import Param, Task, experiment

        class Broken(Task):
            x: Param[int]

            def execute(self):
                raise KeyError("from the script")  # the script's line

        if __name__ == "__main__":
            with experiment({str(workdir)!r}, "script") as xp:
                Broken.C(x=1).submit()
    """))
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, timeout=120,
                   capture_output=True, check=False)
    [err] = list((workdir / "jobs").glob("__main__.broken/*/broken.err"))
    text = err.read_text()
    assert f'File "{script}", line 8, in execute' in text, text
    assert 'raise KeyError("from the script")  # the script\'s line' in text, text
