/* One timeline of everything the contact wrote and was told, on every channel, newest first:
 * runs of messages of one conversation sit under a line naming the channel and the ticket.
 * Paged with the API's cursor ("Load older"). Text via textContent only.
 */
const { api, el, fmtTime, fileIcon } = window.Desk;

const PAGE = 30;

function groupHead(m) {
  const t = m.ticket;
  return el("li", { class: "timeline-group", dataset: { conversation: m.conversation_id } },
    el("span", { class: "channel " + m.channel }, m.channel_label), " ",
    t ? el("a", { href: "#/tickets/" + t.id, onclick: () => setTimeout(() => window.Desk.openTicket(t.id)) },
           "#" + t.number + " " + (t.subject || "")) : el("span", { class: "muted" }, m.subject || "conversation"),
    t ? el("span", { class: "badge " + t.status }, t.status) : null);
}

function item(m) {
  const kind = (m.author.kind || "") + (m.private ? " private" : "");
  const files = (m.attachments || []).map((a) => el("span", { class: "file" }, fileIcon(), a.filename));
  return el("li", { class: "timeline-item " + kind, dataset: { id: m.id, channel: m.channel } },
    el("span", { class: "who" }, (m.author.name || m.author.kind) + " · " + fmtTime(m.created_at) +
       (m.private ? " · private note" : "")),
    el("span", { class: "text" }, m.text), ...files);
}

export function mountTimeline(root, contact) {
  const list = el("ol", { class: "timeline", id: "timeline" });
  const more = el("button", { type: "button", class: "secondary", id: "timeline-more", hidden: true }, "Load older");
  const status = el("p", { class: "muted", role: "status" }, "Loading…");
  root.replaceChildren(el("h3", {}, "Timeline — every conversation on every channel"), list, status, more);
  let cursor = null;
  let lastConversation = null;

  async function load() {
    more.disabled = true;
    try {
      const params = new URLSearchParams({ size: String(PAGE) });
      if (cursor) params.set("before", cursor);
      const data = await api("GET", "/api/contacts/" + contact.id + "/timeline?" + params.toString());
      for (const m of data.items) {
        if (m.conversation_id !== lastConversation) list.appendChild(groupHead(m));
        lastConversation = m.conversation_id;
        list.appendChild(item(m));
      }
      cursor = data.next;
      more.hidden = !cursor;
      status.textContent = list.children.length ? "" : "Nothing yet.";
    } catch (ex) {
      status.textContent = ex.message;
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  load();
}
