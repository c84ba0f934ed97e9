/* The News list in the header: the tickets with news for me I have not read (attention.js counts them live), each
 * with what happened in words ("Ada Lovelace wrote", "Sam Lead gave it to you", "Bob mentioned you in a note"),
 * newest first, as Zammad's and Chatwoot's notification lists do. A click opens the ticket; "Mark all as read"
 * marks the tickets it shows (not news that came since). The hub composes the words (GET /api/me/unread): the list
 * is read when it opens, and again while it is open whenever the count changes. An ES module; text via textContent.
 */
import { onAttention, unreadCount } from "./attention.js";

const { api, el, hasRole, onEnter } = window.Desk;

const count = el("span", { class: "news-count", id: "news-count" });
const opener = el("button", { type: "button", id: "news-open", class: "news-open", "aria-haspopup": "dialog",
                              "aria-expanded": "false", hidden: true }, "News ", count);
const items = el("ul", { id: "news-items", class: "news-items" });
const error = el("p", { class: "error", role: "alert", id: "news-error" });
const readAll = el("button", { type: "button", id: "news-read-all", class: "secondary" }, "Mark all as read");
const panel = el("div", { id: "news-panel", class: "news-panel", role: "dialog", "aria-label": "News", hidden: true },
  el("div", { class: "news-title" }, el("strong", {}, "News"), readAll), items, error);
let shown = [];  // the ticket ids the list shows now (what "Mark all as read" marks)
let reading = 0;
let again = 0;

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return new Date(iso).toLocaleDateString();
}

function item(t) {
  const close = () => setTimeout(() => { window.Desk.openTicket(t.id); toggle(false); });
  return el("li", {},
    el("a", { href: "#/tickets/" + t.id, onclick: close },
      el("span", { class: "news-said" }, "#" + t.number + " " + t.said),
      el("span", { class: "news-subject" }, t.subject || "No subject"),
      el("time", { class: "muted", datetime: t.at, title: new Date(t.at).toLocaleString() }, ago(t.at))));
}

async function load() {
  const mine = ++reading;
  let data;
  try {
    data = await api("GET", "/api/me/unread");
  } catch (ex) {
    if (mine === reading) error.textContent = ex.message;
    return;
  }
  if (mine !== reading) return;  // a later read answers
  error.textContent = "";
  shown = data.tickets.map((t) => t.id);
  items.replaceChildren(...(shown.length ? data.tickets.map(item)
    : [el("li", { class: "muted news-empty" }, "Nothing new: you have read everything.")]));
  readAll.hidden = !shown.length;
  readAll.disabled = false;
}

function toggle(open) {
  panel.hidden = !open;
  opener.setAttribute("aria-expanded", open ? "true" : "false");
  if (open) load();
}

function drawCount() {
  const n = unreadCount();
  count.textContent = n ? String(n) : "";
  opener.setAttribute("aria-label", n ? `News: ${n} unread` : "News: nothing unread");
  if (!panel.hidden) {  // news while the list is open: read it again once the burst is over
    clearTimeout(again);
    again = setTimeout(load, 250);
  }
}

opener.addEventListener("click", () => toggle(panel.hidden));
readAll.addEventListener("click", async () => {
  if (!shown.length) return;
  readAll.disabled = true;
  try {
    await api("POST", "/api/me/unread/read", { ticket_ids: shown });  // each read comes back on the feed: dots go
    await load();
  } catch (ex) {
    error.textContent = ex.message;
    readAll.disabled = false;
  }
});
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) toggle(false); });
document.addEventListener("click", (e) => {
  if (!panel.hidden && !panel.contains(e.target) && !opener.contains(e.target)) toggle(false);
});

onAttention(drawCount);
onEnter(() => {
  if (!opener.isConnected) {
    document.getElementById("logout").before(opener);
    document.body.append(panel);
  }
  opener.hidden = !hasRole("agent", "supervisor");  // those who work tickets (attention.js reads their news)
  toggle(false);
  drawCount();
});
