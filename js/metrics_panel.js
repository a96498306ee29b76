/**
 * The curves of the metrics: the chart view's code, shared by ./metrics_view.js (the
 * MetricsView widget), ./experiment_view.js (its "curves" panel, also on the
 * monitoring page) and ./browse_run.js (an opened run's curves). Two panels: the
 * curves (./metrics_chart.js), and "parameters", one point per run (./params_chart.js).
 * The protocol is described in ./metrics_view.js.
 */
import { clear, h, inertNote, sendIfLive, watchLive } from "./common.js";
import { modelRecord, registerModel } from "./saved_views.js";
import { SyncedStore } from "./stores.js";
import { ensureStyle } from "./style.js";
import { PALETTE, drawChart, groupStats, smooth } from "./metrics_chart.js";
import { BEST, drawParams, foldExtremes, paramPoints } from "./params_chart.js";
import { keepFocus, onActivate } from "./keyboard.js";

const REDRAW_MS = 250;

/** The runs and curves of one model, kept once for all its views. */
export class CurveStore extends SyncedStore {
  constructor() {
    super("metrics view");
    this.runs = new Map(); // k -> Run
    this.curves = new Map(); // k -> Map(metric -> {x: [], y: []})
    // k -> Map(metric -> [min, max]) over every point (the curves may be thinned): given
    // whole by the kernel with a snapshot or a whole curve, appended points folded in here.
    this.extremes = new Map();
    this.metricNames = [];
  }

  setCurves(k, byMetric, append, extremes = null) {
    let curves = this.curves.get(Number(k));
    if (!curves || !append) this.curves.set(Number(k), (curves = curves && append ? curves : new Map()));
    let ext = this.extremes.get(Number(k));
    if (!ext || !append) this.extremes.set(Number(k), (ext = ext && append ? ext : new Map()));
    const touched = [];
    for (const [metric, [xs, ys]] of Object.entries(byMetric || {})) {
      const c = curves.get(metric);
      if (c && append) {
        c.x.push(...xs);
        c.y.push(...ys);
        ext.set(metric, foldExtremes(ext.get(metric), ys));
      } else {
        curves.set(metric, { x: [...xs], y: [...ys] });
        const given = extremes && extremes[metric];
        ext.set(metric, Array.isArray(given) ? [...given] : foldExtremes(null, ys));
      }
      touched.push(metric);
    }
    return touched;
  }

  snapshot(message) {
    if (!message || !Array.isArray(message.runs)) return;
    const seq = typeof message.seq === "number" ? message.seq : null;
    if (!this.takesSnapshot(seq)) return; // older than what is here
    this.runs = new Map(message.runs.map((r) => [r.k, r]));
    this.curves = new Map();
    this.extremes = new Map();
    const extremes = message.extremes || {};
    for (const [k, byMetric] of Object.entries(message.curves || {})) this.setCurves(k, byMetric, false, extremes[k]);
    this.metricNames = message.metric_names || [];
    this.snapshotTaken(seq);
    this.emit(null); // everything changed
  }

  patch(message) {
    if (!message || message.type !== "patch") return;
    const seq = typeof message.seq === "number" ? message.seq : null;
    const place = this.patchPlace(seq);
    if (place === "old") return; // already in a snapshot
    const touched = new Set();
    for (const run of message.runs || []) {
      this.runs.set(run.k, run);
      for (const m of this.curves.get(run.k)?.keys() || []) touched.add(m);
    }
    for (const [k, byMetric] of Object.entries(message.set || {})) {
      for (const m of this.curves.get(Number(k))?.keys() || []) touched.add(m);
      for (const m of this.setCurves(k, byMetric, false, (message.extremes || {})[k])) touched.add(m);
    }
    for (const [k, byMetric] of Object.entries(message.append || {})) {
      for (const m of this.setCurves(k, byMetric, true)) touched.add(m);
    }
    if (Array.isArray(message.metric_names)) this.metricNames = message.metric_names;
    if (seq !== null) this.seq = seq;
    this.emit(message.metric_names ? null : touched);
    if (place === "gap") this.missed();
  }

  /** A snapshot of what is held (the notebook's saved copy of the view). */
  toSnapshot() {
    const curves = {};
    for (const [k, byMetric] of this.curves) {
      curves[k] = Object.fromEntries(Array.from(byMetric, ([m, c]) => [m, [c.x, c.y]]));
    }
    const extremes = {};
    for (const [k, byMetric] of this.extremes) extremes[k] = Object.fromEntries(byMetric);
    return { type: "snapshot", runs: Array.from(this.runs.values()), curves, extremes,
      metric_names: this.metricNames, seq: this.seq === null ? 0 : this.seq };
  }
}

/** `{initialize, render}` of the chart view. */
export function curvesView() {
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

  /** The hover text of a point of the parameters panel: the run, its value, its tags. */
  function pointLabel(p, metric, best) {
    const what = best === "last" ? "last" : best === "min" ? "lowest" : "highest";
    return `${p.run.name} ${tagText(p.run.tags)}: ${what} ${metric} = ${Number(p.y.toPrecision(6))}`;
  }

  /**
   * `select(run)` (optional): a point's click, e.g. the experiment view opening the run's
   * row in its table.
   */
  function render({ model, el, select = null }) {
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
      panel: model.get("panel") === "parameters" ? "parameters" : "curves",
      // The parameters panel: "" is the first metric, the first tag.
      metric: (store.metricNames.includes(model.get("param_metric")) && model.get("param_metric"))
        || store.metricNames[0] || "",
      x: ((model.get("tag_names") || []).includes(model.get("param_x")) && model.get("param_x"))
        || (model.get("tag_names") || [])[0] || "",
      best: BEST.includes(model.get("param_best")) ? model.get("param_best") : "last",
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
    // The panels: curves (one chart per metric) or parameters (a metric per run against a tag).
    const panelButtons = ["curves", "parameters"].map((name) => h("button", { type: "button",
      class: `xpm-mc-panel xpm-mc-panel-${name}`, dataset: { panel: name }, "aria-pressed": "false",
      title: name === "curves" ? "every run's curve, one chart per metric"
        : "one point per run: a metric's value against a tag (click: the run's row)" }, name));
    const metricSelect = h("select", { class: "xpm-pc-metric", title: "the metric on the y axis" });
    const bestSelect = h("select", { class: "xpm-pc-best", title: "a run's value: its last one, its lowest or highest" },
      h("option", { value: "last" }, "last"), h("option", { value: "min" }, "min"), h("option", { value: "max" }, "max"));
    const xSelect = h("select", { class: "xpm-pc-x", title: "the tag on the x axis (numbers: a scatter; else one column per value)" });
    const groupLabel = h("label", {}, "group ", groupSelect);
    const smoothLabel = h("label", {}, "smoothing ", slider, sliderValue);
    const paramControls = [h("label", {}, "metric ", metricSelect, bestSelect), h("label", {}, "x ", xSelect)];
    const paramsEl = h("div", { class: "xpm-pc-chart", style: { display: "none" } });
    const note = h("div", { class: "xpm-note xpm-inert-note" });
    const charts = h("div", { class: "xpm-mc-charts" });
    const empty = h("div", { class: "xpm-muted xpm-mc-empty" }, "no metrics logged yet (log_metrics in a task)");
    const legendEl = h("div", { class: "xpm-mc-legend" });
    const root = h("div", { class: "xpm-root xpm-mc" }, note,
      h("div", { class: "xpm-mc-toolbar" },
        model.get("title") ? h("b", {}, model.get("title")) : null,
        h("span", { class: "xpm-mc-panels" }, ...panelButtons), ...paramControls,
        h("label", {}, "colour ", colorSelect), groupLabel,
        h("label", {}, logBox, " log scale"), smoothLabel),
      legendEl, hover, empty, charts, paramsEl);
    el.appendChild(root);

    function fillSelect(select, value) {
      clear(select);
      select.appendChild(h("option", { value: "" }, "none"));
      for (const name of model.get("tag_names") || []) select.appendChild(h("option", { value: name }, name));
      select.value = value;
    }
    function fillOptions(select, names, value) {
      clear(select);
      for (const name of names) select.appendChild(h("option", { value: name }, name));
      select.value = value;
    }
    function syncControls() {
      const s = settings();
      fillSelect(colorSelect, s.color);
      fillSelect(groupSelect, s.group);
      fillOptions(metricSelect, store.metricNames, s.metric);
      fillOptions(xSelect, model.get("tag_names") || [], s.x);
      bestSelect.value = s.best;
      const params = s.panel === "parameters";
      for (const b of panelButtons) {
        b.classList.toggle("xpm-active", b.dataset.panel === s.panel);
        b.setAttribute("aria-pressed", String(b.dataset.panel === s.panel));
      }
      for (const c of paramControls) c.style.display = params ? "" : "none";
      groupLabel.style.display = smoothLabel.style.display = params ? "none" : "";
      charts.style.display = params ? "none" : "";
      paramsEl.style.display = params ? "" : "none";
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
    for (const b of panelButtons) {
      b.addEventListener("click", () => { write("panel", b.dataset.panel); syncControls(); redrawAll(); });
    }
    metricSelect.addEventListener("change", () => { write("param_metric", metricSelect.value); redrawAll(); });
    bestSelect.addEventListener("change", () => { write("param_best", bestSelect.value); redrawAll(); });
    xSelect.addEventListener("change", () => { write("param_x", xSelect.value); redrawAll(); });
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
    // The parameters panel: hover (or keyboard focus) shows the run's tags and value; a
    // click (or Enter/Space on a focused point) selects the run.
    let picked = null; // the key of the clicked run, kept across redraws
    const pointOf = (event) => event.target.closest && event.target.closest("circle[data-k]");
    const showPoint = (point) => {
      const labels = point.ownerSVGElement && point.ownerSVGElement.labels;
      hover.textContent = (labels && labels.get(point.dataset.k)) || "";
      hover.dataset.key = point.dataset.k;
      point.classList.add("xpm-mc-hot");
    };
    const hidePoint = (point) => {
      hover.textContent = "\u00a0";
      point.classList.remove("xpm-mc-hot");
    };
    const pick = (point) => {
      picked = Number(point.dataset.k);
      for (const p of paramsEl.querySelectorAll(".xpm-pc-picked")) p.classList.remove("xpm-pc-picked");
      point.classList.add("xpm-pc-picked");
      const run = store.runs.get(picked);
      if (run && select) select(run);
    };
    for (const [type, fn] of [["mouseover", showPoint], ["focusin", showPoint], ["mouseout", hidePoint],
      ["click", pick]]) {
      paramsEl.addEventListener(type, (event) => {
        const point = pointOf(event);
        if (point) fn(point);
      });
    }
    paramsEl.addEventListener("focusout", (event) => {
      const point = pointOf(event);
      if (!point) return;
      point.classList.remove("xpm-mc-hot");
      // The text stays while the focus moves to another point (whose focusin sets it).
      if (!(event.relatedTarget && paramsEl.contains(event.relatedTarget))) hidePoint(point);
    });

    // --- charts: redrawn at most every REDRAW_MS, only the metrics that changed ------------
    const boxes = new Map(); // metric -> chart element
    let dirty = new Set();
    let all = true;
    let timer = null;
    let lastDraw = 0;
    // The parameters chart fills the output's width (up to 640 px): redrawn when it changes.
    let drawnWidth = 0;
    const paramsWidth = () => Math.max(240, Math.min(640, (root.clientWidth || 500) - 10));
    if (typeof ResizeObserver !== "undefined") {
      const resize = new ResizeObserver(() => {
        if (paramsEl.style.display !== "none" && Math.abs(paramsWidth() - drawnWidth) > 16) redrawAll();
      });
      resize.observe(root);
      cleanups.push(() => resize.disconnect());
    }
    function drawParamsPanel(s) {
      const runs = Array.from(store.runs.values());
      const data = paramPoints(runs, (k) => store.curves.get(k)?.get(s.metric),
        (k) => store.extremes.get(k)?.get(s.metric), { x: s.x, best: s.best, color: s.color });
      const colour = s.color ? colours(runs, s.color) : () => PALETTE[0];
      const width = paramsWidth();
      drawnWidth = width;
      const chart = drawParams(data, { colorOf: (p) => colour(p.run), log: s.log, width,
        label: (p) => pointLabel(p, s.metric, s.best),
        xLabel: `${s.x}${data.kind === "numeric" && data.logX ? " (log scale)" : ""}`,
        yLabel: `${s.best} ${s.metric}` });
      chart.dataset.kind = data.kind;
      chart.dataset.points = String(data.points.length);
      if (picked !== null) {
        const point = chart.querySelector(`circle[data-k="${picked}"]`);
        if (point) point.classList.add("xpm-pc-picked");
      }
      for (const point of chart.querySelectorAll("circle[data-k]")) onActivate(point, () => pick(point));
      // A focused point stays focused: the same run's point takes the focus back.
      keepFocus(paramsEl, () => {
        const old = paramsEl.querySelector("svg");
        if (old) old.replaceWith(chart);
        else paramsEl.appendChild(chart);
      });
      // A redrawn point under the mouse keeps its hover text (the old one is gone).
      const hot = hover.dataset.key && chart.querySelector(`circle[data-k="${CSS.escape(hover.dataset.key)}"]`);
      if (hot && hover.textContent.trim()) hover.textContent = chart.labels.get(hover.dataset.key) || "";
    }
    function draw() {
      timer = null;
      lastDraw = Date.now();
      const t0 = performance.now();
      const s = settings();
      const names = store.metricNames;
      empty.style.display = names.length ? "none" : "";
      if (s.panel === "parameters") {
        if (all || dirty.has(s.metric)) drawParamsPanel(s);
        if (all) syncControls(); // a new metric or tag: the selects' options
        dirty = new Set();
        all = false;
        renderLegend({ color: s.color });
        root.dataset.drawMs = (performance.now() - t0).toFixed(2);
        root.dataset.draws = String(Number(root.dataset.draws || 0) + 1);
        return;
      }
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
    const keys = ["change:color_by", "change:group_by", "change:log_scale", "change:smoothing", "change:tag_names",
      "change:panel", "change:param_metric", "change:param_x", "change:param_best"];
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
