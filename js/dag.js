/**
 * The task graph of an experiment: plain SVG, one node per job (or per task
 * type and layer, collapsed), an edge from each dependency to its user.
 *
 *   import { dagView } from "./dag.js";
 *   const cleanup = dagView({ store, el, open });
 *
 * `store` is the job table's RowStore (./table_store.js): rows with `deps` (the
 * keys of the rows they depend on); the view follows its changes: a state
 * change recolours the nodes, a new job or dependency lays the graph out again
 * (at most every 150 ms). `open(k)` opens job k's details in the table.
 *
 * Layout: longest-path layering (a job sits one column right of its deepest
 * dependency, jobs without any in the first column), then, column by column,
 * the jobs ordered by the mean position of their dependencies (ties: submission
 * order). Readable at a few hundred jobs: the graph scrolls inside a bounded
 * box, zooms (−, +, fit), and above COLLAPSE_AT jobs starts collapsed: the jobs
 * of one task type in one column are one node with their count and a bar of
 * their states (Enter or a click expands it).
 */
import { clear, h } from "./common.js";
import { keepFocus, onActivate } from "./keyboard.js";
import { taskName } from "./table_store.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 168;
const NODE_H = 26;
const GAP_X = 56;
const GAP_Y = 10;
const PAD = 12;
const COLLAPSE_AT = 60; // jobs: above, the graph starts collapsed by task type
const RELAYOUT_MS = 150;

// Node colours by state (the experiment view's bar uses the same), and a text colour readable on each.
export const DAG_COLORS = {
  done: "#2f9e44", error: "#e03131", cancelled: "#868e96", running: "#1c7ed6", scheduled: "#74c0fc",
  ready: "#a5d8ff", waiting: "#ced4da", unscheduled: "#e9ecef",
};
const DARK_TEXT = new Set(["scheduled", "ready", "waiting", "unscheduled"]);
const ORDER = ["done", "error", "cancelled", "running", "scheduled", "ready", "waiting", "unscheduled"];

const stateOf = (row) => (row.state === "error" && row.reason === "cancelled" ? "cancelled" : row.state);

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return el;
}

/** Longest-path layer of every row (0: no dependency in the table). */
export function layers(rows) {
  const layer = new Map();
  const visiting = new Set();
  const depth = (row) => {
    if (layer.has(row.k)) return layer.get(row.k);
    if (visiting.has(row.k)) return 0; // a cycle cannot happen; never loop on one
    visiting.add(row.k);
    let d = 0;
    for (const k of row.deps || []) {
      const dep = rows.get(k);
      if (dep) d = Math.max(d, depth(dep) + 1);
    }
    visiting.delete(row.k);
    layer.set(row.k, d);
    return d;
  };
  for (const row of rows.values()) depth(row);
  return layer;
}

/**
 * Nodes and edges: {nodes: [{id, keys, layer, x, y, task, name}], edges: [[from id, to id]], width, height}.
 * `collapsed`: group the jobs of one task in one layer (but the groups in `expanded`).
 */
export function layout(rows, { collapsed = false, expanded = new Set(), taskName = (r) => r.name } = {}) {
  const layer = layers(rows);
  const nodeOf = new Map(); // row key -> node id
  const nodes = new Map();
  const sorted = [...rows.values()].sort((a, b) => a.k - b.k);
  for (const row of sorted) {
    const l = layer.get(row.k);
    const group = `${row.task}@${l}`;
    const id = collapsed && !expanded.has(group) ? `g:${group}` : `k:${row.k}`;
    let node = nodes.get(id);
    if (!node) {
      node = { id, group, keys: [], layer: l, task: row.task, name: taskName(row), first: row.k };
      nodes.set(id, node);
    }
    node.keys.push(row.k);
    nodeOf.set(row.k, id);
  }
  // A group of one job is that job.
  for (const node of nodes.values()) {
    if (node.id.startsWith("g:") && node.keys.length === 1) {
      nodes.delete(node.id);
      node.id = `k:${node.keys[0]}`;
      nodes.set(node.id, node);
      nodeOf.set(node.keys[0], node.id);
    }
  }
  const edges = new Map();
  const preds = new Map([...nodes.keys()].map((id) => [id, new Set()]));
  for (const row of sorted) {
    const to = nodeOf.get(row.k);
    for (const k of row.deps || []) {
      const from = nodeOf.get(k);
      if (!from || from === to) continue;
      edges.set(`${from}>${to}`, [from, to]);
      preds.get(to).add(from);
    }
  }
  // Columns: the first by submission order, the next ones by their dependencies' mean position.
  const columns = [];
  for (const node of nodes.values()) (columns[node.layer] ||= []).push(node);
  const pos = new Map();
  columns.forEach((column = [], l) => {
    const bary = (node) => {
      const ps = [...preds.get(node.id)].map((p) => pos.get(p)).filter((p) => p !== undefined);
      return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : Infinity;
    };
    const keyed = column.map((node) => [l === 0 ? node.first : bary(node), node.first, node]);
    keyed.sort((a, b) => (a[0] - b[0]) || (a[1] - b[1]));
    keyed.forEach(([, , node], i) => {
      pos.set(node.id, i);
      node.x = PAD + l * (NODE_W + GAP_X);
      node.y = PAD + i * (NODE_H + GAP_Y);
    });
    columns[l] = keyed.map((x) => x[2]);
  });
  const tallest = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
  return {
    nodes: [...nodes.values()],
    edges: [...edges.values()],
    width: 2 * PAD + Math.max(1, columns.length) * (NODE_W + GAP_X) - GAP_X,
    height: 2 * PAD + tallest * (NODE_H + GAP_Y) - GAP_Y,
  };
}

function tagText(row, names = null) {
  return Object.entries(row.tags || {}).filter(([k]) => !names || names.has(k)).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** Per task type, the tags whose values differ between its jobs (the others say nothing in a label). */
function varyingTags(rows) {
  const seen = new Map(); // task -> Map(tag -> Set of values)
  const counts = new Map();
  for (const r of rows.values()) {
    counts.set(r.task, (counts.get(r.task) || 0) + 1);
    let tags = seen.get(r.task);
    if (!tags) seen.set(r.task, (tags = new Map()));
    for (const [k, v] of Object.entries(r.tags || {})) {
      if (!tags.has(k)) tags.set(k, new Map());
      tags.get(k).set(String(v), (tags.get(k).get(String(v)) || 0) + 1);
    }
  }
  const out = new Map();
  for (const [task, tags] of seen) {
    const n = counts.get(task);
    out.set(task, new Set([...tags].filter(([, values]) => values.size > 1 || [...values.values()][0] !== n)
      .map(([k]) => k)));
  }
  return out;
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/** Mount the graph view of `store` in `el`; returns the cleanup. */
export function dagView({ store, el, open }) {
  const state = { collapsed: store.rows.size > COLLAPSE_AT, expanded: new Set(), zoom: 1, signature: "" };
  const collapse = h("input", { type: "checkbox", class: "xpm-dag-collapse" });
  collapse.checked = state.collapsed;
  const info = h("span", { class: "xpm-muted xpm-dag-info" });
  const zoomButton = (label, title, cls, fn) => h("button", { type: "button", title, class: cls, onclick: fn }, label);
  const toolbar = h("div", { class: "xpm-dag-toolbar" },
    h("label", { title: "one node per task type and column" }, collapse, " collapse by task"),
    zoomButton("−", "zoom out", "xpm-dag-zoom-out", () => setZoom(state.zoom / 1.25)),
    zoomButton("+", "zoom in", "xpm-dag-zoom-in", () => setZoom(state.zoom * 1.25)),
    zoomButton("fit", "fit the width", "xpm-dag-fit", () => fit()),
    info,
    h("span", { class: "xpm-dag-legend" }, ...ORDER.map((s) => h("span", { class: "xpm-dag-key", dataset: { state: s } },
      h("span", { class: "xpm-dag-swatch", style: { background: DAG_COLORS[s] } }), s))));
  const scroll = h("div", { class: "xpm-dag-scroll" });
  const root = h("div", { class: "xpm-dag" }, toolbar, scroll);
  el.appendChild(root);
  let graph = null; // the last layout
  let svgEl = null;

  function setZoom(z) {
    state.zoom = Math.min(2, Math.max(0.2, z));
    applyZoom();
  }
  function fit() {
    if (!graph) return;
    const width = scroll.clientWidth || 600;
    setZoom(Math.min(1, (width - 4) / graph.width));
  }
  function applyZoom() {
    if (!svgEl || !graph) return;
    svgEl.setAttribute("width", String(Math.round(graph.width * state.zoom)));
    svgEl.setAttribute("height", String(Math.round(graph.height * state.zoom)));
  }

  function nodeState(node) {
    const counts = {};
    for (const k of node.keys) {
      const row = store.rows.get(k);
      if (row) counts[stateOf(row)] = (counts[stateOf(row)] || 0) + 1;
    }
    return counts;
  }

  function paintNode(g, node) {
    const counts = nodeState(node);
    const single = node.keys.length === 1 && !node.id.startsWith("g:");
    const main = ORDER.find((s) => counts[s]) || "unscheduled";
    // A group takes the colour of its least advanced jobs that still matter: running, failed, then the rest.
    const groupMain = ["running", "error", "scheduled", "ready", "waiting", "unscheduled", "cancelled", "done"]
      .find((s) => counts[s]) || main;
    const shown = single ? main : groupMain;
    g.dataset.state = shown;
    const rect = g.querySelector("rect.xpm-dag-box");
    rect.setAttribute("fill", DAG_COLORS[shown] || "#ced4da");
    g.querySelector("text").setAttribute("fill", DARK_TEXT.has(shown) ? "#1f2328" : "#fff");
    const title = g.querySelector("title");
    if (single) {
      const row = store.rows.get(node.keys[0]);
      if (row) {
        title.textContent = `${taskName(row)} ${row.id}\n${row.state}${row.reason ? `: ${row.reason}` : ""}`
          + `${tagText(row) ? `\n${tagText(row)}` : ""}\nEnter or click: details`;
      }
    } else {
      title.textContent = `${node.name}: ${node.keys.length} jobs\n`
        + ORDER.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(", ") + "\nEnter or click: expand";
      const bar = g.querySelector(".xpm-dag-bar");
      clear(bar);
      // The group's states: a bar on a light track along the node's bottom.
      let x = 0;
      const width = NODE_W - 10;
      bar.appendChild(svg("rect", { x: 4, y: NODE_H - 8, width: width + 2, height: 6, rx: 2, fill: "#fff",
        "fill-opacity": 0.9 }));
      for (const s of ORDER) {
        if (!counts[s]) continue;
        const w = (width * counts[s]) / node.keys.length;
        bar.appendChild(svg("rect", { x: 5 + x, y: NODE_H - 7, width: Math.max(w, 1), height: 4, fill: DAG_COLORS[s],
          "data-state": s }));
        x += w;
      }
    }
  }

  function draw() {
    graph = layout(store.rows, { collapsed: state.collapsed, expanded: state.expanded, taskName });
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    const varying = varyingTags(store.rows);
    svgEl = svg("svg", { class: "xpm-dag-svg", viewBox: `0 0 ${graph.width} ${graph.height}`, role: "group",
      "aria-label": "task graph" });
    const edges = svg("g", { class: "xpm-dag-edges" });
    for (const [from, to] of graph.edges) {
      const a = byId.get(from);
      const b = byId.get(to);
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const mx = (x1 + x2) / 2;
      edges.appendChild(svg("path", { class: "xpm-dag-edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
        "data-from": from, "data-to": to }));
    }
    svgEl.appendChild(edges);
    for (const node of graph.nodes) {
      const single = !node.id.startsWith("g:");
      const row = single ? store.rows.get(node.keys[0]) : null;
      const shownTags = row ? tagText(row, varying.get(row.task)) : "";
      const label = single
        ? clip(`${node.name} ${shownTags || (row ? row.id.slice(0, 8) : "")}`, 26)
        : clip(`${node.name} ×${node.keys.length}`, 26);
      const g = svg("g", {
        class: `xpm-dag-node${single ? "" : " xpm-dag-group"}`, transform: `translate(${node.x},${node.y})`,
        tabindex: "0", role: "button", "data-focus": `node:${node.id}`,
        "data-k": single ? node.keys[0] : null, "data-group": single ? null : node.group, "data-n": node.keys.length,
        "data-layer": node.layer,
      },
      svg("title"),
      svg("rect", { class: "xpm-dag-box", width: NODE_W, height: NODE_H, rx: 5 }),
      svg("text", { x: 7, y: single ? 17 : 13, "font-size": single ? 11.5 : 11 }, label),
      single ? null : svg("g", { class: "xpm-dag-bar" }));
      paintNode(g, node);
      g._node = node;
      const act = () => {
        if (single) open(node.keys[0]);
        else {
          state.expanded.add(node.group);
          keepFocus(root, redraw, `node:k:${node.keys[0]}`);
        }
      };
      g.addEventListener("click", act);
      onActivate(g, act);
      svgEl.appendChild(g);
    }
    const jobs = store.rows.size;
    info.textContent = `${jobs} job${jobs === 1 ? "" : "s"}, ${graph.nodes.length} node${graph.nodes.length === 1 ? "" : "s"}`
      + `, ${graph.edges.length} edge${graph.edges.length === 1 ? "" : "s"}`;
    clear(scroll);
    if (!jobs) scroll.appendChild(h("div", { class: "xpm-muted xpm-dag-empty" }, "no jobs yet"));
    else scroll.appendChild(svgEl);
    applyZoom();
  }

  const signature = () => {
    const parts = [];
    for (const r of store.rows.values()) parts.push(`${r.k}:${(r.deps || []).join(",")}`);
    return parts.join(";");
  };
  function redraw() {
    state.signature = signature();
    draw();
  }
  function recolour() {
    if (!svgEl) return;
    for (const g of svgEl.querySelectorAll("g.xpm-dag-node")) paintNode(g, g._node);
  }

  collapse.addEventListener("change", () => {
    state.collapsed = collapse.checked;
    state.expanded.clear();
    keepFocus(root, redraw);
  });

  let timer = null;
  let structural = false;
  const onRows = (event) => {
    structural = structural || event.snapshot || event.changed.some(([old, row]) => !old
      || String(old.deps || []) !== String(row.deps || []));
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      const again = structural && signature() !== state.signature;
      structural = false;
      keepFocus(root, () => (again ? redraw() : recolour()));
    }, RELAYOUT_MS);
  };
  const unsubscribe = store.subscribe(onRows);
  redraw();
  if (state.collapsed || (graph && graph.width > 900)) requestAnimationFrame(() => fit());

  return () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    root.remove();
  };
}
