/* My news by email (hub.newsmail), a panel of the Account view: the address, and which of the news the desk
 * marks with a dot (a customer's message, a ticket given to me, a mention, a pending ticket opening again) I want
 * by email while I am away from the desk. Says so plainly when the hub has no mail relay to send it with.
 * An ES module on top of window.Desk; text via textContent (Desk.el).
 */
const { api, el, hasRole, hooks } = window.Desk;

function panel() {
  const card = el("section", { class: "card account-panel", id: "news-mail" }, el("h2", {}, "Email notifications"));
  const form = el("form");
  card.appendChild(form);
  api("GET", "/api/me/news-mail").then((s) => {
    const msg = el("p", { class: "muted", role: "status", id: "news-mail-status" });
    const address = el("input", { type: "email", name: "address", id: "news-mail-address", value: s.address,
                                  autocomplete: "email", placeholder: "you@example.com" });
    form.replaceChildren(
      el("p", { class: "muted" }, "While you are away from the desk, news still unread after " + s.delay_minutes
        + " minutes is emailed to you, all of it in one email."),
      ...(s.can_send ? [] : [el("p", { class: "error", id: "news-mail-off" },
        "This hub has no mail relay yet (an admin sets one up under Channels, Email): no email is sent for now.")]),
      ...(s.refused ? [el("p", { class: "error", id: "news-mail-refused" },
        "The last email to you was refused (" + s.refused.reason + "). Check the address, or ask an admin, then save.")] : []),
      el("label", {}, "Email address", address),
      el("fieldset", {}, el("legend", {}, "Email me when"),
        ...s.offered.map((o) => el("label", { class: "check" },
          el("input", { type: "checkbox", name: "kind", value: o.kind, checked: s.kinds.includes(o.kind) }),
          o.label))),
      el("button", { type: "submit" }, "Save"), msg);
    form.onsubmit = async (e) => {
      e.preventDefault();
      const kinds = [...form.querySelectorAll("input[name=kind]:checked")].map((i) => i.value);
      msg.className = "muted";
      try {
        const saved = await api("PUT", "/api/me/news-mail", { address: address.value.trim(), kinds });
        msg.textContent = saved.kinds.length ? "Saved: emails go to " + saved.address + "." : "Saved: no emails.";
      } catch (ex) {
        msg.className = "error";
        msg.textContent = ex.message;
      }
    };
  }).catch((ex) => form.replaceChildren(el("p", { class: "error" }, ex.message)));
  return card;
}

// the news is about tickets: users who read them (a trainer alone has none)
hooks.account.push(() => (hasRole("agent", "supervisor", "admin") ? panel() : el("span")));
