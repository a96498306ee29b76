// The views' stylesheet: JupyterLab's theme variables, with fallbacks for a plain page.
import { h } from "./common.js";

const STYLE_ID = "xpm-nb-style-v4";

/** Add the views' stylesheet once to the document (or the shadow root holding `el`). */
export function ensureStyle(el) {
  const root = el && el.getRootNode ? el.getRootNode() : document;
  const inShadow = typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot;
  const holder = inShadow ? root : document.head;
  if (holder.querySelector(`style#${STYLE_ID}`)) return;
  holder.appendChild(h("style", { id: STYLE_ID }, CSS));
}

// JupyterLab's theme variables, with fallbacks for a plain page.
export const CSS = `
.xpm-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12.5px;
  color: var(--jp-ui-font-color1, #1f2328); line-height: 1.4; }
.xpm-root code, .xpm-mono { font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 12px; }
.xpm-muted { color: var(--jp-ui-font-color2, #656d76); }
.xpm-root button { font: inherit; font-size: 11.5px; cursor: pointer; border-radius: 4px; padding: 1px 7px;
  border: 1px solid var(--jp-border-color1, #c9ced6); background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #1f2328); }
.xpm-root button:hover:not(:disabled) { background: var(--jp-layout-color2, #eef1f4); }
.xpm-root button:disabled { opacity: .45; cursor: default; }
.xpm-root button.xpm-danger { color: #c92a2a; border-color: #f1aeb5; }
.xpm-root button.xpm-copied { color: #2b8a3e; border-color: #8ce99a; }
.xpm-root button.xpm-active { border-color: #4c6ef5; box-shadow: 0 0 0 1px #4c6ef5 inset; font-weight: 600; }
.xpm-ellipsis { min-width: 0; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.xpm-copy { margin-left: 6px; }

.xpm-state { display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }
.xpm-dot { width: 8px; height: 8px; border-radius: 50%; background: #adb5bd; flex: none; }
.xpm-state-waiting .xpm-dot, .xpm-state-unscheduled .xpm-dot { background: #adb5bd; }
.xpm-state-ready .xpm-dot, .xpm-state-scheduled .xpm-dot { background: #74c0fc; }
.xpm-state-running .xpm-dot { background: #1c7ed6; box-shadow: 0 0 0 3px rgba(28,126,214,.18);
  animation: xpm-pulse 1.6s ease-in-out infinite; }
.xpm-state-done .xpm-dot { background: #2f9e44; }
.xpm-state-error .xpm-dot { background: #e03131; }
.xpm-state-cancelled .xpm-dot { background: #868e96; }
.xpm-state-error .xpm-state-text { color: #c92a2a; }
@keyframes xpm-pulse { 50% { box-shadow: 0 0 0 5px rgba(28,126,214,.05); } }

.xpm-progress { display: flex; flex-direction: column; gap: 2px; width: 100%; }
.xpm-bar { position: relative; background: var(--jp-layout-color3, #e9ecef); border-radius: 3px; overflow: hidden; }
.xpm-bar-fill { height: 100%; background: #4c6ef5; transition: width .25s ease; }
.xpm-compact .xpm-level-0 { height: 13px; }
.xpm-compact .xpm-level-1 { height: 4px; }
.xpm-compact .xpm-level-2 { height: 3px; }
.xpm-compact .xpm-level-1 .xpm-bar-fill { background: #748ffc; }
.xpm-compact .xpm-level-2 .xpm-bar-fill { background: #91a7ff; }
.xpm-full .xpm-bar { height: 15px; }
.xpm-bar-text { position: absolute; left: 6px; top: 0; font-size: 10.5px; line-height: 13px;
  color: var(--jp-ui-font-color1, #1f2328); white-space: nowrap; }
.xpm-full .xpm-bar-text { line-height: 15px; }
.xpm-progress[data-state="done"] .xpm-bar-fill { background: #40c057; }
.xpm-progress[data-state="error"] .xpm-bar-fill { background: #ff8787; }

.xpm-chip { display: inline-flex; align-items: center; gap: 4px; padding: 0 7px; border-radius: 10px;
  border: 1px solid var(--jp-border-color2, #d0d7de); background: var(--jp-layout-color1, #fff);
  font-size: 11.5px; line-height: 18px; white-space: nowrap; }
/* Tag highlights: a translucent warning colour over the theme's background, text in the
   theme's font colour, so they read in JupyterLab's light and dark themes alike. */
.xpm-tag { background: color-mix(in srgb, var(--jp-warn-color2, #ffd43b) 28%, transparent);
  border-color: var(--jp-warn-color2, #ffe066); color: var(--jp-ui-font-color1, #5c3c00); }
.xpm-badge { display: inline-block; padding: 0 5px; border-radius: 3px; font-size: 10.5px; line-height: 15px;
  background: var(--jp-layout-color2, #eef1f4); color: var(--jp-ui-font-color2, #656d76); margin-left: 5px; }
.xpm-badge-noid { font-style: italic; }
.xpm-badge-missing { background: #ffe3e3; color: #c92a2a; }

/* job table */
.xpm-jt { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 6px; overflow: hidden;
  background: var(--jp-layout-color0, #fff); }
.xpm-jt-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; padding: 6px 8px;
  border-bottom: 1px solid var(--jp-border-color2, #d0d7de); background: var(--jp-layout-color1, #f6f8fa); }
.xpm-jt-filter { flex: 0 1 240px; min-width: 140px; font: inherit; padding: 2px 6px; border-radius: 4px;
  border: 1px solid var(--jp-border-color1, #c9ced6); background: var(--jp-layout-color0, #fff);
  color: var(--jp-ui-font-color1, #1f2328); }
.xpm-jt-chips { display: flex; flex-wrap: wrap; gap: 4px; }
.xpm-jt-chips .xpm-chip { cursor: pointer; user-select: none; }
.xpm-jt-chips .xpm-chip.xpm-active { border-color: #4c6ef5; box-shadow: 0 0 0 1px #4c6ef5 inset; }
.xpm-jt-count { margin-left: auto; }
.xpm-jt-status { width: 100%; font-size: 11.5px; }
.xpm-jt-status:empty { display: none; }
.xpm-jt-grid { display: grid; align-items: center; column-gap: 10px; padding: 0 10px; }
.xpm-jt-head { font-weight: 600; font-size: 11.5px; color: var(--jp-ui-font-color2, #656d76);
  border-bottom: 1px solid var(--jp-border-color2, #d0d7de); height: 26px; user-select: none; }
.xpm-jt-head > div { cursor: pointer; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.xpm-jt-head > div.xpm-sorted::after { content: " \\25B4"; }
.xpm-jt-head > div.xpm-sorted.xpm-desc::after { content: " \\25BE"; }
.xpm-jt-scroll { overflow-x: auto; overflow-y: hidden; }
.xpm-jt-body { position: relative; overflow-y: auto; overflow-x: hidden; }
.xpm-jt-row .xpm-c-metric { text-align: right; }
.xpm-jt-head > div.xpm-metric-head { text-align: right; }
.xpm-metric-summary { font-size: 11px; color: var(--jp-ui-font-color2, #656d76); overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.xpm-jt-spacer { width: 1px; }
.xpm-jt-row { position: absolute; left: 0; right: 0; top: 0; height: 30px; cursor: pointer;
  border-bottom: 1px solid var(--jp-border-color3, #eef1f4); box-sizing: border-box; }
.xpm-jt-row:hover { background: var(--jp-layout-color2, #f3f5f7); }
.xpm-jt-row.xpm-selected { background: rgba(76,110,245,.10); }
.xpm-jt-row > div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.xpm-jt-row .xpm-actions { display: flex; gap: 4px; justify-content: flex-end; overflow: visible; }
.xpm-jt-row .xpm-actions button { padding: 0 6px; line-height: 17px; }
.xpm-jt-empty { padding: 14px; text-align: center; }
.xpm-jt-detail { border-top: 1px solid var(--jp-border-color2, #d0d7de); padding: 8px 10px;
  background: var(--jp-layout-color1, #f6f8fa); }
.xpm-jt-detail-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 4px; }
.xpm-jt-detail-head .xpm-grow { flex: 1; }
.xpm-kv { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 4px 0; }
.xpm-kv > div:nth-child(odd) { color: var(--jp-ui-font-color2, #656d76); }
.xpm-kv > div { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.xpm-log { max-height: 220px; overflow: auto; margin: 4px 0 0; padding: 6px 8px; border-radius: 4px;
  background: var(--jp-cell-editor-background, #f6f8fa); border: 1px solid var(--jp-border-color2, #d0d7de);
  white-space: pre-wrap; word-break: break-all; font-size: 11.5px; }
.xpm-reason { color: #c92a2a; white-space: pre-wrap; }

/* a view without a kernel (restarted, or a saved copy): nothing moves, no action */
.xpm-note { display: none; padding: 4px 8px; margin: 0 0 6px; border-radius: 4px; font-size: 12px;
  background: #fff3bf; border: 1px solid #ffe066; color: #5c3c00; }
.xpm-inert .xpm-note { display: block; }
.xpm-jt > .xpm-note { margin: 6px 8px 0; }
.xpm-inert .xpm-state-running .xpm-dot { animation: none; box-shadow: none; }
.xpm-inert .xpm-jt-row:not([data-state="done"]):not([data-state="error"]) .xpm-state,
.xpm-inert .xpm-cv-job .xpm-state:not(.xpm-state-done):not(.xpm-state-error) { opacity: .55; }
.xpm-inert .xpm-bar-fill { transition: none; }

/* experiment header */
.xpm-xp-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px; margin-bottom: 6px; }
.xpm-xp-name { font-size: 14px; font-weight: 600; }
.xpm-xp-summary { display: flex; align-items: center; gap: 10px; margin: 4px 0 8px; flex-wrap: wrap; }
.xpm-stack { display: flex; width: 260px; height: 10px; border-radius: 5px; overflow: hidden;
  background: var(--jp-layout-color3, #e9ecef); }
.xpm-stack > div { height: 100%; transition: width .3s ease; }
.xpm-services { margin: 0 0 8px; display: flex; flex-direction: column; gap: 3px; }

/* metrics view (./metrics_view.js, ./metrics_chart.js) */
.xpm-mc-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; margin-bottom: 4px; }
.xpm-mc-toolbar label { display: inline-flex; align-items: center; gap: 4px; }
.xpm-mc-toolbar select { font: inherit; font-size: 11.5px; background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #1f2328); border: 1px solid var(--jp-border-color1, #c9ced6); border-radius: 4px; }
.xpm-mc-smooth { width: 110px; }
.xpm-mc-hover { min-height: 1.4em; font-size: 11.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.xpm-mc-charts { display: flex; flex-wrap: wrap; gap: 10px; }
.xpm-mc-chart { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 6px; padding: 4px 4px 0;
  background: var(--jp-layout-color0, #fff); }
.xpm-mc-title { font-weight: 600; font-size: 12px; padding: 0 4px; }
.xpm-mc-svg { display: block; }
.xpm-mc-axis text { fill: var(--jp-ui-font-color2, #656d76); font-size: 10px; }
.xpm-mc-grid { stroke: var(--jp-border-color3, #eef1f4); stroke-width: 1; }
.xpm-mc-frame { fill: none; stroke: var(--jp-border-color2, #d0d7de); }
.xpm-mc-line, .xpm-mc-mean { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
.xpm-mc-mean { stroke-width: 2; }
.xpm-mc-band { opacity: .22; stroke: none; }
.xpm-mc-plot path.xpm-mc-hot { stroke-width: 3.2; }
.xpm-mc-empty { padding: 10px; }
.xpm-mc-legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 11.5px; margin: 2px 0; }
.xpm-mc-key { display: inline-flex; align-items: center; gap: 4px; }
.xpm-mc-swatch { width: 14px; height: 3px; border-radius: 2px; }
/* parameters panel (./params_chart.js) */
.xpm-pc-chart { width: fit-content; max-width: 100%; border: 1px solid var(--jp-border-color2, #d0d7de);
  border-radius: 6px; padding: 4px 4px 0; background: var(--jp-layout-color0, #fff); }
.xpm-pc-point { stroke: var(--jp-layout-color0, #fff); stroke-width: 1; opacity: .9; cursor: pointer; }
.xpm-pc-point.xpm-mc-hot, .xpm-pc-point.xpm-pc-picked { stroke: var(--jp-ui-font-color0, #111); stroke-width: 2; opacity: 1; }
.xpm-pc-svg .xpm-pc-xlabel, .xpm-pc-svg .xpm-pc-ylabel { font-size: 11px; }

/* config view */
.xpm-cv { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 6px; padding: 8px 10px;
  background: var(--jp-layout-color0, #fff); }
.xpm-cv-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 6px; }
.xpm-cv-cls { font-weight: 600; font-size: 13.5px; }
.xpm-id { padding: 1px 5px; border-radius: 3px; background: var(--jp-layout-color2, #eef1f4); cursor: help; }
.xpm-tree, .xpm-tree ul { list-style: none; margin: 0; padding-left: 16px; }
.xpm-tree { padding-left: 2px; }
.xpm-node { padding: 1px 0; }
.xpm-line { display: flex; align-items: baseline; gap: 4px; flex-wrap: wrap; }
.xpm-caret { width: 12px; flex: none; cursor: pointer; color: var(--jp-ui-font-color2, #656d76); user-select: none; }
.xpm-caret-none { cursor: default; }
.xpm-fname { font-weight: 600; }
.xpm-fname.xpm-tagged { background: color-mix(in srgb, var(--jp-warn-color2, #ffd43b) 28%, transparent);
  color: var(--jp-ui-font-color0, #1f2328); border-radius: 3px; padding: 0 3px; }
.xpm-ftype { color: var(--jp-ui-font-color2, #8c959f); font-style: italic; }
.xpm-value { color: var(--jp-mirror-editor-number-color, #0b7285); white-space: pre-wrap; word-break: break-word; }
.xpm-field-noid > .xpm-line .xpm-fname { color: var(--jp-ui-font-color2, #656d76); font-weight: 500; }
.xpm-collapsed > ul { display: none; }
.xpm-cv-job { display: grid; grid-template-columns: max-content minmax(160px, 360px) auto; align-items: center;
  gap: 4px 10px; padding: 6px 8px; margin-bottom: 8px; border-radius: 5px; background: var(--jp-layout-color1, #f6f8fa);
  border: 1px solid var(--jp-border-color2, #d0d7de); }

/* keyboard: a visible focus ring on what Tab reaches (headers, chips, rows, graph nodes) */
.xpm-root [tabindex]:focus-visible, .xpm-root button:focus-visible, .xpm-root a:focus-visible {
  outline: 2px solid #4c6ef5; outline-offset: -2px; }
.xpm-jt-row:focus-visible { background: rgba(76,110,245,.14); }
/* a cancel waiting for its confirmation */
.xpm-root button.xpm-confirming, .xpm-root button.xpm-confirming:hover:not(:disabled) {
  background: #c92a2a; color: #fff; border-color: #c92a2a; font-weight: 600; }
/* task graph links in a job's details */
.xpm-kv > div:has(> .xpm-dep-list) { white-space: normal; }
.xpm-dep-list { display: inline-flex; flex-wrap: wrap; gap: 3px; vertical-align: middle; }
.xpm-root button.xpm-dep-link { display: inline-flex; align-items: center; gap: 4px; padding: 0 6px;
  font-size: 11px; line-height: 16px; }
.xpm-xp-monitor { color: var(--jp-content-link-color, #1c7ed6); text-decoration: underline; }
/* task graph */
.xpm-xp-graph { margin: 6px 0; border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 6px;
  background: var(--jp-layout-color0, #fff); }
.xpm-dag-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; padding: 5px 8px;
  border-bottom: 1px solid var(--jp-border-color2, #d0d7de); background: var(--jp-layout-color1, #f6f8fa); }
.xpm-dag-toolbar label { display: inline-flex; align-items: center; gap: 3px; cursor: pointer; }
.xpm-dag-legend { display: inline-flex; flex-wrap: wrap; gap: 8px; margin-left: auto; font-size: 11px;
  color: var(--jp-ui-font-color2, #656d76); }
.xpm-dag-key { display: inline-flex; align-items: center; gap: 3px; }
.xpm-dag-swatch { width: 10px; height: 10px; border-radius: 2px; display: inline-block; }
.xpm-dag-scroll { max-height: 460px; overflow: auto; padding: 2px; }
.xpm-dag-empty { padding: 10px; }
.xpm-dag-svg { display: block; font-family: var(--jp-ui-font-family, system-ui, sans-serif); }
.xpm-dag-edge { fill: none; stroke: var(--jp-ui-font-color3, #8c959f); stroke-width: 1.2; opacity: .75; }
.xpm-dag-node { cursor: pointer; }
.xpm-dag-node .xpm-dag-box { stroke: rgba(0,0,0,.25); stroke-width: 1; }
.xpm-dag-node:hover .xpm-dag-box { stroke: var(--jp-ui-font-color1, #1f2328); stroke-width: 1.5; }
.xpm-dag-node:focus { outline: none; }
.xpm-dag-node:focus-visible .xpm-dag-box { stroke: #4c6ef5; stroke-width: 3; }
.xpm-dag-node[data-state="running"] .xpm-dag-box { animation: xpm-dag-pulse 1.6s ease-in-out infinite; }
@keyframes xpm-dag-pulse { 50% { opacity: .72; } }
.xpm-inert .xpm-dag-node .xpm-dag-box { animation: none; }
/* compare */
.xpm-jt-row .xpm-pick { margin: 0 auto 0 2px; cursor: pointer; }
.xpm-cmp { padding: 6px 10px; border-bottom: 1px solid var(--jp-border-color2, #d0d7de); }
.xpm-cmp-scroll { overflow-x: auto; max-height: 320px; overflow-y: auto; }
.xpm-cmp-table { border-collapse: collapse; font-size: 12px; }
.xpm-cmp-table th, .xpm-cmp-table td { padding: 2px 10px 2px 0; text-align: left; vertical-align: top;
  max-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.xpm-cmp-table th { font-weight: normal; }
.xpm-cmp-table tr:not(.xpm-cmp-section):hover td { background: var(--jp-layout-color2, #f3f5f7); }
.xpm-cmp-path { color: var(--jp-ui-font-color2, #656d76); }
.xpm-cmp-section td { padding-top: 6px; font-size: 11px; font-weight: 600; color: var(--jp-ui-font-color2, #656d76);
  border-bottom: 1px solid var(--jp-border-color2, #d0d7de); }
`;

