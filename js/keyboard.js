/**
 * Keyboard use of the views: activating an element with Enter/Space, and
 * keeping the keyboard focus across re-renders.
 *
 * The table rebuilds its header, chips, rows and detail panel as rows change
 * (a live experiment: several times a second); rebuilt elements lose the focus,
 * which then falls back to the page's body. Focusable elements carry a
 * `data-focus` key that names what they are (`"head:task"`, `"chip:running"`,
 * `"row:12"`, `"row:12:cancel"`, `"dep:3"`); `keepFocus(root, fn)` notes the
 * focused element's key before `fn` re-renders and, when the focus was lost or
 * the element now shows something else (a pooled row given another job), puts
 * it back on the element that holds the same key.
 */

/** Make `el` focusable and run `fn(event)` on Enter (and on Space unless `space` is false). */
export function onActivate(el, fn, { space = true, focusable = true } = {}) {
  if (focusable && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0");
  el.addEventListener("keydown", (event) => {
    if (event.target !== el || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Enter" || (space && (event.key === " " || event.key === "Spacebar"))) {
      event.preventDefault();
      fn(event);
    }
  });
  return el;
}

/** The focused element inside `root` (which may be in a shadow root), or null. */
export function focusedIn(root) {
  const doc = root.getRootNode ? root.getRootNode() : document;
  const active = (doc && doc.activeElement) || document.activeElement;
  return active && active !== document.body && root.contains(active) ? active : null;
}

/** Run `fn` (a re-render of `root`) and keep the keyboard focus on the same `data-focus` key. */
export function keepFocus(root, fn, wanted = null) {
  const active = focusedIn(root);
  const key = wanted || (active && active.dataset ? active.dataset.focus : null);
  try {
    return fn();
  } finally {
    if (key) {
      const now = focusedIn(root);
      if (!now || !now.dataset || now.dataset.focus !== key) {
        const target = root.querySelector(`[data-focus="${cssEscape(key)}"]`);
        if (target && target.offsetParent !== null) target.focus({ preventScroll: true });
      }
    }
  }
}

function cssEscape(s) {
  return typeof CSS !== "undefined" && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
}
