/* Whom a reply by email copies: a "Cc" line under the reply box of a ticket answered by email, filled with the
 * people the customer's latest mail copied ("reply all", channels.email). The agent drops, keeps or adds addresses
 * (commas between them) and the reply sends `cc` as the line says; an emptied line copies nobody. Hidden for a
 * private note and on a chat. The line keeps what the agent typed while the ticket is live-updated, and is filled
 * again for another ticket, after a send, or when a new mail of the customer changes whom it copied.
 * An ES module; text via textContent and value.
 */
const { el, onTicketHead, state, hooks } = window.Desk;

const input = el("input", { type: "text", id: "reply-cc", autocomplete: "off", spellcheck: "false",
                            placeholder: "Add people to copy, e.g. fox@example.org", "aria-label": "Cc" });
const line = el("label", { class: "reply-copies", id: "reply-copies", hidden: true }, "Cc ", input);
let filledFrom = null;  // the ticket and the copies the line was last filled with
let edited = false;

function latest() {
  const t = state.ticket;
  return t && (state.conversations || []).find((c) => c._id === t.conversation_ids.at(-1));
}

const privateNote = () => document.getElementById("reply-private").checked;
const byEmail = () => { const c = latest(); return !!c && c.channel === "email"; };

/** The addresses on the line: split at commas or semicolons, blanks left out (the hub checks each one). */
const typed = () => input.value.split(/[,;]/).map((a) => a.trim()).filter(Boolean);

function show() {
  const form = document.getElementById("reply-form");
  if (form && !line.isConnected) document.getElementById("reply-text").before(line);  // as in a mail: Cc, then the text
  const c = latest();
  const cc = (c && c.channel_data && c.channel_data.cc) || [];
  const key = state.ticketId + "|" + cc.join(",");
  if (key !== filledFrom && (!edited || !filledFrom || !filledFrom.startsWith(state.ticketId + "|"))) {
    input.value = cc.join(", ");
    edited = false;
    filledFrom = key;
  }
  line.hidden = !byEmail() || privateNote();
}

function refill() {
  filledFrom = null;
  edited = false;
  show();
}

// the reply's body: the line as it stands when Send is pressed (desk.js reads every field then)
hooks.replyFields.push((text, isPrivate) => (!isPrivate && byEmail() ? { cc: typed() } : {}));

input.addEventListener("input", () => { edited = true; });
onTicketHead(show);
document.addEventListener("change", (e) => { if (e.target && e.target.id === "reply-private") show(); });
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("reply-form").addEventListener("replysent", (e) => {
    if (e.detail.ticketId === state.ticketId) refill();  // another ticket's line, opened meanwhile, stays
  });
});
