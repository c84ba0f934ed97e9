/* What agents read for the keys and ids a ticket holds: a channel's name ("web chat"), a queue's title, a desk
 * user's name. Queues and users come from GET /api/names, read when first needed and again (at most every 30 s)
 * when one is not known yet (a colleague added, a queue created); `onNames` callbacks run once an answer is in.
 * An ES module. */
const { api } = window.Desk;

const CHANNELS = { widget: "web chat", email: "email", sms: "SMS", voice: "phone", telegram: "Telegram",
                   slack: "Slack" };
/** The channels an agent can filter on, with their names, in the order the list offers them. */
export const CHANNEL_CHOICES = ["widget", "email", "slack", "telegram", "sms", "voice"].map((c) => [c, channelLabel(c)]);
const AGAIN_MS = 30000;
const names = { agents: {}, queues: {}, mentionable: [], assignable: [] };
const listeners = [];
let read = false;  // answered once: a key still unknown after that is shown as it is (a queue since deleted)
let asking = false;
let askedAt = -Infinity;

export function onNames(fn) { listeners.push(fn); }

function learn() {
  if (asking || Date.now() - askedAt < AGAIN_MS) return;
  asking = true;
  askedAt = Date.now();
  api("GET", "/api/names")
    .then((d) => {
      Object.assign(names, { agents: d.agents, queues: d.queues, mentionable: d.mentionable || [],
                             assignable: d.assignable || [] });
    })
    .catch(() => { /* shown by key meanwhile; asked again after AGAIN_MS */ })
    .finally(() => {
      asking = false;
      read = true;
      for (const fn of listeners) fn();
    });
}

export function channelName(code) { return CHANNELS[code] || code; }

/** The channel's name as a label or a table cell begins it ("Web chat"). */
export function channelLabel(code) {
  const name = channelName(code);
  return name ? name[0].toUpperCase() + name.slice(1) : name;
}

/** The queue's title; null until the names are read (then the key, for a queue they do not hold). */
export function queueName(key) {
  if (!names.queues[key]) learn();
  return names.queues[key] || (read ? key : null);
}

/** The desk user's name; null while not known. */
export function agentName(id) {
  if (!names.agents[id]) learn();
  return names.agents[id] || null;
}

function people(ids) {
  if (!read) learn();
  return ids.filter((id) => names.agents[id]).map((id) => ({ id, name: names.agents[id] }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The colleagues a private note may mention, `[{id, name}]` by name (mentions.js); empty until the names are read. */
export function mentionable() { return people(names.mentionable); }

/** Whom a supervisor may give tickets to (active agents), `[{id, name}]` by name (bulkbar.js). */
export function assignable() { return people(names.assignable); }

/** Every queue, `[{key, title}]` by title (bulkbar.js); empty until the names are read. */
export function queues() {
  if (!read) learn();
  return Object.entries(names.queues).map(([key, title]) => ({ key, title }))
    .sort((a, b) => a.title.localeCompare(b.title));
}
