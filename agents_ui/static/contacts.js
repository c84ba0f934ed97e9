/* The Contacts view: `#/contacts` searches contacts, `#/contacts/<id>` shows one contact's page.
 * An ES module on window.Desk; each part is its own module (search, card, timeline, merge dialog).
 * Customer text only ever via textContent (Desk.el), never innerHTML.
 */
import { mountSearch } from "./contactsearch.js";
import { mountCard } from "./contactcard.js";
import { mountTimeline } from "./contacttimeline.js";
import { exportLink, importOpener } from "./contactimport.js";

const { api, el, hasRole, registerView } = window.Desk;

async function showContact(container, id) {
  container.replaceChildren(el("p", { class: "muted contact-loading" }, "Loading…"));
  let data;
  try {
    data = await api("GET", "/api/contacts/" + encodeURIComponent(id));
  } catch (ex) {
    container.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    return;
  }
  if (data.contact.id !== id) {  // a merged-away id: show the survivor under its own address
    history.replaceState(null, "", "#/contacts/" + data.contact.id);
  }
  const card = el("section", { class: "contact-card card", id: "contact-card" });
  const timeline = el("section", { class: "contact-timeline card", id: "contact-timeline" });
  const back = el("a", { href: "#/contacts", class: "back" }, "← All contacts");
  const redirected = data.redirected_from
    ? el("p", { class: "notice", id: "contact-redirected" },
      data.redirected_from.name + " was merged into this contact.")
    : null;
  container.replaceChildren(el("div", { class: "contact-page" }, back, redirected,
    el("div", { class: "contact-grid" }, card, timeline)));
  const reload = () => showContact(container, data.contact.id);
  mountCard(card, data, reload);
  mountTimeline(timeline, data.contact);
}

registerView("contacts", "Contacts", ["agent", "supervisor"], (container) => {
  const m = location.hash.match(/^#\/contacts\/([0-9a-f]{24})/);
  if (m) {
    showContact(container, m[1]);
    return;
  }
  mountSearch(container);
  if (hasRole("supervisor", "admin")) {  // an import is a supervisor's (hub/contactimport.py)
    const title = container.querySelector(".contacts-index h2");
    const head = el("div", { class: "contacts-head" });
    title.replaceWith(head);
    head.append(title, el("div", { class: "contacts-tools" }, exportLink(), importOpener()));
  }
});
