// The parameters view: one point per run, a metric's value (its last, lowest or highest)
// against a tag: a scatter when the tag's values are numbers, a strip (one column per
// value, the runs spread in it) otherwise. The points are computed here from the curves
// the page holds (./metrics_panel.js's CurveStore), as xpm_nb.widgets.params computes
// them in the kernel (MetricsView.parameters()): the view follows the live points
// without more messages. Pure functions of data, testable on a blank page.
import { PALETTE, axes, scale, svg, widen } from "./chart_axes.js";

export const BEST = ["last", "min", "max"];
const MISSING = "(none)"; // the category of a run without the tag

/** True when every value is a finite number (booleans are categories). */
export function isNumeric(values) {
  return values.length > 0 && values.every((v) => typeof v === "number" && Number.isFinite(v));
}

function category(v) {
  return v === undefined || v === null ? MISSING : String(v);
}

/** Categories sorted: numbers by value first, then text. */
export function categoryOrder(categories) {
  const unique = [...new Set(categories)];
  const num = (c) => (c.trim() !== "" && Number.isFinite(Number(c)) ? Number(c) : null);
  return [
    ...unique.filter((c) => num(c) !== null).sort((a, b) => num(a) - num(b)),
    ...unique.filter((c) => num(c) === null).sort(),
  ];
}

/** A run's value of one metric: its last point, or its lowest or highest (`extremes`: exact). */
export function runValue(curve, best, extremes) {
  if (best === "last") {
    if (!curve || !curve.y.length) return null;
    const v = curve.y[curve.y.length - 1];
    return Number.isFinite(v) ? v : null;
  }
  const e = extremes || (curve && foldExtremes(null, curve.y));
  if (!e) return null;
  return best === "min" ? e[0] : e[1];
}

/** [min, max] of `extremes` and the finite values of `ys` (null when there are none). */
export function foldExtremes(extremes, ys) {
  let e = extremes ? [extremes[0], extremes[1]] : null;
  for (const y of ys) {
    if (!Number.isFinite(y)) continue;
    if (!e) e = [y, y];
    else if (y < e[0]) e[0] = y;
    else if (y > e[1]) e[1] = y;
  }
  return e;
}

/**
 * The points of the view. `runs`: [{k, id, name, tags}]; `curveOf(k)` -> {x, y} of the
 * metric (or undefined); `extremesOf(k)` -> [min, max] of the metric (or undefined).
 * Returns {kind: "numeric" | "categorical", logX, categories, points: [{k, run, x, y, color}]}
 * (x: the tag's value, or its category's index; color: the `color` tag's value as text).
 */
export function paramPoints(runs, curveOf, extremesOf, { x, best = "last", color = "" }) {
  const kept = [];
  for (const run of [...runs].sort((a, b) => a.k - b.k)) {
    const y = runValue(curveOf(run.k), best, extremesOf(run.k));
    if (y !== null && Number.isFinite(y)) kept.push({ run, y });
  }
  const xs = kept.map(({ run }) => (run.tags || {})[x]);
  const numeric = isNumeric(xs);
  const out = { kind: numeric ? "numeric" : "categorical", logX: false, categories: [], points: [] };
  let index = null;
  if (numeric) {
    const lo = Math.min(...xs), hi = Math.max(...xs);
    out.logX = lo > 0 && hi / lo >= 100;
  } else {
    out.categories = categoryOrder(xs.map(category));
    index = new Map(out.categories.map((c, i) => [c, i]));
  }
  kept.forEach(({ run, y }, i) => {
    out.points.push({ k: run.k, run, y, x: numeric ? xs[i] : index.get(category(xs[i])),
      color: color ? category((run.tags || {})[color]) : "" });
  });
  return out;
}

/** A spread in [-0.3, 0.3] of a strip's column, the same for a run at every redraw. */
export function jitter(k) {
  const h = Math.sin((k + 1) * 12.9898) * 43758.5453;
  return (h - Math.floor(h) - 0.5) * 0.6;
}

/**
 * The SVG of the view. `data`: paramPoints' result; `colorOf(point)`: its colour;
 * `label(point)`: its hover text and aria-label (the svg's `labels`, by `data-k`); `log`: y on
 * a log scale. Each point is focusable (tabindex, role "button"); the caller wires Enter/Space.
 */
export function drawParams(data, { colorOf = () => PALETTE[0], label = () => "", log = false,
  xLabel = "", yLabel = "", width = 480, height = 280 } = {}) {
  const m = { left: 52, right: 12, top: 10, bottom: 36 };
  const root = svg("svg", { class: "xpm-mc-svg xpm-pc-svg", width, height, viewBox: `0 0 ${width} ${height}` });
  const labels = new Map();
  root.labels = labels;
  const points = data.points.filter((p) => !log || p.y > 0);
  if (!points.length) {
    root.appendChild(svg("g", { class: "xpm-mc-axis" }, svg("text", { x: width / 2, y: height / 2,
      "text-anchor": "middle" }))).firstChild.textContent = "no values yet";
    return root;
  }
  const ys = points.map((p) => p.y);
  let [y0, y1] = widen(Math.min(...ys), Math.max(...ys), log);
  // A margin inside the frame: the extreme points are not cut in half.
  if (log) {
    const f = (y1 / y0) ** 0.06;
    [y0, y1] = [y0 / f, y1 * f];
  } else {
    const pad = (y1 - y0) * 0.06;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const sy = scale(y0, y1, height - m.bottom, m.top, log);
  let x;
  if (data.kind === "numeric") {
    const xs = points.map((p) => p.x);
    const [x0, x1] = widen(Math.min(...xs), Math.max(...xs), data.logX);
    const pad = 10;
    x = { lo: x0, hi: x1, log: data.logX, at: scale(x0, x1, m.left + pad, width - m.right - pad, data.logX) };
  } else {
    const n = data.categories.length;
    const at = scale(-0.5, n - 0.5, m.left, width - m.right);
    const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor((width - m.left - m.right) / 48))));
    x = { lo: -0.5, hi: n - 0.5, at,
      labels: data.categories.map((c, i) => [i, c.length > 10 ? `${c.slice(0, 9)}…` : c]).filter((_, i) => i % every === 0) };
  }
  const frame = axes({ m, width, height }, x, { lo: y0, hi: y1, log, at: sy });
  root.appendChild(frame);
  if (xLabel) {
    frame.appendChild(svg("text", { x: (m.left + width - m.right) / 2, y: height - 4, "text-anchor": "middle",
      class: "xpm-pc-xlabel" })).textContent = xLabel;
  }
  if (yLabel) {
    const cy = (m.top + height - m.bottom) / 2;
    frame.appendChild(svg("text", { x: 12, y: cy, "text-anchor": "middle", transform: `rotate(-90 12 ${cy})`,
      class: "xpm-pc-ylabel" })).textContent = yLabel;
  }
  const plot = svg("g", { class: "xpm-mc-plot" });
  for (const p of points) {
    const px = data.kind === "numeric" ? x.at(p.x) : x.at(p.x + jitter(p.k));
    const text = label(p);
    // Focusable, named for screen readers; `data-focus` keyed by the run, so that
    // ./keyboard.js's keepFocus finds the same run's point after a redraw.
    plot.appendChild(svg("circle", { cx: px.toFixed(1), cy: sy(p.y).toFixed(1), r: 4.5, class: "xpm-pc-point",
      fill: colorOf(p), "data-k": p.k, "data-focus": `point:${p.k}`, tabindex: "0", role: "button",
      "aria-label": text }));
    labels.set(String(p.k), text);
  }
  root.appendChild(plot);
  return root;
}
