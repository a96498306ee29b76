"""The configuration view: its tree, identifier, tags, meta fields; the live job section."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from widget_helpers import comms, importable_tasks, until  # noqa: F401 - fixtures
from widget_tasks import Fail, Model, Steps

from xpm_nb import Config, InstanceConfig, Meta, Param, Task, experiment, field, setmeta, tag
from xpm_nb.widgets import ConfigView
from xpm_nb.widgets.config_tree import config_tree, tree_html, tree_text
from xpm_nb.widgets.updates import UPDATE_INTERVAL

# Widgets get a comm that records what a front-end would receive.
pytestmark = pytest.mark.usefixtures("comms")


class Encoder(Config):
    size: Param[int]


class Shared(InstanceConfig):
    seed: Param[int]


class Learn(Task):
    encoder: Param[Encoder]
    lr: Param[float] = field(default=0.1, ignore_default=True)
    layers: Param[list[Encoder]] = field(default_factory=list)
    options: Param[dict[str, int]] = field(default_factory=dict)
    workers: Meta[int] = field(default=4)
    out: Meta[Path] = field(default=Path("/tmp/never-used"))
    shared: Param[Shared]
    other: Param[Shared]


def fields(node: dict) -> dict[str, dict]:
    return {f["name"]: f for f in node["fields"]}


class TestTree:
    def make(self):
        encoder = Encoder.C(size=tag(32))
        shared = Shared.C(seed=1)
        return Learn.C(encoder=encoder, layers=[encoder, Encoder.C(size=3)], options={"a": 1},
                       lr=0.1, workers=8, shared=shared, other=shared)

    def test_fields_types_values_and_identifiers(self):
        """Each field with its type and value; nested configs with their own identifier."""
        learn = self.make()
        tree = config_tree(learn)
        assert tree["cls"] == "Learn" and tree["task"] is True
        assert tree["id"] == learn.__identifier__().hex()
        f = fields(tree)
        assert list(f) == ["encoder", "lr", "layers", "options", "workers", "out", "shared", "other"]
        assert f["encoder"]["type"] == "Encoder"
        enc = f["encoder"]["config"]
        assert enc["id"] == learn.encoder.__identifier__().hex()
        assert fields(enc)["size"] == {"name": "size", "type": "int", "kind": "param", "tag": True,
                                       "set": True, "in_id": True, "why_not": None, "value": "32"}
        assert f["options"]["value"] == "{'a': 1}" and f["options"]["type"] == "dict[str, int]"
        items = f["layers"]["items"]
        assert [i["key"] for i in items] == ["0", "1"]
        assert items[0]["config"]["shared"] is True  # the same encoder as above
        assert fields(items[1]["config"])["size"]["value"] == "3"
        assert f["other"]["config"]["shared"] is True

    def test_what_is_not_in_the_identifier_is_marked(self):
        """Meta fields and default values (ignore_default) are marked, with the reason."""
        f = fields(config_tree(self.make()))
        assert (f["workers"]["kind"], f["workers"]["in_id"], f["workers"]["why_not"]) == (
            "meta", False, "meta")
        assert f["out"]["in_id"] is False
        assert (f["lr"]["in_id"], f["lr"]["why_not"]) == (False, "default value")
        assert f["encoder"]["in_id"] is True

    def test_marks_agree_with_the_identifier(self):
        """A field marked "not in identifier" leaves it unchanged; a field in it changes it."""
        base = self.make()
        ident = base.__identifier__().hex()
        for name, value in [("workers", 16), ("lr", 0.3), ("lr", 0.1)]:
            changed = self.make()
            setattr(changed, name, value)
            node = fields(config_tree(changed))[name]
            same = changed.__identifier__().hex() == ident
            assert same == (not node["in_id"]), (name, value, node)

    def test_setmeta_config_and_tags(self):
        """A config marked meta with setmeta is out of the identifier; tags are collected."""
        learn = self.make()
        learn.encoder = setmeta(Encoder.C(size=tag(5)), True)
        tree = config_tree(learn)
        assert fields(tree)["encoder"]["why_not"] == "marked meta (setmeta)"
        assert tree["tags"] == dict(learn.tags()) and "size" in tree["tags"]

    def test_missing_field(self):
        """An unset required field shows as missing and the identifier error says which."""
        tree = config_tree(Learn.C(encoder=Encoder.C(size=1), other=Shared.C(seed=2)))
        f = fields(tree)
        assert f["shared"]["set"] is False and f["shared"]["missing"] is True
        assert tree["id"] is None and "Learn.shared is not set" in tree["id_error"]

    def test_static_fallbacks_show_the_same_facts(self):
        """The <details> HTML and the text hold the identifier, tags, values and meta marks."""
        learn = self.make()
        tree = config_tree(learn)
        html, text = tree_html(tree), tree_text(tree)
        ident = learn.__identifier__().hex()
        for out in (html, text):
            assert ident in out
            assert "size=32" in out
            assert "not in identifier (meta)" in out or "not in identifier: meta" in out
            assert "default value" in out
            assert "Encoder" in out and "workers" in out
        assert html.count("<details") == 1 + 3  # Learn, encoder, layers[1], shared
        assert "shared: shown above" in html
        assert "encoder: Encoder = Encoder [" in text


def test_config_view_syncs_tree_and_identifier():
    """The widget's synced state is the tree and the full identifier."""
    learn = TestTree().make()
    view = ConfigView(learn)
    opened = view.comm.messages[0]
    assert opened[0] == "comm_open"
    state = opened[1]["state"]
    assert state["identifier"] == learn.__identifier__().hex()
    assert state["tree"]["cls"] == "Learn" and state["job"] == {}
    assert "_esm" in state and "export default" in state["_esm"]
    view.close()


def test_view_of_a_submitted_task_follows_its_job(workdir):
    """A submitted task's view shows its job live: running with progress, then done."""

    async def main():
        xp = experiment(workdir, "cv")
        task = Steps.C(model=Model.C(hidden=tag(4)), outer=1, inner=3, pause=0.15).submit()
        view = ConfigView(task)
        job = task.__xpm__.job
        await until(lambda: job.state.finished)
        await asyncio.sleep(3 * UPDATE_INTERVAL)
        xp.close()
        return view, job

    view, job = asyncio.run(main())
    assert view.job["state"] == "done" and view.job["id"] == job.identifier
    assert view.job["progress"][0] == [1.0, "epochs"]
    states = [u["job"]["state"] for u in view.comm.updates() if "job" in u]
    assert "running" in states and states[-1] == "done"
    running = [u["job"] for u in view.comm.updates() if "job" in u and u["job"]["progress"]]
    assert any(len(j["progress"]) == 2 for j in running)  # both levels seen live
    assert view.tree["job"]["path"] == str(job.path)
    view.close()


def test_view_buttons_act_on_the_job(workdir, tmp_path):
    """The view's cancel, log and resubmit requests reach the job."""

    async def main():
        xp = experiment(workdir, "cvact")
        gate = tmp_path / "gate"
        task = Steps.C(model=Model.C(hidden=9), outer=1, inner=1, pause=0.01, gate=gate).submit()
        job = task.__xpm__.job
        view = ConfigView(task)
        await until(lambda: "step 0.0" in job.log_tail(5))  # running, and logging
        view.comm.from_frontend({"type": "cancel", "k": 0})
        await until(lambda: job.state.finished)
        view.comm.from_frontend({"type": "log", "k": 0, "stream": "err"})
        bad = Fail.C(code=5).submit()
        await until(lambda: bad.__xpm__.job.state.finished)
        failed_view = ConfigView(bad)
        failed_view.comm.from_frontend({"type": "log", "k": 0, "stream": "err"})
        xp.close()
        return view, failed_view, job

    view, failed_view, job = asyncio.run(main())
    assert job.failure_reason == "cancelled"
    action = view.comm.custom("action")[0]
    assert action["ok"] is True and action["action"] == "cancel"
    assert "step 0.0" in view.comm.custom("log")[0]["text"]
    assert "about to fail" in failed_view.comm.custom("log")[0]["text"]
    assert "boom 5" in failed_view.job["reason"]
    view.close()
    failed_view.close()
