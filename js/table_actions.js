/**
 * The job table's actions on jobs: cancel (asked twice) and resubmit, and the
 * status line that tells how they went.
 *
 * Concern: the {type: "cancel", k} and {type: "resubmit", k} requests (kernel
 * side: xpm_nb.widgets.rows.JobTableState.handle) and their answer
 * {type: "action", action, k, ok, message}. A cancel asks first: the first
 * click turns the button into "confirm?" for CONFIRM_MS, the second sends it
 * (never a browser dialog). A job with an action under way has its buttons
 * disabled until its state changes or the answer comes; a cancel's status line
 * is then replaced by the job's end, as it happened. Without a kernel nothing
 * is sent (`view.send`) and nothing waits.
 *
 * Sets on the view (see ./job_table.js): `act(action, k)`, `cancelButton(row,
 * cls, label, focus)`, `actionButton(label, title, cls, onClick)`.
 */
import { FINISHED, h } from "./common.js";
import { taskName } from "./table_store.js";

const CONFIRM_MS = 4000; // a cancel waits this long for its confirmation click
const STATUS_MS = 5000; // an answer stays this long on the status line
const ERROR_STATUS_MS = 15000; // a failure's answer, this long

/** The status line: the last action's answer, shown for a few seconds. */
function statusLine(view) {
  const line = { job: null, timer: null }; // `job`: the job a "cancelling ..." line waits on
  line.show = (text, ok, key = null) => {
    const { status } = view.dom;
    line.job = key;
    status.textContent = text;
    status.style.color = ok ? "" : "#c92a2a";
    if (line.timer) clearTimeout(line.timer);
    line.timer = setTimeout(() => { status.textContent = ""; }, ok ? STATUS_MS : ERROR_STATUS_MS);
  };
  view.cleanups.push(() => line.timer && clearTimeout(line.timer));
  return line;
}

/** The first click of a cancel asks for a second one, within CONFIRM_MS. */
function cancelConfirmation(view) {
  let timer = null;
  view.cleanups.push(() => timer && clearTimeout(timer));
  return (k) => {
    const { state } = view;
    if (timer) clearTimeout(timer);
    if (state.confirming === k) {
      state.confirming = null;
      view.act("cancel", k);
      return;
    }
    state.confirming = k;
    timer = setTimeout(() => {
      state.confirming = null;
      view.schedule(false, true);
    }, CONFIRM_MS);
    view.schedule(false, true);
  };
}

function cancelButton(view, cancelClicked, row, cls, label, focus) {
  const confirming = view.state.confirming === row.k;
  const button = h("button", {
    type: "button", class: `xpm-danger ${cls}${confirming ? " xpm-confirming" : ""}`,
    title: confirming ? "click again to cancel this job" : "cancel this job",
    "aria-label": confirming ? "confirm: cancel this job" : "cancel this job",
    dataset: { focus },
  }, confirming ? "confirm?" : label);
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    cancelClicked(row.k);
  });
  return button;
}

function actionButton(label, title, cls, onClick) {
  const button = h("button", { type: "button", title, class: cls }, label);
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    onClick();
  });
  return button;
}

/** Rows changed: an action is over when its job's state changes. */
function onRows(view, line, event) {
  const { pending } = view.state;
  for (const [old, row] of event.changed) {
    const moved = !old || old.state !== row.state;
    if (pending.has(row.k) && moved) pending.delete(row.k);
    if (row.k === line.job && FINISHED.has(row.state) && moved) {
      // The action's outcome replaces "cancelling ...": the job's end, as it happened.
      const why = row.reason ? ` (${row.reason})` : "";
      line.show(`${taskName(row)}: ${row.state}${why}`, true);
    }
  }
}

function onAnswer(view, line, message) {
  if (message.type !== "action") return;
  view.state.pending.delete(message.k);
  const row = view.store.rows.get(message.k);
  const waits = message.ok && message.action === "cancel" && !(row && FINISHED.has(row.state));
  line.show(message.message || "", message.ok, waits ? message.k : null);
  view.schedule(false, true);
}

/** Wire the actions of `view`. */
export function installActions(view) {
  const line = statusLine(view);
  const cancelClicked = cancelConfirmation(view);
  view.act = (action, k) => {
    if (!view.send({ type: action, k })) return;
    view.state.pending.add(k);
    const row = view.store.rows.get(k);
    line.show(`${action} ${row ? taskName(row) : k}…`, true);
    view.schedule(false, true);
  };
  view.cancelButton = (row, cls, label, focus) => cancelButton(view, cancelClicked, row, cls, label, focus);
  view.actionButton = actionButton;
  view.cleanups.push(view.store.subscribe((event) => onRows(view, line, event)));
  view.onMessage((message) => onAnswer(view, line, message));
  view.liveHooks.push((off) => off && view.state.pending.clear());
}
