/* The line under the ticket's title: its queue, channel, why it reached a person, who has it, and whether the
 * customer left the chat. Names, never ids or keys (names.js). An ES module. */
import { agentName, channelName, onNames, queueName } from "./names.js";

const { onTicketHead, reasonText, fmtTime, state } = window.Desk;

function assignee(t) {
  if (!t.assignee_id) return "unassigned";
  if (state.me && t.assignee_id === state.me.id) return "assigned to you";
  const name = agentName(t.assignee_id);
  return name ? "assigned to " + name : "assigned";
}

function show(t) {
  const left = t.customer_left_at && ["new", "open", "pending"].includes(t.status)
    ? "customer left the chat at " + fmtTime(t.customer_left_at) : null;
  document.getElementById("ticket-meta").textContent =
    [queueName(t.queue), channelName(t.channel), reasonText(t.reason), assignee(t), left].filter(Boolean).join(" · ");
}

onTicketHead(show);
onNames(() => { if (state.ticket) show(state.ticket); });
