/* My signature (hub.signatures): the Account view's panel to write it, and, under the reply box of a ticket
 * answered by email, the line saying it goes under the reply (the hub adds it; chats and notes go without).
 * An ES module on top of window.Desk; text via textContent (Desk.el).
 */
const { api, el, hasRole, hooks, onEnter, onTicketHead, state } = window.Desk;

let mine = "";  // my signature as the hub keeps it
let signing = [];  // the channels whose replies carry it (email, where this hub has it)
const hint = el("p", { class: "muted reply-signature", id: "reply-signature", hidden: true });

function showHint() {
  const privateBox = document.getElementById("reply-private");
  const byMail = state.ticket && signing.includes(state.ticket.channel);
  hint.hidden = !(mine && byMail && !(privateBox && privateBox.checked));
  hint.textContent = "Your signature goes under this reply: " + mine.split("\n")[0] + (mine.includes("\n") ? " …" : "");
  const form = document.getElementById("reply-form");
  if (form && !hint.isConnected) form.querySelector(".reply-actions").after(hint);
}

function panel() {
  const card = el("section", { class: "card account-panel", id: "signature-panel" }, el("h2", {}, "Signature"));
  const box = el("textarea", { id: "signature-text", rows: 4, maxlength: 1000, "aria-label": "Signature",
                               placeholder: "Alice Ng\nCustomer care, Example Shop" });
  const msg = el("p", { class: "muted", role: "status", id: "signature-status" });
  const form = el("form", {},
    el("p", { class: "muted" }, "Goes under your replies by email (not under chat messages or private notes)."),
    box, el("button", { type: "submit" }, "Save"), msg);
  card.appendChild(form);
  api("GET", "/api/me/signature").then((s) => { mine = s.signature; signing = s.channels; box.value = mine; });
  form.onsubmit = async (e) => {
    e.preventDefault();
    msg.className = "muted";
    try {
      mine = (await api("PUT", "/api/me/signature", { signature: box.value })).signature;
      box.value = mine;
      msg.textContent = mine ? "Saved." : "Saved: no signature.";
    } catch (ex) {
      msg.className = "error";
      msg.textContent = ex.message;
    }
  };
  return card;
}

const answers = () => hasRole("agent", "supervisor", "admin");
hooks.account.push(() => (answers() ? panel() : el("span")));
onEnter(async () => {
  if (!answers()) return;
  const s = await api("GET", "/api/me/signature");
  mine = s.signature;
  signing = s.channels;
  showHint();
});
onTicketHead(showHint);
document.addEventListener("change", (e) => { if (e.target && e.target.id === "reply-private") showHint(); });
