/**
 * The job table's "compare": the configurations of the picked jobs, only the
 * fields that differ (nested paths, as xpm_nb.widgets.compare gives them), and
 * their metrics side by side (from the rows, so they stay live).
 *
 *   renderCompare(el, { h, clear, result, rows, metricNames, taskName, open, close })
 *
 * `result`: the kernel's answer to {type: "compare", keys}: {keys, fields:
 * [{path, values}], same, total} or {keys, error}; null while it is asked.
 * `rows`: the picked rows, in the order asked. `open(k)`: open a job's details.
 */

const fmt = (v) => {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, "");
  return String(v);
};

export function renderCompare(el, { h, clear, result, rows, metricNames, taskName, open, close }) {
  clear(el);
  if (!rows.length) {
    el.style.display = "none";
    return;
  }
  el.style.display = "";
  const head = h("div", { class: "xpm-jt-detail-head" },
    h("b", {}, `compare ${rows.length} jobs`),
    result && !result.error
      ? h("span", { class: "xpm-muted" }, `${result.fields.length} field${result.fields.length === 1 ? " differs" : "s differ"}, `
        + `${result.same} the same`)
      : null,
    h("span", { class: "xpm-grow" }),
    h("button", { type: "button", class: "xpm-cmp-close", title: "close the comparison (unpick the jobs)",
      dataset: { focus: "compare:close" }, onclick: close }, "×"));
  el.appendChild(head);
  if (!result) {
    el.appendChild(h("div", { class: "xpm-muted" }, "asking the kernel…"));
    return;
  }
  if (result.error) {
    el.appendChild(h("div", { class: "xpm-reason" }, result.error));
    return;
  }
  const table = h("table", { class: "xpm-cmp-table" });
  const header = h("tr", {}, h("th", {}, ""));
  for (const r of rows) {
    const link = h("button", { type: "button", class: "xpm-dep-link", title: `${r.task}\n${r.id}`,
      dataset: { k: String(r.k), focus: `compare:${r.k}` }, onclick: () => open(r.k) },
    h("span", { class: `xpm-state xpm-state-${r.state}` }, h("span", { class: "xpm-dot" })),
    `${taskName(r)} ${r.id.slice(0, 8)}`);
    header.appendChild(h("th", {}, link));
  }
  table.appendChild(header);
  const section = (label) => table.appendChild(h("tr", { class: "xpm-cmp-section" },
    h("td", { colspan: String(rows.length + 1) }, label)));
  if (result.fields.length) section("configuration");
  for (const field of result.fields) {
    const tr = h("tr", { dataset: { path: field.path } }, h("td", { class: "xpm-mono xpm-cmp-path" }, field.path));
    for (const v of field.values) {
      tr.appendChild(h("td", { class: `xpm-mono${v === null ? " xpm-muted" : ""}`, title: v === null ? "not set" : v },
        v === null ? "—" : v));
    }
    table.appendChild(tr);
  }
  if (!result.fields.length) {
    section(`the configurations are the same (${result.total} field${result.total === 1 ? "" : "s"})`);
  }
  const names = metricNames.filter((n) => rows.some((r) => r.metrics && r.metrics[n] !== undefined));
  const hasStep = rows.some((r) => r.step !== null && r.step !== undefined);
  if (names.length || hasStep) section("metrics (last values)");
  if (hasStep) {
    table.appendChild(h("tr", { dataset: { metric: "step" } }, h("td", { class: "xpm-cmp-path" }, "step"),
      ...rows.map((r) => h("td", { class: "xpm-mono" }, fmt(r.step)))));
  }
  for (const name of names) {
    table.appendChild(h("tr", { dataset: { metric: name } }, h("td", { class: "xpm-cmp-path" }, name),
      ...rows.map((r) => h("td", { class: "xpm-mono" }, fmt((r.metrics || {})[name])))));
  }
  el.appendChild(h("div", { class: "xpm-cmp-scroll" }, table));
}
