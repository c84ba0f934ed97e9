/* Audit trail (admins): who did what, when and from where, with filters, paging and a CSV export.
 * An ES module: it registers its view with the desk (window.Desk, loaded before it). Names only, never ids.
 */
const { api, el, registerView } = window.Desk;
const PAGE = 50;

function query(form, after) {
  const params = new URLSearchParams();
  for (const name of ["action", "actor", "from", "to"]) {
    const value = form.elements.namedItem(name).value.trim();
    if (value) params.set(name, value);
  }
  if (after !== undefined) {
    params.set("limit", String(PAGE));
    if (after) params.set("after", after);
  }
  return params;
}

function details(entry) {
  return Object.entries(entry.details || {})
    .map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ");
}

async function render(container) {
  const error = el("p", { class: "error", role: "alert", id: "audit-error" });
  const actions = el("select", { name: "action", "aria-label": "Action" }, el("option", { value: "" }, "any action"));
  const form = el("form", { id: "audit-filters", class: "filters" },
    el("label", {}, "Action ", actions),
    el("label", {}, "User ", el("input", { name: "actor", placeholder: "username", size: "12" })),
    el("label", {}, "From ", el("input", { name: "from", type: "date" })),
    el("label", {}, "To ", el("input", { name: "to", type: "date" })),
    el("button", { type: "submit" }, "Show"));
  const csv = el("a", { id: "audit-csv", href: "/api/admin/audit.csv", download: "audit.csv" }, "Export CSV");
  const body = el("tbody");
  const status = el("span", { class: "muted", id: "audit-count" });
  const older = el("button", { type: "button", id: "audit-older" }, "Older");
  const newer = el("button", { type: "button", id: "audit-newer" }, "Newer");
  // The pages seen so far, newest first, by where each starts (the trail is paged by cursor, not counted).
  let starts = [""];

  async function load() {
    error.textContent = "";
    const first = PAGE * (starts.length - 1);
    try {
      const data = await api("GET", "/api/admin/audit?" + query(form, starts[starts.length - 1]));
      const words = (code) => data.action_words[code] || code;  // in words; a code the desk has none for as is
      if (actions.options.length === 1) {
        for (const a of data.actions) actions.appendChild(el("option", { value: a }, words(a)));
      }
      body.replaceChildren(...data.entries.map((e) => el("tr", { dataset: { action: e.action } },
        el("td", {}, new Date(e.at).toLocaleString()), el("td", {}, e.actor),
        el("td", { title: e.action }, words(e.action)),
        el("td", {}, e.target), el("td", {}, e.ip || ""), el("td", { class: "muted" }, details(e)))));
      const last = first + data.entries.length;
      status.textContent = data.entries.length ? `newest ${first + 1}–${last}` : "nothing recorded";
      older.disabled = !data.next_cursor;
      older.dataset.after = data.next_cursor || "";
      newer.disabled = starts.length === 1;
      csv.href = "/api/admin/audit.csv?" + query(form);
    } catch (ex) { error.textContent = ex.message; }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); starts = [""]; load(); });
  older.addEventListener("click", () => { starts.push(older.dataset.after); load(); });
  newer.addEventListener("click", () => { if (starts.length > 1) starts.pop(); load(); });
  container.replaceChildren(el("div", { class: "audit", style: "padding:16px" },
    el("h2", {}, "Audit trail"), form, error,
    el("p", {}, status, " ", newer, " ", older, " ", csv),
    el("table", { id: "audit" }, el("thead", {}, el("tr", {}, ...["When", "Who", "Action", "What", "IP", "Details"]
      .map((h) => el("th", {}, h)))), body)));
  await load();
}

registerView("audit", "Audit", ["admin"], (container) => { render(container); });
