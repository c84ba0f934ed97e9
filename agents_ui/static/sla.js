/* SLA time left, in colour, on the ticket head and list rows; SLA warnings and breaches as live alerts.
 * An ES module. The server sends each ticket's `sla_clock` (target, due, warn, warned, breached, paused);
 * this module words and colours it against the browser's clock (green, amber from the warning time,
 * red once due) and re-draws every badge every 15 seconds. Text only via textContent.
 */
const { el, onLive, onTicketHead } = window.Desk;

const TARGETS = { first_response: "First response", resolution: "Resolution" };

function span(ms) {
  const minutes = Math.max(0, Math.round(Math.abs(ms) / 60000));
  if (minutes < 60) return minutes + "m";
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return hours + "h" + (minutes % 60 ? " " + (minutes % 60) + "m" : "");
  return Math.floor(hours / 24) + "d " + (hours % 24) + "h";
}

/** [colour class, words] for a clock at `now` (ms). */
function describe(clock, now) {
  const due = Date.parse(clock.due);
  const warn = clock.warn ? Date.parse(clock.warn) : null;
  if (clock.breached || now >= due) return ["breached", "breached " + span(now - due) + " ago"];
  if (clock.paused) return ["paused", "paused, " + span(due - now) + " left"];
  if (clock.warned || (warn !== null && now >= warn)) return ["warning", span(due - now) + " left"];
  return ["ok", span(due - now) + " left"];
}

function draw(node) {
  const clock = node._clock;
  if (!clock) { node.hidden = true; return; }
  const [colour, words] = describe(clock, Date.now());
  node.hidden = false;
  node.className = "badge sla-clock " + colour;
  node.dataset.state = colour;
  node.textContent = (node.dataset.long ? TARGETS[clock.target] + " SLA: " : "SLA ") + words;
  node.title = TARGETS[clock.target] + " due " + new Date(clock.due).toLocaleString();
}

/** A badge for a ticket's SLA (null when nothing runs: solved, closed); redrawn by the ticker. */
function slaBadge(ticket, long) {
  if (!ticket.sla_clock) return null;
  const node = el("span", { class: "badge sla-clock", dataset: long ? { long: "1" } : {} });
  node._clock = ticket.sla_clock;
  draw(node);
  return node;
}

// The ticket head: one long badge on its own line under it.
const head = el("span", { id: "ticket-sla", class: "badge sla-clock", dataset: { long: "1" }, hidden: true });
onTicketHead((ticket) => {
  const top = document.querySelector(".ticket-head");
  if (top && !head.isConnected) top.after(head);
  head._clock = ticket.sla_clock;
  draw(head);
});

setInterval(() => { for (const node of document.querySelectorAll(".sla-clock")) if (node._clock) draw(node); }, 15000);

// Live alerts: every SLA warning and breach the hub emits (supervisors see the whole desk's).
const alerts = el("div", { id: "sla-alerts", class: "sla-alerts", "aria-live": "polite" });
document.addEventListener("DOMContentLoaded", () => document.body.append(alerts));
const WORDS = { "ticket.sla_warning": "SLA warning", "ticket.sla_breached": "SLA breached" };

onLive((frame) => {
  if (frame.type !== "event" || !WORDS[frame.event.type]) return;
  const e = frame.event;
  const data = e.data || {};
  const item = el("button", { type: "button", title: "Dismiss",
    class: "sla-alert " + (e.type === "ticket.sla_breached" ? "breached" : "warning"), onclick: () => item.remove() },
    WORDS[e.type] + ": #" + (data.number ?? "?") + " " + (TARGETS[data.target] || "").toLowerCase());
  alerts.prepend(item);
  while (alerts.children.length > 5) alerts.lastChild.remove();
  setTimeout(() => item.remove(), 60000);
});

window.Desk.slaBadge = slaBadge;
