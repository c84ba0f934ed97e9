/* What every supervisor figure means (the words of docs/metrics.md), and how it is shown. */

/** Where the full definitions live: the repository's docs/metrics.md, section "Definitions". */
export const DOCS = "docs/metrics.md#definitions";

export const DEFS = {
  opened: "Tickets opened in the period (a reopened ticket counts once).",
  escalated: "Conversations the bot handed to a queue in the period (not e-mail, not follow-ups after close).",
  solved: "Tickets solved in the period, counted at their last solve (a ticket reopened and solved again counts once).",
  abandoned: "Tickets the customer left before any agent answered (ended the chat, left the page), or solved/closed without any agent answer.",
  answered: "Tickets that got a first human agent reply.",
  first_response: "First human agent reply − handoff to the queue; bot replies never count, transfers do not reset it.",
  first_response_p50: "Median first response time: half of the answered tickets were answered faster.",
  first_response_p90: "90th percentile first response time: 9 in 10 answered tickets were answered faster.",
  resolution: "Last solve − creation, minus the time the ticket spent pending.",
  resolution_p50: "Median resolution time of the tickets solved in the period (last solve − creation − time pending).",
  resolution_p90: "90th percentile resolution time of the tickets solved in the period.",
  asa_seconds: "Average speed of answer: Σ(first agent reply − handoff) ÷ answered tickets (abandoned excluded).",
  service_level: "Answered within the queue's answer target ÷ answered.",
  service_level_goal: "The queue's service-level goal (queues.<name>.service_level_goal) for answers within its target.",
  abandoned_ended: "Abandoned: the customer ended the chat while waiting.",
  abandoned_left: "Abandoned: the customer closed every chat page and did not come back in time.",
  abandonment_rate: "Abandoned ÷ opened.",
  resolution_avg: "Average resolution time: Σ(last solve − creation − time pending) ÷ solved.",
  abandoned_closed: "Abandoned: the ticket was closed without any agent answer.",
  bot_containment: "Bot conversations closed without a handoff ÷ bot conversations closed in the period (open ones excluded).",
  bot_open: "Bot conversations still open: not counted in containment.",
  bot_contained: "Bot conversations closed without a handoff.",
  bot_closed: "Bot conversations closed (with or without a handoff).",
  fallbacks: "Bot replies that asked to rephrase or answered below confidence.",
  fallback_rate: "Fallback replies ÷ bot replies.",
  bot_messages: "Bot replies sent.",
  csat: "Ratings of 4–5 ÷ ratings, counted when the customer rated.",
  csat_ratings: "Customer satisfaction ratings given.",
  csat_satisfied: "Ratings of 4 or 5.",
  article_deflection: "Help-center article views not followed by a ticket ÷ article views (not measured yet: —).",
  handled: "Tickets the agent solved in the period (counted at the last solve).",
  occupancy: "The agent's active tickets now ÷ their capacity.",
  load: "Active assigned tickets ÷ capacity (right now).",
  depth: "Tickets waiting for a first agent answer now.",
  longest_wait: "How long the oldest waiting ticket has waited.",
  sla_due: "When the SLA clock that matters falls due: first response until answered, then resolution (pending time added).",
};

/** A hover text: the definition and where to read more. */
export function explain(key) {
  return (DEFS[key] || key) + "  (definitions: " + DOCS + ")";
}

export const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %");
export function secs(v) {
  if (v === null || v === undefined) return "—";
  if (v < 90) return Math.round(v) + " s";
  if (v < 5400) return Math.round(v / 60) + " min";
  return (v / 3600).toFixed(1) + " h";
}
export const num = (v) => (v === null || v === undefined ? "—" : String(v));
