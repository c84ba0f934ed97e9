/* "Widget sites" (admins): the sites that embed the chat widget. A list, and for the chosen site its editor,
 * a live preview, the embed snippet and the identity secret. Talks to /api/admin/widget-sites. */
import { siteForm } from "./siteform.js";
import { previewFrame } from "./sitepreview.js";
import { secretBox } from "./sitesecret.js";
import { snippetBox } from "./sitesnippet.js";

const { api, el, registerView } = window.Desk;

function siteList(sites, current, pick) {
  const rows = sites.map((s) => el("tr", { class: s.name === current ? "current" : "", dataset: { site: s.name } },
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => pick(s.name) }, s.name)),
    el("td", {}, s.title),
    el("td", {}, (s.allowed_origins || []).join(", ") || "this hub only"),
    el("td", { class: "secret-cell" }, s.identity_secret_set ? "set" : "—")));
  return el("table", { class: "sites" },
    el("thead", {}, el("tr", {}, el("th", {}, "Site"), el("th", {}, "Title"), el("th", {}, "Allowed origins"),
                     el("th", {}, "Identity secret"))),
    el("tbody", {}, ...rows));
}

registerView("widget-sites", "Widget sites", ["admin"], (container) => {
  const box = el("div", { class: "widget-sites", id: "widget-sites" });
  container.replaceChildren(box);
  let current = null;

  function editor(site, reload) {
    const preview = previewFrame(site ? site.name : "");
    const form = siteForm(site, {
      onLook: (look, name) => preview.show(look, name),
      onSaved: (saved) => { current = saved.name; reload(); },
    });
    const remove = site ? el("button", { type: "button", class: "danger", onclick: async () => {
      if (!confirm("Delete the widget site " + site.name + "? Its snippet stops working.")) return;
      await api("DELETE", "/api/admin/widget-sites/" + encodeURIComponent(site.name));
      current = null;
      reload();
    } }, "Delete site") : null;
    const side = site ? [snippetBox(site.snippet), secretBox(site, (saved) => {
      // not a reload: the new secret stays on screen this once
      const cell = box.querySelector(`tr[data-site="${CSS.escape(saved.name)}"] .secret-cell`);
      if (cell) cell.textContent = "set";
    }), remove] : [];
    return el("div", { class: "site-editor" }, el("div", { class: "site-left" }, form, ...side), preview.node);
  }

  async function reload() {
    try {
      const data = await api("GET", "/api/admin/widget-sites");
      const site = data.sites.find((s) => s.name === current) || null;
      box.replaceChildren(el("h2", {}, "Widget sites"),
        el("p", { class: "muted" }, "Each website that embeds the chat widget: where it may run, how it looks, "
          + "and the key its backend signs signed-in users with."),
        siteList(data.sites, current, (name) => { current = name; reload(); }),
        el("p", {}, el("button", { type: "button", class: "new-site", onclick: () => { current = null; reload(); } },
                       "New site")),
        editor(site, reload));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    }
  }
  reload();
});
