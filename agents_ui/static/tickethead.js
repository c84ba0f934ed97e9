/* The ticket head's priority and tags controls (PATCH /api/tickets/{id}); an ES module. */
const { api, el, onTicketHead, state } = window.Desk;

const box = el("span", { id: "ticket-edit", class: "ticket-edit" });
const priority = el("select", { id: "ticket-priority", "aria-label": "Priority" },
  ...["low", "normal", "high", "urgent"].map((p) => el("option", { value: p }, p)));
const tags = el("input", { id: "ticket-tags", "aria-label": "Tags (comma separated)", placeholder: "tags, comma separated",
                           size: "18" });
const error = el("span", { class: "error", role: "alert" });
box.append(priority, tags, error);

async function save(body) {
  try {
    const data = await api("PATCH", "/api/tickets/" + state.ticketId, body);
    error.textContent = "";
    show(data.ticket);
  } catch (ex) {
    error.textContent = ex.message;
  }
}

function show(ticket) {
  const actions = document.querySelector(".ticket-actions");
  if (actions && !box.isConnected) actions.prepend(box);
  priority.value = ticket.priority || "normal";
  if (document.activeElement !== tags) tags.value = (ticket.tags || []).join(", ");
}

priority.addEventListener("change", () => save({ priority: priority.value }));
tags.addEventListener("change", () => save({ tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean) }));
onTicketHead(show);
