/* Create or edit a desk user: name, username (new users only), roles, the queues they serve, capacity.
 * A new user gets no password from the admin: the hub answers with a one-time setup link.
 */
const { api, el } = window.Desk;

const ROLES = [["agent", "answers tickets"], ["supervisor", "watches queues, assigns work"],
               ["trainer", "trains the bot"], ["admin", "everything, users included"]];

/** `agent`: the user to edit (null: a new one); `queues`: [{name, title}]; `done(answer)` after saving. */
export function userForm(agent, queues, done, cancel) {
  const error = el("p", { class: "error", role: "alert", id: "user-error" });
  const form = el("form", { id: "user-form", class: "card user-form", novalidate: true },
    el("h3", {}, agent ? "Edit " + (agent.name || agent.username) : "New user"),
    el("label", {}, "Name", el("input", { name: "name", maxlength: "200", required: true, value: agent ? agent.name : "" })),
    agent ? null : el("label", {}, "Username (for logging in)",
      el("input", { name: "username", maxlength: "64", required: true, autocomplete: "off" })),
    el("fieldset", {}, el("legend", {}, "Roles"),
      ...ROLES.map(([role, help]) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "role", value: role,
                      checked: agent ? agent.roles.includes(role) : role === "agent" }),
        el("b", {}, role), " — " + help))),
    el("fieldset", {}, el("legend", {}, "Queues served (none ticked: all)"),
      ...queues.map((q) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "queue", value: q.name, checked: !!agent && agent.queues.includes(q.name) }),
        q.title || q.name))),
    el("label", {}, "Capacity (tickets at once)",
      el("input", { name: "capacity", type: "number", min: "0", max: "1000", required: true,
                    value: String(agent ? agent.capacity : 5) })),
    el("div", { class: "form-actions" },
      el("button", { type: "submit" }, agent ? "Save" : "Create user"),
      el("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel")),
    error);
  const field = (name) => form.elements.namedItem(name);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const roles = [...form.querySelectorAll("input[name=role]:checked")].map((i) => i.value);
    const chosen = [...form.querySelectorAll("input[name=queue]:checked")].map((i) => i.value);
    const name = field("name").value.trim();
    const capacity = Number(field("capacity").value);
    if (!name) { error.textContent = "A name is required."; return; }
    if (!agent && !field("username").value.trim()) { error.textContent = "A username is required."; return; }
    if (!roles.length) { error.textContent = "Choose at least one role."; return; }
    if (!Number.isInteger(capacity) || capacity < 0) { error.textContent = "Capacity must be a whole number."; return; }
    const body = { name, roles, queues: chosen, capacity };
    try {
      const answer = agent ? await api("PATCH", "/api/agents/" + agent.id, body)
        : await api("POST", "/api/agents", { ...body, username: field("username").value.trim() });
      done(answer);
    } catch (ex) { error.textContent = ex.message; }
  });
  return form;
}
