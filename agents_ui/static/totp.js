/* Two-factor sign-in (hub.totp): the login's code step, enrolment (QR code, the secret as text, a code
 * to confirm, recovery codes shown once), turning it off, and for admins the roles that must use it.
 * An ES module on top of window.Desk; every text goes through textContent (Desk.el), the QR code is an
 * <img> of the SVG data URI the hub made.
 */
const { api, el, hasRole, hooks, enter } = window.Desk;

const CODE_HINT = "6-digit code from your authenticator app, or a recovery code";

function codeInput(id) {
  return el("input", { id, name: "code", required: true, autocomplete: "one-time-code", inputmode: "numeric",
                       maxlength: "40", placeholder: "123456", "aria-label": CODE_HINT });
}

// ---- the login's second step ------------------------------------------------------------------
hooks.secondFactor = (first) => {
  const passwordForm = document.getElementById("login-form");
  const error = el("p", { class: "error", role: "alert", id: "login-code-error" });
  const input = codeInput("login-code");
  const back = () => { form.remove(); passwordForm.hidden = false; };
  const form = el("form", { id: "login-code-form", class: "card totp-step" },
    el("h1", {}, "One-time code"),
    el("label", {}, "Enter the " + CODE_HINT, input),
    el("button", { type: "submit" }, "Verify"),
    el("button", { type: "button", class: "secondary", onclick: back }, "Back"),
    error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const me = await api("POST", "/api/auth/login/code", { pending: first.pending, code: input.value });
      back();
      await enter(me);
    } catch (ex) {
      input.value = "";
      error.textContent = ex.message === "wrong code" ? "That code is not right. Try the current one." : ex.message;
      if (/expired/.test(ex.message)) setTimeout(back, 1500);
    }
  });
  passwordForm.hidden = true;
  passwordForm.after(form);
  input.focus();
};

// ---- enrolment ---------------------------------------------------------------------------------
function groups(secret) {
  return secret.match(/.{1,4}/g).join(" ");
}

function recoveryList(codes, done) {
  return el("div", { class: "totp-once", role: "status", id: "totp-recovery" },
    el("strong", {}, "Recovery codes — save them now, they will not be shown again."),
    el("p", { class: "muted" }, "Each one signs you in once if you lose your phone."),
    el("ol", { class: "totp-codes" }, ...codes.map((c) => el("li", {}, el("code", {}, c)))),
    done ? el("button", { type: "button", id: "totp-continue", onclick: done }, "I saved them — continue") : null);
}

/** The enrolment steps in `box`; `done` runs after the recovery codes were acknowledged (or is null). */
async function enrolIn(box, done) {
  const error = el("p", { class: "error", role: "alert" });
  let setup;
  try { setup = await api("POST", "/api/me/totp/setup", {}); } catch (ex) { box.replaceChildren(error); error.textContent = ex.message; return; }
  const input = codeInput("totp-code");
  const form = el("form", { class: "totp-confirm" },
    el("label", {}, "Then enter the 6-digit code it shows", input),
    el("button", { type: "submit" }, "Turn on"), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const result = await api("POST", "/api/me/totp/confirm", { code: input.value });
      box.replaceChildren(el("p", { class: "totp-on" }, "Two-factor sign-in is on."),
        recoveryList(result.recovery_codes, done));
    } catch (ex) { error.textContent = ex.message; }
  });
  box.replaceChildren(el("div", { class: "totp-enrol", id: "totp-enrol" },
    el("p", {}, "Scan this code with an authenticator app (Google Authenticator, Aegis, 1Password…):"),
    el("img", { src: setup.qr, alt: "QR code for your authenticator app", class: "totp-qr", width: "200", height: "200" }),
    el("p", { class: "muted" }, "Or type this key into the app (time-based):"),
    el("code", { id: "totp-secret", class: "totp-secret", dataset: { secret: setup.secret } }, groups(setup.secret)),
    form));
  input.focus();
}

hooks.enrol = (me) => {
  document.getElementById("nav").replaceChildren();
  document.getElementById("view-tickets").hidden = true;
  const extra = document.getElementById("view-extra");
  extra.hidden = false;
  const box = el("div");
  extra.replaceChildren(el("section", { class: "card totp-panel", id: "totp-required" },
    el("h2", {}, "Set up two-factor sign-in"),
    el("p", {}, "Your role requires a one-time code at every sign-in. Set it up to continue, " + me.agent.name + "."),
    box));
  enrolIn(box, async () => { extra.replaceChildren(); await enter(await api("GET", "/api/me")); });
};

// ---- the Account view's panels ---------------------------------------------------------------
function ownPanel() {
  const card = el("section", { class: "card totp-panel", id: "totp-panel" }, el("h2", {}, "Two-factor sign-in"));
  const body = el("div");
  card.appendChild(body);
  const draw = async () => {
    const s = await api("GET", "/api/me/totp");
    const error = el("p", { class: "error", role: "alert" });
    if (!s.enabled) {
      const start = el("button", { type: "button", id: "totp-start", onclick: () => enrolIn(body, draw) }, "Set up");
      body.replaceChildren(el("p", {}, "Off. With it on, signing in needs your password and a code from your phone."),
        ...(s.required ? [el("p", { class: "error" }, "Your role requires it.")] : []), start);
      return;
    }
    const input = codeInput("totp-manage-code");
    input.required = false;
    const password = el("input", { type: "password", name: "password", autocomplete: "current-password",
                                   "aria-label": "Your password" });
    const renew = el("button", { type: "button", class: "secondary", onclick: async () => {
      try { body.replaceChildren(recoveryList((await api("POST", "/api/me/totp/recovery-codes", { code: input.value })).recovery_codes, draw)); }
      catch (ex) { error.textContent = ex.message; }
    } }, "New recovery codes");
    const off = el("button", { type: "button", class: "secondary", onclick: async () => {
      try { await api("POST", "/api/me/totp/disable", input.value ? { code: input.value } : { password: password.value }); draw(); }
      catch (ex) { error.textContent = ex.message; }
    } }, "Turn off");
    body.replaceChildren(
      el("p", { class: "totp-on" }, "On · " + s.recovery_codes_left + " recovery codes left"),
      el("label", {}, "Current code", input),
      s.required ? el("p", { class: "muted" }, "Your role requires it, so it cannot be turned off here; an admin can reset it.")
        : el("label", {}, "…or your password (to turn it off)", password),
      el("div", { class: "totp-actions" }, renew, s.required ? null : off), error);
  };
  draw().catch((ex) => body.replaceChildren(el("p", { class: "error" }, ex.message)));
  return card;
}

function policyPanel() {
  const card = el("section", { class: "card totp-panel", id: "totp-policy" },
    el("h2", {}, "Require two-factor sign-in (admins)"));
  const body = el("form");
  card.appendChild(body);
  api("GET", "/api/admin/totp-policy").then((p) => {
    const msg = el("p", { class: "muted", role: "status" });
    body.replaceChildren(
      el("p", { class: "muted" }, "Users with a checked role must enrol before they can use the desk."),
      ...p.all_roles.map((r) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "role", value: r, checked: p.roles.includes(r) }), r)),
      el("button", { type: "submit" }, "Save"), msg);
    body.onsubmit = async (e) => {
      e.preventDefault();
      const roles = [...body.querySelectorAll("input[name=role]:checked")].map((i) => i.value);
      try { await api("PUT", "/api/admin/totp-policy", { roles }); msg.textContent = "Saved."; }
      catch (ex) { msg.textContent = ex.message; }
      const me = await api("GET", "/api/me");
      if (me.enrolment_required) enter(me);
    };
  }).catch((ex) => body.replaceChildren(el("p", { class: "error" }, ex.message)));
  return card;
}

hooks.account.push(ownPanel);
hooks.account.push(() => (hasRole("admin") ? policyPanel() : el("span")));
