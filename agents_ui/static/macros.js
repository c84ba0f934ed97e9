/* Macros in the ticket head: one click applies a stored set of changes (POST /api/tickets/{id}/macros/{macro});
 * a canned response the macro carries lands in the reply box for the agent to read and send. An ES module. */
const { api, el, onTicketHead, state, openTicket } = window.Desk;

const select = el("select", { id: "macro", "aria-label": "Apply a macro" });
const error = el("span", { class: "error", role: "alert" });
const box = el("span", { class: "macros" }, select, error);
let loaded = null;

async function show() {
  const actions = document.querySelector(".ticket-actions");
  if (actions && !box.isConnected) actions.prepend(box);
  if (!loaded) loaded = api("GET", "/api/macros").then((d) => d.macros).catch(() => []);
  const macros = await loaded;
  select.replaceChildren(el("option", { value: "" }, "Macro…"),
    ...macros.map((m) => el("option", { value: m.id }, m.name)));
  box.hidden = macros.length === 0;
}

select.addEventListener("change", async () => {
  const id = select.value, ticket = state.ticketId;
  select.value = "";
  if (!id) return;
  try {
    const out = await api("POST", "/api/tickets/" + ticket + "/macros/" + id);
    error.textContent = out.failed.length ? "Not done: " + out.failed.join("; ") : "";
    await openTicket(ticket);
    if (out.insert_text) {
      const reply = document.getElementById("reply-text");
      reply.value = out.insert_text + (reply.value ? "\n" + reply.value : "");
      reply.focus();
    }
  } catch (ex) {
    error.textContent = ex.message;
  }
});
onTicketHead(show);
