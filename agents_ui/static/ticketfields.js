/* The ticket's fields in the right column, above the customer: the admins' fields (hub.ticketfields: an order
 * number, a product, a refund approved) with the ticket's values, each saved when changed (PATCH /api/tickets/{id}
 * {fields}); the hub writes the change's line in the timeline. A field required to solve is marked, and while it
 * is empty says so: the hub refuses a solve until it is filled in. A field of some queues only shows on their tickets
 * (and on a ticket that holds a value for it). Hidden while a ticket has no fields. An ES module;
 * text via textContent.
 */
import { fieldDefs } from "./fielddefs.js";

const { api, el, onTicketHead, state } = window.Desk;

let defs = null;  // the ticket fields (fielddefs.js), read once per page
const box = el("section", { id: "ticket-fields", class: "ticket-fields", hidden: true, "aria-label": "Ticket fields" });
const list = el("div", { class: "fields" });
const error = el("p", { class: "error", role: "alert" });
box.append(el("h2", {}, "Ticket"), list, error);

async function save(key, value) {
  const ticketId = state.ticketId;  // the field left by a click on another ticket's row belongs to this one
  try {
    const data = await api("PATCH", "/api/tickets/" + ticketId, { fields: { [key]: value } });
    if (state.ticketId !== ticketId) return;  // another ticket is shown now: its own values stay
    error.textContent = "";
    show(data.ticket);
  } catch (ex) {
    if (state.ticketId === ticketId) error.textContent = ex.message;
  }
}

/** One field's control, bound to its key: what the kind takes, an empty choice or box clearing it. */
function control(f, value) {
  const id = "field-" + f.key;
  const common = { id, name: f.key, "aria-label": f.label, dataset: { kind: f.kind } };
  let input;
  if (f.kind === "list") {
    input = el("select", common, el("option", { value: "" }, "—"), ...f.options.map((o) => el("option", { value: o }, o)));
    input.value = value ?? "";
    input.addEventListener("change", () => save(f.key, input.value || null));
  } else if (f.kind === "checkbox") {
    input = el("input", { ...common, type: "checkbox", checked: value === true });
    input.addEventListener("change", () => save(f.key, input.checked));
  } else {
    const type = { number: "number", date: "date", link: "url" }[f.kind] || "text";
    input = el("input", { ...common, type, step: f.kind === "number" ? "any" : null, value: value ?? "",
                          placeholder: f.kind === "link" ? "https://…" : null });
    input.addEventListener("change", () => {
      const raw = input.value.trim();
      save(f.key, raw === "" ? null : f.kind === "number" ? Number(raw) : raw);
    });
  }
  const open = f.kind === "link" && /^https?:\/\//i.test(value || "")
    ? el("a", { href: value, target: "_blank", rel: "noopener noreferrer", class: "field-open" }, "Open") : null;
  const empty = f.required && (value === undefined || value === null);
  if (f.required) input.required = true;
  return el("div", { class: "field" + (empty ? " missing" : ""), dataset: { field: f.key } },
    f.kind === "checkbox" ? el("label", { class: "check" }, input, " " + f.label)
      : [el("label", { for: id }, f.label, f.required ? el("span", { class: "required", title: "required to solve" },
                                                             " *") : null),
         el("div", { class: "field-row" }, input, open)],
    empty ? el("small", { class: "required-hint" }, "Required before the ticket is solved") : null,
    f.description ? el("small", { class: "muted" }, f.description) : null);
}

function show(ticket) {
  if (!defs) return;
  const pane = document.getElementById("contact-pane");
  if (pane && !box.isConnected) pane.prepend(box);
  const values = ticket.fields || {};
  const shown = defs.filter((f) => !f.queues.length || f.queues.includes(ticket.queue)
                                   || (values[f.key] !== undefined && values[f.key] !== null));
  box.hidden = !shown.length;
  if (box.contains(document.activeElement) && document.activeElement.dataset.kind !== "checkbox") return;  // typing
  list.replaceChildren(...shown.map((f) => control(f, values[f.key])));
}

onTicketHead(async (ticket) => {
  defs = await fieldDefs();  // read once per page, shared (a desk user the hub refuses sees no fields)
  if (state.ticket && state.ticket.id === ticket.id) show(ticket);
});
