/* What needs this agent: a customer who wrote on one of their tickets, a ticket given to them by someone else
 * (routing, a colleague, a supervisor), a pending ticket of theirs whose time came (pendinguntil.js), a colleague who
 * answered, wrote a note on or changed the status of one of theirs, a colleague's note that mentions them
 * (mentions.js, on any ticket), a customer or a colleague who wrote on a ticket they follow (follow.js).
 * Each such
 * ticket is "unread" until the agent looks at it: its row in the list carries a dot, the tab's title counts them
 * ("(2) Switchboard desk"), and, if the agent turned them on in the header, the browser shows a desktop
 * notification while they look at another ticket or another tab.
 *
 * It reads the desk's live ticket frames (every desk gets every ticket change) and the list's rows (ticketlist.js
 * hands them over). The hub keeps what each user has read (hub/ticketreads.py): at sign-in or a reload the page
 * asks it which tickets have news not read since (GET /api/me/unread), on any computer, also news that came while
 * no desk of theirs was open; and the page tells it whenever it shows the user a ticket in a tab in front
 * (POST /api/tickets/{id}/seen), which its other open desks hear on their feed (a `read` frame): the dot goes
 * there too. The notification preference is per user and browser (local storage).
 */
import { agentName } from "./names.js";

const { api, el, hasRole, onEnter, onLive, onTicketHead, openTicket, state } = window.Desk;

const BASE_TITLE = document.title;
const WHY = { message: "New message from the customer", assigned: "Assigned to you",
              reminder: "Its pending time ended", mention: "A colleague mentioned you",
              colleague: "A colleague worked on your ticket", followed: "News on a ticket you follow" };

const unread = new Map();  // ticket id -> "message" | "assigned" | "reminder" | "mention" | "colleague" | "followed"
const known = new Map();   // ticket id -> {wrote: last_customer_message_at, assignee, number, name, subject}
const marked = new Map();  // ticket id -> the newest news time this page told the hub the user has read
const since = new Map();   // ticket id -> the time of its newest unread news (a read before it leaves the dot)
const listeners = [];
let me = null;

/** Call `fn()` whenever the unread set changes (the list redraws its dots). */
export function onAttention(fn) { listeners.push(fn); }

/** Why the ticket waits for this agent (a key of WHY), or undefined. */
export function unreadReason(id) { return unread.get(id); }

export function reasonWords(why) { return WHY[why] || ""; }

/** How many tickets wait for this agent (the News list's count, newslist.js). */
export function unreadCount() { return unread.size; }

/** The list's rows: a ticket the page first sees in the list is known as it is there, so only later changes count
 * as news. A ticket the page already knows stays as the feed told it (the list gives only its name): a row read
 * after a change but before the change's frame came (a busy hub, a slow socket) would otherwise make that frame
 * look like no change, and its news would be lost; a row read before a frame that came first would make the next
 * frame tell that news again. */
export function sawTickets(tickets) {
  for (const t of tickets) {
    const prev = known.get(t.id);
    const name = t.contact_name || (prev || {}).name;
    known.set(t.id, prev ? { ...prev, name } : { ...summary(t), name });
  }
}

function summary(t) {
  return { wrote: t.last_customer_message_at || null, assignee: t.assignee_id || null, number: t.number,
           subject: t.subject || "", name: (known.get(t.id) || {}).name,
           acted: (t.agent_activity && t.agent_activity.at) || null };
}

function changed() {
  document.title = unread.size ? `(${unread.size}) ${BASE_TITLE}` : BASE_TITLE;
  for (const fn of listeners) fn();
}

/** When someone else last answered, wrote a note on or changed the status of the ticket (hub/tickets.py
 * `agent_activity`), or null: this agent's own work is no news to them, nor is an automation rule's (no `by`), as
 * the hub has it (hub/ticketreads.py `_colleague_at`). */
const colleagueAt = (t) => {
  const act = t.agent_activity;
  return me && act && act.by && act.by !== me.id ? act.at : null;
};

/** The newest time the ticket holds that may be news for this agent (the hub's rule, hub/ticketreads.py). */
function newsAt(t) {
  return [t.last_customer_message_at, t.assigned_at, t.pending_ended_at, t.mentioned && t.mentioned.at,
          colleagueAt(t)].filter(Boolean).reduce((a, b) => (b > a ? b : a), "");
}

/** The user sees the ticket `t` now: its dot goes, and the hub learns it (once per news, not per change). */
function read(t) {
  if (unread.delete(t.id)) changed();
  const at = newsAt(t);
  if (marked.has(t.id) && marked.get(t.id) >= at) return;
  marked.set(t.id, at);
  api("POST", "/api/tickets/" + t.id + "/seen").catch(() => marked.delete(t.id));  // told again next time
}

/** The agent sees the ticket now: shown, in a tab in front. */
const inView = (id) => state.ticketId === id && state.ticket && state.ticket.id === id
  && document.visibilityState === "visible";

/** What this ticket change brings the agent: a key of WHY, or null. A ticket the page has not seen yet counts when
 * the change itself is the news (a customer's message sets `last_customer_message_at` and `updated_at` to the same
 * instant; an assignment `assigned_at` and `updated_at`; the end of a pending time, pendinguntil.js,
 * `pending_ended_at` and `updated_at`; a mention `mentioned.at`; a colleague's work `agent_activity.at`). */
function news(t, before) {
  if (!me) return null;
  const m = t.mentioned;  // a colleague's note named this agent in this very change (hub/mentions.py)
  if (m && m.at === t.updated_at && m.by !== me.id && (m.ids || []).includes(me.id)) return "mention";
  if (t.assignee_id !== me.id) {  // someone else's, or nobody's: news only if this agent follows it (follow.js)
    if (!(t.followers || []).includes(me.id)) return null;
    const at = t.last_customer_message_at;
    const wrote = !!at && (before ? at !== before.wrote : at === t.updated_at);
    return wrote || acted(t, before) ? "followed" : null;
  }
  if (t.pending_ended_at && t.pending_ended_at === t.updated_at) return "reminder";
  if (before) {
    if (t.last_customer_message_at && t.last_customer_message_at !== before.wrote && before.assignee === me.id)
      return "message";
    if (before.assignee !== me.id) return "assigned";
    return acted(t, before) ? "colleague" : null;
  }
  if (t.last_customer_message_at && t.last_customer_message_at === t.updated_at) return "message";
  if (t.assigned_at && t.assigned_at === t.updated_at) return "assigned";
  return acted(t, before) ? "colleague" : null;
}

/** Whether this change is a colleague's reply, note or status change (hub/tickets.py `agent_activity`). */
function acted(t, before) {
  const at = colleagueAt(t);
  return !!at && (before ? at !== before.acted : at === t.updated_at);
}

onLive((frame) => {
  if (frame.type === "reconnected" && me) {  // frames were lost while no socket followed: start again from the list
    known.clear();  // (desk.js reads it again) and from what the hub says is unread
    fetchUnread(me);
    return;
  }
  if (frame.type === "read" && me) {  // read on another desk of this user's: the dot goes here too
    if (!marked.has(frame.ticket_id) || marked.get(frame.ticket_id) < frame.at) marked.set(frame.ticket_id, frame.at);
    if ((since.get(frame.ticket_id) || "") <= frame.at && unread.delete(frame.ticket_id)) changed();
    return;
  }
  if (frame.type !== "ticket" || !me) return;
  const t = frame.ticket;
  const before = known.get(t.id);
  known.set(t.id, summary(t));
  const why = news(t, before);
  if (why === "assigned" && state.ticketId === t.id) return;  // taken, or answered, from this very page
  if (why && !inView(t.id)) {
    if (!unread.has(t.id) || why === "message") unread.set(t.id, why);
    since.set(t.id, t.updated_at);  // the instant of this news (the hub sets both to it)
    changed();
    notify(t, why);
  }
});

onTicketHead((t) => { if (inView(t.id)) read(t); });
document.addEventListener("visibilitychange", () => { if (state.ticketId && inView(state.ticketId)) read(state.ticket); });

// ---- desktop notifications ------------------------------------------------------------------
const prefKey = () => "switchboard.notify." + (me ? me.id : "");
const supported = () => typeof Notification === "function";
const wanted = () => supported() && Notification.permission === "granted" && localStorage.getItem(prefKey()) === "on";

/** What a colleague's status change did to `what` ("#12", or "it"), as the news email says it (hub/newswords.py). */
const STATUS_WORDS = { solved: (w) => `solved ${w}`, closed: (w) => `closed ${w}`, pending: (w) => `set ${w} to pending`,
                       open: (w) => `opened ${w} again`, new: (w) => `set ${w} to new`,
                       merged: (w, into) => `merged ${w} into ${into ? "#" + into : "another ticket"}` };
const didOne = (d, w, into) => (d === "wrote" ? `wrote on ${w}`
  : (STATUS_WORDS[d] || ((x) => `set ${x} to ${d}`))(w, into));

/** "wrote on #12", "solved #12", "wrote on #12 and solved it", "merged #12 into #14" (a colleague's
 * `agent_activity.did`, hub/tickets.py and hub/ticketmerge.py; `into`: the merge's ticket number). */
function didWords(did, number, into) {
  const [first, ...rest] = did && did.length ? did : ["wrote"];
  return [didOne(first, "#" + number, into), ...rest.map((d) => didOne(d, "it", into))].join(" and ");
}

function notify(t, why) {
  if (!wanted()) return;
  const info = known.get(t.id) || {};
  const who = info.name || "A customer";
  const act = t.agent_activity;
  const colleague = why === "colleague"  // a colleague's work on theirs, or on one they follow (not the customer's)
    || (why === "followed" && colleagueAt(t) === t.updated_at);
  const title = colleague ? `${agentName(act.by) || "A colleague"} ${didWords(act.did, t.number, t.merged_into_number)}`
    : why === "message" || why === "followed" ? `${who} wrote on #${t.number}`
    : why === "reminder" ? `#${t.number} is open again`
    : why === "mention" ? `${agentName(t.mentioned.by) || "A colleague"} mentioned you on #${t.number}`
    : `#${t.number} is assigned to you`;
  const body = why === "message" ? (t.subject || "") : why === "followed" ? "You follow it · " + (t.subject || "")
    : why === "colleague" ? "Your ticket · " + (t.subject || "")
    : [why === "reminder" ? "Its pending time ended" : null, info.name, t.subject].filter(Boolean).join(" · ");
  try {
    const shown = new Notification(title, { body, tag: "ticket-" + t.id });
    shown.onclick = () => { window.focus(); openTicket(t.id, t.conversation_ids); shown.close(); };
  } catch (e) { /* a browser that shows them only from a service worker: the title and the dot still tell */ }
}

const toggle = document.createElement("button");
toggle.type = "button";
toggle.id = "notify-toggle";
toggle.hidden = true;

/** A bell, struck through while notifications are off (drawn: an emoji needs a font the agent may lack). */
function bell(on) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "bell");
  svg.setAttribute("aria-hidden", "true");
  const lines = ["M6 16V11a6 6 0 0 1 12 0v5l2 2H4z", "M10 20a2 2 0 0 0 4 0"];
  if (!on) lines.push("M3 3l18 18");
  for (const d of lines) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

function drawToggle() {
  const blocked = supported() && Notification.permission === "denied";
  const words = el("span", { class: "sr-only" }, wanted() ? "Notifications on" : "Notifications off");
  toggle.replaceChildren(bell(wanted()), words);
  toggle.setAttribute("aria-pressed", wanted() ? "true" : "false");
  toggle.title = (wanted() ? "Notifications on" : "Notifications off") + ": "
    + (blocked ? "this browser blocks notifications from the desk; allow them in its site settings"
      : "desktop notifications when a customer writes on your ticket or one you follow, a ticket is assigned to "
        + "you, a colleague works on one of yours, a pending ticket of yours is open again, or a colleague "
        + "mentions you");
  toggle.disabled = blocked && !wanted();
}

toggle.addEventListener("click", async () => {
  if (wanted()) {
    localStorage.setItem(prefKey(), "off");
  } else if (supported()) {
    const answer = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    if (answer === "granted") localStorage.setItem(prefKey(), "on");
  }
  drawToggle();
});

/** What the hub says is unread for this user (news while no desk of theirs was open, or read elsewhere). */
async function fetchUnread(agent) {
  let data;
  try {
    data = await api("GET", "/api/me/unread");
  } catch (e) {
    return;  // the database is away for a moment: the page still marks what comes live
  }
  if (!me || me.id !== agent.id) return;  // signed out meanwhile
  for (const t of data.tickets) {
    if (inView(t.id) || unread.has(t.id)) continue;
    unread.set(t.id, t.why);
    since.set(t.id, t.at);
  }
  changed();
}

onEnter((agent) => {
  if (!me || me.id !== agent.id) {  // another user on this page: their own set
    unread.clear();
    since.clear();
    known.clear();
    marked.clear();
  }
  me = agent;
  const roles = agent.roles || [];
  toggle.hidden = !supported() || !["agent", "supervisor", "admin"].some((r) => roles.includes(r));  // ticket readers
  if (!toggle.isConnected) document.getElementById("logout").before(toggle);
  drawToggle();
  changed();
  if (hasRole("agent", "supervisor")) fetchUnread(agent);  // those who work tickets (admins with them)
});
