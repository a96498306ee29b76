/**
 * xpm_nb experiment view: a header (name, run, workspace), the counts by
 * state, the services, and the job table (./job_table.js, same model).
 *
 * Keys read, besides the job table's: "name", "run_id", "workspace",
 * "status" ("running" | "closed"), "counts" ({state: n}),
 * "services" ([{id, description, state, url, error}]).
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
  watchLive,
} from "./job_table.js";

const STACK_COLORS = {
  done: "#2f9e44", error: "#e03131", running: "#1c7ed6", scheduled: "#74c0fc",
  ready: "#a5d8ff", waiting: "#ced4da", unscheduled: "#e9ecef",
};

function render({ model, el }) {
  ensureStyle(el);
  const record = modelRecord(model);
  const watch = watchLive(model, el);
  const head = h("div", { class: "xpm-xp-head" });
  const note = h("div", { class: "xpm-note xpm-inert-note" });
  const summary = h("div", { class: "xpm-xp-summary" });
  const services = h("div", { class: "xpm-services" });
  const tableEl = h("div");
  const root = h("div", { class: "xpm-root xpm-xp" }, head, note, summary, services, tableEl);
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
    );
  }

  function renderSummary() {
    clear(summary);
    const counts = model.get("counts") || {};
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const stack = h("div", { class: "xpm-stack", title: "jobs by state" });
    const legend = h("span", { class: "xpm-xp-counts" });
    // Finished first, then running, then waiting: the bar fills from the left.
    for (const s of ["done", "error", "running", "scheduled", "ready", "waiting", "unscheduled"]) {
      const n = counts[s] || 0;
      if (!n) continue;
      stack.appendChild(h("div", {
        style: { width: `${(100 * n) / total}%`, background: STACK_COLORS[s] },
        title: `${n} ${STATE_LABELS[s]}`,
      }));
    }
    for (const s of STATES) {
      const n = counts[s] || 0;
      if (!n) continue;
      legend.appendChild(h("span", { class: `xpm-state xpm-state-${s}`, style: { marginRight: "10px" },
        dataset: { state: s, count: String(n) } }, h("span", { class: "xpm-dot" }), `${n} ${STATE_LABELS[s]}`));
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
    watch.stop();
    root.remove();
  };
}

export default { initialize: jobTable.initialize, render };
