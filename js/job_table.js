/**
 * xpm_nb job table: a live, virtualized table of jobs.
 *
 *   import jobTable from "./job_table.js";
 *   const cleanup = jobTable.render({ model, el });   // later: cleanup()
 *
 * The SAME file serves the notebook widget (anywidget gives `model`) and the
 * standalone monitoring page (which gives a fetch-based `model`). The contract:
 *
 * `model` is any object with
 *   get(key)                 value of a synced key (undefined when absent)
 *   set(key, value)          \ unused by the table today; part of the contract
 *   save_changes()           / so that a view may write keys later
 *   on(event, callback)      events: "change:<key>" -> callback(), and
 *                            "msg:custom" -> callback(message, buffers)
 *   off(event, callback)     (optional) unsubscribe; used by the cleanup
 *   send(message)            deliver a request to the kernel / server
 *
 * Keys read: "title" (str), "tag_names" (list of tag names, in column order),
 * "snapshot" (a snapshot message as below: every row when the model was
 * created, so the first render needs no request; a model without it, like the
 * monitoring page's, is sent {type: "sync"} instead), "patch" (a patch message
 * as below: the notebook widget sends its patches as changes of this key, so
 * that one update is one comm message; a server may send them as "msg:custom"
 * messages instead; the view takes both), "_xpm_id" (the model id: the rows of
 * a model are kept once for all its views, from the widget's `initialize`),
 * "metric_names" (names of the metrics the jobs logged: one column each, after the tags).
 *
 * Requests the view sends (kernel side: xpm_nb.widgets.rows.JobTableState.handle):
 *   {type: "sync"}                              every row, please (when a patch was missed,
 *                                               or at start without a "snapshot" key)
 *   {type: "log", k, stream: "err"|"out"|"auto", lines} the tail of a job's log ("auto":
 *                                               stderr, or stdout when stderr is empty)
 *   {type: "cancel", k}   {type: "resubmit", k}  act on a job through the scheduler
 *   {type: "compare", keys: [k, ...]}           what differs between the jobs' configurations
 * Messages the view handles (model "msg:custom", or the keys above):
 *   {type: "snapshot", rows: [Row] | table: Table, tag_names, metric_names, seq, now}  every row
 *   {type: "patch", rows: [Row], tag_names?, metric_names?, seq, now}  rows that changed or are
 *        new; a row without `id` holds only the fields that changed (merged into the row held),
 *        its `metrics` may be the values in metric_names order (a list)
 *   {type: "log", k, stream, text, file} or {type: "log", k, stream, error}
 *   {type: "action", action, k, ok, message}         the answer to cancel/resubmit
 *   {type: "compare", keys, fields: [{path, values}], same, total} or {type: "compare", keys, error}
 * Row = {k: int key, id: identifier (hex), task: type id, name: class name,
 *        state: JobState value
 *        ("waiting", "ready", "scheduled", "running", "done", "error", "unscheduled"),
 *        reason: failure reason or null, code: exit code or null,
 *        progress: [[fraction 0..1, desc or null], ...] (index = nesting level),
 *        tags: {name: value}, submitted, started, ended: epoch seconds or null,
 *        retries: int, path: job folder,
 *        metrics: {name: last value} (of the current attempt), step: last step or null,
 *        deps: [keys of the rows it depends on] (the task graph; "needed by" is derived)}
 * `now` is the sender's clock (epoch seconds), used to show running durations.
 * `seq` numbers the patches (1, 2, ...); a snapshot's is that of the last patch
 * it includes. A patch numbered at most the view's is already in; one more than
 * the next tells a patch was missed: the view applies it and asks for a snapshot.
 *
 * Compact table (xpm_nb.widgets.rows.encode_table): {tasks: [[type id, name]],
 * roots: [folder], t0: int, rows: [[id, task index, state index (in STATES),
 * tags (values in tag_names order, or an object), submitted, started, ended
 * (seconds after t0), progress, reason, code, retries, path (index into roots:
 * root/type id/id, or the path), metrics (values in metric_names order, or an
 * object), step, deps]]}, keys 0..n-1 in order; trailing fields at their default
 * (null, [], 0, root 0, {}) are left out.
 *
 * A view whose kernel is gone (restarted; or a copy restored from the notebook
 * file) goes inert: a note says so, durations stop, every action is disabled
 * and nothing is sent (see `watchLive` in ./common.js).
 *
 * Only the visible rows are in the DOM (fixed row height, a spacer for the
 * scroll height), so 10,000 jobs scroll, filter and sort smoothly. Filter and
 * sort happen here, in the browser. A click on a header sorts by that column,
 * a second click the other way, a third goes back to submission order; empty
 * values always come last. Metric columns (./metrics.js) sort best first on
 * the first click: ascending for a name containing "loss", "error" or
 * "perplexity", descending for any other (an accuracy). A job with metrics but
 * no progress bar shows its step and last values in the progress column.
 * Narrower than its columns, the table scrolls sideways (head and rows together).
 *
 * Keyboard (./keyboard.js): Tab reaches the sortable headers (`aria-sort`), the
 * state chips (`aria-pressed`) and the rows; Enter or Space sorts or filters, Enter
 * on a row opens (closes) its details, the arrows go to the next or previous row.
 * Every focusable element has a `data-focus` key, so the focus stays where it is
 * across live updates (the rows, chips and details are rebuilt).
 * A cancel asks first: the first click turns the button into "confirm?" for
 * CONFIRM_MS, the second sends it (never a browser dialog).
 * A job's details list the jobs it depends on ("depends on", from `deps`) and
 * those that depend on it ("needed by"); a click opens that job. Ticked rows
 * (the checkbox by the actions) are compared (./compare.js): the fields that
 * differ in their configurations, by nested path, and their metrics side by side.
 */
import {
  FINISHED,
  STATES,
  STATE_LABELS,
  clear,
  copyButton,
  ensureStyle,
  formatDuration,
  formatTime,
  h,
  inertNote,
  jobDuration,
  modelRecord,
  progressBars,
  registerModel,
  sendIfLive,
  shortTask,
  stateBadge,
  watchLive,
} from "./common.js";
import { renderCompare } from "./compare.js";
import { keepFocus, onActivate } from "./keyboard.js";
import { metricCell, metricColumns, metricSummary, showsMetricsInstead } from "./metrics.js";

// For ./experiment_view.js: the helpers it shares with the table (and gives to the
// curves panel, ./metrics_panel.js) come through this module, so that a bundle holds
// ./common.js once (see xpm_nb.widgets.assets).
export {
  STATES, STATE_LABELS, clear, copyButton, ensureStyle, h, inertNote, keepFocus, modelRecord, onActivate,
  registerModel, sendIfLive, taskName, watchLive,
};

const ROW_HEIGHT = 30; // px; must match .xpm-jt-row in common.js
const VISIBLE_ROWS = 14; // rows shown before the body scrolls
const OVERSCAN = 6; // rows rendered above and below the visible ones
const LOG_REFRESH_MS = 2000;
const STATE_ORDER = Object.fromEntries(STATES.map((s, i) => [s, i]));
const CONFIRM_MS = 4000; // a cancel waits this long for its confirmation click
const RESYNC_MS = 5000; // at most one "sync" request in this time, while none is answered
// The order of JobState values in a compact table (xpm_nb.widgets.rows.STATES).
const TABLE_STATES = ["unscheduled", "waiting", "ready", "scheduled", "running", "done", "error"];
const TABLE_DEFAULTS = [null, null, null, [], null, null, 0, 0, {}, null, []]; // fields 4 to 14
const FIRST_OPTIONAL = 4;

const round3 = (x) => Math.round(x * 1000) / 1000;

/** The progress cell's hover of a failed or cancelled job: how far it got ("" otherwise). */
export function stoppedAt(row) {
  const levels = row.progress || [];
  if (row.state !== "error" || !levels.length) return "";
  const pct = Math.round(Math.max(0, Math.min(1, Number(levels[0][0]) || 0)) * 100);
  const how = row.reason === "cancelled" ? "cancelled" : "failed";
  return `${how} at ${pct}%${levels[0][1] ? ` (${levels[0][1]})` : ""}: the last progress it reported`;
}

/** The rows of a compact table (see "Compact table" above). */
export function decodeTable(table, tagNames, metricNames = []) {
  const t0 = table.t0 || 0;
  const time = (x) => (x === null || x === undefined ? null : t0 + x);
  return (table.rows || []).map((item, k) => {
    const f = item.concat(TABLE_DEFAULTS.slice(item.length - FIRST_OPTIONAL));
    const [id, ti, state, tags, submitted, started, ended, progress, reason, code, retries, path, metrics, step, deps] = f;
    const [task, name] = table.tasks[ti];
    return {
      k, id, task, name,
      state: typeof state === "number" ? TABLE_STATES[state] : state,
      reason, code, progress,
      tags: Array.isArray(tags) ? Object.fromEntries(tagNames.map((n, i) => [n, tags[i]])) : tags,
      submitted: time(submitted), started: time(started), ended: time(ended),
      retries,
      path: typeof path === "number" ? `${table.roots[path]}/${task}/${id}` : path,
      metrics: Array.isArray(metrics) ? Object.fromEntries(metricNames.map((n, i) => [n, metrics[i]])) : metrics,
      step,
      deps,
    };
  });
}

/** The compact table of `rows` (keys 0..n-1): what xpm_nb.widgets.rows.encode_table makes. */
export function encodeTable(rows, tagNames, metricNames = []) {
  const tasks = [];
  const taskIndex = new Map();
  const roots = [];
  const rootIndex = new Map();
  const stateIndex = Object.fromEntries(TABLE_STATES.map((s, i) => [s, i]));
  let t0 = Infinity;
  for (const r of rows) for (const t of [r.submitted, r.started, r.ended]) if (t !== null && t !== undefined && t < t0) t0 = t;
  t0 = Number.isFinite(t0) ? Math.floor(t0) : 0;
  const rel = (t) => (t === null || t === undefined ? null : round3(t - t0));
  const names = new Set(tagNames);
  const mnames = new Set(metricNames);
  const encoded = rows.map((r) => {
    const key = `${r.task}\u0000${r.name}`;
    let ti = taskIndex.get(key);
    if (ti === undefined) {
      ti = tasks.length;
      taskIndex.set(key, ti);
      tasks.push([r.task, r.name]);
    }
    let tags = r.tags || {};
    const keys = Object.keys(tags);
    if (keys.length === tagNames.length && keys.every((n) => names.has(n))) tags = tagNames.map((n) => tags[n]);
    let metrics = r.metrics || {};
    const mkeys = Object.keys(metrics);
    if (mkeys.length && mkeys.length === metricNames.length && mkeys.every((n) => mnames.has(n))) {
      metrics = metricNames.map((n) => metrics[n]);
    }
    let path = r.path;
    const suffix = `/${r.task}/${r.id}`;
    if (typeof path === "string" && path.endsWith(suffix)) {
      const root = path.slice(0, -suffix.length);
      let ri = rootIndex.get(root);
      if (ri === undefined) {
        ri = roots.length;
        rootIndex.set(root, ri);
        roots.push(root);
      }
      path = ri;
    }
    const item = [r.id, ti, stateIndex[r.state] ?? r.state, tags, rel(r.submitted), rel(r.started), rel(r.ended),
      r.progress || [], r.reason ?? null, r.code ?? null, r.retries || 0, path, metrics, r.step ?? null, r.deps || []];
    let n = item.length;
    while (n > FIRST_OPTIONAL && JSON.stringify(item[n - 1]) === JSON.stringify(TABLE_DEFAULTS[n - 1 - FIRST_OPTIONAL])) n--;
    return item.slice(0, n);
  });
  return { tasks, roots, t0, rows: encoded };
}

/**
 * The rows of one model, kept once for all its views: a snapshot, then the
 * patches in `seq` order. Views subscribe to its changes.
 */
export class RowStore {
  constructor() {
    this.rows = new Map(); // k -> row
    this.seq = null; // `seq` of the last snapshot or patch applied (null: none numbered yet)
    this.tagNames = [];
    this.metricNames = [];
    this.clockOffset = 0; // sender's clock - ours, seconds
    this.received = false; // a snapshot or a patch came
    this.live = true; // false once the kernel is gone: nothing is sent then
    this.send = null; // the model's send
    this.subscribers = new Set();
    this.syncAsked = 0; // when a "sync" was last sent (ms), 0 once answered
  }

  subscribe(fn) {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  emit(event) {
    for (const fn of [...this.subscribers]) {
      try {
        fn(event);
      } catch (error) {
        console.error("xpm_nb: job table view failed", error);
      }
    }
  }

  setTagNames(names) {
    if (!Array.isArray(names) || String(names) === String(this.tagNames)) return false;
    this.tagNames = names;
    return true;
  }

  setMetricNames(names) {
    if (!Array.isArray(names) || String(names) === String(this.metricNames)) return false;
    this.metricNames = names;
    return true;
  }

  clock(message) {
    if (typeof message.now === "number") this.clockOffset = message.now - Date.now() / 1000;
  }

  snapshot(message) {
    if (!message || typeof message !== "object" || !(message.table || message.rows)) return;
    const seq = typeof message.seq === "number" ? message.seq : null;
    if (seq !== null && this.seq !== null && seq < this.seq) return; // older than what is here
    const tagNames = message.tag_names || this.tagNames;
    const metricNames = message.metric_names || this.metricNames;
    const rows = message.table ? decodeTable(message.table, tagNames, metricNames) : message.rows;
    const old = this.rows;
    this.rows = new Map(rows.map((r) => [r.k, r]));
    if (seq !== null) this.seq = seq;
    this.syncAsked = 0;
    this.received = true;
    this.clock(message);
    const tagsChanged = this.setNames(message);
    this.emit({ snapshot: true, changed: rows.map((r) => [old.get(r.k), r]), tagsChanged });
  }

  patch(message) {
    if (!message || typeof message !== "object" || message.type !== "patch") return;
    const seq = typeof message.seq === "number" ? message.seq : null;
    let gap = false;
    if (seq !== null && this.seq !== null) {
      if (seq <= this.seq) return; // already in a snapshot
      gap = seq > this.seq + 1;
    }
    const changed = [];
    const tagsChanged = this.setNames(message); // before the rows: their metrics may be a list
    for (let row of message.rows || []) {
      const old = this.rows.get(row.k);
      if (!("id" in row)) { // only the changed fields of a row the view has
        if (!old) { gap = true; continue; }
        if (Array.isArray(row.metrics)) {
          row = { ...row, metrics: Object.fromEntries(this.metricNames.map((n, i) => [n, row.metrics[i]])) };
        }
        row = { ...old, ...row };
      }
      changed.push([old, row]);
      this.rows.set(row.k, row);
    }
    if (seq !== null) this.seq = seq;
    this.received = true;
    this.clock(message);
    this.emit({ snapshot: false, changed, tagsChanged });
    if (gap) this.resync();
  }

  /** Take the tag and metric names of a message; true when the columns change. */
  setNames(message) {
    const tags = this.setTagNames(message.tag_names);
    const metrics = this.setMetricNames(message.metric_names);
    return tags || metrics;
  }

  /** Ask for every row again (a patch was missed); never without a kernel. */
  resync() {
    if (!this.live || !this.send) return;
    const now = Date.now();
    if (this.syncAsked && now - this.syncAsked < RESYNC_MS) return;
    this.syncAsked = now;
    this.send({ type: "sync" });
  }

  /** A snapshot message of the rows held now (the saved copy of the view). */
  toSnapshot() {
    const rows = Array.from(this.rows.values()).sort((a, b) => a.k - b.k);
    return {
      type: "snapshot", table: encodeTable(rows, this.tagNames, this.metricNames), n: rows.length,
      tag_names: this.tagNames, metric_names: this.metricNames, seq: this.seq === null ? 0 : this.seq, now: Date.now() / 1000 + this.clockOffset,
    };
  }
}

/** Feed `store` from `model`'s keys and messages; returns the function undoing it. */
export function connectStore(model, store) {
  const onSnapshot = () => store.snapshot(model.get("snapshot"));
  const onPatch = () => store.patch(model.get("patch"));
  const onTagNames = () => {
    if (store.setTagNames(model.get("tag_names") || [])) store.emit({ snapshot: false, changed: [], tagsChanged: true });
  };
  const onMetricNames = () => {
    if (store.setMetricNames(model.get("metric_names") || [])) {
      store.emit({ snapshot: false, changed: [], tagsChanged: true });
    }
  };
  const onMessage = (message) => {
    if (message && message.type === "snapshot") store.snapshot(message);
    else if (message && message.type === "patch") store.patch(message);
  };
  store.send = (message) => sendIfLive(model, null, message);
  store.setTagNames(model.get("tag_names") || []);
  store.setMetricNames(model.get("metric_names") || []);
  const initial = model.get("snapshot");
  const hasSnapshot = !!(initial && (initial.table || initial.rows));
  if (hasSnapshot) store.snapshot(initial);
  onPatch();
  const handlers = [["change:snapshot", onSnapshot], ["change:patch", onPatch],
    ["change:tag_names", onTagNames], ["change:metric_names", onMetricNames], ["msg:custom", onMessage]];
  for (const [event, fn] of handlers) model.on(event, fn);
  if (!hasSnapshot) store.resync(); // a model without the "snapshot" key: ask
  return () => {
    for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
  };
}

/** anywidget's `initialize`: one store per model, for all its views (and its saved copy). */
function initialize({ model }) {
  const store = new RowStore();
  const disconnect = connectStore(model, store);
  const unregister = registerModel(model, { store, snapshot: () => store.toSnapshot() });
  return () => {
    disconnect();
    unregister();
  };
}

/** Order of two cell values (`dir` -1: descending); empty values last either way. */
function compareValues(a, b, dir = 1) {
  const na = a === null || a === undefined || a === "";
  const nb = b === null || b === undefined || b === "";
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return dir * (a - b);
  const fa = Number(a);
  const fb = Number(b);
  if (!Number.isNaN(fa) && !Number.isNaN(fb)) return dir * (fa - fb);
  return dir * String(a).localeCompare(String(b));
}

/** The chip a row counts under: its state, or "cancelled" apart from "error" (failed). */
function countKey(row) {
  return row.state === "error" && row.reason === "cancelled" ? "cancelled" : row.state;
}

function taskName(row) {
  return row.name || shortTask(row.task);
}

function matchesTerm(row, term) {
  const eq = term.indexOf("=");
  if (eq > 0) {
    const name = term.slice(0, eq);
    const value = term.slice(eq + 1);
    return Object.entries(row.tags || {}).some(
      ([k, v]) => k.toLowerCase() === name && String(v).toLowerCase() === value,
    );
  }
  const hay = [row.task, row.name, row.state, STATE_LABELS[row.state], row.reason, row.id,
    ...Object.values(row.tags || {})];
  return hay.some((x) => x !== null && x !== undefined && String(x).toLowerCase().includes(term));
}

/**
 * Render the table of `model` into `el`. Options: `store` (the rows, shared by
 * the model's views; found from the model or made here), `watch` (a `watchLive`
 * of the enclosing view), `note` (false: the enclosing view shows the note).
 */
function render({ model, el, store = null, watch = null, note = true, api = null }) {
  ensureStyle(el);
  const cleanups = [];
  const record = modelRecord(model);
  if (!store) store = record && record.store;
  if (!store) {
    // No `initialize` ran (the monitoring page): the rows are this view's own.
    store = new RowStore();
    cleanups.push(connectStore(model, store));
  }
  const ownWatch = !watch;
  if (!watch) watch = watchLive(model, el);
  if (ownWatch) cleanups.push(() => watch.stop());

  const state = {
    view: [], // rows after filter and sort
    filterTerms: [],
    stateFilter: null,
    sortKey: null, // null: submission order
    sortDesc: false,
    selected: null, // k
    logStream: "auto", // stderr, or stdout when stderr is empty: the kernel picks, then it stays
    pending: new Set(), // keys with an action under way
    confirming: null, // the key whose cancel waits for a confirmation click
    picked: [], // keys ticked for "compare", in the order ticked
    compared: null, // the keys last compared (the panel is shown), and the kernel's answer
    compareResult: null,
  };
  const inert = () => !watch.live;
  const now = () => (inert() && watch.frozenAt ? watch.frozenAt : Date.now() / 1000) + store.clockOffset;
  // Every request goes through here: none once the kernel is gone.
  const send = (message) => sendIfLive(model, watch, message);

  // --- DOM skeleton --------------------------------------------------------
  const filterInput = h("input", {
    class: "xpm-jt-filter",
    type: "search",
    placeholder: "filter: text or tag=value",
    title: "Space-separated terms, all must match: text in task, state, reason or identifier, or tag=value",
  });
  const chips = h("div", { class: "xpm-jt-chips" });
  const count = h("span", { class: "xpm-jt-count xpm-muted" });
  const status = h("div", { class: "xpm-jt-status xpm-muted" });
  const compareButton = h("button", { type: "button", class: "xpm-jt-compare", style: { display: "none" },
    title: "what differs between the ticked jobs' configurations, and their metrics" }, "compare");
  compareButton.addEventListener("click", () => startCompare());
  const toolbar = h("div", { class: "xpm-jt-toolbar" }, filterInput, chips, compareButton, count, status);
  const comparePanel = h("div", { class: "xpm-cmp", style: { display: "none" } });
  const head = h("div", { class: "xpm-jt-grid xpm-jt-head" });
  const spacer = h("div", { class: "xpm-jt-spacer" });
  const body = h("div", { class: "xpm-jt-body" }, spacer);
  // Head and rows scroll sideways together when the columns do not fit (a narrow output).
  const scroller = h("div", { class: "xpm-jt-scroll" }, head, body);
  const empty = h("div", { class: "xpm-jt-empty xpm-muted" }, "waiting for the job list…");
  const detail = h("div", { class: "xpm-jt-detail", style: { display: "none" } });
  const noteEl = note ? h("div", { class: "xpm-note xpm-inert-note" }) : null;
  const root = h("div", { class: "xpm-root xpm-jt" }, noteEl, toolbar, comparePanel, scroller, empty, detail);
  el.appendChild(root);

  // The last action's answer, shown for a few seconds.
  let statusTimer = null;
  let statusJob = null; // the job a "cancelling ..." line waits on
  function showStatus(text, ok, key = null) {
    statusJob = key;
    status.textContent = text;
    status.style.color = ok ? "" : "#c92a2a";
    if (statusTimer) clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { status.textContent = ""; }, ok ? 5000 : 15000);
  }
  cleanups.push(() => statusTimer && clearTimeout(statusTimer));

  // --- columns ---------------------------------------------------------------
  function columns() {
    // `min`: the column's least width (px): below their sum the table scrolls sideways.
    const cols = [
      { key: "state", label: "state", width: "92px", min: 92, value: (r) => STATE_ORDER[r.state] },
      { key: "task", label: "task", width: "minmax(90px, 1fr)", min: 90, value: (r) => taskName(r) },
    ];
    for (const name of store.tagNames) {
      cols.push({ key: `tag:${name}`, label: name, tag: name, width: "minmax(48px, 0.5fr)", min: 48,
        value: (r) => (r.tags || {})[name] });
    }
    cols.push(...metricColumns(store.metricNames));
    cols.push(
      { key: "progress", label: "progress", width: "minmax(140px, 2fr)", min: 140,
        value: (r) => (r.progress && r.progress.length ? r.progress[0][0] : r.state === "done" ? 1 : null) },
      { key: "duration", label: "duration", width: "72px", min: 72, value: (r) => jobDuration(r, now()) },
      { key: "actions", label: "", width: "80px", min: 80, value: null, title: "tick to compare; cancel or resubmit" },
    );
    return cols;
  }
  let cols = columns();

  function renderHead() {
    keepFocus(root, renderHeadNow);
  }

  function renderHeadNow() {
    cols = columns();
    const template = cols.map((c) => c.width).join(" ");
    head.style.gridTemplateColumns = template;
    // Grid gap 10px, padding 10px each side (.xpm-jt-grid).
    const minWidth = `${cols.reduce((a, c) => a + c.min, 0) + 10 * (cols.length - 1) + 20}px`;
    head.style.minWidth = body.style.minWidth = minWidth;
    clear(head);
    for (const c of cols) {
      const title = c.title || (c.tag ? `tag ${c.tag}` : c.label);
      const cell = h("div", { title, class: c.metric ? "xpm-metric-head" : null, role: "columnheader",
        dataset: { col: c.key } }, c.label);
      if (c.value) {
        const sorted = state.sortKey === c.key;
        if (sorted) cell.classList.add("xpm-sorted");
        if (sorted && state.sortDesc) cell.classList.add("xpm-desc");
        cell.setAttribute("aria-sort", sorted ? (state.sortDesc ? "descending" : "ascending") : "none");
        cell.dataset.focus = `head:${c.key}`;
        // Click (or Enter/Space): sort (metrics: best first), again: the other way, a third: submission order.
        const first = !!c.firstDesc;
        const sort = () => {
          if (state.sortKey !== c.key) {
            state.sortKey = c.key;
            state.sortDesc = first;
          } else if (state.sortDesc === first) {
            state.sortDesc = !first;
          } else {
            state.sortKey = null; // third click: back to submission order
            state.sortDesc = false;
          }
          renderHead();
          schedule(true);
        };
        cell.addEventListener("click", sort);
        onActivate(cell, sort);
      }
      head.appendChild(cell);
    }
    for (const rowEl of pool) {
      rowEl.style.gridTemplateColumns = template;
      rowEl._row = null; // cells change with the columns: rebuild
    }
  }

  // --- filter, sort, counts --------------------------------------------------
  function recompute() {
    const terms = state.filterTerms;
    let rows = Array.from(store.rows.values());
    const counts = {};
    for (const r of rows) counts[countKey(r)] = (counts[countKey(r)] || 0) + 1;
    if (state.stateFilter) rows = rows.filter((r) => countKey(r) === state.stateFilter);
    if (terms.length) rows = rows.filter((r) => terms.every((t) => matchesTerm(r, t)));
    if (state.sortKey) {
      const col = cols.find((c) => c.key === state.sortKey);
      if (col && col.value) {
        const keyed = rows.map((r) => [col.value(r), r]);
        const dir = state.sortDesc ? -1 : 1;
        keyed.sort((a, b) => compareValues(a[0], b[0], dir) || a[1].k - b[1].k);
        rows = keyed.map((x) => x[1]);
      }
    } else {
      rows.sort((a, b) => a.k - b.k);
    }
    state.view = rows;
    renderChips(counts);
    const total = store.rows.size;
    count.textContent = rows.length === total
      ? `${total.toLocaleString()} job${total === 1 ? "" : "s"}`
      : `${rows.length.toLocaleString()} of ${total.toLocaleString()} jobs`;
  }

  function renderChips(counts) {
    clear(chips);
    const all = h("span", { class: `xpm-chip${state.stateFilter ? "" : " xpm-active"}`, title: "every state",
      role: "button", "aria-pressed": String(!state.stateFilter), dataset: { focus: "chip:all" } },
      `all ${store.rows.size.toLocaleString()}`);
    all.addEventListener("click", () => setStateFilter(null));
    onActivate(all, () => setStateFilter(null));
    chips.appendChild(all);
    for (const s of [...STATES, "cancelled"]) {
      if (!counts[s]) continue;
      const chip = h("span", {
        class: `xpm-chip xpm-state-${s}${state.stateFilter === s ? " xpm-active" : ""}`,
        title: `show only the ${STATE_LABELS[s] || s} jobs`,
        role: "button", "aria-pressed": String(state.stateFilter === s),
        dataset: { state: s, focus: `chip:${s}` },
      }, h("span", { class: "xpm-dot" }), `${STATE_LABELS[s] || s} ${counts[s].toLocaleString()}`);
      const toggle = () => setStateFilter(state.stateFilter === s ? null : s);
      chip.addEventListener("click", toggle);
      onActivate(chip, toggle);
      chips.appendChild(chip);
    }
  }

  function setStateFilter(s) {
    state.stateFilter = s;
    schedule(true);
  }

  // --- virtualized rows ---------------------------------------------------------
  const pool = [];
  function rowElement(i) {
    while (pool.length <= i) {
      const rowEl = h("div", { class: "xpm-jt-grid xpm-jt-row", tabindex: "0", role: "row" });
      rowEl.style.gridTemplateColumns = head.style.gridTemplateColumns;
      rowEl.addEventListener("click", () => {
        if (rowEl._row) select(rowEl._row.k);
      });
      // Enter: open (or close) the job's details; arrows: the next or previous row.
      onActivate(rowEl, () => rowEl._row && select(rowEl._row.k), { space: false });
      rowEl.addEventListener("keydown", (event) => {
        if (event.target !== rowEl || !rowEl._row || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
        event.preventDefault();
        moveFocus(rowEl._row.k, event.key === "ArrowDown" ? 1 : -1);
      });
      body.appendChild(rowEl);
      pool.push(rowEl);
    }
    return pool[i];
  }

  // Focus the row `step` rows after row `k` in the view (scrolled into sight).
  let focusWanted = null;
  function moveFocus(k, step) {
    const i = state.view.findIndex((r) => r.k === k) + step;
    if (i < 0 || i >= state.view.length) return;
    const top = i * ROW_HEIGHT;
    if (top < body.scrollTop) body.scrollTop = top;
    else if (top + ROW_HEIGHT > body.scrollTop + body.clientHeight) body.scrollTop = top + ROW_HEIGHT - body.clientHeight;
    focusWanted = `row:${state.view[i].k}`;
    schedule(false);
  }

  // A cancel asks first: the first click turns the button into "confirm?" for a few
  // seconds, the second one sends it (never a browser dialog).
  let confirmTimer = null;
  function cancelClicked(k) {
    if (state.confirming === k) {
      state.confirming = null;
      if (confirmTimer) clearTimeout(confirmTimer);
      act("cancel", k);
      return;
    }
    state.confirming = k;
    if (confirmTimer) clearTimeout(confirmTimer);
    confirmTimer = setTimeout(() => {
      state.confirming = null;
      schedule(false, true);
    }, CONFIRM_MS);
    schedule(false, true);
  }
  cleanups.push(() => confirmTimer && clearTimeout(confirmTimer));

  function cancelButton(row, cls, label, focus) {
    const confirming = state.confirming === row.k;
    const button = h("button", {
      type: "button", class: `xpm-danger ${cls}${confirming ? " xpm-confirming" : ""}`,
      title: confirming ? "click again to cancel this job" : "cancel this job",
      "aria-label": confirming ? "confirm: cancel this job" : "cancel this job",
      dataset: { focus },
    }, confirming ? "confirm?" : label);
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      cancelClicked(row.k);
    });
    return button;
  }

  // --- compare: ticked rows, then what differs ----------------------------------
  function pickBox(row) {
    const picked = state.picked.includes(row.k);
    const box = h("input", { type: "checkbox", class: "xpm-pick", title: "tick to compare this job with others",
      "aria-label": `compare ${taskName(row)} ${row.id.slice(0, 8)}`, dataset: { focus: `row:${row.k}:pick` } });
    box.checked = picked;
    box.addEventListener("click", (event) => event.stopPropagation());
    box.addEventListener("keydown", (event) => event.stopPropagation()); // Space ticks, Enter does not open
    box.addEventListener("change", () => {
      state.picked = box.checked ? [...state.picked.filter((k) => k !== row.k), row.k]
        : state.picked.filter((k) => k !== row.k);
      renderCompareButton();
      if (state.compared) startCompare(); // the panel follows the ticks
    });
    return box;
  }

  function renderCompareButton() {
    const n = state.picked.length;
    compareButton.style.display = n ? "" : "none";
    compareButton.textContent = `compare ${n}`;
    compareButton.disabled = n < 2 || inert();
    compareButton.title = n < 2 ? "tick at least two jobs" : "what differs between the ticked jobs' configurations";
  }

  function startCompare() {
    const keys = state.picked.slice(0, 12);
    if (keys.length < 2) {
      state.compared = null;
      state.compareResult = null;
    } else if (String(keys) !== String(state.compared || [])) {
      state.compared = keys;
      state.compareResult = null;
      send({ type: "compare", keys });
    }
    schedule(false, true);
  }

  function renderComparePanel() {
    const keys = state.compared || [];
    renderCompare(comparePanel, {
      h, clear, result: state.compareResult, metricNames: store.metricNames, taskName, open,
      rows: keys.map((k) => store.rows.get(k)).filter(Boolean),
      close: () => {
        state.picked = [];
        state.compared = null;
        state.compareResult = null;
        renderCompareButton();
        schedule(false, true);
      },
    });
  }

  function actionButton(label, title, cls, onClick) {
    const button = h("button", { type: "button", title, class: cls }, label);
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      onClick();
    });
    return button;
  }

  function act(action, k) {
    if (!send({ type: action, k })) return;
    state.pending.add(k);
    const row = store.rows.get(k);
    showStatus(`${action} ${row ? taskName(row) : k}…`, true);
    schedule(false, true);
  }

  function fillRow(rowEl, row) {
    clear(rowEl);
    rowEl.dataset.k = String(row.k);
    rowEl.dataset.state = row.state;
    rowEl.dataset.focus = `row:${row.k}`;
    rowEl.setAttribute("aria-selected", String(row.k === state.selected));
    rowEl.classList.toggle("xpm-selected", row.k === state.selected);
    const finished = FINISHED.has(row.state);
    for (const c of cols) {
      let cell;
      if (c.key === "state") {
        cell = h("div", { class: "xpm-c-state" }, stateBadge(row.state, row.reason));
      } else if (c.key === "task") {
        cell = h("div", { class: "xpm-c-task", title: `${row.task}\n${row.id}` }, taskName(row));
      } else if (c.tag !== undefined) {
        const v = (row.tags || {})[c.tag];
        cell = h("div", { class: "xpm-c-tag xpm-mono" }, v === undefined || v === null ? "" : String(v));
      } else if (c.metric !== undefined) {
        cell = metricCell(row, c.metric);
      } else if (c.key === "progress") {
        // A job that logs only metrics has no bar to show: its step and last values instead.
        cell = h("div", { class: "xpm-c-progress", title: stoppedAt(row) }, showsMetricsInstead(row)
          ? metricSummary(row) : progressBars(row.progress, { state: row.state }));
      } else if (c.key === "duration") {
        cell = h("div", { class: "xpm-c-duration xpm-mono" }, formatDuration(jobDuration(row, now())));
      } else {
        const pending = state.pending.has(row.k);
        cell = h("div", { class: "xpm-actions" });
        cell.appendChild(pickBox(row));
        let button = null;
        if (!finished) {
          button = cancelButton(row, "xpm-cancel", "✕", `row:${row.k}:cancel`);
        } else if (row.state === "error") {
          button = actionButton("↻", "resubmit this job", "xpm-resubmit", () => act("resubmit", row.k));
          button.dataset.focus = `row:${row.k}:resubmit`;
        }
        if (button) {
          button.disabled = pending || inert();
          cell.appendChild(button);
        }
      }
      rowEl.appendChild(cell);
    }
    rowEl._row = row;
  }

  function renderRows(force) {
    const n = state.view.length;
    const visible = Math.min(Math.max(n, 1), VISIBLE_ROWS);
    body.style.height = `${n === 0 ? 0 : visible * ROW_HEIGHT + 2}px`;
    spacer.style.height = `${n * ROW_HEIGHT}px`;
    empty.style.display = n === 0 ? "" : "none";
    if (n === 0) empty.textContent = store.received
      ? (store.rows.size ? "no job matches the filter" : "no jobs yet")
      : inert() ? "no job list (no kernel)" : "waiting for the job list…";
    const first = Math.max(0, Math.floor(body.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(n, first + VISIBLE_ROWS + 2 * OVERSCAN);
    let used = 0;
    for (let i = first; i < last; i++) {
      const rowEl = rowElement(used++);
      const row = state.view[i];
      rowEl.style.display = "";
      rowEl.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      if (force || rowEl._row !== row) fillRow(rowEl, row);
    }
    for (let i = used; i < pool.length; i++) {
      pool[i].style.display = "none";
      pool[i]._row = null;
    }
  }

  // One render per animation frame, whatever the number of messages.
  let frame = null;
  let frameIsTimeout = false;
  let needRecompute = false;
  let needForce = false;
  function schedule(recomputeView, force) {
    needRecompute = needRecompute || !!recomputeView;
    needForce = needForce || !!force;
    if (frame !== null) return;
    const run = () => {
      frame = null;
      const wanted = focusWanted;
      focusWanted = null;
      // Rows, chips and the detail panel are rebuilt: the focus stays on what it was on.
      keepFocus(root, () => {
        if (needRecompute) recompute();
        renderRows(needForce);
        renderDetail();
        renderComparePanel();
      }, wanted);
      needRecompute = needForce = false;
    };
    // A hidden tab runs no animation frames: a timeout keeps the table current.
    frameIsTimeout = typeof requestAnimationFrame !== "function" || document.visibilityState === "hidden";
    frame = frameIsTimeout ? setTimeout(run, 16) : requestAnimationFrame(run);
  }
  const onScroll = () => schedule(false);
  body.addEventListener("scroll", onScroll, { passive: true });

  // --- the selected job: details, log, actions ------------------------------------
  let logText = "";
  let logError = "";
  let logFile = "";
  let logTimer = null;
  function requestLog() {
    if (state.selected === null) return;
    send({ type: "log", k: state.selected, stream: state.logStream, lines: 40 });
  }
  function select(k) {
    state.selected = state.selected === k ? null : k;
    state.logStream = "auto";
    logText = logError = logFile = "";
    if (logTimer) clearInterval(logTimer);
    logTimer = null;
    if (state.selected !== null && !inert()) {
      requestLog();
      logTimer = setInterval(() => {
        const row = store.rows.get(state.selected);
        if (row && !FINISHED.has(row.state)) requestLog();
      }, LOG_REFRESH_MS);
    }
    schedule(false, true);
  }
  cleanups.push(() => logTimer && clearInterval(logTimer));
  /** Open job `k`'s details (never closes them): the graph's links and nodes. */
  function open(k) {
    if (!store.rows.has(k)) return;
    if (state.selected !== k) select(k);
    const i = state.view.findIndex((r) => r.k === k);
    if (i >= 0) {
      const top = i * ROW_HEIGHT;
      if (top < body.scrollTop || top + ROW_HEIGHT > body.scrollTop + body.clientHeight) body.scrollTop = top;
    }
    schedule(false, true);
  }
  if (api) {
    api.open = open;
    api.store = store;
    api.detail = detail;
  }

  // The jobs `row` depends on, and those that depend on it (rows of this table).
  function graphLinks(row) {
    const deps = (row.deps || []).map((k) => store.rows.get(k)).filter(Boolean);
    const needed = [];
    for (const r of store.rows.values()) if (r.deps && r.deps.includes(row.k)) needed.push(r);
    needed.sort((a, b) => a.k - b.k);
    return [deps, needed];
  }

  function jobLinks(rows, cls) {
    const list = h("div", { class: `xpm-dep-list ${cls}` });
    const shown = rows.slice(0, 50);
    for (const r of shown) {
      const link = h("button", { type: "button", class: `xpm-dep-link xpm-state-${countKey(r)}`,
        title: `${r.task}\n${r.id}\n${r.state}${r.reason ? `: ${r.reason}` : ""}`,
        dataset: { k: String(r.k), focus: `${cls}:${r.k}` } },
      h("span", { class: "xpm-dot" }), `${taskName(r)} ${r.id.slice(0, 8)}`);
      link.addEventListener("click", () => {
        open(r.k);
        focusWanted = `row:${r.k}`;
      });
      list.appendChild(link);
    }
    if (rows.length > shown.length) list.appendChild(h("span", { class: "xpm-muted" }, `+${rows.length - shown.length} more`));
    return list;
  }

  function renderDetail() {
    const row = state.selected === null ? null : store.rows.get(state.selected);
    if (!row) {
      detail.style.display = "none";
      return;
    }
    detail.style.display = "";
    clear(detail);
    const finished = FINISHED.has(row.state);
    const pending = state.pending.has(row.k);
    const off = inert();
    const cancel = cancelButton(row, "xpm-detail-cancel", "cancel", "detail:cancel");
    cancel.disabled = finished || pending || off;
    const resubmit = h("button", { type: "button", class: "xpm-detail-resubmit", dataset: { focus: "detail:resubmit" },
      disabled: row.state !== "error" || pending || off }, "resubmit");
    resubmit.addEventListener("click", () => act("resubmit", row.k));
    const streamButton = (stream, label) => {
      const active = state.logStream === stream;
      const b = h("button", { type: "button", class: active ? "xpm-active" : "", "aria-pressed": String(active),
        disabled: off, dataset: { focus: `detail:${stream}` } }, label);
      b.addEventListener("click", () => {
        state.logStream = stream;
        logText = logError = "";
        requestLog();
        schedule(false);
      });
      return b;
    };
    detail.appendChild(h("div", { class: "xpm-jt-detail-head" },
      stateBadge(row.state, row.reason),
      h("b", {}, taskName(row)),
      h("code", { class: "xpm-muted", title: row.id }, `${row.id.slice(0, 12)}…`),
      h("span", { class: "xpm-grow" }),
      cancel, resubmit,
      h("button", { type: "button", title: "close", "aria-label": "close the details", dataset: { focus: "detail:close" },
        onclick: () => {
          focusWanted = `row:${row.k}`;
          select(row.k);
        } }, "×")));
    if (row.reason) detail.appendChild(h("div", { class: "xpm-reason" }, row.reason));
    const kv = h("div", { class: "xpm-kv" });
    const add = (key, value, extra) => {
      kv.appendChild(h("div", {}, key));
      kv.appendChild(h("div", { title: typeof value === "string" ? value : null }, value, extra));
    };
    add("task", row.task);
    add("folder", h("code", {}, row.path), copyButton(() => row.path));
    if (row.submitted) add("submitted", formatTime(row.submitted));
    if (row.started) add("started", formatTime(row.started));
    if (row.ended) add("ended", formatTime(row.ended));
    if (row.code !== null && row.code !== undefined) add("exit code", String(row.code));
    if (row.retries) add("retries", String(row.retries));
    const tags = Object.entries(row.tags || {});
    if (tags.length) add("tags", tags.map(([k, v]) => `${k}=${v}`).join(", "));
    const metrics = Object.entries(row.metrics || {});
    if (metrics.length || (row.step !== null && row.step !== undefined)) {
      add("metrics", [row.step !== null && row.step !== undefined ? `step ${row.step}` : null,
        ...metrics.map(([k, v]) => `${k}=${v}`)].filter(Boolean).join(", "));
    }
    const [deps, needed] = graphLinks(row);
    if (deps.length) add("depends on", jobLinks(deps, "xpm-deps"));
    if (needed.length) add("needed by", jobLinks(needed, "xpm-needed"));
    detail.appendChild(kv);
    if (row.progress && row.progress.length) {
      detail.appendChild(progressBars(row.progress, { compact: false, state: row.state }));
    }
    detail.appendChild(h("div", { class: "xpm-jt-detail-head", style: { marginTop: "6px" } },
      h("span", { class: "xpm-muted" }, "log"),
      streamButton("err", "stderr"), streamButton("out", "stdout"),
      h("span", { class: "xpm-muted xpm-mono xpm-ellipsis", title: logFile }, logFile)));
    const noLog = off ? "(no log: no kernel to read it)" : finished ? "(empty)" : "(nothing yet)";
    detail.appendChild(h("pre", { class: "xpm-log xpm-mono" }, logError || logText || noLog));
  }

  // --- messages ---------------------------------------------------------------
  function onRows(event) {
    for (const [old, row] of event.changed) {
      if (state.pending.has(row.k) && (!old || old.state !== row.state)) state.pending.delete(row.k);
      if (row.k === statusJob && FINISHED.has(row.state) && (!old || old.state !== row.state)) {
        // The action's outcome replaces "cancelling ...": the job's end, as it happened.
        const why = row.reason ? ` (${row.reason})` : "";
        showStatus(`${taskName(row)}: ${row.state}${why}`, true);
      }
    }
    if (event.tagsChanged) {
      renderHead();
      schedule(true, true);
    } else {
      schedule(true);
    }
  }
  cleanups.push(store.subscribe(onRows));

  function onMessage(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "log" && message.k === state.selected
        && (message.stream === state.logStream || state.logStream === "auto")) {
      // "auto" answered with lines: that stream from now on (else ask "auto" again).
      if (message.text) state.logStream = message.stream;
      logText = message.text || "";
      logError = message.error || "";
      logFile = message.file || "";
      schedule(false);
    } else if (message.type === "compare") {
      if (String(message.keys) === String(state.compared || [])) {
        state.compareResult = message;
        schedule(false);
      }
    } else if (message.type === "action") {
      state.pending.delete(message.k);
      const row = store.rows.get(message.k);
      const waits = message.ok && message.action === "cancel" && !(row && FINISHED.has(row.state));
      showStatus(message.message || "", message.ok, waits ? message.k : null);
      schedule(false, true);
    }
  }
  model.on("msg:custom", onMessage);
  cleanups.push(() => model.off && model.off("msg:custom", onMessage));

  // --- no kernel: inert -----------------------------------------------------------
  function applyLive() {
    const off = inert();
    store.live = !off;
    if (!off && record) record.seenLive = true;
    root.classList.toggle("xpm-inert", off);
    if (noteEl) noteEl.textContent = off ? inertNote(record) : "";
    renderCompareButton();
    if (off) {
      state.pending.clear();
      if (logTimer) clearInterval(logTimer);
      logTimer = null;
    }
    schedule(true, true);
  }
  watch.listeners.add(applyLive);
  cleanups.push(() => watch.listeners.delete(applyLive));

  // Durations of running jobs move on even when no message comes.
  const ticker = setInterval(() => {
    if (inert()) return; // no kernel: nothing moves
    for (const rowEl of pool) {
      const row = rowEl._row;
      if (!row || rowEl.style.display === "none" || FINISHED.has(row.state) || !row.started) continue;
      const cell = rowEl.querySelector(".xpm-c-duration");
      if (cell) cell.textContent = formatDuration(jobDuration(row, now()));
    }
  }, 1000);
  cleanups.push(() => clearInterval(ticker));

  filterInput.addEventListener("input", () => {
    state.filterTerms = filterInput.value.toLowerCase().split(/\s+/).filter(Boolean);
    schedule(true);
  });

  renderHead();
  applyLive();

  return () => {
    for (const fn of cleanups) fn();
    if (frame !== null) {
      if (frameIsTimeout) clearTimeout(frame);
      else cancelAnimationFrame(frame);
    }
    body.removeEventListener("scroll", onScroll);
    root.remove();
  };
}

export default { initialize, render };
