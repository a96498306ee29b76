/**
 * xpm_nb workspace browser: the adapter model each view of an opened run (job table,
 * curves) is given over the browser's `model`. Owns the run's `gen` stamp: every
 * request of the view is sent with it, and only the "msg:custom" messages carrying
 * it back reach the view (those of another run are dropped).
 */

/**
 * A model over the browser's `model` for one view of the run `gen`: `keys(key)` gives
 * the values it reads (`keys.settable` maps the keys it may write to the browser's),
 * `request` stamps what it sends, `accept(message)` picks (and may rewrite) the
 * messages it gets.
 */
export function runModel(model, gen, { keys, accept, request = (m) => m }) {
  const wrapped = new Map();
  return {
    get: (key) => keys(key),
    set: (key, value) => {
      const mapped = keys.settable && keys.settable[key];
      if (mapped) model.set(mapped, value);
    },
    save_changes: () => model.save_changes(),
    send: (message) => model.send({ ...request(message), gen }),
    on(event, fn) {
      let inner = null;
      if (event === "msg:custom") {
        inner = (message, buffers) => {
          if (!message || message.gen !== gen) return;
          const out = accept(message);
          if (out) fn(out, buffers);
        };
      } else if (event === "comm_live_update") {
        inner = fn;
      } else if (event.startsWith("change:") && keys.settable && keys.settable[event.slice(7)]) {
        inner = fn;
        event = `change:${keys.settable[event.slice(7)]}`;
      }
      if (!inner) return;
      wrapped.set(fn, [event, inner]);
      model.on(event, inner);
    },
    off(event, fn) {
      const entry = wrapped.get(fn);
      if (entry && model.off) model.off(entry[0], entry[1]);
      wrapped.delete(fn);
    },
  };
}
