/* "New ticket": an agent writes to a customer first (hub.outbound, POST /api/tickets) — on a channel that can start
 * a conversation (email when its relay is set, SMS when a number to text from is set: GET /api/new-ticket), to an
 * address (a mailbox, or a phone number with its country code), with a subject, a queue, the
 * message and what the ticket is once it is sent (open, pending, solved). The button sits at the top of the queues
 * column and shows only where the hub can; the new ticket opens when it is sent. An ES module; text via textContent.
 */
import { channelName, queueName } from "./names.js";

const { api, el, hasRole, onEnter, openTicket } = window.Desk;

const STATUSES = [["open", "Open: I follow it up"], ["pending", "Pending: waiting for the customer"],
                  ["solved", "Solved: nothing more to do"]];

function form(channels, queues, dialog) {
  const channel = el("select", { name: "channel", id: "new-channel", "aria-label": "Channel" },
    ...channels.map((c) => el("option", { value: c }, channelName(c) || c)));
  const to = el("input", { name: "to", id: "new-to", required: true, autocomplete: "off" });
  const name = el("input", { name: "name", id: "new-name", placeholder: "for a customer we do not know yet" });
  const cc = el("input", { name: "cc", id: "new-cc", autocomplete: "off", placeholder: "optional: fox@example.org, …" });
  const ccRow = el("label", { for: cc.id }, "Cc", cc);
  const subject = el("input", { name: "subject", id: "new-subject", required: true, maxlength: "200" });
  const queue = el("select", { name: "queue", id: "new-queue" },
    ...queues.map((q) => el("option", { value: q.name }, q.title || queueName(q.name) || q.name)));
  const status = el("select", { name: "status", id: "new-status" },
    ...STATUSES.map(([v, l]) => el("option", { value: v }, l)));
  const text = el("textarea", { name: "text", id: "new-text", required: true, rows: "7" });
  const subjectHint = el("span", { class: "muted hint" });
  // what the address is and what the customer gets differ by channel: a mail is signed and has the subject,
  // a text has neither (the subject is the ticket's title in the list)
  const fit = () => {
    const sms = channel.value === "sms";
    to.type = sms ? "tel" : "email";
    to.placeholder = sms ? "+4915112345678 (with the country code)" : "customer@example.com";
    text.placeholder = sms ? "Your text message" : "Your message; your signature goes under it";
    subjectHint.textContent = sms ? " (the ticket's title; not sent in the text)" : "";
    ccRow.hidden = channel.value !== "email";  // a text goes to one number
  };
  channel.addEventListener("change", fit);
  fit();
  const error = el("p", { class: "error", role: "alert" });
  const send = el("button", { type: "submit", id: "new-send" }, "Send");
  const cancel = el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel");
  const row = (label, input) => el("label", { for: input.id }, label, input);
  const node = el("form", { id: "new-ticket-form", method: "dialog" },
    el("h2", {}, "New ticket"),
    channels.length > 1 ? row("Channel", channel) : null,
    row("To", to), ccRow, row("Name", name), el("label", { for: subject.id }, el("span", {}, "Subject", subjectHint), subject),
    el("div", { class: "row" }, row("Queue", queue), row("Then the ticket is", status)),
    row("Message", text), error, el("div", { class: "buttons" }, cancel, send));
  node.addEventListener("submit", async (e) => {
    e.preventDefault();
    send.disabled = true;
    try {
      const data = await api("POST", "/api/tickets", {
        channel: channel.value, to: to.value.trim(), name: name.value.trim() || null, subject: subject.value.trim(),
        queue: queue.value || null, status: status.value, text: text.value,
        cc: ccRow.hidden ? null : cc.value.split(/[,;]/).map((a) => a.trim()).filter(Boolean) });
      dialog.close();
      if (location.hash.split("/")[1] !== "tickets") location.hash = "#/tickets";
      openTicket(data.ticket.id, data.ticket.conversation_ids);
    } catch (ex) {
      error.textContent = ex.message;
    } finally {
      send.disabled = false;
    }
  });
  return node;
}

const dialog = el("dialog", { id: "new-ticket-dialog", "aria-label": "New ticket" });
let channels = [];
const button = el("button", { type: "button", id: "new-ticket", class: "new-ticket", hidden: true, onclick: async () => {
  const { queues } = await api("GET", "/api/queues").catch(() => ({ queues: [] }));
  dialog.replaceChildren(form(channels, queues, dialog));
  dialog.showModal();
  dialog.querySelector("#new-to").focus();
} }, "New ticket");

onEnter(async () => {  // each sign-in: shown to agents where the hub has a channel they can write first on
  button.hidden = true;
  if (!button.isConnected) {
    document.getElementById("queues-pane").prepend(button);
    document.body.append(dialog);
  }
  if (!hasRole("agent")) return;
  try { channels = (await api("GET", "/api/new-ticket")).channels; } catch { channels = []; }
  button.hidden = !channels.length;  // none: email without a relay, or no email channel
});
