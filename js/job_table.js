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
 * "patch" (a patch message as below: the notebook widget sends its patches as
 * changes of this key, so that one update is one comm message; a server may
 * send them as "msg:custom" messages instead; the view takes both).
 *
 * Requests the view sends (kernel side: xpm_nb.widgets.rows.JobTableState.handle):
 *   {type: "sync"}                              every row, please (sent once at start)
 *   {type: "log", k, stream: "err"|"out", lines} the tail of a job's log
 *   {type: "cancel", k}   {type: "resubmit", k}  act on a job through the scheduler
 * Messages the view handles (model "msg:custom"):
 *   {type: "snapshot", rows: [Row], tag_names, now}  replaces every row
 *   {type: "patch", rows: [Row], tag_names?, now}    rows that changed or are new
 *   {type: "log", k, stream, text, file} or {type: "log", k, stream, error}
 *   {type: "action", action, k, ok, message}         the answer to cancel/resubmit
 * Row = {k: int key, id: identifier (hex), task: type id, name: class name,
 *        state: JobState value
 *        ("waiting", "ready", "scheduled", "running", "done", "error", "unscheduled"),
 *        reason: failure reason or null, code: exit code or null,
 *        progress: [[fraction 0..1, desc or null], ...] (index = nesting level),
 *        tags: {name: value}, submitted, started, ended: epoch seconds or null,
 *        retries: int, path: job folder}
 * `now` is the sender's clock (epoch seconds), used to show running durations.
 *
 * Only the visible rows are in the DOM (fixed row height, a spacer for the
 * scroll height), so 10,000 jobs scroll, filter and sort smoothly. Filter and
 * sort happen here, in the browser.
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
  jobDuration,
  progressBars,
  shortTask,
  stateBadge,
} from "./common.js";

const ROW_HEIGHT = 30; // px; must match .xpm-jt-row in common.js
const VISIBLE_ROWS = 14; // rows shown before the body scrolls
const OVERSCAN = 6; // rows rendered above and below the visible ones
const LOG_REFRESH_MS = 2000;
const STATE_ORDER = Object.fromEntries(STATES.map((s, i) => [s, i]));

function compareValues(a, b) {
  const na = a === null || a === undefined || a === "";
  const nb = b === null || b === undefined || b === "";
  if (na || nb) return na === nb ? 0 : na ? 1 : -1; // empty values last
  if (typeof a === "number" && typeof b === "number") return a - b;
  const fa = Number(a);
  const fb = Number(b);
  if (!Number.isNaN(fa) && !Number.isNaN(fb)) return fa - fb;
  return String(a).localeCompare(String(b));
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

function render({ model, el }) {
  ensureStyle(el);
  const cleanups = [];
  const listen = (event, callback) => {
    model.on(event, callback);
    cleanups.push(() => model.off && model.off(event, callback));
  };

  const state = {
    rows: new Map(), // k -> row
    view: [], // rows after filter and sort
    tagNames: model.get("tag_names") || [],
    filterTerms: [],
    stateFilter: null,
    sortKey: null, // null: submission order
    sortDesc: false,
    selected: null, // k
    clockOffset: 0, // sender's clock - ours, seconds
    logStream: "err",
    pending: new Set(), // keys with an action under way
    received: false,
  };
  const now = () => Date.now() / 1000 + state.clockOffset;

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
  const toolbar = h("div", { class: "xpm-jt-toolbar" }, filterInput, chips, count, status);
  const head = h("div", { class: "xpm-jt-grid xpm-jt-head" });
  const spacer = h("div", { class: "xpm-jt-spacer" });
  const body = h("div", { class: "xpm-jt-body" }, spacer);
  const empty = h("div", { class: "xpm-jt-empty xpm-muted" }, "waiting for the job list…");
  const detail = h("div", { class: "xpm-jt-detail", style: { display: "none" } });
  const root = h("div", { class: "xpm-root xpm-jt" }, toolbar, head, body, empty, detail);
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
    const cols = [
      { key: "state", label: "state", width: "92px", value: (r) => STATE_ORDER[r.state] },
      { key: "task", label: "task", width: "minmax(90px, 1fr)", value: (r) => taskName(r) },
    ];
    for (const name of state.tagNames) {
      cols.push({ key: `tag:${name}`, label: name, tag: name, width: "minmax(48px, 0.5fr)",
        value: (r) => (r.tags || {})[name] });
    }
    cols.push(
      { key: "progress", label: "progress", width: "minmax(140px, 2fr)",
        value: (r) => (r.progress && r.progress.length ? r.progress[0][0] : r.state === "done" ? 1 : null) },
      { key: "duration", label: "duration", width: "72px", value: (r) => jobDuration(r, now()) },
      { key: "actions", label: "", width: "62px", value: null },
    );
    return cols;
  }
  let cols = columns();

  function renderHead() {
    cols = columns();
    const template = cols.map((c) => c.width).join(" ");
    head.style.gridTemplateColumns = template;
    clear(head);
    for (const c of cols) {
      const cell = h("div", { title: c.tag ? `tag ${c.tag}` : c.label, dataset: { col: c.key } }, c.label);
      if (c.value) {
        if (state.sortKey === c.key) cell.classList.add("xpm-sorted");
        if (state.sortKey === c.key && state.sortDesc) cell.classList.add("xpm-desc");
        cell.addEventListener("click", () => {
          if (state.sortKey !== c.key) {
            state.sortKey = c.key;
            state.sortDesc = false;
          } else if (!state.sortDesc) {
            state.sortDesc = true;
          } else {
            state.sortKey = null; // third click: back to submission order
            state.sortDesc = false;
          }
          renderHead();
          schedule(true);
        });
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
    let rows = Array.from(state.rows.values());
    const counts = {};
    for (const r of rows) counts[r.state] = (counts[r.state] || 0) + 1;
    if (state.stateFilter) rows = rows.filter((r) => r.state === state.stateFilter);
    if (terms.length) rows = rows.filter((r) => terms.every((t) => matchesTerm(r, t)));
    if (state.sortKey) {
      const col = cols.find((c) => c.key === state.sortKey);
      if (col && col.value) {
        const keyed = rows.map((r) => [col.value(r), r]);
        keyed.sort((a, b) => compareValues(a[0], b[0]) || a[1].k - b[1].k);
        if (state.sortDesc) keyed.reverse();
        rows = keyed.map((x) => x[1]);
      }
    } else {
      rows.sort((a, b) => a.k - b.k);
    }
    state.view = rows;
    renderChips(counts);
    const total = state.rows.size;
    count.textContent = rows.length === total
      ? `${total.toLocaleString()} job${total === 1 ? "" : "s"}`
      : `${rows.length.toLocaleString()} of ${total.toLocaleString()} jobs`;
  }

  function renderChips(counts) {
    clear(chips);
    const all = h("span", { class: `xpm-chip${state.stateFilter ? "" : " xpm-active"}`, title: "every state" },
      `all ${state.rows.size.toLocaleString()}`);
    all.addEventListener("click", () => setStateFilter(null));
    chips.appendChild(all);
    for (const s of STATES) {
      if (!counts[s]) continue;
      const chip = h("span", {
        class: `xpm-chip xpm-state-${s}${state.stateFilter === s ? " xpm-active" : ""}`,
        title: `show only the ${STATE_LABELS[s]} jobs`,
        dataset: { state: s },
      }, h("span", { class: "xpm-dot" }), `${STATE_LABELS[s]} ${counts[s].toLocaleString()}`);
      chip.addEventListener("click", () => setStateFilter(state.stateFilter === s ? null : s));
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
      const rowEl = h("div", { class: "xpm-jt-grid xpm-jt-row" });
      rowEl.style.gridTemplateColumns = head.style.gridTemplateColumns;
      rowEl.addEventListener("click", () => {
        if (rowEl._row) select(rowEl._row.k);
      });
      body.appendChild(rowEl);
      pool.push(rowEl);
    }
    return pool[i];
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
    state.pending.add(k);
    model.send({ type: action, k });
    const row = state.rows.get(k);
    showStatus(`${action} ${row ? taskName(row) : k}…`, true);
    schedule(false, true);
  }

  function fillRow(rowEl, row) {
    clear(rowEl);
    rowEl.dataset.k = String(row.k);
    rowEl.dataset.state = row.state;
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
      } else if (c.key === "progress") {
        cell = h("div", { class: "xpm-c-progress" }, progressBars(row.progress, { state: row.state }));
      } else if (c.key === "duration") {
        cell = h("div", { class: "xpm-c-duration xpm-mono" }, formatDuration(jobDuration(row, now())));
      } else {
        const pending = state.pending.has(row.k);
        cell = h("div", { class: "xpm-actions" });
        let button = null;
        if (!finished) {
          button = actionButton("✕", "cancel this job", "xpm-danger xpm-cancel", () => act("cancel", row.k));
        } else if (row.state === "error") {
          button = actionButton("↻", "resubmit this job", "xpm-resubmit", () => act("resubmit", row.k));
        }
        if (button) {
          button.disabled = pending;
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
    if (n === 0) empty.textContent = state.received
      ? (state.rows.size ? "no job matches the filter" : "no jobs yet")
      : "waiting for the job list…";
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
      if (needRecompute) recompute();
      renderRows(needForce);
      renderDetail();
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
    model.send({ type: "log", k: state.selected, stream: state.logStream, lines: 40 });
  }
  function select(k) {
    state.selected = state.selected === k ? null : k;
    logText = logError = logFile = "";
    if (logTimer) clearInterval(logTimer);
    logTimer = null;
    if (state.selected !== null) {
      requestLog();
      logTimer = setInterval(() => {
        const row = state.rows.get(state.selected);
        if (row && !FINISHED.has(row.state)) requestLog();
      }, LOG_REFRESH_MS);
    }
    schedule(false, true);
  }
  cleanups.push(() => logTimer && clearInterval(logTimer));

  function renderDetail() {
    const row = state.selected === null ? null : state.rows.get(state.selected);
    if (!row) {
      detail.style.display = "none";
      return;
    }
    detail.style.display = "";
    clear(detail);
    const finished = FINISHED.has(row.state);
    const pending = state.pending.has(row.k);
    const cancel = h("button", { type: "button", class: "xpm-danger xpm-detail-cancel", disabled: finished || pending },
      "cancel");
    cancel.addEventListener("click", () => act("cancel", row.k));
    const resubmit = h("button", { type: "button", class: "xpm-detail-resubmit", disabled: row.state !== "error" || pending },
      "resubmit");
    resubmit.addEventListener("click", () => act("resubmit", row.k));
    const streamButton = (stream, label) => {
      const active = state.logStream === stream;
      const b = h("button", { type: "button", class: active ? "xpm-active" : "", "aria-pressed": String(active) },
        label);
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
      h("button", { type: "button", title: "close", onclick: () => select(row.k) }, "×")));
    if (row.reason) detail.appendChild(h("div", { class: "xpm-reason" }, row.reason));
    const kv = h("div", { class: "xpm-kv" });
    const add = (key, value, extra) => {
      kv.appendChild(h("div", {}, key));
      kv.appendChild(h("div", { title: String(value) }, value, extra));
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
    detail.appendChild(kv);
    if (row.progress && row.progress.length) {
      detail.appendChild(progressBars(row.progress, { compact: false, state: row.state }));
    }
    detail.appendChild(h("div", { class: "xpm-jt-detail-head", style: { marginTop: "6px" } },
      h("span", { class: "xpm-muted" }, "log"),
      streamButton("err", "stderr"), streamButton("out", "stdout"),
      h("span", { class: "xpm-muted xpm-mono xpm-ellipsis", title: logFile }, logFile)));
    detail.appendChild(h("pre", { class: "xpm-log xpm-mono" },
      logError || logText || (finished ? "(empty)" : "(nothing yet)")));
  }

  // --- messages ---------------------------------------------------------------
  function applyRows(rows) {
    for (const row of rows) {
      const old = state.rows.get(row.k);
      if (state.pending.has(row.k) && (!old || old.state !== row.state)) state.pending.delete(row.k);
      state.rows.set(row.k, row);
      if (row.k === statusJob && FINISHED.has(row.state) && (!old || old.state !== row.state)) {
        // The action's outcome replaces "cancelling ...": the job's end, as it happened.
        const why = row.reason ? ` (${row.reason})` : "";
        showStatus(`${taskName(row)}: ${row.state}${why}`, true);
      }
    }
  }
  function onMessage(message) {
    if (!message || typeof message !== "object") return;
    if (typeof message.now === "number") state.clockOffset = message.now - Date.now() / 1000;
    if (message.type === "snapshot" || message.type === "patch") {
      if (message.type === "snapshot") state.rows = new Map();
      applyRows(message.rows || []);
      state.received = true;
      if (message.tag_names && String(message.tag_names) !== String(state.tagNames)) {
        state.tagNames = message.tag_names;
        renderHead();
      }
      schedule(true);
    } else if (message.type === "log" && message.k === state.selected && message.stream === state.logStream) {
      logText = message.text || "";
      logError = message.error || "";
      logFile = message.file || "";
      schedule(false);
    } else if (message.type === "action") {
      state.pending.delete(message.k);
      const row = state.rows.get(message.k);
      const waits = message.ok && message.action === "cancel" && !(row && FINISHED.has(row.state));
      showStatus(message.message || "", message.ok, waits ? message.k : null);
      schedule(false, true);
    }
  }
  listen("msg:custom", onMessage);
  listen("change:patch", () => onMessage(model.get("patch")));
  listen("change:tag_names", () => {
    const names = model.get("tag_names") || [];
    if (String(names) !== String(state.tagNames)) {
      state.tagNames = names;
      renderHead();
      schedule(true, true);
    }
  });

  // Durations of running jobs move on even when no message comes.
  const ticker = setInterval(() => {
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
  schedule(true);
  model.send({ type: "sync" });

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

export default { render };
