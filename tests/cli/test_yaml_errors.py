"""Bad experiment files and overrides: each error names the file and line (or the override)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xpm_nb.errors import ExperimentFileError
from xpm_nb.experiments import load_experiment

from .helpers import run_cli


def _error(yaml_file: Path, *overrides: str) -> str:
    with pytest.raises(ExperimentFileError) as info:
        load_experiment(yaml_file, list(overrides))
    return str(info.value)


def _write(project: Path, name: str, text: str) -> Path:
    path = project / name
    path.write_text(text)
    return path


class TestKeys:
    def test_unknown_top_level_key(self, project):
        f = _write(project, "bad.yaml", "id: x\nlr: 0.1\nseed: [1]\n")
        msg = _error(f)
        assert msg.startswith(f"{f}:3: seed: unknown key")
        assert "Did you mean 'seeds'?" in msg

    def test_unknown_nested_key(self, project):
        f = _write(project, "bad.yaml", "id: x\nmodel:\n  hidden: 3\n  hiden: 4\n")
        msg = _error(f)
        assert msg.startswith(f"{f}:4: model.hiden: unknown key: Model has no field 'hiden'")
        assert "Did you mean 'hidden'?" in msg

    def test_unknown_key_in_an_imported_file_names_that_file(self, project):
        _write(project, "base.yaml", "lr: 0.01\n\nlearning_rate: 3\n")
        msg = _error(project / "exp.yaml")
        assert msg.startswith(f"{project / 'base.yaml'}:3: learning_rate: unknown key")

    def test_value_of_the_wrong_type(self, project):
        f = _write(project, "bad.yaml", "id: x\n\nlr: fast\n")
        assert _error(f) == f"{f}:3: lr: expected a float, got 'fast' (a str)"

    def test_wrong_type_in_a_list(self, project):
        f = _write(project, "bad.yaml", "id: x\nseeds: [1, two]\n")
        assert _error(f).startswith(f"{f}:2: seeds.1: expected an int, got 'two'")

    def test_bad_enum_value(self, project):
        f = _write(project, "bad.yaml", "id: x\ndirty_git: sometimes\n")
        assert _error(f) == (f"{f}:2: dirty_git: expected one of ignore, warn, error, "
                             "got 'sometimes' (a str)")

    def test_missing_id(self, project):
        f = _write(project, "bad.yaml", "lr: 0.1\n")
        assert "missing key 'id'" in _error(f) and str(f) in _error(f)

    def test_duplicate_key(self, project):
        f = _write(project, "bad.yaml", "id: x\nlr: 0.1\nlr: 0.2\n")
        assert _error(f) == f"{f}:3: duplicate key 'lr' (first at line 2). Fix: keep one of them"

    def test_yaml_syntax_error(self, project):
        f = _write(project, "bad.yaml", "id: x\nseeds: [1, 2\nlr: 3\n")
        assert _error(f).startswith(f"{f}:")
        assert "not valid YAML" in _error(f)

    def test_missing_import(self, project):
        f = _write(project, "bad.yaml", "id: x\nimports:\n  - nothere.yaml\n")
        msg = _error(f)
        assert msg.startswith(f"{f}:2: imports: no file {project / 'nothere.yaml'}")

    def test_import_cycle(self, project):
        _write(project, "a.yaml", "imports: [b.yaml]\n")
        _write(project, "b.yaml", "imports: [a.yaml]\n")
        f = _write(project, "bad.yaml", "id: x\nimports: [a.yaml]\n")
        assert "form a cycle" in _error(f)


class TestOverrides:
    def test_unknown_key(self, project):
        msg = _error(project / "exp.yaml", "lr=0.1", "modle.hidden=3")
        assert msg.startswith("command-line override #2 ('modle.hidden=3'): modle: unknown key")

    def test_bad_value(self, project):
        msg = _error(project / "exp.yaml", "model.hidden=big")
        assert msg == ("command-line override #1 ('model.hidden=big'): model.hidden: "
                       "expected an int, got 'big' (a str)")

    def test_not_key_value(self, project):
        assert "expected KEY=VALUE" in _error(project / "exp.yaml", "lr")

    def test_key_below_a_scalar_names_where_the_scalar_was_set(self, project):
        msg = _error(project / "exp.yaml", "lr.x=1")
        assert f"{project / 'base.yaml'}:2" in msg and "no key 'x'" in msg

    def test_overrides_apply_in_order(self, project):
        loaded = load_experiment(project / "exp.yaml", ["lr=0.1", "lr=0.2", "model.kind=rnn"])
        assert loaded.configuration.lr == 0.2
        assert loaded.configuration.model.kind == "rnn"
        assert loaded.configuration.model.hidden == 16


class TestRunFunction:
    def test_missing_run_function(self, project):
        (project / "norun.py").write_text("def other():\n    pass\n")
        f = _write(project, "bad.yaml", "id: x\n\nfile: norun\n")
        msg = _error(f)
        assert msg.startswith(f"{f}:3: {project / 'norun.py'} has no function `run`")
        assert "other" in msg

    def test_missing_file(self, project):
        f = _write(project, "bad.yaml", "id: x\nfile: nowhere\n")
        assert _error(f).startswith(f"{f}:2: file: 'nowhere': no file {project / 'nowhere.py'}")

    def test_default_file_missing(self, project):
        (project / "experiment.py").unlink()
        f = _write(project, "bad.yaml", "id: x\n")
        assert "file: 'experiment' (the default)" in _error(f)

    def test_run_without_configuration_class(self, project):
        (project / "untyped.py").write_text("def run(helper, cfg):\n    pass\n")
        f = _write(project, "bad.yaml", "id: x\nfile: untyped\n")
        assert "cannot tell the configuration class" in _error(f)


def test_cli_reports_file_and_line_without_traceback(project):
    """The command line prints the same message and exits with code 2."""
    f = _write(project, "bad.yaml", "id: x\nlr: 0.1\nseed: [1]\n")
    proc = run_cli("run-experiment", f, "--workdir", project / "ws")
    assert proc.returncode == 2
    assert f"{f}:3: seed: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("run-experiment", project / "exp.yaml", "lr=abc", "--workdir", project / "ws")
    assert proc.returncode == 2
    assert "command-line override #1 ('lr=abc'): lr: expected a float" in proc.stderr
    assert not (project / "ws" / "experiments").exists()  # nothing started
