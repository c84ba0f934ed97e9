/* API tokens (every desk user: their own; admins: all, and service tokens).
 * An ES module on top of window.Desk. The plain token appears once, right after creation:
 * the hub keeps only its SHA-256. All values go through textContent (Desk.el), never innerHTML.
 */
const { api, el, registerView, hasRole, fmtTime } = window.Desk;

const SCOPE_HELP = {
  "tickets:read": "read queues, tickets and their files",
  "tickets:write": "reply, change status, assign, upload files",
  contacts: "read customer records",
  metrics: "read metrics and reports",
};

function status(t) {
  if (t.revoked_at) return el("span", { class: "badge" }, "revoked");
  if (!t.active) return el("span", { class: "badge" }, "expired");
  return el("span", { class: "badge on" }, "active");
}

function shownOnce(secret) {
  const code = el("code", { id: "token-secret" }, secret);
  const copied = el("span", { class: "muted" });
  return el("div", { class: "token-once", role: "status" },
    el("strong", {}, "Your new token — copy it now, it will not be shown again:"),
    el("div", { class: "token-row" }, code,
      el("button", { type: "button", class: "secondary", onclick: async () => {
        try { await navigator.clipboard.writeText(secret); copied.textContent = "copied"; }
        catch { copied.textContent = "select and copy it by hand"; }
      } }, "Copy"), copied),
    el("p", { class: "muted" }, "Send it as: Authorization: Bearer <token>"));
}

async function render(container, fresh) {
  const { tokens, scopes, my_scopes: mine } = await api("GET", "/api/tokens");
  const admin = hasRole("admin");
  const error = el("p", { class: "error", role: "alert", id: "tokens-error" });
  const form = el("form", { id: "token-form", class: "token-form" },
    el("label", {}, "Name ", el("input", { name: "name", required: true, maxlength: "100", placeholder: "e.g. CRM sync" })),
    el("fieldset", {}, el("legend", {}, "Scopes"),
      ...scopes.map((s) => el("label", { class: "check", title: mine.includes(s) ? "" : "your roles do not allow this" },
        el("input", { type: "checkbox", name: "scope", value: s, disabled: !mine.includes(s) }),
        el("b", {}, s), " — " + (SCOPE_HELP[s] || "")))),
    el("label", {}, "Expires after (days, empty = never) ",
      el("input", { name: "days", type: "number", min: "1", max: "3650", inputmode: "numeric" })),
    admin ? el("label", { class: "check" }, el("input", { type: "checkbox", name: "service" }),
      "Service token (belongs to no user; only its scopes count)") : null,
    el("button", { type: "submit" }, "Create token"), error);
  const field = (name) => form.elements.namedItem(name);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=scope]:checked")].map((i) => i.value);
    if (!chosen.length) { error.textContent = "Choose at least one scope."; return; }
    const body = { name: field("name").value, scopes: chosen };
    if (field("days").value) body.expires_in_days = Number(field("days").value);
    if (admin && field("service").checked) body.service = true;
    try {
      const created = await api("POST", "/api/tokens", body);
      render(container, created.secret);
    } catch (ex) { error.textContent = ex.message; }
  });
  const rows = tokens.map((t) => el("tr", { dataset: { token: t.id } },
    el("td", {}, t.name), el("td", {}, t.kind === "service" ? "service" : (t.owner || "")),
    el("td", {}, t.scopes.join(", ")), el("td", {}, el("code", {}, t.hint)),
    el("td", {}, fmtTime(t.created_at)), el("td", {}, t.last_used_at ? fmtTime(t.last_used_at) : "never"),
    el("td", {}, t.expires_at ? fmtTime(t.expires_at) : "never"), el("td", {}, status(t)),
    el("td", {}, t.active ? el("button", { type: "button", class: "link", onclick: async () => {
      if (!window.confirm(`Revoke the token "${t.name}"? Anything using it stops working at once.`)) return;
      try { await api("DELETE", "/api/tokens/" + t.id); render(container); }
      catch (ex) { error.textContent = ex.message; }
    } }, "Revoke") : null)));
  container.replaceChildren(el("div", { class: "tokens" },
    el("h2", {}, "API tokens"),
    el("p", { class: "muted" }, admin ? "Every token of every user, and service tokens." :
      "Your personal tokens act as you, never beyond your roles."),
    fresh ? shownOnce(fresh) : null,
    el("table", { id: "tokens" }, el("thead", {}, el("tr", {}, ...["Name", "Owner", "Scopes", "Token", "Created",
      "Last used", "Expires", "Status", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows)),
    rows.length ? null : el("p", { class: "muted" }, "No tokens yet."),
    el("h3", {}, "New token"), form));
}

registerView("tokens", "API tokens", ["agent", "trainer", "supervisor"], (container) => { render(container); });
