/* The ticket's subject, renamed from its head: "Rename" beside the title opens it for editing, Enter (or leaving the
 * field) saves it (PATCH /api/tickets/{id} {subject}: an event in the ticket's history, its words searchable), Escape
 * keeps the old one. An ES module; text via textContent. */
const { api, el, onTicketHead, state } = window.Desk;

const input = el("input", { id: "ticket-subject", "aria-label": "Subject", maxlength: "200", hidden: true });
const rename = el("button", { type: "button", id: "ticket-rename", class: "link", title: "Rename this ticket" },
                  "Rename");
const error = el("span", { class: "error", role: "alert" });
let editingId = null;

const title = () => document.getElementById("ticket-title");

function editing(ticket) {
  editingId = ticket ? ticket.id : null;
  title().hidden = !!ticket;
  input.hidden = !ticket;
  rename.hidden = !!ticket;
  if (!ticket) return;
  input.value = ticket.subject || "";
  input.focus();
  input.select();
}

async function save() {
  const id = editingId;
  const subject = input.value.trim();
  if (!id || !state.ticket || state.ticket.id !== id) { editing(null); return; }
  if (!subject || subject === (state.ticket.subject || "")) { editing(null); return; }
  try {
    const data = await api("PATCH", "/api/tickets/" + id, { subject });
    error.textContent = "";
    if (state.ticket && state.ticket.id === id) {
      state.ticket = data.ticket;
      title().textContent = "#" + data.ticket.number + " " + data.ticket.subject;
    }
    editing(null);
  } catch (ex) {
    error.textContent = ex.message;
  }
}

input.addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    save();
  } else if (e.key === "Escape") {
    e.preventDefault();
    e.stopPropagation();
    editing(null);
  }
});
input.addEventListener("blur", () => { if (editingId) save(); });
rename.addEventListener("click", () => { if (state.ticket) editing(state.ticket); });

onTicketHead((t) => {
  if (!rename.isConnected) title().after(input, rename, error);
  if (editingId && editingId !== t.id) editing(null);  // another ticket opened meanwhile
  if (!editingId) error.textContent = "";
});
