/* A pending ticket's time to be open again. The head of a pending ticket says until when ("Opens again Tue 8 Dec,
 * 09:00") or offers one: tomorrow morning, in three days, next Monday, or a date and time the agent picks. At that
 * time the hub opens the ticket again for whoever has it, and writes a private line this module words in the
 * timeline. POST /api/tickets/{id}/status {status: "pending", pending_until}; an ES module. Text via textContent.
 */
const { api, el, onTicketHead, onRenderMessage, state, fmtTime } = window.Desk;

const MORNING = 9;  // the quick choices open the ticket at 09:00, the agent's time

export function when(iso) {
  return new Date(iso).toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit",
                                            minute: "2-digit" });
}

/** A morning `days` ahead (or the next `weekday`, 1 = Monday), in the browser's time zone. */
function morning(days, weekday) {
  const d = new Date();
  d.setHours(MORNING, 0, 0, 0);
  if (weekday !== undefined) days = ((weekday - d.getDay() + 7) % 7) || 7;
  d.setDate(d.getDate() + days);
  return d;
}

const CHOICES = [["Tomorrow 09:00", () => morning(1)], ["In 3 days", () => morning(3)],
                 ["Next Monday", () => morning(0, 1)]];

const box = el("div", { id: "pending-until", class: "pending-until", hidden: true });
const error = el("span", { class: "error", role: "alert" });
let choosing = null;  // the ticket whose time the agent is changing

async function save(until) {
  try {
    const data = await api("POST", "/api/tickets/" + state.ticketId + "/status",
                           { status: "pending", pending_until: until ? until.toISOString() : null });
    error.textContent = "";
    choosing = null;
    state.ticket = data.ticket;
    show(data.ticket);
  } catch (ex) {
    error.textContent = ex.message;
  }
}

function picker() {
  const input = el("input", { type: "datetime-local", id: "pending-until-at", "aria-label": "Open again at" });
  const pick = el("button", { type: "button", class: "secondary", onclick: () => {
    if (!input.value) { error.textContent = "Pick a date and time first."; return; }
    save(new Date(input.value));  // read as the browser's local time
  } }, "Set");
  return [el("span", {}, "Open it again:"),
          ...CHOICES.map(([label, at]) => el("button", { type: "button", class: "secondary", onclick: () => save(at()) },
                                             label)),
          input, pick];
}

function show(t) {
  const head = document.querySelector(".ticket-head");
  if (head && !box.isConnected) head.append(box);
  box.hidden = t.status !== "pending";
  if (box.hidden) { choosing = null; return; }
  if (t.pending_until && choosing !== t.id) {
    box.replaceChildren(
      el("span", { id: "pending-until-when", title: new Date(t.pending_until).toLocaleString() },
         "Opens again " + when(t.pending_until)),
      el("button", { type: "button", class: "link", onclick: () => { choosing = t.id; show(state.ticket); } },
         "Change"),
      el("button", { type: "button", class: "link", onclick: () => save(null) }, "Clear"), error);
  } else {
    box.replaceChildren(...picker(), error);
  }
}

onTicketHead(show);

// The hub's line when the time came (metadata.pending_ended), worded with the time in the agent's zone.
onRenderMessage((m) => {
  const ended = m.metadata && m.metadata.pending_ended;
  if (!ended) return null;
  return el("li", { class: "move pending-ended", dataset: { id: m.id, author: "system" } },
    el("span", { class: "who" }, fmtTime(m.created_at) + " · private"),
    el("span", { class: "text" }, "The pending time set for " + when(ended.pending_until)
       + " ended: the ticket is open again."));
});
