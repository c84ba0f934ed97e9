/* Supervisor history page: any period and filters, charts of the history API's series, totals and agents. */
import { mountFilters, queryString } from "./historyfilters.js";
import { chartPanel } from "./chartpanel.js";
import { csvHref } from "./csvlink.js";
import { agentsTable, totalsTable } from "./historytables.js";
import { DOCS, pct } from "./metricdefs.js";

const { el, api, registerView } = window.Desk;
const UNITS = [[120, 1, "Seconds"], [7200, 60, "Minutes"], [Infinity, 3600, "Hours"]];

/** p50 and p90 of one duration over time, in the unit that suits its largest value. */
function durationChart(id, title, def, key, s, x, xTitle, csv) {
  const values = s.flatMap((p) => [p[key + "_p50"], p[key + "_p90"]]).filter((v) => v !== null && v !== undefined);
  const [, divisor, unit] = UNITS.find(([limit]) => Math.max(0, ...values) < limit);
  const trace = (q, dash) => ({ type: "scatter", mode: "lines+markers", name: q, x, connectgaps: false,
    y: s.map((p) => (p[key + "_" + q] === null || p[key + "_" + q] === undefined ? null
      : Math.round((p[key + "_" + q] / divisor) * 10) / 10)), line: { dash } });
  return chartPanel({ id, title, def, csv, xTitle, yTitle: unit, traces: [trace("p50", "solid"), trace("p90", "dot")] });
}
const percent = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);

/** The charts of one answer of GET /api/metrics/history (`q`: the filter query it was asked with). */
export function charts(data, q, options) {
  const s = data.series;
  const x = s.map((p) => p.t);
  const xTitle = data.bucket === "hour" ? "Hour (UTC)" : "Day (UTC)";
  const line = (key, name, f = (v) => v, extra = {}) => ({ type: "scatter", mode: "lines+markers", name,
    x, y: s.map((p) => f(p[key])), connectgaps: false, ...extra });
  const bar = (key, name) => ({ type: "bar", name, x, y: s.map((p) => p[key]) });
  const series = csvHref(q, "series");
  const queues = options.queues.filter((o) => !q.queue || o.value === q.queue);
  const goals = [...new Set(queues.map((o) => o.service_level_goal))];
  const goal = goals.length ? Math.max(...goals) : null;
  const target = queues.length === 1 ? queues[0].answer_target_seconds + " s" : "each queue's target";
  const by = data.totals.abandoned_by_reason || {};
  const ratio = (n, d) => (d ? n / d : null);
  return [
    chartPanel({ id: "chart-volume", title: "Volume", def: "opened", csv: series, xTitle, yTitle: "Tickets",
      barmode: "group", counts: true, traces: [bar("opened", "Opened"), bar("escalated", "Escalated"), bar("solved", "Solved"),
        bar("abandoned", "Abandoned")] }),
    durationChart("chart-first-response", "First response time", "first_response", "first_response", s, x,
      xTitle, series),
    durationChart("chart-resolution", "Resolution time", "resolution", "resolution", s, x, xTitle, series),
    chartPanel({ id: "chart-service-level", title: "Service level (answered within " + target + ")",
      def: "service_level", csv: series, xTitle, yTitle: "% of answered", yRange: [0, 105],
      traces: [line("service_level", "Service level", percent),
        ...(goal === null ? [] : [{ type: "scatter", mode: "lines", name: "Goal " + pct(goal), x,
          y: x.map(() => goal * 100), line: { dash: "dash", color: "#c0392b" }, hoverinfo: "skip" }])] }),
    chartPanel({ id: "chart-abandonment", title: "Abandonment by reason", def: "abandoned",
      csv: csvHref(q, "totals"), xTitle: "Reason", yTitle: "Tickets", counts: true, traces: [{ type: "bar", name: "Abandoned",
        x: ["Ended the chat", "Left the page", "Closed unanswered"],
        y: [by.ended || 0, by.left || 0, by.closed_unanswered || 0],
        marker: { color: ["#e67e22", "#d35400", "#95a5a6"] } }] }),
    chartPanel({ id: "chart-bot", title: "Bot containment and fallback rate", def: "bot_containment", csv: series,
      xTitle, yTitle: "%", yRange: [0, 105], traces: [
        { ...line("bot_contained", "Containment"), y: s.map((p) => percent(ratio(p.bot_contained, p.bot_closed))) },
        { ...line("fallbacks", "Fallback rate"), y: s.map((p) => percent(ratio(p.fallbacks, p.bot_messages))) }] }),
    chartPanel({ id: "chart-csat", title: "Customer satisfaction", def: "csat", csv: series, xTitle,
      yTitle: "% satisfied (4–5)", yRange: [0, 105], traces: [
        { ...line("csat_satisfied", "CSAT"), y: s.map((p) => percent(ratio(p.csat_satisfied, p.csat_ratings))) }] }),
  ];
}

async function render(container) {
  const filters = el("div", { class: "history-bar" });
  const body = el("div", { class: "history-body" }, el("p", { class: "muted" }, "Loading…"));
  container.replaceChildren(el("div", { class: "dashboard history", id: "history" },
    el("h2", {}, "History"), filters, body,
    el("p", { class: "muted" }, "Hover a title or figure for its definition; all definitions: " + DOCS + ".")));
  let asked = 0;
  await mountFilters(filters, async (q, options) => {
    const mine = ++asked;
    body.dataset.loading = "1";
    let data;
    try {
      data = await api("GET", "/api/metrics/history?" + queryString(q));
    } catch (err) {
      if (mine === asked) body.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    if (mine !== asked) return;
    body.replaceChildren(
      el("div", { class: "chart-grid" }, ...charts(data, q, options)),
      el("div", { class: "table-grid" }, totalsTable(data.totals, q), agentsTable(data.agents, q)),
      data.percentile_error ? el("p", { class: "muted" }, "Percentiles: " + data.percentile_error) : null);
    body.dataset.loading = "0";
    body.dataset.query = queryString(q);
  });
}

registerView("history", "History", ["supervisor"], (container) => { render(container); });
