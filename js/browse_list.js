/**
 * xpm_nb workspace browser: the list of the workspace's experiments and their runs
 * (keys "workspace", "experiments", "_xpm_id"). Sends {type: "refresh"} and
 * {type: "open", experiment, run_id}. Keyboard and aria: every experiment and run
 * is a button (the arrows go to the next or previous one), an experiment shows its
 * runs (`aria-expanded`, `aria-controls`), the focus is kept across a re-render and
 * goes back to the run opened when its view is closed.
 */
import { clear, h } from "./common.js";
import { countsEl, focusKey, statusChip, when } from "./browse_parts.js";

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Arrow down / up: the next or previous experiment or run button of `root`. */
function moveFocus(root, event) {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const items = [...root.querySelectorAll("button.xpm-br-item")];
  const i = items.indexOf(event.target);
  const next = items[i + (event.key === "ArrowDown" ? 1 : -1)];
  if (i >= 0 && next) {
    event.preventDefault();
    next.focus();
  }
}

function listHead(list, experiments) {
  const { model, send } = list;
  const refresh = h("button", { type: "button", class: "xpm-br-refresh", dataset: { focus: "br:refresh" },
    title: "read the workspace again" }, "refresh");
  refresh.addEventListener("click", () => send({ type: "refresh" }));
  return h("div", { class: "xpm-br-head" },
    h("b", {}, "workspace"), h("code", { class: "xpm-muted", title: model.get("workspace") || "" }, model.get("workspace") || ""),
    h("span", { class: "xpm-muted" }, plural(experiments.length, "experiment")),
    refresh);
}

function runItem(list, x, r) {
  const key = `run:${x.name}/${r.run_id}`;
  const b = h("button", { type: "button", class: "xpm-br-item xpm-br-run",
    dataset: { focus: key, run: r.run_id, experiment: x.name },
    "aria-label": `open run ${r.run_id} of ${x.name} (${r.status}, ${r.n_jobs} jobs)` },
  h("code", {}, r.run_id), r.current ? h("span", { class: "xpm-badge" }, "current") : null,
  h("span", { class: "xpm-muted" }, when(r.started)), statusChip(r.status),
  h("span", { class: "xpm-muted" }, plural(r.n_jobs, "job")), countsEl(r.counts));
  b.addEventListener("click", () => {
    list.lastOpened = key;
    list.send({ type: "open", experiment: x.name, run_id: r.run_id });
  });
  b.addEventListener("keydown", (event) => moveFocus(list.root, event));
  return h("li", {}, b);
}

function experimentItem(list, x) {
  const { model, root, expanded } = list;
  const open = expanded.has(x.name);
  const runsId = `xpm-br-runs-${(model.get("_xpm_id") || "").slice(0, 8)}-${x.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const button = h("button", { type: "button", class: "xpm-br-item xpm-br-xp", "aria-expanded": String(open),
    "aria-controls": runsId, dataset: { focus: `xp:${x.name}`, name: x.name },
    title: `${x.n_runs} run(s): Enter shows them` },
  h("span", { class: "xpm-br-caret" }, open ? "▾" : "▸"),
  h("span", { class: "xpm-br-name" }, x.name),
  h("span", { class: "xpm-muted" }, plural(x.n_runs, "run")),
  h("span", { class: "xpm-muted" }, `last ${when(x.last)}`),
  statusChip(x.status), countsEl(x.counts));
  button.addEventListener("click", () => {
    if (expanded.has(x.name)) expanded.delete(x.name);
    else expanded.add(x.name);
    renderList(list);
    focusKey(root, `xp:${x.name}`);
  });
  button.addEventListener("keydown", (event) => moveFocus(root, event));
  const li = h("li", { dataset: { experiment: x.name } }, button);
  if (open) {
    const runs = h("ul", { class: "xpm-br-runs", id: runsId, role: "list", "aria-label": `runs of ${x.name}` });
    for (const r of x.runs || []) runs.appendChild(runItem(list, x, r));
    li.appendChild(runs);
  }
  return li;
}

function renderList(list) {
  const { model, root, body } = list;
  const active = root.ownerDocument.activeElement;
  const keep = active && root.contains(active) && active.dataset ? active.dataset.focus : null;
  clear(body);
  const experiments = model.get("experiments") || [];
  body.appendChild(listHead(list, experiments));
  if (!experiments.length) {
    body.appendChild(h("div", { class: "xpm-muted" }, "no experiment in this workspace yet"));
    return;
  }
  const ul = h("ul", { class: "xpm-br-list", role: "list", "aria-label": "experiments" });
  for (const x of experiments) ul.appendChild(experimentItem(list, x));
  body.appendChild(ul);
  if (keep) focusKey(root, keep);
}

/** Back from a run: its experiment's runs shown, the focus on the run opened. */
function focusOpened(list) {
  if (!list.lastOpened) return;
  const [xp] = list.lastOpened.slice(4).split("/");
  if (!list.expanded.has(xp)) {
    list.expanded.add(xp);
    renderList(list);
  }
  focusKey(list.root, list.lastOpened);
}

/** The list, drawn in `body` (inside `root`); `send` delivers a request when live. */
export function browseList({ model, root, body, send }) {
  const list = {
    model, root, body, send,
    expanded: new Set(), // experiments whose runs are shown
    lastOpened: null, // the data-focus key of the run opened: focused again on "back"
  };
  return { render: () => renderList(list), focusOpened: () => focusOpened(list) };
}
