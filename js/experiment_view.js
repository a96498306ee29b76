/**
 * xpm_nb experiment view: a header (name, run, workspace), the counts by
 * state, the services, and the job table (./job_table.js, same model).
 *
 * Keys read, besides the job table's: "name", "run_id", "workspace",
 * "status" ("running" | "closed"), "counts" ({state: n}; cancelled jobs under
 * "cancelled", not "error": a cancel is not a failure),
 * "services" ([{id, description, state, url, error}]).
 *
 * "curves" opens the metrics' charts (./metrics_panel.js) under the header, fed by
 * the messages {type: "curves_patch", ...} (the kernel; the monitoring page's polls
 * give the key "curves_patch" instead), the keys "curves_color_by", "curves_group_by",
 * "curves_log_scale", "curves_smoothing", "curves_panel" ("curves" | "parameters"),
 * "curves_param_metric", "curves_param_x", "curves_param_best" and the messages {type: "curves_sync"}
 * (sent) / {type: "curves_snapshot", ...} (received) through an adapter model
 * (`curvesModel`), so that the chart code is the same as MetricsView's.
 *
 * "graph" opens the task graph (./dag.js) of the table's rows (their `deps`): a
 * node opens the job's details in the table.
 *
 * "monitor_url" (the monitoring page, without its token) is shown as a link; a
 * live view asks {type: "monitor_url"} and gets {type: "monitor_url", url} (the
 * link with its token, kept in the page only: the model's state is saved in the
 * notebook).
 *
 * Without a kernel (restarted, or a copy restored from the notebook file) the
 * view is inert, with one note above the table (see ./job_table.js).
 */
import { STATES, STATE_LABELS, clear, copyButton, h, inertNote, sendIfLive, watchLive } from "./common.js";
import { modelRecord } from "./saved_views.js";
import { ensureStyle } from "./style.js";
import { DAG_COLORS, dagView } from "./dag.js";
import jobTable from "./job_table.js";
import { keepFocus } from "./keyboard.js";
import { curvesView } from "./metrics_panel.js";

export const metricsView = curvesView();

const STACK_COLORS = DAG_COLORS;

const label = (s) => STATE_LABELS[s] || s; // "cancelled" is a count, not a JobState

// The keys of a MetricsView model, as the experiment view's model holds them.
const CURVE_KEYS = {
  snapshot: null, patch: "curves_patch", color_by: "curves_color_by", group_by: "curves_group_by",
  log_scale: "curves_log_scale", smoothing: "curves_smoothing", tag_names: "tag_names",
  panel: "curves_panel", param_metric: "curves_param_metric", param_x: "curves_param_x",
  param_best: "curves_param_best",
};

/** A MetricsView-like model over the experiment view's `model` (see the top of this file);
 * the monitoring page (server/static/page.js) mounts its curves through it too. */
export function curvesModel(model) {
  const wrapped = new Map(); // (event, fn) -> the listener given to `model`
  const eventOf = (event) => {
    const key = event.startsWith("change:") ? event.slice(7) : null;
    return key !== null && key in CURVE_KEYS ? (CURVE_KEYS[key] ? `change:${CURVE_KEYS[key]}` : null) : event;
  };
  const listener = (event, fn) => {
    if (event !== "msg:custom") return fn;
    return (message, buffers) => {
      if (message && message.type === "curves_snapshot") fn({ ...message, type: "snapshot" }, buffers);
      else if (message && message.type === "curves_patch") fn({ ...message, type: "patch" }, buffers);
    };
  };
  return {
    get: (key) => (key in CURVE_KEYS ? (CURVE_KEYS[key] ? model.get(CURVE_KEYS[key]) : undefined) : undefined),
    set: (key, value) => CURVE_KEYS[key] && model.set(CURVE_KEYS[key], value),
    save_changes: () => model.save_changes(),
    send: (message) => model.send(message && message.type === "sync" ? { type: "curves_sync" } : message),
    on(event, fn) {
      const target = eventOf(event);
      if (!target) return;
      const inner = listener(event, fn);
      wrapped.set(fn, inner);
      model.on(target, inner);
    },
    off(event, fn) {
      const target = eventOf(event);
      const inner = wrapped.get(fn);
      if (target && inner && model.off) model.off(target, inner);
      wrapped.delete(fn);
    },
  };
}

function render({ model, el }) {
  ensureStyle(el);
  const record = modelRecord(model);
  const watch = watchLive(model, el);
  const head = h("div", { class: "xpm-xp-head" });
  const note = h("div", { class: "xpm-note xpm-inert-note" });
  const summary = h("div", { class: "xpm-xp-summary" });
  const services = h("div", { class: "xpm-services" });
  const curvesEl = h("div", { class: "xpm-xp-curves", style: { display: "none" } });
  const graphEl = h("div", { class: "xpm-xp-graph", style: { display: "none" } });
  const tableEl = h("div");
  const root = h("div", { class: "xpm-root xpm-xp" }, head, note, summary, services, curvesEl, graphEl, tableEl);
  const tableApi = {}; // the table's `open(k)` and rows (filled by jobTable.render)
  let graphCleanup = null;
  const graphButton = h("button", { type: "button", class: "xpm-xp-graph-toggle", "aria-pressed": "false",
    dataset: { focus: "xp:graph" },
    title: "the task graph: which job needs which (a node opens its details)" }, "graph");
  graphButton.addEventListener("click", () => {
    const open = graphEl.style.display === "none";
    graphEl.style.display = open ? "" : "none";
    graphButton.classList.toggle("xpm-active", open);
    graphButton.setAttribute("aria-pressed", String(open));
    if (open && !graphCleanup && tableApi.store) {
      graphCleanup = dagView({ store: tableApi.store, el: graphEl, open: (k) => tableApi.open(k) });
    }
  });
  // The monitoring page: its link with the token once the kernel gave it.
  let monitorHref = null;
  const onMessage = (message) => {
    if (message && message.type === "monitor_url" && typeof message.url === "string"
        && /^https?:\/\//i.test(message.url)) {
      monitorHref = message.url;
      renderHead();
    }
  };
  model.on("msg:custom", onMessage);
  // The curves panel: mounted at the first "curves" click (its data are asked then).
  let curvesCleanup = null;
  const curvesButton = h("button", { type: "button", class: "xpm-xp-curves-toggle", dataset: { focus: "xp:curves" },
    title: "charts of the metrics the jobs log (log_metrics)" }, "curves");
  curvesButton.addEventListener("click", () => {
    const open = curvesEl.style.display === "none";
    curvesEl.style.display = open ? "" : "none";
    curvesButton.classList.toggle("xpm-active", open);
    if (open && !curvesCleanup) {
      // A point of the parameters panel opens its run's row in the table (rows by job id).
      const select = (run) => {
        for (const row of tableApi.store ? tableApi.store.rows.values() : []) {
          if (row.id === run.id) return tableApi.open(row.k);
        }
      };
      curvesCleanup = metricsView.render({ model: curvesModel(model), el: curvesEl, select });
    }
  });
  el.appendChild(root);

  // Rebuilt when the status changes: the focus (a keyboard user on "graph") stays.
  function renderHead() {
    keepFocus(root, renderHeadNow);
  }

  function renderHeadNow() {
    clear(head);
    const workspace = model.get("workspace") || "";
    // Absent parts are null: Element.append would print them as the text "null".
    const parts = [
      h("span", { class: "xpm-muted" }, "experiment"),
      h("span", { class: "xpm-xp-name" }, model.get("name") || ""),
      model.get("run_id") ? h("span", { class: "xpm-muted" }, `run ${model.get("run_id")}`) : null,
      watch.live
        ? h("span", { class: `xpm-chip xpm-xp-status xpm-xp-${model.get("status")}` }, model.get("status") || "")
        : h("span", { class: "xpm-chip xpm-xp-status xpm-xp-inert", title: "no kernel: not updated" },
          `${model.get("status") || ""}, not live`),
      h("code", { class: "xpm-muted", title: "workspace" }, workspace),
      workspace ? copyButton(() => workspace) : null,
      monitorLink(),
      curvesButton,
      graphButton,
    ];
    head.append(...parts.filter((part) => part !== null));
  }

  function monitorLink() {
    const base = model.get("monitor_url") || "";
    if (!/^https?:\/\//i.test(base)) return null;
    return h("a", { class: "xpm-xp-monitor", href: monitorHref || base, dataset: { focus: "xp:monitor" }, target: "_blank", rel: "noopener",
      title: monitorHref ? "the monitoring page" : "the monitoring page (its token: see the experiment's server.json)" },
    "monitoring page");
  }

  function renderSummary() {
    clear(summary);
    const counts = model.get("counts") || {};
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const stack = h("div", { class: "xpm-stack", title: "jobs by state" });
    const legend = h("span", { class: "xpm-xp-counts" });
    // Finished first, then running, then waiting: the bar fills from the left.
    for (const s of ["done", "error", "cancelled", "running", "scheduled", "ready", "waiting", "unscheduled"]) {
      const n = counts[s] || 0;
      if (!n) continue;
      stack.appendChild(h("div", {
        style: { width: `${(100 * n) / total}%`, background: STACK_COLORS[s] },
        title: `${n} ${label(s)}`,
      }));
    }
    for (const s of [...STATES, "cancelled"]) {
      const n = counts[s] || 0;
      if (!n) continue;
      legend.appendChild(h("span", { class: `xpm-state xpm-state-${s}`, style: { marginRight: "10px" },
        dataset: { state: s, count: String(n) } }, h("span", { class: "xpm-dot" }), `${n} ${label(s)}`));
    }
    summary.append(h("b", {}, `${total} job${total === 1 ? "" : "s"}`), stack, legend);
  }

  function renderServices() {
    clear(services);
    const list = model.get("services") || [];
    if (!list.length) return;
    services.appendChild(h("div", { class: "xpm-muted" }, "services"));
    for (const s of list) {
      // The kernel sends only http(s) URLs; checked again here (a saved view's state).
      const link = s.url && /^https?:\/\//i.test(s.url)
        ? h("a", { href: s.url, target: "_blank", rel: "noopener" }, s.url)
        : null;
      services.appendChild(h("div", { class: "xpm-service", dataset: { id: s.id } },
        h("span", { class: "xpm-chip" }, s.id),
        " ", s.description || "",
        s.state ? h("span", { class: "xpm-badge" }, s.state) : null,
        link ? " " : null, link,
        s.error ? h("span", { class: "xpm-reason" }, ` ${s.error}`) : null));
    }
  }

  function applyLive() {
    root.classList.toggle("xpm-inert", !watch.live);
    note.textContent = watch.live ? "" : inertNote(record);
    renderHead();
  }
  watch.listeners.add(applyLive);

  applyLive();
  renderSummary();
  renderServices();
  const handlers = [
    ["change:counts", renderSummary],
    ["change:services", renderServices],
    ["change:status", renderHead],
    ["change:name", renderHead],
    ["change:monitor_url", renderHead],
  ];
  for (const [event, fn] of handlers) model.on(event, fn);
  // The table shares this view's watch (the class is on this view's element) and note.
  const cleanupTable = jobTable.render({ model, el: tableEl, watch, note: false, api: tableApi });
  if (model.get("monitor_url")) sendIfLive(model, watch, { type: "monitor_url" });

  return () => {
    for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
    cleanupTable();
    if (model.off) model.off("msg:custom", onMessage);
    if (curvesCleanup) curvesCleanup();
    if (graphCleanup) graphCleanup();
    watch.stop();
    root.remove();
  };
}

export default { initialize: jobTable.initialize, render };
