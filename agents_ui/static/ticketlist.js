/* The desk's ticket list: search box, filters, sort, "load more" paging and per-view counts.
 * An ES module; desk.js hands it the list (Desk.useTicketList) and keeps the queues sidebar.
 * The queue filter is the queue picked in the sidebar (Desk.state.queue). Text only via textContent.
 */
import { onAttention, reasonWords, sawTickets, unreadReason } from "./attention.js";
import { mountBar, pickBox, picking, shown } from "./bulkbar.js";
import { hasDraft, onDrafts } from "./drafts.js";
import { fieldChoices, fieldDefs } from "./fielddefs.js";
import { mountViews } from "./savedviews.js";
import { agentName, CHANNEL_CHOICES, onNames } from "./names.js";

const { api, el, state } = window.Desk;

const PAGE = 25;

function option(value, label) { return el("option", { value }, label); }

function select(name, label, options) {
  return el("select", { name, "aria-label": label }, ...options.map(([v, l]) => option(v, l)));
}

/** The values of the admins' list and checkbox fields as the filter's choices: "Product: Kettle". */
async function fillFieldFilter(select) {
  const choices = fieldChoices(await fieldDefs());
  select.append(...choices.map((c) => el("option", { value: c.field.key + "=" + c.value }, c.field.label + ": " + c.shown)));
  select.hidden = !choices.length;
  if (select.parentElement) select.parentElement.hidden = select.hidden;  // its row in the filters
}

function mount(root, openTicket) {
  const search = el("input", { type: "search", id: "ticket-search", name: "q", "aria-label": "Search tickets",
                               placeholder: "Search #, name, email, phone, text" });
  const assignee = select("assignee", "Assignee", [["", "Everyone"], ["me", "Mine"], ["none", "Unassigned"],
                                                   ["following", "Following"]]);
  const status = select("status", "Status", [["", "Active"], ["new", "New"], ["open", "Open"], ["pending", "Pending"],
                                             ["solved", "Solved"], ["closed", "Closed"],
                                             ["new,open,pending,solved,closed", "Any status"]]);
  const channel = select("channel", "Channel", [["", "Any channel"], ...CHANNEL_CHOICES]);
  const priority = select("priority", "Priority", [["", "Any priority"], ...["urgent", "high", "normal", "low"]
    .map((p) => [p, p])]);
  const sla = select("sla", "SLA", [["", "Any SLA"], ["breached", "Breached"], ["due_soon", "Due soon"], ["ok", "On time"],
                                    ["paused", "Paused"]]);
  const sort = select("sort", "Sort", [["newest", "Newest"], ["oldest_waiting", "Oldest waiting"],
                                       ["sla_due", "SLA due first"]]);
  const tag = el("input", { type: "text", name: "tag", "aria-label": "Tag", placeholder: "tag", size: "8" });
  const field = el("select", { name: "field", "aria-label": "Ticket field", hidden: true },
    el("option", { value: "" }, "Any ticket field"));
  fillFieldFilter(field);
  const list = el("ul", { id: "tickets" });
  const more = el("button", { type: "button", id: "tickets-more", hidden: true }, "Load more");
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { id: "ticket-filters", class: "ticket-filters" }, search,
                  el("div", { class: "row" }, assignee), el("div", { class: "row" }, status, channel),
                  el("div", { class: "row" }, priority, sla), el("div", { class: "row" }, tag, sort),
                  el("div", { class: "row", hidden: true }, field));
  root.replaceChildren(form, list, more, error);
  const controls = { q: search, assignee, status, channel, priority, sla, sort, tag, field };
  const views = mountViews(form, controls, filters, () => Promise.all([load(false), counts()]), () => counts());
  mountBar(list, () => Promise.all([load(false), counts()]));
  let cursor = null;
  let generation = 0;

  /** The list's query as the hub takes it, without what the hub does anyway (a select's first choice: "Everyone",
   * "Active", "Newest"...); savedviews.js keeps and compares these. */
  function filters() {
    const out = {};
    for (const [key, control] of Object.entries(controls)) {
      const value = control.value.trim();
      if (value && value !== (control.tagName === "SELECT" ? control.options[0].value : "")) out[key] = value;
    }
    if (out.assignee === "following") {  // the tickets I follow (follow.js), whoever holds them
      delete out.assignee;
      out.following = "1";
    }
    if (state.queue) out.queue = state.queue;
    return out;
  }

  function params() {
    return new URLSearchParams({ size: String(PAGE), ...filters() });
  }

  /** Who has the ticket: "you", or the colleague's name (filled in once the names are read). */
  function holder(id) {
    const node = el("small", { class: "assignee", dataset: { agent: id } });
    node.textContent = state.me && id === state.me.id ? "you" : agentName(id) || "";
    return node;
  }
  onNames(() => {
    for (const node of list.querySelectorAll(".assignee")) {
      if (!node.textContent) node.textContent = agentName(node.dataset.agent) || "";
    }
  });

  /** The dot of a ticket that waits for this agent (attention.js): a customer's new message, or given to them. */
  function mark(li) {
    const why = unreadReason(li.dataset.ticket);
    li.classList.toggle("unread", !!why);
    const dot = li.querySelector(".dot");
    dot.hidden = !why;
    dot.title = reasonWords(why);
    dot.setAttribute("aria-label", reasonWords(why));
  }
  onAttention(() => { for (const li of list.children) mark(li); });
  onDrafts((id) => {  // drafts.js: a reply begun or ended on a ticket in the list
    const badge = [...list.children].find((li) => li.dataset.ticket === id)?.querySelector(".badge.draft");
    if (badge) badge.hidden = !hasDraft(id);
  });

  function row(t) {
    const li = el("li", { class: t.id === state.ticketId ? "active" : "",
                          dataset: { ticket: t.id, number: t.number, conversations: t.conversation_ids.join(",") },
                          onclick: () => openTicket(t.id, t.conversation_ids) },
      el("span", {}, picking() ? pickBox(t) : null, el("span", { class: "dot", role: "img" }),
         el("span", { class: "num" }, "#" + t.number + " "),
         t.contact_name || "", el("br"),
         el("small", { class: "muted" }, t.subject || ""),
         (t.tags || []).length ? el("small", { class: "tags" }, " " + t.tags.map((x) => "#" + x).join(" ")) : null,
         t.assignee_id ? [el("br"), holder(t.assignee_id)] : null),
      el("span", { class: "badges" }, el("span", { class: "badge draft", hidden: !hasDraft(t.id),
                                                   title: "You began a reply here" }, "draft"),
      t.priority && t.priority !== "normal"
        ? el("span", { class: "badge prio " + t.priority }, t.priority) : null,
      window.Desk.slaBadge ? window.Desk.slaBadge(t) : null,  // sla.js: time left, in colour
      el("span", { class: "badge " + t.status }, t.status)));
    mark(li);
    return li;
  }

  async function load(append) {
    const mine = ++generation;
    views.leave();  // the filters as they are now may no longer be the view picked
    const p = params();
    if (append && cursor) p.set("after", cursor);
    try {
      const data = await api("GET", "/api/tickets?" + p.toString());
      if (mine !== generation) return;  // a newer search replaced this one
      error.textContent = "";
      sawTickets(data.tickets);
      const rows = data.tickets.map(row);
      if (append) list.append(...rows); else list.replaceChildren(...rows);
      shown(data.tickets.map((t) => t.id), append);
      cursor = data.next;
      more.hidden = !cursor;
    } catch (ex) {
      error.textContent = ex.message;
    }
  }

  async function counts() {
    const asked = views.countQuery();  // the saved views as they are when asked: renamed meanwhile, not mixed up
    const c = await api("GET", "/api/tickets/counts" + (asked.query ? "?" + asked.query : "")).catch(() => null);
    if (!c) return;
    views.showCounts(asked.names, c.views || []);
    assignee.options[0].textContent = `Everyone (${c.active})`;
    assignee.options[1].textContent = `Mine (${c.mine})`;
    assignee.options[2].textContent = `Unassigned (${c.unassigned})`;
  }

  let typing = null;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => load(false), 250); });
  tag.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => load(false), 250); });
  form.addEventListener("submit", (e) => { e.preventDefault(); load(false); });
  for (const s of [assignee, status, channel, priority, sla, sort, field]) s.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));
  return { reload: () => Promise.all([load(false), counts()]) };
}

window.Desk.useTicketList((root, openTicket) => mount(root, openTicket));
