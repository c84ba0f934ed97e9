/* One queue's form on the "Queues" page: title, members, routing, targets, SLA, calendar, fallback,
 * and what the customer is told. Returns a <form>; saves with PATCH (or POST for a new queue).
 * Text only via textContent / attributes (el), never innerHTML.
 */
const { api, el } = window.Desk;

const ROUTING = [["manual", "Manual (agents pick tickets)"],
                 ["least_busy", "Auto-assign (least busy member online)"]];

function select(name, label, options, value) {
  const input = el("select", { name, "aria-label": label },
    ...options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
  return el("label", {}, label, input);
}

function number(name, label, value, attrs) {
  return el("label", {}, label, el("input", { name, type: "number", value: String(value), ...attrs }));
}

function text(name, label, value, placeholder) {
  return el("label", { class: "wide" }, label,
    el("textarea", { name, "aria-label": label, placeholder, rows: "2" }, value || ""));
}

/** The form for `queue` (null: a new one). `data`: the page's data (queues, agents, calendars);
 * `onSaved(queue)`: told the queue as saved (a new queue reloads the page instead). */
export function queueForm(queue, data, reload, onSaved) {
  const fresh = !queue;
  const q = queue || { name: "", title: "", routing: "manual", auto_transfer_seconds: 0, max_per_agent: 0,
                       answer_target_seconds: 60,
                       service_level_goal: 0.8, first_response_sla_seconds: 3600, resolution_sla_seconds: 86400,
                       calendar: "", fallback_queue: "", escalation_message: "", on_transfer_message: "",
                       on_reply_after_close: "reopen", members: [], all_queue_agents: [], open_tickets: 0 };
  const others = data.queues.filter((o) => o.name !== q.name);
  const members = data.agents.map((a) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "member", value: a.username, checked: q.members.includes(a.username) }),
    " " + a.name));
  const message = el("p", { class: "error", role: "alert" });
  const saved = el("span", { class: "saved", role: "status" });
  const remove = fresh ? null : el("button", { type: "button", class: "danger", onclick: async () => {
    try { await api("DELETE", "/api/admin/queues/" + encodeURIComponent(q.name)); reload(); }
    catch (ex) { message.textContent = ex.message; }
  } }, "Delete queue");
  const form = el("form", { class: "queue-form", dataset: { queue: q.name || "new" } },
    fresh ? el("label", {}, "Name (a slug, cannot change later)",
               el("input", { name: "name", required: true, placeholder: "billing", pattern: "[a-z0-9][a-z0-9_-]*" }))
          : null,
    el("label", {}, "Title", el("input", { name: "title", value: q.title, placeholder: q.name || "Billing" })),
    el("fieldset", {}, el("legend", {}, "Routing"),
      select("routing", "Mode", ROUTING, q.routing),
      number("auto_transfer_seconds", "Auto-assign: pass an unanswered ticket on after (seconds, 0 = never)",
             q.auto_transfer_seconds, { min: "0" }),
      number("max_per_agent", "Auto-assign: at most this many of this queue's tickets per agent (0 = their capacity)",
             q.max_per_agent, { min: "0" }),
      select("fallback_queue", "When no member is online, send new tickets to",
             [["", "nobody else (they wait here)"], ...others.map((o) => [o.name, o.title || o.name])],
             q.fallback_queue),
      el("div", { class: "members" }, el("strong", {}, "Members"), ...members),
      q.all_queue_agents.length
        ? el("p", { class: "muted" }, "Also serving every queue (no queue list): " + q.all_queue_agents.join(", "))
        : null,
      el("p", { class: "muted" }, "Each agent's capacity (open tickets at once) is set on the agent.")),
    el("fieldset", {}, el("legend", {}, "Targets and SLA"),
      number("answer_target_seconds", "Answer target (seconds)", q.answer_target_seconds, { min: "1" }),
      number("service_level_goal", "Service level goal (%)", Math.round(q.service_level_goal * 100),
             { min: "1", max: "100" }),
      number("first_response_sla_seconds", "First response SLA (seconds)", q.first_response_sla_seconds, { min: "1" }),
      number("resolution_sla_seconds", "Resolution SLA (seconds)", q.resolution_sla_seconds, { min: "1" }),
      select("calendar", "Business hours", [["", "24/7"], ...data.calendars.map((c) => [c, c])], q.calendar)),
    el("fieldset", {}, el("legend", {}, "What the customer is told"),
      text("escalation_message", "On escalation into this queue", q.escalation_message,
           "empty: the bot's own words (\u201cI'm passing you to a colleague.\u201d)"),
      text("on_transfer_message", "When a ticket is moved into this queue", q.on_transfer_message,
           "empty: nothing, the move stays internal"),
      select("on_reply_after_close", "A reply after the ticket is closed",
             [["reopen", "reopens it"], ["new", "opens a new ticket"]], q.on_reply_after_close)),
    el("div", { class: "actions" }, el("button", { type: "submit" }, fresh ? "Create queue" : "Save"), " ", saved,
       " ", remove), message);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements;
    const body = {
      title: f.title.value.trim(), routing: f.routing.value,
      auto_transfer_seconds: Number(f.auto_transfer_seconds.value), max_per_agent: Number(f.max_per_agent.value),
      fallback_queue: f.fallback_queue.value,
      members: [...form.querySelectorAll("input[name=member]:checked")].map((c) => c.value),
      answer_target_seconds: Number(f.answer_target_seconds.value),
      service_level_goal: Number(f.service_level_goal.value) / 100,
      first_response_sla_seconds: Number(f.first_response_sla_seconds.value),
      resolution_sla_seconds: Number(f.resolution_sla_seconds.value), calendar: f.calendar.value,
      escalation_message: f.escalation_message.value.trim(), on_transfer_message: f.on_transfer_message.value.trim(),
      on_reply_after_close: f.on_reply_after_close.value,
    };
    try {
      if (fresh) await api("POST", "/api/admin/queues", { name: f.name.value.trim(), ...body });
      else if (onSaved) onSaved((await api("PATCH", "/api/admin/queues/" + encodeURIComponent(q.name), body)).queue);
      message.textContent = "";
      saved.textContent = "Saved";
      if (fresh) reload();
    } catch (ex) {
      saved.textContent = "";
      message.textContent = ex.message;
    }
  });
  return form;
}
