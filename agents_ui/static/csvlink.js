/* The CSV export of one table of the history API, with the page's filters. */
import { queryString } from "./historyfilters.js";

const { el } = window.Desk;

/** The URL of `table` (series, agents or totals) as CSV for the filter query `q`. */
export function csvHref(q, table) {
  return "/api/metrics/history.csv?" + queryString(q, { table });
}

/** A download link for `table`, named after it. */
export function csvLink(q, table, label = "CSV") {
  return el("a", { class: "csv", href: csvHref(q, table), download: table + ".csv", dataset: { csv: table },
                   title: "Download this table as CSV (same period and filters)" }, label);
}
