/**
 * The job table's columns, filter box, state chips and sorting: which rows the
 * view shows (`view.state.view`), in what order, and the header that says so.
 *
 * Concern: filter and sort happen here, in the browser, over the rows of the
 * store (./table_store.js); nothing is sent. The filter box takes space-separated
 * terms that must all match (text in task, state, reason, identifier or a tag
 * value; `tag=value`). The chips count the rows by state ("cancelled" apart from
 * "failed") and show one state at a click (`aria-pressed`). A click on a sortable
 * header (or Enter/Space: `aria-sort`) sorts by that column, a second click the
 * other way, a third goes back to submission order; empty values always come
 * last. Metric columns (./metrics.js) sort best first on the first click.
 *
 * Sets on the view (see ./job_table.js): `cols`, `renderHead()`, `recompute()`.
 */
import { STATES, STATE_LABELS, clear, h, jobDuration } from "./common.js";
import { onActivate } from "./keyboard.js";
import { metricColumns } from "./metrics.js";
import { countKey, taskName } from "./table_store.js";

const STATE_ORDER = Object.fromEntries(STATES.map((s, i) => [s, i]));
// Grid gap and padding of .xpm-jt-grid (common.js), for the table's least width.
const GRID_GAP = 10;
const GRID_PADDING = 20;

/** Order of two cell values (`dir` -1: descending); empty values last either way. */
export function compareValues(a, b, dir = 1) {
  const na = a === null || a === undefined || a === "";
  const nb = b === null || b === undefined || b === "";
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return dir * (a - b);
  const fa = Number(a);
  const fb = Number(b);
  if (!Number.isNaN(fa) && !Number.isNaN(fb)) return dir * (fa - fb);
  return dir * String(a).localeCompare(String(b));
}

/** Whether `row` matches one filter term (lower case): `tag=value`, or text anywhere. */
export function matchesTerm(row, term) {
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

/** The columns of the table now: `min` is a column's least width (px), `value` its sort key. */
function columns(view) {
  const cols = [
    { key: "state", label: "state", width: "92px", min: 92, value: (r) => STATE_ORDER[r.state] },
    { key: "task", label: "task", width: "minmax(90px, 1fr)", min: 90, value: (r) => taskName(r) },
  ];
  for (const name of view.store.tagNames) {
    cols.push({ key: `tag:${name}`, label: name, tag: name, width: "minmax(48px, 0.5fr)", min: 48,
      value: (r) => (r.tags || {})[name] });
  }
  cols.push(...metricColumns(view.store.metricNames));
  cols.push(
    { key: "progress", label: "progress", width: "minmax(140px, 2fr)", min: 140,
      value: (r) => (r.progress && r.progress.length ? r.progress[0][0] : r.state === "done" ? 1 : null) },
    { key: "duration", label: "duration", width: "72px", min: 72, value: (r) => jobDuration(r, view.now()) },
    { key: "actions", label: "", width: "80px", min: 80, value: null, title: "tick to compare; cancel or resubmit" },
  );
  return cols;
}

/** Click (or Enter/Space): sort (metrics: best first), again: the other way, a third: submission order. */
function nextSort(state, col) {
  const first = !!col.firstDesc;
  if (state.sortKey !== col.key) {
    state.sortKey = col.key;
    state.sortDesc = first;
  } else if (state.sortDesc === first) {
    state.sortDesc = !first;
  } else {
    state.sortKey = null; // third click: back to submission order
    state.sortDesc = false;
  }
}

function headCell(view, col) {
  const { state } = view;
  const title = col.title || (col.tag ? `tag ${col.tag}` : col.label);
  const cell = h("div", { title, class: col.metric ? "xpm-metric-head" : null, role: "columnheader",
    dataset: { col: col.key } }, col.label);
  if (!col.value) return cell;
  const sorted = state.sortKey === col.key;
  if (sorted) cell.classList.add("xpm-sorted");
  if (sorted && state.sortDesc) cell.classList.add("xpm-desc");
  cell.setAttribute("aria-sort", sorted ? (state.sortDesc ? "descending" : "ascending") : "none");
  cell.dataset.focus = `head:${col.key}`;
  const sort = () => {
    nextSort(state, col);
    view.renderHead();
    view.schedule(true);
  };
  cell.addEventListener("click", sort);
  onActivate(cell, sort);
  return cell;
}

function renderHeadNow(view) {
  const { head, body } = view.dom;
  view.cols = columns(view);
  const template = view.cols.map((c) => c.width).join(" ");
  head.style.gridTemplateColumns = template;
  const least = view.cols.reduce((a, c) => a + c.min, 0) + GRID_GAP * (view.cols.length - 1) + GRID_PADDING;
  head.style.minWidth = body.style.minWidth = `${least}px`;
  clear(head);
  for (const col of view.cols) head.appendChild(headCell(view, col));
  view.setRowTemplate(template); // the rows' cells change with the columns
}

/** The rows that pass the filters, sorted; `counts`: rows by chip, before the filters. */
function filteredRows(view) {
  const { state, store } = view;
  let rows = Array.from(store.rows.values());
  const counts = {};
  for (const r of rows) counts[countKey(r)] = (counts[countKey(r)] || 0) + 1;
  if (state.stateFilter) rows = rows.filter((r) => countKey(r) === state.stateFilter);
  const terms = state.filterTerms;
  if (terms.length) rows = rows.filter((r) => terms.every((t) => matchesTerm(r, t)));
  const col = state.sortKey ? view.cols.find((c) => c.key === state.sortKey) : null;
  if (col && col.value) {
    const keyed = rows.map((r) => [col.value(r), r]);
    const dir = state.sortDesc ? -1 : 1;
    keyed.sort((a, b) => compareValues(a[0], b[0], dir) || a[1].k - b[1].k);
    rows = keyed.map((x) => x[1]);
  } else if (!state.sortKey) {
    rows.sort((a, b) => a.k - b.k);
  }
  return [rows, counts];
}

function chip(view, s, counts) {
  const { state } = view;
  const el = h("span", {
    class: `xpm-chip xpm-state-${s}${state.stateFilter === s ? " xpm-active" : ""}`,
    title: `show only the ${STATE_LABELS[s] || s} jobs`,
    role: "button", "aria-pressed": String(state.stateFilter === s),
    dataset: { state: s, focus: `chip:${s}` },
  }, h("span", { class: "xpm-dot" }), `${STATE_LABELS[s] || s} ${counts[s].toLocaleString()}`);
  const toggle = () => setStateFilter(view, state.stateFilter === s ? null : s);
  el.addEventListener("click", toggle);
  onActivate(el, toggle);
  return el;
}

function renderChips(view, counts) {
  const { chips } = view.dom;
  clear(chips);
  const filtered = !!view.state.stateFilter;
  const all = h("span", { class: `xpm-chip${filtered ? "" : " xpm-active"}`, title: "every state",
    role: "button", "aria-pressed": String(!filtered), dataset: { focus: "chip:all" } },
  `all ${view.store.rows.size.toLocaleString()}`);
  all.addEventListener("click", () => setStateFilter(view, null));
  onActivate(all, () => setStateFilter(view, null));
  chips.appendChild(all);
  for (const s of [...STATES, "cancelled"]) if (counts[s]) chips.appendChild(chip(view, s, counts));
}

function setStateFilter(view, s) {
  view.state.stateFilter = s;
  view.schedule(true);
}

/** Wire the header, filter box and chips of `view`. */
export function installFilters(view) {
  view.cols = columns(view);
  view.renderHead = () => view.keepFocus(() => renderHeadNow(view));
  view.recompute = () => {
    const [rows, counts] = filteredRows(view);
    view.state.view = rows;
    renderChips(view, counts);
    const total = view.store.rows.size;
    view.dom.count.textContent = rows.length === total
      ? `${total.toLocaleString()} job${total === 1 ? "" : "s"}`
      : `${rows.length.toLocaleString()} of ${total.toLocaleString()} jobs`;
  };
  const input = view.dom.filterInput;
  input.addEventListener("input", () => {
    view.state.filterTerms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    view.schedule(true);
  });
}
