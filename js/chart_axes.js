// What the charts share (./metrics_chart.js: curves; ./params_chart.js: a metric per run
// against a parameter): the palette, SVG elements, round ticks and the axes' frame.
// No import: pure functions of data, testable on a blank page.

const NS = "http://www.w3.org/2000/svg";
// Tableau 10: distinct on light and dark backgrounds.
export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(c);
  return el;
}

/** About `count` round tick values between lo and hi. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** The powers of ten between lo and hi (> 0), or round ticks when fewer than two. */
export function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    const v = 10 ** e;
    if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
  }
  return out.length >= 2 ? out : ticks(lo, hi, 4);
}

/** A tick's label: 3 significant digits, exponent form when very large or small. */
export function fmt(v) {
  const a = Math.abs(v);
  if (v === 0) return "0";
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/**
 * A linear or log scale from [lo, hi] to [from, to] (pixels): NaN for a value a log
 * scale cannot place (<= 0).
 */
export function scale(lo, hi, from, to, log = false) {
  if (log) {
    const l0 = Math.log10(lo), l1 = Math.log10(hi);
    return (v) => (v > 0 ? from + ((Math.log10(v) - l0) / (l1 - l0)) * (to - from) : NaN);
  }
  return (v) => from + ((v - lo) / (hi - lo)) * (to - from);
}

/** A range that is not empty: [v - pad, v + pad] (or halved/doubled on a log scale). */
export function widen(lo, hi, log = false) {
  if (hi > lo) return [lo, hi];
  if (log) return [lo / 2, hi * 2];
  const pad = Math.abs(lo) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

/**
 * The axes' group: horizontal grid lines and labels of y, labels of x, the frame.
 * `frame`: {m: {left, right, top, bottom}, width, height}; `y`/`x`: {lo, hi, log, at}
 * (`at`: the scale); `x.labels`: [[value, text]] instead of round ticks (categories).
 */
export function axes({ m, width, height }, x, y) {
  const g = svg("g", { class: "xpm-mc-axis" });
  for (const v of y.log ? logTicks(y.lo, y.hi) : ticks(y.lo, y.hi, 5)) {
    const py = y.at(v);
    g.appendChild(svg("line", { x1: m.left, x2: width - m.right, y1: py, y2: py, class: "xpm-mc-grid" }));
    g.appendChild(svg("text", { x: m.left - 4, y: py + 3, "text-anchor": "end" })).textContent = fmt(v);
  }
  const xLabels = x.labels || (x.log ? logTicks(x.lo, x.hi) : ticks(x.lo, x.hi, 5)).map((v) => [v, fmt(v)]);
  for (const [v, text] of xLabels) {
    g.appendChild(svg("text", { x: x.at(v), y: height - m.bottom + 16, "text-anchor": "middle" })).textContent = text;
  }
  g.appendChild(svg("rect", { x: m.left, y: m.top, width: width - m.left - m.right,
    height: height - m.top - m.bottom, class: "xpm-mc-frame" }));
  return g;
}
