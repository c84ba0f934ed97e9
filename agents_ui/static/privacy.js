/* Data protection (admins): find a contact, download everything held about them, or erase them.
 * An ES module registering its view with the desk (window.Desk). Erasure asks for confirmation.
 */
import { channelLabel } from "./names.js";

const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

const { api, el, registerView } = window.Desk;

async function render(container) {
  const error = el("p", { class: "error", role: "alert", id: "privacy-error" });
  const done = el("p", { class: "muted", role: "status", id: "privacy-done" });
  const results = el("tbody");
  const form = el("form", { id: "privacy-search", class: "filters" },
    el("label", {}, "Contact ", el("input", { name: "q", required: true, minlength: "2", size: "30",
                                                placeholder: "name, email or +phone" })),
    el("button", { type: "submit" }, "Find"));

  async function search(fresh) {
    error.textContent = "";
    try {
      const q = form.elements.namedItem("q").value.trim();
      const { contacts } = await api("GET", "/api/admin/contacts?q=" + encodeURIComponent(q));
      results.replaceChildren(...contacts.map((c) => el("tr", { dataset: { name: c.name } },
        el("td", {}, c.name), el("td", {}, [...c.emails, ...c.phones].join(", ")), el("td", {}, c.channels.map(channelLabel).join(", ")),
        el("td", {}, c.erased ? el("span", { class: "muted" }, "erased") : [
          el("a", { href: "/api/admin/contacts/" + c.id + "/export", download: "contact.zip", class: "export" },
            "Export"), " ",
          el("button", { type: "button", class: "erase", onclick: async () => {
            if (!window.confirm(`Erase ${c.name}? Their messages, files and details are removed for good.`)) return;
            try {
              const r = await api("POST", "/api/admin/contacts/" + c.id + "/erase", { confirm: true });
              done.textContent = `Erased: ${count(r.removed.messages, "message")} redacted, ` +
                `${count(r.removed.files, "file")} deleted.`;
              search();
            } catch (ex) { error.textContent = ex.message; }
          } }, "Erase")]))));
      if (fresh && !contacts.length) done.textContent = "No contact matches.";
    } catch (ex) { error.textContent = ex.message; }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); done.textContent = ""; search(true); });
  container.replaceChildren(el("div", { class: "privacy", style: "padding:16px" },
    el("h2", {}, "Privacy"),
    el("p", { class: "muted" }, "Export or erase everything held about a customer. Both are recorded in the audit trail."),
    form, error, done,
    el("table", { id: "privacy-contacts" }, el("thead", {}, el("tr", {}, ...["Name", "Addresses", "Channels", ""]
      .map((h) => el("th", {}, h)))), results)));
}

registerView("privacy", "Privacy", ["admin"], (container) => { render(container); });
