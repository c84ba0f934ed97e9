/* "Automation" (admins): rules that act on events — an event, conditions, actions — and the run lines they
 * leave on tickets. An ES module registered with Desk.registerView; talks to /api/admin/automation.
 * Text only via textContent.
 */
import { fieldPicks } from "./fieldpicks.js";
import { CHANNEL_CHOICES } from "./names.js";
import { choose, pick } from "./picker.js";

const { api, el, registerView, onRenderMessage, onLive, fmtTime } = window.Desk;

const EVENTS = [["ticket.created", "A ticket is created"], ["customer.replied", "The customer replies"],
                ["ticket.sla_warning", "An SLA warning fires"], ["csat.received", "A rating arrives"], ["ticket.idle", "The ticket is idle"]];
const list = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

/* A run's private line on the ticket: "Automation 'Invoices' tagged billing and moved this to Orders". */
onRenderMessage((m) => {
  const run = m.metadata && m.metadata.automation;
  if (!run) return null;
  return el("li", { class: "move automation", dataset: { id: m.id, author: "automation" } },
    el("span", { class: "who" }, fmtTime(m.created_at) + " · private"),
    el("span", { class: "text" }, run.summary));
});

/* A rule's "notify the desk": a dismissable note beside the SLA alerts, for everyone who may see the ticket. */
onLive((frame) => {
  if (frame.type !== "event" || frame.event.type !== "ticket.automation_notice") return;
  const data = frame.event.data || {};
  const box = document.getElementById("sla-alerts");
  if (!box) return;
  const item = el("button", { type: "button", title: "Dismiss", class: "sla-alert warning automation-notice",
                              onclick: () => item.remove() }, "#" + (data.number ?? "?") + ": " + (data.text || ""));
  box.prepend(item);
  setTimeout(() => item.remove(), 60000);
});

/** One checkbox per channel, by name; none ticked: any channel. */
function channelChoice(chosen) {
  return el("fieldset", { class: "channels" }, el("legend", {}, "Channels (none: any)"),
    ...CHANNEL_CHOICES.map(([code, name]) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "channel", value: code, checked: chosen.includes(code) }), " " + name)));
}

function ruleForm(rule, queues, agents, responses, defs, reload) {
  const fresh = !rule;
  rule = rule || { name: "", enabled: true, event: "ticket.created", conditions: {}, actions: {} };
  const c = rule.conditions, a = rule.actions;
  const input = (name, label, value, extra = {}) => el("label", {}, label,
    el("input", { name, value: value || "", "aria-label": label, ...extra }));
  const queueSelect = (name, label, value) => choose(name, label, queues.map((q) => [q.name, q.title]), value,
                                                      "removed");
  const message = el("p", { class: "error", role: "alert" });
  const fields = fieldPicks(defs, a.fields);
  const form = el("form", { class: "rule", dataset: { rule: rule.name || "new" } },
    el("fieldset", {}, el("legend", {}, fresh ? "New rule" : rule.name),
      el("div", { class: "row" }, input("name", "Name", rule.name, { required: true }),
        el("label", {}, "When", el("select", { name: "event", "aria-label": "Event" },
          ...EVENTS.map(([v, t]) => el("option", { value: v, selected: v === rule.event }, t)))),
        input("idle_hours", "Idle for (hours)", rule.idle_hours ? String(rule.idle_hours) : "",
              { type: "number", min: "1", max: "720", placeholder: "idle only" }),
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "enabled", checked: rule.enabled }),
           " enabled")),
      el("strong", {}, "If (all that are filled in)"),
      el("div", { class: "row" },
        channelChoice(c.channels || []),
        queueSelect("cond-queue", "Queue", (c.queues || [])[0]),
        input("cond-tags", "Has tags", (c.tags || []).join(", ")),
        input("text", "Subject or message contains", c.text),
        input("attribute", "Customer attribute", c.attribute, { placeholder: "plan" }),
        input("value", "equals", c.value, { placeholder: "enterprise" }),
        pick("business_hours", "Business hours", [["", "any time"], ["open", "open"], ["closed", "closed"]],
             c.business_hours)),
      el("strong", {}, "Then"),
      el("div", { class: "row" },
        queueSelect("queue", "Move to queue", a.queue),
        choose("assignee", "Assign to", agents.map((x) => [x.username, x.name]), a.assignee, "disabled or removed"),
        input("tags", "Add tags", (a.tags || []).join(", ")),
        pick("priority", "Priority", ["", "low", "normal", "high", "urgent"].map((p) => [p, p || "—"]), a.priority),
        choose("response", "Send canned reply", responses.map((r) => [r.shortcut, r.title]), a.response, "removed"),
        input("note", "Add private note", a.note),
        input("notify", "Notify the desk", a.notify)),
      fields.node,
      el("button", { type: "submit" }, "Save"), " ",
      fresh ? null : el("button", { type: "button", onclick: async () => {
        try { await api("DELETE", "/api/admin/automation/" + rule.id); reload(); }
        catch (ex) { message.textContent = ex.message; }
      } }, "Delete"),
      message));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements, v = (n) => f[n].value.trim();
    const body = {
      name: v("name"), enabled: f.enabled.checked, event: f.event.value,
      idle_hours: f.event.value === "ticket.idle" && v("idle_hours") ? Number(v("idle_hours")) : null,
      conditions: { channels: [...form.querySelectorAll("input[name=channel]:checked")].map((b) => b.value), queues: v("cond-queue") ? [v("cond-queue")] : [],
                    tags: list(v("cond-tags")), text: v("text"), attribute: v("attribute"), value: v("value"),
                    business_hours: v("business_hours") || null },
      actions: { queue: v("queue") || null, assignee: v("assignee") || null, tags: list(v("tags")),
                 priority: v("priority") || null, response: v("response") || null, note: v("note"),
                 notify: v("notify"), fields: fields.read() },
    };
    try {
      await api(fresh ? "POST" : "PUT", "/api/admin/automation" + (fresh ? "" : "/" + rule.id), body);
      message.textContent = "";
      reload();
    } catch (ex) {
      message.textContent = ex.message;
    }
  });
  return form;
}

registerView("automation", "Automation", ["admin"], (container) => {
  const box = el("div", { class: "automation", id: "automation" });
  container.replaceChildren(box);
  async function reload() {
    try {
      const [data, library, defs] = await Promise.all([api("GET", "/api/admin/automation"), api("GET", "/api/responses"),
                                                       api("GET", "/api/ticket-fields")]);
      const responses = library.responses;
      const fields = defs.fields;
      box.replaceChildren(el("h2", {}, "Automation"),
        el("p", { class: "muted" }, "Each rule runs once per event; what it did shows on the ticket as a private line."),
        ...data.rules.map((r) => ruleForm(r, data.queues, data.agents, responses, fields, reload)),
        ruleForm(null, data.queues, data.agents, responses, fields, reload));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error" }, ex.message));
    }
  }
  reload();
});
