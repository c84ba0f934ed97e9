/* A widget site's identity secret: generate or rotate it. The new secret is shown once, here, and never
 * again (the hub stores it write-only); rotating keeps the previous one valid for the chosen grace. */
const { api, el } = window.Desk;

const GRACE = [["86400", "1 day"], ["3600", "1 hour"], ["604800", "7 days"], ["0", "none (revoke now)"]];

function describe(site) {
  if (!site.identity_secret_set) return "Not set: only anonymous visitors (no signed-in users).";
  return "Set" + (site.identity_secret_set_at ? " on " + new Date(site.identity_secret_set_at).toLocaleString() : "")
    + (site.previous_secret_valid_until
      ? "; the previous one stays valid until " + new Date(site.previous_secret_valid_until).toLocaleString() : "")
    + ".";
}

/** `onChange(site)`: the site after a rotation (the secret itself stays in this box, shown once). */
export function secretBox(site, onChange) {
  const message = el("p", { class: "error", role: "alert" });
  const shown = el("div", { class: "secret-once", hidden: true });
  const grace = el("select", { "aria-label": "Keep the previous secret valid for" },
    ...GRACE.map(([v, label]) => el("option", { value: v }, label)));
  const state = el("span", { class: "secret-state" }, describe(site));
  const button = el("button", { type: "button", class: "rotate-secret", onclick: async () => {
    if (site.identity_secret_set && !confirm("Rotate the identity secret of " + site.name + "?")) return;
    try {
      const data = await api("POST", "/api/admin/widget-sites/" + encodeURIComponent(site.name) + "/secret",
                             { grace_seconds: Number(grace.value) });
      const value = el("input", { class: "secret-value", readonly: true, "aria-label": "New identity secret",
                                  size: "48", value: data.identity_secret });
      shown.replaceChildren(el("strong", {}, "Copy it now: it is shown only once."), value);
      shown.hidden = false;
      message.textContent = "";
      state.textContent = describe(data.site);
      button.textContent = "Rotate secret";
      graceLabel.hidden = false;
      onChange(data.site);
    } catch (ex) { message.textContent = ex.message; }
  } }, site.identity_secret_set ? "Rotate secret" : "Generate secret");
  const graceLabel = el("label", { class: "inline", hidden: !site.identity_secret_set },
                        " keep the previous one valid for ", grace);
  return el("div", { class: "secret" },
    el("strong", {}, "Identity secret"),
    el("p", { class: "muted" }, "Your backend signs user JWTs (HS256) or user_hash values with it. ", state),
    el("div", {}, button, graceLabel),
    shown, message);
}
