/* Several tickets at once: a box on each row of the list, and over the list, once some are picked, what to do with
 * them (for agents a status, a priority, a tag added or removed; "assign to me", to nobody, or, for supervisors, to a
 * colleague; a queue to move them to) and Apply. The hub changes each as one change (POST /api/tickets/bulk) and
 * says which it could not change and why; the list then reads again. The picked rows are the ones shown: a new
 * search or filter drops the others. An ES module. */
import { fieldChoices, fieldDefs } from "./fielddefs.js";
import { assignable, onNames, queues } from "./names.js";

const { api, el, hasRole, onEnter, state } = window.Desk;

const picked = new Set();
const listeners = [];
const count = el("strong", { id: "bulk-count" });
const action = el("select", { id: "bulk-action", "aria-label": "What to do with the picked tickets" });
const note = el("p", { id: "bulk-result", class: "muted", role: "status" });
const tag = el("input", { type: "text", id: "bulk-tag", "aria-label": "Tag to add", placeholder: "tag", size: "10",
                          maxlength: "40", hidden: true });
const apply = el("button", { type: "button", id: "bulk-apply" }, "Apply");
const clear = el("button", { type: "button", class: "link" }, "Clear");
const bar = el("div", { id: "bulk-bar", class: "bulk-bar", hidden: true }, count, action, tag, apply, clear);
const TAGGING = { "add_tags:": "Tag to add", "remove_tags:": "Tag to remove" };
action.addEventListener("change", () => {
  tag.hidden = !(action.value in TAGGING);
  if (!tag.hidden) { tag.setAttribute("aria-label", TAGGING[action.value]); tag.focus(); }
});
tag.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); apply.click(); } });

/** Whether this user picks rows at all (agents and supervisors work tickets). */
export const picking = () => hasRole("agent", "supervisor");

/** The box of one row, checked while it is picked. */
export function pickBox(ticket) {
  const box = el("input", { type: "checkbox", class: "pick", "aria-label": "Pick #" + ticket.number,
                            onclick: (e) => e.stopPropagation() });
  box.checked = picked.has(ticket.id);
  box.addEventListener("change", () => {
    if (box.checked) picked.add(ticket.id); else picked.delete(ticket.id);
    note.textContent = "";
    draw();
  });
  return box;
}

/** The list now shows `ids` (a new page or search): picks it no longer shows are dropped. */
export function shown(ids, appended) {
  if (appended) return;
  const visible = new Set(ids);
  for (const id of [...picked]) if (!visible.has(id)) picked.delete(id);
  draw();
}

/** Mount the bar over the list; `reload` reads the list again after a change. */
export function mountBar(before, reload) {
  before.before(bar, note);
  listeners.push(reload);
}

function options() {
  const choices = [];
  if (hasRole("agent")) {
    choices.push(el("optgroup", { label: "Status" }, ...["open", "pending", "solved", "closed"].map(
      (s) => el("option", { value: "status:" + s }, "Mark " + s))));
  }
  const assign = [];
  if (hasRole("agent")) assign.push(el("option", { value: "agent:me" }, "Assign to me"));
  assign.push(el("option", { value: "agent:" }, "Unassign"));
  if (hasRole("supervisor")) {
    const me = state.me ? state.me.id : null;
    for (const a of assignable()) if (a.id !== me) assign.push(el("option", { value: "agent:" + a.id }, "Assign to " + a.name));
  }
  choices.push(el("optgroup", { label: "Assignee" }, ...assign));
  if (hasRole("agent")) {
    choices.push(el("optgroup", { label: "Priority" }, ...["urgent", "high", "normal", "low"].map(
      (p) => el("option", { value: "priority:" + p }, "Priority " + p))));
    choices.push(el("optgroup", { label: "Tags" }, el("option", { value: "add_tags:" }, "Add a tag…"),
                    el("option", { value: "remove_tags:" }, "Remove a tag…")));
    const values = fieldChoices(fieldDefsRead);
    if (values.length) {  // the admins' ticket fields with choices (hub.ticketfields): "Set Product: Kettle"
      choices.push(el("optgroup", { label: "Ticket fields" }, ...values.map((c) =>
        el("option", { value: "fields:" + JSON.stringify({ [c.field.key]: c.value }) },
           "Set " + c.field.label + ": " + c.shown))));
    }
  }
  const moves = queues().map((q) => el("option", { value: "queue:" + q.key }, "Move to " + q.title));
  if (moves.length) choices.push(el("optgroup", { label: "Queue (waits unassigned there)" }, ...moves));
  const chosen = action.value;  // rebuilt when the names come: what the agent chose stays chosen
  action.replaceChildren(el("option", { value: "" }, "Do with them…"), ...choices);
  action.value = chosen;
  if (action.value !== chosen) action.value = "";
}

function draw() {
  bar.hidden = picked.size === 0;
  count.textContent = picked.size === 1 ? "1 picked" : picked.size + " picked";
  if (!bar.hidden && action.options.length <= 1) options();
  for (const box of document.querySelectorAll("#tickets .pick")) {
    box.checked = picked.has(box.closest("li").dataset.ticket);
  }
}

onNames(() => { if (state.me) options(); });  // the colleagues' names came (or changed)

let fieldDefsRead = [];  // the ticket fields (fielddefs.js), once a sign-in: agents set them
onEnter(async () => {
  if (!hasRole("agent")) return;
  fieldDefsRead = await fieldDefs();
  options();
});

apply.addEventListener("click", async () => {
  const [kind, value] = action.value.split(/:(.*)/s);
  if (!kind) { note.textContent = "Choose what to do first."; return; }
  const body = { ticket_ids: [...picked] };
  if (kind === "agent") body.agent_id = value || null;
  else if (kind === "add_tags" || kind === "remove_tags") {
    const words = tag.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (!words.length) {
      note.textContent = "Type the tag to " + (kind === "add_tags" ? "add" : "remove") + " first.";
      tag.focus();
      return;
    }
    body[kind] = words;
  } else if (kind === "fields") body.fields = JSON.parse(value);
  else body[kind] = value;
  apply.disabled = true;
  try {
    const answer = await api("POST", "/api/tickets/bulk", body);
    for (const d of answer.done) picked.delete(d.id);
    note.textContent = (answer.done.length === 1 ? "1 ticket changed." : answer.done.length + " tickets changed.")
      + (answer.failed.length ? " Not changed: " + answer.failed.map(
        (f) => (f.number ? "#" + f.number + " " : "") + "(" + f.error + ")").join(", ") + "." : "");
    action.value = "";
    tag.value = "";
    tag.hidden = true;
  } catch (ex) {
    note.textContent = "Nothing changed: " + ex.message;
  } finally {
    apply.disabled = false;
  }
  draw();
  for (const reload of listeners) reload();
});

clear.addEventListener("click", () => { picked.clear(); note.textContent = ""; draw(); });
