/* Keyboard shortcuts on the ticket view, for agents who work a queue all day: j / k the next or previous ticket
 * in the list, r reply, n private note, t take, / search, ? this list. Not while typing in a field (Escape leaves
 * it); Ctrl+Enter sends (desk.js). An ES module; text via textContent. */
const { el, hasRole, onEnter, openTicket } = window.Desk;

const KEYS = [
  ["j", "Next ticket in the list"], ["k", "Previous ticket in the list"], ["r", "Reply to the customer"],
  ["n", "Write a private note"], ["t", "Take the ticket"], ["/", "Search tickets"],
  ["Ctrl + Enter", "Send (in the reply box)"], ["Esc", "Leave the field you type in"], ["?", "Show these shortcuts"],
];

const dialog = el("dialog", { id: "shortcuts", class: "shortcuts", "aria-labelledby": "shortcuts-title" },
  el("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
  el("table", {}, el("tbody", {}, ...KEYS.map(([key, what]) => el("tr", {}, el("td", {}, el("kbd", {}, key)),
                                                               el("td", {}, what))))),
  el("form", { method: "dialog" }, el("button", { type: "submit" }, "Close")));

const opener = el("button", { type: "button", id: "shortcuts-open", class: "header-link", title: "Keyboard shortcuts",
                              "aria-label": "Keyboard shortcuts", onclick: () => dialog.showModal() }, "?");

const typingIn = (target) => target instanceof HTMLElement
  && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
const visible = (node) => node && !node.hidden && node.offsetParent !== null;

function step(by) {
  const rows = [...document.querySelectorAll("#tickets li")];
  if (!rows.length) return;
  const at = rows.findIndex((li) => li.classList.contains("active"));
  const next = rows[at < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, at + by))];
  next.scrollIntoView({ block: "nearest" });
  // the caret stays out of the reply box, so the next j / k moves on (a click puts it there)
  openTicket(next.dataset.ticket, next.dataset.conversations.split(","), { focus: false });
}

function write(privately) {
  const box = document.getElementById("reply-text");
  if (!visible(box)) return;
  document.getElementById("reply-private").checked = privately;
  box.focus();
}

const ACTIONS = {
  j: () => step(1), k: () => step(-1), r: () => write(false), n: () => write(true),
  t: () => { const take = document.getElementById("take"); if (visible(take)) take.click(); },
  "/": () => { const search = document.getElementById("ticket-search"); if (visible(search)) search.focus(); },
  "?": () => dialog.showModal(),
};

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && typingIn(e.target) && e.target.closest("#view-tickets")) {
    e.target.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target) || dialog.open) return;
  if (document.getElementById("view-tickets").hidden) return;  // another view (Live, Users…) is shown
  const action = ACTIONS[e.key];
  if (!action) return;
  e.preventDefault();
  action();
});

onEnter(() => {
  if (!dialog.isConnected) document.body.append(dialog);
  if (!opener.isConnected) document.getElementById("logout").before(opener);
  opener.hidden = !hasRole("agent", "supervisor");  // the ticket view's keys
});
