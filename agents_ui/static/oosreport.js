/* The bot trainer's out-of-scope views: the threshold trade-off curve of the evaluation report (pick a
 * point on it) and the built-in negatives that clash with the trainer's intents (exclude them).
 * An ES module on window.Desk, called by trainer.js (Desk.oosReport.render / renderNegatives).
 * plotly.js comes from the `plotly` Python package (/static/vendor/plotly.min.js), loaded on first use.
 * Every text reaches the page through textContent (Desk.el); plotly gets plain numbers and names.
 */
const { api, el } = window.Desk;

const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %");
let plotly = null;

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotly) {
    plotly = new Promise((resolve, reject) => {
      const script = el("script", { src: "/static/vendor/plotly.min.js" });
      script.addEventListener("load", () => resolve(window.Plotly));
      script.addEventListener("error", () => reject(new Error("the chart library did not load")));
      document.head.appendChild(script);
    });
  }
  return plotly;
}

function say(box, text, isError) {
  box.textContent = text;
  box.className = isError ? "error" : "muted";
}

/** The threshold part of an evaluation report `r` (bot.oos.threshold_report) into `box`. */
async function render(box, r, reload) {
  const t = r.threshold;
  if (!t) {
    box.replaceChildren(el("p", { class: "muted" }, "No threshold curve: too few examples per intent."));
    return;
  }
  const held = r.policy_threshold || { auto: true, fallback_threshold: t.fallback_threshold };
  const status = el("p", { id: "oos-status", class: "muted", role: "status" });
  const input = el("input", { id: "oos-threshold-input", type: "number", min: "0", max: "0.99", step: "0.01",
    value: String(held.fallback_threshold) });
  const selected = el("p", { id: "oos-selected" });
  const point = (threshold) => t.curve.reduce((best, p) =>
    (Math.abs(p.threshold - threshold) < Math.abs(best.threshold - threshold) ? p : best), t.curve[0]);
  const show = (threshold) => {
    const p = point(threshold);
    input.value = p.threshold.toFixed(2);
    selected.textContent = "Threshold " + p.threshold.toFixed(2) + ": in-scope accuracy " + pct(p.in_scope_accuracy) +
      " · out-of-scope recall " + pct(p.oos_recall);
  };
  const save = async (value) => {
    let message;
    let failed = false;
    try {
      const saved = await api("PUT", "/api/trainer/threshold", { threshold: value });
      message = saved.changed ? "Saved in version " + saved.version.number + "; train to put it live."
        : "Nothing changed.";
      if (reload) await reload();  // redraws the report: the message goes into the new one
    } catch (ex) {
      message = ex.message;
      failed = true;
    }
    say(document.getElementById("oos-status") || status, message, failed);
  };
  const chart = el("div", { id: "oos-curve", class: "oos-curve" });
  const negatives = r.negatives || {};
  box.replaceChildren(
    el("h3", {}, "Out of scope: when the bot says it does not know"),
    el("p", {}, "Default objective: keep cross-validated in-scope accuracy within " + (t.tolerance * 100).toFixed(1) +
      " point" + (t.tolerance === 0.01 ? "" : "s") +
      " of closed-set accuracy (" + pct(t.cv_closed_accuracy) + "), then catch as many out-of-scope messages as possible. " +
      "It picks threshold " + t.fallback_threshold.toFixed(2) +
      (t.oos_bias ? " with the out-of-scope intent damped (bias " + t.oos_bias + ")" : "") +
      ": in-scope " + pct(t.cv_in_scope_accuracy) + ", out-of-scope recall " + pct(t.cv_oos_recall) +
      (t.reached ? "." : " (the tolerance could not be kept).")),
    el("p", { id: "oos-policy" }, held.auto
      ? "The bot uses the default objective's threshold (policy: fallback_threshold auto)."
      : "A trainer picked threshold " + Number(held.fallback_threshold).toFixed(2) + (held.point
        ? " (in-scope " + pct(held.point.in_scope_accuracy) + ", out-of-scope recall " + pct(held.point.oos_recall) + ")" : "") + "."),
    el("p", { class: "muted" }, "Calibration: expected calibration error " + pct(t.ece) + " (" + t.ece_bins +
      " equal-width confidence bins) on " + t.n_in_scope + " in-scope and " + t.n_oos + " out-of-scope held-out examples" +
      (negatives.enabled === false ? "; built-in negatives switched off." : "; " + (negatives.used || 0) +
        " built-in negatives used, " + (negatives.excluded || 0) + " excluded.")),
    chart,
    el("div", { class: "inline" },
      el("label", {}, "Threshold ", input),
      el("button", { type: "button", id: "oos-use", onclick: () => save(point(Number(input.value)).threshold) },
        "Use this threshold"),
      el("button", { type: "button", id: "oos-auto", class: "secondary", onclick: () => save(null) },
        "Back to the default objective")),
    selected, status);
  input.addEventListener("input", () => show(Number(input.value)));
  show(Number(held.fallback_threshold));
  if (r.negatives_read_as_intents && r.negatives_read_as_intents.length) {
    box.appendChild(el("h4", {}, "Built-in negatives the model reads as your intents"));
    box.appendChild(el("table", { id: "oos-confused" },
      el("thead", {}, el("tr", {}, el("th", {}, "Negative"), el("th", {}, "Read as"), el("th", {}, "Confidence"))),
      el("tbody", {}, ...r.negatives_read_as_intents.slice(0, 10).map((c) =>
        el("tr", {}, el("td", {}, c.text), el("td", {}, c.intent), el("td", {}, pct(c.confidence)))))));
  }
  try {
    const Plotly = await loadPlotly();
    const curve = t.curve.filter((p) => p.oos_recall !== null);
    const x = (p) => p.oos_recall;
    const y = (p) => p.in_scope_accuracy;
    const chosen = point(t.fallback_threshold);
    const traces = [
      { x: curve.map(x), y: curve.map(y), text: curve.map((p) => "threshold " + p.threshold.toFixed(2)),
        customdata: curve.map((p) => p.threshold), mode: "lines+markers", name: "thresholds 0.00–0.99",
        marker: { size: 5, color: "#6b7280" }, line: { color: "#9ca3af" }, hoverinfo: "text+x+y" },
      { x: [x(chosen)], y: [y(chosen)], text: ["default objective: " + chosen.threshold.toFixed(2)],
        customdata: [chosen.threshold], mode: "markers", name: "default objective",
        marker: { size: 13, color: "#2563eb", symbol: "diamond" }, hoverinfo: "text" },
    ];
    if (!held.auto && held.point) {
      traces.push({ x: [held.point.oos_recall], y: [held.point.in_scope_accuracy],
        text: ["picked: " + Number(held.point.threshold).toFixed(2)], customdata: [held.point.threshold],
        mode: "markers", name: "picked by a trainer", marker: { size: 13, color: "#dc2626", symbol: "star" },
        hoverinfo: "text" });
    }
    await Plotly.newPlot(chart, traces, {
      height: 340, margin: { l: 60, r: 20, t: 10, b: 50 }, hovermode: "closest",
      xaxis: { title: { text: "out-of-scope recall (held-out)" }, tickformat: ".0%",
        range: [Math.max(0, Math.min(...curve.map(x)) - 0.05), 1.01] },
      yaxis: { title: { text: "in-scope accuracy (held-out)" }, tickformat: ".0%" },
      legend: { orientation: "h", y: -0.25 },
    }, { displayModeBar: false, responsive: true });
    chart.on("plotly_click", (ev) => { if (ev.points && ev.points.length) show(Number(ev.points[0].customdata)); });
  } catch (ex) {
    chart.replaceChildren(el("p", { class: "error" }, ex.message));
  }
}

/** The "Out of scope" tab: built-in negatives that nearly duplicate the trainer's examples. */
async function renderNegatives(body) {
  const status = el("p", { id: "negatives-status", class: "muted", role: "status" });
  const list = el("div", { id: "negatives-list" });
  body.replaceChildren(el("h3", {}, "Built-in negatives that clash with your intents"), status, list);
  const load = async () => {
    const r = await api("GET", "/api/trainer/negatives/clashes");
    const intro = el("p", { class: "muted" }, (r.enabled ? r.used + " of " + r.total +
      " built-in off-topic utterances train the out-of-scope intent" : "Built-in negatives are switched off (policy: builtin_negatives false)") +
      ". Listed: those whose nearest example of yours is at least " + Math.round(r.similarity * 100) +
      " % similar (TF-IDF cosine). Exclude the ones your bot should answer; it takes effect at the next training.");
    const rows = r.clashes.map((c) => el("tr", { dataset: { excluded: String(c.excluded) } },
      el("td", {}, c.text), el("td", {}, c.domain), el("td", {}, c.example), el("td", {}, c.intent),
      el("td", {}, pct(c.similarity)),
      el("td", {}, el("button", { type: "button", class: c.excluded ? "secondary" : "", onclick: async () => {
        try {
          const saved = await api("PUT", "/api/trainer/negatives/excluded", { text: c.text, excluded: !c.excluded });
          say(status, (c.excluded ? "Used again" : "Excluded") + " in version " + saved.version.number + "; train to put it live.");
          await load();
        } catch (ex) { say(status, ex.message, true); }
      } }, c.excluded ? "Use again" : "Exclude"))));
    list.replaceChildren(intro, rows.length
      ? el("table", { id: "negatives-clashes" },
        el("thead", {}, el("tr", {}, ...["Negative", "Domain", "Your example", "Intent", "Similarity", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows))
      : el("p", { class: "muted" }, "No built-in negative is a near duplicate of your examples."));
  };
  try { await load(); } catch (ex) { say(status, ex.message, true); }
}

window.Desk.oosReport = { render, renderNegatives };
