/**
 * The job table's rows: one store per model, fed by the snapshot + patch protocol.
 *
 * Concern: what the view holds, not how it shows it. This module owns the
 * "snapshot" and "patch" messages (model keys or "msg:custom"), their `seq`
 * numbering, the compact table encoding, and the {type: "sync"} request.
 *
 * Messages taken (kernel side: xpm_nb.widgets.rows.JobTableState):
 *   {type: "snapshot", rows: [Row] | table: Table, tag_names, metric_names, seq, now}  every row
 *   {type: "patch", rows: [Row], tag_names?, metric_names?, seq, now}  rows that changed or are
 *        new; a row without `id` holds only the fields that changed (merged into the row held),
 *        its `metrics` may be the values in metric_names order (a list)
 * Request sent: {type: "sync"} (every row, please): when a patch was missed, or at
 * start from a model without a "snapshot" key (the monitoring page's); at most one
 * per RESYNC_MS while none is answered, never without a kernel.
 *
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
 * it includes. A patch numbered at most the store's is already in; one more than
 * the next tells a patch was missed: the store applies it and asks for a snapshot.
 *
 * Compact table (xpm_nb.widgets.rows.encode_table): {tasks: [[type id, name]],
 * roots: [folder], t0: int, rows: [[id, task index, state index (in STATES),
 * tags (values in tag_names order, or an object), submitted, started, ended
 * (seconds after t0), progress, reason, code, retries, path (index into roots:
 * root/type id/id, or the path), metrics (values in metric_names order, or an
 * object), step, deps]]}, keys 0..n-1 in order; trailing fields at their default
 * (null, [], 0, root 0, {}) are left out.
 */
import { sendIfLive, shortTask } from "./common.js";
import { SyncedStore } from "./stores.js";

// The order of JobState values in a compact table (xpm_nb.widgets.rows.STATES).
const TABLE_STATES = ["unscheduled", "waiting", "ready", "scheduled", "running", "done", "error"];
const TABLE_DEFAULTS = [null, null, null, [], null, null, 0, 0, {}, null, []]; // fields 4 to 14
const FIRST_OPTIONAL = 4;

const round3 = (x) => Math.round(x * 1000) / 1000;

/** The name a row shows: its class name, else the short task type. */
export function taskName(row) {
  return row.name || shortTask(row.task);
}

/** The chip a row counts under: its state, or "cancelled" apart from "error" (failed). */
export function countKey(row) {
  return row.state === "error" && row.reason === "cancelled" ? "cancelled" : row.state;
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
export class RowStore extends SyncedStore {
  constructor() {
    super("job table view");
    this.rows = new Map(); // k -> row
    this.tagNames = [];
    this.metricNames = [];
    this.clockOffset = 0; // sender's clock - ours, seconds
    this.received = false; // a snapshot or a patch came
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
    if (!this.takesSnapshot(seq)) return; // older than what is here
    const tagNames = message.tag_names || this.tagNames;
    const metricNames = message.metric_names || this.metricNames;
    const rows = message.table ? decodeTable(message.table, tagNames, metricNames) : message.rows;
    const old = this.rows;
    this.rows = new Map(rows.map((r) => [r.k, r]));
    this.snapshotTaken(seq);
    this.received = true;
    this.clock(message);
    const tagsChanged = this.setNames(message);
    this.emit({ snapshot: true, changed: rows.map((r) => [old.get(r.k), r]), tagsChanged });
  }

  patch(message) {
    if (!message || typeof message !== "object" || message.type !== "patch") return;
    const seq = typeof message.seq === "number" ? message.seq : null;
    const place = this.patchPlace(seq);
    if (place === "old") return; // already in a snapshot
    let gap = place === "gap";
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
    if (gap) this.missed();
  }

  /** Take the tag and metric names of a message; true when the columns change. */
  setNames(message) {
    const tags = this.setTagNames(message.tag_names);
    const metrics = this.setMetricNames(message.metric_names);
    return tags || metrics;
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
