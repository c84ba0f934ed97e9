/* One chart: a titled card with a plotly chart, a definition on hover and a CSV link to its data.
 * plotly.js is the bundle the `plotly` PyPI package ships, served by the hub (agents_ui/vendor.py),
 * loaded on first use so the ticket desk never pays for it. */
import { explain } from "./metricdefs.js";

const { el } = window.Desk;
let loading = null;

/** Resolves to window.Plotly once /static/vendor/plotly.min.js has run. */
export function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/static/vendor/plotly.min.js";
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { loading = null; reject(new Error("the chart library did not load")); };
      document.head.appendChild(s);
    });
  }
  return loading;
}

/** Waits until the node is in the document (plotly sizes a chart by its container when it draws). */
const attached = (node) => (value) => new Promise((resolve) => {
  const check = () => (node.isConnected ? resolve(value) : requestAnimationFrame(check));
  check();
});

/** The largest y value of the traces (whole counts below 8 get one tick each, never 0.2 of a ticket). */
const top = (traces) => Math.max(0, ...traces.flatMap((t) => (t.y || []).filter((v) => typeof v === "number")));

const FONT = { family: "system-ui, sans-serif", size: 12 };

/**
 * A chart card. `spec`: {id, title, def (a DEFS key), traces, xTitle, yTitle, yRange?, shapes?, barmode?, height?,
 * counts? (y holds whole numbers), csv (href)}.
 * Returns the card at once; the chart is drawn when plotly is loaded (card.dataset.drawn = "1").
 */
export function chartPanel(spec) {
  const plot = el("div", { class: "chart", role: "img", "aria-label": spec.title });
  const card = el("section", { class: "chart-card", id: spec.id, dataset: { chart: spec.id } },
    el("div", { class: "chart-head" },
      el("h3", { title: explain(spec.def) }, spec.title, el("span", { class: "info", "aria-hidden": "true" }, "?")),
      spec.csv ? el("a", { class: "csv", href: spec.csv, download: spec.id + ".csv", title: "This chart's data as CSV" },
        "CSV") : null),
    plot);
  const empty = spec.traces.every((t) => !(t.y || t.values || []).some((v) => v !== null && v !== undefined));
  if (empty) {
    plot.replaceWith(el("p", { class: "muted chart-empty" }, "No data in this period."));
    card.dataset.drawn = "1";
    return card;
  }
  plotly().then(attached(plot)).then((Plotly) => {
    const layout = {
      font: FONT, height: spec.height || 300, margin: { l: 64, r: 16, t: 36, b: 48 },
      xaxis: { title: { text: spec.xTitle || "" }, automargin: true },
      yaxis: { title: { text: spec.yTitle || "" }, rangemode: "tozero", automargin: true, range: spec.yRange,
               ...(spec.counts && top(spec.traces) <= 8 ? { tick0: 0, dtick: 1 } : {}) },
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" }, shapes: spec.shapes || [],
      barmode: spec.barmode, hovermode: "x unified", paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    };
    return Plotly.newPlot(plot, spec.traces, layout, { displaylogo: false, responsive: true,
                                                         modeBarButtonsToRemove: ["lasso2d", "select2d"] });
  }).then(() => { card.dataset.drawn = "1"; }, (err) => {
    plot.replaceWith(el("p", { class: "error" }, err.message));
  });
  return card;
}
