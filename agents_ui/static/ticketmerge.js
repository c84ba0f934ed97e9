/* Ticket merge and split in the desk; an ES module on window.Desk (loaded after desk.js).
 * "Merge into…" in the ticket header searches the customer's other tickets by number or subject (the list API)
 * and merges this ticket into the chosen one (POST /api/tickets/{id}/merge); a merged ticket shows
 * "Merged into #12" with a link there. "Split to new ticket" on a customer message moves it out into a new
 * ticket (POST /api/tickets/{id}/split). Merge and split lines in the timeline are drawn like transfers.
 * Names and numbers only, never ids.
 */
const { api, el, state, onRenderMessage, onTicketHead, fmtTime, openTicket } = window.Desk;

onRenderMessage((m) => {
  const meta = m.metadata || {};
  if (!meta.merge && !meta.split) return null;
  return el("li", { class: "move", dataset: { id: m.id, author: "move" } },
    el("span", { class: "who" }, fmtTime(m.created_at) + " · private"),
    el("span", { class: "text" }, m.text));
});

const button = el("button", { type: "button", id: "merge-open", class: "secondary" }, "Merge into…");
const panel = el("div", { id: "merge-panel", class: "transfer-panel", hidden: true });
const banner = el("p", { id: "merged-banner", class: "merged-banner", hidden: true });

function ticketLabel(t) {
  return "#" + t.number + " " + (t.subject || "(no subject)") + " — " + t.status;
}

async function search(results, text, error, confirmBox) {
  const ticket = state.ticket;
  const params = new URLSearchParams({ size: "20", status: "new,open,pending,solved" });
  // Nothing typed: the customer's tickets, found by their name (the list searches customer names too).
  const q = text.trim().replace(/^#/, "") || state.contactName || "";
  if (q) params.set("q", q);
  let data;
  try {
    data = await api("GET", "/api/tickets?" + params);
  } catch (ex) { error.textContent = ex.message; return; }
  if (state.ticket !== ticket) return;
  // The customer's own other tickets: merging across customers is refused (merge the contacts first).
  const mine = data.tickets.filter((t) => t.id !== ticket.id && t.contact_id === ticket.contact_id);
  results.replaceChildren(...(mine.length ? mine.map((t) => el("li", {},
    el("button", { type: "button", class: "link", dataset: { number: String(t.number) },
      onclick: () => choose(t, confirmBox, error) }, ticketLabel(t))))
    : [el("li", { class: "muted" }, "No other open ticket of this customer matches.")]));
}

/** The chosen ticket: say what happens, and merge on the second click. */
function choose(into, confirmBox, error) {
  const from = state.ticket;
  confirmBox.replaceChildren(
    el("span", {}, "Merge #" + from.number + " into #" + into.number + "? #" + from.number +
      " closes, its conversations move to #" + into.number + " and the customer is told there. "),
    el("button", { type: "button", id: "merge-confirm", onclick: () => merge(into, error) }, "Merge"));
}

async function merge(into, error) {
  const from = state.ticket;
  try {
    await api("POST", "/api/tickets/" + from.id + "/merge", { into: String(into.number) });
    panel.hidden = true;
    await openTicket(into.id);  // the survivor, with one timeline of every channel
  } catch (ex) { error.textContent = ex.message; }
}

function open() {
  const input = el("input", { id: "merge-search", type: "search", "aria-label": "Find a ticket",
    placeholder: "Ticket number or subject", size: "28" });
  const results = el("ul", { id: "merge-results", class: "merge-results" });
  const error = el("p", { class: "error", role: "alert", id: "merge-error" });
  const confirmBox = el("p", { id: "merge-summary", class: "merge-summary" });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(results, input.value, error, confirmBox), 200);
  });
  panel.replaceChildren(el("strong", {}, "Merge #" + state.ticket.number + " into…"), input,
    el("button", { type: "button", class: "secondary", onclick: () => { panel.hidden = true; } }, "Cancel"),
    results, confirmBox, error);
  panel.dataset.ticket = state.ticketId;
  panel.hidden = false;
  search(results, "", error, confirmBox);
  input.focus();
}

button.addEventListener("click", () => {
  if (panel.hidden || panel.dataset.ticket !== state.ticketId) open(); else panel.hidden = true;
});

onTicketHead((t) => {
  const head = document.querySelector("#ticket .ticket-head");
  if (!button.isConnected) head.querySelector(".ticket-actions").appendChild(button);
  if (!panel.isConnected) head.after(panel, banner);
  if (panel.dataset.ticket !== state.ticketId) panel.hidden = true;
  button.hidden = !!t.merged_into || t.status === "closed";
  banner.hidden = !t.merged_into;
  // A merged ticket takes no more work: its conversations continue on the survivor.
  for (const id of ["take", "transfer", "reply-form"]) {
    const node = document.getElementById(id);
    if (node && t.merged_into) node.hidden = true;
    else if (node && id !== "take") node.hidden = false;  // desk.js decides about Take itself
  }
  const status = document.getElementById("status");
  if (status) status.disabled = !!t.merged_into;
  if (t.merged_into) {
    const link = el("a", { href: "#/tickets/" + t.merged_into, id: "merged-link",
      onclick: (e) => { e.preventDefault(); openTicket(t.merged_into); } }, "#" + t.merged_into_number);
    banner.replaceChildren("Merged into ", link, ": its conversations and replies continue there.");
  }
});

/** "Split to new ticket" on each customer message of an unmerged ticket; a second click confirms. */
function decorate(li) {
  if (li.dataset.author !== "customer" || li.querySelector(".split") || !state.ticket || state.ticket.merged_into) return;
  const id = li.dataset.id;
  const split = el("button", { type: "button", class: "link split", title: "Move this message into a new ticket" },
    "Split to new ticket");
  split.addEventListener("click", async () => {
    if (!split.classList.contains("armed")) {
      split.classList.add("armed");
      split.textContent = "Move this message into a new ticket in the same queue? Click to confirm";
      return;
    }
    try {
      const data = await api("POST", "/api/tickets/" + state.ticketId + "/split", { message_id: id });
      await openTicket(state.ticketId);  // the message left this timeline
      const link = el("a", { href: "#/tickets/" + data.ticket.id, id: "split-link",
        onclick: (e) => { e.preventDefault(); openTicket(data.ticket.id); } }, "#" + data.ticket.number);
      banner.replaceChildren("Split out into ", link, " (" + data.ticket.subject + "), waiting unassigned in the queue.");
      banner.hidden = false;
    } catch (ex) {
      split.textContent = ex.message;
    }
  });
  li.appendChild(split);
}

const messages = document.getElementById("messages");
if (messages) {
  new MutationObserver(() => messages.querySelectorAll("li[data-author='customer']").forEach(decorate))
    .observe(messages, { childList: true });
}
