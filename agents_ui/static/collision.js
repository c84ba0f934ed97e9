/* Collision: who else is viewing the open ticket or typing a reply, live, above the reply box.
 * An ES module on window.Desk (loaded after desk.js). The desk reports its own "viewing" when a
 * ticket opens (renewed every 20 s), "typing" at most every 3 s while the agent types, and
 * "left" when it opens another ticket (the renewals and the typing over the desk's feed); the hub
 * holds each state for a short while, so a closed tab simply fades out. Names only, never ids.
 */
const { api, el, state, onLive, onTicketHead, tellFeed } = window.Desk;

const others = new Map();  // agent id -> { name, viewing_until, typing_until }
let current = null;
let renewTimer = null;
let lastTyping = 0;

function bar() {
  let node = document.getElementById("collision");
  if (!node) {
    node = el("p", { id: "collision", class: "collision", role: "status" });
    const form = document.getElementById("reply-form");
    form.parentNode.insertBefore(node, form);
  }
  return node;
}

function render() {
  const now = Date.now();
  const viewing = [];
  const typing = [];
  for (const a of others.values()) {
    if (a.typing_until && new Date(a.typing_until).getTime() > now) typing.push(a.name);
    else if (a.viewing_until && new Date(a.viewing_until).getTime() > now) viewing.push(a.name);
  }
  const parts = [];
  if (typing.length) parts.push(typing.join(", ") + (typing.length > 1 ? " are" : " is") + " typing a reply…");
  if (viewing.length) parts.push(viewing.join(", ") + (viewing.length > 1 ? " are" : " is") + " also viewing");
  const node = bar();
  node.textContent = parts.join(" · ");
  node.hidden = parts.length === 0;
  node.classList.toggle("typing", typing.length > 0);
}

/** Report this agent's state; the answer says who else is on the ticket (null when it failed). */
async function report(ticketId, what) {
  if (!ticketId) return null;
  try {
    return await api("POST", "/api/tickets/" + ticketId + "/activity", { state: what });
  } catch (e) { return null; /* best effort: collision hints never block work */ }
}

/** Typing, and the renewals of "viewing": over the desk's feed when it watches the ticket (one write, no request). */
function keepUp(ticketId, what) {
  if (ticketId && !tellFeed(ticketId, { type: "activity", state: what })) report(ticketId, what);
}

function remember(a) {
  others.set(a.agent_id, { name: a.agent_name, viewing_until: a.viewing_until, typing_until: a.typing_until });
}

/** Say this agent views the open ticket; the answer says who else is on it now, in place of what was known. */
async function announce() {
  const id = current;
  const data = await report(id, "viewing");
  if (id !== current || !data) return;
  others.clear();
  for (const a of data.others) remember(a);
  render();
}

onTicketHead(async () => {
  if (current === state.ticketId) return;
  if (current) report(current, "left");
  current = state.ticketId;
  others.clear();
  render();
  clearInterval(renewTimer);
  renewTimer = setInterval(() => keepUp(current, "viewing"), 20000);
  await announce();
});

onLive((frame) => {
  // A feed back after an outage missed who came or went meanwhile: ask now, not at their next renewal (20 s).
  if (frame.type === "reconnected") return void announce();
  if (frame.type !== "activity") return;
  const a = frame.activity;
  if (a.ticket_id !== current || (state.me && a.agent_id === state.me.id)) return;
  remember(a);
  render();
});

document.getElementById("reply-text").addEventListener("input", () => {
  const now = Date.now();
  if (now - lastTyping < 3000) return;
  lastTyping = now;
  keepUp(current, "typing");
});

setInterval(render, 2000);  // states fade when their holder stops renewing them
