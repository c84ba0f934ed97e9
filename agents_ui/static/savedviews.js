/* Saved views of the ticket list (hub.savedviews, GET/PUT /api/me/views): a row above the filters to pick one of my
 * views by name ("Urgent email"), which sets the filters and the sidebar's queue as saved, to keep the filters as
 * they are now under a name, and to delete the view picked. Changing a filter by hand leaves the view (the picker
 * says "Views…" again). Each view of active tickets shows how many it holds now ("Urgent email (3)"), counted with
 * the list's other counts (GET /api/tickets/counts?view=…, hub.desktally); a view of solved tickets, of words or of
 * an SLA state has no count. An ES module that ticketlist.js mounts; text via textContent.
 */
const { api, el, state } = window.Desk;

const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** `fields`: the list's filter controls by query name; `current`: the list's filters as they are now (as it asks the
 * hub for them); `reload`: read the list again; `recount`: read the counts again (the views' among them). */
export function mountViews(form, fields, current, reload, recount) {
  const pick = el("select", { id: "ticket-views", "aria-label": "Saved views" });
  const save = el("button", { type: "button", id: "view-save", class: "secondary",
                              title: "Keep the filters as they are now under a name" }, "Save view");
  const remove = el("button", { type: "button", id: "view-delete", class: "secondary", hidden: true,
                                title: "Delete the view picked", "aria-label": "Delete view" }, "Delete");
  const name = el("input", { id: "view-name", "aria-label": "Name of the view", placeholder: "Name this view",
                             maxlength: "60" });
  const keep = el("button", { type: "button", id: "view-keep" }, "Keep");
  const naming = el("div", { class: "row view-naming", hidden: true }, name, keep);
  const error = el("p", { class: "error", role: "alert" });
  let views = [];
  const counted = new Map();  // view name -> its count as last read (none: not counted)

  const label = (v) => (counted.has(v.name) ? `${v.name} (${counted.get(v.name)})` : v.name);

  function draw(selected) {
    pick.replaceChildren(el("option", { value: "" }, views.length ? "Views…" : "No saved views"),
      ...views.map((v) => el("option", { value: v.name }, label(v))));
    pick.value = selected || "";
    remove.hidden = !pick.value;
  }

  /** The views to count, as the counts' query asks for them: their names, and `view=…` for each. */
  function countQuery() {
    const asked = new URLSearchParams();
    for (const v of views) asked.append("view", new URLSearchParams(v.filters).toString());
    return { names: views.map((v) => v.name), query: asked.toString() };
  }

  /** The counts the hub gave for the views named (in that order): each option's text says its count. */
  function showCounts(names, counts) {
    counted.clear();
    names.forEach((n, i) => { if (typeof counts[i] === "number") counted.set(n, counts[i]); });
    for (const option of pick.options) {
      const view = views.find((v) => v.name === option.value);
      if (view) option.textContent = label(view);
    }
  }

  async function store(next, selected) {
    try {
      views = (await api("PUT", "/api/me/views", { views: next })).views;
      error.textContent = "";
      draw(selected);
      recount();
      return true;
    } catch (ex) {
      error.textContent = ex.message;
      return false;
    }
  }

  function apply(view) {
    for (const [key, field] of Object.entries(fields)) {  // what the view does not say: the control's first choice
      field.value = view.filters[key] || (field.tagName === "SELECT" ? field.options[0].value : "");
    }
    if (view.filters.following === "1") fields.assignee.value = "following";
    const queue = view.filters.queue || null;
    if (queue !== state.queue) {  // the sidebar's queue, as a click on it would pick it
      const entry = queue ? [...document.querySelectorAll("#queues li")].find((li) => li.dataset.queue === queue)
        : document.querySelector("#queues li");
      if (entry) { entry.click(); return; }
    }
    reload();
  }

  pick.addEventListener("change", () => {
    const view = views.find((v) => v.name === pick.value);
    remove.hidden = !view;
    if (view) apply(view);
  });
  save.addEventListener("click", () => { naming.hidden = false; name.value = ""; name.focus(); });
  const keepIt = async () => {
    const label = name.value.trim();
    if (!label) return;
    const others = views.filter((v) => v.name.toLowerCase() !== label.toLowerCase());  // a name again: replaced
    if (await store([...others, { name: label, filters: current() }], label)) naming.hidden = true;
  };
  keep.addEventListener("click", keepIt);
  name.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); keepIt(); } });
  remove.addEventListener("click", () => store(views.filter((v) => v.name !== pick.value), ""));
  const leave = () => {  // a filter changed by hand: no longer the view picked
    const view = views.find((v) => v.name === pick.value);
    if (view && !same(view.filters, current())) draw("");
  };
  form.addEventListener("change", (e) => { if (e.target !== pick) leave(); });
  form.addEventListener("input", (e) => { if (e.target !== name && e.target !== pick) leave(); });

  form.prepend(el("div", { class: "row views" }, pick, save, remove), naming, error);
  api("GET", "/api/me/views").then((data) => { views = data.views; draw(""); recount(); }).catch(() => draw(""));
  // the list calls `leave` on each read (a queue picked in the sidebar leaves the view too), and the two others
  // with each count
  return { leave, countQuery, showCounts };
}
