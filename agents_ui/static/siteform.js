/* The editor of one widget site: name, title, allowed origins, colour, greeting, pre-chat form and text
 * overrides. `onLook(look)` gets the unsaved look on every edit (the live preview); `onSaved(site)` after a save. */
const { api, el } = window.Desk;

const MODES = ["required", "optional", "off"];
const SLUG = /^[a-z0-9][a-z0-9_-]{0,39}$/;

/* One override a line: "key = text" for every language, "de: key = text" for one language; a plural
 * text's forms as JSON ("key = {"one": "…", "other": "…"}"). */
const LANG = /^[a-z]{2,3}(-[A-Za-z0-9]+)?$/;

function line(prefix, key, value) {
  return prefix + key + " = " + (typeof value === "string" ? value : JSON.stringify(value));
}

function textLines(texts) {
  const lines = [];
  for (const [k, v] of Object.entries(texts || {})) {
    if (LANG.test(k) && v && typeof v === "object") {
      for (const [key, value] of Object.entries(v)) lines.push(line(k + ": ", key, value));
    } else lines.push(line("", k, v));
  }
  return lines.join("\n");
}

function parseTexts(value) {
  const texts = {};
  for (const raw of value.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = raw.indexOf("=");
    if (at < 1) throw new Error("text overrides: write one “key = text” a line (" + raw + ")");
    let key = raw.slice(0, at).trim();
    let text = raw.slice(at + 1).trim();
    if (text.startsWith("{")) {
      try { text = JSON.parse(text); } catch (e) { throw new Error("text overrides: plural forms as JSON (" + raw + ")"); }
    }
    const colon = key.indexOf(":");
    if (colon > 0 && LANG.test(key.slice(0, colon).trim())) {
      const lang = key.slice(0, colon).trim();
      key = key.slice(colon + 1).trim();
      texts[lang] = Object.assign(texts[lang] || {}, { [key]: text });
    } else texts[key] = text;
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
      el("label", {}, "Text overrides (key = text, or de: key = text for one language; one a line)", texts),
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
