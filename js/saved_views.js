// The notebook's saved copy of the views, and the page's registry of view models
// (a view finds its model's shared store there, see ./job_table.js `initialize`).
//
// JupyterLab saves no widget state by default, so a reopened notebook would show
// "Error displaying widget: model not found" where a table was. When the notebook
// is saved (`context.saveState` "started", the moment @jupyter-widgets' own
// "save widget state" setting uses), the state of this page's xpm_nb views goes
// into the notebook's "widgets" metadata, where @jupyter-widgets' manager restores
// models from when the notebook is opened again: the views then render from it
// (complete tables, inert). Only xpm_nb's entries are written, for the views still
// in an output (a job table's `snapshot` holds its current rows; the `layout`
// reference to another model is left out); anything else in the metadata is kept.
// The models' state is read from the widget manager's own models (`get_model`,
// `get_state`, `serialize`: public @jupyter-widgets API), so views whose kernel
// restarted are saved too. Elsewhere (no `widget_manager.context`) nothing is done.
const STATE_MIME = "application/vnd.jupyter.widget-state+json";
const VIEW_MIME = "application/vnd.jupyter.widget-view+json";
const REGISTRY = Symbol.for("xpm_nb.views");

/** Models of xpm_nb views in this page (every widget module shares it): model id -> record. */
export function registry() {
  if (!globalThis[REGISTRY]) globalThis[REGISTRY] = { models: new Map(), hooked: new WeakSet() };
  return globalThis[REGISTRY];
}

/** The record of a model registered by `registerModel`, or undefined. */
export function modelRecord(model) {
  const id = model && typeof model.get === "function" ? model.get("_xpm_id") : null;
  return id ? registry().models.get(id) : undefined;
}

/**
 * Register a model (from a widget's `initialize`): `extra.snapshot()` gives its
 * current rows for the saved copy. Returns the unregistering function.
 */
export function registerModel(model, extra = {}) {
  const id = model.get("_xpm_id");
  if (!id) return () => {};
  const reg = registry();
  const record = { id, model, widget: null, seenLive: false, ...extra };
  reg.models.set(id, record);
  const manager = model.widget_manager;
  try {
    if (manager && typeof manager.get_model === "function") {
      Promise.resolve(manager.get_model(id)).then((widget) => { record.widget = widget; }, () => {});
    }
    installSaveHook(manager);
  } catch (error) {
    console.warn("xpm_nb: the views will not be saved with the notebook", error);
  }
  return () => {
    if (reg.models.get(id) === record) reg.models.delete(id);
  };
}

function installSaveHook(manager) {
  const context = manager && manager.context; // @jupyter-widgets/jupyterlab-manager's WidgetManager
  if (!context || !context.saveState || typeof context.saveState.connect !== "function" || !context.model) return;
  const reg = registry();
  if (reg.hooked.has(context)) return;
  reg.hooked.add(context);
  context.saveState.connect((_sender, state) => {
    if (state !== "started") return;
    try {
      saveViews(context.model);
    } catch (error) {
      console.warn("xpm_nb: could not save the views in the notebook", error);
    }
  });
}

function isOurs(entry) {
  const id = entry && entry.state && entry.state._anywidget_id;
  return !!entry && entry.model_module === "anywidget" && typeof id === "string" && id.startsWith("xpm_nb.");
}

function referencedModels(notebook) {
  const ids = new Set();
  for (const cell of notebook.cells) {
    if (cell.type !== "code" || !cell.outputs) continue;
    for (const output of cell.outputs.toJSON()) {
      const view = output.data && output.data[VIEW_MIME];
      if (view && view.model_id) ids.add(view.model_id);
    }
  }
  return ids;
}

/** The saved-state entry of a registered model (@jupyter-widgets' `serialize_state` form). */
function savedEntry(record) {
  const widget = record.widget;
  const state = JSON.parse(JSON.stringify(widget.serialize(widget.get_state(true))));
  delete state.layout; // a reference to another model, not saved: the default does
  if (record.snapshot) {
    state.snapshot = record.snapshot();
    delete state.patch;
  }
  // The experiment view's curves panel: its last patch alone would be a partial picture
  // (a reopened notebook's panel has no kernel to ask for the rest).
  delete state.curves_patch;
  return {
    model_name: widget.get("_model_name"),
    model_module: widget.get("_model_module"),
    model_module_version: widget.get("_model_module_version"),
    state,
  };
}

/** Write the state of this page's xpm_nb views into `notebook`'s "widgets" metadata. */
export function saveViews(notebook) {
  const reg = registry();
  const getMeta = (key) => (notebook.getMetadata ? notebook.getMetadata(key) : notebook.metadata.get(key));
  const meta = getMeta("widgets") || {};
  const state = { ...((meta[STATE_MIME] && meta[STATE_MIME].state) || {}) };
  const referenced = referencedModels(notebook);
  let changed = false;
  for (const [id, record] of reg.models) {
    if (!referenced.has(id) || !record.widget) continue;
    state[id] = savedEntry(record);
    changed = true;
  }
  for (const id of Object.keys(state)) {
    if (isOurs(state[id]) && !referenced.has(id)) {
      delete state[id];
      changed = true;
    }
  }
  if (!changed) return;
  const value = { ...meta, [STATE_MIME]: { version_major: 2, version_minor: 0, state } };
  if (notebook.setMetadata) notebook.setMetadata("widgets", value);
  else notebook.metadata.set("widgets", value);
}
