/* Contact search (the Contacts view): name, email, phone or a channel name; newest first, "Load more" pages.
 * GET /api/contacts is served by the contacts' search index (hub.contactbook). Text via textContent only.
 */
const { api, el } = window.Desk;

const PAGE = 25;

/** A contact as one line: name, then how to reach them ("Email ana@example.com · Telegram Ana"). */
export function contactLine(c) {
  const handles = (c.identities || []).map((i) => i.channel_label + " " + i.handle + (i.verified ? " ✓" : ""));
  return el("span", { class: "contact-line" }, el("strong", {}, c.display_name),
    el("small", { class: "muted" }, handles.length ? " " + handles.join(" · ") : ""));
}

/** A search box with results; `pick(contact)` is called on a click (default: open the contact's page). */
export function searchBox({ id = "contact-search", pick = null, exclude = null, autofocus = true } = {}) {
  const input = el("input", { type: "search", id, name: "q", "aria-label": "Search contacts", autocomplete: "off",
                              placeholder: "Name, email, phone or channel name" });
  const list = el("ul", { class: "contact-results", id: id + "-results" });
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const status = el("p", { class: "muted", role: "status" });
  let cursor = null;
  let generation = 0;

  function row(c) {
    const open = () => { if (pick) pick(c); else location.hash = "#/contacts/" + c.id; };
    return el("li", { dataset: { contact: c.id }, tabindex: "0", onclick: open,
                      onkeydown: (e) => { if (e.key === "Enter") open(); } }, contactLine(c));
  }

  async function load(append) {
    const mine = ++generation;
    const q = input.value.trim();
    if (!q) { list.replaceChildren(); more.hidden = true; status.textContent = "Type to search."; return; }
    const params = new URLSearchParams({ q, size: String(PAGE) });
    if (append && cursor) params.set("after", cursor);
    try {
      const data = await api("GET", "/api/contacts?" + params.toString());
      if (mine !== generation) return;
      const shown = data.contacts.filter((c) => c.id !== exclude);
      const rows = shown.map(row);
      if (append) list.append(...rows); else list.replaceChildren(...rows);
      cursor = data.next;
      more.hidden = !cursor;
      status.textContent = list.children.length ? "" : "No contact matches “" + q + "”.";
    } catch (ex) {
      status.textContent = ex.message;
    }
  }

  let typing = null;
  input.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => load(false), 200); });
  more.addEventListener("click", () => load(true));
  const box = el("div", { class: "contact-search" }, input, status, list, more);
  if (autofocus) setTimeout(() => input.focus(), 0);
  status.textContent = "Type to search.";
  return box;
}

export function mountSearch(container) {
  container.replaceChildren(el("div", { class: "contact-page contacts-index card" },
    el("h2", {}, "Contacts"), searchBox()));
}
