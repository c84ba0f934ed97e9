/* Supervisor live view: queues and agents now, the last hours, tickets about to breach SLA, agents' load,
 * the last 24 hours and a 7-day trend. It redraws itself on every ticket change the desk WebSocket brings
 * (coalesced; again 7 s later for the chart of the last hours, read from the aggregates that catch up every
 * 5 s), and once a minute for the clocks that move without an event (waits, SLA due times). The last 24 hours
 * and the 7-day trend read every ticket of their window (a second of the database at 20,000 tickets a week):
 * they are read again once a minute, not on every change. */
import { explain, pct, secs } from "./metricdefs.js";
import { agentLoad, atRisk, lastHours } from "./livepanels.js";

const { api, el, registerView, onLive } = window.Desk;
const REFRESH_MS = 60000;
const AGGREGATES_MS = 7000;
let root = null;
let timer = null;
let ticking = null;
let drawing = 0;
// The 24-hour report and the 7-day trend, and when they were asked for: reused until a minute has passed.
let slow = null;

function slowParts() {
  if (!slow || Date.now() - slow.at >= REFRESH_MS - 1000) {
    const asked = Promise.all([api("GET", "/api/metrics/report"), api("GET", "/api/metrics/daily?days=7")]);
    slow = { at: Date.now(), asked };
    asked.catch(() => { if (slow && slow.asked === asked) slow = null; });  // a failure is asked again next time
  }
  return slow.asked;
}

const unavailable = (what) => (err) => el("p", { class: "error", role: "alert" }, what + ": " + err.message);

function table(headers, rows, id) {
  return el("table", { id }, el("thead", {}, el("tr", {}, ...headers.map(([h, def]) =>
    el("th", { title: def ? explain(def) : undefined }, h)))),
  el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c === null ? "—" : String(c)))))));
}

async function render(container) {
  root = container;
  const mine = ++drawing;
  const asked = api("GET", "/api/metrics/live");
  const titles = asked.then((l) => Object.fromEntries(l.queues.map((q) => [q.queue, q.title])));
  const [live, [report, daily], hours, risk] = await Promise.all([
    asked, slowParts(), lastHours().catch(unavailable("the last hours")),
    atRisk(titles).catch(unavailable("tickets at risk")),
  ]);
  if (root !== container || mine !== drawing) return;
  const o = report.overall;
  const waiting = live.queues.reduce((n, q) => n + q.depth, 0);
  const queueTitle = Object.fromEntries(live.queues.map((q) => [q.queue, q.title]));  // as "Now" names them
  container.replaceChildren(el("div", { class: "dashboard", id: "live-view", dataset: { waiting: String(waiting) } },
    el("h2", {}, "Now"),
    table([["Queue"], ["Waiting", "depth"], ["Longest wait", "longest_wait"]],
      live.queues.map((q) => [q.title, q.depth, secs(q.longest_wait_seconds)]), "live-queues"),
    el("p", { title: explain("load") }, "Agent load: " + pct(live.occupancy)),
    el("div", { class: "chart-grid" }, hours, agentLoad(live)),
    risk,
    table([["Agent"], ["Presence"], ["Open"], ["Capacity"], ["Load", "load"]],
      live.agents.map((a) => [a.name, a.presence || "offline", a.open, a.capacity, pct(a.occupancy)]), "live-agents"),
    el("h2", {}, "Last 24 hours", el("span", { class: "muted", id: "slow-note" }, " · updated every minute")),
    table([["Queue"], ["Queued"], ["Answered", "answered"], ["ASA", "asa_seconds"], ["Service level", "service_level"],
      ["Abandoned", "abandoned"], ["FRT p50", "first_response_p50"], ["Resolution", "resolution"], ["CSAT", "csat"]],
    [["All", o.queued, o.answered, secs(o.asa_seconds), pct(o.service_level), pct(o.abandonment_rate),
      secs(o.first_response_p50_seconds), secs(o.resolution_seconds_avg), pct(o.csat)],
    ...Object.entries(report.queues).map(([name, q]) => [queueTitle[name] || name, q.queued, q.answered, secs(q.asa_seconds),
      pct(q.service_level), pct(q.abandonment_rate), secs(q.first_response_p50_seconds),
      secs(q.resolution_seconds_avg), pct(q.csat)])], "last-day"),
    el("p", { id: "abandoned-by" }, "Abandoned: " + o.abandoned_by.ended + " ended the chat, " +
      o.abandoned_by.left + " left the page, " + o.abandoned_by.closed_unanswered + " closed unanswered"),
    el("p", { id: "bot-containment", title: explain("bot_containment") }, "Bot containment: " +
      pct(report.bot.containment) + " of " + report.bot.conversations + " bot conversations closed" +
      (report.bot.open ? " (" + report.bot.open + " still open, not counted)" : "")),
    el("h2", {}, "Last 7 days"),
    table([["Day"], ["Queued"], ["ASA", "asa_seconds"], ["Service level", "service_level"],
      ["Abandonment", "abandoned"], ["Bot containment", "bot_containment"]],
    daily.days.map((d) => [d.day, d.queued, secs(d.asa_seconds), pct(d.service_level), pct(d.abandonment_rate),
      pct(d.bot.containment)]))));
}

function refreshSoon(delay) {
  clearTimeout(timer);
  timer = setTimeout(() => { if (root && root.isConnected) render(root); }, delay);
}

let settled = null;
onLive((event) => {
  if (!root || !root.isConnected) return;
  if (event.type === "reconnected") return refreshSoon(0);  // changes while the feed was down were not sent
  if (event.type !== "ticket") return;
  refreshSoon(300);
  // the chart of the last hours reads the aggregates, which catch up with the change within
  // hub.metrics.aggregate_seconds (5 s): draw it once more after that
  clearTimeout(settled);
  settled = setTimeout(() => refreshSoon(0), AGGREGATES_MS);
});
registerView("dashboard", "Live", ["supervisor"], (container) => {
  slow = null;  // opened again: read everything now
  render(container);
  clearInterval(ticking);
  ticking = setInterval(() => { if (root && root.isConnected) refreshSoon(0); else clearInterval(ticking); },
    REFRESH_MS);
});
