/* Follow a ticket someone else holds (hub.followers): a button in the ticket's head, "Follow" or "Following", and
 * the customer's messages on it are news for me (attention.js: the dot, a notification; the email while away,
 * hub.newsmail). Its state comes with each ticket change, so a follow from another desk of mine shows here too.
 * An ES module on top of window.Desk; text via textContent (Desk.el).
 */
const { api, el, onTicketHead, state } = window.Desk;

const button = el("button", { type: "button", id: "follow", class: "secondary" }, "Follow");

function draw(t) {
  const me = state.me && state.me.id;
  const following = !!me && (t.followers || []).includes(me);
  button.textContent = following ? "Following" : "Follow";
  button.setAttribute("aria-pressed", following ? "true" : "false");
  button.title = following ? "You hear when the customer or a colleague writes or changes its status; click to stop"
    : "Hear when the customer or a colleague writes or changes its status, while someone else has the ticket";
  button.hidden = !!t.merged_into && !following;
}

button.addEventListener("click", async () => {
  const t = state.ticket;
  if (!t) return;
  const follow = button.getAttribute("aria-pressed") !== "true";
  try {
    const data = await api("POST", "/api/tickets/" + t.id + "/follow", { follow });
    if (state.ticket && state.ticket.id === data.ticket.id) {
      state.ticket.followers = data.ticket.followers;
      draw(state.ticket);
    }
  } catch (ex) {
    document.getElementById("reply-error").textContent = ex.message;
  }
});

onTicketHead((t) => {
  const actions = document.querySelector("#ticket .ticket-head .ticket-actions");
  if (actions && !button.isConnected) actions.appendChild(button);
  draw(t);
});
