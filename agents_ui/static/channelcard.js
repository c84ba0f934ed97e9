/* One channel's card on the Channels page: state (enabled, connected, last message in and out, last error,
 * outbox backlog), the URLs to paste into the provider, "Check credentials" and "Send a test", and the
 * write-only secrets (channelsecrets.js). An ES module used by channels.js. Text only via textContent.
 */
import { secretsSection } from "./channelsecrets.js";

const { api, el, fmtTime } = window.Desk;

function when(iso) { return iso ? fmtTime(iso) : "never"; }

function badge(card) {
  if (!card.configured) return el("span", { class: "channel-badge off" }, "not configured");
  if (!card.enabled) return el("span", { class: "channel-badge off" }, "disabled");
  if (!card.running) return el("span", { class: "channel-badge warn" }, "enabled at the next start");
  if (card.connected === true) return el("span", { class: "channel-badge ok" }, "connected");
  if (card.connected === false) return el("span", { class: "channel-badge bad" }, "failing");
  return el("span", { class: "channel-badge" }, "no traffic yet");
}

function statusRows(card) {
  return card.channels.map((c) => el("tr", { dataset: { channel: c.channel } },
    el("th", { scope: "row" }, c.channel),
    el("td", {}, when(c.last_in)), el("td", {}, when(c.last_out)),
    el("td", { class: c.waiting ? "backlog" : "" }, String(c.waiting)),
    el("td", { class: c.failed ? "backlog" : "" }, String(c.failed)),
    el("td", { class: "channel-error" }, c.last_error ? c.last_error + " (" + fmtTime(c.last_error_at) + ")" : "—")));
}

function urlList(card) {
  if (!card.urls.length) return null;
  return el("section", { class: "channel-urls" }, el("h4", {}, "Paste into the provider"),
    el("dl", {}, ...card.urls.flatMap((u) => {
      const field = el("input", { readonly: true, value: u.value, "aria-label": u.label });
      const copy = el("button", { type: "button", onclick: () => {
        field.select();
        if (navigator.clipboard) navigator.clipboard.writeText(u.value).catch(() => {});
        copy.textContent = "Copied";
      } }, "Copy");
      return [el("dt", {}, u.label), el("dd", {}, field, copy, u.note ? el("small", {}, u.note) : null)];
    })));
}

/** `head`: the card's heading, whose badge follows the check (the most recent contact with the provider). */
function checkSection(card, head) {
  const result = el("ul", { class: "channel-check", role: "status" });
  const last = card.last_check;
  const lastLine = el("p", { class: "muted" }, last
    ? "Last check " + fmtTime(last.at) + ": " + (last.ok ? "ok" : last.detail) : "Not checked yet.");
  const button = el("button", { type: "button", class: "check-credentials" }, "Check credentials");
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.replaceChildren(el("li", {}, "Checking…"));
    try {
      const data = await api("POST", "/api/admin/channels/" + encodeURIComponent(card.name) + "/check");
      result.replaceChildren(...data.lines.map((l) => el("li", { class: l.ok ? "ok" : "bad" },
        (l.ok ? "✓ " : "✗ ") + l.what + ": " + l.detail)));
      lastLine.textContent = "Checked just now: " + (data.ok ? "ok" : "failed") + ".";
      const shown = head.querySelector(".channel-badge");
      if (shown) shown.replaceWith(badge({ ...card, connected: data.ok }));
    } catch (ex) {
      result.replaceChildren(el("li", { class: "bad" }, ex.message));
    }
    button.disabled = false;
  });
  return el("div", { class: "channel-action" }, button, lastLine, result);
}

function testForm(card, reload) {
  if (!card.test || !card.running) return null;
  const destination = el("input", { name: "destination", required: true, "aria-label": card.test.destination,
                                    placeholder: card.test.destination });
  const sender = card.test.sender ? el("input", { name: "sender", "aria-label": card.test.sender,
                                                  placeholder: card.test.sender }) : null;
  const result = el("p", { class: "channel-result", role: "status" });
  const form = el("form", { class: "channel-test" }, destination, sender,
    el("button", { type: "submit" }, "Send a test"), result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { destination: destination.value.trim() };
    if (sender && sender.value.trim()) body.sender = sender.value.trim();
    try {
      const sent = await api("POST", "/api/admin/channels/" + encodeURIComponent(card.name) + "/test", body);
      result.textContent = "Queued in the outbox…";
      let outcome = "still queued: see Last out and Last error";
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const d = await api("GET", "/api/admin/channels/tests/" + sent.message_id);
        if (d.status === "sent") { outcome = "sent"; break; }
        if (d.status === "failed") { outcome = "failed: " + d.error; break; }
        result.textContent = "Queued (" + d.status + (d.error ? ": " + d.error : "") + ")…";
      }
      reload(card.title + " test message to " + body.destination + ": " + outcome + ".");
    } catch (ex) {
      result.textContent = ex.message;
    }
  });
  return el("div", { class: "channel-action" }, el("h4", {}, "Send a test"), form);
}

export function channelCard(card, page, reload) {
  const head = el("div", { class: "channel-head" }, el("h3", {}, card.title), badge(card));
  if (!card.configured) {
    return el("article", { class: "channel-card", dataset: { channel: card.name } }, head,
      el("p", { class: "muted" }, "Add channels." + card.name + " to the configuration file to use it (" + card.docs + ")."));
  }
  const table = el("table", { class: "channel-status" },
    el("thead", {}, el("tr", {}, ...["", "Last in", "Last out", "Waiting", "Failed", "Last error"]
      .map((t) => el("th", { scope: "col" }, t)))),
    el("tbody", {}, ...statusRows(card)));
  return el("article", { class: "channel-card", dataset: { channel: card.name } }, head, table, urlList(card),
    card.test ? checkSection(card, head) : null, testForm(card, reload), secretsSection(card, page, reload));
}
