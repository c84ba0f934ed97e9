/* "Ticket fields" (admins): the fields agents fill in on every ticket (hub.ticketfields) — a label, a kind, a list's
 * choices, a hint, whether it is required to solve (not a checkbox: it is yes or no already) and the queues whose
 * tickets have it (none: every queue). The key names the field in the API and cannot change, nor can the kind. An ES module registered
 * with Desk.registerView; talks to /api/ticket-fields and /api/admin/ticket-fields. Text via textContent only.
 */
import { fieldsChanged } from "./fielddefs.js";

const { api, el, registerView } = window.Desk;

const KINDS = [["text", "Text"], ["number", "Number"], ["date", "Date"], ["list", "List of choices"],
               ["checkbox", "Checkbox (yes / no)"], ["link", "Link"]];

/** A key from a label: "Order number" -> "order_number". */
function keyOf(label) {
  const key = label.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  return /^[a-z]/.test(key) ? key.slice(0, 40) : ("field_" + key).slice(0, 40);
}

/** "Queues": a box per queue; none ticked, every queue's tickets have the field. */
function queuePicks(queues, picked) {
  const boxes = queues.map((q) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "queue", value: q.name, checked: picked.includes(q.name) }),
    " " + (q.title || q.name)));
  const node = el("div", { class: "field-queues", role: "group", "aria-label": "Queues" },
    el("span", { class: "muted" }, "Queues (none ticked: every queue):"), ...boxes);
  return { node, value: () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value) };
}

function fieldForm(f, reload, queues) {
  const fresh = !f;
  f = f || { key: "", label: "", kind: "text", options: [], description: "", required: false, queues: [] };
  const where = queuePicks(queues, f.queues || []);
  const label = el("input", { name: "label", value: f.label, required: true, "aria-label": "Label", size: "20",
                              placeholder: "Order number" });
  const key = el("input", { name: "key", value: f.key, "aria-label": "Key", size: "16", placeholder: "order_number",
                            readonly: fresh ? null : true });
  const kind = el("select", { name: "kind", "aria-label": "Kind", disabled: fresh ? null : true },
    ...KINDS.map(([v, l]) => el("option", { value: v }, l)));
  kind.value = f.kind;
  const options = el("textarea", { name: "options", "aria-label": "Choices (one a line)", rows: "3",
                                   placeholder: "Kettle\nToaster" }, f.options.join("\n"));
  const choices = el("label", { class: "choices" }, "Choices, one a line", options);
  const description = el("input", { name: "description", value: f.description, "aria-label": "Hint for agents",
                                    size: "30", placeholder: "optional, shown under the field" });
  const required = el("input", { type: "checkbox", name: "required", checked: !!f.required });
  const mandatory = el("label", { class: "check", title: "A ticket is not solved or closed while this field is empty" },
                       required, " Required to solve");
  const message = el("p", { class: "error", role: "alert" });
  const sync = () => {
    choices.hidden = kind.value !== "list";
    required.disabled = kind.value === "checkbox";
    if (required.disabled) required.checked = false;
  };
  kind.addEventListener("change", sync);
  sync();
  if (fresh) label.addEventListener("input", () => { if (!key.dataset.typed) key.value = keyOf(label.value); });
  key.addEventListener("input", () => { key.dataset.typed = "1"; });
  const remove = fresh ? null : el("button", { type: "button", class: "secondary", onclick: async () => {
    if (!window.confirm(`Delete the field “${f.label}”? Tickets keep their values, but agents no longer see them.`)) return;
    try { await api("DELETE", "/api/admin/ticket-fields/" + encodeURIComponent(f.key)); fieldsChanged(); reload(); }
    catch (ex) { message.textContent = ex.message; }
  } }, "Delete");
  const form = el("form", { class: "field-def", dataset: { field: f.key || "new" } },
    el("fieldset", {}, el("legend", {}, fresh ? "New field" : f.label),
      el("div", { class: "row" }, el("label", {}, "Label", label), el("label", {}, "Key", key),
         el("label", {}, "Kind", kind), el("label", {}, "Hint for agents", description), mandatory),
      choices, where.node,
      el("div", { class: "row" }, el("button", { type: "submit" }, fresh ? "Add field" : "Save"), remove), message));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { label: label.value.trim(), kind: kind.value, description: description.value.trim(),
                   required: required.checked, queues: where.value(),
                   options: kind.value === "list" ? options.value.split("\n").map((o) => o.trim()).filter(Boolean) : [] };
    try {
      await api("PUT", "/api/admin/ticket-fields/" + encodeURIComponent(key.value.trim()), body);
      fieldsChanged();  // the ticket's panel, the list and the bulk bar read them again
      message.textContent = "";
      reload();
    } catch (ex) {
      message.textContent = ex.message;
    }
  });
  return form;
}

registerView("ticket-fields", "Ticket fields", ["admin"], (container) => {
  const box = el("div", { class: "field-defs", id: "field-defs" });
  container.replaceChildren(box);
  async function reload() {
    try {
      const data = await api("GET", "/api/ticket-fields");
      const { queues } = await api("GET", "/api/queues").catch(() => ({ queues: [] }));
      box.replaceChildren(el("h2", {}, "Ticket fields"),
        el("p", { class: "muted" }, "Facts agents fill in on each ticket, beside the customer: an order number, "
          + "a product, whether a refund was approved. Each change is a line in the ticket's timeline; text, number "
          + "and link values find the ticket in the search. A field required to solve must be filled in before "
          + "the ticket is solved or closed."),
        ...data.fields.map((f) => fieldForm(f, reload, queues)), fieldForm(null, reload, queues));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    }
  }
  reload();
});
