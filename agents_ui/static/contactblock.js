/* Blocking a contact (spam, abuse) from their page: a "Block" button that asks first, in a dialog that can also
 * close their open tickets, and on a blocked contact a banner saying who blocked them and when, with "Unblock".
 * What a blocked contact sends is still kept on their record, but no bot answers it and it opens or reopens no
 * ticket (hub.contactbook.block); their open tickets are closed if the agent leaves the box ticked (hub.blocking,
 * POST /api/contacts/{id}/block {blocked, close_tickets}); one the hub will not close is named with the reason.
 * An ES module; text via textContent.
 */
const { api, el, fmtTime } = window.Desk;

const ACTIVE = ["new", "open", "pending"];

/** The dialog: what a block does, the box for their open tickets, Block / Cancel. */
function askToBlock(c, open, reload) {
  const dialog = el("dialog", { id: "block-dialog", class: "merge-dialog" });
  let blocked = false;  // once blocked, closing the dialog in any way (×, Escape, Done) shows the blocked page
  const close = () => dialog.close();
  dialog.addEventListener("close", () => { dialog.remove(); if (blocked) reload(); });
  const tick = el("input", { type: "checkbox", id: "block-close-tickets", checked: true });
  const numbers = open.map((t) => "#" + t.number).join(", ");
  const error = el("p", { class: "error", role: "alert", id: "block-error" });
  const confirm = el("button", { type: "button", class: "danger", id: "block-confirm" }, "Block");
  const cancel = el("button", { type: "button", class: "secondary", onclick: close }, "Cancel");
  const buttons = el("div", { class: "row" }, confirm, cancel);
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    let answer;
    try {
      answer = await api("POST", "/api/contacts/" + c.id + "/block",
                         { blocked: true, close_tickets: open.length > 0 && tick.checked });
    } catch (ex) {
      error.textContent = ex.message;
      confirm.disabled = false;
      return;
    }
    blocked = true;
    const left = answer.not_closed || [];
    if (!left.length) { close(); return; }
    const closed = answer.closed || [];
    dialog.querySelector("h3").textContent = c.display_name + " is blocked";
    dialog.querySelector(".block-body").replaceChildren(  // what the hub would not close, and why
      el("p", { id: "block-outcome" },
         (closed.length ? "Closed " + closed.map((n) => "#" + n).join(", ") + ". " : "") + "Left open:"),
      el("ul", { id: "block-left" }, ...left.map((t) => el("li", {}, "#" + t.number + ": " + t.reason))),
      el("div", { class: "row" }, el("button", { type: "button", onclick: close }, "Done")));
  });
  const body = el("div", { class: "block-body" },
    el("p", {}, "Their messages will be kept here, but the bot will not answer them and they will open no ticket."),
    open.length ? el("label", { class: "check block-tickets" }, tick,
                     ` Also close their open ${open.length === 1 ? "ticket" : "tickets"} (${numbers})`) : null,
    error, buttons);
  dialog.append(el("div", { class: "merge-title" }, el("h3", {}, "Block " + c.display_name + "?"),
                   el("button", { type: "button", class: "secondary", onclick: close, "aria-label": "Close" }, "×")),
                body);
  document.body.appendChild(dialog);
  dialog.showModal();
}

/** The head's button and, for a blocked contact, the banner above the card's sections (`tickets`: theirs, as the
 * card lists them). */
export function blockParts(c, tickets, reload) {
  const error = el("p", { class: "error", role: "alert" });
  if (!c.blocked) {
    const open = tickets.filter((t) => ACTIVE.includes(t.status));
    const button = el("button", { type: "button", class: "secondary danger", id: "contact-block",
                                  onclick: () => askToBlock(c, open, reload) }, "Block");
    return { button, banner: error };
  }
  const unblock = el("button", { type: "button", class: "secondary", id: "contact-unblock", onclick: async () => {
    try {
      await api("POST", "/api/contacts/" + c.id + "/block", { blocked: false });
      reload();
    } catch (ex) { error.textContent = ex.message; }
  } }, "Unblock");
  const notice = el("div", { class: "notice blocked", id: "contact-blocked", role: "status" },
    el("strong", {}, "Blocked"), " by " + (c.blocked.by_name || "someone") + ", " + fmtTime(c.blocked.at)
      + ". Their messages are kept but not answered, and open no ticket. ", unblock);
  return { button: null, banner: el("div", {}, notice, error) };
}
