/**
 * The job table's detail panel: the selected job's facts, its place in the task
 * graph, its actions and the tail of its log.
 *
 * Concern: the selection (a click or Enter on a row opens it, again closes it)
 * and the {type: "log", k, stream: "err"|"out"|"auto", lines} request (kernel
 * side: xpm_nb.widgets.rows.JobTableState.handle; "auto": stderr, or stdout when
 * stderr is empty, then that stream stays), asked again every LOG_REFRESH_MS while
 * the job runs; its answer is {type: "log", k, stream, text, file} or
 * {type: "log", k, stream, error}. The panel lists the jobs the selected one
 * depends on ("depends on", from `deps`) and those that depend on it ("needed
 * by"); a click opens that job. Cancel (asked twice) and resubmit go through
 * ./table_actions.js. Without a kernel the log is not asked and actions are off.
 *
 * Sets on the view (see ./job_table.js): `select(k)` (toggles), `open(k)` (never
 * closes), `renderDetail()`.
 */
import { FINISHED, clear, copyButton, formatTime, h, progressBars, stateBadge } from "./common.js";
import { countKey, taskName } from "./table_store.js";

const LOG_REFRESH_MS = 2000;
const LOG_LINES = 40;
const MAX_LINKS = 50; // jobs listed under "depends on" / "needed by"; the rest are counted

/** The jobs `row` depends on, and those that depend on it (rows of this table). */
function graphLinks(store, row) {
  const deps = (row.deps || []).map((k) => store.rows.get(k)).filter(Boolean);
  const needed = [];
  for (const r of store.rows.values()) if (r.deps && r.deps.includes(row.k)) needed.push(r);
  needed.sort((a, b) => a.k - b.k);
  return [deps, needed];
}

function jobLinks(view, rows, cls) {
  const list = h("div", { class: `xpm-dep-list ${cls}` });
  const shown = rows.slice(0, MAX_LINKS);
  for (const r of shown) {
    const link = h("button", { type: "button", class: `xpm-dep-link xpm-state-${countKey(r)}`,
      title: `${r.task}\n${r.id}\n${r.state}${r.reason ? `: ${r.reason}` : ""}`,
      dataset: { k: String(r.k), focus: `${cls}:${r.k}` } },
    h("span", { class: "xpm-dot" }), `${taskName(r)} ${r.id.slice(0, 8)}`);
    link.addEventListener("click", () => {
      view.open(r.k);
      view.focusWanted = `row:${r.k}`;
    });
    list.appendChild(link);
  }
  if (rows.length > shown.length) list.appendChild(h("span", { class: "xpm-muted" }, `+${rows.length - shown.length} more`));
  return list;
}

function detailHead(view, row) {
  const pending = view.state.pending.has(row.k);
  const off = view.inert();
  const cancel = view.cancelButton(row, "xpm-detail-cancel", "cancel", "detail:cancel");
  cancel.disabled = FINISHED.has(row.state) || pending || off;
  const resubmit = h("button", { type: "button", class: "xpm-detail-resubmit", dataset: { focus: "detail:resubmit" },
    disabled: row.state !== "error" || pending || off }, "resubmit");
  resubmit.addEventListener("click", () => view.act("resubmit", row.k));
  const close = h("button", { type: "button", title: "close", "aria-label": "close the details",
    dataset: { focus: "detail:close" },
    onclick: () => {
      view.focusWanted = `row:${row.k}`;
      view.select(row.k);
    } }, "×");
  return h("div", { class: "xpm-jt-detail-head" },
    stateBadge(row.state, row.reason),
    h("b", {}, taskName(row)),
    h("code", { class: "xpm-muted", title: row.id }, `${row.id.slice(0, 12)}…`),
    h("span", { class: "xpm-grow" }),
    cancel, resubmit, close);
}

/** The key-value facts of `row`, the graph links among them. */
function detailFacts(view, row) {
  const kv = h("div", { class: "xpm-kv" });
  const add = (key, value, extra) => {
    kv.appendChild(h("div", {}, key));
    kv.appendChild(h("div", { title: typeof value === "string" ? value : null }, value, extra));
  };
  const known = (x) => x !== null && x !== undefined;
  add("task", row.task);
  add("folder", h("code", {}, row.path), copyButton(() => row.path));
  if (row.submitted) add("submitted", formatTime(row.submitted));
  if (row.started) add("started", formatTime(row.started));
  if (row.ended) add("ended", formatTime(row.ended));
  if (known(row.code)) add("exit code", String(row.code));
  if (row.retries) add("retries", String(row.retries));
  const tags = Object.entries(row.tags || {});
  if (tags.length) add("tags", tags.map(([k, v]) => `${k}=${v}`).join(", "));
  const metrics = Object.entries(row.metrics || {});
  if (metrics.length || known(row.step)) {
    add("metrics", [known(row.step) ? `step ${row.step}` : null,
      ...metrics.map(([k, v]) => `${k}=${v}`)].filter(Boolean).join(", "));
  }
  const [deps, needed] = graphLinks(view.store, row);
  if (deps.length) add("depends on", jobLinks(view, deps, "xpm-deps"));
  if (needed.length) add("needed by", jobLinks(view, needed, "xpm-needed"));
  return kv;
}

/** The log's head (stream buttons, file) and text. */
function logSection(view, log, row) {
  const off = view.inert();
  const streamButton = (stream, label) => {
    const active = view.state.logStream === stream;
    const b = h("button", { type: "button", class: active ? "xpm-active" : "", "aria-pressed": String(active),
      disabled: off, dataset: { focus: `detail:${stream}` } }, label);
    b.addEventListener("click", () => {
      view.state.logStream = stream;
      log.text = log.error = "";
      log.request();
      view.schedule(false);
    });
    return b;
  };
  const head = h("div", { class: "xpm-jt-detail-head", style: { marginTop: "6px" } },
    h("span", { class: "xpm-muted" }, "log"),
    streamButton("err", "stderr"), streamButton("out", "stdout"),
    h("span", { class: "xpm-muted xpm-mono xpm-ellipsis", title: log.file }, log.file));
  const noLog = off ? "(no log: no kernel to read it)" : FINISHED.has(row.state) ? "(empty)" : "(nothing yet)";
  return [head, h("pre", { class: "xpm-log xpm-mono" }, log.error || log.text || noLog)];
}

function renderDetail(view, log) {
  const { detail } = view.dom;
  const row = view.state.selected === null ? null : view.store.rows.get(view.state.selected);
  if (!row) {
    detail.style.display = "none";
    return;
  }
  detail.style.display = "";
  clear(detail);
  detail.appendChild(detailHead(view, row));
  if (row.reason) detail.appendChild(h("div", { class: "xpm-reason" }, row.reason));
  detail.appendChild(detailFacts(view, row));
  if (row.progress && row.progress.length) {
    detail.appendChild(progressBars(row.progress, { compact: false, state: row.state }));
  }
  for (const part of logSection(view, log, row)) detail.appendChild(part);
}

/** The selected job's log: what came, and the timer asking again while it runs. */
function logTail(view) {
  const log = { text: "", error: "", file: "", timer: null };
  log.request = () => {
    if (view.state.selected === null) return;
    view.send({ type: "log", k: view.state.selected, stream: view.state.logStream, lines: LOG_LINES });
  };
  log.stop = () => {
    if (log.timer) clearInterval(log.timer);
    log.timer = null;
  };
  log.start = () => {
    log.request();
    log.timer = setInterval(() => {
      const row = view.store.rows.get(view.state.selected);
      if (row && !FINISHED.has(row.state)) log.request();
    }, LOG_REFRESH_MS);
  };
  log.take = (message) => {
    const { state } = view;
    if (message.type !== "log" || message.k !== state.selected) return;
    if (message.stream !== state.logStream && state.logStream !== "auto") return;
    // "auto" answered with lines: that stream from now on (else ask "auto" again).
    if (message.text) state.logStream = message.stream;
    log.text = message.text || "";
    log.error = message.error || "";
    log.file = message.file || "";
    view.schedule(false);
  };
  view.cleanups.push(log.stop);
  return log;
}

/** Wire the detail panel of `view`. */
export function installDetail(view) {
  const { state } = view;
  const log = logTail(view);
  view.select = (k) => {
    state.selected = state.selected === k ? null : k;
    state.logStream = "auto";
    log.text = log.error = log.file = "";
    log.stop();
    if (state.selected !== null && !view.inert()) log.start();
    view.schedule(false, true);
  };
  view.open = (k) => {
    if (!view.store.rows.has(k)) return;
    if (state.selected !== k) view.select(k);
    view.scrollToRow(k);
    view.schedule(false, true);
  };
  view.renderDetail = () => renderDetail(view, log);
  view.onMessage(log.take);
  view.liveHooks.push((off) => off && log.stop());
}
