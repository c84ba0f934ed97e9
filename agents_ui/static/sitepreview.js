/* Live preview of a widget site: an iframe of the hub's preview page, reloaded (debounced) with the
 * unsaved look from the editor. The page runs the real widget.js in preview mode: nothing is sent. */
const { el } = window.Desk;

export function previewFrame(name) {
  const frame = el("iframe", { class: "site-preview", title: "Widget preview" });
  let timer = null;
  function show(look, typed) {
    clearTimeout(timer);
    timer = setTimeout(() => {
      frame.src = "/desk/widget-preview/" + encodeURIComponent(name || typed || "preview")
        + "?look=" + encodeURIComponent(JSON.stringify(look));
    }, 300);
  }
  return { node: el("div", { class: "preview" }, el("strong", {}, "Preview"), frame), show };
}
