"""The views' JavaScript in headless Chromium, on a blank page, with a fake model.

What JupyterLab cannot show on demand is checked here, exactly: the compact
table decodes to the kernel's rows (and encodes back to the same bytes), the
row store follows ``seq`` (ignores old patches, asks again after a gap, never
without a kernel), a table renders every row of its initial state without
sending anything, a view whose element gets @jupyter-widgets' "disconnected"
class goes inert, and the notebook's saved copy of the views holds only
xpm_nb's entries, current, for outputs still there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support.blankpage import blank_page, clean
from xpm_nb.scheduler.jobs import Job, JobState
from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings
from xpm_nb.widgets.rows import JobTableState, decode_table, encode_table

WIDGET_TESTS = Path(__file__).resolve().parents[1] / "widgets"
if str(WIDGET_TESTS) not in sys.path:
    sys.path.insert(0, str(WIDGET_TESTS))  # widget_tasks (the tasks of the jobs shown)



@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from blank_page(tmp_path_factory.mktemp("chromium-js"), ("job_table", "experiment_view", "config_view", "metrics_view"))


@pytest.fixture
def fresh(page):
    """A clean page body and registry for each test."""
    yield from clean(page)


def jobs(tmp_path, n: int) -> list[Job]:
    from widget_tasks import Fail

    from xpm_nb import tag

    workspace = Workspace(WorkspaceSettings(tmp_path / "ws"))
    return [Job(Fail.C(code=tag(i)), workspace=workspace) for i in range(n)]


def test_compact_table_is_the_same_in_both_languages(fresh, tmp_path):
    js = jobs(tmp_path, 6)
    js[2].state = JobState.ERROR
    rows = JobTableState(js).snapshot()["rows"]
    rows[4].update(started=rows[4]["submitted"] + 2, progress=[[0.25, "epochs"]], retries=2)
    rows[5]["path"] = "/somewhere/else"
    table = encode_table(rows, ["code"])
    decoded = fresh.evaluate("([t, names]) => window.job_table.decodeTable(t, names)", [table, ["code"]])
    for a, b in zip(rows, decoded):
        for key in ("submitted", "started", "ended"):
            if a[key] is not None:
                assert abs(a[key] - b[key]) < 1e-3
                a[key] = b[key]
    assert decoded == rows
    again = fresh.evaluate("([rows, names]) => window.job_table.encodeTable(rows, names)", [decoded, ["code"]])
    assert json.dumps(again, sort_keys=True) == json.dumps(encode_table(decoded, ["code"]), sort_keys=True)


STORE = """() => {
  const { RowStore } = window.job_table;
  const s = new RowStore();
  const sent = [];
  s.send = (m) => sent.push(m);
  const row = (k, state) => ({ k, id: 'i' + k, task: 't', name: 'T', state, tags: {}, progress: [] });
  const log = [];
  s.snapshot({ type: 'snapshot', rows: [row(0, 'waiting'), row(1, 'waiting')], tag_names: [], seq: 2 });
  log.push(['snap2', s.seq, s.rows.get(0).state]);
  s.patch({ type: 'patch', rows: [row(0, 'running')], seq: 2 });       // already in the snapshot
  log.push(['old patch', s.seq, s.rows.get(0).state, sent.length]);
  s.patch({ type: 'patch', rows: [row(0, 'done')], seq: 3 });
  log.push(['next patch', s.seq, s.rows.get(0).state, sent.length]);
  s.patch({ type: 'patch', rows: [row(1, 'running')], seq: 5 });      // 4 was missed
  log.push(['gap', s.seq, s.rows.get(1).state, sent.length, sent[0] && sent[0].type]);
  s.patch({ type: 'patch', rows: [row(1, 'error')], seq: 7 });        // again: one request pending
  log.push(['gap again', sent.length]);
  s.snapshot({ type: 'snapshot', rows: [row(0, 'waiting')], tag_names: [], seq: 4 });  // older
  log.push(['old snapshot', s.rows.size, sent.length]);  // not applied; asked again
  s.snapshot({ type: 'snapshot', rows: [row(0, 'done'), row(1, 'error'), row(2, 'ready')], tag_names: [], seq: 7 });
  log.push(['answer', s.seq, s.rows.size, s.syncAsked]);
  s.live = false;
  s.patch({ type: 'patch', rows: [row(2, 'running')], seq: 9 });
  log.push(['no kernel', sent.length]);
  return log;
}"""


def test_the_store_follows_seq(fresh):
    assert fresh.evaluate(STORE) == [
        ["snap2", 2, "waiting"],
        ["old patch", 2, "waiting", 0],
        ["next patch", 3, "done", 0],
        ["gap", 5, "running", 1, "sync"],
        ["gap again", 1],
        ["old snapshot", 2, 2],
        ["answer", 7, 3, 0],
        ["no kernel", 2],
    ]


#: Both stores, fed as the monitoring page feeds them: its polls and its "sync"
#: request are separate HTTP requests, so a poll's patch can come before the
#: snapshot asked earlier (a snapshot older than what is held).
OUT_OF_ORDER = """() => {
  const { RowStore } = window.job_table;
  const { CurveStore } = window.metrics_view;
  const row = (k, state) => ({ k, id: 'i' + k, task: 't', name: 'T', state, tags: {}, progress: [] });
  const log = [];

  const rows = new RowStore();
  const sent = [];
  rows.send = (m) => sent.push(m);
  rows.resync();  // a view without a snapshot asks
  // Patch 1 (both rows, whole) went to nobody; patch 2 changes row 1 only.
  rows.patch({ type: 'patch', rows: [{ k: 1, state: 'running' }], seq: 2 });
  log.push(['patch first', rows.rows.size, rows.synced, sent.length]);
  rows.snapshot({ type: 'snapshot', rows: [row(0, 'waiting'), row(1, 'waiting')], tag_names: [], seq: 1 });
  log.push(['older answer', rows.rows.size, rows.synced, sent.length]);
  rows.snapshot({ type: 'snapshot', rows: [row(0, 'waiting'), row(1, 'running')], tag_names: [], seq: 2 });
  log.push(['answer', rows.rows.size, rows.synced, rows.rows.get(1).state]);
  rows.snapshot({ type: 'snapshot', rows: [row(0, 'waiting')], tag_names: [], seq: 1 });
  log.push(['synced, older', rows.rows.size, sent.length]);  // ignored, nothing asked

  const curves = new CurveStore();
  const asked = [];
  curves.send = (m) => asked.push(m);
  curves.resync();
  curves.patch({ type: 'patch', runs: [], append: { 0: { loss: [[2], [0.2]] } }, seq: 3 });
  curves.snapshot({ type: 'snapshot', runs: [{ k: 0 }], curves: { 0: { loss: [[0, 1], [1, 0.5]] } }, seq: 2 });
  log.push(['curves: older answer', curves.synced, asked.length, curves.seq]);
  curves.snapshot({ type: 'snapshot', runs: [{ k: 0 }], curves: { 0: { loss: [[0, 1, 2], [1, 0.5, 0.2]] } }, seq: 3 });
  log.push(['curves: answer', curves.synced, curves.curves.get(0).get('loss').x]);
  return log;
}"""


def test_answers_out_of_order_end_complete(fresh):
    """A store left without a row by a patch that came before its snapshot asks again
    when the snapshot comes older, and takes the next: it never stays empty."""
    assert fresh.evaluate(OUT_OF_ORDER) == [
        ["patch first", 0, False, 1],
        ["older answer", 0, False, 2],
        ["answer", 2, True, "running"],
        ["synced, older", 2, 2],
        ["curves: older answer", False, 2, 3],
        ["curves: answer", True, [0, 1, 2]],
    ]


def table_model_state(tmp_path, n: int, running: int | None = None) -> dict:
    import time

    js = jobs(tmp_path, n)
    if running is not None:
        js[running].state = JobState.RUNNING
        js[running].started_time = time.time() - 5
    state = JobTableState(js)
    return {"_xpm_id": "m1", "title": "t", "tag_names": state.tag_names, "counts": state.counts(),
            "snapshot": state.compact_snapshot(), "patch": {}, "n_jobs": n,
            "_anywidget_id": "xpm_nb.widgets.job_table.JobTable"}


RENDER = """async (state) => {
  const model = new FakeModel(state);
  const el = document.createElement('div');
  document.body.appendChild(el);
  const mod = window.job_table.default;
  mod.initialize({ model });
  mod.render({ model, el });
  await new Promise((r) => setTimeout(r, 50));
  window.current = { model, el };
  return {
    rows: el.querySelectorAll('.xpm-jt-row:not([style*="none"])').length,
    count: el.querySelector('.xpm-jt-count').textContent,
    sent: model.sent,
  };
}"""


def test_a_table_renders_its_initial_state_without_asking(fresh, tmp_path):
    shown = fresh.evaluate(RENDER, table_model_state(tmp_path, 10))
    assert shown == {"rows": 10, "count": "10 jobs", "sent": []}


INERT = """async () => {
  const { model, el } = window.current;
  const cell = () => el.querySelector(".xpm-jt-row[data-k='3'] .xpm-c-duration").textContent;
  const dot = () => getComputedStyle(el.querySelector(".xpm-jt-row[data-k='3'] .xpm-dot")).animationName;
  const before = { note: el.querySelector('.xpm-note').offsetParent !== null,
                   cancel: el.querySelector(".xpm-jt-row[data-k='3'] button.xpm-cancel").disabled,
                   animation: dot() };
  // A "comm_live_update" while the model is still live changes nothing.
  model.triggerAs({ model: { comm_live: true } }, 'comm_live_update');
  await new Promise((r) => setTimeout(r, 50));
  const stillLive = !el.querySelector('.xpm-jt').classList.contains('xpm-inert');
  // What @jupyter-widgets does on a kernel restart (with anywidget, no class is set).
  model.triggerAs({ model: { comm_live: false } }, 'comm_live_update');
  await new Promise((r) => setTimeout(r, 50));
  const button = el.querySelector(".xpm-jt-row[data-k='3'] button.xpm-cancel");
  button.click();
  el.querySelector(".xpm-jt-row[data-k='3']").click();  // details: no log request
  const frozen = cell();
  await new Promise((r) => setTimeout(r, 2200));
  return {
    before,
    stillLive,
    inert: el.querySelector('.xpm-jt').classList.contains('xpm-inert'),
    note: el.querySelector('.xpm-note').textContent,
    disabled: button.disabled,
    detailButtons: [...el.querySelectorAll('.xpm-jt-detail button:not(.xpm-copy)')]
      .filter((b) => !b.disabled).map((b) => b.textContent),
    animation: dot(),
    sameDuration: frozen === cell(),
    log: el.querySelector('.xpm-jt-detail .xpm-log').textContent,
    sent: model.sent,
  };
}"""


def test_a_table_without_kernel_goes_inert(fresh, tmp_path):
    fresh.evaluate(RENDER, table_model_state(tmp_path, 5, running=3))
    result = fresh.evaluate(INERT)
    assert result["before"] == {"note": False, "cancel": False, "animation": "xpm-pulse"}
    assert result["stillLive"]
    assert result["inert"] and result["disabled"]
    assert result["note"].startswith("kernel restarted: re-run this cell")
    assert result["detailButtons"] == ["×"]  # only "close the details"
    assert result["animation"] == "none"
    assert result["sameDuration"]
    assert "no kernel" in result["log"]
    assert result["sent"] == []


def test_a_restored_copy_says_it_is_saved(fresh, tmp_path):
    """A model restored from the notebook file: disconnected from the start, never live."""
    state = table_model_state(tmp_path, 4, running=1)
    result = fresh.evaluate("""async (state) => {
      const model = new FakeModel(state);
      const el = document.createElement('div');
      el.className = 'jupyter-widgets-disconnected';
      document.body.appendChild(el);
      window.experiment_view.default.initialize({ model });
      window.experiment_view.default.render({ model, el });
      await new Promise((r) => setTimeout(r, 50));
      return { rows: el.querySelectorAll('.xpm-jt-row:not([style*="none"])').length,
               notes: [...el.querySelectorAll('.xpm-note')].filter((n) => n.offsetParent !== null).map((n) => n.textContent),
               status: el.querySelector('.xpm-xp-status').textContent, sent: model.sent };
    }""", {**state, "name": "xp", "status": "running", "services": []})
    assert result["rows"] == 4 and result["sent"] == []
    assert len(result["notes"]) == 1 and result["notes"][0].startswith("saved view")
    assert result["status"] == "running, not live"


def test_a_config_view_without_kernel_goes_inert(fresh, tmp_path):
    from xpm_nb.widgets.config_tree import config_tree
    from xpm_nb.widgets.rows import job_row

    (job,) = jobs(tmp_path, 1)
    job.state = JobState.RUNNING
    state = {"_xpm_id": "c1", "tree": config_tree(job.config), "identifier": job.identifier,
             "job": job_row(job, 0)}
    result = fresh.evaluate("""async (state) => {
      const model = new FakeModel(state);
      const el = document.createElement('div');
      document.body.appendChild(el);
      window.config_view.default.initialize({ model });
      window.config_view.default.render({ model, el });
      const enabled = () => [...el.querySelectorAll('.xpm-cv-job button:not(.xpm-copy)')]
        .filter((b) => !b.disabled).map((b) => b.textContent);
      const before = enabled();
      model.trigger('comm_live_update');
      el.querySelector('.xpm-cv-cancel').click();
      return { before, after: enabled(), note: el.querySelector('.xpm-note').textContent, sent: model.sent };
    }""", state)
    assert result["before"] == ["cancel", "stderr", "stdout"]
    assert result["after"] == [] and result["sent"] == []
    assert result["note"].startswith("kernel restarted")


SAVE = """async (state) => {
  const saved = await import(window.job_table_saved_views_url);
  // The widget manager's own models: what `get_model` gives (public @jupyter-widgets API).
  const manager = { get_model: (id) => Promise.resolve({
    get: (key) => ({ _model_name: 'AnyModel', _model_module: 'anywidget', _model_module_version: '0.11.0' })[key],
    get_state: () => ({ ...models[id].state, layout: 'IPY_MODEL_layout' }),
    serialize: (s) => s,
  }) };
  const models = {};
  for (const id of ['m1', 'm2', 'm3']) {
    models[id] = new FakeModel({ ...state, _xpm_id: id });
    models[id].widget_manager = manager;
    window.job_table.default.initialize({ model: models[id] });
  }
  await new Promise((r) => setTimeout(r, 0));
  const view = (id) => ({ output_type: 'display_data', data: { 'application/vnd.jupyter.widget-view+json': { model_id: id } } });
  let metadata = { widgets: { 'application/vnd.jupyter.widget-state+json': { version_major: 2, version_minor: 0, state: {
    m2: { model_name: 'AnyModel', model_module: 'anywidget', state: { ...state, _xpm_id: 'm2', title: 'old' } },
    m3: { model_name: 'AnyModel', model_module: 'anywidget', state: { ...state, _xpm_id: 'm3' } },
    foreign: { model_name: 'X', model_module: 'y', state: {} } } } } };
  const notebook = {
    cells: [{ type: 'code', outputs: { toJSON: () => [view('m1')] } }, { type: 'code', outputs: { toJSON: () => [view('m2')] } },
            { type: 'markdown' }],   // m3's output was cleared
    getMetadata: (k) => metadata[k], setMetadata: (k, v) => { metadata[k] = v; } };
  models.m2.set('title', 'now');  // m2's kernel restarted: its model still holds its last values
  models.m1.change('patch', { type: 'patch', seq: 1, rows: [{ ...state.__row0, state: 'done' }] });
  saved.saveViews(notebook);
  return metadata.widgets['application/vnd.jupyter.widget-state+json'].state;
}"""


def test_saving_writes_our_views_current_and_only_those_still_shown(fresh, tmp_path):
    state = table_model_state(tmp_path, 3)
    state["__row0"] = decode_table(state["snapshot"]["table"], state["tag_names"])[0]
    # The saved_views.js module instance the table bundle defined (xpm_nb.widgets.assets).
    saved_views = fresh.evaluate("() => [...globalThis[Symbol.for('xpm_nb.modules')]]"
                                 ".find(([key]) => key.startsWith('saved_views.js:'))[1]")
    fresh.evaluate("(url) => { window.job_table_saved_views_url = url; }", saved_views)
    saved = fresh.evaluate(SAVE, state)
    assert sorted(saved) == ["foreign", "m1", "m2"]  # m3 no longer shown; others kept
    m1 = saved["m1"]
    assert (m1["model_name"], m1["model_module"], m1["model_module_version"]) == ("AnyModel", "anywidget", "0.11.0")
    assert "layout" not in m1["state"] and "patch" not in m1["state"]
    assert m1["state"]["snapshot"]["seq"] == 1  # the rows of now, not those of the opening
    rows = decode_table(m1["state"]["snapshot"]["table"], m1["state"]["snapshot"]["tag_names"])
    assert [r["state"] for r in rows] == ["done", "unscheduled", "unscheduled"]
    assert saved["m2"]["state"]["title"] == "now" and "layout" not in saved["m2"]["state"]
    assert saved["foreign"] == {"model_name": "X", "model_module": "y", "state": {}}


def test_data_urls_carry_any_source_two_levels_deep(fresh):
    """assets.data_url: quotes, backslashes, %, #, line breaks, non-ASCII, all intact."""
    from xpm_nb.widgets.assets import data_url

    text = "a \"b\" 'c' `d` \\n %41 #e\tf\r\n g é ∑ 😀 ${h} ?i=1&j"
    inner = f"export const text = {json.dumps(text)};\n// a comment # with % signs\n"
    outer = f'import {{ text }} from "{data_url(inner)}";\nexport default text + "!";\n'
    got = fresh.evaluate("async (url) => (await import(url)).default", data_url(outer))
    assert got == text + "!"
