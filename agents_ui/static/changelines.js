/* A ticket's changes in its timeline: "Alice solved the ticket.", "Routing gave the ticket to Bob.", "Carol changed
 * the priority from normal to urgent." The hub writes each change as a private line (hub/ticketlines.py) whose
 * `metadata.change` says what changed; this draws it as one quiet line between the messages, with the time of a
 * pending ticket in the agent's own zone. An ES module; text via textContent.
 */
import { when } from "./pendinguntil.js";

const { el, onRenderMessage, fmtTime } = window.Desk;

/** The hub's sentence, but a time in the agent's zone where the change has one. */
function words(m, change) {
  const timed = change.items.find((i) => (i.what === "status" && i.to === "pending" && i.until)
                                        || (i.what === "pending_until" && i.to));
  if (!timed || change.items.length > 1) return m.text;
  return timed.what === "status"
    ? change.by + " set the ticket to pending until " + when(timed.until) + "."
    : change.by + " set the ticket to open again on " + when(timed.to) + ".";
}

onRenderMessage((m) => {
  const change = m.metadata && m.metadata.change;
  if (!change || !Array.isArray(change.items)) return null;
  return el("li", { class: "change", dataset: { id: m.id, author: "change" } },
    el("span", { class: "who" }, fmtTime(m.created_at) + " · private"),
    el("span", { class: "text" }, words(m, change)));
});
