// Metrics in the job table: last values as columns, and a summary where a job has no
// progress bar. Plain ES module, imported by ./table_filters.js and ./table_rows.js.

function div(cls, title, text) {
  const el = document.createElement("div");
  el.className = cls;
  if (title) el.title = title;
  el.textContent = text;
  return el;
}

// Names read as "lower is better": a first click on their column sorts ascending
// (best first); every other metric sorts descending on a first click (accuracy...).
const LOWER_IS_BETTER = /loss|error|perplexity/i;

export function lowerIsBetter(name) {
  return LOWER_IS_BETTER.test(String(name));
}

/** A metric value in at most 4 significant digits ("0.1235", "1.235e-05", "12350"). */
export function formatMetric(value) {
  if (value === null || value === undefined) return "";
  const v = Number(value);
  if (!Number.isFinite(v)) return String(value);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3).replace(/\.?0+e/, "e");
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** The table's columns of the metrics `names` (key "metric:<name>"). */
export function metricColumns(names) {
  return names.map((name) => ({
    key: `metric:${name}`, label: name, metric: name, width: "minmax(64px, 0.6fr)", min: 64,
    title: `last value of metric ${name} (click: ${lowerIsBetter(name) ? "lowest" : "highest"} first)`,
    value: (r) => (r.metrics || {})[name],
    // The order of a first click on the column: best first.
    firstDesc: !lowerIsBetter(name),
  }));
}

/** The cell of a metric column. */
export function metricCell(row, name) {
  const v = (row.metrics || {})[name];
  return div("xpm-c-metric xpm-mono", v === undefined ? "" : String(v), formatMetric(v));
}

function hasMetrics(row) {
  return !!row.metrics && Object.keys(row.metrics).length > 0;
}

/** True when the progress cell shows the metrics instead of a bar (a job that logs only metrics). */
export function showsMetricsInstead(row) {
  return !(row.progress && row.progress.length) && (hasMetrics(row) || row.step !== null && row.step !== undefined);
}

/** "step 12 · loss 0.31 · acc 0.91": what a job that logs only metrics shows for progress. */
export function metricSummary(row, max = 3) {
  const parts = [];
  if (row.step !== null && row.step !== undefined) parts.push(`step ${row.step}`);
  const entries = Object.entries(row.metrics || {});
  for (const [name, v] of entries.slice(0, max)) parts.push(`${name} ${formatMetric(v)}`);
  if (entries.length > max) parts.push("…");
  const full = [row.step !== null && row.step !== undefined ? `step ${row.step}` : null,
    ...entries.map(([n, v]) => `${n} = ${v}`)].filter(Boolean).join("\n");
  return div("xpm-metric-summary xpm-mono", full, parts.join(" · "));
}
