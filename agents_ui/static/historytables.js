/* The history page's tables: the period's totals and one row per agent, each cell explained on hover.
 * Every cell keeps its raw value in data-value (what the CSV export holds); the text is formatted. */
import { explain, num, pct, secs } from "./metricdefs.js";
import { csvLink } from "./csvlink.js";

const { el } = window.Desk;

const TOTALS = [
  ["opened", "Opened", num], ["escalated", "Escalated", num], ["solved", "Solved", num],
  ["abandoned", "Abandoned", num], ["abandonment_rate", "Abandonment rate", pct], ["answered", "Answered", num], ["asa_seconds", "Average speed of answer", secs],
  ["service_level", "Service level", pct], ["first_response_p50", "First response p50", secs],
  ["first_response_p90", "First response p90", secs], ["resolution_p50", "Resolution p50", secs],
  ["resolution_p90", "Resolution p90", secs], ["resolution_avg", "Resolution average", secs],
  ["bot_containment", "Bot containment", pct],
  ["bot_open", "Bot conversations still open", num], ["fallback_rate", "Bot fallback rate", pct],
  ["csat", "CSAT", pct], ["article_deflection", "Article deflection", pct],
];

const AGENT_COLUMNS = [
  ["name", "Agent", null, (v) => v], ["handled", "Handled", "handled", num],
  ["first_response_p50", "First response p50", "first_response_p50", secs],
  ["resolution_p50", "Resolution p50", "resolution_p50", secs], ["csat", "CSAT", "csat", pct],
  ["occupancy", "Occupancy", "occupancy", pct],
];

const raw = (v) => (v === null || v === undefined ? "" : String(v));

function card(title, def, link, ...body) {
  return el("section", { class: "table-card" },
    el("div", { class: "chart-head" }, el("h3", { title: def ? explain(def) : undefined }, title), link), ...body);
}

/** Key figures of the whole period, as tiles. */
export function totalsTable(totals, q) {
  const rows = TOTALS.filter(([key]) => key in totals);
  return card("Totals for the period", null, csvLink(q, "totals"),
    el("table", { id: "history-totals", class: "metrics" },
      el("tbody", {}, ...rows.map(([key, label, fmt]) => el("tr", { dataset: { metric: key } },
        el("th", { title: explain(key), scope: "row" }, label),
        el("td", { title: explain(key), dataset: { value: raw(totals[key]) } }, fmt(totals[key])))))));
}

/** One row per agent: handled, first response, resolution, CSAT, occupancy (names, never ids). */
export function agentsTable(agents, q) {
  const rows = [...agents].sort((a, b) => (b.handled || 0) - (a.handled || 0));
  return card("Agents", "handled", csvLink(q, "agents"),
    el("table", { id: "history-agents", class: "metrics" },
      el("thead", {}, el("tr", {}, ...AGENT_COLUMNS.map(([key, label, def]) =>
        el("th", { title: def ? explain(def) : "The agent's name", dataset: { column: key } }, label)))),
      el("tbody", {}, ...(rows.length ? rows.map((a) => el("tr", {},
        ...AGENT_COLUMNS.map(([key, , , fmt]) => el("td", { dataset: { column: key, value: raw(a[key]) } },
          fmt(a[key]))))) : [el("tr", {}, el("td", { colspan: AGENT_COLUMNS.length, class: "muted" },
          "No agent activity in this period."))]))));
}
