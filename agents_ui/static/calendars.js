/* "Business hours" (admins): the queues' SLA calendars — time zone, weekly hours, holidays, queues.
 * An ES module registered with Desk.registerView; talks to /api/admin/calendars. Text only via textContent.
 */
const { api, el, registerView } = window.Desk;

const DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"],
              ["sun", "Sun"]];

/** Holidays as lines: "2026-12-25 yearly Christmas" or "2026-04-03 Good Friday". */
function holidayLines(holidays) {
  return holidays.map((h) => [h.date, h.yearly ? "yearly" : "", h.name].filter(Boolean).join(" ")).join("\n");
}

function parseHolidays(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [date, ...rest] = line.split(/\s+/);
    const yearly = rest[0] === "yearly";
    return { date, yearly, name: (yearly ? rest.slice(1) : rest).join(" ") };
  });
}

function calendarForm(cal, queues, reload) {
  const fresh = !cal;
  cal = cal || { name: "", timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", hours: {},
                 holidays: [], queues: [] };
  const name = el("input", { name: "name", value: cal.name, placeholder: "office", required: true,
                             "aria-label": "Calendar name", readonly: fresh ? null : true });
  const tz = el("input", { name: "timezone", value: cal.timezone, "aria-label": "Time zone", size: "22" });
  const days = DAYS.map(([key, label]) => [key, el("input", {
    name: "hours-" + key, "aria-label": label + " hours", placeholder: "closed",
    value: (cal.hours[key] || []).map(([a, b]) => a + "-" + b).join(", ") })]);
  const holidays = el("textarea", { name: "holidays", "aria-label": "Holidays",
                                    placeholder: "2026-12-25 yearly Christmas" }, holidayLines(cal.holidays));
  const boxes = queues.map((q) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "queue", value: q.name,
                                                                 checked: cal.queues.includes(q.name) }), " " + q.title));
  const message = el("p", { class: "error", role: "alert" });
  const remove = fresh ? null : el("button", { type: "button", onclick: async () => {
    try { await api("DELETE", "/api/admin/calendars/" + encodeURIComponent(cal.name)); reload(); }
    catch (ex) { message.textContent = ex.message; }
  } }, "Delete");
  const form = el("form", { class: "calendar", dataset: { calendar: cal.name || "new" } },
    el("fieldset", {}, el("legend", {}, fresh ? "New calendar" : cal.name),
      el("div", { class: "row" }, el("label", {}, "Name", name), el("label", {}, "Time zone (IANA)", tz)),
      el("div", { class: "days" }, ...days.flatMap(([key, input]) => [el("label", { for: input.name }, key), input])),
      el("p", { class: "muted" }, "Hours like 09:00-12:00, 13:00-17:00; empty = closed."),
      el("label", {}, "Holidays (one a line: date, optional “yearly”, name)", holidays),
      el("div", { class: "queues" }, el("strong", {}, "Queues"), ...boxes),
      el("p", {}),
      el("button", { type: "submit" }, "Save"), " ", remove, message));
  for (const [, input] of days) input.id = input.name + "-" + (cal.name || "new");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const hours = {};
    for (const [key, input] of days) {
      const parts = input.value.split(",").map((p) => p.trim()).filter(Boolean);
      if (parts.length) hours[key] = parts;
    }
    const body = { timezone: tz.value.trim(), hours, holidays: parseHolidays(holidays.value),
                   queues: boxes.map((b) => b.firstChild).filter((c) => c.checked).map((c) => c.value) };
    try {
      await api("PUT", "/api/admin/calendars/" + encodeURIComponent(name.value.trim()), body);
      message.textContent = "";
      reload();
    } catch (ex) {
      message.textContent = ex.message;
    }
  });
  return form;
}

registerView("business-hours", "Business hours", ["admin"], (container) => {
  const box = el("div", { class: "calendars", id: "calendars" });
  container.replaceChildren(box);
  async function reload() {
    try {
      const data = await api("GET", "/api/admin/calendars");
      box.replaceChildren(el("h2", {}, "Business hours"),
        el("p", { class: "muted" }, "SLA due times count only the open hours of the queue's calendar; "
          + "a queue without one runs round the clock."),
        ...data.calendars.map((c) => calendarForm(c, data.queues, reload)), calendarForm(null, data.queues, reload));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    }
  }
  reload();
});
