/* Reply drafts, one per ticket: what an agent typed in the reply box stays with that ticket. Opening another ticket
 * puts the box's text (and its "Private note" choice) aside and brings that ticket's own draft back, or an empty
 * box: a reply begun for one customer is never sent to the next one by mistake, and files picked for it are let go.
 * The drafts live in this browser (localStorage, per desk user and ticket, for DAYS days), so a reload or a crash
 * keeps them; a sent reply ends its draft, and logging out forgets this user's drafts (a shared computer). Rows of
 * tickets with a draft say "draft" in the list (ticketlist.js asks `hasDraft`). An ES module; text via textContent.
 */
const { onTicketHead, state } = window.Desk;

const DAYS = 7;
const PREFIX = "sb.draft.";
const box = document.getElementById("reply-text");
const privateBox = document.getElementById("reply-private");
const listeners = [];
let current = null;  // the ticket whose draft the box holds
let user = null;

const key = (ticketId) => PREFIX + user + "." + ticketId;

function read(ticketId) {
  try { return JSON.parse(localStorage.getItem(key(ticketId)) || "null"); } catch { return null; }
}

function changed(ticketId) { for (const fn of listeners) fn(ticketId); }

/** Keep (or, for an empty box, forget) the box's text as the draft of `ticketId`. */
function keep(ticketId) {
  if (!ticketId || !user) return;
  const had = !!read(ticketId);
  if (box.value.trim()) {
    localStorage.setItem(key(ticketId), JSON.stringify({ text: box.value, private: privateBox.checked,
                                                         at: Date.now() }));
  } else {
    localStorage.removeItem(key(ticketId));
  }
  if (had !== !!box.value.trim()) changed(ticketId);
}

/** Drafts older than DAYS days, and every draft of the user logging out, go. */
function forget(all) {
  const oldest = Date.now() - DAYS * 86400e3;
  for (const k of Object.keys(localStorage)) {
    if (!k.startsWith(PREFIX)) continue;
    if (all && user && k.startsWith(PREFIX + user + ".")) { localStorage.removeItem(k); continue; }
    try { if (JSON.parse(localStorage.getItem(k)).at < oldest) localStorage.removeItem(k); }
    catch { localStorage.removeItem(k); }
  }
}

export function hasDraft(ticketId) { return !!user && !!read(ticketId); }
export function onDrafts(fn) { listeners.push(fn); }

onTicketHead((t) => {
  if (!state.me) return;
  if (user === null) { user = state.me.id; forget(false); }
  if (t.id === current) return;  // the same ticket, changed live: the box stays as the agent left it
  keep(current);
  current = t.id;  // before the box changes: what follows belongs to this ticket
  const draft = read(t.id);
  box.value = draft ? draft.text : "";
  privateBox.checked = !!(draft && draft.private);
  privateBox.dispatchEvent(new Event("change", { bubbles: true }));  // the box's hints follow (signature.js)
  document.getElementById("reply-files").value = "";
  document.getElementById("reply-error").textContent = "";
});

let pending = null;
box.addEventListener("input", () => {  // kept as typed (a reload keeps it), once the agent pauses
  clearTimeout(pending);
  const ticketId = current;
  pending = setTimeout(() => { if (ticketId === current) keep(ticketId); }, 400);
});
privateBox.addEventListener("change", () => { if (current && box.value.trim()) keep(current); });
document.getElementById("reply-form").addEventListener("replysent", (e) => {
  const sent = (e.detail && e.detail.ticketId) || current;
  if (sent === current) {
    clearTimeout(pending);
    keep(current);  // the box is empty now: the draft is done
  } else if (user && read(sent)) {  // sent, then another ticket opened before the hub answered: that draft is done too
    localStorage.removeItem(key(sent));
    changed(sent);
  }
});
document.getElementById("logout").addEventListener("click", () => {
  forget(true);
  box.value = "";
  current = null;
  user = null;
});
