/* Help center (trainers): write, preview, publish and unpublish help-center articles.
 * An ES module on window.Desk. The preview is the hub's own rendering (POST /api/kb/preview, the
 * renderer of the public pages, sanitised there), so what a trainer sees is what customers get.
 * Names only, never ids: an article is shown by its title and public address.
 */
const { api, el, registerView } = window.Desk;

const EMPTY = { id: "", title: "", category: "", language: "en", published: false, body: "" };

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

async function render(container) {
  const search = el("input", { type: "search", id: "kb-search", placeholder: "Search articles", "aria-label": "Search articles" });
  const category = el("select", { id: "kb-filter-category", "aria-label": "Category" }, el("option", { value: "" }, "All categories"));
  const state = el("select", { id: "kb-filter-state", "aria-label": "Published" },
    el("option", { value: "" }, "Published and drafts"), el("option", { value: "true" }, "Published"),
    el("option", { value: "false" }, "Drafts"));
  const list = el("ul", { id: "kb-articles" });
  const count = el("p", { class: "muted", id: "kb-count" });
  const newButton = el("button", { type: "button", id: "kb-new" }, "New article");

  const title = el("input", { name: "title", id: "kb-title", required: true, maxlength: "200" });
  const cat = el("input", { name: "category", id: "kb-category", required: true, maxlength: "60", list: "kb-categories" });
  const categories = el("datalist", { id: "kb-categories" });
  const language = el("input", { name: "language", id: "kb-language", required: true, maxlength: "16", size: "5" });
  const published = el("input", { type: "checkbox", name: "published", id: "kb-published" });
  const body = el("textarea", { name: "body", id: "kb-body", required: true, maxlength: "50000",
    placeholder: "Write the article in Markdown: **bold**, lists, [links](https://…), tables…" });
  const preview = el("div", { class: "kb-preview", id: "kb-preview", "aria-live": "polite" });
  const error = el("p", { class: "error", role: "alert", id: "kb-error" });
  const saved = el("span", { class: "muted", id: "kb-saved" });
  const link = el("a", { id: "kb-link", target: "_blank", rel: "noopener", hidden: true }, "View on the help center");
  const remove = el("button", { type: "button", class: "secondary", id: "kb-delete", hidden: true }, "Delete");
  const heading = el("h2", { id: "kb-heading", style: "margin:0" }, "New article");
  const form = el("form", { class: "kb-edit", id: "kb-form" },
    heading,
    el("div", { class: "row" },
      el("label", { class: "grow" }, "Title ", title),
      el("label", {}, "Category ", cat, categories),
      el("label", {}, "Language ", language),
      el("label", { class: "toggle" }, published, "Published")),
    el("div", { class: "kb-panes" },
      el("label", {}, el("span", { class: "kb-pane-title" }, "Markdown"), body),
      el("div", { style: "display:flex;flex-direction:column;gap:4px" },
        el("p", { class: "kb-pane-title" }, "Preview (as customers see it)"), preview)),
    el("div", { class: "actions" }, el("button", { type: "submit", id: "kb-save" }, "Save"), saved,
      el("span", { class: "spacer" }), link, remove),
    error);

  let current = { ...EMPTY };
  const field = (name) => form.elements.namedItem(name);

  const refreshPreview = debounce(async () => {
    try {
      const { html } = await api("POST", "/api/kb/preview", { body: body.value });
      preview.innerHTML = html; // sanitised by the hub (nh3): the help center's own rendering
    } catch (ex) { error.textContent = ex.message; }
  }, 250);
  body.addEventListener("input", refreshPreview);

  function edit(article) {
    current = { ...EMPTY, ...article };
    heading.textContent = current.id ? "Edit article" : "New article";
    title.value = current.title; cat.value = current.category; language.value = current.language;
    published.checked = current.published; body.value = current.body;
    link.hidden = !current.id || !current.published;
    if (current.url) { link.href = current.url; link.textContent = "View on the help center: " + current.url; }
    remove.hidden = !current.id;
    error.textContent = ""; saved.textContent = "";
    for (const li of list.children) li.classList.toggle("active", li.dataset.slug === current.slug);
    refreshPreview();
  }

  async function open(id) {
    try { edit((await api("GET", "/api/kb/articles/" + id)).article); }
    catch (ex) { error.textContent = ex.message; }
  }

  async function load() {
    const params = new URLSearchParams();
    if (search.value.trim()) params.set("q", search.value.trim());
    if (category.value) params.set("category", category.value);
    if (state.value) params.set("published", state.value);
    try {
      const data = await api("GET", "/api/kb/articles?" + params);
      const chosen = category.value;
      category.replaceChildren(el("option", { value: "" }, "All categories"),
        ...data.categories.map((c) => el("option", { value: c, selected: c === chosen }, c)));
      categories.replaceChildren(...data.categories.map((c) => el("option", { value: c })));
      list.replaceChildren(...data.articles.map((a) => el("li", {
        dataset: { slug: a.slug }, class: a.slug === current.slug ? "active" : "", tabindex: "0",
        onclick: () => open(a.id), onkeydown: (e) => { if (e.key === "Enter") open(a.id); } },
        el("span", { class: "title" }, a.title,
          el("span", { class: "kb-state" + (a.published ? " live" : "") }, a.published ? "published" : "draft")),
        el("span", { class: "meta" }, `${a.category} · ${a.language} · updated ${new Date(a.updated_at).toLocaleDateString()}`
          + (a.helpful || a.not_helpful ? ` · helpful ${a.helpful}/${a.helpful + a.not_helpful}` : "")))));
      count.textContent = data.articles.length === 1 ? "1 article" : `${data.articles.length} articles`;
    } catch (ex) { error.textContent = ex.message; }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = { title: title.value, category: cat.value, language: language.value.trim().toLowerCase(),
                     published: published.checked, body: body.value };
    try {
      const data = current.id ? await api("PATCH", "/api/kb/articles/" + current.id, fields)
                              : await api("POST", "/api/kb/articles", fields);
      edit(data.article);
      saved.textContent = data.article.published ? "Saved and published." : "Saved as a draft.";
      await load();
    } catch (ex) { error.textContent = ex.message; }
  });
  remove.addEventListener("click", async () => {
    if (!current.id || !window.confirm(`Delete “${current.title}” for good?`)) return;
    try { await api("DELETE", "/api/kb/articles/" + current.id); edit(EMPTY); await load(); }
    catch (ex) { error.textContent = ex.message; }
  });
  newButton.addEventListener("click", () => edit(EMPTY));
  search.addEventListener("input", debounce(load, 200));
  category.addEventListener("change", load);
  state.addEventListener("change", load);

  container.replaceChildren(el("div", { class: "kb" },
    el("aside", { class: "kb-list" },
      el("div", { style: "display:flex;justify-content:space-between;align-items:center" },
        el("h2", { style: "margin:0;font-size:16px;text-transform:none;color:inherit" }, "Help center"), newButton),
      el("div", { class: "filters" }, search, category, state), count, list,
      el("p", { class: "muted", style: "font-size:12px" }, "Public pages: ",
        el("a", { href: "/help", target: "_blank", rel: "noopener" }, "/help"))),
    form));
  edit(EMPTY);
  await load();
}

registerView("helpcenter", "Help center", ["trainer"], (container) => { render(container); });
