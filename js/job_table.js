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
 * "snapshot" (a snapshot message, see ./table_store.js: every row when the model was
 * created, so the first render needs no request; a model without it, like the
 * monitoring page's, is sent {type: "sync"} instead), "patch" (a patch message
 * likewise: the notebook widget sends its patches as changes of this key, so
 * that one update is one comm message; a server may send them as "msg:custom"
 * messages instead; the view takes both), "_xpm_id" (the model id: the rows of
 * a model are kept once for all its views, from the widget's `initialize`),
 * "metric_names" (names of the metrics the jobs logged: one column each, after the tags).
 *
 * The view's parts, one module each, and the messages each owns:
 *   ./table_store.js    the rows of a model (shared by its views): "snapshot" and
 *                       "patch" messages, `seq`, the compact table, {type: "sync"}
 *   ./table_filters.js  columns, filter box, state chips, sorting (`aria-sort`)
 *   ./table_rows.js     the virtualized rows and their cells, running durations
 *   ./table_detail.js   the selected job: facts, "depends on" / "needed by", its
 *                       log ({type: "log", ...} requests and answers)
 *   ./table_actions.js  cancel (asked twice) and resubmit: {type: "cancel"|"resubmit", k}
 *                       and their {type: "action", ...} answers; the status line
 *   ./table_compare.js  ticked rows compared: {type: "compare", keys} and its answer
 * This module wires them: the DOM skeleton, one render per animation frame, the
 * "no kernel" state. They share one `view` object (made in `render`):
 *   model, store, watch, dom (the skeleton's elements), state (filter, sort,
 *   selection, pending actions, ticks), cleanups, liveHooks (called with `off`
 *   when the kernel comes or goes), focusWanted (a `data-focus` key to focus on
 *   the next render), inert(), now(), send(message), onMessage(fn), keepFocus(fn),
 *   schedule(recompute, force); and what each part sets (see its header).
 *
 * A view whose kernel is gone (restarted; or a copy restored from the notebook
 * file) goes inert: a note says so, durations stop, every action is disabled
 * and nothing is sent (see `watchLive` in ./common.js).
 *
 * Keyboard (./keyboard.js): Tab reaches the sortable headers (`aria-sort`), the
 * state chips (`aria-pressed`) and the rows; Enter or Space sorts or filters, Enter
 * on a row opens (closes) its details, the arrows go to the next or previous row.
 * Every focusable element has a `data-focus` key, so the focus stays where it is
 * across live updates (the rows, chips and details are rebuilt).
 * Narrower than its columns, the table scrolls sideways (head and rows together).
 */
import { h, inertNote, sendIfLive, watchLive } from "./common.js";
import { modelRecord, registerModel } from "./saved_views.js";
import { ensureStyle } from "./style.js";
import { keepFocus } from "./keyboard.js";
import { installActions } from "./table_actions.js";
import { installCompare } from "./table_compare.js";
import { installDetail } from "./table_detail.js";
import { installFilters } from "./table_filters.js";
import { installRows } from "./table_rows.js";
import { RowStore, connectStore } from "./table_store.js";

// The row protocol and a cell helper, for the tests (tests/browser: a bundle exports its entry's names only).
export { RowStore, decodeTable, encodeTable } from "./table_store.js";
export { stoppedAt } from "./table_rows.js";

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

/** The table's elements, in page order (each part fills its own). */
function skeleton(note) {
  const dom = {
    filterInput: h("input", {
      class: "xpm-jt-filter",
      type: "search",
      placeholder: "filter: text or tag=value",
      title: "Space-separated terms, all must match: text in task, state, reason or identifier, or tag=value",
    }),
    chips: h("div", { class: "xpm-jt-chips" }),
    count: h("span", { class: "xpm-jt-count xpm-muted" }),
    status: h("div", { class: "xpm-jt-status xpm-muted" }),
    compareButton: h("button", { type: "button", class: "xpm-jt-compare", style: { display: "none" },
      title: "what differs between the ticked jobs' configurations, and their metrics" }, "compare"),
    comparePanel: h("div", { class: "xpm-cmp", style: { display: "none" } }),
    head: h("div", { class: "xpm-jt-grid xpm-jt-head" }),
    spacer: h("div", { class: "xpm-jt-spacer" }),
    empty: h("div", { class: "xpm-jt-empty xpm-muted" }, "waiting for the job list…"),
    detail: h("div", { class: "xpm-jt-detail", style: { display: "none" } }),
    noteEl: note ? h("div", { class: "xpm-note xpm-inert-note" }) : null,
  };
  dom.body = h("div", { class: "xpm-jt-body" }, dom.spacer);
  const toolbar = h("div", { class: "xpm-jt-toolbar" },
    dom.filterInput, dom.chips, dom.compareButton, dom.count, dom.status);
  // Head and rows scroll sideways together when the columns do not fit (a narrow output).
  const scroller = h("div", { class: "xpm-jt-scroll" }, dom.head, dom.body);
  dom.root = h("div", { class: "xpm-root xpm-jt" },
    dom.noteEl, toolbar, dom.comparePanel, scroller, dom.empty, dom.detail);
  return dom;
}

/** What the parts of one table view share (see "The view's parts" above). */
function newView(model, store, watch, dom) {
  const view = {
    model, store, watch, dom, cols: [], cleanups: [], liveHooks: [], focusWanted: null,
    state: {
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
    },
    inert: () => !watch.live,
    now: () => (view.inert() && watch.frozenAt ? watch.frozenAt : Date.now() / 1000) + store.clockOffset,
    // Every request goes through here: none once the kernel is gone.
    send: (message) => sendIfLive(model, watch, message),
    keepFocus: (fn, wanted = null) => keepFocus(dom.root, fn, wanted),
    onMessage: (fn) => {
      const handler = (message) => message && typeof message === "object" && fn(message);
      model.on("msg:custom", handler);
      view.cleanups.push(() => model.off && model.off("msg:custom", handler));
    },
  };
  return view;
}

/** `view.schedule`: one render per animation frame, whatever the number of messages. */
function frameScheduler(view) {
  let frame = null;
  let frameIsTimeout = false;
  let needRecompute = false;
  let needForce = false;
  const run = () => {
    frame = null;
    const wanted = view.focusWanted;
    view.focusWanted = null;
    // Rows, chips and the detail panel are rebuilt: the focus stays on what it was on.
    view.keepFocus(() => {
      if (needRecompute) view.recompute();
      view.renderRows(needForce);
      view.renderDetail();
      view.renderComparePanel();
    }, wanted);
    needRecompute = needForce = false;
  };
  view.schedule = (recomputeView, force) => {
    needRecompute = needRecompute || !!recomputeView;
    needForce = needForce || !!force;
    if (frame !== null) return;
    // A hidden tab runs no animation frames: a timeout keeps the table current.
    frameIsTimeout = typeof requestAnimationFrame !== "function" || document.visibilityState === "hidden";
    frame = frameIsTimeout ? setTimeout(run, 16) : requestAnimationFrame(run);
  };
  return () => {
    if (frame === null) return;
    if (frameIsTimeout) clearTimeout(frame);
    else cancelAnimationFrame(frame);
  };
}

/** The kernel came or went: a view without one is inert (see ./common.js `watchLive`). */
function applyLive(view, record) {
  const off = view.inert();
  view.store.live = !off;
  if (!off && record) record.seenLive = true;
  view.dom.root.classList.toggle("xpm-inert", off);
  if (view.dom.noteEl) view.dom.noteEl.textContent = off ? inertNote(record) : "";
  for (const hook of view.liveHooks) hook(off);
  view.schedule(true, true);
}

/**
 * Render the table of `model` into `el`. Options: `store` (the rows, shared by
 * the model's views; found from the model or made here), `watch` (a `watchLive`
 * of the enclosing view), `note` (false: the enclosing view shows the note),
 * `api` (an object given `open(k)`, `store` and `detail`, the panel's element).
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
  if (!watch) {
    watch = watchLive(model, el);
    cleanups.push(() => watch.stop());
  }
  const view = newView(model, store, watch, skeleton(note));
  view.cleanups.push(...cleanups);
  el.appendChild(view.dom.root);
  const cancelFrame = frameScheduler(view);
  installFilters(view);
  installActions(view);
  installCompare(view);
  installRows(view);
  installDetail(view);
  if (api) Object.assign(api, { open: view.open, store, detail: view.dom.detail });
  view.cleanups.push(store.subscribe((event) => {
    if (event.tagsChanged) view.renderHead();
    view.schedule(true, !!event.tagsChanged);
  }));
  const onLive = () => applyLive(view, record);
  watch.listeners.add(onLive);
  view.cleanups.push(() => watch.listeners.delete(onLive));
  view.renderHead();
  onLive();
  return () => {
    for (const fn of view.cleanups) fn();
    cancelFrame();
    view.dom.root.remove();
  };
}

export default { initialize, render };
