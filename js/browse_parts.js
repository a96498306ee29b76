/**
 * xpm_nb workspace browser: the parts its list and its run view share. Owns no
 * message: the browser's own style sheet (on top of ./common.js's), dates, the
 * state counts and status chip of an experiment or a run, focus by `data-focus` key.
 */
import { STATE_LABELS, h } from "./common.js";
import { ensureStyle } from "./style.js";

const COUNT_ORDER = ["done", "error", "cancelled", "running", "scheduled", "ready", "waiting", "unscheduled"];
const STYLE_ID = "xpm-nb-browse-style-v1";
const CSS = `
.xpm-br-head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-bottom: 6px; }
.xpm-br-list { list-style: none; margin: 0; padding: 0; border: 1px solid var(--jp-border-color2, #d0d7de);
  border-radius: 6px; background: var(--jp-layout-color0, #fff); }
.xpm-br-list > li { border-bottom: 1px solid var(--jp-border-color3, #eef1f4); }
.xpm-br-list > li:last-child { border-bottom: none; }
.xpm-root button.xpm-br-item { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; width: 100%;
  text-align: left; border: none; border-radius: 0; background: transparent; padding: 5px 10px; font-size: 12.5px; }
.xpm-root button.xpm-br-item:focus-visible { outline: 2px solid #4c6ef5; outline-offset: -2px; }
.xpm-br-name { font-weight: 600; min-width: 8em; }
.xpm-br-runs { list-style: none; margin: 0 0 4px 22px; padding: 0; border-left: 2px solid var(--jp-border-color2, #d0d7de); }
.xpm-root button.xpm-br-run { font-size: 12px; padding: 3px 10px; }
.xpm-br-counts { display: inline-flex; flex-wrap: wrap; gap: 2px 10px; }
.xpm-br-caret { width: 1em; display: inline-block; color: var(--jp-ui-font-color2, #656d76); }
.xpm-br-error { color: #c92a2a; margin: 4px 0; }
.xpm-br-error:empty { display: none; }
.xpm-br-section { margin-top: 8px; }
.xpm-br-config { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 6px; padding: 6px 8px;
  background: var(--jp-layout-color0, #fff); }
.xpm-br-status-failed, .xpm-br-status-crashed { color: #c92a2a; }
.xpm-br-status-running { color: #1c7ed6; }
/* A past run is read only: no cancel or resubmit (the kernel would refuse them anyway). */
.xpm-br .xpm-cancel, .xpm-br .xpm-resubmit, .xpm-br .xpm-detail-cancel, .xpm-br .xpm-detail-resubmit { display: none; }
`;

/** The shared style sheet, then the browser's own, once per document or shadow root. */
export function ensureOwnStyle(el) {
  ensureStyle(el);
  const root = el && el.getRootNode ? el.getRootNode() : document;
  const holder = typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot ? root : document.head;
  if (!holder.querySelector(`style#${STYLE_ID}`)) holder.appendChild(h("style", { id: STYLE_ID }, CSS));
}

const pad = (n) => String(n).padStart(2, "0");

/** Epoch seconds as local "YYYY-MM-DD hh:mm" ("?" when unknown). */
export function when(t) {
  if (!t) return "?";
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "n jobs" per state, in COUNT_ORDER, states without a job left out. */
export function countsEl(counts) {
  const wrap = h("span", { class: "xpm-br-counts" });
  for (const s of COUNT_ORDER) {
    const n = (counts || {})[s] || 0;
    if (n) wrap.appendChild(h("span", { class: `xpm-state xpm-state-${s}`, dataset: { state: s, count: String(n) } },
      h("span", { class: "xpm-dot" }), `${n} ${STATE_LABELS[s] || s}`));
  }
  if (!wrap.childNodes.length) wrap.appendChild(h("span", { class: "xpm-muted" }, "no job"));
  return wrap;
}

export function statusChip(status) {
  return h("span", { class: `xpm-chip xpm-br-status xpm-br-status-${status}` }, status || "?");
}

/** Focus the element of `root` whose `data-focus` is `key`, if it is there. */
export function focusKey(root, key) {
  const target = root.querySelector(`[data-focus="${key.replace(/["\\]/g, "\\$&")}"]`);
  if (target) target.focus({ preventScroll: false });
}
