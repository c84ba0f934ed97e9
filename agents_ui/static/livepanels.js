/* The live view's additions: the last hours as a chart, tickets about to breach SLA, agents' load vs capacity. */
import { chartPanel } from "./chartpanel.js";
import { csvHref } from "./csvlink.js";
import { explain, secs } from "./metricdefs.js";

const { el, api } = window.Desk;
export const HOURS = 12;

/** Opened, escalated, solved and abandoned per hour over the last HOURS hours (the history API, hourly). */
export async function lastHours(now = new Date()) {
  const end = new Date(Math.ceil(now.getTime() / 3600000) * 3600000);
  const q = { from: new Date(end.getTime() - HOURS * 3600000).toISOString(), to: end.toISOString(), bucket: "hour" };
  const data = await api("GET", "/api/metrics/history?" + new URLSearchParams(q));
  const x = data.series.map((p) => p.t);
  const trace = (key, name) => ({ type: "scatter", mode: "lines+markers", name, x, y: data.series.map((p) => p[key]) });
  const card = chartPanel({ id: "chart-last-hours", title: "Last " + HOURS + " hours", def: "opened",
    csv: csvHref(q, "series"), xTitle: "Hour (UTC)", yTitle: "Tickets", counts: true,
    traces: [trace("opened", "Opened"), trace("escalated", "Escalated"), trace("solved", "Solved"),
      trace("abandoned", "Abandoned")] });
  card.dataset.opened = String(data.totals.opened);
  return card;
}

/** Open tickets whose SLA falls due within 15 minutes or has passed, most overdue first.
 * `titles`: a promise of {queue name: title} (the live answer's queues), for the queue column. */
export async function atRisk(titles) {
  const [data, title] = await Promise.all([api("GET", "/api/metrics/at-risk?minutes=15"), titles]);
  const rows = data.tickets.map((t) => el("tr", { class: t.breached ? "breached" : "due-soon",
    dataset: { ticket: t.id } },
    el("td", {}, el("a", { href: "#/tickets/" + t.id }, "#" + t.number)), el("td", {}, t.subject),
    el("td", {}, t.customer), el("td", {}, title[t.queue] || t.queue), el("td", {}, t.assignee || "unassigned"),
    el("td", {}, t.clock === "first_response" ? "first response" : "resolution"),
    el("td", { title: explain("sla_due") }, t.breached ? "overdue by " + secs(-t.seconds_left)
      : "in " + secs(t.seconds_left))));
  return el("section", { class: "table-card", id: "at-risk" },
    el("div", { class: "chart-head" }, el("h3", { title: explain("sla_due") },
      "About to breach SLA (next " + data.minutes + " min)")),
    rows.length ? el("table", { class: "metrics" },
      el("thead", {}, el("tr", {}, ...["Ticket", "Subject", "Customer", "Queue", "Assignee", "Clock", "Due"]
        .map((h) => el("th", {}, h)))), el("tbody", {}, ...rows))
      : el("p", { class: "muted" }, "No ticket is due within " + data.minutes + " minutes."));
}

/** Each agent's active tickets against capacity (from GET /api/metrics/live). */
export function agentLoad(live) {
  const agents = live.agents.filter((a) => a.capacity > 0 || a.open > 0);
  const names = agents.map((a) => a.name);
  return chartPanel({ id: "chart-agent-load", title: "Agents' load against capacity", def: "load",
    xTitle: "Tickets", yTitle: "", barmode: "overlay", height: Math.max(200, 110 + 36 * agents.length), traces: [
      { type: "bar", orientation: "h", name: "Capacity", y: names, x: agents.map((a) => a.capacity),
        marker: { color: "#dfe6ee" } },
      { type: "bar", orientation: "h", name: "Active tickets", y: names, x: agents.map((a) => a.open),
        marker: { color: "#2d6cdf" }, width: 0.5 }] });
}
