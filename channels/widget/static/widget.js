/* Switchboard chat widget.
 *
 * <script src="https://hub.example.com/widget.js" data-site="demo" async></script>
 * Optional: data-user-jwt (HS256 JWT your backend signs with the site's identity secret:
 * sub, email, name, exp), or legacy data-user-id + data-user-hash (HMAC-SHA256 of the user
 * id; email and name then stay unverified), data-name, data-email, data-open="true".
 *
 * A site may ask anonymous visitors for a name and email first (its `prechat` setting): the
 * form shows before the first session and whenever the hub answers a session with 422 (a new
 * visitor without what the site requires). Signed-in users never see it.
 *
 * A site's `colors.primary` (from its settings) colours the launcher, header and buttons. With
 * data-preview (the desk's live preview: the site's settings as JSON) nothing is sent: the panel
 * only shows how the widget looks.
 *
 * The visitor token expires; it is renewed at half its life and kept in localStorage. It
 * travels only in the Authorization header and the WebSocket's first frame, never in a URL:
 * files are downloaded through short-lived signed links the hub hands out on click.
 *
 * Its own words come from the hub's message catalogs (channels/widget/locales) in the visitor's
 * language (navigator.languages; English for a key or language without a catalog), with the
 * site's overrides: GET /api/widget/sites/{site}?lang=... answers `locale`, `dir` and `texts`.
 * Plural forms by Intl.PluralRules, numbers by Intl.NumberFormat, times by Intl.DateTimeFormat.
 *
 * The panel lives in a shadow root so the host page's CSS cannot break it. Every piece
 * of text is inserted with textContent: nothing a customer or agent writes is parsed as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__switchboardWidget) return;
  window.__switchboardWidget = true;
  var base = new URL(script.src, location.href).origin;
  var cfg = script.dataset;
  var site = cfg.site || "default";
  var preview = null;
  try { preview = cfg.preview ? JSON.parse(cfg.preview) : null; } catch (e) { preview = null; }
  var storeKey = "switchboard:" + site + ":token";
  var token = null;
  var seen = {};
  // Messages sent and not yet back from the hub, by client id: shown at once, replaced by the hub's copy.
  var pending = {};
  // The client ids of the customer's messages the hub has shown back (history or socket): a message kept
  // unsent across a reload that is among them was stored before the page went, and is not sent again.
  var stored = {};
  // Texts shown as "sending…" and not yet taken (202) or refused by the hub, kept in this tab's storage, so a
  // reload sends them again with the same client id (the hub stores each once). Files are not kept.
  var unsentKey = "switchboard:" + site + ":unsent";
  var loaded = false;  // the history is shown: later messages from others are new to the visitor
  var lastId = null;
  // This page made the visitor (a new anonymous session): its first message says so, and the hub creates
  // the contact without looking for it first.
  var fresh = false;
  var ws = null;
  var pollTimer = null;
  var retryDelay = 1000;
  var renewTimer = null;
  var renewing = null;
  // The English texts (filled in by the hub when it serves this script), then the visitor's language.
  var english = /*{{english}}*/{};
  var texts = english;
  var locale = "en";
  var maxUpload = 0;

  var host = document.createElement("div");
  host.id = "switchboard-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = document.createElement("style");
  style.textContent = [
    ":host{all:initial}",
    ".sb-btn{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;",
    "background:var(--sb-primary,#2457d6);color:#fff;font:600 22px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px #0004;z-index:2147483000}",
    ".sb-panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:460px;",
    "max-height:calc(100vh - 120px);display:none;flex-direction:column;background:#fff;border-radius:12px;",
    "box-shadow:0 8px 30px #0005;font:14px/1.4 system-ui,sans-serif;color:#1c1e21;z-index:2147483000;overflow:hidden}",
    ".sb-panel.open{display:flex}",
    ".sb-head{background:var(--sb-primary,#2457d6);color:#fff;padding:12px 14px;font-weight:600;display:flex;justify-content:space-between}",
    ".sb-status{font-weight:400;font-size:12px;opacity:.85;margin-left:auto;margin-right:8px}",
    ".sb-end{background:none;border:1px solid #fff8;color:#fff;border-radius:10px;font-size:11px;cursor:pointer}",
    ".sb-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}",
    ".sb-msg{max-width:80%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word}",
    ".sb-msg.in{align-self:flex-end;background:var(--sb-primary,#2457d6);color:#fff;border-bottom-right-radius:3px}",
    ".sb-msg.out{align-self:flex-start;background:#fff;border:1px solid #e3e5e8;border-bottom-left-radius:3px}",
    ".sb-file{display:block;margin-top:4px;color:inherit;text-decoration:underline}",
    ".sb-file-name{display:block}",
    ".sb-msg.system{align-self:center;background:#fff7e0;border:1px solid #f0e0b0;font-size:13px}",
    ".sb-who{display:block;font-size:11px;opacity:.7;margin-bottom:2px}",
    ".sb-article{display:block;margin:6px 0;padding:8px 10px;border:1px solid #d5dcea;border-left:3px solid var(--sb-primary,#2457d6);border-radius:8px;background:#fff;color:#1d2433}",
    ".sb-article a{display:block;font-weight:600;color:var(--sb-primary,#2457d6);text-decoration:underline;margin-bottom:2px}",
    ".sb-article span{display:block;font-size:12px;color:#4a5468}",
    ".sb-qr{display:flex;flex-wrap:wrap;gap:6px}",
    ".sb-qr button{border:1px solid var(--sb-primary,#2457d6);background:#fff;color:var(--sb-primary,#2457d6);border-radius:14px;padding:4px 10px;cursor:pointer}",
    ".sb-form{display:flex;border-top:1px solid #e3e5e8}",
    ".sb-form textarea{flex:1;border:0;padding:10px;resize:none;font:inherit;height:42px}",
    ".sb-form .sb-attach{padding:0 8px;font-weight:400;display:flex;align-items:center}",
    ".sb-clip{width:18px;height:18px;vertical-align:-4px;fill:none;stroke:currentColor;stroke-width:2;",
    "stroke-linecap:round;stroke-linejoin:round}",
    ".sb-form button{border:0;background:#fff;color:var(--sb-primary,#2457d6);font-weight:600;padding:0 14px;cursor:pointer}",
    ".sb-pre{display:flex;flex-direction:column;gap:10px;padding:18px;background:#f6f7f9;flex:1}",
    ".sb-pre label{display:flex;flex-direction:column;gap:3px;font-size:13px}",
    ".sb-pre input{border:1px solid #c9ccd1;border-radius:6px;padding:7px 9px;font:inherit}",
    ".sb-pre button{border:0;border-radius:6px;background:var(--sb-primary,#2457d6);color:#fff;font-weight:600;padding:9px;cursor:pointer}",
    ".sb-pre .sb-err{color:#b3261e;font-size:12px;min-height:1em}",
    ".sb-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#d93025;",
    "color:#fff;font:600 12px/20px system-ui,sans-serif;text-align:center;padding:0 5px;box-sizing:border-box}",
    ".sb-greeting{align-self:flex-start;max-width:80%;padding:8px 11px;border-radius:12px;background:#fff;",
    "border:1px solid #e3e5e8;border-bottom-left-radius:3px;white-space:pre-wrap}",
    ".sb-typing{font-size:12px;color:#5f6368;padding:0 14px 6px;background:#f6f7f9;font-style:italic}",
    ".sb-wait{background:#eef3ff;border-bottom:1px solid #d5e0fb;color:#1d3f91;font-size:13px;padding:7px 14px}",
    ".sb-msg[data-time]::after{content:attr(data-time);display:block;font-size:10px;opacity:.65;text-align:end;margin-top:2px}",
    ".sb-msg.sb-pending{opacity:.7}",
    ".sb-msg.sb-failed{background:#fff;color:#b3261e;border:1px dashed #b3261e}",
  ].join("");
  root.appendChild(style);

  var button = el("button", "sb-btn", "\u2709");
  var panel = el("div", "sb-panel");
  panel.setAttribute("role", "dialog");
  var head = el("div", "sb-head");
  var title = el("span");
  var status = el("span", "sb-status");
  var end = el("button", "sb-end");
  end.type = "button";
  end.addEventListener("click", function () {
    if (!token) return;
    api("POST", "/api/widget/end", {}).then(function () {
      log.appendChild(el("div", "sb-msg system", t("chat.ended")));
      log.scrollTop = log.scrollHeight;
    }).catch(function () { status.textContent = t("status.endFailed"); });
  });
  head.appendChild(title);
  head.appendChild(status);
  head.appendChild(end);
  // The customer's place in the queue and estimated wait, updated live while they wait.
  var wait = el("div", "sb-wait");
  wait.hidden = true;
  wait.setAttribute("role", "status");
  var log = el("div", "sb-log");
  log.setAttribute("aria-live", "polite");
  // "Ann is typing…" while an agent writes to this visitor; gone when the reply lands or after a pause.
  var typing = el("div", "sb-typing");
  typing.hidden = true;
  var typingTimer = null;
  function showTyping(active, name) {
    clearTimeout(typingTimer);
    typing.hidden = !active;
    typing.textContent = active ? (name ? t("typing.named", { name: name }) : t("typing.agent")) : "";
    if (active) typingTimer = setTimeout(function () { typing.hidden = true; }, 8000);
  }
  var form = el("form", "sb-form");
  var input = document.createElement("textarea");
  var send = el("button");
  send.type = "submit";
  var picker = document.createElement("input");
  picker.type = "file";
  picker.hidden = true;
  var attach = el("button", "sb-attach");
  attach.appendChild(paperclip());
  attach.type = "button";
  attach.addEventListener("click", function () { picker.click(); });
  picker.addEventListener("change", function () {
    if (picker.files.length) sendFile(picker.files[0]);
    picker.value = "";
  });
  form.appendChild(attach);
  form.appendChild(picker);
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(wait);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(button);

  /** The site's texts in the visitor's language on every fixed part; then the widget shows. */
  function applyTexts(s) {
    if (s && s.texts) texts = s.texts;
    if (s && s.locale) locale = s.locale;
    maxUpload = (s && s.max_upload_bytes) || 0;
    host.lang = panel.lang = locale;
    host.dir = panel.dir = (s && s.dir) || "ltr";
    button.setAttribute("aria-label", t("launcher.open"));
    title.textContent = t("header.title");
    panel.setAttribute("aria-label", t("header.title"));
    status.textContent = t("status.connecting");
    end.textContent = t("chat.end");
    input.placeholder = t("composer.placeholder");
    input.setAttribute("aria-label", t("composer.label"));
    send.textContent = t("composer.send");
    attach.title = t("composer.attach");
    attach.setAttribute("aria-label", t("composer.attach"));
    if (!host.parentNode) document.body.appendChild(host);
  }

  /** Text `key` in the visitor's language, `{name}` placeholders filled from `params` (numbers in the
   *  visitor's format); a plural text takes the form Intl.PluralRules picks for `params.count`. */
  function t(key, params) {
    var message = texts[key] !== undefined ? texts[key] : english[key];
    if (message === undefined) return key;
    params = params || {};
    if (typeof message === "object") {
      var form = intl("PluralRules").select(params.count);
      message = message[form] !== undefined ? message[form] : message.other;
    }
    return String(message).replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, function (all, name) {
      if (!Object.prototype.hasOwnProperty.call(params, name)) return all;
      var value = params[name];
      return typeof value === "number" ? intl("NumberFormat").format(value) : String(value);
    });
  }

  /** An Intl formatter for the visitor's language (English where the browser does not know it). */
  function intl(kind, options) {
    try { return new Intl[kind](locale, options); } catch (e) { return new Intl[kind]("en", options); }
  }

  /** A file size limit for people: "10 MB", "500 kB" in the visitor's format. */
  function size(bytes) {
    var mb = bytes >= 1048576;
    return intl("NumberFormat", { style: "unit", unit: mb ? "megabyte" : "kilobyte", maximumFractionDigits: 1 })
      .format(bytes / (mb ? 1048576 : 1024));
  }

  /** The waiting customer's place and estimated wait, in their language; further back than the hub tells
   *  places (`ahead_at_least`), how many are ahead at least and the least wait. */
  function waitText(data) {
    var beyond = data.ahead_at_least;
    var text = (beyond ? t("wait.beyond", { count: beyond }) : t("wait.position", { position: data.position })) + " ";
    if (data.estimate_seconds === null || data.estimate_seconds === undefined) return text + t("wait.noAgent");
    var minutes = Math.max(1, Math.round(data.estimate_seconds / 60));
    var key = beyond ? "wait.estimateAtLeast" : "wait.estimate";
    if (minutes >= 90) return text + t(key + "Hours", { count: Math.round(minutes / 60) });  // as the hub words it
    return text + t(key, { count: minutes });
  }

  // Unread replies while the panel is closed: a count on the launcher, cleared when it opens.
  var badge = el("span", "sb-badge");
  badge.hidden = true;
  badge.setAttribute("aria-live", "polite");
  button.appendChild(badge);
  var unread = 0;
  var sound = false;  // off unless the site turns it on
  function markUnread() {
    if (panel.classList.contains("open") && !document.hidden) return;
    unread += 1;
    badge.textContent = String(unread);
    badge.hidden = false;
    button.setAttribute("aria-label", t("launcher.unread", { count: unread }));
    if (sound) chime();
  }
  function clearUnread() {
    unread = 0;
    badge.hidden = true;
    button.setAttribute("aria-label", t("launcher.open"));
  }
  /** A short two-note chime from the Web Audio API (no sound file to host or load). */
  function chime() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      [660, 880].forEach(function (f, i) {
        var o = ctx.createOscillator(), g = ctx.createGain();
        o.frequency.value = f;
        g.gain.value = 0.05;
        o.connect(g);
        g.connect(ctx.destination);
        o.start(ctx.currentTime + i * 0.12);
        o.stop(ctx.currentTime + i * 0.12 + 0.1);
      });
    } catch (e) { /* no audio here: the badge is enough */ }
  }
  button.addEventListener("click", function () {
    panel.classList.toggle("open");
    if (panel.classList.contains("open")) { clearUnread(); input.focus(); }
  });
  if (cfg.open === "true") panel.classList.add("open");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit(input.value);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit(input.value);
    }
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function api(method, path, body) {
    if (preview) return Promise.reject(new Error("preview: nothing is sent"));
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(base + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 401 && path !== "/api/widget/session") renew();
        if (r.ok) return r.json();
        return r.json().catch(function () { return {}; }).then(function (d) {
          var err = new Error(d.error || "HTTP " + r.status);
          err.status = r.status;
          err.retryAfter = d.retry_after;
          throw err;
        });
      });
  }

  function session(extra) {
    var hello = { site: site, token: token || localStorage.getItem(storeKey) || undefined, name: cfg.name,
                  email: cfg.email, user_jwt: cfg.userJwt, user_id: cfg.userId, user_hash: cfg.userHash };
    var had = hello.token;
    return api("POST", "/api/widget/session", Object.assign(hello, extra)).then(function (s) {
      if (had && !s.resumed && !s.verified) {
        // The old token expired: the team keeps that conversation, this chat starts afresh.
        log.textContent = "";
        seen = {};
        pending = {};
        lastId = null;
        log.appendChild(el("div", "sb-msg system", t("chat.expired")));
      }
      token = s.token;
      fresh = !s.resumed && !s.verified;
      localStorage.setItem(storeKey, token);
      clearTimeout(renewTimer);
      renewTimer = setTimeout(renew, Math.min(s.expires_in * 500, 2147483647));
      host.dataset.renewals = String(Number(host.dataset.renewals || -1) + 1);
      return s;
    });
  }

  function renew() {
    // One renewal at a time, however many requests saw a 401.
    if (!renewing) {
      renewing = session({ renew: true }).catch(function () { status.textContent = t("status.sessionExpired"); })
        .then(function () { renewing = null; });
    }
    return renewing;
  }

  function clientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  /** A paperclip icon drawn as SVG: an emoji glyph shows as an empty box where no emoji font is installed. */
  function paperclip() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "sb-clip");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9");
    svg.appendChild(path);
    return svg;
  }

  function render(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    if (loaded && m.direction !== "in") markUnread();
    if (!lastId || m.id > lastId) lastId = m.id;
    var kind = m.direction === "in" ? "in" : (m.author.kind === "system" ? "system" : "out");
    var bubble = el("div", "sb-msg " + kind);
    bubble.dataset.author = m.author.kind;
    var at = new Date(m.created_at);
    if (!isNaN(at)) {  // drawn by CSS (::after), so it is no part of the message's text
      bubble.dataset.time = intl("DateTimeFormat", { timeStyle: "short" }).format(at);
      bubble.title = intl("DateTimeFormat", { dateStyle: "full", timeStyle: "short" }).format(at);
    }
    if (kind === "out" && m.author.name) bubble.appendChild(el("span", "sb-who", m.author.name));
    if (m.article && articleUrl(m.article.url)) bubble.appendChild(articleCard(m.article));
    else bubble.appendChild(document.createTextNode(m.text));
    (m.attachments || []).forEach(function (a) {
      if (!a.id) return;
      var link = el("a", "sb-file", " " + a.filename);
      link.insertBefore(paperclip(), link.firstChild);
      link.href = "#";
      link.addEventListener("click", function (e) {
        e.preventDefault();
        download(a);
      });
      bubble.appendChild(link);
    });
    // Quick replies answer the latest message only: older ones go (also when history is replayed
    // after a reload), so a button is never pressed twice.
    dropQuickReplies();
    if (m.client_id) stored[m.client_id] = true;
    var placeholder = m.client_id && pending[m.client_id];
    if (placeholder) {  // where the customer wrote it, even if answers arrived meanwhile
      delete pending[m.client_id];
      placeholder.replaceWith(bubble);
    } else log.appendChild(bubble);
    if (m.quick_replies && m.quick_replies.length) {
      var row = el("div", "sb-qr");
      m.quick_replies.forEach(function (q) {
        var b = el("button", "", q.title);
        b.type = "button";
        b.addEventListener("click", function () {
          row.remove();
          var csat = /^csat:([1-5])$/.exec(q.payload || "");
          if (csat) rate(m.id, parseInt(csat[1], 10));
          else submit(q.title || q.payload, /^\//.test(q.payload || "") ? q.payload : undefined);
        });
        row.appendChild(b);
      });
      log.appendChild(row);
    }
    log.scrollTop = log.scrollHeight;
  }

  // A help-center article the bot offered: lead, a card (title as a link, snippet), the question.
  function articleCard(a) {
    var wrap = document.createElement("div");
    if (a.lead) wrap.appendChild(el("div", "", a.lead));
    var card = el("div", "sb-article");
    var link = el("a", "", a.title);
    link.href = articleUrl(a.url);
    link.target = "_blank";
    link.rel = "noopener";
    card.appendChild(link);
    if (a.snippet) card.appendChild(el("span", "", a.snippet));
    wrap.appendChild(card);
    if (a.question) wrap.appendChild(el("div", "", a.question));
    return wrap;
  }

  // Only http(s) links, and help-center paths of this hub ("/help/...") made absolute.
  function articleUrl(url) {
    if (typeof url !== "string") return null;
    if (url.charAt(0) === "/" && url.charAt(1) !== "/") return base + url;
    return /^https?:\/\//i.test(url) ? url : null;
  }

  /** Send a message; `payload`: the pressed quick reply's, for the bot (the customer's words are `text`). */
  function submit(text, payload) {
    text = (text || "").trim();
    if (!text) return;
    input.value = "";
    var body = { text: text, client_id: clientId() };
    if (payload) body.payload = payload;
    keepUnsent(body);  // without `first`: after a reload the hub looks the visitor up, as it must
    if (fresh) body.first = true;
    fresh = false;
    deliver(body);
  }

  /** Show the message as being sent and send it until the hub takes it, refuses it, or five retries failed. */
  function deliver(body) {
    var id = body.client_id;
    var tries = 0;
    showPending(id, body.text);
    (function go() {
      api("POST", "/api/widget/messages", body).then(function () {
        accepted(id);
        if (!ws || ws.readyState !== 1) poll();
      }).catch(function (err) {
        // Same client_id on retry: the hub stores the message once however often we send it.
        if (tooFast(id, err.status, err.retryAfter, go)) return;
        // Refused as it is (too long, say): sending it again changes nothing. 401: a new session is on its way.
        var refused = err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 408;
        if (!refused && tries++ < 5) setTimeout(go, 1000 * tries);
        else {
          status.textContent = t("status.messageNotSent");
          notSent(id);
        }
      });
    })();
  }

  function unsent() {
    try { return JSON.parse(sessionStorage.getItem(unsentKey) || "[]"); } catch (e) { return []; }
  }

  function saveUnsent(list) {
    try {
      if (list.length) sessionStorage.setItem(unsentKey, JSON.stringify(list));
      else sessionStorage.removeItem(unsentKey);
    } catch (e) { /* storage off or full: the message is only in the page, as before */ }
  }

  function keepUnsent(body) {
    saveUnsent(unsent().concat([body]));
  }

  function forgetUnsent(id) {
    var list = unsent();
    var left = list.filter(function (b) { return b.client_id !== id; });
    if (left.length !== list.length) saveUnsent(left);
  }

  /** After the history is shown: what an earlier page of this tab left unsent is shown again, in its order, and sent. */
  function resendUnsent() {
    unsent().forEach(function (body) {
      if (stored[body.client_id]) forgetUnsent(body.client_id);
      else deliver(body);
    });
  }

  function dropQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".sb-qr"), function (r) { r.remove(); });
  }

  // The customer's message in the chat at once, "sending…" until the hub's copy (same client id) takes its place:
  // a message waiting out a limit, or a slow network, stays where it was written.
  function showPending(id, text, isFile) {
    var bubble = el("div", "sb-msg in sb-pending", isFile ? "" : text);
    if (isFile) {  // the file's name, as the stored copy shows it (without a link: nothing to download yet)
      var name = el("span", "sb-file-name", " " + text);
      name.insertBefore(paperclip(), name.firstChild);
      bubble.appendChild(name);
    }
    bubble.dataset.author = "customer";
    bubble.dataset.time = t("message.sending");
    pending[id] = bubble;
    dropQuickReplies();
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
  }

  // The hub has it (202): no longer "sending…", though its stored copy, with its time, may still be on its way.
  function accepted(id) {
    forgetUnsent(id);
    doneWaiting(id);
    var bubble = pending[id];
    if (!bubble) return;
    bubble.classList.remove("sb-pending");
    delete bubble.dataset.time;
  }

  function notSent(id) {
    forgetUnsent(id);
    doneWaiting(id);
    var bubble = pending[id];
    if (!bubble) return;
    bubble.classList.remove("sb-pending");
    bubble.classList.add("sb-failed");
    bubble.dataset.time = t("message.notSent");
  }

  // Refused for sending too fast (429): say so and send it again when the hub says, however often that takes
  // (a limit is no failure: the message is kept until the hub takes it). The notice stays while any message
  // waits: another message accepted meanwhile, or the socket back, does not clear it (their answers can come
  // in any order).
  var waiting = {};  // client id -> true, while that message waits out a limit
  var waitingText = null;
  function tooFast(id, code, seconds, go) {
    if (code !== 429) return false;
    seconds = Math.max(1, Math.ceil(Number(seconds) || 1));
    waiting[id] = true;
    waitingText = status.textContent = t("status.tooFast", { count: seconds });
    setTimeout(go, seconds * 1000);
    return true;
  }

  function stillWaiting() {
    return Object.keys(waiting).length > 0;
  }

  /** The message `id` no longer waits (taken or refused): once none does, the notice gives way to the status. */
  function doneWaiting(id) {
    delete waiting[id];
    if (stillWaiting() || waitingText === null) return;
    var shown = status.textContent === waitingText;
    waitingText = null;
    if (shown) status.textContent = t(ws && ws.readyState === 1 ? "status.online" : "status.reconnecting");
  }

  function sendFile(file, attempt) {
    if (maxUpload && file.size > maxUpload) {
      status.textContent = t("status.fileTooLarge", { size: size(maxUpload) });
      return;
    }
    var id = clientId();
    var tries = attempt || 0;
    fresh = false;  // a file as the first message creates the contact too
    showPending(id, file.name, true);
    (function go() {
      var body = new FormData();
      body.append("client_id", id);
      body.append("file", file, file.name);
      fetch(base + "/api/widget/files", { method: "POST", headers: { Authorization: "Bearer " + token }, body: body })
        .then(function (r) {
          if (r.status === 413 && maxUpload) {
            status.textContent = t("status.fileTooLarge", { size: size(maxUpload) });
            notSent(id);
            return;
          }
          if (r.status === 413 || r.status === 400) {
            status.textContent = t("status.fileNotSent");
            notSent(id);
            return;
          }
          if (r.status === 429) {
            return r.json().catch(function () { return {}; }).then(function (d) { tooFast(id, 429, d.retry_after, go); });
          }
          if (!r.ok) throw new Error("HTTP " + r.status);
          accepted(id);
          if (!ws || ws.readyState !== 1) return poll();
        })
        .catch(function () {
          // Same client_id on retry: the hub stores the file once however often we send it.
          if (tries++ < 5) setTimeout(go, 1000 * tries);
          else {
            status.textContent = t("status.fileNotSent");
            notSent(id);
          }
        });
    })();
  }

  function download(a) {
    // A signed link for this one file, valid for minutes: the visitor token stays out of URLs.
    api("POST", "/api/widget/attachments/" + encodeURIComponent(a.id) + "/link").then(function (d) {
      var go = el("a");
      go.href = base + d.url;
      go.setAttribute("download", a.filename);
      go.rel = "noopener";
      root.appendChild(go);
      go.click();
      go.remove();
    }).catch(function () { status.textContent = t("status.fileUnavailable"); });
  }

  function rate(messageId, score) {
    // The hub's thanks arrives as the thread's next message (it replaces the buttons, also after a reload).
    api("POST", "/api/widget/rating", { message_id: messageId, score: score }).catch(function () {
      status.textContent = t("status.ratingNotSaved");
    });
  }

  function poll() {
    return api("GET", "/api/widget/messages" + (lastId ? "?after=" + encodeURIComponent(lastId) : ""))
      .then(function (data) { data.messages.forEach(render); loaded = true; });
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () { poll().catch(function () {}); }, 3000);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    try { ws = new WebSocket(base.replace(/^http/, "ws") + "/api/widget/ws"); } catch (e) { startPolling(); return; }
    // A session this page made, with nothing sent yet, has no chat to resume: the hub reads nothing for it.
    ws.onopen = function () { ws.send(JSON.stringify(fresh ? { type: "auth", token: token, fresh: true }
                                                           : { type: "auth", token: token })); };
    ws.onmessage = function (e) {
      var data = JSON.parse(e.data);
      if (data.type === "message") {
        if (data.message.author && data.message.author.kind === "agent") showTyping(false);
        render(data.message);
      }
      if (data.type === "typing") showTyping(data.active, data.name);
      if (data.type === "wait") {
        wait.hidden = !data.position;
        wait.textContent = data.position ? waitText(data) : "";
      }
      if (data.type === "ready") {
        retryDelay = 1000;
        if (!stillWaiting()) status.textContent = t("status.online");
        stopPolling();
        if (!fresh) poll().catch(function () {});  // what came before the socket; a new visitor has nothing yet
      }
    };
    ws.onclose = function (e) {
      status.textContent = t("status.reconnecting");
      startPolling();
      // 4401: the token expired or was refused; renew it before reconnecting.
      (e.code === 4401 ? renew() : Promise.resolve()).then(function () { setTimeout(connect, retryDelay); });
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  /** The site's settings (texts in the visitor's language, greeting, sound, pre-chat form), read once per page. */
  var siteInfo = null;
  function loadSite() {
    if (!siteInfo) {
      var langs = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language])
        .filter(Boolean).join(",");
      var url = "/api/widget/sites/" + encodeURIComponent(site) + "?lang=" + encodeURIComponent(langs);
      var settings = preview ? Promise.resolve(preview) : api("GET", url);
      siteInfo = settings.then(function (s) {
        applyTexts(s);
        if (preview && s.title) title.textContent = s.title;
        if (s.colors && /^#[0-9a-fA-F]{3,6}$/.test(s.colors.primary || "")) host.style.setProperty("--sb-primary", s.colors.primary);
        sound = s.sound === true;
        if (s.greeting && !log.querySelector(".sb-greeting")) {
          log.insertBefore(el("div", "sb-greeting", s.greeting), log.firstChild);
        }
        return s;
      });
    }
    return siteInfo;
  }

  /** The site's pre-chat form, if it has one, then a session with what the visitor typed. */
  function introduce() {
    return loadSite().then(function (s) { return s.prechat ? prechat(s.prechat) : session({}); });
  }

  function prechat(fields) {
    var pre = el("form", "sb-pre");
    pre.appendChild(el("div", "", t("prechat.intro")));
    var inputs = {};
    [["name", t("prechat.name"), "text"], ["email", t("prechat.email"), "email"]].forEach(function (f) {
      if (fields[f[0]] === "off") return;
      var box = document.createElement("input");
      box.name = f[0];
      box.type = f[2];
      box.required = fields[f[0]] === "required";
      var label = el("label", "", box.required ? f[1] : t("prechat.optional", { label: f[1] }));
      label.appendChild(box);
      pre.appendChild(label);
      inputs[f[0]] = box;
    });
    var error = el("div", "sb-err");
    var start = el("button", "", t("prechat.start"));
    start.type = "submit";
    pre.appendChild(error);
    pre.appendChild(start);
    pre.addEventListener("input", function () { error.textContent = ""; });
    log.style.display = form.style.display = end.style.display = "none";
    status.textContent = "";
    panel.appendChild(pre);
    return new Promise(function (resolve) {
      pre.addEventListener("submit", function (e) {
        e.preventDefault();
        var given = {};
        Object.keys(inputs).forEach(function (k) { given[k] = inputs[k].value.trim() || undefined; });
        session(given).then(function (s) {
          pre.remove();
          log.style.display = form.style.display = end.style.display = "";
          resolve(s);
        }, function (err) {
          // The hub names the wrong field ("name: must not be blank"); the visitor reads it in their language.
          var which = /(^|; )name\b/.test(err.message) ? "prechat.nameMissing"
            : /(^|; )email\b/.test(err.message) ? "prechat.emailInvalid" : "prechat.failed";
          error.textContent = t(which);
        });
      });
    });
  }

  if (preview) {
    loadSite().then(function (s) {
      status.textContent = "preview";
      end.style.display = "none";
      if (s.prechat) prechat(s.prechat);
      host.dataset.ready = "true";
    });
    return;
  }
  var known = cfg.userJwt || cfg.userHash || localStorage.getItem(storeKey);
  // The texts first (English if the site cannot be read), so nothing shows in the wrong language.
  loadSite().catch(function () { applyTexts(null); }).then(function () {
    return known ? session({}).catch(function (e) {
      if (e.status === 422) return introduce();
      throw e;
    }) : introduce();
  }).then(function () {
    host.dataset.ready = "true";
    if (!fresh) return poll();
    loaded = true;  // a visitor this page just made has no history to load
    return null;
  }).then(function () {
    resendUnsent();
    connect();
  }).catch(function (e) {
    status.textContent = t("status.unavailable");
    host.dataset.error = String(e);
  });
})();
