/* The contact page's card: name, identities on every channel (by handle, never an internal id), addresses,
 * attributes, tags, private notes and tickets; an Edit form (PATCH /api/contacts/{id}), Block / Unblock
 * (contactblock.js) and, for supervisors, the merge dialog (contactmerge.js). Text via textContent only.
 */
import { blockParts } from "./contactblock.js";
import { openMerge } from "./contactmerge.js";

const { api, el, fmtTime } = window.Desk;

function section(title, ...children) {
  return el("div", { class: "contact-section" }, el("h3", {}, title), ...children);
}

function identities(c) {
  if (!c.identities.length) return el("p", { class: "muted" }, "—");
  return el("ul", { class: "identities", id: "contact-identities" }, ...c.identities.map((i) =>
    el("li", { dataset: { channel: i.channel } }, el("span", { class: "channel " + i.channel }, i.channel_label),
       " ", el("span", { class: "handle" }, i.handle),
       i.verified ? el("span", { class: "verified", title: "verified by the channel or the site" }, " ✓ verified") : null)));
}

function details(c) {
  const rows = [["Email", [...c.emails, ...(c.claimed_email ? [c.claimed_email + " (typed, unverified)"] : [])].join(", ")],
                ["Phone", c.phones.join(", ")]];
  for (const [k, v] of Object.entries(c.attributes)) rows.push([k.replaceAll("_", " "), v]);
  return el("dl", { class: "contact-details" }, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v || "—")]));
}

function editForm(c, done, cancel) {
  const attrs = Object.entries(c.attributes).map(([k, v]) => k + " = " + v).join("\n");
  const form = el("form", { class: "contact-edit", id: "contact-edit" },
    el("label", {}, "Name", el("input", { name: "name", value: c.name || "", maxlength: "200" })),
    el("label", {}, "Email", el("input", { name: "email", type: "email", value: c.emails[0] || "" })),
    el("label", {}, "Phone (international: +4930…)", el("input", { name: "phone", value: c.phones[0] || "" })),
    el("label", {}, "Tags (comma separated)", el("input", { name: "tags", value: c.tags.join(", ") })),
    el("label", {}, "Attributes (one “key = value” a line)", el("textarea", { name: "attributes", rows: "3" }, attrs)),
    el("div", { class: "row" }, el("button", { type: "submit" }, "Save"),
       el("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel")),
    el("p", { class: "error", role: "alert" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const attributes = {};
    for (const key of Object.keys(c.attributes)) attributes[key] = null;  // a removed line removes it
    for (const line of form.attributes.value.split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) attributes[line.slice(0, at).trim().toLowerCase().replaceAll(" ", "_")] = line.slice(at + 1).trim();
    }
    const body = { name: form.name.value, email: form.email.value, phone: form.phone.value, attributes,
                   tags: form.tags.value.split(",").map((t) => t.trim()).filter(Boolean) };
    try {
      await api("PATCH", "/api/contacts/" + c.id, body);
      done();
    } catch (ex) { form.querySelector(".error").textContent = ex.message; }
  });
  return form;
}

function notes(c, reload) {
  const text = el("textarea", { name: "note", id: "contact-note", rows: "2", maxlength: "5000", "aria-label": "Note",
                                placeholder: "Private note for colleagues (the customer never sees it)" });
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "contact-note-form" }, text, el("button", { type: "submit" }, "Add note"), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    try {
      await api("POST", "/api/contacts/" + c.id + "/notes", { text: text.value });
      reload();
    } catch (ex) { error.textContent = ex.message; }
  });
  const list = el("ul", { class: "contact-notes", id: "contact-notes" }, ...c.notes.map((n) =>
    el("li", {}, el("span", { class: "text" }, n.text),
       el("small", { class: "muted" }, (n.author_name || "someone") + " · " + fmtTime(n.at) +
          (n.from_contact ? " · from " + n.from_contact : "")))));
  return [form, list];
}

function tickets(data) {
  if (!data.tickets.length) return el("p", { class: "muted" }, "No tickets.");
  return el("ul", { class: "contact-tickets" }, ...data.tickets.map((t) =>
    el("li", {}, el("a", { href: "#/tickets/" + t.id, onclick: () => setTimeout(() => window.Desk.openTicket(t.id)) },
                    "#" + t.number), " " + (t.subject || "(no subject)") + " ",
       el("span", { class: "badge " + t.status }, t.status))));
}

export function mountCard(root, data, reload) {
  const c = data.contact;
  const edit = el("button", { type: "button", class: "secondary", id: "contact-edit-open" }, "Edit");
  const blocking = blockParts(c, data.tickets, reload);
  const merge = data.may_merge ? el("button", { type: "button", class: "secondary", id: "contact-merge-open" },
                                    "Merge…") : null;
  const head = el("div", { class: "contact-head" },
    el("div", {}, el("h2", { id: "contact-name" }, c.display_name),
       el("div", { class: "tags" }, ...c.tags.map((t) => el("span", { class: "badge tag" }, "#" + t)))),
    el("div", { class: "row" }, edit, merge, blocking.button));
  const body = el("div", { class: "contact-body" });
  const show = () => body.replaceChildren(...[
    section("Channels", identities(c)),
    section("Details", details(c)),
    section("Notes", ...notes(c, reload)),
    section("Tickets", tickets(data)),
    c.merges.length ? section("Merged in", el("ul", { id: "contact-merges" }, ...c.merges.map((m) =>
      el("li", { class: "muted" }, m.name + " — by " + m.by + ", " + fmtTime(m.at))))) : null].filter(Boolean));
  edit.addEventListener("click", () => body.replaceChildren(editForm(c, reload, show)));
  if (merge) merge.addEventListener("click", () => openMerge(c, reload));
  root.replaceChildren(head, blocking.banner, body);
  show();
}
