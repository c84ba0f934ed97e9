/* The embed snippet of a widget site, read-only, with a Copy button (Clipboard API, or select + copy). */
const { el } = window.Desk;

export function snippetBox(snippet) {
  const code = el("textarea", { class: "site-snippet", readonly: true, rows: "2", "aria-label": "Embed snippet",
                                spellcheck: "false" });
  code.value = snippet;
  const done = el("span", { class: "muted", role: "status" });
  const copy = el("button", { type: "button", class: "copy-snippet", onclick: async () => {
    try {
      await navigator.clipboard.writeText(code.value);
    } catch {
      code.select();
      document.execCommand("copy");
    }
    done.textContent = "Copied.";
  } }, "Copy");
  return el("div", { class: "snippet" },
    el("strong", {}, "Embed snippet"),
    el("p", { class: "muted" }, "Paste it before </body> on every page of the site (its origin must be allowed)."),
    code, el("div", {}, copy, " ", done));
}
