// One metric's chart: every run's curve, or each group's mean and min-max band, in SVG.
//
// Plain SVG built here rather than a charting library: the widgets are plain ES
// modules loaded without a bundler (a library would have to travel inlined in every
// widget's opening message and saved notebook), the drawing needed is small (lines,
// bands, axes, ticks), and SVG elements take JupyterLab's theme from CSS variables.
// Pure functions of data, so the chart can be tested on a blank page; the axes, scales
// and palette are ./chart_axes.js's (shared with ./params_chart.js).
import { PALETTE, axes, scale, svg, ticks, widen } from "./chart_axes.js";

export { PALETTE, ticks };

const MAX_DRAWN = 600; // points of one path at most (about the chart's width in pixels x 2)

/** Exponential moving average with TensorBoard's debiasing; `weight` 0 (none) to 0.99. */
export function smooth(ys, weight) {
  if (!weight) return ys;
  const out = new Array(ys.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) { out[i] = y; continue; }
    last = last * weight + (1 - weight) * y;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/** Mean, min and max over `series` ([{x, y}]) at each x any of them has, sorted by x. */
export function groupStats(series) {
  const at = new Map();
  for (const { x, y } of series) {
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(y[i])) continue;
      let s = at.get(x[i]);
      if (!s) at.set(x[i], (s = { sum: 0, n: 0, min: Infinity, max: -Infinity }));
      s.sum += y[i];
      s.n += 1;
      if (y[i] < s.min) s.min = y[i];
      if (y[i] > s.max) s.max = y[i];
    }
  }
  const xs = Array.from(at.keys()).sort((a, b) => a - b);
  return {
    x: xs,
    mean: xs.map((v) => at.get(v).sum / at.get(v).n),
    min: xs.map((v) => at.get(v).min),
    max: xs.map((v) => at.get(v).max),
  };
}

/** At most MAX_DRAWN points: every n-th one (the last always kept). */
function thin(x, y) {
  if (x.length <= MAX_DRAWN) return [x, y];
  const every = Math.ceil(x.length / MAX_DRAWN);
  const tx = [];
  const ty = [];
  for (let i = 0; i < x.length; i += every) { tx.push(x[i]); ty.push(y[i]); }
  if (tx[tx.length - 1] !== x[x.length - 1]) { tx.push(x[x.length - 1]); ty.push(y[y.length - 1]); }
  return [tx, ty];
}

function pathData(x, y, sx, sy) {
  [x, y] = thin(x, y);
  let d = "";
  let pen = false;
  for (let i = 0; i < x.length; i++) {
    const py = sy(y[i]);
    if (!Number.isFinite(py)) { pen = false; continue; } // a gap (log of a value <= 0)
    d += `${pen ? "L" : "M"}${sx(x[i]).toFixed(1)},${py.toFixed(1)}`;
    pen = true;
  }
  return d;
}

/**
 * The SVG of one chart. `lines`: [{key, label, color, x, y}] (curves, already smoothed);
 * `bands`: [{key, label, color, x, min, max, mean}] (groups). Paths carry `data-key`
 * (the run's key or the group's value); the svg's `labels` maps a key to its hover
 * text (no <title> per path: half the elements to build at each redraw).
 */
export function drawChart({ lines = [], bands = [], log = false, width = 340, height = 210 }) {
  const m = { left: 46, right: 10, top: 8, bottom: 22 };
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  const seeY = (v) => {
    if (!Number.isFinite(v) || (log && v <= 0)) return;
    if (v < y0) y0 = v;
    if (v > y1) y1 = v;
  };
  const seeX = (xs) => { for (const v of xs) { if (v < x0) x0 = v; if (v > x1) x1 = v; } };
  for (const l of lines) { seeX(l.x); l.y.forEach(seeY); }
  for (const b of bands) { seeX(b.x); b.min.forEach(seeY); b.max.forEach(seeY); }
  const root = svg("svg", { class: "xpm-mc-svg", width, height, viewBox: `0 0 ${width} ${height}` });
  const labels = new Map();
  root.labels = labels;
  if (!(x1 >= x0) || !(y1 >= y0)) {
    root.appendChild(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "xpm-mc-axis" }))
      .textContent = "no points yet";
    return root;
  }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  [y0, y1] = widen(y0, y1, log);
  const sx = scale(x0, x1, m.left, width - m.right);
  const sy = scale(y0, y1, height - m.bottom, m.top, log);
  root.appendChild(axes({ m, width, height }, { lo: x0, hi: x1, at: sx }, { lo: y0, hi: y1, log, at: sy }));
  const plot = svg("g", { class: "xpm-mc-plot" });
  for (const b of bands) {
    const [bx, bmax] = thin(b.x, b.max);
    const [, bmin] = thin(b.x, b.min);
    let d = "";
    bx.forEach((v, i) => { d += `${i ? "L" : "M"}${sx(v).toFixed(1)},${sy(bmax[i]).toFixed(1)}`; });
    for (let i = bx.length - 1; i >= 0; i--) d += `L${sx(bx[i]).toFixed(1)},${sy(bmin[i]).toFixed(1)}`;
    if (d.includes("NaN")) d = ""; // log scale with values <= 0: no band
    plot.appendChild(svg("path", { d: d ? `${d}Z` : "", class: "xpm-mc-band", fill: b.color, "data-key": b.key }));
    labels.set(String(b.key), b.label);
  }
  for (const b of bands) {
    plot.appendChild(svg("path", { d: pathData(b.x, b.mean, sx, sy), class: "xpm-mc-mean", stroke: b.color,
      "data-key": b.key }));
  }
  for (const l of lines) {
    plot.appendChild(svg("path", { d: pathData(l.x, l.y, sx, sy), class: "xpm-mc-line", stroke: l.color,
      "data-key": l.key }));
    labels.set(String(l.key), l.label);
  }
  root.appendChild(plot);
  return root;
}
