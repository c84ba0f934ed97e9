/* A channel's secrets on the Channels page: write-only. Shows "set" / "not set" and where from (stored
 * here, or the configuration file) and when it was last changed here; never a value. An ES module used by
 * channelcard.js; talks to POST /api/admin/channels/{name}/secrets. Text only via textContent.
 */
const { api, el, fmtTime } = window.Desk;

function state(s) {
  if (s.source === "stored") {
    return "set here " + fmtTime(s.changed_at) + (s.pending_restart ? " — takes effect at the next start" : "");
  }
  return s.source === "config" ? "set in the configuration file" : "not set";
}

export function secretsSection(card, page, reload) {
  if (!card.secrets.length) return null;
  const message = el("p", { class: "channel-result", role: "status" });
  const rows = card.secrets.map((s) => {
    const input = el("input", { type: "password", autocomplete: "new-password", name: s.field,
                                "aria-label": s.label, placeholder: "new value", disabled: !page.secrets_editable });
    const save = el("button", { type: "button", disabled: !page.secrets_editable }, "Replace");
    const forget = el("button", { type: "button", class: "link",
                                  hidden: s.source !== "stored" || !page.secrets_editable }, "Use the file's");
    async function put(value) {
      try {
        await api("POST", "/api/admin/channels/" + encodeURIComponent(card.name) + "/secrets",
                  { field: s.field, value });
        input.value = "";
        reload("Saved. It takes effect at the next start of the hub.");
      } catch (ex) {
        message.textContent = ex.message;
      }
    }
    save.addEventListener("click", () => { if (input.value) put(input.value); });
    forget.addEventListener("click", () => put(null));
    return el("tr", { dataset: { field: s.field } },
      el("th", { scope: "row" }, s.label),
      el("td", { class: s.set ? "secret-set" : "secret-unset" }, state(s)),
      el("td", {}, input, save, forget));
  });
  const note = page.secrets_editable
    ? "Values are never shown again. Stored encrypted; a stored value replaces the file's at the next start."
    : page.secrets_note;
  return el("section", { class: "channel-secrets" }, el("h4", {}, "Secrets"),
    el("p", { class: "muted" }, note), el("table", {}, el("tbody", {}, ...rows)), message);
}
