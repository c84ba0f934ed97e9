/* Audit trail (admins): who did what, when and from where, with filters, paging and a CSV export.
 * An ES module: it registers its view with the desk (window.Desk, loaded before it). Names only, never ids.
 */
const { api, el, registerView } = window.Desk;
const PAGE = 50;

function query(form, offset) {
  const params = new URLSearchParams();
  for (const name of ["action", "actor", "from", "to"]) {
    const value = form.elements.namedItem(name).value.trim();
    if (value) params.set(name, value);
  }
  if (offset !== undefined) { params.set("offset", String(offset)); params.set("limit", String(PAGE)); }
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
  let offset = 0;

  async function load() {
    error.textContent = "";
    try {
      const data = await api("GET", "/api/admin/audit?" + query(form, offset));
      if (actions.options.length === 1) {
        for (const a of data.actions) actions.appendChild(el("option", { value: a }, a));
      }
      body.replaceChildren(...data.entries.map((e) => el("tr", { dataset: { action: e.action } },
        el("td", {}, new Date(e.at).toLocaleString()), el("td", {}, e.actor), el("td", {}, e.action),
        el("td", {}, e.target), el("td", {}, e.ip || ""), el("td", { class: "muted" }, details(e)))));
      const last = Math.min(offset + data.entries.length, data.total);
      status.textContent = data.total ? `${offset + 1}–${last} of ${data.total}` : "nothing recorded";
      older.disabled = last >= data.total;
      newer.disabled = offset === 0;
      csv.href = "/api/admin/audit.csv?" + query(form);
    } catch (ex) { error.textContent = ex.message; }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); offset = 0; load(); });
  older.addEventListener("click", () => { offset += PAGE; load(); });
  newer.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  container.replaceChildren(el("div", { class: "audit", style: "padding:16px" },
    el("h2", {}, "Audit trail"), form, error,
    el("p", {}, status, " ", newer, " ", older, " ", csv),
    el("table", { id: "audit" }, el("thead", {}, el("tr", {}, ...["When", "Who", "Action", "What", "IP", "Details"]
      .map((h) => el("th", {}, h)))), body)));
  await load();
}

registerView("audit", "Audit", ["admin"], (container) => { render(container); });
