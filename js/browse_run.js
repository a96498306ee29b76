/**
 * xpm_nb workspace browser: an opened run (key "run": its fields, `gen`, tag_names,
 * metric_names). Mounts, on adapter models stamped with the run's `gen`
 * (./browse_run_model.js), the job table (./job_table.js: its "snapshot", "patch",
 * "log", "action", "compare" messages), the curves at the first "curves" press
 * (./metrics_panel.js: "curves_sync" sent, "curves_snapshot" / "curves_patch" taken;
 * keys "curves_color_by", "curves_group_by", "curves_log_scale", "curves_smoothing"),
 * the task graph at the first "graph" press (./dag.js, on the table's rows) and the
 * configuration (./browse_config.js). Sends {type: "close"} ("← experiments", Escape),
 * {type: "refresh"}, and {type: "poll", gen} every POLL_MS while the run has unfinished
 * jobs. Every listener, timer and view it starts goes with its `cleanup`.
 */
import { clear, h, sendIfLive } from "./common.js";
import jobTable from "./job_table.js";
import { dagView } from "./dag.js";
import { curvesView } from "./metrics_panel.js";
import { CONFIG_HINT, followConfig } from "./browse_config.js";
import { countsEl, statusChip, when } from "./browse_parts.js";
import { runModel } from "./browse_run_model.js";

const metricsView = curvesView();
const UNFINISHED = ["running", "scheduled", "ready", "waiting", "unscheduled"];
const POLL_MS = 3000; // how often an unfinished run's folders are read again
const TABLE_TYPES = new Set(["snapshot", "patch", "log", "action", "compare"]);
const CURVE_KEYS = { color_by: "curves_color_by", group_by: "curves_group_by", log_scale: "curves_log_scale",
  smoothing: "curves_smoothing" };

const button = (cls, focus, attrs, label) => h("button", { type: "button", class: cls, dataset: { focus }, ...attrs }, label);

/** The run's head line: back, names, status, started, the section toggles, refresh. */
function runHead(run, send) {
  const back = button("xpm-br-back", "br:back", { "aria-label": "back to the experiments (Escape)" }, "← experiments");
  back.addEventListener("click", () => send({ type: "close" }));
  const refresh = button("xpm-br-refresh", "br:refresh-run", { title: "read this run's folders again" }, "refresh");
  refresh.addEventListener("click", () => send({ type: "refresh" }));
  const curvesButton = button("xpm-br-curves-toggle", "br:curves", { "aria-pressed": "false",
    title: "charts of the metrics the jobs logged" }, "curves");
  const graphButton = button("xpm-br-graph-toggle", "br:graph", { "aria-pressed": "false",
    title: "the task graph: which job needs which (a node opens its details)" }, "graph");
  const statusEl = h("span", {}, statusChip(run.status));
  const node = h("div", { class: "xpm-br-head xpm-br-run-head" }, back,
    h("span", { class: "xpm-muted" }, "experiment"), h("b", { class: "xpm-br-xp-name" }, run.experiment),
    h("span", { class: "xpm-muted" }, "run"), h("code", { class: "xpm-br-run-id" }, run.run_id),
    statusEl, h("span", { class: "xpm-muted" }, `started ${when(run.started)}`),
    curvesButton, graphButton, refresh);
  return { node, curvesButton, graphButton, statusEl };
}

/** A toggle shows or hides `el`; `mount()` runs at each opening (it mounts once). */
function toggleSection(toggle, el, mount) {
  toggle.addEventListener("click", () => {
    const open = el.style.display === "none";
    el.style.display = open ? "" : "none";
    toggle.classList.toggle("xpm-active", open);
    toggle.setAttribute("aria-pressed", String(open));
    if (open) mount();
  });
}

/** The curves of run `gen`, mounted in `el` at the first press of `toggle`. */
function mountCurves({ model, run, gen, toggle, el, cleanups }) {
  const keyOf = (key) => (key in CURVE_KEYS ? model.get(CURVE_KEYS[key]) : key === "tag_names" ? run.tag_names || [] : undefined);
  keyOf.settable = CURVE_KEYS;
  let curvesCleanup = null;
  toggleSection(toggle, el, () => {
    if (curvesCleanup) return;
    curvesCleanup = metricsView.render({ el, model: runModel(model, gen, {
      keys: keyOf,
      accept: (m) => (m.type === "curves_snapshot" ? { ...m, type: "snapshot" }
        : m.type === "curves_patch" ? { ...m, type: "patch" } : null),
      request: (m) => (m && m.type === "sync" ? { type: "curves_sync" } : m),
    }) });
  });
  cleanups.push(() => curvesCleanup && curvesCleanup());
}

/** The task graph on the table's rows (`api`), mounted at the first press of `toggle`;
 * a run opened later gets its own (this one goes with the run's cleanups). */
function mountGraph({ api, toggle, el, cleanups }) {
  let graphCleanup = null;
  toggleSection(toggle, el, () => {
    if (graphCleanup || !api.store) return;
    graphCleanup = dagView({ store: api.store, el, open: (k) => api.open(k) });
  });
  cleanups.push(() => graphCleanup && graphCleanup());
}

/** Escape (outside a text field) in `body` goes back to the list. */
function closeOnEscape(body, send, cleanups) {
  const onKey = (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    const tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    event.preventDefault();
    send({ type: "close" });
  };
  body.addEventListener("keydown", onKey);
  cleanups.push(() => body.removeEventListener("keydown", onKey));
}

/** The sections under the head: summary, curves, graph, table, configuration. */
function runSections(body) {
  const summary = h("div", { class: "xpm-br-summary", "aria-live": "polite" });
  const curvesEl = h("div", { class: "xpm-br-section xpm-br-curves", style: { display: "none" } });
  const graphEl = h("div", { class: "xpm-br-section xpm-br-graph", style: { display: "none" } });
  const tableEl = h("div", { class: "xpm-br-section" });
  const configHead = h("div", { class: "xpm-muted xpm-br-config-head" }, CONFIG_HINT);
  const configEl = h("div", { class: "xpm-br-config", style: { display: "none" } });
  body.appendChild(summary);
  body.append(curvesEl, graphEl, tableEl, h("div", { class: "xpm-br-section" }, configHead, configEl));
  return { summary, curvesEl, graphEl, tableEl, configHead, configEl };
}

/** Draw run `run` in `body`; returns {update(run), cleanup()}. */
export function renderRun({ model, watch, send, body, run }) {
  clear(body);
  const gen = run.gen;
  const cleanups = [];
  const head = runHead(run, send);
  body.appendChild(head.node);
  const parts = runSections(body);
  const renderSummary = (r) => {
    clear(parts.summary);
    parts.summary.append(h("b", {}, `${r.n_jobs} job${r.n_jobs === 1 ? "" : "s"}`), " ", countsEl(r.counts));
  };
  renderSummary(run);
  // The job table, on an adapter that asks for its rows ("sync") at once.
  const tableModel = runModel(model, gen, {
    keys: (key) => (key === "tag_names" ? run.tag_names || [] : key === "metric_names" ? run.metric_names || []
      : key === "title" ? "" : undefined),
    accept: (m) => (TABLE_TYPES.has(m.type) ? m : null),
  });
  const api = {};
  cleanups.push(jobTable.render({ model: tableModel, el: parts.tableEl, watch, note: false, api }));
  mountCurves({ model, run, gen, toggle: head.curvesButton, el: parts.curvesEl, cleanups });
  mountGraph({ api, toggle: head.graphButton, el: parts.graphEl, cleanups });
  followConfig({ model, watch, gen, api, configHead: parts.configHead, configEl: parts.configEl, cleanups });
  closeOnEscape(body, send, cleanups);
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
      clear(head.statusEl);
      head.statusEl.appendChild(statusChip(r.status));
    },
    cleanup() {
      for (const fn of cleanups.reverse()) fn();
    },
  };
}
