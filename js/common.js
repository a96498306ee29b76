// Shared helpers of the xpm_nb views: DOM building, states, progress bars, copy,
// whether a view still has a kernel. Plain ES module, no dependencies.

export const STATES = ["unscheduled", "waiting", "ready", "scheduled", "running", "done", "error"];
export const FINISHED = new Set(["done", "error"]);

// Short words for the states (the JobState values are the reference's names).
export const STATE_LABELS = {
  unscheduled: "unscheduled",
  waiting: "waiting",
  ready: "ready",
  scheduled: "scheduled",
  running: "running",
  done: "done",
  error: "failed",
};

/** Build an element: h("div", {class: "x", title: "y", onclick: f}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** "12.3s", "4m05s", "2h03m", "3d04h". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, "0")}h`;
}

export function formatTime(epoch) {
  if (!epoch) return "";
  return new Date(epoch * 1000).toLocaleString();
}

/** A job's duration in seconds: ended - started, or now - started while it runs. */
export function jobDuration(row, now) {
  if (!row || !row.started) return null;
  const end = row.ended || (FINISHED.has(row.state) ? null : now);
  return end ? Math.max(0, end - row.started) : null;
}

export function shortTask(task) {
  const parts = String(task || "").split(".");
  return parts[parts.length - 1] || String(task || "");
}

/** A state badge: coloured dot and word; the failure reason on hover. */
export function stateBadge(state, reason) {
  const label = STATE_LABELS[state] || state;
  let text = label;
  if (state === "error" && reason) text = reason === "cancelled" ? "cancelled" : label;
  return h(
    "span",
    { class: `xpm-state xpm-state-${state}`, title: reason ? `${label}: ${reason}` : label },
    h("span", { class: "xpm-dot" }),
    h("span", { class: "xpm-state-text" }, text),
  );
}

/**
 * Progress bars of a job, one per level: [[fraction, desc], ...].
 * `compact`: the first level thick with its percentage, deeper levels thin (a table row).
 */
export function progressBars(levels, { compact = true, state = "" } = {}) {
  const wrap = h("div", { class: `xpm-progress ${compact ? "xpm-compact" : "xpm-full"}` });
  fillProgress(wrap, levels, { compact, state });
  return wrap;
}

export function fillProgress(wrap, levels, { compact = true, state = "" } = {}) {
  clear(wrap);
  wrap.dataset.state = state;
  let shown = levels || [];
  if (shown.length === 0) {
    if (state === "done") shown = [[1, null]];
    else return wrap;
  }
  const max = compact ? 3 : shown.length;
  shown.slice(0, max).forEach(([fraction, desc], level) => {
    const pct = Math.max(0, Math.min(1, Number(fraction) || 0)) * 100;
    const title = `${desc ? desc + ": " : ""}${pct.toFixed(1)}% (level ${level})`;
    const bar = h(
      "div",
      { class: `xpm-bar xpm-level-${Math.min(level, 2)}`, title, dataset: { level: String(level) } },
      h("div", { class: "xpm-bar-fill", style: { width: `${pct}%` } }),
    );
    if (level === 0 || !compact) {
      bar.appendChild(
        h("span", { class: "xpm-bar-text" }, `${desc && !compact ? desc + " " : ""}${pct.toFixed(0)}%`),
      );
    }
    wrap.appendChild(bar);
  });
  return wrap;
}

/** Copy text to the clipboard (falls back to a hidden textarea where the API is refused). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    const area = h("textarea", { style: { position: "fixed", opacity: "0" } });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e2) {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

/** A small "copy" button that flashes "copied". */
export function copyButton(getText, label = "copy") {
  const button = h("button", { class: "xpm-copy", type: "button", title: "copy to the clipboard" }, label);
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    const ok = await copyText(getText());
    button.textContent = ok ? "copied" : "copy failed";
    button.classList.toggle("xpm-copied", ok);
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove("xpm-copied");
    }, 1200);
  });
  return button;
}

// --- a view whose kernel is gone --------------------------------------------------
//
// On a kernel restart @jupyter-widgets' manager sets every model's `comm_live` to
// false, and the model triggers "comm_live_update" (anywidget's model proxy passes
// `on("comm_live_update", ...)` through, calling the listener with the view as
// `this`; `comm_live` itself is not on the proxy). A model restored from the
// notebook file has no comm from the start: its DOMWidgetView puts the class
// "jupyter-widgets-disconnected" on the view's element when it is created. (The
// view's own listener that would toggle that class later is removed by anywidget,
// which clears every listener of the view before rendering: so the class tells
// the state at the start, the event the change.) Elsewhere (the monitoring page)
// neither happens: always live.
const DISCONNECTED = "jupyter-widgets-disconnected";

/**
 * Follow whether `el`'s widget still has a kernel. `watch.listeners` are called
 * with `live` at each change (not at the start: read `watch.live`).
 * `watch.frozenAt`: when it stopped (epoch seconds), for durations that must
 * stop moving.
 */
export function watchLive(model, el, onChange = null) {
  let commLive = true;
  const isLive = () => commLive && !(el.closest && el.closest(`.${DISCONNECTED}`));
  const watch = {
    live: isLive(),
    frozenAt: null,
    listeners: new Set(onChange ? [onChange] : []),
    stop() {},
  };
  if (!watch.live) watch.frozenAt = Date.now() / 1000;
  const check = () => {
    const live = isLive();
    if (live === watch.live) return;
    watch.live = live;
    watch.frozenAt = live ? null : Date.now() / 1000;
    for (const fn of [...watch.listeners]) fn(live);
  };
  // After its creation a model's `comm_live` only changes to false (the manager's
  // `disconnect()`); read it where the listener's `this` (the view) gives it.
  const onCommLive = function onCommLive() {
    const widget = this && this.model;
    commLive = widget && typeof widget.comm_live === "boolean" ? widget.comm_live : false;
    check();
  };
  model.on("comm_live_update", onCommLive);
  const observer = typeof MutationObserver === "function" ? new MutationObserver(check) : null;
  if (observer) observer.observe(el, { attributes: true, attributeFilter: ["class"] });
  watch.stop = () => {
    if (model.off) model.off("comm_live_update", onCommLive);
    if (observer) observer.disconnect();
  };
  return watch;
}

/**
 * `model.send(message)` unless the kernel is gone: false when not sent. (A model
 * whose comm died throws "Cannot send"; between that and "comm_live_update" a
 * click must not end in an uncaught error.)
 */
export function sendIfLive(model, watch, message) {
  if (watch && !watch.live) return false;
  try {
    model.send(message);
    return true;
  } catch (error) {
    console.debug("xpm_nb: request not sent, the widget has no kernel", message);
    return false;
  }
}

/** The note an inert view shows: why it no longer moves, and what to do. */
export function inertNote(record) {
  return record && record.seenLive
    ? "kernel restarted: re-run this cell for a live view (this one shows the jobs as last seen)"
    : "saved view, no kernel behind it: re-run this cell for a live view";
}
