/* The Users page (admins): who may use the desk, in which roles and queues; invite, edit, disable.
 * A new user or a password reset yields a one-time link, shown here once (the hub keeps only its hash).
 */
import { userTable } from "/desk/static/userlist.js";
import { userForm } from "/desk/static/useredit.js";

const { api, el, registerView, fmtTime, state } = window.Desk;

function shownOnce(agent, link) {
  const copied = el("span", { class: "muted" });
  const what = link.purpose === "reset" ? "a new password" : "their password";
  return el("div", { class: "token-once", role: "status", id: "user-link" },
    el("strong", {}, `One-time link for ${agent.name || agent.username} to choose ${what} — copy it now, ` +
      "it will not be shown again:"),
    el("div", { class: "token-row" }, el("code", { id: "user-link-url" }, link.url),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        try { await navigator.clipboard.writeText(link.url); copied.textContent = "copied"; }
        catch { copied.textContent = "select and copy it by hand"; }
      } }, "Copy"), copied),
    el("p", { class: "muted" }, "It works once, until " + fmtTime(link.expires_at) + ". Send it to them privately."));
}

async function render(container, notice) {
  const [{ agents }, { queues }] = await Promise.all([api("GET", "/api/agents"), api("GET", "/api/queues")]);
  const titles = Object.fromEntries(queues.map((q) => [q.name, q.title || q.name]));
  const error = el("p", { class: "error", role: "alert", id: "users-error" });
  const slot = el("div", { id: "user-form-slot" });
  const again = (answer) => render(container, answer && answer.link ? shownOnce(answer.agent, answer.link) : null);
  const open = (agent) => { slot.replaceChildren(userForm(agent, queues, again, () => slot.replaceChildren())); };
  const actions = {
    edit: open,
    reset: async (a) => {
      if (!window.confirm(`Reset the password of ${a.name}? Their password stops working and they are logged out.`)) return;
      try { again(await api("POST", `/api/agents/${a.id}/password-link`, {})); }
      catch (ex) { error.textContent = ex.message; }
    },
    resetTotp: async (a) => {
      if (!window.confirm(`Turn off two-factor sign-in for ${a.name}? They sign in with their password alone ` +
        "until they set it up again (at once, if a role of theirs requires it).")) return;
      try { await api("POST", `/api/admin/users/${a.id}/totp/reset`, {}); again(); }
      catch (ex) { error.textContent = ex.message; }
    },
    toggle: async (a) => {
      if (!a.disabled && !window.confirm(`Disable ${a.name}? They are logged out at once and their open tickets ` +
        "go back to their queues.")) return;
      try { await api("PATCH", "/api/agents/" + a.id, { disabled: !a.disabled }); again(); }
      catch (ex) { error.textContent = ex.message; }
    },
  };
  container.replaceChildren(el("div", { class: "users" },
    el("div", { class: "users-head" }, el("h2", {}, "Users"),
      el("button", { type: "button", id: "user-new", onclick: () => open(null) }, "New user")),
    el("p", { class: "muted" }, "Desk users, their roles and the queues routing gives them tickets of. " +
      "Disabling someone logs them out at once and returns their open tickets to the queue."),
    notice, error, slot,
    userTable(agents, (name) => titles[name] || name, actions, state.me && state.me.id)));
}

registerView("users", "Users", ["admin"], (container) => { render(container); });
