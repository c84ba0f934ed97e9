/* Canned responses library (supervisors): add, edit, delete. Agents insert them from the reply box. */
"use strict";
(() => {
  const { api, el, registerView } = window.Desk;
  const HELP = "Placeholders: {{customer.name}}, {{customer.first_name}}, {{agent.name}}, {{ticket.number}}";

  async function render(container) {
    const { responses } = await api("GET", "/api/responses");
    const error = el("p", { class: "error", role: "alert", id: "responses-error" });
    const form = el("form", { id: "response-form" },
      el("input", { type: "hidden", name: "rid" }),
      el("label", {}, "Shortcut ", el("input", { name: "shortcut", required: true, maxlength: "40" })),
      el("label", {}, "Title ", el("input", { name: "title", required: true, maxlength: "200" })),
      el("label", {}, "Text ", el("textarea", { name: "text", required: true, rows: "5" })),
      el("p", { class: "note" }, HELP),
      el("button", { type: "submit" }, "Save"),
      error);
    // form.elements, not form.<name>: a form's own `id` and `title` properties would shadow the fields
    const field = (name) => form.elements.namedItem(name);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { shortcut: field("shortcut").value, title: field("title").value, text: field("text").value };
      try {
        if (field("rid").value) await api("PUT", "/api/responses/" + field("rid").value, body);
        else await api("POST", "/api/responses", body);
        render(container);
      } catch (ex) { error.textContent = ex.message; }
    });
    const rows = responses.map((r) => el("tr", { dataset: { shortcut: r.shortcut } },
      el("td", {}, "/" + r.shortcut), el("td", {}, r.title), el("td", { class: "text" }, r.text),
      el("td", {},
        el("button", { type: "button", class: "link", onclick: () => {
          field("rid").value = r.id; field("shortcut").value = r.shortcut;
          field("title").value = r.title; field("text").value = r.text;
        } }, "Edit"),
        el("button", { type: "button", class: "link", onclick: async () => {
          try { await api("DELETE", "/api/responses/" + r.id); render(container); }
          catch (ex) { error.textContent = ex.message; }
        } }, "Delete"))));
    container.replaceChildren(el("div", { class: "responses", style: "padding:16px;overflow:auto" },
      el("h2", {}, "Canned responses"),
      el("table", { id: "responses" }, el("thead", {}, el("tr", {}, el("th", {}, "Shortcut"), el("th", {}, "Title"),
        el("th", {}, "Text"), el("th", {}, ""))), el("tbody", {}, ...rows)),
      el("h3", {}, "Add or edit"), form));
  }

  registerView("responses", "Responses", ["supervisor"], (container) => { render(container); });
})();
