/**
 * xpm_nb workspace browser: the configuration (params.json) of the job whose details
 * are open in an opened run's job table, shown with ./config_view.js on a local model.
 * Owns {type: "config", k, gen} (sent when the table's detail panel shows another
 * job) and its {type: "config", k, gen, tree, identifier} answer.
 */
import { sendIfLive } from "./common.js";
import configView from "./config_view.js";

export const CONFIG_HINT = "configuration: Enter on a row shows its details, its log and its configuration here";

/** A read-only model of `config` for ./config_view.js: "tree" and "identifier". */
function configModel(config, listeners) {
  return {
    get: (key) => (key === "tree" ? config.tree : key === "identifier" ? config.identifier : key === "job" ? {} : undefined),
    set() {}, save_changes() {}, send() {},
    on(event, fn) { if (event === "change:tree") listeners.add(fn); },
    off(event, fn) { listeners.delete(fn); },
  };
}

/** The key of the job whose details `api.detail` shows, null when none. */
function selectedKey(api) {
  const code = api.detail && api.detail.style.display !== "none" ? api.detail.querySelector(".xpm-jt-detail-head code") : null;
  if (!code || !api.store) return null;
  for (const row of api.store.rows.values()) if (row.id === code.title) return row.k;
  return null;
}

/**
 * Follow the table's selection (`api`) in `configHead` and `configEl`; answers are
 * taken for run `gen` only. Pushes its cleanups on `cleanups`.
 */
export function followConfig({ model, watch, gen, api, configHead, configEl, cleanups }) {
  const config = { tree: {}, identifier: "", k: null };
  const listeners = new Set();
  const localModel = configModel(config, listeners);
  let configCleanup = null;
  const onConfig = (message) => {
    if (!message || message.gen !== gen || message.type !== "config" || message.k !== config.k) return;
    config.tree = message.tree || {};
    config.identifier = message.identifier || "";
    configEl.style.display = "";
    if (!configCleanup) configCleanup = configView.render({ model: localModel, el: configEl });
    else for (const fn of [...listeners]) fn();
  };
  model.on("msg:custom", onConfig);
  cleanups.push(() => model.off && model.off("msg:custom", onConfig));
  cleanups.push(() => configCleanup && configCleanup());
  const followSelection = () => {
    const k = selectedKey(api);
    if (k === config.k) return;
    config.k = k;
    if (k === null) {
      configEl.style.display = "none";
      configHead.textContent = CONFIG_HINT;
      return;
    }
    const row = api.store.rows.get(k);
    configHead.textContent = `configuration of ${row ? row.name || row.task : "?"} (params.json)`;
    sendIfLive(model, watch, { type: "config", k, gen });
  };
  if (api.detail && typeof MutationObserver === "function") {
    const observer = new MutationObserver(followSelection);
    observer.observe(api.detail, { childList: true, attributes: true, attributeFilter: ["style"] });
    cleanups.push(() => observer.disconnect());
  }
}
