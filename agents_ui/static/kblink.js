/* "Insert article" in the reply box: search the published help-center articles and put
 * "Title — https://…/help/slug" into the reply at the cursor. An ES module on window.Desk.
 * The address is on the hub's public URL when one is configured (GET /api/kb/links says).
 */
const { api, el } = window.Desk;

const reply = document.getElementById("reply-text");
const actions = document.querySelector("#reply-form .reply-actions");

function insert(article) {
  const line = `${article.title} — ${article.url}`;
  const start = reply.selectionStart ?? reply.value.length;
  const end = reply.selectionEnd ?? start;
  const before = reply.value.slice(0, start);
  const pad = before && !/\s$/.test(before) ? "\n" : "";
  reply.value = before + pad + line + reply.value.slice(end);
  const caret = (before + pad + line).length;
  reply.focus();
  reply.setSelectionRange(caret, caret);
  reply.dispatchEvent(new Event("input", { bubbles: true }));
}

if (reply && actions) {
  const query = el("input", { type: "search", id: "kb-link-search", placeholder: "Search published articles",
    "aria-label": "Search published articles" });
  const results = el("ul", { id: "kb-link-results" });
  const note = el("p", { class: "muted", style: "margin:0;font-size:12px" });
  const panel = el("div", { class: "kb-picker-panel", id: "kb-link-panel", hidden: true }, query, results, note);
  const toggle = el("button", { type: "button", id: "kb-link-open", "aria-expanded": "false" }, "Insert article");
  let seq = 0;

  async function find() {
    const mine = ++seq;
    try {
      const q = query.value.trim();
      const { articles } = await api("GET", "/api/kb/links" + (q ? "?q=" + encodeURIComponent(q) : ""));
      if (mine !== seq) return;
      results.replaceChildren(...articles.map((a) => el("li", {},
        el("button", { type: "button", dataset: { slug: a.slug }, onclick: () => { insert(a); close(); } },
          a.title, el("span", { class: "snippet" }, a.category + " · " + a.snippet)))));
      note.textContent = articles.length ? "" : (q ? "No published article matches." : "No articles are published yet.");
    } catch (ex) { note.textContent = ex.message; }
  }
  function close() { panel.hidden = true; toggle.setAttribute("aria-expanded", "false"); }
  toggle.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) { query.focus(); find(); }
  });
  let timer = null;
  query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 200); });
  query.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { close(); toggle.focus(); }
    if (e.key === "Enter") { e.preventDefault(); const first = results.querySelector("button"); if (first) first.click(); }
  });
  actions.insertBefore(el("div", { class: "kb-picker" }, toggle, panel), actions.firstChild);
}
