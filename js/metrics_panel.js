/**
 * The curves of the metrics: the chart view's code, shared by ./metrics_view.js (the
 * MetricsView widget) and ./experiment_view.js (its "curves" panel). The protocol
 * is described in ./metrics_view.js.
 *
 * No import of ./common.js: its helpers are given to `curvesView(ui)`, so that a
 * bundle holding both the job table and this module holds ./common.js once (see
 * xpm_nb.widgets.assets).
 */
import { PALETTE, drawChart, groupStats, smooth } from "./metrics_chart.js";

const REDRAW_MS = 250;
const RESYNC_MS = 5000;

/** The runs and curves of one model, kept once for all its views. */
export class CurveStore {
  constructor() {
    this.runs = new Map(); // k -> Run
    this.curves = new Map(); // k -> Map(metric -> {x: [], y: []})
    this.metricNames = [];
    this.seq = null;
    this.send = null;
    this.live = true;
    this.syncAsked = 0;
    this.subscribers = new Set();
  }

  subscribe(fn) {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  emit(metrics) {
    for (const fn of [...this.subscribers]) {
      try {
        fn(metrics);
      } catch (error) {
        console.error("xpm_nb: metrics view failed", error);
      }
    }
  }

  setCurves(k, byMetric, append) {
    let curves = this.curves.get(Number(k));
    if (!curves || !append) this.curves.set(Number(k), (curves = curves && append ? curves : new Map()));
    const touched = [];
    for (const [metric, [xs, ys]] of Object.entries(byMetric || {})) {
      const c = curves.get(metric);
      if (c && append) {
        c.x.push(...xs);
        c.y.push(...ys);
      } else {
        curves.set(metric, { x: [...xs], y: [...ys] });
      }
      touched.push(metric);
    }
    return touched;
  }

  snapshot(message) {
    if (!message || !Array.isArray(message.runs)) return;
    if (typeof message.seq === "number" && this.seq !== null && message.seq < this.seq) return;
    this.runs = new Map(message.runs.map((r) => [r.k, r]));
    this.curves = new Map();
    for (const [k, byMetric] of Object.entries(message.curves || {})) this.setCurves(k, byMetric, false);
    this.metricNames = message.metric_names || [];
    if (typeof message.seq === "number") this.seq = message.seq;
    this.syncAsked = 0;
    this.emit(null); // everything changed
  }

  patch(message) {
    if (!message || message.type !== "patch") return;
    const seq = typeof message.seq === "number" ? message.seq : null;
    let gap = false;
    if (seq !== null && this.seq !== null) {
      if (seq <= this.seq) return;
      gap = seq > this.seq + 1;
    }
    const touched = new Set();
    for (const run of message.runs || []) {
      this.runs.set(run.k, run);
      for (const m of this.curves.get(run.k)?.keys() || []) touched.add(m);
    }
    for (const [k, byMetric] of Object.entries(message.set || {})) {
      for (const m of this.curves.get(Number(k))?.keys() || []) touched.add(m);
      for (const m of this.setCurves(k, byMetric, false)) touched.add(m);
    }
    for (const [k, byMetric] of Object.entries(message.append || {})) {
      for (const m of this.setCurves(k, byMetric, true)) touched.add(m);
    }
    if (Array.isArray(message.metric_names)) this.metricNames = message.metric_names;
    if (seq !== null) this.seq = seq;
    this.emit(message.metric_names ? null : touched);
    if (gap) this.resync();
  }

  resync() {
    if (!this.live || !this.send) return;
    const now = Date.now();
    if (this.syncAsked && now - this.syncAsked < RESYNC_MS) return;
    this.syncAsked = now;
    this.send({ type: "sync" });
  }

  /** A snapshot of what is held (the notebook's saved copy of the view). */
  toSnapshot() {
    const curves = {};
    for (const [k, byMetric] of this.curves) {
      curves[k] = Object.fromEntries(Array.from(byMetric, ([m, c]) => [m, [c.x, c.y]]));
    }
    return { type: "snapshot", runs: Array.from(this.runs.values()), curves,
      metric_names: this.metricNames, seq: this.seq === null ? 0 : this.seq };
  }
}

/**
 * `{initialize, render}` of the chart view, with the helpers of ./common.js in `ui`
 * (clear, ensureStyle, h, inertNote, modelRecord, registerModel, sendIfLive, watchLive).
 */
export function curvesView(ui) {
  const { clear, ensureStyle, h, inertNote, modelRecord, registerModel, sendIfLive, watchLive } = ui;

  function connect(model, store) {
    const onSnapshot = () => store.snapshot(model.get("snapshot"));
    const onPatch = () => store.patch(model.get("patch"));
    const onMessage = (message) => {
      if (message && message.type === "snapshot") store.snapshot(message);
      else if (message && message.type === "patch") store.patch(message);
    };
    store.send = (message) => sendIfLive(model, null, message);
    const initial = model.get("snapshot");
    if (initial && initial.runs) store.snapshot(initial);
    else store.resync();
    onPatch();
    const handlers = [["change:snapshot", onSnapshot], ["change:patch", onPatch], ["msg:custom", onMessage]];
    for (const [event, fn] of handlers) model.on(event, fn);
    return () => {
      for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
    };
  }

  function initialize({ model }) {
    const store = new CurveStore();
    const disconnect = connect(model, store);
    const unregister = registerModel(model, { store, snapshot: () => store.toSnapshot() });
    return () => {
      disconnect();
      unregister();
    };
  }

  function tagText(tags) {
    const entries = Object.entries(tags || {});
    return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "(no tags)";
  }

  /** The values of a tag over the runs, sorted (numbers as numbers). */
  function tagValues(runs, tag) {
    return [...new Set(runs.map((r) => String((r.tags || {})[tag])))].sort((a, b) => {
      const fa = Number(a), fb = Number(b);
      return Number.isNaN(fa) || Number.isNaN(fb) ? a.localeCompare(b) : fa - fb;
    });
  }

  /** Colour of each value of a tag (sorted values, palette in order), or of each run. */
  function colours(runs, tag) {
    if (!tag) return (run) => PALETTE[run.k % PALETTE.length];
    const index = new Map(tagValues(runs, tag).map((v, i) => [v, i]));
    return (run) => PALETTE[index.get(String((run.tags || {})[tag])) % PALETTE.length];
  }

  /** The legend: one entry per value of the tag that colours or groups the runs. */
  function legend(store, settings) {
    const tag = settings.group || settings.color;
    if (!tag) return [];
    const runs = Array.from(store.runs.values());
    return tagValues(runs, tag).map((v, i) => ({ color: PALETTE[i % PALETTE.length], label: `${tag}=${v}` }));
  }

  /** The lines or bands of one metric, with the view's settings. */
  function chartData(store, metric, settings) {
    const runs = Array.from(store.runs.values()).sort((a, b) => a.k - b.k);
    const series = [];
    for (const run of runs) {
      const c = store.curves.get(run.k)?.get(metric);
      if (c && c.x.length) series.push({ run, x: c.x, y: smooth(c.y, settings.smoothing) });
    }
    const group = settings.group;
    if (group) {
      const colour = colours(runs, group);
      const groups = new Map();
      for (const s of series) {
        const value = String((s.run.tags || {})[group]);
        if (!groups.has(value)) groups.set(value, []);
        groups.get(value).push(s);
      }
      const bands = Array.from(groups, ([value, members]) => ({
        key: value, color: colour(members[0].run),
        label: `${group}=${value} (${members.length} run${members.length === 1 ? "" : "s"}: mean, min-max)`,
        ...groupStats(members),
      }));
      return { bands, lines: [] };
    }
    const colour = colours(runs, settings.color);
    return {
      bands: [],
      lines: series.map((s) => ({ key: String(s.run.k), color: colour(s.run), x: s.x, y: s.y,
        label: `${s.run.name} ${tagText(s.run.tags)}` })),
    };
  }

  function render({ model, el }) {
    ensureStyle(el);
    const record = modelRecord(model);
    let store = record && record.store;
    const cleanups = [];
    if (!store) {
      store = new CurveStore();
      cleanups.push(connect(model, store));
    }
    const watch = watchLive(model, el);
    cleanups.push(() => watch.stop());

    const settings = () => ({
      color: model.get("color_by") || "",
      group: model.get("group_by") || "",
      log: !!model.get("log_scale"),
      smoothing: Number(model.get("smoothing")) || 0,
    });
    const write = (key, value) => {
      model.set(key, value);
      if (watch.live) model.save_changes();
    };

    // --- toolbar -----------------------------------------------------------------
    const colorSelect = h("select", { class: "xpm-mc-color", title: "colour the runs by a tag" });
    const groupSelect = h("select", { class: "xpm-mc-group", title: "group the runs by a tag: mean and min-max" });
    const logBox = h("input", { type: "checkbox", class: "xpm-mc-log" });
    const slider = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", class: "xpm-mc-smooth" });
    const sliderValue = h("span", { class: "xpm-mono xpm-muted" });
    const hover = h("div", { class: "xpm-mc-hover xpm-muted" }, "\u00a0");
    const note = h("div", { class: "xpm-note xpm-inert-note" });
    const charts = h("div", { class: "xpm-mc-charts" });
    const empty = h("div", { class: "xpm-muted xpm-mc-empty" }, "no metrics logged yet (log_metrics in a task)");
    const legendEl = h("div", { class: "xpm-mc-legend" });
    const root = h("div", { class: "xpm-root xpm-mc" }, note,
      h("div", { class: "xpm-mc-toolbar" },
        model.get("title") ? h("b", {}, model.get("title")) : null,
        h("label", {}, "colour ", colorSelect), h("label", {}, "group ", groupSelect),
        h("label", {}, logBox, " log scale"), h("label", {}, "smoothing ", slider, sliderValue)),
      legendEl, hover, empty, charts);
    el.appendChild(root);

    function fillSelect(select, value) {
      clear(select);
      select.appendChild(h("option", { value: "" }, "none"));
      for (const name of model.get("tag_names") || []) select.appendChild(h("option", { value: name }, name));
      select.value = value;
    }
    function syncControls() {
      const s = settings();
      fillSelect(colorSelect, s.color);
      fillSelect(groupSelect, s.group);
      logBox.checked = s.log;
      slider.value = String(s.smoothing);
      sliderValue.textContent = s.smoothing.toFixed(2);
      const off = !watch.live;
      root.classList.toggle("xpm-inert", off);
      note.textContent = off ? inertNote(record) : "";
    }
    colorSelect.addEventListener("change", () => { write("color_by", colorSelect.value); redrawAll(); });
    groupSelect.addEventListener("change", () => { write("group_by", groupSelect.value); redrawAll(); });
    logBox.addEventListener("change", () => { write("log_scale", logBox.checked); redrawAll(); });
    slider.addEventListener("input", () => {
      write("smoothing", Number(slider.value));
      sliderValue.textContent = Number(slider.value).toFixed(2);
      redrawAll();
    });

    // Hover: the run's (or group's) tags, from the chart's labels.
    charts.addEventListener("mouseover", (event) => {
      const path = event.target.closest && event.target.closest("path[data-key]");
      if (!path) return;
      const labels = path.ownerSVGElement && path.ownerSVGElement.labels;
      hover.textContent = (labels && labels.get(path.dataset.key)) || "";
      hover.dataset.key = path.dataset.key;
      for (const p of charts.querySelectorAll(`path[data-key="${CSS.escape(path.dataset.key)}"]`)) p.classList.add("xpm-mc-hot");
    });
    charts.addEventListener("mouseout", (event) => {
      const path = event.target.closest && event.target.closest("path[data-key]");
      if (!path) return;
      hover.textContent = "\u00a0";
      for (const p of charts.querySelectorAll(".xpm-mc-hot")) p.classList.remove("xpm-mc-hot");
    });

    // --- charts: redrawn at most every REDRAW_MS, only the metrics that changed ------------
    const boxes = new Map(); // metric -> chart element
    let dirty = new Set();
    let all = true;
    let timer = null;
    let lastDraw = 0;
    function draw() {
      timer = null;
      lastDraw = Date.now();
      const t0 = performance.now();
      const s = settings();
      const names = store.metricNames;
      empty.style.display = names.length ? "none" : "";
      for (const [name, box] of boxes) {
        if (!names.includes(name)) { box.remove(); boxes.delete(name); }
      }
      for (const name of names) {
        let box = boxes.get(name);
        if (!box) {
          box = h("div", { class: "xpm-mc-chart", dataset: { metric: name } }, h("div", { class: "xpm-mc-title" }, name));
          boxes.set(name, box);
          all = true;
        }
        charts.appendChild(box); // in metric order
        if (!all && !dirty.has(name)) continue;
        const data = chartData(store, name, s);
        const old = box.querySelector("svg");
        const chart = drawChart({ ...data, log: s.log });
        if (old) old.replaceWith(chart);
        else box.appendChild(chart);
      }
      dirty = new Set();
      all = false;
      renderLegend(s);
      // The last redraw's cost, for benchmarks/bench_metrics_widgets.py and the curious.
      root.dataset.drawMs = (performance.now() - t0).toFixed(2);
      root.dataset.draws = String(Number(root.dataset.draws || 0) + 1);
    }
    function renderLegend(s) {
      clear(legendEl);
      for (const { color, label } of legend(store, s)) {
        legendEl.appendChild(h("span", { class: "xpm-mc-key" }, h("span", { class: "xpm-mc-swatch",
          style: { background: color } }), label));
      }
      if (s.group && legendEl.firstChild) legendEl.appendChild(h("span", { class: "xpm-muted" }, "line: mean, band: min-max"));
    }
    function schedule(metrics) {
      if (metrics === null) all = true;
      else for (const m of metrics) dirty.add(m);
      if (timer !== null) return;
      // At least REDRAW_MS apart, and 4 times the last redraw's cost: drawing takes at
      // most a fifth of the page's time, however many curves there are.
      const gap = Math.max(REDRAW_MS, 4 * Number(root.dataset.drawMs || 0));
      timer = setTimeout(draw, Math.max(0, lastDraw + gap - Date.now()));
    }
    function redrawAll() {
      schedule(null);
    }
    cleanups.push(store.subscribe(schedule));
    cleanups.push(() => timer !== null && clearTimeout(timer));

    const onSettings = () => { syncControls(); redrawAll(); };
    const keys = ["change:color_by", "change:group_by", "change:log_scale", "change:smoothing", "change:tag_names"];
    for (const key of keys) model.on(key, onSettings);
    cleanups.push(() => { for (const key of keys) if (model.off) model.off(key, onSettings); });
    const onLive = () => { store.live = watch.live; syncControls(); };
    watch.listeners.add(onLive);

    syncControls();
    draw();
    return () => {
      for (const fn of cleanups) fn();
      root.remove();
    };
  }

  return { initialize, render };
}
