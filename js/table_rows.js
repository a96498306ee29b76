/**
 * The job table's rows: virtualized row elements and their cells.
 *
 * Concern: showing `view.state.view` (./table_filters.js). Only the visible rows
 * are in the DOM (fixed row height, a spacer for the scroll height), pooled and
 * refilled as the body scrolls, so 10,000 jobs scroll smoothly. Cells: the state
 * badge, the task, one per tag, one per metric (./metrics.js), the progress bars
 * (a job with metrics but no progress bar shows its step and last values
 * instead; a failed one says how far it got), the duration (moving on each second
 * for running jobs, frozen without a kernel) and the actions (a tick box to
 * compare, ./table_compare.js; cancel or resubmit, ./table_actions.js).
 * Keyboard: a row is focusable; Enter opens (closes) its details, the arrows go
 * to the next or previous row. Nothing is sent from here.
 *
 * Sets on the view (see ./job_table.js): `renderRows(force)`, `setRowTemplate(t)`,
 * `scrollToRow(k)`.
 */
import { FINISHED, clear, formatDuration, h, jobDuration, progressBars, stateBadge } from "./common.js";
import { onActivate } from "./keyboard.js";
import { metricCell, metricSummary, showsMetricsInstead } from "./metrics.js";
import { taskName } from "./table_store.js";

export const ROW_HEIGHT = 30; // px; must match .xpm-jt-row in common.js
const VISIBLE_ROWS = 14; // rows shown before the body scrolls
const OVERSCAN = 6; // rows rendered above and below the visible ones
const TICK_MS = 1000; // running durations move on this often

/** The progress cell's hover of a failed or cancelled job: how far it got ("" otherwise). */
export function stoppedAt(row) {
  const levels = row.progress || [];
  if (row.state !== "error" || !levels.length) return "";
  const pct = Math.round(Math.max(0, Math.min(1, Number(levels[0][0]) || 0)) * 100);
  const how = row.reason === "cancelled" ? "cancelled" : "failed";
  return `${how} at ${pct}%${levels[0][1] ? ` (${levels[0][1]})` : ""}: the last progress it reported`;
}

function actionsCell(view, row) {
  const cell = h("div", { class: "xpm-actions" });
  cell.appendChild(view.pickBox(row));
  let button = null;
  if (!FINISHED.has(row.state)) {
    button = view.cancelButton(row, "xpm-cancel", "✕", `row:${row.k}:cancel`);
  } else if (row.state === "error") {
    button = view.actionButton("↻", "resubmit this job", "xpm-resubmit", () => view.act("resubmit", row.k));
    button.dataset.focus = `row:${row.k}:resubmit`;
  }
  if (button) {
    button.disabled = view.state.pending.has(row.k) || view.inert();
    cell.appendChild(button);
  }
  return cell;
}

function cell(view, col, row) {
  if (col.key === "state") return h("div", { class: "xpm-c-state" }, stateBadge(row.state, row.reason));
  if (col.key === "task") return h("div", { class: "xpm-c-task", title: `${row.task}\n${row.id}` }, taskName(row));
  if (col.tag !== undefined) {
    const v = (row.tags || {})[col.tag];
    return h("div", { class: "xpm-c-tag xpm-mono" }, v === undefined || v === null ? "" : String(v));
  }
  if (col.metric !== undefined) return metricCell(row, col.metric);
  if (col.key === "progress") {
    // A job that logs only metrics has no bar to show: its step and last values instead.
    return h("div", { class: "xpm-c-progress", title: stoppedAt(row) }, showsMetricsInstead(row)
      ? metricSummary(row) : progressBars(row.progress, { state: row.state }));
  }
  if (col.key === "duration") {
    return h("div", { class: "xpm-c-duration xpm-mono" }, formatDuration(jobDuration(row, view.now())));
  }
  return actionsCell(view, row);
}

function fillRow(view, rowEl, row) {
  clear(rowEl);
  const selected = row.k === view.state.selected;
  rowEl.dataset.k = String(row.k);
  rowEl.dataset.state = row.state;
  rowEl.dataset.focus = `row:${row.k}`;
  rowEl.setAttribute("aria-selected", String(selected));
  rowEl.classList.toggle("xpm-selected", selected);
  for (const col of view.cols) rowEl.appendChild(cell(view, col, row));
  rowEl._row = row;
}

/** A new pooled row element: a click or Enter opens the details, the arrows move. */
function newRowElement(view) {
  const rowEl = h("div", { class: "xpm-jt-grid xpm-jt-row", tabindex: "0", role: "row" });
  rowEl.style.gridTemplateColumns = view.dom.head.style.gridTemplateColumns;
  rowEl.addEventListener("click", () => {
    if (rowEl._row) view.select(rowEl._row.k);
  });
  onActivate(rowEl, () => rowEl._row && view.select(rowEl._row.k), { space: false });
  rowEl.addEventListener("keydown", (event) => {
    if (event.target !== rowEl || !rowEl._row || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
    event.preventDefault();
    moveFocus(view, rowEl._row.k, event.key === "ArrowDown" ? 1 : -1);
  });
  return rowEl;
}

/** Focus the row `step` rows after row `k` in the view (scrolled into sight). */
function moveFocus(view, k, step) {
  const { body } = view.dom;
  const i = view.state.view.findIndex((r) => r.k === k) + step;
  if (i < 0 || i >= view.state.view.length) return;
  const top = i * ROW_HEIGHT;
  if (top < body.scrollTop) body.scrollTop = top;
  else if (top + ROW_HEIGHT > body.scrollTop + body.clientHeight) body.scrollTop = top + ROW_HEIGHT - body.clientHeight;
  view.focusWanted = `row:${view.state.view[i].k}`;
  view.schedule(false);
}

function emptyText(view) {
  const { store } = view;
  if (store.received) return store.rows.size ? "no job matches the filter" : "no jobs yet";
  return view.inert() ? "no job list (no kernel)" : "waiting for the job list…";
}

function renderRows(view, pool, force) {
  const { body, spacer, empty } = view.dom;
  const rows = view.state.view;
  const n = rows.length;
  const visible = Math.min(Math.max(n, 1), VISIBLE_ROWS);
  body.style.height = `${n === 0 ? 0 : visible * ROW_HEIGHT + 2}px`;
  spacer.style.height = `${n * ROW_HEIGHT}px`;
  empty.style.display = n === 0 ? "" : "none";
  if (n === 0) empty.textContent = emptyText(view);
  const first = Math.max(0, Math.floor(body.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(n, first + VISIBLE_ROWS + 2 * OVERSCAN);
  let used = 0;
  for (let i = first; i < last; i++) {
    while (pool.length <= used) pool.push(body.appendChild(newRowElement(view)));
    const rowEl = pool[used++];
    rowEl.style.display = "";
    rowEl.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
    if (force || rowEl._row !== rows[i]) fillRow(view, rowEl, rows[i]);
  }
  for (let i = used; i < pool.length; i++) {
    pool[i].style.display = "none";
    pool[i]._row = null;
  }
}

/** Durations of running jobs move on even when no message comes (not without a kernel). */
function tickDurations(view, pool) {
  if (view.inert()) return;
  for (const rowEl of pool) {
    const row = rowEl._row;
    if (!row || rowEl.style.display === "none" || FINISHED.has(row.state) || !row.started) continue;
    const durationCell = rowEl.querySelector(".xpm-c-duration");
    if (durationCell) durationCell.textContent = formatDuration(jobDuration(row, view.now()));
  }
}

/** Wire the rows of `view`: the pool, the scrolling, the durations' ticker. */
export function installRows(view) {
  const pool = [];
  const { body } = view.dom;
  view.renderRows = (force) => renderRows(view, pool, force);
  view.setRowTemplate = (template) => {
    for (const rowEl of pool) {
      rowEl.style.gridTemplateColumns = template;
      rowEl._row = null; // cells change with the columns: rebuild
    }
  };
  view.scrollToRow = (k) => {
    const i = view.state.view.findIndex((r) => r.k === k);
    if (i < 0) return;
    const top = i * ROW_HEIGHT;
    if (top < body.scrollTop || top + ROW_HEIGHT > body.scrollTop + body.clientHeight) body.scrollTop = top;
  };
  const onScroll = () => view.schedule(false);
  body.addEventListener("scroll", onScroll, { passive: true });
  view.cleanups.push(() => body.removeEventListener("scroll", onScroll));
  const ticker = setInterval(() => tickDurations(view, pool), TICK_MS);
  view.cleanups.push(() => clearInterval(ticker));
}
