/* Whom a reply copies: under the reply box of a ticket whose customer's latest mail copied other people, "Copies go
 * to fox@example.org" (channels.email: an agent's reply goes to them too, "reply all"). Not for a private note.
 * Read from the ticket's latest conversation as the desk read it. An ES module; text via textContent.
 */
const { el, onTicketHead, state } = window.Desk;

const line = el("p", { class: "muted reply-copies", id: "reply-copies", hidden: true });

function show() {
  const form = document.getElementById("reply-form");
  if (form && !line.isConnected) form.querySelector(".reply-actions").after(line);
  const t = state.ticket;
  const latest = t && (state.conversations || []).find((c) => c._id === t.conversation_ids.at(-1));
  const cc = (latest && latest.channel_data && latest.channel_data.cc) || [];
  line.textContent = cc.length ? "Copies go to " + cc.join(", ") : "";
  line.hidden = !cc.length || document.getElementById("reply-private").checked;
}

onTicketHead(show);
document.addEventListener("change", (e) => { if (e.target && e.target.id === "reply-private") show(); });
