/* The ticket header names the customer with a link to their contact page (#/contacts/<id>).
 * When a merge moves the open ticket to another contact (a live ticket change with a new
 * contact_id), the ticket is reloaded so the header, the customer pane and the names follow.
 */
const { el, onTicketHead, state } = window.Desk;

const link = el("a", { id: "ticket-contact", class: "ticket-contact" });
let shown = { ticket: null, contact: null };

onTicketHead((t) => {
  if (shown.ticket === t.id && shown.contact && shown.contact !== t.contact_id) {
    shown = { ticket: t.id, contact: t.contact_id };
    window.Desk.openTicket(t.id);  // merged into another contact: reload what the desk shows of them
    return;
  }
  shown = { ticket: t.id, contact: t.contact_id };
  const title = document.getElementById("ticket-title");  // a row of its own under the title and actions
  if (title && !link.isConnected) title.after(link);
  link.href = "#/contacts/" + t.contact_id;
  link.textContent = state.contactName || "Customer";
  link.title = "Open the contact page";
});
