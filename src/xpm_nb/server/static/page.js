// The monitoring page: the notebook widget's job table on a polling model.
//
// `PollModel` gives js/job_table.js the model contract it documents
// (get/set/save_changes/on/off/send): keys and "msg:custom" messages come from
// GET api/poll about once a second; send() POSTs to api/msg and delivers the
// answer as "msg:custom". URLs are relative, so the page also works under a
// proxy prefix. Reads carry the token in the cookie set when the page was
// opened; actions (api/msg, api/quit) must also carry it in the X-XPM-Token
// header (the server puts it in the page's <meta name="xpm-token">) and be
// JSON: a page of another port of 127.0.0.1 gets the cookie sent, not the token.
import { dagView } from "../assets/dag.js";
import { curvesModel, metricsView } from "../assets/experiment_view.js";
import jobTable from "../assets/job_table.js";

function pageToken() {
  const meta = document.querySelector('meta[name="xpm-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// Options of a POST of the page: JSON, token in a header, same origin only.
export function actionOptions(body) {
  return {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-XPM-Token": pageToken() },
    body: JSON.stringify(body ?? {}),
  };
}

const POLL_MS = 1000;
const SERVICES_EVERY = 5; // polls between two refreshes of the services list

function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class PollModel {
  constructor(onStatus = () => {}) {
    this.client = randomId();
    this.values = {};
    this.handlers = new Map(); // event -> Set(callback)
    this.onStatus = onStatus;
    this.stopped = false;
  }

  get(key) {
    return this.values[key];
  }

  set(key, value) {
    this._update({ [key]: value });
  }

  save_changes() {
    // The job table writes no key today; the server keeps none.
  }

  on(event, callback) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(callback);
  }

  off(event, callback) {
    const set = this.handlers.get(event);
    if (set) set.delete(callback);
  }

  _emit(event, ...args) {
    for (const callback of [...(this.handlers.get(event) || [])]) {
      try {
        callback(...args);
      } catch (err) {
        console.error(`xpm_nb: ${event} handler failed`, err);
      }
    }
  }

  _update(values) {
    for (const [key, value] of Object.entries(values || {})) {
      if (JSON.stringify(this.values[key]) === JSON.stringify(value)) continue;
      this.values[key] = value;
      this._emit(`change:${key}`);
    }
  }

  _deliver(messages) {
    for (const message of messages || []) this._emit("msg:custom", message, []);
  }

  async _fetch(path, options = {}) {
    const sep = path.includes("?") ? "&" : "?";
    const response = await fetch(`${path}${sep}client=${this.client}`, {
      credentials: "same-origin",
      cache: "no-store",
      ...options,
    });
    if (response.status === 401 || response.status === 403) {
      this.stopped = true;
      throw new Error(response.status === 401 ? "no token: open the URL with ?token=…" : "wrong token");
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  send(message) {
    this._fetch("api/msg", actionOptions(message)).then(
      (answer) => this._deliver(answer.messages),
      (err) => this.onStatus(false, String(err.message || err)),
    );
  }

  async poll() {
    const answer = await this._fetch("api/poll");
    this._update(answer.state);
    this._deliver(answer.messages);
    return answer;
  }

  async run() {
    while (!this.stopped) {
      try {
        const answer = await this.poll();
        this.onStatus(true, answer);
      } catch (err) {
        this.onStatus(false, String(err.message || err));
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

function showServices(nav, services) {
  nav.replaceChildren();
  for (const s of services) {
    const label = `${s.description || s.id} (${s.state.toLowerCase()})`;
    if (s.url) {
      const a = document.createElement("a");
      a.href = s.url.replace(/^\//, "");
      a.target = "_blank";
      a.textContent = label;
      a.className = "xpm-service";
      nav.appendChild(a);
    } else {
      const span = document.createElement("span");
      span.textContent = label;
      span.className = "xpm-service xpm-page-muted";
      nav.appendChild(span);
    }
  }
}

/** The button `buttonId` shows and hides the panel `panelId`; `mount(el)` fills it
 * at the first opening (again at the next, until it returns something true). */
function togglePanel(buttonId, panelId, mount) {
  const button = document.getElementById(buttonId);
  const el = document.getElementById(panelId);
  let mounted = false;
  button.addEventListener("click", () => {
    el.hidden = !el.hidden;
    button.setAttribute("aria-pressed", String(!el.hidden));
    if (!el.hidden && !mounted) mounted = Boolean(mount(el));
  });
}

async function main() {
  // The cookie now holds the token: keep it out of the address bar and history.
  if (new URLSearchParams(location.search).has("token")) {
    history.replaceState(null, "", location.pathname);
  }
  const title = document.getElementById("xpm-title");
  const connection = document.getElementById("xpm-connection");
  const nav = document.getElementById("xpm-services");
  const quit = document.getElementById("xpm-quit");
  let polls = 0;
  const model = new PollModel((ok, info) => {
    connection.classList.toggle("xpm-page-error", !ok);
    if (!ok) {
      connection.textContent = `disconnected: ${info}`;
      return;
    }
    connection.textContent = `live · ${new Date().toLocaleTimeString()}`;
    if (info.server) {
      quit.style.display = info.server.wait_for_quit ? "inline-block" : "none";
    }
    if (polls++ % SERVICES_EVERY === 0) {
      fetch("api/services", { credentials: "same-origin", cache: "no-store" })
        .then((r) => (r.ok ? r.json() : { services: [] }))
        .then((data) => showServices(nav, data.services || []))
        .catch(() => {});
    }
  });
  model.on("change:title", () => {
    title.textContent = model.get("title") || "xpm_nb";
    document.title = `${title.textContent} · xpm_nb`;
  });
  quit.addEventListener("click", () => {
    fetch("api/quit", actionOptions({})).then(() => {
      quit.disabled = true;
      quit.textContent = "quitting…";
    });
  });
  try {
    await model.poll(); // keys first (title, tag names), then the table
  } catch (err) {
    connection.textContent = `disconnected: ${err.message || err}`;
    connection.classList.add("xpm-page-error");
  }
  const api = {}; // the table's rows and `open(k)`, for the graph
  jobTable.render({ model, el: document.getElementById("xpm-jobs"), api });
  // The task graph (js/dag.js) and the curves (js/metrics_panel.js, as in the
  // experiment view): each mounted at its button's first click.
  togglePanel("xpm-graph", "xpm-graph-view", (el) => api.store && dagView({ store: api.store, el, open: (k) => api.open(k) }));
  togglePanel("xpm-curves", "xpm-curves-view", (el) => {
    // A point of the parameters panel opens its run's row in the table (rows by job id).
    const select = (run) => {
      for (const row of api.store ? api.store.rows.values() : []) if (row.id === run.id) return api.open(row.k);
    };
    metricsView.render({ model: curvesModel(model), el, select });
    return true;
  });
  model.run();
}

main();
