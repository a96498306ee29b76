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
 * the keys "curves_patch", "curves_color_by", "curves_group_by",
 * "curves_log_scale", "curves_smoothing" and the messages {type: "curves_sync"}
 * (sent) / {type: "curves_snapshot", ...} (received) through an adapter model
 * (`curvesModel`), so that the chart code is the same as MetricsView's.
 *
 * Without a kernel (restarted, or a copy restored from the notebook file) the
 * view is inert, with one note above the table (see ./job_table.js).
 */
// common.js's helpers come through job_table.js: one copy of common.js in the bundle.
import jobTable, {
  STATES,
  STATE_LABELS,
  clear,
  copyButton,
  ensureStyle,
  h,
  inertNote,
  modelRecord,
  registerModel,
  sendIfLive,
  watchLive,
} from "./job_table.js";
import { curvesView } from "./metrics_panel.js";

const metricsView = curvesView({ clear, ensureStyle, h, inertNote, modelRecord, registerModel, sendIfLive, watchLive });

const STACK_COLORS = {
  done: "#2f9e44", error: "#e03131", cancelled: "#868e96", running: "#1c7ed6", scheduled: "#74c0fc",
  ready: "#a5d8ff", waiting: "#ced4da", unscheduled: "#e9ecef",
};

const label = (s) => STATE_LABELS[s] || s; // "cancelled" is a count, not a JobState

// The keys of a MetricsView model, as the experiment view's model holds them.
const CURVE_KEYS = {
  snapshot: null, patch: "curves_patch", color_by: "curves_color_by", group_by: "curves_group_by",
  log_scale: "curves_log_scale", smoothing: "curves_smoothing", tag_names: "tag_names",
};

/** A MetricsView-like model over the experiment view's `model` (see the top of this file). */
function curvesModel(model) {
  const wrapped = new Map(); // (event, fn) -> the listener given to `model`
  const eventOf = (event) => {
    const key = event.startsWith("change:") ? event.slice(7) : null;
    return key !== null && key in CURVE_KEYS ? (CURVE_KEYS[key] ? `change:${CURVE_KEYS[key]}` : null) : event;
  };
  const listener = (event, fn) => {
    if (event !== "msg:custom") return fn;
    return (message, buffers) => {
      if (message && message.type === "curves_snapshot") fn({ ...message, type: "snapshot" }, buffers);
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
  const tableEl = h("div");
  const root = h("div", { class: "xpm-root xpm-xp" }, head, note, summary, services, curvesEl, tableEl);
  // The curves panel: mounted at the first "curves" click (its data are asked then).
  let curvesCleanup = null;
  const curvesButton = h("button", { type: "button", class: "xpm-xp-curves-toggle",
    title: "charts of the metrics the jobs log (log_metrics)" }, "curves");
  curvesButton.addEventListener("click", () => {
    const open = curvesEl.style.display === "none";
    curvesEl.style.display = open ? "" : "none";
    curvesButton.classList.toggle("xpm-active", open);
    if (open && !curvesCleanup) curvesCleanup = metricsView.render({ model: curvesModel(model), el: curvesEl });
  });
  el.appendChild(root);

  function renderHead() {
    clear(head);
    const workspace = model.get("workspace") || "";
    head.append(
      h("span", { class: "xpm-muted" }, "experiment"),
      h("span", { class: "xpm-xp-name" }, model.get("name") || ""),
      model.get("run_id") ? h("span", { class: "xpm-muted" }, `run ${model.get("run_id")}`) : null,
      watch.live
        ? h("span", { class: `xpm-chip xpm-xp-status xpm-xp-${model.get("status")}` }, model.get("status") || "")
        : h("span", { class: "xpm-chip xpm-xp-status xpm-xp-inert", title: "no kernel: not updated" },
          `${model.get("status") || ""}, not live`),
      h("code", { class: "xpm-muted", title: "workspace" }, workspace),
      workspace ? copyButton(() => workspace) : null,
      curvesButton,
    );
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
  ];
  for (const [event, fn] of handlers) model.on(event, fn);
  // The table shares this view's watch (the class is on this view's element) and note.
  const cleanupTable = jobTable.render({ model, el: tableEl, watch, note: false });

  return () => {
    for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
    cleanupTable();
    if (curvesCleanup) curvesCleanup();
    watch.stop();
    root.remove();
  };
}

export default { initialize: jobTable.initialize, render };
