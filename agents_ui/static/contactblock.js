/* Blocking a contact (spam, abuse) from their page: a "Block" button, and on a blocked contact a banner saying who
 * blocked them and when, with "Unblock". What a blocked contact sends is still kept on their record, but no bot
 * answers it and it opens or reopens no ticket (hub.contactbook.block, POST /api/contacts/{id}/block). An ES module;
 * text via textContent.
 */
const { api, el, fmtTime } = window.Desk;

async function setBlocked(c, on, error, reload) {
  try {
    await api("POST", "/api/contacts/" + c.id + "/block", { blocked: on });
    reload();
  } catch (ex) { error.textContent = ex.message; }
}

/** The head's button and, for a blocked contact, the banner above the card's sections. */
export function blockParts(c, reload) {
  const error = el("p", { class: "error", role: "alert" });
  if (!c.blocked) {
    const button = el("button", { type: "button", class: "secondary danger", id: "contact-block", onclick: () => {
      if (!window.confirm(`Block ${c.display_name}? Their messages will be kept here, but the bot will not answer `
                          + "them and they will open no ticket.")) return;
      setBlocked(c, true, error, reload);
    } }, "Block");
    return { button, banner: error };
  }
  const unblock = el("button", { type: "button", class: "secondary", id: "contact-unblock",
                                 onclick: () => setBlocked(c, false, error, reload) }, "Unblock");
  const notice = el("div", { class: "notice blocked", id: "contact-blocked", role: "status" },
    el("strong", {}, "Blocked"), " by " + (c.blocked.by_name || "someone") + ", " + fmtTime(c.blocked.at)
      + ". Their messages are kept but not answered, and open no ticket. ", unblock);
  return { button: null, banner: el("div", {}, notice, error) };
}
