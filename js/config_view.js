/**
 * xpm_nb configuration view: a collapsible tree of a configuration's fields.
 *
 * Keys read: "tree" (xpm_nb.widgets.config_tree.config_tree), "identifier"
 * (hex), "job" (a job-table row, see ./job_table.js, or {} when the
 * configuration was not submitted), "_xpm_id" (the model id). Requests sent:
 * {type: "log" | "cancel" | "resubmit", k: 0, ...}; messages handled:
 * {type: "log"} and {type: "action"}. Without a kernel (restarted, or a copy
 * restored from the notebook file) the job's part is inert: a note, no
 * action, nothing sent (see `watchLive` in ./common.js).
 */
import {
  FINISHED,
  clear,
  copyButton,
  formatDuration,
  h,
  inertNote,
  jobDuration,
  progressBars,
  sendIfLive,
  stateBadge,
  watchLive,
} from "./common.js";
import { modelRecord, registerModel } from "./saved_views.js";
import { ensureStyle } from "./style.js";

const SHORT_ID = 12;
const OPEN_DEPTH = 2; // nested configurations open down to this depth
const OPEN_ITEMS = 6; // lists of configurations longer than this start closed

function idCode(full) {
  if (!full) return null;
  return h("code", { class: "xpm-id", title: full }, `${full.slice(0, SHORT_ID)}…`);
}

function whyNot(field) {
  return h("span", { class: "xpm-badge xpm-badge-noid", title: "this value does not change the identifier" },
    `not in identifier${field.why_not ? ": " + field.why_not : ""}`);
}

/** The line and children of a nested configuration. */
function configHeader(node) {
  const parts = [h("span", { class: "xpm-cls" }, node.cls), " ", idCode(node.id)];
  if (node.id_error) parts.push(h("span", { class: "xpm-badge xpm-badge-missing", title: node.id_error }, "no identifier yet"));
  if (node.cycle) parts.push(h("span", { class: "xpm-badge" }, "cycle: refers to a parent"));
  if (node.shared) parts.push(h("span", { class: "xpm-badge" }, "shared: shown above"));
  if (node.elided) parts.push(h("span", { class: "xpm-badge" }, "not shown: tree too large"));
  if (node.output_of) parts.push(h("span", { class: "xpm-badge" }, `output of ${node.output_of}`));
  if (node.job) parts.push(h("span", { class: "xpm-badge" }, `job ${node.job.state}`));
  return parts;
}

function fieldsList(node, depth) {
  const ul = h("ul", {});
  for (const field of node.fields || []) ul.appendChild(fieldNode(field, depth));
  return ul;
}

function collapsible(li, line, open) {
  const caret = h("span", { class: "xpm-caret" }, open ? "▾" : "▸");
  line.prepend(caret);
  if (!open) li.classList.add("xpm-collapsed");
  const toggle = (event) => {
    event.stopPropagation();
    const closed = li.classList.toggle("xpm-collapsed");
    caret.textContent = closed ? "▸" : "▾";
  };
  caret.addEventListener("click", toggle);
  line.addEventListener("dblclick", toggle);
}

function fieldNode(field, depth) {
  const classes = ["xpm-node", "xpm-field", `xpm-kind-${field.kind}`];
  if (!field.in_id) classes.push("xpm-field-noid");
  if (field.tag) classes.push("xpm-field-tag");
  const li = h("li", { class: classes.join(" "), dataset: { field: field.name } });
  const name = h("span", { class: `xpm-fname${field.tag ? " xpm-tagged" : ""}`, title: field.tag ? "tag" : field.help || "" },
    field.name);
  const line = h("div", { class: "xpm-line" }, name, h("span", { class: "xpm-ftype" }, `: ${field.type}`));
  if (field.kind !== "param") line.appendChild(h("span", { class: "xpm-badge" }, field.kind));
  if (field.tag) line.appendChild(h("span", { class: "xpm-badge xpm-tag" }, "tag"));
  li.appendChild(line);
  if (!field.set) {
    line.prepend(h("span", { class: "xpm-caret xpm-caret-none" }));
    line.appendChild(h("span", { class: `xpm-badge${field.missing ? " xpm-badge-missing" : ""}` },
      field.missing ? "not set (required)" : "not set"));
    if (!field.in_id) line.appendChild(whyNot(field));
    return li;
  }
  if (field.config) {
    line.append(" = ", ...configHeader(field.config));
    if (!field.in_id) line.appendChild(whyNot(field));
    if (field.config.fields) {
      li.appendChild(fieldsList(field.config, depth + 1));
      collapsible(li, line, depth < OPEN_DEPTH);
    } else {
      line.prepend(h("span", { class: "xpm-caret xpm-caret-none" }));
    }
    return li;
  }
  if (field.items) {
    line.append(" ", h("span", { class: "xpm-muted" }, field.value));
    if (!field.in_id) line.appendChild(whyNot(field));
    const ul = h("ul", {});
    for (const item of field.items) {
      const itemLi = h("li", { class: "xpm-node xpm-item" });
      const itemLine = h("div", { class: "xpm-line" }, h("span", { class: "xpm-muted" }, `[${item.key}]`));
      itemLi.appendChild(itemLine);
      if (item.config) {
        itemLine.append(" ", ...configHeader(item.config));
        if (item.config.fields) {
          itemLi.appendChild(fieldsList(item.config, depth + 2));
          collapsible(itemLi, itemLine, false);
        } else {
          itemLine.prepend(h("span", { class: "xpm-caret xpm-caret-none" }));
        }
      } else {
        itemLine.prepend(h("span", { class: "xpm-caret xpm-caret-none" }));
        itemLine.append(" ", h("span", { class: "xpm-value xpm-mono" }, item.value));
      }
      ul.appendChild(itemLi);
    }
    li.appendChild(ul);
    collapsible(li, line, depth < OPEN_DEPTH && field.items.length <= OPEN_ITEMS);
    return li;
  }
  line.prepend(h("span", { class: "xpm-caret xpm-caret-none" }));
  line.append(h("span", {}, " = "), h("span", { class: "xpm-value xpm-mono" }, field.value));
  if (!field.in_id) line.appendChild(whyNot(field));
  return li;
}

/** anywidget's `initialize`: known to the notebook's saved copy of the views. */
function initialize({ model }) {
  return registerModel(model);
}

function render({ model, el }) {
  ensureStyle(el);
  const record = modelRecord(model);
  const watch = watchLive(model, el);
  const head = h("div", { class: "xpm-cv-head" });
  const note = h("div", { class: "xpm-note xpm-inert-note" });
  const jobBox = h("div", { class: "xpm-cv-job", style: { display: "none" } });
  const treeBox = h("ul", { class: "xpm-tree" });
  const log = h("pre", { class: "xpm-log xpm-mono", style: { display: "none" } });
  const root = h("div", { class: "xpm-root xpm-cv" }, head, note, jobBox, log, treeBox);
  el.appendChild(root);
  let logStream = null;
  let pending = false;
  let message = "";
  // Every request goes through here: none once the kernel is gone.
  const send = (msg) => sendIfLive(model, watch, msg);

  function renderTree() {
    const tree = model.get("tree") || {};
    const full = model.get("identifier") || tree.id || "";
    clear(head);
    head.append(h("span", { class: "xpm-cv-cls", title: tree.typeid || "" }, tree.cls || "?"));
    if (tree.task) head.appendChild(h("span", { class: "xpm-badge" }, "task"));
    if (full) {
      head.append(idCode(full), copyButton(() => full, "copy id"));
    } else if (tree.id_error) {
      head.appendChild(h("span", { class: "xpm-badge xpm-badge-missing", title: tree.id_error },
        "no identifier yet"));
    }
    for (const [k, v] of Object.entries(tree.tags || {})) {
      head.appendChild(h("span", { class: "xpm-chip xpm-tag", title: "tag" }, `${k}=${v}`));
    }
    if (tree.id_error) head.appendChild(h("div", { class: "xpm-reason", style: { width: "100%" } }, tree.id_error));
    clear(treeBox);
    for (const field of tree.fields || []) treeBox.appendChild(fieldNode(field, 0));
  }

  function renderJob() {
    const row = model.get("job") || {};
    if (!row.state) {
      jobBox.style.display = "none";
      return;
    }
    jobBox.style.display = "";
    clear(jobBox);
    const finished = FINISHED.has(row.state);
    const off = !watch.live;
    const buttons = h("div", { style: { display: "flex", gap: "4px", alignItems: "center" } });
    const button = (label, cls, disabled, onClick) => {
      const b = h("button", { type: "button", class: cls, disabled }, label);
      b.addEventListener("click", onClick);
      buttons.appendChild(b);
    };
    button("cancel", "xpm-danger xpm-cv-cancel", finished || pending || off, () => {
      pending = send({ type: "cancel", k: 0 });
      renderJob();
    });
    button("resubmit", "xpm-cv-resubmit", row.state !== "error" || pending || off, () => {
      pending = send({ type: "resubmit", k: 0 });
      renderJob();
    });
    button(logStream === "err" ? "hide log" : "stderr", "", off, () => toggleLog("err"));
    button(logStream === "out" ? "hide out" : "stdout", "", off, () => toggleLog("out"));
    if (message) buttons.appendChild(h("span", { class: "xpm-muted" }, message));
    const now = off && watch.frozenAt ? watch.frozenAt : Date.now() / 1000;
    const duration = formatDuration(jobDuration(row, now));
    jobBox.append(
      stateBadge(row.state, row.reason),
      progressBars(row.progress, { compact: false, state: row.state }),
      buttons,
      h("span", { class: "xpm-muted" }, "job"),
      h("span", { style: { gridColumn: "2 / 4" } }, h("code", {}, row.path || ""), copyButton(() => row.path || ""),
        duration ? h("span", { class: "xpm-muted" }, `  ${duration}`) : null),
    );
    if (row.reason) {
      jobBox.append(h("span", { class: "xpm-muted" }, "reason"),
        h("span", { class: "xpm-reason", style: { gridColumn: "2 / 4" } }, row.reason));
    }
    if (logStream && !finished && !off) requestLog();
  }

  let lastLogRequest = 0;
  function requestLog(force) {
    // While the log is open it follows the job, at most once a second.
    if (!logStream || (!force && Date.now() - lastLogRequest < 1000)) return;
    lastLogRequest = Date.now();
    send({ type: "log", k: 0, stream: logStream, lines: 40 });
  }
  function toggleLog(stream) {
    logStream = logStream === stream ? null : stream;
    log.style.display = logStream ? "" : "none";
    log.textContent = "";
    requestLog(true);
    renderJob();
  }

  function onMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "log" && msg.stream === logStream) {
      log.textContent = msg.error || msg.text || "(empty)";
    } else if (msg.type === "action") {
      pending = false;
      message = msg.message || "";
      renderJob();
    }
  }

  function applyLive() {
    if (watch.live && record) record.seenLive = true;
    root.classList.toggle("xpm-inert", !watch.live);
    // Only a submitted configuration has something live to lose.
    note.textContent = !watch.live && (model.get("job") || {}).state ? inertNote(record) : "";
    note.style.display = note.textContent ? "" : "none";
    if (!watch.live) {
      pending = false;
      logStream = null;
      log.style.display = "none";
    }
    renderJob();
  }
  watch.listeners.add(applyLive);

  renderTree();
  applyLive();
  const handlers = [["change:tree", renderTree], ["change:identifier", renderTree],
    ["change:job", renderJob], ["msg:custom", onMessage]];
  for (const [event, fn] of handlers) model.on(event, fn);
  return () => {
    for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
    watch.stop();
    root.remove();
  };
}

export default { initialize, render };
