/* "Queues" (admins): every queue with its routing, members, targets and fallback, one editable card each,
 * and a card to create one. An ES module registered with Desk.registerView; talks to /api/admin/queues.
 */
import { queueForm } from "./queueform.js";

const { api, el, registerView } = window.Desk;

const MODE = { manual: "manual", least_busy: "auto-assign" };

function facts(queue, data) {
  return [MODE[queue.routing] || queue.routing,
          queue.members.length + " member" + (queue.members.length === 1 ? "" : "s"),
          queue.open_tickets + " open",
          queue.fallback_queue ? "falls back to " + queue.fallback_queue : null,
          queue.name === data.default_queue ? "default" : null].filter(Boolean).join(" · ");
}

function card(queue, data, reload) {
  const line = el("span", { class: "facts" }, facts(queue, data));
  const title = el("strong", {}, queue.title || queue.name);
  const summary = el("summary", {}, title, " ", el("code", {}, queue.name), line);
  const saved = (after) => {  // the summary follows the saved queue
    title.textContent = after.title || after.name;
    line.textContent = facts({ ...after, open_tickets: queue.open_tickets }, data);
  };
  return el("details", { class: "queue-card", dataset: { queue: queue.name } }, summary,
            queueForm(queue, data, reload, saved));
}

registerView("queues", "Queues", ["admin"], (container) => {
  const box = el("div", { class: "queues-admin", id: "queues-admin" });
  container.replaceChildren(box);
  async function reload() {
    try {
      const data = await api("GET", "/api/admin/queues");
      box.replaceChildren(el("h2", {}, "Queues and routing"),
        el("p", { class: "muted" }, "Changes apply to the next escalation, in every hub process. "
          + "The configuration file only seeds queues the first time; ", el("code", {}, "switchboard config apply"),
          " re-applies it."),
        ...data.queues.map((q) => card(q, data, reload)),
        el("details", { class: "queue-card new" }, el("summary", {}, el("strong", {}, "New queue")),
           queueForm(null, data, reload)));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    }
  }
  reload();
});
