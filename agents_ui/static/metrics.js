/* Supervisor dashboard: live queues and agents (refreshed on every ticket event), report, daily trend. */
"use strict";
(() => {
  const { api, el, registerView, onLive } = window.Desk;
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %");
  const secs = (v) => {
    if (v === null || v === undefined) return "—";
    if (v < 90) return Math.round(v) + " s";
    if (v < 5400) return Math.round(v / 60) + " min";
    return (v / 3600).toFixed(1) + " h";
  };
  let root = null;
  let timer = null;

  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c === null ? "—" : String(c)))))));
  }

  async function render(container) {
    root = container;
    const [live, report, daily] = await Promise.all([
      api("GET", "/api/metrics/live"), api("GET", "/api/metrics/report"), api("GET", "/api/metrics/daily?days=7"),
    ]);
    if (root !== container) return;
    const o = report.overall;
    container.replaceChildren(el("div", { class: "dashboard", style: "padding:16px;overflow:auto" },
      el("h2", {}, "Now"),
      table(["Queue", "Waiting", "Longest wait"], live.queues.map((q) => [q.title, q.depth, secs(q.longest_wait_seconds)])),
      el("p", {}, "Agent occupancy: " + pct(live.occupancy)),
      table(["Agent", "Presence", "Open", "Capacity", "Occupancy"],
        live.agents.map((a) => [a.name, a.presence || "offline", a.open, a.capacity, pct(a.occupancy)])),
      el("h2", {}, "Last 24 hours"),
      table(["Queue", "Queued", "Answered", "ASA", "Service level", "Abandoned", "FRT p50", "Resolution", "CSAT"],
        [["All", o.queued, o.answered, secs(o.asa_seconds), pct(o.service_level), pct(o.abandonment_rate),
          secs(o.first_response_p50_seconds), secs(o.resolution_seconds_avg), pct(o.csat)],
         ...Object.entries(report.queues).map(([name, q]) => [name, q.queued, q.answered, secs(q.asa_seconds),
           pct(q.service_level), pct(q.abandonment_rate), secs(q.first_response_p50_seconds),
           secs(q.resolution_seconds_avg), pct(q.csat)])]),
      el("p", { id: "abandoned-by" }, "Abandoned: " + o.abandoned_by.ended + " ended the chat, " +
        o.abandoned_by.left + " left the page, " + o.abandoned_by.closed_unanswered + " closed unanswered"),
      el("p", { id: "bot-containment" }, "Bot containment: " + pct(report.bot.containment) + " of " +
        report.bot.conversations + " bot conversations"),
      el("h2", {}, "Last 7 days"),
      table(["Day", "Queued", "ASA", "Service level", "Abandonment", "Bot containment"],
        daily.days.map((d) => [d.day, d.queued, secs(d.asa_seconds), pct(d.service_level), pct(d.abandonment_rate),
          pct(d.bot.containment)]))));
  }

  onLive((event) => {
    if (!root || !root.isConnected || event.type !== "ticket") return;
    clearTimeout(timer);
    timer = setTimeout(() => render(root), 300);
  });
  registerView("dashboard", "Dashboard", ["supervisor"], (container) => { render(container); });
})();
