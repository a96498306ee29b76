/**
 * xpm_nb workspace browser (`xpm_nb.browse(ws)`): the experiments of a workspace,
 * their runs, and any past run opened in the job table, with its curves, logs
 * and each job's configuration. Kernel side: xpm_nb.widgets.browse.WorkspaceBrowser.
 *
 * Keys read: "workspace" (path), "experiments" ([{name, n_runs, last, status, counts,
 * runs: [{experiment, run_id, current, status, started, ended, n_jobs, counts}]}]),
 * "scanned" (epoch seconds), "run" ({} for the list, else the run shown: its fields
 * above plus gen, tag_names, metric_names), "error", "curves_color_by",
 * "curves_group_by", "curves_log_scale", "curves_smoothing".
 * Requests: {type: "open", experiment, run_id}, {type: "close"}, {type: "refresh"},
 * {type: "poll", gen} (every POLL_MS while the run shown has unfinished jobs: the kernel
 * reads its folders again and answers with a table patch, a curves_patch and new counts);
 * for the run shown, the job table's and curves' own requests (./job_table.js,
 * ./metrics_panel.js) and {type: "config", k}, each stamped with the run's `gen`:
 * the answers carry it back and those of another run are dropped. The table, the
 * curves and the configuration tree are the views of ./job_table.js,
 * ./metrics_panel.js and ./config_view.js, each on an adapter model; "graph" shows the
 * task graph (./dag.js) of the table's rows (their `deps`), a node opening its details.
 *
 * Without a kernel (restarted, or a copy restored from the notebook file) the view shows
 * the list as last seen, with a note; nothing is sent.
 *
 * Keyboard: every experiment and run is a button (Tab, Enter; the arrows go to the
 * next or previous one); Enter on an experiment shows its runs (`aria-expanded`),
 * on a run opens it; in a run, "← experiments" or Escape goes back to the list,
 * with the focus on the run opened.
 */
import jobTable, {
  STATE_LABELS,
  clear,
  ensureStyle,
  h,
  inertNote,
  keepFocus,
  modelRecord,
  onActivate,
  registerModel,
  sendIfLive,
  taskName,
  watchLive,
} from "./job_table.js";
import { dagView } from "./dag.js";
import { curvesView } from "./metrics_panel.js";
import configView from "./config_view.js";

const metricsView = curvesView({ clear, ensureStyle, h, inertNote, modelRecord, registerModel, sendIfLive, watchLive });
const COUNT_ORDER = ["done", "error", "cancelled", "running", "scheduled", "ready", "waiting", "unscheduled"];
const UNFINISHED = ["running", "scheduled", "ready", "waiting", "unscheduled"];
const POLL_MS = 3000; // how often an unfinished run's folders are read again
const STYLE_ID = "xpm-nb-browse-style-v1";
const CSS = `
.xpm-br-head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-bottom: 6px; }
.xpm-br-list { list-style: none; margin: 0; padding: 0; border: 1px solid var(--jp-border-color2, #d0d7de);
  border-radius: 6px; background: var(--jp-layout-color0, #fff); }
.xpm-br-list > li { border-bottom: 1px solid var(--jp-border-color3, #eef1f4); }
.xpm-br-list > li:last-child { border-bottom: none; }
.xpm-root button.xpm-br-item { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; width: 100%;
  text-align: left; border: none; border-radius: 0; background: transparent; padding: 5px 10px; font-size: 12.5px; }
.xpm-root button.xpm-br-item:focus-visible { outline: 2px solid #4c6ef5; outline-offset: -2px; }
.xpm-br-name { font-weight: 600; min-width: 8em; }
.xpm-br-runs { list-style: none; margin: 0 0 4px 22px; padding: 0; border-left: 2px solid var(--jp-border-color2, #d0d7de); }
.xpm-root button.xpm-br-run { font-size: 12px; padding: 3px 10px; }
.xpm-br-counts { display: inline-flex; flex-wrap: wrap; gap: 2px 10px; }
.xpm-br-caret { width: 1em; display: inline-block; color: var(--jp-ui-font-color2, #656d76); }
.xpm-br-error { color: #c92a2a; margin: 4px 0; }
.xpm-br-error:empty { display: none; }
.xpm-br-section { margin-top: 8px; }
.xpm-br-config { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 6px; padding: 6px 8px;
  background: var(--jp-layout-color0, #fff); }
.xpm-br-status-failed, .xpm-br-status-crashed { color: #c92a2a; }
.xpm-br-status-running { color: #1c7ed6; }
/* A past run is read only: no cancel or resubmit (the kernel would refuse them anyway). */
.xpm-br .xpm-cancel, .xpm-br .xpm-resubmit, .xpm-br .xpm-detail-cancel, .xpm-br .xpm-detail-resubmit { display: none; }
`;

function ensureOwnStyle(el) {
  ensureStyle(el);
  const root = el && el.getRootNode ? el.getRootNode() : document;
  const holder = typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot ? root : document.head;
  if (!holder.querySelector(`style#${STYLE_ID}`)) holder.appendChild(h("style", { id: STYLE_ID }, CSS));
}

const pad = (n) => String(n).padStart(2, "0");
function when(t) {
  if (!t) return "?";
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function countsEl(counts) {
  const wrap = h("span", { class: "xpm-br-counts" });
  for (const s of COUNT_ORDER) {
    const n = (counts || {})[s] || 0;
    if (n) wrap.appendChild(h("span", { class: `xpm-state xpm-state-${s}`, dataset: { state: s, count: String(n) } },
      h("span", { class: "xpm-dot" }), `${n} ${STATE_LABELS[s] || s}`));
  }
  if (!wrap.childNodes.length) wrap.appendChild(h("span", { class: "xpm-muted" }, "no job"));
  return wrap;
}

function statusChip(status) {
  return h("span", { class: `xpm-chip xpm-br-status xpm-br-status-${status}` }, status || "?");
}

/**
 * A model over the browser's `model` for one view of the run `gen`: `keys(key)` gives
 * the values it reads, `requests` stamp what it sends, `accept(message)` picks (and may
 * rewrite) the messages it gets.
 */
function runModel(model, gen, { keys, accept, request = (m) => m }) {
  const wrapped = new Map();
  return {
    get: (key) => keys(key),
    set: (key, value) => {
      const mapped = keys.settable && keys.settable[key];
      if (mapped) model.set(mapped, value);
    },
    save_changes: () => model.save_changes(),
    send: (message) => model.send({ ...request(message), gen }),
    on(event, fn) {
      let inner = null;
      if (event === "msg:custom") {
        inner = (message, buffers) => {
          if (!message || message.gen !== gen) return;
          const out = accept(message);
          if (out) fn(out, buffers);
        };
      } else if (event === "comm_live_update") {
        inner = fn;
      } else if (event.startsWith("change:") && keys.settable && keys.settable[event.slice(7)]) {
        inner = fn;
        event = `change:${keys.settable[event.slice(7)]}`;
      }
      if (!inner) return;
      wrapped.set(fn, [event, inner]);
      model.on(event, inner);
    },
    off(event, fn) {
      const entry = wrapped.get(fn);
      if (entry && model.off) model.off(entry[0], entry[1]);
      wrapped.delete(fn);
    },
  };
}

const TABLE_TYPES = new Set(["snapshot", "patch", "log", "action", "compare"]);

function render({ model, el }) {
  ensureOwnStyle(el);
  const watch = watchLive(model, el);
  const root = h("div", { class: "xpm-root xpm-br" });
  const record = modelRecord(model);
  const errorEl = h("div", { class: "xpm-br-error", role: "alert" });
  const note = h("div", { class: "xpm-note xpm-inert-note" });
  const body = h("div");
  root.append(note, errorEl, body);
  el.appendChild(root);
  const expanded = new Set(); // experiments whose runs are shown
  let runView = null; // {update, cleanup} of the run shown
  let shownGen; // the gen of the run shown, null for the list (undefined: nothing yet)
  let lastOpened = null; // the data-focus key of the run opened: focused again on "back"
  const send = (message) => sendIfLive(model, watch, message);

  function focusKey(key) {
    const target = root.querySelector(`[data-focus="${key.replace(/["\\]/g, "\\$&")}"]`);
    if (target) target.focus({ preventScroll: false });
  }

  // --- the list -------------------------------------------------------------------------
  function moveFocus(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const items = [...root.querySelectorAll("button.xpm-br-item")];
    const i = items.indexOf(event.target);
    const next = items[i + (event.key === "ArrowDown" ? 1 : -1)];
    if (i >= 0 && next) {
      event.preventDefault();
      next.focus();
    }
  }

  function renderList() {
    const active = root.ownerDocument.activeElement;
    const keep = active && root.contains(active) && active.dataset ? active.dataset.focus : null;
    clear(body);
    const experiments = model.get("experiments") || [];
    const refresh = h("button", { type: "button", class: "xpm-br-refresh", dataset: { focus: "br:refresh" },
      title: "read the workspace again" }, "refresh");
    refresh.addEventListener("click", () => send({ type: "refresh" }));
    body.appendChild(h("div", { class: "xpm-br-head" },
      h("b", {}, "workspace"), h("code", { class: "xpm-muted", title: model.get("workspace") || "" }, model.get("workspace") || ""),
      h("span", { class: "xpm-muted" }, `${experiments.length} experiment${experiments.length === 1 ? "" : "s"}`),
      refresh));
    if (!experiments.length) {
      body.appendChild(h("div", { class: "xpm-muted" }, "no experiment in this workspace yet"));
      return;
    }
    const list = h("ul", { class: "xpm-br-list", role: "list", "aria-label": "experiments" });
    for (const x of experiments) {
      const open = expanded.has(x.name);
      const runsId = `xpm-br-runs-${(model.get("_xpm_id") || "").slice(0, 8)}-${x.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const button = h("button", { type: "button", class: "xpm-br-item xpm-br-xp", "aria-expanded": String(open),
        "aria-controls": runsId, dataset: { focus: `xp:${x.name}`, name: x.name },
        title: `${x.n_runs} run(s): Enter shows them` },
      h("span", { class: "xpm-br-caret" }, open ? "▾" : "▸"),
      h("span", { class: "xpm-br-name" }, x.name),
      h("span", { class: "xpm-muted" }, `${x.n_runs} run${x.n_runs === 1 ? "" : "s"}`),
      h("span", { class: "xpm-muted" }, `last ${when(x.last)}`),
      statusChip(x.status), countsEl(x.counts));
      button.addEventListener("click", () => {
        if (expanded.has(x.name)) expanded.delete(x.name);
        else expanded.add(x.name);
        renderList();
        focusKey(`xp:${x.name}`);
      });
      button.addEventListener("keydown", moveFocus);
      const li = h("li", { dataset: { experiment: x.name } }, button);
      if (open) {
        const runs = h("ul", { class: "xpm-br-runs", id: runsId, role: "list", "aria-label": `runs of ${x.name}` });
        for (const r of x.runs || []) {
          const key = `run:${x.name}/${r.run_id}`;
          const b = h("button", { type: "button", class: "xpm-br-item xpm-br-run",
            dataset: { focus: key, run: r.run_id, experiment: x.name },
            "aria-label": `open run ${r.run_id} of ${x.name} (${r.status}, ${r.n_jobs} jobs)` },
          h("code", {}, r.run_id), r.current ? h("span", { class: "xpm-badge" }, "current") : null,
          h("span", { class: "xpm-muted" }, when(r.started)), statusChip(r.status),
          h("span", { class: "xpm-muted" }, `${r.n_jobs} job${r.n_jobs === 1 ? "" : "s"}`), countsEl(r.counts));
          b.addEventListener("click", () => {
            lastOpened = key;
            send({ type: "open", experiment: x.name, run_id: r.run_id });
          });
          b.addEventListener("keydown", moveFocus);
          runs.appendChild(h("li", {}, b));
        }
        li.appendChild(runs);
      }
      list.appendChild(li);
    }
    body.appendChild(list);
    if (keep) focusKey(keep);
  }

  // --- a run ----------------------------------------------------------------------------
  function renderRun(run) {
    clear(body);
    const gen = run.gen;
    const cleanups = [];
    const back = h("button", { type: "button", class: "xpm-br-back", dataset: { focus: "br:back" },
      "aria-label": "back to the experiments (Escape)" }, "← experiments");
    back.addEventListener("click", () => send({ type: "close" }));
    const refresh = h("button", { type: "button", class: "xpm-br-refresh", dataset: { focus: "br:refresh-run" },
      title: "read this run's folders again" }, "refresh");
    refresh.addEventListener("click", () => send({ type: "refresh" }));
    const curvesButton = h("button", { type: "button", class: "xpm-br-curves-toggle", "aria-pressed": "false",
      dataset: { focus: "br:curves" }, title: "charts of the metrics the jobs logged" }, "curves");
    const graphButton = h("button", { type: "button", class: "xpm-br-graph-toggle", "aria-pressed": "false",
      dataset: { focus: "br:graph" }, title: "the task graph: which job needs which (a node opens its details)" },
    "graph");
    const statusEl = h("span", {}, statusChip(run.status));
    body.appendChild(h("div", { class: "xpm-br-head xpm-br-run-head" }, back,
      h("span", { class: "xpm-muted" }, "experiment"), h("b", { class: "xpm-br-xp-name" }, run.experiment),
      h("span", { class: "xpm-muted" }, "run"), h("code", { class: "xpm-br-run-id" }, run.run_id),
      statusEl, h("span", { class: "xpm-muted" }, `started ${when(run.started)}`),
      curvesButton, graphButton, refresh));
    const summary = h("div", { class: "xpm-br-summary", "aria-live": "polite" });
    body.appendChild(summary);
    const renderSummary = (r) => {
      clear(summary);
      summary.append(h("b", {}, `${r.n_jobs} job${r.n_jobs === 1 ? "" : "s"}`), " ", countsEl(r.counts));
    };
    renderSummary(run);
    const curvesEl = h("div", { class: "xpm-br-section xpm-br-curves", style: { display: "none" } });
    const graphEl = h("div", { class: "xpm-br-section xpm-br-graph", style: { display: "none" } });
    const tableEl = h("div", { class: "xpm-br-section" });
    const configHead = h("div", { class: "xpm-muted xpm-br-config-head" },
      "configuration: Enter on a row shows its details, its log and its configuration here");
    const configEl = h("div", { class: "xpm-br-config", style: { display: "none" } });
    body.append(curvesEl, graphEl, tableEl, h("div", { class: "xpm-br-section" }, configHead, configEl));

    // The job table, on an adapter that asks for its rows ("sync") at once.
    const tableModel = runModel(model, gen, {
      keys: (key) => (key === "tag_names" ? run.tag_names || [] : key === "metric_names" ? run.metric_names || []
        : key === "title" ? "" : undefined),
      accept: (m) => (TABLE_TYPES.has(m.type) ? m : null),
    });
    const api = {};
    cleanups.push(jobTable.render({ model: tableModel, el: tableEl, watch, note: false, api }));

    // The curves: mounted at the first "curves" press.
    const curveKeys = { color_by: "curves_color_by", group_by: "curves_group_by", log_scale: "curves_log_scale",
      smoothing: "curves_smoothing" };
    const keyOf = (key) => (key in curveKeys ? model.get(curveKeys[key]) : key === "tag_names" ? run.tag_names || [] : undefined);
    keyOf.settable = curveKeys;
    let curvesCleanup = null;
    curvesButton.addEventListener("click", () => {
      const open = curvesEl.style.display === "none";
      curvesEl.style.display = open ? "" : "none";
      curvesButton.classList.toggle("xpm-active", open);
      curvesButton.setAttribute("aria-pressed", String(open));
      if (open && !curvesCleanup) {
        curvesCleanup = metricsView.render({ el: curvesEl, model: runModel(model, gen, {
          keys: keyOf,
          accept: (m) => (m.type === "curves_snapshot" ? { ...m, type: "snapshot" }
            : m.type === "curves_patch" ? { ...m, type: "patch" } : null),
          request: (m) => (m && m.type === "sync" ? { type: "curves_sync" } : m),
        }) });
      }
    });
    cleanups.push(() => curvesCleanup && curvesCleanup());

    // The task graph, on the table's rows: mounted at the first "graph" press; a run
    // opened later gets its own (this one goes with the run's cleanups).
    let graphCleanup = null;
    graphButton.addEventListener("click", () => {
      const open = graphEl.style.display === "none";
      graphEl.style.display = open ? "" : "none";
      graphButton.classList.toggle("xpm-active", open);
      graphButton.setAttribute("aria-pressed", String(open));
      if (open && !graphCleanup && api.store) {
        graphCleanup = dagView({ store: api.store, el: graphEl, open: (k) => api.open(k),
          ui: { h, clear, onActivate, keepFocus, taskName } });
      }
    });
    cleanups.push(() => graphCleanup && graphCleanup());

    // The configuration of the job whose details are open (the table's detail panel).
    const config = { tree: {}, identifier: "", k: null };
    const configListeners = new Set();
    const configModel = {
      get: (key) => (key === "tree" ? config.tree : key === "identifier" ? config.identifier : key === "job" ? {} : undefined),
      set() {}, save_changes() {}, send() {},
      on(event, fn) { if (event === "change:tree") configListeners.add(fn); },
      off(event, fn) { configListeners.delete(fn); },
    };
    let configCleanup = null;
    const onConfig = (message) => {
      if (!message || message.gen !== gen || message.type !== "config" || message.k !== config.k) return;
      config.tree = message.tree || {};
      config.identifier = message.identifier || "";
      configEl.style.display = "";
      if (!configCleanup) configCleanup = configView.render({ model: configModel, el: configEl });
      else for (const fn of [...configListeners]) fn();
    };
    model.on("msg:custom", onConfig);
    cleanups.push(() => model.off && model.off("msg:custom", onConfig));
    cleanups.push(() => configCleanup && configCleanup());
    const selectedKey = () => {
      const code = api.detail && api.detail.style.display !== "none" ? api.detail.querySelector(".xpm-jt-detail-head code") : null;
      if (!code || !api.store) return null;
      for (const row of api.store.rows.values()) if (row.id === code.title) return row.k;
      return null;
    };
    const followSelection = () => {
      const k = selectedKey();
      if (k === config.k) return;
      config.k = k;
      if (k === null) {
        configEl.style.display = "none";
        configHead.textContent = "configuration: Enter on a row shows its details, its log and its configuration here";
        return;
      }
      const row = api.store.rows.get(k);
      configHead.textContent = `configuration of ${row ? row.name || row.task : "?"} (params.json)`;
      sendIfLive(model, watch, { type: "config", k, gen });
    };
    if (api.detail && typeof MutationObserver === "function") {
      const observer = new MutationObserver(followSelection);
      observer.observe(api.detail, { childList: true, attributes: true, attributeFilter: ["style"] });
      cleanups.push(() => observer.disconnect());
    }

    const onKey = (event) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      const tag = event.target && event.target.tagName;
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      event.preventDefault();
      send({ type: "close" });
    };
    body.addEventListener("keydown", onKey);
    cleanups.push(() => body.removeEventListener("keydown", onKey));

    // A run with unfinished jobs (another kernel may run them): its folders are read
    // again every POLL_MS, the kernel answers with the rows that changed.
    let current = run;
    const unfinished = (r) => r.status === "running" || UNFINISHED.some((s) => (r.counts || {})[s]);
    const timer = setInterval(() => {
      if (unfinished(current)) sendIfLive(model, watch, { type: "poll", gen });
    }, POLL_MS);
    cleanups.push(() => clearInterval(timer));
    return {
      update(r) {
        current = r;
        renderSummary(r);
        clear(statusEl);
        statusEl.appendChild(statusChip(r.status));
      },
      cleanup() {
        for (const fn of cleanups.reverse()) fn();
      },
    };
  }

  function renderState() {
    // Without a kernel (a saved copy of the view) a run cannot be read: the list only.
    const run = watch.live ? model.get("run") || {} : {};
    const gen = run.gen || null;
    if (gen === shownGen) {
      if (gen && runView) runView.update(run); // polled: new counts, same run
      return;
    }
    const wasRun = shownGen !== null && shownGen !== undefined;
    if (runView) runView.cleanup();
    runView = null;
    shownGen = gen;
    if (gen) {
      runView = renderRun(run);
      focusKey("br:back");
    } else {
      renderList();
      if (wasRun && lastOpened) {
        const [xp] = lastOpened.slice(4).split("/");
        if (!expanded.has(xp)) {
          expanded.add(xp);
          renderList();
        }
        focusKey(lastOpened);
      }
    }
  }

  function renderError() {
    errorEl.textContent = model.get("error") || "";
  }
  const onExperiments = () => {
    if (shownGen === null) renderList();
  };
  const applyLive = () => {
    if (watch.live && record) record.seenLive = true;
    root.classList.toggle("xpm-inert", !watch.live);
    note.textContent = watch.live ? "" : inertNote(record);
    note.style.display = note.textContent ? "" : "none";
    renderState();
  };
  watch.listeners.add(applyLive);
  renderError();
  applyLive();
  const handlers = [["change:run", renderState], ["change:experiments", onExperiments], ["change:error", renderError]];
  for (const [event, fn] of handlers) model.on(event, fn);
  return () => {
    for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
    if (runView) runView.cleanup();
    watch.stop();
    root.remove();
  };
}

/** anywidget's `initialize`: known to the notebook's saved copy of the views (./common.js). */
function initialize({ model }) {
  return registerModel(model);
}

export default { initialize, render };
