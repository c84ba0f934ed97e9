/* "Macros" (supervisors, admins): the one-click actions agents apply from a ticket's head. An ES module
 * registered with Desk.registerView; talks to /api/macros. Text only via textContent.
 */
import { fieldPicks } from "./fieldpicks.js";
import { choose, pick } from "./picker.js";

const { api, el, registerView } = window.Desk;

const list = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

function macroForm(macro, data, reload) {
  const fresh = !macro;
  macro = macro || { name: "", actions: {} };
  const a = macro.actions;
  const input = (name, label, value) => el("label", {}, label,
    el("input", { name, value: value || "", "aria-label": label }));
  const message = el("p", { class: "error", role: "alert" });
  const fields = fieldPicks(data.fields, a.fields);
  const form = el("form", { class: "macro", dataset: { macro: macro.name || "new" } },
    el("fieldset", {}, el("legend", {}, fresh ? "New macro" : macro.name),
      el("div", { class: "row" }, input("name", "Name", macro.name),
        pick("status", "Status", [["", "—"], ["open", "open"], ["pending", "pending"], ["solved", "solved"]], a.status),
        pick("priority", "Priority", [["", "—"], ["low", "low"], ["normal", "normal"], ["high", "high"],
                                      ["urgent", "urgent"]], a.priority),
        input("tags", "Add tags", (a.tags || []).join(", ")),
        choose("queue", "Move to queue", data.queues.map((q) => [q.name, q.title]), a.queue, "removed"),
        choose("assignee", "Assign to", data.agents.map((x) => [x.username, x.name]), a.assignee,
               "disabled or removed"),
        choose("response", "Insert canned response", data.responses.map((r) => [r.shortcut, r.title]), a.response,
               "removed")),
      fields.node,
      el("button", { type: "submit" }, "Save"), " ",
      fresh ? null : el("button", { type: "button", onclick: async () => {
        try { await api("DELETE", "/api/macros/" + macro.id); reload(); }
        catch (ex) { message.textContent = ex.message; }
      } }, "Delete"),
      message));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => form.elements[n].value.trim();
    const body = { name: v("name"), actions: { status: v("status") || null, priority: v("priority") || null,
      tags: list(v("tags")), queue: v("queue") || null, assignee: v("assignee") || null,
      response: v("response") || null, fields: fields.read() } };
    try {
      await api(fresh ? "POST" : "PUT", "/api/macros" + (fresh ? "" : "/" + macro.id), body);
      reload();
    } catch (ex) {
      message.textContent = ex.message;
    }
  });
  return form;
}

registerView("macros", "Macros", ["supervisor"], (container) => {
  const box = el("div", { class: "automation", id: "macros" });
  container.replaceChildren(box);
  async function reload() {
    try {
      const [data, library, defs] = await Promise.all([api("GET", "/api/macros?choices=1"), api("GET", "/api/responses"),
                                                       api("GET", "/api/ticket-fields")]);
      data.responses = library.responses;
      data.fields = defs.fields;
      box.replaceChildren(el("h2", {}, "Macros"),
        el("p", { class: "muted" }, "Agents apply a macro from the ticket head in one click; a canned response "
          + "goes into the reply box for them to read before sending."),
        ...data.macros.map((m) => macroForm(m, data, reload)), macroForm(null, data, reload));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error" }, ex.message));
    }
  }
  reload();
});
