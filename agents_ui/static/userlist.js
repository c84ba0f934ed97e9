/* The Users page's table: one row per desk user with what an admin needs at a glance.
 * Everything goes through textContent (Desk.el); no ids are shown, only names.
 */
const { el, fmtTime } = window.Desk;

function state(a) {
  if (a.disabled) return el("span", { class: "badge off" }, "disabled");
  if (a.password_pending) return el("span", { class: "badge wait" },
    a.password_pending === "reset" ? "password reset sent" : "invited: no password yet");
  if (a.presence === "online") return el("span", { class: "badge on" }, a.away ? "away" : "online");
  return el("span", { class: "badge" }, "offline");
}

/** `actions`: { edit(agent), reset(agent), resetTotp(agent), toggle(agent) }; `queueTitle(name)`: a queue's title. */
export function userTable(agents, queueTitle, actions, me) {
  const rows = agents.map((a) => el("tr", { dataset: { user: a.username }, class: a.disabled ? "disabled" : "" },
    el("td", {}, a.name || a.username),
    el("td", {}, a.username),
    el("td", {}, a.roles.join(", ")),
    el("td", {}, a.queues.length ? a.queues.map(queueTitle).join(", ") : "all queues"),
    el("td", { class: "num" }, String(a.capacity ?? "")),
    el("td", {}, state(a)),
    el("td", {}, a.last_login_at ? fmtTime(a.last_login_at) : "never"),
    el("td", { class: "user-actions" },
      el("button", { type: "button", class: "link", "data-action": "edit", onclick: () => actions.edit(a) }, "Edit"),
      a.id === me ? null : el("button", { type: "button", class: "link", "data-action": "reset",
        onclick: () => actions.reset(a) }, "Reset password"),
      a.id === me || !a.totp ? null : el("button", { type: "button", class: "link", "data-action": "reset-totp",
        onclick: () => actions.resetTotp(a) }, "Reset two-factor"),
      a.id === me ? null : el("button", { type: "button", class: "link", "data-action": "toggle",
        onclick: () => actions.toggle(a) }, a.disabled ? "Enable" : "Disable"))));
  return el("table", { id: "users" },
    el("thead", {}, el("tr", {}, ...["Name", "Username", "Roles", "Queues", "Capacity", "State", "Last login", ""]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows));
}
