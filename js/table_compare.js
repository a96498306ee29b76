/**
 * The job table's "compare": the tick boxes, the "compare n" button and the
 * panel of what differs (drawn by ./compare.js).
 *
 * Concern: the {type: "compare", keys: [k, ...]} request (at most 12 jobs;
 * kernel side: xpm_nb.widgets.compare) and its answer {type: "compare", keys,
 * fields: [{path, values}], same, total} or {type: "compare", keys, error}. An
 * answer for other keys than those last asked is dropped. Once the panel shows,
 * it follows the ticks; closing it unticks every job. Disabled without a kernel.
 *
 * Sets on the view (see ./job_table.js): `pickBox(row)`, `renderComparePanel()`.
 */
import { clear, h } from "./common.js";
import { renderCompare } from "./compare.js";
import { taskName } from "./table_store.js";

const MAX_COMPARED = 12;

function renderButton(view) {
  const { compareButton } = view.dom;
  const n = view.state.picked.length;
  compareButton.style.display = n ? "" : "none";
  compareButton.textContent = `compare ${n}`;
  compareButton.disabled = n < 2 || view.inert();
  compareButton.title = n < 2 ? "tick at least two jobs" : "what differs between the ticked jobs' configurations";
}

function startCompare(view) {
  const { state } = view;
  const keys = state.picked.slice(0, MAX_COMPARED);
  if (keys.length < 2) {
    state.compared = null;
    state.compareResult = null;
  } else if (String(keys) !== String(state.compared || [])) {
    state.compared = keys;
    state.compareResult = null;
    view.send({ type: "compare", keys });
  }
  view.schedule(false, true);
}

function pickBox(view, row) {
  const { state } = view;
  const box = h("input", { type: "checkbox", class: "xpm-pick", title: "tick to compare this job with others",
    "aria-label": `compare ${taskName(row)} ${row.id.slice(0, 8)}`, dataset: { focus: `row:${row.k}:pick` } });
  box.checked = state.picked.includes(row.k);
  box.addEventListener("click", (event) => event.stopPropagation());
  box.addEventListener("keydown", (event) => event.stopPropagation()); // Space ticks, Enter does not open
  box.addEventListener("change", () => {
    state.picked = box.checked ? [...state.picked.filter((k) => k !== row.k), row.k]
      : state.picked.filter((k) => k !== row.k);
    renderButton(view);
    if (state.compared) startCompare(view); // the panel follows the ticks
  });
  return box;
}

function renderPanel(view) {
  const { state, store } = view;
  const keys = state.compared || [];
  renderCompare(view.dom.comparePanel, {
    h, clear, result: state.compareResult, metricNames: store.metricNames, taskName, open: view.open,
    rows: keys.map((k) => store.rows.get(k)).filter(Boolean),
    close: () => {
      state.picked = [];
      state.compared = null;
      state.compareResult = null;
      renderButton(view);
      view.schedule(false, true);
    },
  });
}

/** Wire the compare button and panel of `view`. */
export function installCompare(view) {
  view.dom.compareButton.addEventListener("click", () => startCompare(view));
  view.pickBox = (row) => pickBox(view, row);
  view.renderComparePanel = () => renderPanel(view);
  view.onMessage((message) => {
    if (message.type === "compare" && String(message.keys) === String(view.state.compared || [])) {
      view.state.compareResult = message;
      view.schedule(false);
    }
  });
  view.liveHooks.push(() => renderButton(view));
}
