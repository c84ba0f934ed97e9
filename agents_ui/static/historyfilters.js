/* The history page's period (presets or custom, in UTC) and filters (queue, channel, agent, intent, tag). */
const { el, api } = window.Desk;

const DAY = 86400000;
const utcMidnight = (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

/** [from, to) of a preset, as Dates (UTC days; `to` is the end of today or of the chosen day). */
export function presetRange(name, now = new Date()) {
  const today = utcMidnight(now);
  const tomorrow = new Date(today.getTime() + DAY);
  switch (name) {
    case "today": return [today, tomorrow];
    case "yesterday": return [new Date(today.getTime() - DAY), today];
    case "7d": return [new Date(tomorrow.getTime() - 7 * DAY), tomorrow];
    case "30d": return [new Date(tomorrow.getTime() - 30 * DAY), tomorrow];
    case "90d": return [new Date(tomorrow.getTime() - 90 * DAY), tomorrow];
    case "month": return [new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), tomorrow];
    default: return null;
  }
}

export const PRESETS = [["today", "Today"], ["yesterday", "Yesterday"], ["7d", "Last 7 days"],
  ["30d", "Last 30 days"], ["90d", "Last 90 days"], ["month", "This month"], ["custom", "Custom"]];
const FILTERS = [["queue", "Queue", "queues"], ["channel", "Channel", "channels"], ["agent", "Agent", "agents"],
  ["intent", "Intent", "intents"]];
const day = (d) => d.toISOString().slice(0, 10);

/**
 * Mount the filter bar in `box`; `onChange(query)` gets {from, to, bucket, queue?, channel?, agent?, intent?, tag?}
 * (ISO strings) and the filter choices, at once and after every change.
 */
export async function mountFilters(box, onChange) {
  const options = await api("GET", "/api/metrics/filters");
  const preset = el("select", { id: "h-preset", "aria-label": "Period" },
    ...PRESETS.map(([v, label]) => el("option", { value: v }, label)));
  preset.value = "7d";
  const from = el("input", { id: "h-from", type: "date", "aria-label": "From (UTC)" });
  const to = el("input", { id: "h-to", type: "date", "aria-label": "To (UTC, inclusive)" });
  const selects = FILTERS.map(([name, label, key]) => el("select", { id: "h-" + name, name, "aria-label": label },
    el("option", { value: "" }, "All " + label.toLowerCase() + "s"),
    ...options[key].map((o) => el("option", { value: o.value }, o.label))));
  const tag = el("input", { id: "h-tag", name: "tag", type: "text", placeholder: "Tag", "aria-label": "Tag",
                            size: 10 });
  const bucket = el("select", { id: "h-bucket", "aria-label": "Points" },
    el("option", { value: "auto" }, "Auto"), el("option", { value: "hour" }, "Hourly"),
    el("option", { value: "day" }, "Daily"));
  const shown = (range) => { from.value = day(range[0]); to.value = day(new Date(range[1].getTime() - DAY)); };
  shown(presetRange("7d"));

  function query() {
    let range = presetRange(preset.value);
    if (!range) {
      const f = new Date(from.value + "T00:00:00Z");
      const t = new Date(new Date(to.value + "T00:00:00Z").getTime() + DAY);
      if (isNaN(f) || isNaN(t) || t <= f) return null;
      range = [f, t];
    } else shown(range);
    const span = range[1] - range[0];
    const q = { from: range[0].toISOString(), to: range[1].toISOString(),
                bucket: bucket.value === "auto" ? (span <= 2 * DAY ? "hour" : "day") : bucket.value };
    for (const s of selects) if (s.value) q[s.name] = s.value;
    if (tag.value.trim()) q.tag = tag.value.trim().toLowerCase();
    return q;
  }
  function changed() {
    const q = query();
    if (q) onChange(q, options);
  }
  preset.addEventListener("change", changed);
  for (const input of [from, to]) input.addEventListener("change", () => { preset.value = "custom"; changed(); });
  for (const s of [...selects, bucket]) s.addEventListener("change", changed);
  tag.addEventListener("change", changed);
  box.replaceChildren(el("form", { class: "history-filters", onsubmit: (e) => { e.preventDefault(); changed(); } },
    el("label", {}, "Period ", preset), el("label", {}, "From ", from), el("label", {}, "to ", to),
    ...selects, tag, el("label", {}, "Points ", bucket), el("span", { class: "muted" }, "Days in UTC")));
  changed();
}

/** The query string of a filter query (for the JSON and CSV endpoints). */
export function queryString(q, extra = {}) {
  return new URLSearchParams({ ...q, ...extra }).toString();
}
