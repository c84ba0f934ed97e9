/* Switchboard desk: agents' queues and tickets, live over WebSocket.
 * All customer-provided text goes through textContent (never innerHTML).
 * Other views (trainer workbench, supervisor dashboard) register with Desk.registerView.
 */
"use strict";

const Desk = (() => {
  const state = { me: null, csrf: null, queue: null, ticketId: null, ticket: null, ws: null, views: {},
    watching: { ticket_id: null, conversation_ids: [] }, arriving: null, connectedOnce: false };
  // state.watching.conversation_ids is null while the feed has not said which (a ticket opened by its link)
  // totp.js: the login's code step, the enrolment a role requires, the Account view's panels.
  // replyFields: functions (text, private) -> fields the reply's body adds (mentions.js: whom a note mentions).
  const hooks = { secondFactor: null, enrol: null, account: [], replyFields: [] };
  const entered = [];  // onEnter: run with the signed-in user once the desk is shown (attention.js)

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  /** A paperclip before a file's name, drawn (an emoji needs a font the agent's system may lack). */
  function fileIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "file-icon");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9");
    svg.appendChild(path);
    return svg;
  }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                  credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error(data.error || ("HTTP " + r.status));
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function hasRole(...roles) {
    const held = (state.me && state.me.roles) || [];
    return held.includes("admin") || roles.some((r) => held.includes(r));
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString();
  }

  // ---- views -------------------------------------------------------------------------
  function registerView(name, title, roles, render) {
    state.views[name] = { title, roles, render };
  }

  function buildNav() {
    const nav = document.getElementById("nav");
    nav.replaceChildren(el("a", { href: "#/tickets", dataset: { nav: "tickets" } }, "Tickets"));
    for (const [name, v] of Object.entries(state.views)) {
      if (hasRole(...v.roles)) nav.appendChild(el("a", { href: "#/" + name, dataset: { nav: name } }, v.title));
    }
  }

  function route() {
    const name = (location.hash.replace(/^#\//, "") || "tickets").split("/")[0];
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.nav === name);
    const extra = document.getElementById("view-extra");
    const tickets = document.getElementById("view-tickets");
    const view = state.views[name];
    if (view && hasRole(...view.roles)) {
      tickets.hidden = true;
      extra.hidden = false;
      extra.replaceChildren();
      view.render(extra);
    } else {
      extra.hidden = true;
      tickets.hidden = false;
    }
  }

  // ---- auth --------------------------------------------------------------------------
  async function boot() {
    keepNewestInView(document.getElementById("messages"));
    document.getElementById("login-form").addEventListener("submit", onLogin);
    document.getElementById("logout").addEventListener("click", onLogout);
    document.getElementById("my-status").addEventListener("change", async (e) => {
      const chosen = e.target.value;
      const shown = document.getElementById("status-error");
      try {
        await api("POST", "/api/me/status", { status: chosen });
        shown.textContent = "";
      } catch (err) {
        e.target.value = chosen === "away" ? "available" : "away";
        shown.textContent = "Status not changed: " + err.message;
      }
    });
    document.getElementById("reply-form").addEventListener("submit", onReply);
    document.getElementById("reply-text").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) onReply(e);
    });
    document.getElementById("status").addEventListener("change", onStatus);
    document.getElementById("canned").addEventListener("change", onCanned);
    document.getElementById("take").addEventListener("click", onTake);
    window.addEventListener("hashchange", route);
    try {
      const me = await api("GET", "/api/me");
      await enter(me);
    } catch (e) {
      showLogin();
    }
  }

  function showLogin() {
    document.getElementById("app").hidden = true;
    document.getElementById("login").hidden = false;
  }

  async function onLogin(e) {
    e.preventDefault();
    const form = e.target;
    const err = document.getElementById("login-error");
    err.textContent = "";
    try {
      const me = await api("POST", "/api/auth/login", { username: form.username.value, password: form.password.value });
      form.password.value = "";
      if (me.second_factor && hooks.secondFactor) return hooks.secondFactor(me);
      await enter(me);
    } catch (ex) {
      err.textContent = ex.message;
    }
  }

  async function onLogout() {
    try { await api("POST", "/api/auth/logout", {}); } catch (e) { /* session already gone */ }
    state.me = null;  // so the socket's close does not reconnect
    if (state.ws) state.ws.close();
    location.hash = "";
    showLogin();
  }

  /** Show the desk to a signed-in user. `#app` is aria-busy until the lists are read and the ticket in the
   * address (if any) is being opened: what is done to the page before then (its address changed, say) may still
   * be overtaken by what it does at sign-in. */
  async function enter(me) {
    state.me = me.agent;
    state.csrf = me.csrf;
    const app = document.getElementById("app");
    app.setAttribute("aria-busy", "true");
    document.getElementById("login").hidden = true;
    app.hidden = false;
    document.getElementById("whoami").textContent = me.agent.name + " (" + me.agent.roles.join(", ") + ")";
    if (me.enrolment_required && hooks.enrol) return hooks.enrol(me);  // before anything else
    buildNav();
    route();
    connect();
    for (const fn of entered) fn(state.me);
    const status = document.getElementById("my-status");
    status.hidden = !hasRole("agent");
    status.value = me.agent.away ? "away" : "available";
    if (hasRole("agent", "supervisor")) {
      await feedOpen();  // lists read once the feed sends changes: none falls between the read and the feed
      await loadQueues();
      await loadTickets();
      const m = location.hash.match(/^#\/tickets\/([0-9a-f]{24})/);
      if (m) openTicket(m[1]);
    }
    app.setAttribute("aria-busy", "false");
  }

  // ---- live updates ---------------------------------------------------------------------
  function connect() {
    const url = location.origin.replace(/^http/, "ws") + "/api/desk/ws";
    const ws = new WebSocket(url);
    state.ws = ws;
    const live = document.getElementById("live");
    ws.onopen = () => {
      for (const resolve of opening.splice(0)) resolve();
      live.textContent = "live"; live.classList.add("on"); document.body.dataset.live = "1";
      const reopened = state.connectedOnce;
      state.connectedOnce = true;
      catchUp(reopened);
    };
    ws.onclose = (e) => {  // 1008: the hub ended this session (logged out elsewhere, disabled): back to login
      live.textContent = "offline";
      live.classList.remove("on");
      document.body.dataset.live = "0";
      for (const waiter of following.splice(0)) waiter.resolve();  // no answer will come: read now
      for (const resolve of opening.splice(0)) resolve();
      if (e.code === 1008) { state.me = null; showLogin(); } else if (state.me) setTimeout(connect, 2000);
    };
    ws.onmessage = (e) => {
      const data = JSON.parse(e.data);
      if (data.type === "watching" || (data.type === "error" && "ticket_id" in data)) followed(data);
      for (const fn of listeners) fn(data);
      if (data.type === "ticket") onTicketChange(data.ticket);
      else if (data.type === "message") onMessage(data.message, data.op);
    };
  }

  // Settles once the feed is open (the hub subscribes it to changes before it says so), closed, or after
  // WATCH_WAIT_MS: a read made then misses no change.
  const opening = [];
  function feedOpen() {
    if (!state.ws || state.ws.readyState !== WebSocket.CONNECTING) return Promise.resolve();
    return new Promise((resolve) => { opening.push(resolve); setTimeout(resolve, WATCH_WAIT_MS); });
  }

  const listeners = [];
  function onLive(fn) { listeners.push(fn); }
  function onEnter(fn) { entered.push(fn); }

  /** A socket just open follows the open ticket. A ticket shown before it followed is read again once it does,
   * and a `reopened` socket (a lost connection, a hub restarted) has the lists read again too, and tells the
   * other views (`{type: "reconnected"}` to `onLive`): what was written while no socket followed was not sent. */
  function catchUp(reopened) {
    const shown = state.ticket && state.ticket.id === state.ticketId;
    if (shown) openTicket(state.ticketId, state.ticket.conversation_ids, { refresh: true });
    else watch(state.watching.ticket_id, state.watching.conversation_ids);
    if (!reopened) return;
    if (hasRole("agent", "supervisor")) { loadQueues(); loadTickets(); }
    for (const fn of listeners) fn({ type: "reconnected" });  // the other views read again what they show
  }

  // The feed sends the messages of the conversations this desk watches (the open ticket's), no others, and who
  // else is on that ticket (collision.js). Without `ids` (a ticket opened by its link) the feed reads them and
  // answers with them. The promise settles on the feed's answer: the ticket read after it misses nothing written
  // meanwhile. It settles at once when the feed is closed, and after WATCH_WAIT_MS if no answer comes.
  const WATCH_WAIT_MS = 3000;
  const following = [];
  function watch(ticketId, ids) {
    state.watching = { ticket_id: ticketId, conversation_ids: ticketId ? ids || null : [] };
    const ws = state.ws;
    if (!ws || ws.readyState > WebSocket.OPEN) return Promise.resolve();  // closed: a reopened one catches up
    if (ws.readyState === WebSocket.OPEN) {  // (a socket still connecting sends state.watching once open)
      const frame = { type: "watch", ticket_id: ticketId };
      if (state.watching.conversation_ids) frame.conversation_ids = state.watching.conversation_ids;
      ws.send(JSON.stringify(frame));
    }
    return new Promise((resolve) => {
      const waiter = { ticketId, resolve };
      following.push(waiter);
      setTimeout(() => followed({ ticket_id: ticketId }, waiter), WATCH_WAIT_MS);
    });
  }
  function followed(answer, only) {
    if (answer.type === "watching" && answer.ticket_id === state.watching.ticket_id)
      state.watching.conversation_ids = answer.conversation_ids;
    for (const waiter of following.filter((w) => (only ? w === only : w.ticketId === answer.ticket_id))) {
      following.splice(following.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
  const watched = (ticket) => ticket.id === state.watching.ticket_id
    && ticket.conversation_ids.join() === (state.watching.conversation_ids || []).join();

  /** Tell the feed what this agent does on the ticket it watches ({type: "activity", state}); false when the feed
   * is closed or watches another ticket, and the caller should make the request instead. */
  function tellFeed(ticketId, frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN || state.watching.ticket_id !== ticketId) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  // The lists (list, counts, queue badges) are read again 150 ms after a ticket change, so a burst of changes
  // costs one reload, and then at most once a second while changes keep coming: on a busy desk each agent's page
  // reloaded after every burst, two or three times a second at 40 messages a second.
  const REFRESH_AFTER_MS = 150, REFRESH_EVERY_MS = 1000;
  let refreshTimer = null;
  let lastRefresh = -Infinity;
  function refreshLists() {
    if (refreshTimer) return;  // already planned: it will show this change too
    const wait = Math.max(REFRESH_AFTER_MS, lastRefresh + REFRESH_EVERY_MS - Date.now());
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      lastRefresh = Date.now();
      loadQueues();
      loadTickets();
    }, wait);
  }

  function onTicketChange(ticket) {
    refreshLists();
    if (state.ticket && ticket.id === state.ticketId) {
      state.ticket = ticket;
      if (!watched(ticket)) watch(ticket.id, ticket.conversation_ids);  // a conversation merged in
      renderTicketHead();
    }
  }

  /** The messages stay scrolled to the newest while the agent has not scrolled up, also when a message grows
   * after it is shown (its delivery status comes later) or the panes around them change size. */
  function keepNewestInView(list) {
    let atEnd = true;
    const stick = () => { if (atEnd) list.scrollTop = list.scrollHeight; };
    list.addEventListener("scroll", () => { atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 24; });
    new ResizeObserver(stick).observe(list);
    new MutationObserver(stick).observe(list, { childList: true, subtree: true, characterData: true });
  }

  function onMessage(message, op) {
    if (state.arriving && (state.watching.conversation_ids || []).includes(message.conversation_id)) {
      state.arriving.push([message, op]);  // the ticket is being read: shown once it is (openTicket)
      return;
    }
    if (!state.ticket || !state.ticket.conversation_ids.includes(message.conversation_id)) return;
    const existing = document.querySelector(`#messages li[data-id="${message.id}"]`);
    const item = renderMessage(message);
    if (message.created_at > (state.seenAt || "")) state.seenAt = message.created_at;
    if (existing) existing.replaceWith(item);
    else if (op === "insert") {
      const list = document.getElementById("messages");
      list.appendChild(item);
      list.scrollTop = list.scrollHeight;
    }
  }

  // ---- queues and tickets ---------------------------------------------------------------
  async function loadQueues() {
    const data = await api("GET", "/api/queues");
    const list = document.getElementById("queues");
    const all = el("li", { class: state.queue === null ? "active" : "", onclick: () => { state.queue = null; loadQueues(); loadTickets(); } },
      "All queues");
    list.replaceChildren(all, ...data.queues.map((q) => el("li", {
      class: state.queue === q.name ? "active" : "", dataset: { queue: q.name },
      onclick: () => { state.queue = q.name; loadQueues(); loadTickets(); },
    }, el("span", {}, q.title || q.name), el("span", { class: "badge" + (q.waiting ? " new" : "") }, String(q.waiting)))));
  }

  // The list itself (search, filters, paging) is ticketlist.js, mounted with useTicketList.
  async function loadTickets() {
    if (state.ticketList) await state.ticketList.reload();
  }

  function useTicketList(mount) {
    state.ticketList = mount(document.getElementById("ticket-list"), openTicket);
  }

  const headHooks = [];
  function onTicketHead(fn) { headHooks.push(fn); }

  /** Show a ticket. The feed follows it before it is read (its conversations as the list knows them, or the
   * feed reads them), so that a message written while it loads still arrives live: kept aside until the ticket
   * is shown, then shown (once: a message the read brought as well is replaced, not added). `refresh`: read
   * again what is shown (a reopened socket), leaving the agent's focus where it is; `focus`: put the caret in the
   * reply box (not when the agent moves through the list by keyboard, shortcuts.js). */
  async function openTicket(id, conversationIds, { refresh = false, focus = true } = {}) {
    state.ticketId = id;
    if (!location.hash.startsWith("#/tickets/" + id)) history.replaceState(null, "", "#/tickets/" + id);
    const arriving = [];
    state.arriving = arriving;
    let data;
    try {
      await watch(id, conversationIds || null);
      if (state.ticketId !== id) return;
      data = await api("GET", "/api/tickets/" + id);
    } finally {
      if (state.arriving === arriving) state.arriving = null;
    }
    if (state.ticketId !== id) return;
    state.ticket = data.ticket;
    if (!watched(data.ticket)) watch(id, data.ticket.conversation_ids);
    state.contactName = data.contact ? data.contact.display_name : null;
    state.conversations = data.conversations || [];  // their channel data (copies.js: whom a reply copies)
    document.getElementById("empty").hidden = true;
    document.getElementById("ticket").hidden = false;
    renderTicketHead();
    const list = document.getElementById("messages");
    list.replaceChildren(...data.messages.map(renderMessage));
    state.seenAt = data.messages.reduce((t, m) => (m.created_at > t ? m.created_at : t), "");
    for (const [message, op] of arriving) onMessage(message, op);
    list.scrollTop = list.scrollHeight;
    renderContact(data.contact, data.other_tickets);
    for (const li of document.querySelectorAll("#tickets li")) li.classList.toggle("active", li.dataset.ticket === id);
    if (refresh) return;
    if (focus) document.getElementById("reply-text").focus();
    loadCanned(id);
  }

  /** Canned responses filled for this ticket, offered in the reply box. */
  async function loadCanned(id) {
    const select = document.getElementById("canned");
    const data = await api("GET", "/api/responses?ticket=" + encodeURIComponent(id)).catch(() => ({ responses: [] }));
    if (state.ticketId !== id) return;
    state.canned = data.responses;
    select.replaceChildren(el("option", { value: "" }, "Insert a response…"),
      ...data.responses.map((r, i) => el("option", { value: String(i) }, r.title + "  /" + r.shortcut)));
    select.hidden = data.responses.length === 0;
  }

  function onCanned(e) {
    const chosen = state.canned && state.canned[Number(e.target.value)];
    e.target.value = "";
    if (!chosen) return;
    const box = document.getElementById("reply-text");
    const at = box.selectionStart ?? box.value.length;
    box.value = box.value.slice(0, at) + chosen.rendered + box.value.slice(box.selectionEnd ?? at);
    box.focus();
    box.selectionStart = box.selectionEnd = at + chosen.rendered.length;
  }

  // Why a ticket reached a person, in words (the stored reason is a code: `bot.policy.Reason` and the
  // hub's and channels' own; tests/test_desk_reasons.py checks each has its words here).
  const REASONS = {
    human_requested: "asked for a person", repeated_fallback: "the bot did not understand twice",
    intent_escalation: "a topic for agents", not_helpful: "the answer did not help",
    nlu_unavailable: "the bot was unavailable", low_confidence: "the bot was unsure",
    out_of_scope: "outside what the bot handles", ambiguous: "the bot could not tell which question",
    reply_after_close: "replied after the ticket closed", no_response: "the bot had no answer for it",
    escalated: "handed to agents", email: "mail to an agents' mailbox", split: "split from another ticket",
    too_many_bot_answers: "the bot stopped answering this sender (a mail loop?)",
    outbound: "an agent wrote first",
  };
  const reasonText = (code) => code ? (REASONS[code] || code.replaceAll("_", " ")) : null;

  function renderTicketHead() {
    const t = state.ticket;
    document.getElementById("ticket-title").textContent = "#" + t.number + " " + (t.subject || "");
    document.getElementById("status").value = t.status;
    document.getElementById("take").hidden = !!(t.assignee_id && t.assignee_id === state.me.id);
    for (const fn of headHooks) fn(t);
  }

  /** Other modules may draw some messages their own way (transfer.js: a move's timeline line). */
  const messageViews = [];
  function onRenderMessage(fn) { messageViews.push(fn); }

  function renderMessage(m) {
    for (const view of messageViews) { const node = view(m); if (node) return node; }
    const kind = m.author.kind + (m.private ? " private" : "");
    const name = m.author.name || (m.author.kind === "customer" && state.contactName) || m.author.kind;
    const who = name + " · " + fmtTime(m.created_at) + (m.private ? " · private note" : "");
    const delivery = m.delivery && m.direction === "out" && !m.private
      ? el("span", { class: "delivery " + m.delivery.status }, m.delivery.status + (m.delivery.error ? ": " + m.delivery.error : ""))
      : null;
    const files = (m.attachments || []).map((a) => a.blob_id
      ? el("a", { href: "/api/attachments/" + a.blob_id, target: "_blank", rel: "noopener" }, fileIcon(), a.filename)
      : el("span", {}, fileIcon(), a.filename));
    const meta = m.metadata || {};
    const extras = [];
    if (meta.noise) extras.push(el("span", { class: "note" }, "automated: " + meta.noise));
    if (m.blocked) extras.push(el("span", { class: "note" }, "from a blocked contact: not answered, no ticket news"));
    if ((meta.cc || []).length) extras.push(el("span", { class: "note copied" }, "Cc: " + meta.cc.join(", ")));
    for (const d of meta.dropped_attachments || []) {
      extras.push(el("span", { class: "note" }, "not stored: " + d.filename + " (" + d.reason + ")"));
    }
    if (meta.stripped && meta.original_text) {
      const original = el("pre", { class: "original", hidden: true }, meta.original_text);
      const toggle = el("button", { type: "button", class: "link", onclick: () => {
        original.hidden = !original.hidden;
        toggle.textContent = original.hidden ? "Show original" : "Hide original";
      } }, "Show original");
      extras.push(toggle, original);
    }
    const forMe = state.me && (meta.mentions || []).some((x) => x.id === state.me.id);  // "@you" in a note
    return el("li", { class: kind + (forMe ? " mentions-me" : ""), dataset: { id: m.id, author: m.author.kind } },
      el("span", { class: "who" }, who), el("span", { class: "text" }, m.text), ...files, ...extras, delivery);
  }

  function renderContact(c, others) {
    const box = document.getElementById("contact");
    if (!c) { box.replaceChildren(); return; }
    const dl = el("dl", {},
      el("dt", {}, "Name"), el("dd", { class: "contact-name" }, c.display_name,
        c.blocked ? el("span", { class: "badge blocked", title: "their messages open no ticket" }, "blocked") : null),
      el("dt", {}, "Emails"), el("dd", {}, [...(c.emails || []),
        ...(c.claimed_email ? [c.claimed_email + " (unverified)"] : [])].join(", ") || "—"),
      el("dt", {}, "Phones"), el("dd", {}, (c.phones || []).join(", ") || "—"),
      el("dt", {}, "Channels"),
      el("dd", {}, (c.channels || []).map((i) => el("div", { dataset: { channel: i.channel } },
        i.channel_label + " · " + i.handle + (i.verified ? " ✓" : "")))),
      el("dt", {}, "Other tickets"),
      el("dd", {}, (others || []).length ? others.map((t) => el("div", {},
        el("a", { href: "#/tickets/" + t._id, onclick: () => openTicket(t._id) }, "#" + t.number), " " + (t.subject || "") + " (" + t.status + ")")) : "—"));
    box.replaceChildren(dl);
  }

  async function onReply(e) {
    e.preventDefault();
    const text = document.getElementById("reply-text");
    const priv = document.getElementById("reply-private");
    const picker = document.getElementById("reply-files");
    const err = document.getElementById("reply-error");
    err.textContent = "";
    if ((!text.value.trim() && !picker.files.length) || !state.ticketId) return;
    const buttons = [document.getElementById("reply-send"), document.getElementById("reply-solve")];
    for (const b of buttons) b.disabled = true;
    // "Send and solve": the reply and the solve in one request (one step in the hub: both or neither);
    // "Send anyway" after a colleague's reply keeps what the agent first asked for
    // What is sent, and to which ticket, is read now: the agent may open another ticket (and its draft, drafts.js)
    // while the files upload and the hub answers, and that ticket must get nothing of this reply.
    const sentOn = state.ticketId;
    const said = text.value;
    const isPrivate = priv.checked;
    const files = [...picker.files];
    const seenAt = state.seenAt || undefined;
    const by = e.submitter ? e.submitter.id : "";
    const confirm = by === "reply-anyway";
    if (!confirm) state.replyStatus = by === "reply-solve" ? "solved" : undefined;
    const status = state.replyStatus;
    try {
      const extra = Object.assign({}, ...hooks.replyFields.map((fn) => fn(said, isPrivate)));
      const attachments = [];
      for (const file of files) attachments.push(await upload(sentOn, file));
      // `seen_at`: if a colleague answered after what this agent saw, the hub asks first (409).
      const data = await api("POST", "/api/tickets/" + sentOn + "/reply",
                             { text: said, private: isPrivate, attachments, seen_at: seenAt, confirm, status, ...extra });
      if (state.ticketId === sentOn) {  // (another ticket's box, opened meanwhile, stays as it is)
        text.value = "";
        priv.checked = false;
        picker.value = "";
      }
      // drafts.js: the sent ticket's draft is done
      document.getElementById("reply-form").dispatchEvent(new CustomEvent("replysent", { detail: { ticketId: sentOn } }));
      onMessage(data.message, "insert");
    } catch (ex) {
      err.textContent = ex.message;
      if (ex.status === 409) {  // a colleague answered meanwhile: the agent reads it, then decides
        err.appendChild(el("button", { type: "submit", id: "reply-anyway", form: "reply-form" }, "Send anyway"));
      }
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  /** Upload one file for a reply on this ticket; returns its id. */
  async function upload(ticketId, file) {
    const form = new FormData();
    form.append("file", file, file.name);
    const r = await fetch("/api/tickets/" + ticketId + "/attachments", {
      method: "POST", body: form, credentials: "same-origin", headers: { "X-CSRF-Token": state.csrf } });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(file.name + ": " + (data.error || ("HTTP " + r.status)));
    return data.attachment.blob_id;
  }

  async function onStatus(e) {
    try {
      const data = await api("POST", "/api/tickets/" + state.ticketId + "/status", { status: e.target.value });
      state.ticket = data.ticket;
      renderTicketHead();
    } catch (ex) {
      e.target.value = state.ticket.status;  // refused (a required field empty): the menu shows the ticket as it is
      document.getElementById("reply-error").textContent = ex.message;
    }
  }

  async function onTake() {
    const data = await api("POST", "/api/tickets/" + state.ticketId + "/assign", { agent_id: "me" });
    state.ticket = data.ticket;
    renderTicketHead();
  }

  registerView("account", "Account", ["agent", "trainer", "supervisor"], (container) => {
    const msg = el("p", { class: "error", role: "alert" });
    const form = el("form", { class: "card", style: "max-width:360px;margin:24px;display:flex;flex-direction:column;gap:10px" },
      el("h2", {}, "Change password"),
      el("label", {}, "Current password", el("input", { name: "current", type: "password", required: true })),
      el("label", {}, "New password (8+ characters)", el("input", { name: "new", type: "password", required: true, minlength: 8 })),
      el("button", { type: "submit" }, "Change password"), msg);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/me/password", { current: form.current.value, new: form.new.value });
        form.reset();
        msg.textContent = "Password changed.";
      } catch (ex) { msg.textContent = ex.message; }
    });
    container.replaceChildren(form, ...hooks.account.map((panel) => panel()));
  });

  document.addEventListener("DOMContentLoaded", boot);
  return { api, el, registerView, onLive, onEnter, onRenderMessage, hasRole, fmtTime, state, useTicketList, onTicketHead,
           openTicket, enter, showLogin, hooks, tellFeed, reasonText, fileIcon };
})();
window.Desk = Desk;
