/* The editor of one widget site: name, title, allowed origins, colour, greeting, pre-chat form and text
 * overrides. `onLook(look)` gets the unsaved look on every edit (the live preview); `onSaved(site)` after a save. */
const { api, el } = window.Desk;

const MODES = ["required", "optional", "off"];
const SLUG = /^[a-z0-9][a-z0-9_-]{0,39}$/;

function textLines(texts) {
  return Object.entries(texts || {}).map(([k, v]) => k + " = " + v).join("\n");
}

function parseTexts(value) {
  const texts = {};
  for (const line of value.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    if (at < 1) throw new Error("text overrides: write one “key = text” a line (" + line + ")");
    texts[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return texts;
}

function modeSelect(label, value) {
  return el("select", { "aria-label": label }, ...MODES.map((m) => el("option", { value: m, selected: m === value }, m)));
}

export function siteForm(site, { onLook, onSaved }) {
  const fresh = !site;
  site = site || { name: "", title: "Chat with us", allowed_origins: [], colors: { primary: "#2457d6" },
                   greeting: "", prechat: { enabled: false, name: "required", email: "optional" }, texts: {} };
  const name = el("input", { name: "name", value: site.name, placeholder: "shop", required: true, pattern: SLUG.source,
                             "aria-label": "Site name", readonly: fresh ? null : true });
  const title = el("input", { name: "title", value: site.title, "aria-label": "Title", maxlength: "80" });
  const origins = el("textarea", { name: "origins", rows: "3", "aria-label": "Allowed origins",
                                   placeholder: "https://shop.example.com" });
  origins.value = (site.allowed_origins || []).join("\n");
  const primary = el("input", { name: "primary", type: "color", value: (site.colors || {}).primary || "#2457d6",
                                "aria-label": "Primary colour" });
  const greeting = el("textarea", { name: "greeting", rows: "2", "aria-label": "Greeting", maxlength: "1000" });
  greeting.value = site.greeting || "";
  const prechat = site.prechat || {};
  const askFirst = el("input", { type: "checkbox", name: "prechat", checked: !!prechat.enabled });
  const askName = modeSelect("Pre-chat name", prechat.name || "required");
  const askEmail = modeSelect("Pre-chat email", prechat.email || "optional");
  const texts = el("textarea", { name: "texts", rows: "3", "aria-label": "Text overrides",
                                 placeholder: "send = Send it" });
  texts.value = textLines(site.texts);
  const message = el("p", { class: "error", role: "alert" });

  function look() {
    return { title: title.value.trim() || "Chat with us", colors: { primary: primary.value },
             greeting: greeting.value.trim(), texts: parseTexts(texts.value),
             prechat: { enabled: askFirst.checked, name: askName.value, email: askEmail.value } };
  }
  function changed() {
    try { onLook(look(), SLUG.test(name.value) ? name.value : ""); message.textContent = ""; }
    catch (ex) { message.textContent = ex.message; }
  }
  const form = el("form", { class: "site-form", dataset: { site: site.name || "new" } },
    el("fieldset", {}, el("legend", {}, fresh ? "New widget site" : site.name),
      el("label", {}, "Name (used in the snippet)", name),
      el("label", {}, "Title", title),
      el("label", {}, "Allowed origins (one a line; * = any)", origins),
      el("label", { class: "inline" }, "Primary colour ", primary),
      el("label", {}, "Greeting", greeting),
      el("div", { class: "prechat" }, el("label", { class: "inline" }, askFirst, " Ask anonymous visitors first:"),
        el("label", { class: "inline" }, " name ", askName), el("label", { class: "inline" }, " email ", askEmail)),
      el("label", {}, "Text overrides (key = text, one a line)", texts),
      el("button", { type: "submit" }, fresh ? "Create site" : "Save"), message));
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const body = { ...look(), allowed_origins: origins.value.split("\n").map((o) => o.trim()).filter(Boolean) };
      const data = await api("PUT", "/api/admin/widget-sites/" + encodeURIComponent(name.value.trim()), body);
      message.textContent = "";
      onSaved(data.site);
    } catch (ex) { message.textContent = ex.message; }
  });
  queueMicrotask(changed);
  return form;
}
