"""How experiment files are merged: parent, then imports in order, then the file, then overrides."""

from __future__ import annotations

import pytest

from xpm_nb.experiments import ConfigurationBase, configuration, load_experiment


def test_merge_order(project):
    (project / "parent.yaml").write_text("lr: 1.0\nseeds: [1]\nmodel:\n  hidden: 1\n  kind: p\n")
    (project / "first.yaml").write_text("lr: 2.0\nmodel:\n  kind: first\n")
    (project / "second.yaml").write_text("imports: [nested/third.yaml]\nlr: 3.0\n")
    (project / "nested").mkdir()
    (project / "nested" / "third.yaml").write_text("seeds: [3, 3]\n")  # relative to its file
    (project / "main.yaml").write_text(
        "id: merged\nparent: parent.yaml\nimports: [first.yaml, second.yaml]\n"
        "model:\n  hidden: 5\n")
    loaded = load_experiment(project / "main.yaml", ["model.kind=cli"])
    cfg = loaded.configuration
    assert cfg.lr == 3.0  # second import beats the first and the parent
    assert cfg.seeds == [3, 3]  # from the import of an import
    assert cfg.model.hidden == 5  # the file itself beats its imports
    assert cfg.model.kind == "cli"  # overrides come last
    assert [p.name for p in loaded.sources.files] == [
        "parent.yaml", "first.yaml", "third.yaml", "second.yaml", "main.yaml"]


def test_pre_and_post_yaml(project):
    (project / "pre.yaml").write_text("lr: 0.5\ntitle: from pre\n")
    (project / "post.yaml").write_text("title: from post\n")
    loaded = load_experiment(project / "exp.yaml", pre_yaml=[project / "pre.yaml"],
                             post_yaml=[project / "post.yaml"])
    assert loaded.configuration.lr == 0.01  # exp.yaml's import beats --pre-yaml
    assert loaded.configuration.title == "from post"


def test_base_fields_and_experiment_id(project):
    loaded = load_experiment(project / "exp.yaml", [
        "subtitle=sub", "paper=arXiv:1", "description=long text", "add_timestamp=true"])
    cfg = loaded.configuration
    assert (cfg.title, cfg.subtitle, cfg.paper, cfg.description) == (
        "CLI test", "sub", "arXiv:1", "long text")
    assert cfg.dirty_git.value == "warn"
    assert loaded.experiment_id.startswith("cli-test-20")
    assert isinstance(cfg, ConfigurationBase)


def test_configuration_classes_are_keyword_only():
    @configuration
    class Small(ConfigurationBase):
        n: int = 1

    assert Small(id="x", n=2).n == 2
    with pytest.raises(TypeError):
        Small("x")
