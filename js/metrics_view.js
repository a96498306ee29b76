/**
 * xpm_nb metrics view: one chart per metric, every run's curve, updated live.
 *
 * Keys read: "title", "tag_names", "snapshot" (every run and point when the
 * model was made), "patch" (a saved view's last patch: the kernel now sends its
 * patches as messages, below), and
 * the settings the toolbar also writes: "color_by" (a tag name or ""),
 * "group_by" (a tag name or ""), "log_scale" (bool), "smoothing" (0-0.99),
 * "panel" ("curves" or "parameters": one point per run, ./params_chart.js),
 * "param_metric", "param_x" (a metric, a tag; "": the first), "param_best"
 * ("last", "min" or "max").
 *
 * Messages (kernel side: xpm_nb.widgets.metrics.CurveState), custom messages of the model:
 *   snapshot {type: "snapshot", runs: [Run], curves: {k: {metric: [xs, ys]}},
 *             extremes: {k: {metric: [min, max]}} (over every point: curves are thinned), metric_names, seq}
 *   patch    {type: "patch", seq, runs?: [Run] (changed), append?: {k: {metric: [xs, ys]}}
 *             (new points), set?: {k: {metric: [xs, ys]}} (whole curves: a new attempt,
 *             or thinned; extremes?: {k: {metric: [min, max]}} with them), metric_names?}
 *   Run = {k, id, name, state, attempt, tags: {name: value}}
 * A patch numbered more than one past the last one tells one was missed: the
 * view asks {type: "sync"} and gets a snapshot (as a custom message).
 *
 * Charts are redrawn at most every REDRAW_MS, only those whose metric changed.
 */
import { CurveStore, curvesView } from "./metrics_panel.js";

export { CurveStore };
export default curvesView();
