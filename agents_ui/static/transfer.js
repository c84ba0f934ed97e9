/* Transfer: hand the open ticket to another queue or agent, with a private note for colleagues.
 * An ES module on window.Desk (loaded after desk.js). A "Transfer" button in the ticket header opens a
 * small form; agents appear by name with presence and load ("Bob — online, 2/5"), and those who cannot
 * take a ticket now are listed but not choosable (the hub refuses them anyway, saying why).
 * Each move is one line in the timeline: "Alice moved this to Billing: <note>". Names only, never ids.
 */
const { api, el, state, onRenderMessage, fmtTime } = window.Desk;

onRenderMessage((m) => {
  const move = m.metadata && m.metadata.transfer;
  if (!move) return null;
  return el("li", { class: "move", dataset: { id: m.id, author: "move" } },
    el("span", { class: "who" }, fmtTime(m.created_at) + " · private"),
    el("span", { class: "text" }, move.summary + (m.text ? ": " + m.text : "")));
});

/** Whether an agent can take a ticket of `queue` now (the hub's rule, for the select only). */
function free(agent, queue) {
  const serves = !agent.queues || agent.queues.includes(queue);
  return { ok: serves && agent.presence === "online" && agent.active < agent.capacity, serves };
}

async function open(panel) {
  const id = state.ticketId;
  const number = state.ticket ? state.ticket.number : "";
  panel.hidden = false;
  panel.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  let data;
  try {
    data = await api("GET", "/api/tickets/" + id + "/transfer");
  } catch (ex) {
    panel.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    return;
  }
  const queue = el("select", { name: "queue", id: "transfer-queue", "aria-label": "Queue" },
    ...data.queues.map((q) => el("option", { value: q.name, selected: q.name === data.queue }, q.title)));
  const agent = el("select", { name: "agent", id: "transfer-agent", "aria-label": "Agent" });
  const fillAgents = () => {
    agent.replaceChildren(el("option", { value: "" }, "Anyone in the queue (unassigned)"),
      ...data.agents.map((a) => {
        const { ok, serves } = free(a, queue.value);
        return el("option", { value: a.id, disabled: !ok }, a.label + (serves ? "" : " — not in this queue"));
      }));
  };
  queue.addEventListener("change", fillAgents);
  fillAgents();
  const note = el("textarea", { name: "note", id: "transfer-note", maxlength: "10000", "aria-label": "Note",
    placeholder: "Note for colleagues (private: the customer never sees it)" });
  const error = el("p", { class: "error", role: "alert", id: "transfer-error" });
  const form = el("form", { id: "transfer-form" },
    el("strong", {}, "Move #" + number),
    el("label", {}, "Queue ", queue), el("label", {}, "Agent ", agent), note,
    el("button", { type: "submit" }, "Move"),
    el("button", { type: "button", class: "secondary", onclick: () => { panel.hidden = true; } }, "Cancel"), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { queue: queue.value, note: note.value };
    if (agent.value) body.agent_id = agent.value;
    try {
      await api("POST", "/api/tickets/" + id + "/transfer", body);
      panel.hidden = true;  // the ticket and its new line arrive over the live feed
    } catch (ex) { error.textContent = ex.message; }
  });
  panel.replaceChildren(form);
  queue.focus();
}

function mount() {
  const head = document.querySelector("#ticket .ticket-head");
  if (!head || document.getElementById("transfer")) return;
  const panel = el("div", { id: "transfer-panel", class: "transfer-panel", hidden: true });
  const button = el("button", { type: "button", id: "transfer", class: "secondary" }, "Transfer");
  button.addEventListener("click", () => {
    if (panel.hidden || panel.dataset.ticket !== state.ticketId) {
      panel.dataset.ticket = state.ticketId;
      open(panel);
    } else panel.hidden = true;
  });
  head.querySelector(".ticket-actions").appendChild(button);
  head.after(panel);
  // Another ticket opened: this form was for the previous one.
  new MutationObserver(() => { if (panel.dataset.ticket !== state.ticketId) panel.hidden = true; })
    .observe(document.getElementById("ticket-title"), { childList: true, characterData: true, subtree: true });
}

mount();
