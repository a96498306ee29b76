"""The widgets' bundles (``xpm_nb.widgets.assets.bundle``): each front-end module
once, whatever the number of modules importing it; a circular import refused;
a changed source seen at the next call."""

from __future__ import annotations

import json
import os

import pytest

from xpm_nb.widgets import assets


def test_every_widget_bundle_holds_each_module_once():
    common = assets.asset_path("common").read_text(encoding="utf-8")
    marker = common.splitlines()[0]  # common.js's first line: met once per copy of it
    for name in ("job_table", "experiment_view", "browse", "metrics_view", "config_view"):
        text = assets.bundle(name)
        assert text.count(json.dumps(marker)[1:-1]) <= 1, name
        total = sum(p.stat().st_size for p in assets.asset_dir().glob("*.js"))
        assert len(text) < total, name  # never more than every source once


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "_PACKAGED", tmp_path / "none")
    monkeypatch.setattr(assets, "_SOURCE", tmp_path)
    (tmp_path / "job_table.js").write_text("export default {};\n")
    return tmp_path


def test_a_shared_module_is_written_once_and_imports_point_at_it(folder):
    (folder / "base.js").write_text("export const BASE = 'the base module source';\n")
    (folder / "left.js").write_text('import { BASE } from "./base.js";\nexport const L = BASE + " left";\n')
    (folder / "right.js").write_text('import { BASE } from "./base.js";\nexport const R = BASE + " right";\n')
    (folder / "top.js").write_text('import { L } from "./left.js";\nimport { R } from "./right.js";\n'
                                   "export default { L, R };\n")
    text = assets.bundle("top")
    assert text.count("the base module source") == 1
    assert '"./base.js"' not in text and "./left.js" not in text


def test_circular_imports_are_refused(folder):
    (folder / "a.js").write_text('import { B } from "./b.js";\nexport const A = 1;\n')
    (folder / "b.js").write_text('import { A } from "./a.js";\nexport const B = 2;\n')
    with pytest.raises(ValueError, match="circular import between front-end modules: a.js -> b.js -> a.js"):
        assets.bundle("a")


def test_a_changed_source_is_bundled_again(folder):
    (folder / "one.js").write_text("export default { v: 'first version' };\n")
    assert "first version" in assets.bundle("one")
    (folder / "one.js").write_text("export default { v: 'second version' };\n")
    stat = (folder / "one.js").stat()
    os.utime(folder / "one.js", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert "second version" in assets.bundle("one")
