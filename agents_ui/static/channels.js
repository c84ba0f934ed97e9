/* "Channels" (admins): a card per channel with its state, the URLs to paste into each provider, credential
 * checks, test messages and write-only secrets. An ES module registered with Desk.registerView; talks to
 * /api/admin/channels. Cards are drawn by channelcard.js. Text only via textContent.
 */
import { channelCard } from "./channelcard.js";

const { api, el, registerView } = window.Desk;

registerView("channels", "Channels", ["admin"], (container) => {
  const box = el("div", { class: "channels-page", id: "channels" });
  container.replaceChildren(box);
  async function reload(notice) {
    try {
      const page = await api("GET", "/api/admin/channels");
      const intro = el("p", { class: "muted" }, "Webhook URLs are built from the hub's public URL, "
        + page.public_url + (page.public_url_configured ? "." : " (hub.public_url is not set: this is the local address)."));
      box.replaceChildren(...[el("h2", {}, "Channels"), intro,
        notice ? el("p", { class: "notice", role: "status" }, notice) : null,
        el("div", { class: "channel-cards" }, ...page.channels.map((c) => channelCard(c, page, reload)))].filter(Boolean));
    } catch (ex) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    }
  }
  reload();
});
