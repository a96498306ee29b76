/**
 * xpm_nb workspace browser (`xpm_nb.browse(ws)`): the experiments of a workspace,
 * their runs, and any past run opened in the job table, with its curves, logs
 * and each job's configuration. Kernel side: xpm_nb.widgets.browse.WorkspaceBrowser.
 *
 * Keys read: "workspace" (path), "experiments" ([{name, n_runs, last, status, counts,
 * runs: [{experiment, run_id, current, status, started, ended, n_jobs, counts}]}]),
 * "scanned" (epoch seconds), "run" ({} for the list, else the run shown: its fields
 * above plus gen, tag_names, metric_names), "error", "curves_color_by",
 * "curves_group_by", "curves_log_scale", "curves_smoothing".
 * Requests: {type: "open", experiment, run_id}, {type: "close"}, {type: "refresh"},
 * {type: "poll", gen} (every POLL_MS while the run shown has unfinished jobs: the kernel
 * reads its folders again and answers with a table patch, a curves_patch and new counts);
 * for the run shown, the job table's and curves' own requests (./job_table.js,
 * ./metrics_panel.js) and {type: "config", k}, each stamped with the run's `gen`:
 * the answers carry it back and those of another run are dropped. The table, the
 * curves and the configuration tree are the views of ./job_table.js,
 * ./metrics_panel.js and ./config_view.js, each on an adapter model; "graph" shows the
 * task graph (./dag.js) of the table's rows (their `deps`), a node opening its details.
 *
 * Without a kernel (restarted, or a copy restored from the notebook file) the view shows
 * the list as last seen, with a note; nothing is sent.
 *
 * Keyboard: every experiment and run is a button (Tab, Enter; the arrows go to the
 * next or previous one); Enter on an experiment shows its runs (`aria-expanded`),
 * on a run opens it; in a run, "← experiments" or Escape goes back to the list,
 * with the focus on the run opened.
 *
 * The view's parts, one module each, and the messages each owns:
 *   ./browse_parts.js      style, dates, state counts, status chips, focus by key (none)
 *   ./browse_list.js       the experiments and runs list, keyboard and aria:
 *                          {type: "refresh"}, {type: "open", experiment, run_id}
 *   ./browse_run.js        an opened run: table, curves, graph, close, refresh, poll
 *   ./browse_run_model.js  the `gen`-stamped adapter model of the run's views
 *   ./browse_config.js     the selected job's configuration: {type: "config", k, gen}
 * This module wires them: the DOM skeleton, list or run from "run", "error", the
 * "no kernel" state, and `initialize`.
 */
import { h, inertNote, sendIfLive, watchLive } from "./common.js";
import { modelRecord, registerModel } from "./saved_views.js";
import { ensureOwnStyle, focusKey } from "./browse_parts.js";
import { browseList } from "./browse_list.js";
import { renderRun } from "./browse_run.js";

function render({ model, el }) {
  ensureOwnStyle(el);
  const watch = watchLive(model, el);
  const root = h("div", { class: "xpm-root xpm-br" });
  const record = modelRecord(model);
  const errorEl = h("div", { class: "xpm-br-error", role: "alert" });
  const note = h("div", { class: "xpm-note xpm-inert-note" });
  const body = h("div");
  root.append(note, errorEl, body);
  el.appendChild(root);
  let runView = null; // {update, cleanup} of the run shown
  let shownGen; // the gen of the run shown, null for the list (undefined: nothing yet)
  const send = (message) => sendIfLive(model, watch, message);
  const list = browseList({ model, root, body, send });

  function renderState() {
    // Without a kernel (a saved copy of the view) a run cannot be read: the list only.
    const run = watch.live ? model.get("run") || {} : {};
    const gen = run.gen || null;
    if (gen === shownGen) {
      if (gen && runView) runView.update(run); // polled: new counts, same run
      return;
    }
    const wasRun = shownGen !== null && shownGen !== undefined;
    if (runView) runView.cleanup();
    runView = null;
    shownGen = gen;
    if (gen) {
      runView = renderRun({ model, watch, send, body, run });
      focusKey(root, "br:back");
    } else {
      list.render();
      if (wasRun) list.focusOpened();
    }
  }

  const renderError = () => {
    errorEl.textContent = model.get("error") || "";
  };
  const onExperiments = () => {
    if (shownGen === null) list.render();
  };
  const applyLive = () => {
    if (watch.live && record) record.seenLive = true;
    root.classList.toggle("xpm-inert", !watch.live);
    note.textContent = watch.live ? "" : inertNote(record);
    note.style.display = note.textContent ? "" : "none";
    renderState();
  };
  watch.listeners.add(applyLive);
  renderError();
  applyLive();
  const handlers = [["change:run", renderState], ["change:experiments", onExperiments], ["change:error", renderError]];
  for (const [event, fn] of handlers) model.on(event, fn);
  return () => {
    for (const [event, fn] of handlers) if (model.off) model.off(event, fn);
    if (runView) runView.cleanup();
    watch.stop();
    root.remove();
  };
}

/** anywidget's `initialize`: known to the notebook's saved copy of the views (./common.js). */
function initialize({ model }) {
  return registerModel(model);
}

export default { initialize, render };
